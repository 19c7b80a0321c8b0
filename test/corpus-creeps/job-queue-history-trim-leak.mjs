// Background-job service of a shop platform: other services enqueue jobs over
// HTTP (POST /v1/jobs: transactional e-mails, image thumbnails, outgoing
// webhooks, search re-index requests) and a pool of four workers runs them.
// Finished jobs go into `queue.completedJobs`, the history behind the ops
// dashboard and GET /v1/jobs/:id, which is meant to keep one hour of
// completed jobs: trimHistory() runs every hour and drops the entries that
// finished before the cutoff.
//
// The cutoff is computed in Unix seconds (nowSeconds() - retention), but jobs
// record finishedAt in milliseconds (clockMs()), so every finishedAt is about
// a thousand times larger than the cutoff, no entry is ever "older" than it,
// and the history grows by every job the service runs, a couple of megabytes
// an hour, for as long as the process lives.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x10b0e);
const EPOCH_MS = Date.UTC(2024, 5, 3, 6, 0, 0);

function clockMs() {
  return EPOCH_MS + Math.round(programSeconds() * 1000);
}

function nowSeconds() {
  return Math.floor(clockMs() / 1000);
}

/** Production-time delay (ms) as a wall-clock promise. */
function sleep(productionMs) {
  return new Promise((resolve) => setTimeout(resolve, productionMs / speed));
}

/** Log-normal around `median` ms. */
function latency(median, sigma) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

// --- job handlers (stand-ins for the mailer, the image service, partners) ---------

const handlers = {
  async 'email.send'(payload) {
    await sleep(latency(350, 0.5));
    return { provider: 'postmark', messageId: `<${Math.floor(random() * 1e12).toString(36)}.${payload.template}@mail.shop.example>` };
  },
  async 'image.thumbnail'(payload) {
    await sleep(latency(1200, 0.6));
    return { variants: payload.sizes.map((size) => ({ size, key: `thumbs/${payload.assetId}/${size}.webp`, bytes: 4000 + Math.floor(random() * 60_000) })) };
  },
  async 'webhook.deliver'(payload) {
    await sleep(latency(600, 0.9));
    if (random() < 0.04) throw new Error(`POST ${payload.url} -> 503 Service Unavailable`);
    return { status: 200, responseMs: Math.round(latency(180, 0.6)) };
  },
  async 'search.reindex'(payload) {
    await sleep(latency(2500, 0.4));
    return { indexed: payload.productIds.length, index: 'products-v7' };
  },
};

// --- the queue ------------------------------------------------------------------------

/** What the dashboard keeps about a finished job. */
function toHistoryEntry(job, outcome, result, error, finishedAt) {
  return {
    id: job.id,
    type: job.type,
    payload: job.payload,
    outcome,
    result,
    error,
    attempts: job.attempts,
    enqueuedAt: job.enqueuedAt,
    startedAt: job.startedAt,
    finishedAt,
    durationMs: finishedAt - job.startedAt,
    worker: job.worker,
  };
}

class JobQueue {
  constructor({ concurrency, maxAttempts, historyRetentionSeconds }) {
    this.concurrency = concurrency;
    this.maxAttempts = maxAttempts;
    this.historyRetentionSeconds = historyRetentionSeconds;
    this.pending = [];
    this.running = new Map();
    /** Finished jobs, oldest first; trimmed hourly to historyRetentionSeconds. */
    this.completedJobs = [];
    this.counts = { enqueued: 0, succeeded: 0, failed: 0, retried: 0, trimmed: 0, trims: 0 };
    this.seq = 0;
  }

  enqueue(type, payload) {
    const job = { id: `job_${(++this.seq + 2_000_000).toString(36)}`, type, payload, attempts: 0, enqueuedAt: clockMs(), startedAt: 0, worker: null };
    this.pending.push(job);
    this.counts.enqueued++;
    this.pump();
    return job;
  }

  pump() {
    while (this.running.size < this.concurrency && this.pending.length > 0) {
      const job = this.pending.shift();
      job.attempts++;
      job.startedAt = clockMs();
      job.worker = `worker-${this.running.size + 1}`;
      this.running.set(job.id, job);
      this.run(job);
    }
  }

  async run(job) {
    let result = null;
    let error = null;
    try {
      result = await handlers[job.type](job.payload);
    } catch (err) {
      error = String(err.message ?? err);
    }
    this.running.delete(job.id);
    if (error !== null && job.attempts < this.maxAttempts) {
      this.counts.retried++;
      this.pending.push(job);
    } else {
      if (error === null) this.counts.succeeded++;
      else this.counts.failed++;
      this.completedJobs.push(toHistoryEntry(job, error === null ? 'succeeded' : 'failed', result, error, clockMs()));
    }
    this.pump();
  }

