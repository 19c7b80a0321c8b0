// Image-processing service: tenants POST an original image to /v1/jobs, the
// service answers 202 with a job id, processes the image in the background
// (checksum, probe, resized renditions pushed to the object store) and then
// calls the tenant's completion webhook.
//
// When the webhook still fails after the inline attempts, notifyFailed() parks
// the job in the module-level Map `pendingWebhooks`, original upload included
// ("so the job can be re-run if the tenant asks for it"), for the retry sweep.
// The sweep runs, but it looks for entries with status 'failed' while
// notifyFailed() stores them as 'webhook_failed': nothing is ever retried or
// dropped. From the onset (default 70 min) one small tenant's endpoint answers
// with an expired certificate, so every one of its jobs (~4 % of the traffic,
// a handful an hour) leaves its original, a few MB of Buffer, in the Map.
import { createHash, createHmac } from 'node:crypto';
import {
  buildBallast,
  every,
  KiB,
  listen,
  MiB,
  onsetSeconds,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x1ea6e5);
const ONSET = onsetSeconds(4200);

const config = {
  maxUploadBytes: 24 * MiB,
  webhookAttempts: 3,
  retrySweepSeconds: 300,
  recentJobs: 300,
  renditions: [
    { name: 'large', maxEdge: 2048, quality: 82 },
    { name: 'medium', maxEdge: 1024, quality: 80 },
    { name: 'thumb', maxEdge: 256, quality: 70 },
  ],
};

// --- tenants ---------------------------------------------------------------

const TENANT_NAMES = [
  'northwind-shop', 'fabrikam-media', 'contoso-realty', 'adatum-news', 'litware-books', 'tailspin-travel',
  'wingtip-toys', 'proseware-blog', 'fourth-coffee', 'alpine-ski', 'margie-travel', 'woodgrove-bank',
  'coho-winery', 'lucerne-pub', 'humongous-ins', 'blue-yonder', 'trey-research', 'studio-lumen',
];
// Relative job volume per tenant; studio-lumen is a small photo studio (~4 %).
const TENANT_WEIGHTS = [14, 11, 10, 9, 8, 8, 7, 6, 5, 5, 4, 3, 3, 2, 2, 1, 1, 4.2];

const tenants = new Map(
  TENANT_NAMES.map((name, i) => [
    name,
    {
      name,
      callbackUrl: `https://${name}.example.com/hooks/image-jobs`,
      secret: createHash('sha256').update(`whsec:${name}`).digest('hex'),
      weight: TENANT_WEIGHTS[i],
      jobs: 0,
    },
  ]),
);
const weightTotal = TENANT_WEIGHTS.reduce((a, b) => a + b, 0);

function pickTenant() {
  let r = random() * weightTotal;
  for (const tenant of tenants.values()) {
    r -= tenant.weight;
    if (r <= 0) return tenant;
  }
  return tenants.get(TENANT_NAMES[0]);
}

// --- stand-ins for other systems ----------------------------------------------

/** Object store: keeps nothing, counts what it was given. */
const objectStore = {
  objects: 0,
  bytes: 0,
  put(key, body) {
    this.objects++;
    this.bytes += body.length;
    return new Promise((resolve) => setTimeout(() => resolve({ key, etag: String(body.length) }), 1 + random() * 3));
  },
};

/** The tenants' webhook endpoints, with a few ms of real latency. */
const webhookEndpoints = {
  calls: 0,
  post(tenant, payload) {
    this.calls++;
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        if (tenant.name === 'studio-lumen' && programSeconds() >= ONSET) {
          // Their certificate expired; every TLS handshake fails from now on.
          return reject(Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }));
        }
        if (random() < 0.01) return resolve({ status: 503 }); // transient, absorbed by the inline attempts
        resolve({ status: 200 });
      }, 2 + random() * 6);
    });
  },
};

// --- jobs ----------------------------------------------------------------------

/** Jobs whose completion webhook failed, kept with their original for the retry sweep. */
const pendingWebhooks = new Map();
let pendingBytes = 0;

const recentJobs = new Map(); // jobId -> summary (no image data)
const counters = { accepted: 0, processed: 0, rejected: 0, webhooksOk: 0, webhooksFailed: 0, retried: 0, inFlight: 0, bytesIn: 0 };
let jobSeq = 0;

