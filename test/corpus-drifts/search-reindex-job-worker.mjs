// Job worker of a shop platform's search indexing: the catalogue, pricing
// and stock services enqueue reindex jobs (POST /v1/jobs, a small batch per
// call) whenever a product changes. Each job waits out a coalescing window
// (2-8 min, so that a burst of edits to one product is indexed once) in the
// in-memory queue of class JobQueue (a binary heap on runAt, module-level
// `queue`), then the worker pool (8 slots) takes it and sends the document to
// the search cluster (a stand-in with ~150 ms of production-time latency);
// ~1 % fail and are requeued with a 60 s backoff, and a finished job leaves
// only a line in a ring of the last 500 results.
//
// The producers' rate drifts over the hours (merchants' bulk edits, price
// runs, stock feeds): an Ornstein-Uhlenbeck walk in log terms around
// 3 jobs/s (sd ~0.45, time constant 1 h). The worker keeps up: it could do
// ~50 jobs/s, so the queue is what sits in the coalescing window, i.e. a few
// hundred to a few thousand jobs following the producers' rate, with no
// trend. Healthy.
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

const random = rng(0x10b5);

function gaussian() {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

// --- the queue -------------------------------------------------------------------------------

class JobQueue {
  constructor() {
    this.heap = [];
    this.enqueued = 0;
  }

  get size() {
    return this.heap.length;
  }

  push(job) {
    const heap = this.heap;
    heap.push(job);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].runAt <= heap[i].runAt) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
    this.enqueued++;
  }

  /** The earliest job if it is due, removed from the queue; otherwise null. */
  popDue(now) {
    const heap = this.heap;
    if (heap.length === 0 || heap[0].runAt > now) return null;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l].runAt < heap[m].runAt) m = l;
        if (r < heap.length && heap[r].runAt < heap[m].runAt) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i], heap[m]];
        i = m;
      }
    }
    return top;
  }
}

const queue = new JobQueue();
let jobSeq = 0;

function makeJob(spec, now) {
  return {
    id: `job_${(++jobSeq).toString(36)}`,
    type: spec.type,
    tenant: spec.tenant,
    productId: spec.productId,
    fields: spec.fields,
    reason: spec.reason,
    payload: spec.payload,
    enqueuedAt: now,
    runAt: now + spec.delaySeconds,
    attempts: 0,
  };
}

// --- the search cluster stand-in ---------------------------------------------------------------

const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});

function indexDocument(job) {
  const document = {
    id: `${job.tenant}:${job.productId}`,
    tenant: job.tenant,
    title: job.payload.title,
    brand: job.payload.brand,
    priceCents: job.payload.priceCents,
    inStock: job.payload.stock > 0,
    facets: job.payload.facets,
    updatedFields: job.fields,
  };
  const body = JSON.stringify(document);
  const latencyMs = 80 + random() * 140;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      if (random() < 0.01) reject(new Error('search cluster: 429 too many requests'));
      else resolve(body.length);
    }, latencyMs / speed);
    pendingTimers.add(timer);
  });
}

// --- the worker pool --------------------------------------------------------------------------

const SLOTS = 8;
const worker = { busy: 0, done: 0, failed: 0, retried: 0, bytesIndexed: 0 };
const recentResults = [];

function recordResult(job, ok, now) {
  recentResults.push({ id: job.id, productId: job.productId, ok, waitedS: Math.round(now - job.enqueuedAt), attempts: job.attempts });
  if (recentResults.length > 500) recentResults.shift();
}

function runJob(job) {
  worker.busy++;
  job.attempts++;
  indexDocument(job).then(
    (bytes) => {
      worker.busy--;
      worker.done++;
      worker.bytesIndexed += bytes;
      recordResult(job, true, programSeconds());
      pump();
    },
    () => {
      worker.busy--;
      const now = programSeconds();
      if (job.attempts < 5) {
        worker.retried++;
        job.runAt = now + 60 * job.attempts;
        queue.push(job);
      } else {
        worker.failed++;
        recordResult(job, false, now);
      }
      pump();
    },
  );
}

