// Resumable upload service (tus-style) for a messaging app's attachments:
// POST /v1/uploads creates an upload (client-chosen id, Upload-Length),
// PATCH /v1/uploads/:id appends the next chunk at Upload-Offset, HEAD tells
// a resuming client where to continue. The chunks of an upload are kept in
// memory as Uint8Array copies until the last one arrives; then the upload is
// assembled, hashed, handed to the object store (a stand-in) and dropped.
//
// Uploads carry an expiresAt (24 h), which the old deployment's nightly
// cleanup job used to enforce; the job did not survive the move to this
// service and nothing else looks at expiresAt. That was harmless while
// clients finished what they started. From the onset the mobile app 5.14.0
// is out, which gets killed in the background and starts a NEW upload when
// reopened instead of resuming: ~30 % of its uploads stop mid-way and their
// chunks stay in `uploads` forever.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  KiB,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7475730a);
const ONSET_S = onsetSeconds(6000);
const MAX_UPLOAD_BYTES = 8 * 1024 * KiB;
const UPLOAD_TTL_S = 24 * 3600;

// --- uploads -------------------------------------------------------------------

class Upload {
  constructor(id, length, metadata, now) {
    this.id = id;
    this.length = length;
    this.offset = 0;
    this.chunks = [];
    this.metadata = metadata;
    this.createdAt = now;
    this.updatedAt = now;
    this.expiresAt = now + UPLOAD_TTL_S;
  }
}

/** upload id -> Upload in progress. */
const uploads = new Map();
const counters = { created: 0, completed: 0, chunks: 0, bytesIn: 0, conflicts: 0, stored: 0, storedBytes: 0 };
const recentlyStored = [];

/** The request body may be a view into a larger buffer: keep an exact copy of the chunk. */
function copyChunk(body) {
  const chunk = new Uint8Array(body.byteLength);
  chunk.set(body);
  return chunk;
}

function parseMetadata(header) {
  const metadata = {};
  for (const pair of (header ?? '').split(',')) {
    const [key, value] = pair.trim().split(' ');
    if (key) metadata[key] = value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8');
  }
  return metadata;
}

function createUpload(id, length, metadataHeader, now) {
  if (uploads.has(id)) return uploads.get(id);
  const upload = new Upload(id, length, parseMetadata(metadataHeader), now);
  uploads.set(id, upload);
  counters.created++;
  return upload;
}

function appendChunk(upload, offset, body, now) {
  if (offset !== upload.offset) {
    counters.conflicts++;
    return false;
  }
  upload.chunks.push(copyChunk(body));
  upload.offset += body.byteLength;
  upload.updatedAt = now;
  counters.chunks++;
  counters.bytesIn += body.byteLength;
  return true;
}

/** Assembles the file, checks it and hands it to the object store. */
function complete(upload) {
  const file = Buffer.concat(upload.chunks, upload.length);
  const digest = createHash('sha256').update(file).digest('hex');
  uploads.delete(upload.id);
  counters.completed++;
  counters.stored++;
  counters.storedBytes += file.length;
  recentlyStored.push({ id: upload.id, sha256: digest, bytes: file.length, type: upload.metadata.filetype });
  if (recentlyStored.length > 100) recentlyStored.shift();
  return digest;
}

// --- HTTP --------------------------------------------------------------------

