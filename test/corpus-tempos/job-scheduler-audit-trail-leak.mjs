// Background-job scheduler of a SaaS back office. Other services enqueue jobs
// over HTTP (POST /v1/jobs: invoice PDFs, e-mail digests, CSV exports,
// thumbnail batches, webhooks replays) and poll their status (GET /v1/jobs/:id);
// a pool of 16 workers runs them (each takes 0.5-30 s of production time).
//
// The bug: when a job finishes, buildResult() makes its result record, which
// goes into the bounded `recentJobs` map for status polls (fine) and is also
// pushed onto the module-level array `auditTrail`, "kept for the audit page".
// The audit page was never built: nothing reads auditTrail and nothing trims
// it. ~1.8 jobs/s are enqueued, so it gains ~6 500 records an hour.
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

const random = rng(0x10b5);

const WORKERS = 16;
const RECENT_LIMIT = 2000;

/** Every finished job's result, for the audit page (never read, never trimmed). */
const auditTrail = [];
/** Job id -> job or result, newest last, for status polls; trimmed to RECENT_LIMIT. */
const recentJobs = new Map();
const queue = [];
/** Wake-ups of idle workers, called when a job is queued. */
const idleWorkers = [];
const counters = { enqueued: 0, started: 0, succeeded: 0, failed: 0, retried: 0, busy: 0 };

let jobSeq = 0;

const sleepProduction = (seconds) => new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / speed));

