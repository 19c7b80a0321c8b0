// Media-upload service (resumable uploads for a photo/video sharing app).
//
// A client starts an upload (POST /v1/uploads with the file's name, type and
// size), then PUTs it in 512 KiB chunks, in order, over 1-15 minutes
// depending on its connection. The service keeps each in-progress upload in
// the module-level Map `uploads`, with every chunk it has received as a
// Buffer in `upload.chunks`; when the last chunk arrives it hashes the file,
// hands it to the object store (a stand-in that keeps metadata only) and
// deletes the upload. Clients abort some uploads (DELETE), and a sweeper
// expires uploads that have received nothing for 5 minutes (the app was
// killed). 3-20 uploads are in flight, following a daily traffic curve (the
// simulated day starts at SCENARIO_CLOCK_H, default 08:00: quiet morning,
// a midday peak, a lunchtime dip, the early afternoon). Memory is the chunks
// of the uploads in flight; nothing stays.
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
const clockStartH = envNumber('SCENARIO_CLOCK_H', 8, (v) => v >= 0 && v < 24);

/** Runs `fn` every `seconds` of production time. */
function everyProduction(seconds, fn) {
  return every((seconds * 1000) / speed, fn);
}

function clockHour() {
  return (clockStartH + programSeconds() / 3600) % 24;
}

const CHUNK_SIZE = 512 * KiB;
const MAX_FILE_SIZE = 64 * MiB;
const IDLE_EXPIRY_S = 5 * 60;

// --- uploads ----------------------------------------------------------------------------------------

class Upload {
  constructor(id, meta, now) {
    this.id = id;
    this.userId = meta.userId;
    this.fileName = meta.fileName;
    this.contentType = meta.contentType;
    this.size = meta.size;
    this.chunkCount = Math.ceil(meta.size / CHUNK_SIZE);
    this.chunks = [];
    this.receivedBytes = 0;
    this.startedAt = now;
    this.lastChunkAt = now;
  }

  get complete() {
    return this.chunks.length === this.chunkCount;
  }

  addChunk(index, chunk, now) {
    if (index !== this.chunks.length) return false; // out of order: the client resumes from `received`
    const expected = index === this.chunkCount - 1 ? this.size - index * CHUNK_SIZE : CHUNK_SIZE;
    if (chunk.length !== expected) return false;
    this.chunks.push(chunk);
    this.receivedBytes += chunk.length;
    this.lastChunkAt = now;
    return true;
  }
}

/** In-progress uploads by id. */
const uploads = new Map();
/** The object store stand-in: metadata of the last 1 000 stored files. */
const stored = [];
const counters = { started: 0, completed: 0, aborted: 0, expired: 0, storedBytes: 0, rejectedChunks: 0 };
let uploadSeq = 0;

function storeObject(upload, now) {
  const hash = createHash('sha256');
  for (const chunk of upload.chunks) hash.update(chunk);
  stored.push({ key: `media/${upload.userId}/${upload.id}/${upload.fileName}`, size: upload.size, sha256: hash.digest('hex'), storedAt: now });
  if (stored.length > 1000) stored.shift();
  counters.completed++;
  counters.storedBytes += upload.size;
  uploads.delete(upload.id);
}

function expireIdleUploads(now) {
  for (const upload of uploads.values()) {
    if (now - upload.lastChunkAt > IDLE_EXPIRY_S) {
      uploads.delete(upload.id);
      counters.expired++;
    }
  }
}

everyProduction(60, () => expireIdleUploads(programSeconds()));

// --- HTTP ---------------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const now = programSeconds();
  const parts = (req.url ?? '/').split('?')[0].split('/');
  if (parts[1] === 'healthz') return sendJson(res, 200, { ok: true, uploads: uploads.size });
  if (parts[1] !== 'v1' || parts[2] !== 'uploads') return sendJson(res, 404, { error: 'not found' });

  if (parts.length === 3 && req.method === 'POST') {
    const meta = JSON.parse((await readBody(req)).toString('utf8'));
    if (!(meta.size > 0 && meta.size <= MAX_FILE_SIZE)) return sendJson(res, 413, { error: 'file too large' });
    uploadSeq++;
    const upload = new Upload(`up_${uploadSeq.toString(36)}${Math.floor(random() * 1e9).toString(36)}`, meta, now);
    uploads.set(upload.id, upload);
    counters.started++;
    return sendJson(res, 201, { id: upload.id, chunkSize: CHUNK_SIZE, chunks: upload.chunkCount });
  }
  const upload = uploads.get(parts[3]);
  if (upload === undefined) {
    req.resume();
    return sendJson(res, 404, { error: 'no such upload' });
  }
  if (parts.length === 4 && req.method === 'GET') return sendJson(res, 200, { id: upload.id, received: upload.chunks.length, bytes: upload.receivedBytes });
  if (parts.length === 4 && req.method === 'DELETE') {
    uploads.delete(upload.id);
    counters.aborted++;
    return sendJson(res, 200, { aborted: true });
  }
  if (parts.length === 6 && parts[4] === 'chunks' && req.method === 'PUT') {
    const chunk = await readBody(req, CHUNK_SIZE + KiB);
    if (!upload.addChunk(Number(parts[5]), chunk, now)) {
      counters.rejectedChunks++;
      return sendJson(res, 409, { error: 'unexpected chunk', received: upload.chunks.length });
    }
    if (upload.complete) {
      storeObject(upload, now);
      return sendJson(res, 201, { id: upload.id, stored: true });
    }
    return sendJson(res, 200, { received: upload.chunks.length });
  }
  sendJson(res, 405, { error: 'method not allowed' });
}

