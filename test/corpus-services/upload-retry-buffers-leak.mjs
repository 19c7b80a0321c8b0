// Photo-upload service (leak, external memory).
//
// POST /v1/uploads reads the image into one Buffer (collectBody preallocates
// it from content-length), checksums it and writes it to the object store
// (an in-process stand-in with real latency that fails ~7 % of the writes with
// SlowDown / InternalError / timeouts, like a busy bucket). A failed write is
// answered 202 "pending" and queued, body and all, in the module-level array
// `pendingRetries` for the RetryJob that re-sends them. But the RetryJob is
// never started (its start() used to be called from the old bootstrap file
// this entry point replaced), so every failed upload's Buffer stays in the
// array for good: external memory grows with the failed bytes, ~10-20 MB an
// hour at the traffic below; the JS heap barely moves.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  every,
  KiB,
  listen,
  MiB,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const UPLOADS_PER_SECOND = 0.4; // photo uploads of a small social app
const READS_PER_SECOND = 1.2; // status and listing calls
const MEDIAN_UPLOAD_BYTES = 120 * KiB;
const MAX_UPLOAD_BYTES = 4 * MiB;
const STORE_FAILURE_RATE = 0.07;
const RECENT_UPLOADS_KEPT = 2_000;

const random = rng(0x0910ad);

// --- Object store stand-in ---------------------------------------------------------

const STORE_ERRORS = ['SlowDown', 'InternalError', 'RequestTimeout', 'ServiceUnavailable'];

class ObjectStore {
  constructor(bucket) {
    this.bucket = bucket;
    this.objects = 0;
    this.bytes = 0;
    this.failures = 0;
  }

  put(key, body, contentType) {
    return new Promise((resolve, reject) => {
      const latencyMs = 3 + random() * 25 + body.length / (8 * MiB) * 10;
      setTimeout(() => {
        if (random() < STORE_FAILURE_RATE) {
          this.failures++;
          const code = STORE_ERRORS[Math.floor(random() * STORE_ERRORS.length)];
          reject(Object.assign(new Error(`${code}: put s3://${this.bucket}/${key} failed`), { code }));
          return;
        }
        this.objects++;
        this.bytes += body.length;
        resolve({ etag: `"${createHash('md5').update(body).digest('hex')}"`, contentType });
      }, latencyMs);
    });
  }
}

const store = new ObjectStore('user-photos-eu');

// --- Retry job ------------------------------------------------------------------------

const pendingRetries = []; // { id, key, body, contentType, size, account, attempts, firstFailedAt, lastError }

class RetryJob {
  constructor(queue, objectStore, { everySeconds = 30, maxAttempts = 8 } = {}) {
    this.queue = queue;
    this.objectStore = objectStore;
    this.everySeconds = everySeconds;
    this.maxAttempts = maxAttempts;
    this.timer = null;
    this.running = false;
  }

  start() {
    this.timer = every(Math.max(10, (this.everySeconds * 1000) / speed), () => this.runOnce());
  }