function lognormal(median, sigma) {
  const u = Math.max(random(), 1e-9);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

// --- job handlers (the work itself happens in other systems; these wait and report) --------

const HANDLERS = {
  'invoice-pdf': async (params) => {
    await sleepProduction(Math.min(30, lognormal(2.5, 0.6)));
    const pages = 1 + (params.lines >> 4);
    return { pages, bytes: 28_000 + pages * 11_500, storageKey: `invoices/${params.tenant}/${params.invoiceId}.pdf` };
  },
  'email-digest': async (params) => {
    await sleepProduction(Math.min(30, lognormal(4, 0.7)));
    return { recipients: params.recipients, sent: params.recipients - (random() < 0.1 ? 1 : 0), template: `digest-${params.frequency}` };
  },
  'csv-export': async (params) => {
    await sleepProduction(Math.min(30, lognormal(8, 0.8)));
    return { rows: params.estimatedRows, bytes: params.estimatedRows * 140, url: `https://exports.example/${params.tenant}/${params.exportId}.csv` };
  },
  thumbnails: async (params) => {
    await sleepProduction(Math.min(30, lognormal(1.5, 0.5)));
    return { images: params.images, generated: params.images * 3, sizes: ['160x160', '480x480', '1200x1200'] };
  },
  'webhook-replay': async (params) => {
    await sleepProduction(Math.min(30, lognormal(1, 0.9)));
    return { deliveries: params.count, httpStatus: random() < 0.97 ? 200 : 502, endpoint: params.endpoint };
  },
};

function buildResult(job, output, error, now) {
  return {
    jobId: job.id,
    type: job.type,
    tenant: job.tenant,
    status: error === null ? 'succeeded' : 'failed',
    attempts: job.attempts,
    queuedAt: job.queuedAt,
    startedAt: job.startedAt,
    finishedAt: now,
    durationMs: Math.round((now - job.startedAt) * 1000),
    worker: job.worker,
    params: job.params,
    output,
    error,
  };
}

function remember(id, record) {
  recentJobs.delete(id);
  recentJobs.set(id, record);
  if (recentJobs.size > RECENT_LIMIT) recentJobs.delete(recentJobs.keys().next().value);
}

async function runJob(job, worker) {
  job.attempts++;
  job.startedAt = programSeconds();
  job.worker = worker;
  job.state = 'running';
  counters.started++;
  let output = null;
  let error = null;
  try {
    output = await HANDLERS[job.type](job.params);
    if (random() < 0.012) throw new Error(`${job.type}: downstream returned 503`);
  } catch (err) {
    error = err.message;
  }
  if (error !== null && job.attempts < 3) {
    counters.retried++;
    job.state = 'queued';
    queue.push(job);
    idleWorkers.shift()?.();
    return;
  }
  const result = buildResult(job, output, error, programSeconds());
  if (error === null) counters.succeeded++;
  else counters.failed++;
  remember(job.id, result);
  auditTrail.push(result);
}

async function worker(name) {
  for (;;) {
    const job = queue.shift();
    if (job === undefined) {
      await new Promise((resolve) => idleWorkers.push(resolve));
      continue;
    }
    counters.busy++;
    await runJob(job, name);
    counters.busy--;
  }
}

function enqueue(type, tenant, params) {
  const job = { id: `job_${(++jobSeq).toString(36)}_${tenant}`, type, tenant, params, state: 'queued', attempts: 0, queuedAt: programSeconds(), startedAt: null, worker: null };
  queue.push(job);
  idleWorkers.shift()?.();
  remember(job.id, job);
  counters.enqueued++;
  return job;
}

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://scheduler.local');
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, queued: queue.length, busy: counters.busy });
  if (req.method === 'POST' && url.pathname === '/v1/jobs') {
    const { type, tenant, params } = JSON.parse((await readBody(req)).toString('utf8'));
    if (!(type in HANDLERS)) return sendJson(res, 400, { error: `unknown job type ${type}` });
    const job = enqueue(type, tenant, params);
    return sendJson(res, 202, { id: job.id, state: job.state });
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/jobs/')) {
    const record = recentJobs.get(url.pathname.slice('/v1/jobs/'.length));
    if (record === undefined) return sendJson(res, 404, { error: 'unknown or expired job' });
    return sendJson(res, 200, { id: record.jobId ?? record.id, state: record.status ?? record.state, output: record.output ?? null });
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: the services that enqueue and poll ---------------------------------------------

const TENANTS = [];
for (let i = 0; i < 120; i++) TENANTS.push(`t${(i * 2654435761 >>> 0).toString(36).slice(0, 6)}`);
const TYPES = ['invoice-pdf', 'invoice-pdf', 'invoice-pdf', 'email-digest', 'email-digest', 'csv-export', 'thumbnails', 'thumbnails', 'webhook-replay'];
const submitted = [];
let clientSeq = 0;

function jobParams(type, tenant) {
  const n = ++clientSeq;
  switch (type) {
    case 'invoice-pdf':
      return { tenant, invoiceId: `INV-${2024_000000 + n}`, lines: 1 + Math.floor(random() * 40), locale: random() < 0.7 ? 'de-DE' : 'en-GB' };
    case 'email-digest':
      return { tenant, frequency: random() < 0.8 ? 'daily' : 'weekly', recipients: 1 + Math.floor(random() * 25) };
    case 'csv-export':
      return { tenant, exportId: `exp-${n.toString(36)}`, report: 'transactions', estimatedRows: 500 + Math.floor(random() * 50_000), filters: { from: '2024-01-01', to: '2024-03-31' } };
    case 'thumbnails':
      return { tenant, batchId: `img-${n.toString(36)}`, images: 1 + Math.floor(random() * 12) };
    default:
      return { tenant, endpoint: `https://hooks.${tenant}.example/events`, count: 1 + Math.floor(random() * 20) };
  }
}

function enqueueRequest() {
  const type = TYPES[Math.floor(random() * TYPES.length)];
  const tenant = TENANTS[Math.floor(random() ** 2 * TENANTS.length)];
  return { method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type, tenant, params: jobParams(type, tenant) }) };
}

function pollRequest() {
  if (random() < 0.1 || submitted.length === 0) return { method: 'GET', path: '/healthz' };
  return { method: 'GET', path: `/v1/jobs/${submitted[Math.floor(random() * submitted.length)]}` };
}

function onEnqueued(status, text) {
  if (status !== 202) return;
  submitted.push(JSON.parse(text).id);
  if (submitted.length > 200) submitted.shift();
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
for (let i = 0; i < WORKERS; i++) worker(`worker-${i + 1}`);

const producers = selfRequests(port, { perSecond: 1.8, maxInFlight: 8, next: enqueueRequest, onResponse: onEnqueued });
const pollers = selfRequests(port, { perSecond: 0.8, maxInFlight: 8, next: pollRequest });

reportStats(() => ({
  retained: auditTrail.length,
  queued: queue.length,
  busy: counters.busy,
  enqueued: counters.enqueued,
  succeeded: counters.succeeded,
  failed: counters.failed,
  retried: counters.retried,
  recent: recentJobs.size,
  requestsFailed: producers.failed + pollers.failed,
}));

ready(
  `job-scheduler-audit-trail-leak: job scheduler, 1.8 jobs/s, 16 workers, every finished job's result pushed onto the module-level array auditTrail, never read or trimmed (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