function remember(job) {
  recentJobs.set(job.id, { id: job.id, tenant: job.tenant.name, status: job.status, bytes: job.original.length, renditions: job.renditions.length });
  if (recentJobs.size > config.recentJobs) recentJobs.delete(recentJobs.keys().next().value);
}

/** Reads the whole upload into one Buffer (the original image). */
function readUpload(req, limit) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let length = 0;
    req.on('data', (part) => {
      length += part.length;
      if (length <= limit) parts.push(part);
    });
    req.on('end', () => (length > limit ? reject(new Error('upload too large')) : resolve(Buffer.concat(parts, length))));
    req.on('error', reject);
  });
}

/** Reads the dimensions from our fake container header ("IMG1", width, height, format). */
function probe(original) {
  if (original.length < 16 || original.toString('latin1', 0, 4) !== 'IMG1') return null;
  return { width: original.readUInt32BE(4), height: original.readUInt32BE(8), format: original.toString('latin1', 12, 16).trim() };
}

/** Encodes one rendition: a sampled copy sized like a JPEG of that edge length. */
function encodeRendition(original, info, spec) {
  const scale = Math.min(1, spec.maxEdge / Math.max(info.width, info.height));
  const pixels = Math.round(info.width * scale) * Math.round(info.height * scale);
  const size = Math.max(2 * KiB, Math.round(pixels * 0.18 * (spec.quality / 80)));
  const out = Buffer.allocUnsafe(size);
  const stride = Math.max(512, Math.floor(original.length / Math.ceil(size / 512)));
  for (let i = 0, from = 16; i < size; i += 512, from += stride) {
    const at = 16 + (from % (original.length - 528));
    original.copy(out, i, at, at + Math.min(512, size - i));
  }
  return out;
}

async function processImage(job) {
  const info = probe(job.original);
  if (info === null) throw new Error('unsupported image');
  job.info = info;
  job.sha256 = createHash('sha256').update(job.original).digest('hex');
  for (const spec of config.renditions) {
    const body = encodeRendition(job.original, info, spec);
    const stored = await objectStore.put(`${job.tenant.name}/${job.id}/${spec.name}.jpg`, body);
    job.renditions.push({ name: spec.name, key: stored.key, bytes: body.length });
  }
}

function webhookPayload(job) {
  return JSON.stringify({
    type: 'image.job.completed',
    jobId: job.id,
    status: job.status,
    sha256: job.sha256,
    width: job.info?.width,
    height: job.info?.height,
    renditions: job.renditions,
    completedAt: new Date(1_700_000_000_000 + programSeconds() * 1000).toISOString(),
  });
}

async function notify(job) {
  const payload = webhookPayload(job);
  const signature = createHmac('sha256', job.tenant.secret).update(payload).digest('hex');
  let lastError = null;
  for (let attempt = 1; attempt <= config.webhookAttempts; attempt++) {
    try {
      const response = await webhookEndpoints.post(job.tenant, payload, signature);
      if (response.status < 300) return null;
      lastError = `HTTP ${response.status}`;
    } catch (error) {
      lastError = `${error.code ?? 'EUNKNOWN'}: ${error.message}`;
    }
  }
  return lastError;
}

/** Parks a job whose webhook could not be delivered, for the retry sweep. */
function notifyFailed(job, lastError) {
  pendingWebhooks.set(job.id, {
    jobId: job.id,
    tenant: job.tenant.name,
    callbackUrl: job.tenant.callbackUrl,
    original: job.original, // kept so the job can be re-run on request
    result: { sha256: job.sha256, renditions: job.renditions },
    attempts: config.webhookAttempts,
    lastError,
    status: 'webhook_failed',
    failedAt: programSeconds(),
  });
  pendingBytes += job.original.length;
}

/** Retries parked webhooks with backoff; drops them after a day. */
async function retrySweep() {
  const now = programSeconds();
  for (const [jobId, entry] of pendingWebhooks) {
    if (entry.status !== 'failed') continue;
    if (now - entry.failedAt > 86_400) {
      pendingWebhooks.delete(jobId);
      pendingBytes -= entry.original.length;
      continue;
    }
    counters.retried++;
    const tenant = tenants.get(entry.tenant);
    const error = await notify({ id: jobId, tenant, status: 'completed', sha256: entry.result.sha256, renditions: entry.result.renditions });
    if (error === null) {
      pendingWebhooks.delete(jobId);
      pendingBytes -= entry.original.length;
    } else {
      entry.attempts += config.webhookAttempts;
      entry.lastError = error;
    }
  }
}