  /** Drops history entries that finished more than historyRetentionSeconds ago. */
  trimHistory() {
    const cutoff = nowSeconds() - this.historyRetentionSeconds;
    let drop = 0;
    while (drop < this.completedJobs.length && this.completedJobs[drop].finishedAt < cutoff) drop++;
    if (drop > 0) this.completedJobs.splice(0, drop);
    this.counts.trimmed += drop;
    this.counts.trims++;
  }

  find(id) {
    const live = this.running.get(id) ?? this.pending.find((job) => job.id === id);
    if (live !== undefined) return { state: live.startedAt > 0 ? 'running' : 'pending', id: live.id, type: live.type };
    for (let i = this.completedJobs.length - 1; i >= 0; i--) if (this.completedJobs[i].id === id) return this.completedJobs[i];
    return undefined;
  }
}

const queue = new JobQueue({ concurrency: 4, maxAttempts: 3, historyRetentionSeconds: 3600 });
every(3_600_000 / speed, () => queue.trimHistory());

// --- HTTP -------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://jobs.local');
  try {
    if (req.method === 'POST' && url.pathname === '/v1/jobs') {
      const { type, payload } = JSON.parse((await readBody(req)).toString('utf8'));
      if (handlers[type] === undefined) return sendJson(res, 400, { error: `unknown job type ${type}` });
      const job = queue.enqueue(type, payload);
      return sendJson(res, 202, { id: job.id });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/jobs/')) {
      const found = queue.find(url.pathname.slice('/v1/jobs/'.length));
      return found === undefined ? sendJson(res, 404, { error: 'no such job' }) : sendJson(res, 200, found);
    }
    if (req.method === 'GET' && url.pathname === '/v1/stats') {
      return sendJson(res, 200, { ...queue.counts, pending: queue.pending.length, running: queue.running.size, history: queue.completedJobs.length });
    }
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- producers: the other services of the platform ------------------------------------------

const TEMPLATES = ['order-confirmation', 'shipping-update', 'password-reset', 'review-request', 'invoice'];
const LOCALES = ['en-GB', 'de-DE', 'nl-NL', 'fr-FR'];
const FIRST = ['Anna', 'Lukas', 'Maria', 'Jonas', 'Sofia', 'Elias', 'Emma', 'Noah'];
const EVENTS = ['order.created', 'order.paid', 'order.shipped', 'refund.created'];
let producerSeq = 0;

function jobRequest() {
  const n = ++producerSeq;
  const roll = random();
  let type;
  let payload;
  if (roll < 0.5) {
    const name = FIRST[n % FIRST.length];
    type = 'email.send';
    payload = { to: `${name.toLowerCase()}.${n}@example.com`, template: TEMPLATES[n % TEMPLATES.length], locale: LOCALES[n % LOCALES.length], vars: { firstName: name, orderId: `ord_${(1_000_000 + n).toString(36)}`, total: `€${(10 + random() * 200).toFixed(2)}` } };
  } else if (roll < 0.75) {
    type = 'webhook.deliver';
    payload = { url: `https://partner-${n % 23}.example.net/hooks/shop`, event: EVENTS[n % EVENTS.length], subjectId: `ord_${(1_000_000 + n).toString(36)}`, signature: Math.floor(random() * 2 ** 48).toString(16) };
  } else if (roll < 0.93) {
    type = 'image.thumbnail';
    payload = { assetId: `asset_${(5_000_000 + n).toString(36)}`, sizes: [96, 320, 768] };
  } else {
    type = 'search.reindex';
    const productIds = [];
    for (let i = 0, k = 1 + Math.floor(random() * 6); i < k; i++) productIds.push(`p_${Math.floor(random() * 400_000)}`);
    payload = { productIds, reason: 'price-change' };
  }
  return { method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type, payload }) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~1.1 jobs/s from the platform's services.
const producers = selfRequests(port, { perSecond: 1.1, maxInFlight: 8, next: jobRequest });
// The ops dashboard and support: 0.15 reads/s.
const reads = selfRequests(port, {
  perSecond: 0.15,
  maxInFlight: 2,
  next: () => {
    const roll = random();
    if (roll < 0.4) return { method: 'GET', path: '/v1/stats' };
    if (roll < 0.6) return { method: 'GET', path: '/healthz' };
    const recent = queue.completedJobs.length === 0 ? 'job_0' : queue.completedJobs[Math.max(0, queue.completedJobs.length - 1 - Math.floor(random() * 200))].id;
    return { method: 'GET', path: `/v1/jobs/${recent}` };
  },
});

reportStats(() => ({
  retained: queue.completedJobs.length,
  pending: queue.pending.length,
  running: queue.running.size,
  succeeded: queue.counts.succeeded,
  failed: queue.counts.failed,
  trims: queue.counts.trims,
  trimmed: queue.counts.trimmed,
  requestsFailed: producers.failed + reads.failed,
}));

ready(
  `job-queue-history-trim-leak: job service running ~1.1 jobs/s; the hourly trimHistory compares a cutoff in seconds with finishedAt in ms, so queue.completedJobs never shrinks (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
