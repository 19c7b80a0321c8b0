// Log shipper: agents on the application hosts POST batches of log lines
// (POST /v1/ingest); the shipper appends each line to the compressed
// segment of its destination file (one per service and log: app, access,
// audit), a node:zlib deflate stream (gzip, or raw deflate for the audit
// archive) whose output is uploaded part by part to object storage (an
// in-process stand-in that counts the bytes). Segments are rotated every
// 10 minutes (staggered per file) or when they reach 64 MB of raw text.
//
// THE BUG: only the size-based rotation finishes the old segment
// (finishSegment: end() the stream, wait for 'finish', upload the tail, drop
// it from `openSegments`). The time-based rotation, added later, just opens
// a new segment and re-points the file at it; the old deflate stream is
// never ended or closed and stays registered in the module-level Map
// `openSegments` (kept so that a graceful shutdown can flush everything).
// Each forgotten segment keeps its native zlib deflate state (window, hash
// chains, pending output) alive: ~70 rotations an hour, memory outside the
// JS heap grows steadily while the heap itself barely moves.
import { createDeflateRaw, createGzip, constants as zlibConstants } from 'node:zlib';
import { Writable } from 'node:stream';
import {
  buildBallast,
  every,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x10951);

const SERVICES = ['checkout', 'catalog', 'search', 'payments'];
const LOGS = ['app', 'access', 'audit'];
const ROTATE_EVERY_S = 10 * 60;
const ROTATE_AT_BYTES = 64 * 1024 * 1024;

// --- object storage (stand-in) ----------------------------------------------------------

const storage = { parts: 0, bytes: 0, objects: 0 };

/** Multipart upload of one segment: counts what would be sent. */
class UploadSink extends Writable {
  constructor(key) {
    super();
    this.key = key;
    this.bytes = 0;
  }

  _write(chunk, _encoding, callback) {
    this.bytes += chunk.length;
    storage.parts++;
    storage.bytes += chunk.length;
    callback();
  }

  _final(callback) {
    storage.objects++;
    callback();
  }
}

// --- segments -----------------------------------------------------------------------------

/** Every segment not yet finished, by object key (flushed on shutdown). */
const openSegments = new Map();
/** Destination files by name. */
const files = new Map();
const counters = { lines: 0, rawBytes: 0, rotations: 0, finished: 0 };

function openSegment(file) {
  file.rotation++;
  const key = `logs/${file.name}/${new Date(Date.UTC(2024, 5, 3) + programSeconds() * 1000).toISOString().slice(0, 16)}-${file.rotation}.${file.format === 'gzip' ? 'gz' : 'deflate'}`;
  const stream = file.format === 'gzip' ? createGzip({ level: 6 }) : createDeflateRaw({ level: 9 });
  const sink = new UploadSink(key);
  stream.pipe(sink);
  const segment = { key, file: file.name, rotation: file.rotation, stream, sink, openedAt: programSeconds(), rawBytes: 0, lines: 0 };
  openSegments.set(key, segment);
  return segment;
}

function finishSegment(segment) {
  segment.sink.on('finish', () => {
    openSegments.delete(segment.key);
    counters.finished++;
  });
  segment.stream.end();
}

class LogFile {
  constructor(name, format, offsetS) {
    this.name = name;
    this.format = format;
    this.rotation = 0;
    this.nextRotationAt = offsetS;
    this.segment = openSegment(this);
  }

  append(line) {
    const segment = this.segment;
    segment.stream.write(line);
    segment.rawBytes += line.length;
    segment.lines++;
    if (segment.rawBytes >= ROTATE_AT_BYTES) {
      this.segment = openSegment(this);
      counters.rotations++;
      finishSegment(segment);
    }
  }

  /** Time-based rotation (hourly archive jobs want 10-minute objects). */
  rotateIfDue(now) {
    if (now < this.nextRotationAt) return;
    this.nextRotationAt += ROTATE_EVERY_S;
    this.segment.stream.flush(zlibConstants.Z_SYNC_FLUSH);
    this.segment = openSegment(this);
    counters.rotations++;
  }
}

for (const [i, service] of SERVICES.entries()) {
  for (const [j, log] of LOGS.entries()) {
    const name = `${service}/${log}.log`;
    files.set(name, new LogFile(name, log === 'audit' ? 'deflate' : 'gzip', ((i * LOGS.length + j) * ROTATE_EVERY_S) / (SERVICES.length * LOGS.length)));
  }
}