async function runJob(job) {
  counters.inFlight++;
  try {
    await processImage(job);
    job.status = 'completed';
    counters.processed++;
  } catch (error) {
    job.status = 'failed';
    job.error = error.message;
  }
  const lastError = await notify(job);
  if (lastError === null) counters.webhooksOk++;
  else {
    counters.webhooksFailed++;
    notifyFailed(job, lastError);
  }
  remember(job);
  counters.inFlight--;
}

// --- HTTP ---------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://images.internal');
  try {
    if (req.method === 'POST' && url.pathname === '/v1/jobs') {
      const tenant = tenants.get(url.searchParams.get('tenant') ?? '');
      if (tenant === undefined) return sendJson(res, 403, { error: 'unknown tenant' });
      const original = await readUpload(req, config.maxUploadBytes);
      counters.bytesIn += original.length;
      if (probe(original) === null) {
        counters.rejected++;
        return sendJson(res, 415, { error: 'unsupported image' });
      }
      jobSeq++;
      const job = { id: `job_${jobSeq.toString(36)}_${Math.floor(random() * 1e8).toString(36)}`, tenant, original, status: 'queued', renditions: [], info: null, sha256: null };
      tenant.jobs++;
      counters.accepted++;
      sendJson(res, 202, { jobId: job.id, status: 'queued' });
      void runJob(job);
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/jobs/')) {
      const summary = recentJobs.get(url.pathname.slice('/v1/jobs/'.length));
      return summary === undefined ? sendJson(res, 404, { error: 'unknown job' }) : sendJson(res, 200, summary);
    }
    if (req.method === 'GET' && url.pathname === '/healthz') {
      return sendJson(res, 200, { ok: true, inFlight: counters.inFlight, pendingWebhooks: pendingWebhooks.size });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- tenants' uploaders (the load) ---------------------------------------------

/** A handful of sample originals (1.5-6 MB) the load generator uploads. */
function sampleImage(width, height, format, bytes, seed) {
  const image = Buffer.allocUnsafe(bytes);
  image.write('IMG1', 0, 'latin1');
  image.writeUInt32BE(width, 4);
  image.writeUInt32BE(height, 8);
  image.write(format.padEnd(4), 12, 'latin1');
  image.fill(createHash('sha256').update(String(seed)).digest(), 16);
  return image;
}

const SAMPLES = [
  sampleImage(3000, 2000, 'jpg', 1_650_000, 1),
  sampleImage(4032, 3024, 'jpg', 2_300_000, 2),
  sampleImage(4000, 3000, 'heic', 2_900_000, 3),
  sampleImage(5472, 3648, 'jpg', 3_700_000, 4),
  sampleImage(6000, 4000, 'jpg', 4_600_000, 5),
  sampleImage(6048, 4024, 'png', 5_900_000, 6),
];

const recentIds = [];

const ballastMb = buildBallast();
const { port } = await listen(handler);
every(Math.max(50, (config.retrySweepSeconds * 1000) / speed), () => void retrySweep());

// ~120 jobs an hour across the tenants, plus status reads and health checks.
const uploaders = selfRequests(port, {
  perSecond: 120 / 3600,
  maxInFlight: 8,
  next: () => ({
    method: 'POST',
    path: `/v1/jobs?tenant=${pickTenant().name}`,
    headers: { 'content-type': 'application/octet-stream' },
    body: SAMPLES[Math.floor(random() * SAMPLES.length)],
  }),
  onResponse: (status, text) => {
    if (status !== 202) return;
    recentIds.push(JSON.parse(text).jobId);
    if (recentIds.length > 50) recentIds.shift();
  },
});
const readers = selfRequests(port, {
  perSecond: 0.25,
  maxInFlight: 4,
  next: () =>
    recentIds.length === 0 || random() < 0.3
      ? { method: 'GET', path: '/healthz' }
      : { method: 'GET', path: `/v1/jobs/${recentIds[Math.floor(random() * recentIds.length)]}` },
});

reportStats(() => ({
  retained: pendingWebhooks.size,
  pendingBytes,
  accepted: counters.accepted,
  processed: counters.processed,
  webhooksFailed: counters.webhooksFailed,
  inFlight: counters.inFlight,
  requestsFailed: uploaders.failed + readers.failed,
}));

ready(
  `image-job-webhook-retry-leak: ~120 image jobs/h; from ${ONSET} s one tenant's webhook fails and each of its jobs leaves its original upload in pendingWebhooks (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