function handler(req, res) {
  handle(req, res).catch((error) => {
    if (!res.headersSent) sendJson(res, 500, { error: String(error) });
  });
}

// --- the clients: the app's uploader ------------------------------------------------------------------

/** Actions of the simulated clients ordered by production time (a binary heap). */
class Agenda {
  constructor() {
    this.items = [];
  }

  get size() {
    return this.items.length;
  }

  peekAt() {
    return this.items[0].at;
  }

  push(at, action) {
    const items = this.items;
    items.push({ at, action });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].at <= items[i].at) break;
      [items[parent], items[i]] = [items[i], items[parent]];
      i = parent;
    }
  }

  pop() {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && items[l].at < items[m].at) m = l;
        if (r < items.length && items[r].at < items[m].at) m = r;
        if (m === i) break;
        [items[m], items[i]] = [items[i], items[m]];
        i = m;
      }
    }
    return top.action;
  }
}

// Uploads in flight the traffic brings, by hour of the day (interpolated).
const IN_FLIGHT_BY_HOUR = [3, 3, 3, 3, 3, 3, 4, 5, 6, 10, 15, 19, 20, 16, 13, 15, 17, 14, 10, 8, 7, 6, 5, 4];
const MIN_DURATION_S = 60;
const MAX_DURATION_S = 15 * 60;
// Mean of a log-uniform duration between the two: (max - min) / ln(max / min).
const MEAN_DURATION_S = (MAX_DURATION_S - MIN_DURATION_S) / Math.log(MAX_DURATION_S / MIN_DURATION_S);
// [content type, file prefix, extension, median size, log-normal sigma, share]: mostly photos;
// the app transcodes videos to 720p before uploading them.
const KINDS = [
  ['image/jpeg', 'IMG', 'jpg', 1.5 * MiB, 0.5, 0.4],
  ['image/heic', 'IMG', 'heic', 2 * MiB, 0.5, 0.3],
  ['video/mp4', 'VID', 'mp4', 6 * MiB, 0.6, 0.2],
  ['video/quicktime', 'MOV', 'mov', 9 * MiB, 0.6, 0.1],
];

function pickKind() {
  let r = random();
  for (const kind of KINDS) {
    r -= kind[5];
    if (r <= 0) return kind;
  }
  return KINDS[KINDS.length - 1];
}

function targetInFlight() {
  const h = clockHour();
  const i = Math.floor(h);
  const f = h - i;
  return IN_FLIGHT_BY_HOUR[i] * (1 - f) + IN_FLIGHT_BY_HOUR[(i + 1) % 24] * f;
}

function gaussian() {
  return Math.sqrt(-2 * Math.log(Math.max(1e-12, random()))) * Math.cos(2 * Math.PI * random());
}

// What the phones send: pre-filled camera bytes (already compressed, so random), sliced per chunk.
const SOURCE = Buffer.allocUnsafe(4 * MiB);
for (let i = 0; i < SOURCE.length; i += 4) SOURCE.writeUInt32LE(Math.floor(random() * 0x100000000), i);

const agenda = new Agenda();
const clientStats = { created: 0, aborts: 0, abandoned: 0, chunksSent: 0, conflicts: 0, lost: 0 };