every(5000 / speed, () => {
  const now = programSeconds();
  for (const file of files.values()) file.rotateIfDue(now);
});

// --- ingestion -------------------------------------------------------------------------------

function ingest(batch) {
  const file = files.get(`${batch.service}/${batch.log}.log`);
  if (file === undefined) return 0;
  for (const entry of batch.lines) {
    const line = `${entry.ts} ${entry.level} ${batch.host} ${entry.msg}\n`;
    file.append(line);
    counters.lines++;
    counters.rawBytes += line.length;
  }
  return batch.lines.length;
}

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://shipper.local');
  if (req.method === 'POST' && url.pathname === '/v1/ingest') {
    const batch = JSON.parse((await readBody(req)).toString('utf8'));
    return sendJson(res, 202, { accepted: ingest(batch) });
  }
  if (url.pathname === '/v1/segments') return sendJson(res, 200, [...files.values()].map((f) => ({ file: f.name, key: f.segment.key, rawBytes: f.segment.rawBytes })));
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
  sendJson(res, 404, { error: 'not found' });
}

// --- agents -------------------------------------------------------------------------------

const PATHS = ['/api/cart', '/api/cart/items', '/api/products', '/api/search', '/api/checkout', '/api/payments/intent', '/healthz'];
const MESSAGES = ['request completed', 'cache miss for key', 'upstream latency above budget', 'retrying idempotent call', 'user session refreshed', 'price recalculated for basket'];
const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];

function logEntry(service, log) {
  const ts = new Date(Date.UTC(2024, 5, 3) + programSeconds() * 1000 + Math.floor(random() * 1000)).toISOString();
  const id = Math.floor(random() * 1e9).toString(16);
  if (log === 'access') {
    const path = PATHS[Math.floor(random() * PATHS.length)];
    return { ts, level: 'INFO', msg: `10.0.${Math.floor(random() * 40)}.${Math.floor(random() * 250)} "GET ${path}?id=${id} HTTP/1.1" ${random() < 0.97 ? 200 : 503} ${Math.floor(random() * 20000)} ${Math.floor(random() * 900)}ms req=${id}` };
  }
  if (log === 'audit') return { ts, level: 'INFO', msg: `actor=user_${Math.floor(random() * 5000)} action=${['update', 'create', 'delete', 'login'][Math.floor(random() * 4)]} ${service}.resource=${id} outcome=ok` };
  return { ts, level: LEVELS[Math.floor(random() * LEVELS.length)], msg: `${MESSAGES[Math.floor(random() * MESSAGES.length)]} trace=${id} span=${Math.floor(random() * 1e6).toString(16)} tenant=t${Math.floor(random() * 300)}` };
}

function agentBatch() {
  const service = SERVICES[Math.floor(random() * SERVICES.length)];
  const roll = random();
  const log = roll < 0.5 ? 'access' : roll < 0.9 ? 'app' : 'audit';
  const lines = [];
  const n = 20 + Math.floor(random() * 60);
  for (let i = 0; i < n; i++) lines.push(logEntry(service, log));
  return { host: `${service}-${Math.floor(random() * 6)}`, service, log, lines };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~6 000 lines a minute from the fleet's agents: 2 batches/s of 20-79 lines.
const agents = selfRequests(port, {
  perSecond: 2,
  maxInFlight: 8,
  next: () => ({ method: 'POST', path: '/v1/ingest', headers: { 'content-type': 'application/json' }, body: JSON.stringify(agentBatch()) }),
});
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: random() < 0.5 ? '/v1/segments' : '/healthz' }) });

onShutdown(() => {
  for (const segment of openSegments.values()) segment.stream.end();
});

reportStats(() => ({
  retained: openSegments.size,
  files: files.size,
  rotations: counters.rotations,
  segmentsFinished: counters.finished,
  lines: counters.lines,
  rawBytes: counters.rawBytes,
  uploadedBytes: storage.bytes,
  requestsFailed: agents.failed + probes.failed,
}));

ready(`log-shipper-rotation-gzip-leak: 12 log files, deflate stream per segment, 10-min rotation forgets to end the old stream (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