function pump() {
  const now = programSeconds();
  while (worker.busy < SLOTS) {
    const job = queue.popDue(now);
    if (job === null) return;
    runJob(job);
  }
}

// --- HTTP -------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://indexer.local');
  try {
    if (req.method === 'POST' && url.pathname === '/v1/jobs') {
      const { jobs } = JSON.parse((await readBody(req)).toString('utf8'));
      const now = programSeconds();
      for (const spec of jobs) queue.push(makeJob(spec, now));
      return sendJson(res, 202, { accepted: jobs.length, queued: queue.size });
    }
    if (req.method === 'GET' && url.pathname === '/v1/queue') {
      return sendJson(res, 200, { queued: queue.size, busy: worker.busy, done: worker.done, failed: worker.failed, recent: recentResults.slice(-20) });
    }
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- the producers (the load) --------------------------------------------------------------------

const TENANTS = Array.from({ length: 30 }, (_, i) => `shop-${(0x3a0 + i * 13).toString(16)}`);
const BRANDS = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell'];
const REASONS = ['catalogue-edit', 'price-change', 'stock-feed', 'stock-feed', 'price-change', 'media-update'];
const FIELDS = { 'catalogue-edit': ['title', 'description', 'attributes'], 'price-change': ['priceCents'], 'stock-feed': ['stock'], 'media-update': ['images'] };

/** Producers' rate in jobs/s: OU walk in log terms around 3/s, sd ~0.45, tau 1 h. */
const producers = { x: 0, rate: 3, lastT: 0 };
function stepProducers() {
  const now = programSeconds();
  const dt = Math.max(0, now - producers.lastT);
  producers.lastT = now;
  const tau = 3600;
  producers.x += (-producers.x * dt) / tau + 0.45 * Math.sqrt((2 * dt) / tau) * gaussian();
  producers.rate = 3 * Math.exp(producers.x);
}

function jobSpec() {
  const reason = REASONS[Math.floor(random() * REASONS.length)];
  const n = Math.floor(random() * 400_000);
  return {
    type: 'reindex-product',
    tenant: TENANTS[Math.floor(random() ** 2 * TENANTS.length)],
    productId: `p_${n.toString(36)}`,
    fields: FIELDS[reason],
    reason,
    delaySeconds: 120 + Math.floor(random() * 360),
    payload: {
      title: `${BRANDS[n % BRANDS.length]} item model ${n}`,
      brand: BRANDS[n % BRANDS.length],
      priceCents: 499 + (n % 50_000),
      stock: n % 7 === 0 ? 0 : n % 300,
      facets: { color: ['red', 'blue', 'black', 'white'][n % 4], size: `S${n % 12}`, category: `cat-${n % 64}` },
    },
  };
}

const JOBS_PER_CALL = 4; // mean batch size (1-7)

const ballastMb = buildBallast();
const { port } = await listen(handler);

const producerCalls = selfRequests(port, {
  perSecond: () => producers.rate / JOBS_PER_CALL,
  maxInFlight: 16,
  next: () => {
    const count = 1 + Math.floor(random() * 7);
    const jobs = Array.from({ length: count }, jobSpec);
    return { method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jobs }) };
  },
});
const monitoring = selfRequests(port, {
  perSecond: 0.2,
  maxInFlight: 2,
  next: () => ({ method: 'GET', path: random() < 0.5 ? '/v1/queue' : '/healthz' }),
});

every(1000 / speed, pump);
every(10_000 / speed, stepProducers);

reportStats(() => ({
  retained: queue.size,
  producerRate: Math.round(producers.rate * 100) / 100,
  busy: worker.busy,
  enqueued: queue.enqueued,
  done: worker.done,
  retried: worker.retried,
  failed: worker.failed,
  requestsFailed: producerCalls.failed + monitoring.failed,
}));

ready(
  `search-reindex-job-worker: producers' rate drifts around 3 jobs/s, each job waits 2-8 min in the queue then is indexed; the queue floats with the rate (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
