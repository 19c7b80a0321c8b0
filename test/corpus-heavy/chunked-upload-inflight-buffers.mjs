// Resumable upload service (the "send large files" feature of a file-sharing
// product): a client opens an upload (POST /v1/uploads), sends it in 1 MiB
// chunks at its own pace (PUT /v1/uploads/:id/chunks/:index), then completes it
// (POST /v1/uploads/:id/complete). Until then the chunks are held in memory in
// the UploadSession's `chunks` array; completing assembles and checksums the
// file, hands it to the storage stand-in and drops the session. Uploads are
// several MB (3-24 MB) and take one to a few minutes; abandoned ones are
// swept after 10 idle minutes. Traffic follows the working day (the clock
// starts at SCENARIO_CLOCK_H, default 10.0), so the bytes in flight rise and
// fall with it, and nothing stays.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  envNumber,
  every,
  KiB,
  listen,
  MiB,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x0b10ad);
const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 10.0, (v) => v >= 0 && v < 24);

const config = { chunkBytes: 1 * MiB, maxUploadBytes: 64 * MiB, idleTimeoutSeconds: 600, sweepSeconds: 60 };

// --- uploads --------------------------------------------------------------------------

class UploadSession {
  constructor(id, owner, fileName, size) {
    this.id = id;
    this.owner = owner;
    this.fileName = fileName;
    this.size = size;
    this.chunks = [];
    this.received = 0;
    this.createdAt = programSeconds();
    this.lastChunkAt = this.createdAt;
  }

  get expectedChunks() {
    return Math.ceil(this.size / config.chunkBytes);
  }

  addChunk(index, chunk) {
    if (this.chunks[index] !== undefined) return false; // a retried chunk
    this.chunks[index] = chunk;
    this.received += chunk.length;
    this.lastChunkAt = programSeconds();
    return true;
  }

  complete() {
    return this.received === this.size && this.chunks.length === this.expectedChunks;
  }
}

/** uploadId -> UploadSession, while the upload is in progress. */
const uploads = new Map();
const storage = { files: 0, bytes: 0 };
const counters = { opened: 0, completed: 0, expired: 0, chunks: 0, bytesIn: 0 };
let uploadSeq = 0;

/** Checksums the chunks in order and "stores" the file. */
function finishUpload(session) {
  const hash = createHash('sha256');
  for (const chunk of session.chunks) hash.update(chunk);
  const digest = hash.digest('hex');
  storage.files++;
  storage.bytes += session.received;
  uploads.delete(session.id);
  session.chunks = [];
  counters.completed++;
  return { id: session.id, fileName: session.fileName, size: session.size, sha256: digest };
}