function newClientUpload(now) {
  const [contentType, prefix, ext, median, sigma] = pickKind();
  const size = Math.max(64 * KiB, Math.min(MAX_FILE_SIZE, Math.round(median * Math.exp(sigma * gaussian()))));
  const chunks = Math.ceil(size / CHUNK_SIZE);
  // How long the whole transfer takes on this client's connection; a chunk takes at most 2 minutes.
  const duration = MIN_DURATION_S * Math.exp(random() * Math.log(MAX_DURATION_S / MIN_DURATION_S));
  const r = random();
  clientStats.created++;
  return {
    id: null,
    userId: `u${Math.floor(random() * 250_000)}`,
    fileName: `${prefix}_${20240000 + Math.floor(random() * 9999)}_${Math.floor(random() * 1e6)}.${ext}`,
    contentType,
    size,
    chunks,
    next: 0,
    interval: Math.min(120, duration / chunks),
    offset: Math.floor(random() * (SOURCE.length - CHUNK_SIZE)),
    // ~12 % are cancelled in the app, ~4 % never finish (app killed, phone offline)
    stopAfter: r < 0.12 ? Math.floor(random() * chunks) : r < 0.16 ? Math.floor(random() * chunks) : chunks,
    abort: r < 0.12,
  };
}

function perform(action, now) {
  if (action.kind === 'arrival') {
    const rate = targetInFlight() / MEAN_DURATION_S; // Little's law
    agenda.push(now + -Math.log(1 - random()) / rate, { kind: 'arrival' });
    const u = newClientUpload(now);
    return { method: 'POST', path: '/v1/uploads', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: u.userId, fileName: u.fileName, contentType: u.contentType, size: u.size }), upload: u };
  }
  const u = action.upload;
  if (action.kind === 'resume') return { method: 'GET', path: `/v1/uploads/${u.id}`, upload: u, resume: true };
  if (u.next >= u.stopAfter) {
    if (u.abort) {
      clientStats.aborts++;
      return { method: 'DELETE', path: `/v1/uploads/${u.id}`, upload: u };
    }
    clientStats.abandoned++;
    return null;
  }
  const index = u.next;
  const length = index === u.chunks - 1 ? u.size - index * CHUNK_SIZE : CHUNK_SIZE;
  clientStats.chunksSent++;
  return { method: 'PUT', path: `/v1/uploads/${u.id}/chunks/${index}`, headers: { 'content-type': 'application/octet-stream' }, body: SOURCE.subarray(u.offset, u.offset + length), upload: u, index };
}

function nextRequest() {
  const now = programSeconds();
  while (agenda.size > 0 && agenda.peekAt() <= now) {
    const request = perform(agenda.pop(), now);
    if (request !== null) return request;
  }
  return null;
}

/** The uploader sends one chunk at a time: the next one goes when this one is acknowledged. */
function onResponse(status, text, request) {
  const u = request.upload;
  if (u === undefined) return;
  const now = programSeconds();
  const later = () => now + u.interval * (0.7 + random() * 0.6);
  if (request.method === 'POST') {
    if (status !== 201) return;
    u.id = JSON.parse(text).id;
    agenda.push(later(), { kind: 'chunk', upload: u });
  } else if (request.method === 'PUT') {
    if (status === 200) {
      u.next = request.index + 1;
      agenda.push(later(), { kind: 'chunk', upload: u });
    } else if (status === 409) {
      // The server has a different count (a retried chunk): ask, then resume from there.
      clientStats.conflicts++;
      agenda.push(now + 2, { kind: 'resume', upload: u });
    } else if (status === 404) {
      clientStats.lost++;
    }
  } else if (request.resume === true && status === 200) {
    u.next = JSON.parse(text).received;
    agenda.push(now + 1, { kind: 'chunk', upload: u });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

agenda.push(0, { kind: 'arrival' });
const clients = selfRequests(port, { perSecond: 8, maxInFlight: 32, next: nextRequest, onResponse });

reportStats(() => {
  let heldBytes = 0;
  let chunksHeld = 0;
  for (const upload of uploads.values()) {
    heldBytes += upload.receivedBytes;
    chunksHeld += upload.chunks.length;
  }
  return {
    retained: uploads.size,
    chunksHeld,
    heldBytes,
    clockH: Math.round(clockHour() * 100) / 100,
    target: Math.round(targetInFlight() * 10) / 10,
    started: counters.started,
    completed: counters.completed,
    aborted: counters.aborted,
    expired: counters.expired,
    storedBytes: counters.storedBytes,
    rejectedChunks: counters.rejectedChunks,
    clientAborts: clientStats.aborts,
    clientAbandoned: clientStats.abandoned,
    chunksSent: clientStats.chunksSent,
    conflicts: clientStats.conflicts,
    requestsFailed: clients.failed,
  };
});

ready(
  `media-upload-chunk-buffers-diurnal: resumable uploads held as 512 KiB chunk Buffers for 1-15 min, 3-20 in flight over the day (clock ${clockStartH} h, speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
