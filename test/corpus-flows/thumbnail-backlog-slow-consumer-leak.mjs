// Image-thumbnail job service of a photo-sharing product.
//
// The upload service POSTs one job per uploaded image (POST /v1/thumbnail-jobs:
// the stored original's location, its size and EXIF summary, the variants to
// render, a callback); the job goes on an in-memory FIFO (class JobQueue,
// module-level `thumbnailQueue`, array `jobs`) and a single consumer renders
// the variants one image at a time and calls the upload service back.
// Since the image library was upgraded (v5 -> v6, whose default resampling
// filter is now lanczos3 and which no longer shrinks JPEGs on decode), a job
// takes ~0.52 s median instead of ~0.38 s: the consumer manages ~85 % of the
// arrival rate, so the backlog keeps growing although jobs leave it all the
// time. The dashboard shows the queue depth and the age of the oldest job.
import { randomUUID } from 'node:crypto';
import {
  buildBallast,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const UPLOADS_PER_SECOND = 2;
const RESIZE_MEDIAN_MS = 520; // was ~380 ms with image library v5
const RESIZE_SIGMA = 0.5;

const random = rng(0x7a3b);

function logNormal(median, sigma) {
  const u = 1 - random();
  const v = random();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

// The image library stand-in keeps its own production-time clock, so that a
// late timer makes the next job start earlier rather than slowing it down.
let libraryBusyUntil = 0;
function busyFor(productionMs) {
  const now = programSeconds() * 1000;
  libraryBusyUntil = Math.max(libraryBusyUntil, now) + productionMs;
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, (libraryBusyUntil - now) / speed)));
}

// --- the queue -------------------------------------------------------------------

class JobQueue {
  constructor(name) {
    this.name = name;
    this.jobs = [];
    this.enqueued = 0;
    this.dequeued = 0;
    this.consumerWaiting = null;
  }

  push(job) {
    this.jobs.push(job);
    this.enqueued++;
    const wake = this.consumerWaiting;
    this.consumerWaiting = null;
    if (wake !== null) wake();
  }

  async take() {
    while (this.jobs.length === 0) await new Promise((resolve) => (this.consumerWaiting = resolve));
    this.dequeued++;
    return this.jobs.shift();
  }

  oldestAgeSeconds(now) {
    return this.jobs.length === 0 ? 0 : now - this.jobs[0].enqueuedAt;
  }
}

const thumbnailQueue = new JobQueue('thumbnails');
const results = new Map(); // job id -> result, last 2 000
const totals = { accepted: 0, rejected: 0, rendered: 0, failed: 0, variants: 0, callbacks: 0 };

function toJob(upload, now) {
  return {
    id: `thj_${randomUUID()}`,
    imageId: upload.image.id,
    tenantId: upload.image.tenantId,
    source: {
      bucket: upload.image.bucket,
      key: upload.image.key,
      contentType: upload.image.contentType,
      bytes: upload.image.bytes,
      width: upload.image.width,
      height: upload.image.height,
      checksum: upload.image.checksum,
    },
    variants: upload.variants.map((v) => ({ name: v.name, width: v.width, height: v.height, fit: v.fit ?? 'cover', format: v.format ?? 'webp' })),
    exif: upload.image.exif ? { orientation: upload.image.exif.orientation, camera: upload.image.exif.camera, takenAt: upload.image.exif.takenAt } : null,
    callbackUrl: upload.callback.url,
    traceparent: upload.traceparent,
    enqueuedAt: now,
    attempts: 0,
  };
}

function validate(upload) {
  const image = upload.image;
  if (!image || typeof image.id !== 'string' || typeof image.key !== 'string') return 'image.id and image.key are required';
  if (!['image/jpeg', 'image/png', 'image/heic', 'image/webp'].includes(image.contentType)) return `unsupported ${image.contentType}`;
  if (!(image.width > 0 && image.height > 0)) return 'image dimensions missing';
  if (!Array.isArray(upload.variants) || upload.variants.length === 0) return 'no variants';
  if (!upload.callback?.url?.startsWith('https://')) return 'callback must be https';
  return null;
}

// --- the consumer -----------------------------------------------------------------

function targetSize(source, variant, orientation) {
  const rotated = orientation === 6 || orientation === 8;
  const w = rotated ? source.height : source.width;
  const h = rotated ? source.width : source.height;
  const scale = variant.fit === 'inside' ? Math.min(variant.width / w, variant.height / h) : Math.max(variant.width / w, variant.height / h);
  return { width: Math.min(variant.width, Math.round(w * scale)), height: Math.min(variant.height, Math.round(h * scale)) };
}

/** Decode, resize and encode every variant (image library stand-in). */
async function renderVariants(job) {
  const pixels = job.source.width * job.source.height;
  await busyFor(logNormal(RESIZE_MEDIAN_MS, RESIZE_SIGMA) * (0.8 + Math.min(0.4, pixels / 60e6)));
  return job.variants.map((variant) => {
    const size = targetSize(job.source, variant, job.exif?.orientation ?? 1);
    return {
      name: variant.name,
      key: `${job.source.key.replace(/\.[a-z]+$/, '')}/${variant.name}.${variant.format}`,
      width: size.width,
      height: size.height,
      bytes: Math.round(size.width * size.height * (variant.format === 'webp' ? 0.11 : 0.16)),
    };
  });
}