function send(res, status, headers = {}, text = '') {
  res.writeHead(status, { 'tus-resumable': '1.0.0', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function handler(req, res) {
  const url = req.url ?? '/';
  const now = programSeconds();
  try {
    if (req.method === 'POST' && url === '/v1/uploads') {
      const id = req.headers['x-upload-id'];
      const length = Number(req.headers['upload-length']);
      if (typeof id !== 'string' || !/^[\w-]{8,64}$/.test(id)) return send(res, 400, {}, 'bad upload id');
      if (!Number.isInteger(length) || length <= 0 || length > MAX_UPLOAD_BYTES) return send(res, 413, {}, 'bad upload length');
      const upload = createUpload(id, length, req.headers['upload-metadata'], now);
      return send(res, 201, { location: `/v1/uploads/${upload.id}`, 'upload-offset': String(upload.offset) });
    }
    if (url.startsWith('/v1/uploads/')) {
      const upload = uploads.get(url.slice('/v1/uploads/'.length));
      if (req.method === 'PATCH') {
        const body = await readBody(req, 2 * 1024 * KiB);
        if (upload === undefined) return send(res, 404, {}, 'unknown upload');
        if (!appendChunk(upload, Number(req.headers['upload-offset']), body, now)) return send(res, 409, { 'upload-offset': String(upload.offset) }, 'offset mismatch');
        if (upload.offset >= upload.length) {
          const digest = complete(upload);
          return send(res, 204, { 'upload-offset': String(upload.offset), 'x-content-sha256': digest });
        }
        return send(res, 204, { 'upload-offset': String(upload.offset) });
      }
      if (req.method === 'HEAD') {
        if (upload === undefined) return send(res, 404);
        return send(res, 200, { 'upload-offset': String(upload.offset), 'upload-length': String(upload.length), 'cache-control': 'no-store' });
      }
    }
    if (req.method === 'GET' && url === '/healthz') return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify({ ok: true, inProgress: uploads.size }));
    send(res, 404, {}, 'not found');
  } catch (error) {
    if (!res.headersSent) send(res, 500, {}, String(error.message ?? error));
  }
}

// --- the clients (the load) ----------------------------------------------------

const CHUNK = 128 * KiB;
const FILE_TYPES = [
  ['image/jpeg', 'jpg'],
  ['image/heic', 'heic'],
  ['audio/ogg', 'ogg'],
  ['application/pdf', 'pdf'],
  ['video/mp4', 'mp4'],
];
/** What the clients' files contain (read from their storage; the content does not matter here). */
const CHUNK_CONTENT = Array.from({ length: 8 }, (_, i) => Buffer.alloc(CHUNK, i * 31 + 7));
/** Client-side uploads in progress (at most a few at a time). */
const clientUploads = [];
let uploadSeq = 0;
const clientStats = { started: 0, abandoned: 0, finished: 0 };

function clientVersion(now) {
  const roll = random();
  if (roll < 0.45) return 'web-2024.3';
  return now >= ONSET_S ? 'ios-5.14.0' : 'ios-5.13.2';
}

function startUpload(now) {
  const size = Math.round(Math.exp(Math.log(100 * KiB) + random() * Math.log(16)));
  const version = clientVersion(now);
  const chunks = Math.ceil(size / CHUNK);
  // 5.14.0 is killed in the background on ~30 % of uploads and never resumes them
  const abandonAfter = version === 'ios-5.14.0' && chunks >= 2 && random() < 0.3 ? 1 + Math.floor(random() * (chunks - 1)) : Infinity;
  const [type, ext] = FILE_TYPES[Math.floor(random() * FILE_TYPES.length)];
  const plan = { id: `up-${(++uploadSeq).toString(36)}-${Math.floor(random() * 1e9).toString(36)}`, size, version, abandonAfter, sentChunks: 0, created: false, busy: true, type, ext, fill: Math.floor(random() * 256) };
  clientUploads.push(plan);
  clientStats.started++;
  const metadata = `filename ${Buffer.from(`attachment-${uploadSeq}.${ext}`).toString('base64')},filetype ${Buffer.from(type).toString('base64')}`;
  return { method: 'POST', path: '/v1/uploads', headers: { 'x-upload-id': plan.id, 'upload-length': String(size), 'upload-metadata': metadata, 'user-agent': plan.version }, plan };
}

function chunkRequest(plan) {
  const offset = plan.sentChunks * CHUNK;
  const length = Math.min(CHUNK, plan.size - offset);
  const body = CHUNK_CONTENT[(plan.fill + plan.sentChunks) % CHUNK_CONTENT.length].subarray(0, length);
  plan.busy = true;
  return { method: 'PATCH', path: `/v1/uploads/${plan.id}`, headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), 'user-agent': plan.version }, body, plan };
}

function nextRequest() {
  const now = programSeconds();
  for (let i = 0; i < clientUploads.length; i++) {
    const plan = clientUploads[i];
    if (plan.busy) continue;
    if (plan.sentChunks >= plan.abandonAfter) {
      clientUploads.splice(i, 1); // app killed, upload forgotten
      clientStats.abandoned++;
      i--;
      continue;
    }
  }
  const idle = clientUploads.filter((p) => !p.busy);
  if (clientUploads.length < 4 && (idle.length === 0 || random() < 0.2)) return startUpload(now);
  if (idle.length === 0) return null;
  return chunkRequest(idle[Math.floor(random() * idle.length)]);
}

function onClientResponse(status, _text, request) {
  const plan = request.plan;
  if (plan === undefined) return;
  plan.busy = false;
  if (request.method === 'POST') {
    plan.created = status === 201;
    if (!plan.created) clientUploads.splice(clientUploads.indexOf(plan), 1);
    return;
  }
  if (status === 204) plan.sentChunks++;
  if (plan.sentChunks * CHUNK >= plan.size || status >= 400) {
    clientUploads.splice(clientUploads.indexOf(plan), 1);
    if (status === 204) clientStats.finished++;
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Clients: ~0.17 upload requests/s (~100 uploads/h); resuming clients' HEADs and health checks 0.05/s.
const clients = selfRequests(port, { perSecond: 0.17, maxInFlight: 8, next: nextRequest, onResponse: onClientResponse });
const probes = selfRequests(port, {
  perSecond: 0.05,
  maxInFlight: 2,
  next: () => {
    const plan = clientUploads[Math.floor(random() * clientUploads.length)];
    return plan === undefined || !plan.created || random() < 0.3 ? { method: 'GET', path: '/healthz' } : { method: 'HEAD', path: `/v1/uploads/${plan.id}` };
  },
});

function heldBytes() {
  let bytes = 0;
  for (const upload of uploads.values()) bytes += upload.offset;
  return bytes;
}

reportStats(() => ({
  retained: uploads.size,
  heldBytes: heldBytes(),
  created: counters.created,
  completed: counters.completed,
  abandoned: clientStats.abandoned,
  chunks: counters.chunks,
  conflicts: counters.conflicts,
  requestsFailed: clients.failed + probes.failed,
}));

ready(
  `resumable-upload-abandoned-chunks-leak: ~100 resumable uploads/h in 128 KiB chunks kept as Uint8Arrays until complete; from ${ONSET_S} s mobile 5.14.0 abandons ~30 % of its uploads mid-way and nothing expires them (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