function sweepIdleUploads() {
  const now = programSeconds();
  for (const session of uploads.values()) {
    if (now - session.lastChunkAt < config.idleTimeoutSeconds) continue;
    uploads.delete(session.id);
    session.chunks = [];
    counters.expired++;
  }
}

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://uploads.internal');
  const parts = url.pathname.split('/'); // ['', 'v1', 'uploads', id, 'chunks', index]
  try {
    if (req.method === 'POST' && url.pathname === '/v1/uploads') {
      const size = Number(url.searchParams.get('size'));
      if (!Number.isInteger(size) || size <= 0 || size > config.maxUploadBytes) return sendJson(res, 413, { error: 'bad size' });
      uploadSeq++;
      const session = new UploadSession(`up_${uploadSeq.toString(36)}`, req.headers['x-user-id'] ?? 'anonymous', url.searchParams.get('name') ?? 'file.bin', size);
      uploads.set(session.id, session);
      counters.opened++;
      return sendJson(res, 201, { uploadId: session.id, chunkBytes: config.chunkBytes });
    }
    if (parts[1] === 'v1' && parts[2] === 'uploads' && parts[3] !== undefined) {
      const session = uploads.get(parts[3]);
      if (session === undefined) return sendJson(res, 404, { error: 'unknown or expired upload' });
      if (req.method === 'PUT' && parts[4] === 'chunks') {
        const chunk = await readBody(req, config.chunkBytes + 16 * KiB);
        counters.chunks++;
        counters.bytesIn += chunk.length;
        session.addChunk(Number(parts[5]), chunk);
        return sendJson(res, 200, { received: session.received, size: session.size });
      }
      if (req.method === 'POST' && parts[4] === 'complete') {
        if (!session.complete()) return sendJson(res, 409, { error: 'missing chunks', received: session.received });
        return sendJson(res, 200, finishUpload(session));
      }
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, uploads: uploads.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- clients (the load) ----------------------------------------------------------------------

// Relative upload starts per hour of the day (a business product: busy 10-12 and 14-16).
const DAY_CURVE = [0.05, 0.04, 0.03, 0.03, 0.04, 0.08, 0.18, 0.35, 0.6, 0.85, 1.0, 0.95, 0.6, 0.75, 0.95, 1.0, 0.8, 0.55, 0.35, 0.25, 0.18, 0.12, 0.09, 0.06];

function dayFactor() {
  const hour = (CLOCK_H + programSeconds() / 3600) % 24;
  const h = Math.floor(hour);
  const f = hour - h;
  return DAY_CURVE[h] * (1 - f) + DAY_CURVE[(h + 1) % 24] * f;
}

/** Four reusable chunk payloads: the clients' file bytes. */
const PAYLOADS = [0, 1, 2, 3].map((i) => {
  const chunk = Buffer.allocUnsafe(config.chunkBytes);
  chunk.fill(createHash('sha512').update(`payload-${i}`).digest());
  return chunk;
});
const EXTENSIONS = ['mov', 'zip', 'pdf', 'psd', 'mp4', 'tif'];

/** Uploads as the clients see them. */
const transfers = [];

function planTransfer(uploadId, size) {
  return {
    uploadId,
    size,
    nextIndex: 0,
    chunks: Math.ceil(size / config.chunkBytes),
    // Each client's uplink: one chunk every 6-30 s of production time.
    interval: 6 + random() * 24,
    nextAt: programSeconds() + 2,
    abandons: random() < 0.03,
    completing: false,
  };
}

function nextChunkOrComplete() {
  const now = programSeconds();
  for (let i = 0; i < transfers.length; i++) {
    const t = transfers[i];
    if (now < t.nextAt) continue;
    if (t.abandons && t.nextIndex >= t.chunks / 2) {
      transfers.splice(i, 1); // closed the laptop
      return null;
    }
    if (t.nextIndex >= t.chunks) {
      transfers.splice(i, 1);
      return { method: 'POST', path: `/v1/uploads/${t.uploadId}/complete` };
    }
    const index = t.nextIndex++;
    t.nextAt = now + t.interval * (0.7 + random() * 0.6);
    const length = Math.min(config.chunkBytes, t.size - index * config.chunkBytes);
    const payload = PAYLOADS[index % PAYLOADS.length];
    return {
      method: 'PUT',
      path: `/v1/uploads/${t.uploadId}/chunks/${index}`,
      headers: { 'content-type': 'application/octet-stream' },
      body: length === payload.length ? payload : payload.subarray(0, length),
    };
  }
  return null;
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
every(Math.max(20, (config.sweepSeconds * 1000) / speed), sweepIdleUploads);

// Up to ~70 upload starts an hour at the busiest hours (slots thinned by the day curve).
const starters = selfRequests(port, {
  perSecond: 140 / 3600,
  maxInFlight: 4,
  next: () => {
    if (random() >= dayFactor() / 2) return null;
    const size = Math.round(3 * MiB * 8 ** random()); // 3-24 MB, log-uniform
    const name = `${Math.floor(random() * 1e6).toString(36)}.${EXTENSIONS[Math.floor(random() * EXTENSIONS.length)]}`;
    return { method: 'POST', path: `/v1/uploads?size=${size}&name=${name}`, headers: { 'x-user-id': `u${Math.floor(random() * 5000)}` } };
  },
  onResponse: (status, text, request) => {
    if (status !== 201) return;
    const size = Number(new URL(request.path, 'http://x').searchParams.get('size'));
    transfers.push(planTransfer(JSON.parse(text).uploadId, size));
  },
});
const senders = selfRequests(port, { perSecond: 2, maxInFlight: 6, next: nextChunkOrComplete });
const probes = selfRequests(port, { perSecond: 0.1, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => {
  let held = 0;
  let chunks = 0;
  for (const session of uploads.values()) {
    held += session.received;
    chunks += session.chunks.length;
  }
  return {
    retained: uploads.size,
    heldBytes: held,
    heldChunks: chunks,
    opened: counters.opened,
    completed: counters.completed,
    expired: counters.expired,
    dayFactor: Math.round(dayFactor() * 100) / 100,
    requestsFailed: starters.failed + senders.failed + probes.failed,
  };
});

ready(
  `chunked-upload-inflight-buffers: 3-24 MB uploads held as 1 MiB chunk Buffers for 1-10 min each, traffic following the working day from ${CLOCK_H}:00, nothing kept (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