async function consume() {
  for (;;) {
    const job = await thumbnailQueue.take();
    job.attempts++;
    try {
      const variants = await renderVariants(job);
      results.set(job.id, { imageId: job.imageId, state: 'done', variants, doneAt: programSeconds(), waitedSeconds: programSeconds() - job.enqueuedAt });
      totals.rendered++;
      totals.variants += variants.length;
      totals.callbacks++; // the callback to the upload service is fire-and-forget
    } catch (error) {
      results.set(job.id, { imageId: job.imageId, state: 'failed', error: String(error), doneAt: programSeconds() });
      totals.failed++;
    }
    if (results.size > 2000) results.delete(results.keys().next().value);
  }
}

void consume();

// --- HTTP -------------------------------------------------------------------------

function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      return send(res, 200, { ok: true, queued: thumbnailQueue.jobs.length, oldestSeconds: Math.round(thumbnailQueue.oldestAgeSeconds(programSeconds())) });
    }
    if (req.method === 'POST' && url.pathname === '/v1/thumbnail-jobs') {
      const upload = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
      const problem = validate(upload);
      if (problem !== null) {
        totals.rejected++;
        return send(res, 422, { error: problem });
      }
      const job = toJob(upload, programSeconds());
      thumbnailQueue.push(job);
      totals.accepted++;
      return send(res, 202, { jobId: job.id, queued: thumbnailQueue.jobs.length });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/thumbnail-jobs/')) {
      const result = results.get(url.pathname.slice('/v1/thumbnail-jobs/'.length));
      return result === undefined ? send(res, 200, { state: 'queued-or-unknown' }) : send(res, 200, result);
    }
    send(res, 404, { error: 'not found' });
  } catch (error) {
    send(res, 400, { error: String(error.message ?? error) });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// --- the upload service --------------------------------------------------------------

const CAMERAS = ['Apple iPhone 14', 'Apple iPhone 15 Pro', 'Google Pixel 8', 'Samsung SM-S918B', 'Sony ILCE-7M4', 'Canon EOS R6', 'Fujifilm X-T5', null];
const SIZES = [
  [4032, 3024],
  [3024, 4032],
  [4000, 3000],
  [1920, 1080],
  [6000, 4000],
  [2048, 1536],
];
const VARIANT_SETS = [
  [
    { name: 'thumb', width: 160, height: 160, fit: 'cover' },
    { name: 'small', width: 480, height: 480, fit: 'inside' },
    { name: 'feed', width: 1080, height: 1350, fit: 'inside' },
  ],
  [
    { name: 'thumb', width: 160, height: 160, fit: 'cover' },
    { name: 'avatar', width: 320, height: 320, fit: 'cover', format: 'jpeg' },
  ],
  [
    { name: 'thumb', width: 160, height: 160, fit: 'cover' },
    { name: 'small', width: 480, height: 480, fit: 'inside' },
    { name: 'large', width: 2048, height: 2048, fit: 'inside' },
    { name: 'og', width: 1200, height: 630, fit: 'cover', format: 'jpeg' },
  ],
];

function uploadEvent() {
  const tenant = `t_${Math.floor(Math.pow(random(), 2) * 400)}`;
  const [width, height] = SIZES[Math.floor(random() * SIZES.length)];
  const camera = CAMERAS[Math.floor(random() * CAMERAS.length)];
  const id = `img_${Math.floor(random() * 2 ** 48).toString(36)}`;
  const contentType = camera?.startsWith('Apple') && random() < 0.5 ? 'image/heic' : random() < 0.85 ? 'image/jpeg' : 'image/png';
  return {
    image: {
      id,
      tenantId: tenant,
      bucket: 'photos-originals-eu-west-1',
      key: `${tenant}/${new Date().toISOString().slice(0, 10)}/${id}.${contentType.split('/')[1]}`,
      contentType,
      bytes: Math.round(width * height * (0.3 + random() * 0.5)),
      width,
      height,
      checksum: `sha256:${randomUUID().replace(/-/g, '')}${randomUUID().replace(/-/g, '')}`,
      uploadedBy: `u_${Math.floor(random() * 1e6).toString(36)}`,
      exif: camera === null ? null : { camera, orientation: random() < 0.3 ? 6 : 1, takenAt: new Date(Date.now() - random() * 3e10).toISOString(), iso: 50 * (1 + Math.floor(random() * 32)) },
    },
    variants: VARIANT_SETS[Math.floor(random() * VARIANT_SETS.length)],
    callback: { url: `https://uploads.internal.example.com/v1/images/${id}/thumbnails`, secretRef: 'thumbnailer-callback-hmac' },
    traceparent: `00-${randomUUID().replace(/-/g, '')}-${randomUUID().replace(/-/g, '').slice(0, 16)}-01`,
  };
}

selfRequests(port, {
  perSecond: UPLOADS_PER_SECOND,
  maxInFlight: 16,
  next: () => ({ method: 'POST', path: '/v1/thumbnail-jobs', headers: { 'content-type': 'application/json' }, body: JSON.stringify(uploadEvent()) }),
});

// The upload service polling results, the dashboard and the load balancer.
selfRequests(port, {
  perSecond: 0.3,
  maxInFlight: 4,
  next: () => (random() < 0.5 ? { method: 'GET', path: '/healthz' } : { method: 'GET', path: `/v1/thumbnail-jobs/thj_${randomUUID()}` }),
});

reportStats(() => ({
  retained: thumbnailQueue.jobs.length,
  oldestSeconds: Math.round(thumbnailQueue.oldestAgeSeconds(programSeconds())),
  enqueued: thumbnailQueue.enqueued,
  dequeued: thumbnailQueue.dequeued,
  rendered: totals.rendered,
  results: results.size,
}));

ready(`thumbnail-backlog-slow-consumer-leak: ${UPLOADS_PER_SECOND} uploads/s, one consumer at ~${RESIZE_MEDIAN_MS} ms median per image (ballast ${ballastMb} MB)`);
