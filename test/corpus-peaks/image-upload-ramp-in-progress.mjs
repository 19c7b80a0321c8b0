// Image-upload API of a photo-sharing app. A phone starts an upload with
// POST /v1/uploads (file name, size, content type), then sends the image in
// 256 KiB parts (PUT /v1/uploads/:id/parts/:n) over 5-60 s of production time
// on a mobile connection; the API keeps each upload in progress (a Set of
// Upload objects holding the received part Buffers) until the last part,
// then assembles it, checks it and hands it to the object store (an
// in-process stand-in) and forgets it. Uploads ramp from 08:00 to 14:00, so
// the uploads in progress and their buffers grow through the whole window.
// Healthy: memory follows the number of uploads in flight.
import { createHash, randomUUID } from 'node:crypto';
import {
  KiB, MiB, buildBallast, envNumber, listen, onShutdown, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 8);
const PART_BYTES = 256 * KiB;
const random = rng(1408);

function clockHour() {
  return CLOCK_H + programSeconds() / 3600;
}

/** Upload starts per second at speed 1: 0.03/s at 08:00, ramping to 0.25/s at 14:00. */
function uploadRate() {
  const h = Math.min(Math.max(clockHour(), 8), 14);
  return 0.03 + 0.22 * ((h - 8) / 6);
}

// --- uploads in progress ------------------------------------------------------
const uploadsInProgress = new Set();
const uploadsById = new Map();
const totals = { started: 0, completed: 0, storedBytes: 0, rejected: 0 };

class Upload {
  constructor(meta, now) {
    this.id = `up_${randomUUID()}`;
    this.userId = meta.userId;
    this.fileName = meta.fileName;
    this.contentType = meta.contentType;
    this.size = meta.size;
    this.parts = [];
    this.receivedBytes = 0;
    this.startedAt = now;
    this.lastPartAt = now;
  }

  addPart(index, chunk) {
    this.parts[index] = chunk;
    this.receivedBytes += chunk.length;
    this.lastPartAt = programSeconds();
    return this.receivedBytes >= this.size;
  }
}

function isImage(buffer) {
  return (buffer[0] === 0xff && buffer[1] === 0xd8) || (buffer[0] === 0x89 && buffer[1] === 0x50);
}

// Object store stand-in: hashes the object as the upload's ETag would be computed, then drops it.
const objectStore = {
  put(key, data) {
    const etag = createHash('md5').update(data).digest('hex');
    return new Promise((resolve) => setTimeout(() => resolve(etag), 10 + random() * 30));
  },
};

async function finishUpload(upload) {
  const data = Buffer.concat(upload.parts, upload.receivedBytes);
  uploadsInProgress.delete(upload);
  uploadsById.delete(upload.id);
  if (!isImage(data)) {
    totals.rejected++;
    return { status: 'rejected' };
  }
  const etag = await objectStore.put(`users/${upload.userId}/${upload.id}`, data);
  totals.completed++;
  totals.storedBytes += data.length;
  return { status: 'stored', etag };
}

function heldBytes() {
  let bytes = 0;
  for (const upload of uploadsInProgress) bytes += upload.receivedBytes;
  return bytes;
}

// --- HTTP ------------------------------------------------------------------
function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/uploads') {
      const meta = JSON.parse((await readBody(req, 16 * KiB)).toString('utf8'));
      if (!(meta.size > 0 && meta.size <= 20 * MiB)) return send(res, 413, { error: 'size' });
      const upload = new Upload(meta, programSeconds());
      uploadsInProgress.add(upload);
      uploadsById.set(upload.id, upload);
      totals.started++;
      return send(res, 201, { id: upload.id, partBytes: PART_BYTES });
    }
    const match = /^\/v1\/uploads\/([\w-]+)\/parts\/(\d+)$/.exec(req.url);
    if (req.method === 'PUT' && match !== null) {
      const upload = uploadsById.get(match[1]);
      const chunk = await readBody(req, PART_BYTES + KiB);
      if (upload === undefined) return send(res, 404, { error: 'unknown upload' });
      const complete = upload.addPart(Number(match[2]), chunk);
      if (!complete) return send(res, 200, { received: upload.receivedBytes });
      return send(res, 201, await finishUpload(upload));
    }
    if (req.url === '/healthz') return send(res, 200, { ok: true, inProgress: uploadsInProgress.size });
    send(res, 404, { error: 'not found' });
  } catch (error) {
    send(res, 500, { error: String(error.message) });
  }
}

// --- phones ------------------------------------------------------------------
// A pool of photo bytes the simulated phones send slices of (JPEG header first).
const PHOTO_BYTES = Buffer.alloc(8 * MiB);
for (let i = 0; i < PHOTO_BYTES.length; i += 4) PHOTO_BYTES.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
PHOTO_BYTES[0] = 0xff;
PHOTO_BYTES[1] = 0xd8;

const partQueue = []; // parts due to be sent: { at (program s), path, body }
const phoneTimers = new Set();
onShutdown(() => phoneTimers.forEach(clearTimeout));
let phoneSeq = 0;

function photoSize() {
  // log-normal, median ~1.6 MB, 0.3-8 MB
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Math.round(Math.min(Math.max(1.6 * MiB * Math.exp(0.55 * z), 0.3 * MiB), 8 * MiB));
}

function nextStart() {
  const size = photoSize();
  const n = ++phoneSeq;
  const meta = { userId: `u${Math.floor(random() * 500000)}`, fileName: `IMG_${1000 + (n % 9000)}.jpg`, contentType: 'image/jpeg', size };
  return { method: 'POST', path: '/v1/uploads', headers: { 'content-type': 'application/json' }, body: JSON.stringify(meta), size };
}

// When an upload is created, schedule its parts evenly over 5-60 s of production time.
function scheduleParts(status, text, request) {
  if (status !== 201) return;
  const { id } = JSON.parse(text);
  const parts = Math.ceil(request.size / PART_BYTES);
  const duration = 5 + 55 * random();
  for (let i = 0; i < parts; i++) {
    const offset = i * PART_BYTES;
    const length = Math.min(PART_BYTES, request.size - offset);
    const delayMs = ((duration * (i + 1)) / parts) * 1000 / speed;
    const timer = setTimeout(() => {
      phoneTimers.delete(timer);
      partQueue.push({ path: `/v1/uploads/${id}/parts/${i}`, body: PHOTO_BYTES.subarray(offset, offset + length) });
    }, delayMs);
    phoneTimers.add(timer);
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const starts = selfRequests(port, { perSecond: uploadRate, next: nextStart, onResponse: scheduleParts });
// The part sender drains due parts as fast as they come (a generous rate cap).
const partSender = selfRequests(port, {
  perSecond: 40,
  maxInFlight: 32,
  next: () => {
    const part = partQueue.shift();
    return part === undefined ? null : { method: 'PUT', path: part.path, headers: { 'content-type': 'application/octet-stream' }, body: part.body };
  },
});
const probes = selfRequests(port, { perSecond: 0.2, next: () => ({ path: '/healthz' }) });
reportStats(() => ({
  retained: uploadsInProgress.size,
  clock: Math.round(clockHour() * 100) / 100,
  heldBytes: heldBytes(),
  partsWaiting: partQueue.length,
  ...totals,
  failed: starts.failed + partSender.failed + probes.failed,
}));
ready(`image-upload API: uploads in progress (5-60 s each) ramp 08:00-14:00 (clock ${CLOCK_H}h, ballast ${ballastMb} MB)`);