  async runOnce() {
    if (this.running) return;
    this.running = true;
    try {
      const batch = this.queue.splice(0, 20);
      for (const item of batch) {
        try {
          await this.objectStore.put(item.key, item.body, item.contentType);
          markStored(item.id, item.key);
        } catch (error) {
          item.attempts++;
          item.lastError = error.code;
          if (item.attempts < this.maxAttempts) this.queue.push(item);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

// Constructed here; start() lived in the old bootstrap (bin/worker.js) and
// nobody moved it when uploads and retries were merged into this process.
const retryJob = new RetryJob(pendingRetries, store);

// --- Upload API --------------------------------------------------------------------------

const recentUploads = new Map(); // id -> { id, key, status, size, account, at } (last RECENT_UPLOADS_KEPT)
let uploadSeq = 0;
const counters = { uploads: 0, stored: 0, queuedForRetry: 0, rejected: 0, bytesIn: 0 };

function remember(meta) {
  recentUploads.set(meta.id, meta);
  if (recentUploads.size > RECENT_UPLOADS_KEPT) recentUploads.delete(recentUploads.keys().next().value);
}

function markStored(id, key) {
  const meta = recentUploads.get(id);
  if (meta !== undefined) meta.status = 'stored';
  counters.stored++;
}

function collectBody(req, declaredLength) {
  return new Promise((resolve, reject) => {
    if (!(declaredLength > 0)) {
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
      return;
    }
    const body = Buffer.allocUnsafe(declaredLength);
    let offset = 0;
    req.on('data', (chunk) => {
      if (offset + chunk.length > declaredLength) {
        reject(new Error('body longer than content-length'));
        req.destroy();
        return;
      }
      chunk.copy(body, offset);
      offset += chunk.length;
    });
    req.on('end', () => (offset === declaredLength ? resolve(body) : reject(new Error('short body'))));
    req.on('error', reject);
  });
}

function objectKey(account, id, contentType) {
  const ext = contentType === 'image/png' ? 'png' : contentType === 'image/heic' ? 'heic' : 'jpg';
  return `accounts/${account}/photos/${id}.${ext}`;
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handleUpload(req, res) {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_UPLOAD_BYTES) {
    counters.rejected++;
    req.resume();
    return sendJson(res, 413, { error: 'too large' });
  }
  const contentType = req.headers['content-type'] ?? 'application/octet-stream';
  const account = req.headers['x-account'] ?? 'unknown';
  const body = await collectBody(req, declared);
  const id = `up_${(++uploadSeq).toString(36)}_${Math.floor(programSeconds()).toString(36)}`;
  const key = objectKey(account, id, contentType);
  const sha256 = createHash('sha256').update(body).digest('hex');
  counters.uploads++;
  counters.bytesIn += body.length;
  const meta = { id, key, status: 'uploading', size: body.length, account, sha256, at: programSeconds() };
  remember(meta);
  try {
    const { etag } = await store.put(key, body, contentType);
    meta.status = 'stored';
    counters.stored++;
    return sendJson(res, 201, { id, key, etag, size: body.length });
  } catch (error) {
    meta.status = 'pending';
    pendingRetries.push({
      id,
      key,
      body,
      contentType,
      size: body.length,
      account,
      attempts: 1,
      firstFailedAt: programSeconds(),
      lastError: error.code,
    });
    counters.queuedForRetry++;
    return sendJson(res, 202, { id, status: 'pending', retry: true });
  }
}

const { port } = await listen((req, res) => {
  const url = new URL(req.url, 'http://uploads.internal');
  if (req.method === 'POST' && url.pathname === '/v1/uploads') {
    return handleUpload(req, res).catch((error) => sendJson(res, 400, { error: error.message }));
  }
  if (url.pathname.startsWith('/v1/uploads/')) {
    const meta = recentUploads.get(url.pathname.slice('/v1/uploads/'.length));
    return meta === undefined ? sendJson(res, 404, { error: 'unknown upload' }) : sendJson(res, 200, meta);
  }
  if (url.pathname === '/v1/uploads') {
    const account = url.searchParams.get('account');
    const items = [];
    for (const meta of recentUploads.values()) if (meta.account === account) items.push(meta);
    return sendJson(res, 200, { items: items.slice(-20) });
  }
  if (url.pathname === '/internal/retries') {
    return sendJson(res, 200, { pending: pendingRetries.length, jobRunning: retryJob.timer !== null });
  }
  sendJson(res, 404, { error: 'no route' });
});

// --- Mobile clients (in-process) ----------------------------------------------------------

// Camera-roll bytes: one pool of random data, each upload a slice of it.
const PHOTO_POOL = Buffer.alloc(MAX_UPLOAD_BYTES + MiB);
for (let i = 0; i < PHOTO_POOL.length; i += 4) PHOTO_POOL.writeUInt32LE(Math.floor(random() * 0x100000000), i);
const CONTENT_TYPES = ['image/jpeg', 'image/jpeg', 'image/jpeg', 'image/heic', 'image/png'];
const lastIds = [];

function photoSize() {
  // log-normal around the median, sigma 0.8
  const u1 = 1 - random();
  const u2 = random();
  const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return Math.min(MAX_UPLOAD_BYTES, Math.max(8 * KiB, Math.round(MEDIAN_UPLOAD_BYTES * Math.exp(0.8 * normal))));
}

let uploadsDue = 0;
let readsDue = 0;
let lastStep = programSeconds();

function nextRequest() {
  if (uploadsDue >= 1) {
    uploadsDue--;
    const size = photoSize();
    const offset = Math.floor(random() * (PHOTO_POOL.length - size));
    return {
      method: 'POST',
      path: '/v1/uploads',
      headers: { 'content-type': CONTENT_TYPES[Math.floor(random() * CONTENT_TYPES.length)], 'x-account': `a${Math.floor(random() * 20_000)}` },
      body: PHOTO_POOL.subarray(offset, offset + size),
    };
  }
  if (readsDue >= 1) {
    readsDue--;
    if (lastIds.length > 0 && random() < 0.7) return { method: 'GET', path: `/v1/uploads/${lastIds[Math.floor(random() * lastIds.length)]}` };
    return { method: 'GET', path: `/v1/uploads?account=a${Math.floor(random() * 20_000)}` };
  }
  return null;
}

function onResponse(status, text, request) {
  if (request.method !== 'POST' || status >= 300 && status !== 202) return;
  lastIds.push(JSON.parse(text).id);
  if (lastIds.length > 200) lastIds.shift();
}

const ballastMb = buildBallast();

const client = selfRequests(port, { perSecond: 20, next: nextRequest, maxInFlight: 16, onResponse });

every(Math.max(10, 1000 / speed), () => {
  const now = programSeconds();
  const dt = now - lastStep;
  lastStep = now;
  uploadsDue += dt * UPLOADS_PER_SECOND * (0.5 + random());
  readsDue += dt * READS_PER_SECOND * (0.5 + random());
});

function pendingBytes() {
  let bytes = 0;
  for (const item of pendingRetries) bytes += item.size;
  return bytes;
}

reportStats(() => ({
  retained: pendingRetries.length,
  pendingBytes: pendingBytes(),
  ...counters,
  storeFailures: store.failures,
  requests: client.completed,
  failed: client.failed,
}));

ready(
  `upload-retry-buffers-leak: photo-upload service on 127.0.0.1:${port}, ${UPLOADS_PER_SECOND} uploads/s (median ${MEDIAN_UPLOAD_BYTES / KiB} KiB), store failure rate ${STORE_FAILURE_RATE}, speed ${speed}` +
    (ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''),
);
