// Job runner of a multi-tenant analytics platform. Tenants' scheduled jobs
// (exports, usage roll-ups, re-indexing, invoice runs) arrive as
// POST /v1/jobs from the platform's scheduler, a few an hour. Each job runs
// isolated in its own worker_threads Worker built from the tenant's job-type
// script: the runner posts the job to it, the worker works through the
// tenant's records in batches and posts the result back.
//
// THE BUG: the worker script was written to be reusable (it keeps listening
// on parentPort for the next job), and the runner only forgets a worker on
// its 'exit' event. When a job finishes, the runner records the result and
// marks the worker idle, but nothing ever calls worker.terminate(), so the
// worker never exits and stays in `jobWorkers` for good. Every finished job
// leaves a whole idle V8 isolate (its own heap, threads and code) behind in
// the process: RSS grows by several MB per job while the main thread's JS
// heap barely moves.
import { Worker } from 'node:worker_threads';
import {
  buildBallast,
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

const random = rng(0x70b5);

const TENANTS = ['northwind', 'contoso', 'fabrikam', 'tailspin', 'wingtip', 'adatum', 'litware', 'proseware', 'lucerne', 'margie', 'fourth-coffee', 'woodgrove'];
const JOB_TYPES = ['usage-rollup', 'csv-export', 'search-reindex', 'invoice-run', 'churn-scores'];

// --- the job-type script every job worker runs ---------------------------------------------
// CommonJS, evaluated in the worker. It processes a job in batches (each batch
// "fetched" with a little production-time latency) and stays ready for the next job.
const JOB_WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const speed = workerData.speed;
const sleep = (productionMs) => new Promise((resolve) => setTimeout(resolve, productionMs / speed));

function record(job, i) {
  const n = (job.seed * 2654435761 + i * 40503) >>> 0;
  return { id: job.tenant + '-' + i, account: 'acc_' + (n % 5000), amount: (n % 100000) / 100, kind: ['click', 'view', 'order', 'refund'][n % 4], region: ['eu', 'us', 'apac'][n % 3] };
}

async function runJob(job) {
  const totals = new Map();
  let processed = 0;
  for (let batch = 0; batch < job.batches; batch++) {
    await sleep(job.batchMs);
    for (let i = 0; i < job.batchSize; i++) {
      const r = record(job, batch * job.batchSize + i);
      const key = r.region + ':' + r.kind;
      const t = totals.get(key) ?? { count: 0, amount: 0, accounts: new Set() };
      t.count++;
      t.amount += r.amount;
      t.accounts.add(r.account);
      processed++;
    }
  }
  const summary = [];
  for (const [key, t] of totals) summary.push({ key, count: t.count, amount: Math.round(t.amount * 100) / 100, accounts: t.accounts.size });
  return { processed, summary };
}

parentPort.on('message', async (job) => {
  try {
    parentPort.postMessage({ jobId: job.id, ok: true, result: await runJob(job) });
  } catch (error) {
    parentPort.postMessage({ jobId: job.id, ok: false, error: String(error) });
  }
});
`;

// --- runner -----------------------------------------------------------------------------------

/** Workers by job id; an entry is removed when its worker exits. */
const jobWorkers = new Map();
/** Finished jobs (the last 200) for the status API. */
const history = [];
const counters = { submitted: 0, finished: 0, failed: 0, workersStarted: 0, workersExited: 0 };

function startJobWorker(job) {
  const worker = new Worker(JOB_WORKER_SOURCE, {
    eval: true,
    name: `job-${job.tenant}-${job.type}`,
    workerData: { tenant: job.tenant, type: job.type, speed },
  });
  counters.workersStarted++;
  const entry = { jobId: job.id, tenant: job.tenant, jobType: job.type, worker, state: 'running', startedAt: programSeconds(), finishedAt: null };
  jobWorkers.set(job.id, entry);
  worker.on('message', (message) => onJobResult(entry, message));
  worker.on('error', (error) => {
    entry.state = 'failed';
    counters.failed++;
    history.push({ jobId: job.id, tenant: job.tenant, type: job.type, ok: false, error: String(error) });
  });
  worker.on('exit', () => {
    counters.workersExited++;
    jobWorkers.delete(job.id);
  });
  return entry;
}

function onJobResult(entry, message) {
  entry.state = 'idle'; // done; the worker stays up waiting for a next job that never comes
  entry.finishedAt = programSeconds();
  counters.finished++;
  history.push({ jobId: entry.jobId, tenant: entry.tenant, type: entry.jobType, ok: message.ok, processed: message.result?.processed ?? 0, seconds: Math.round(entry.finishedAt - entry.startedAt) });
  if (history.length > 200) history.shift();
}

function submitJob(spec) {
  counters.submitted++;
  const job = {
    id: `job_${counters.submitted.toString(36)}_${spec.tenant}`,
    tenant: spec.tenant,
    type: spec.type,
    seed: counters.submitted,
    batches: 20 + Math.floor(random() * 40),
    batchSize: 2000,
    batchMs: 3000 + Math.floor(random() * 5000),
  };
  const entry = startJobWorker(job);
  entry.worker.postMessage(job);
  return job;
}

function workerStates() {
  let running = 0;
  let idle = 0;
  for (const entry of jobWorkers.values()) {
    if (entry.state === 'running') running++;
    else idle++;
  }
  return { running, idle };
}

// --- HTTP -------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://jobs.local');
  if (req.method === 'POST' && url.pathname === '/v1/jobs') {
    const spec = JSON.parse((await readBody(req)).toString('utf8'));
    if (!TENANTS.includes(spec.tenant) || !JOB_TYPES.includes(spec.type)) return sendJson(res, 400, { error: 'unknown tenant or job type' });
    const job = submitJob(spec);
    return sendJson(res, 202, { id: job.id });
  }
  if (url.pathname === '/v1/jobs') return sendJson(res, 200, { ...workerStates(), recent: history.slice(-20) });
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
  sendJson(res, 404, { error: 'not found' });
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// The platform scheduler: ~2.5 tenant jobs per hour at speed 1.
const scheduler = selfRequests(port, {
  perSecond: 2.5 / 3600,
  maxInFlight: 2,
  next: () => ({
    method: 'POST',
    path: '/v1/jobs',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: TENANTS[Math.floor(random() * TENANTS.length)], type: JOB_TYPES[Math.floor(random() * JOB_TYPES.length)] }),
  }),
});
// Dashboards and health checks: 0.3 req/s.
const readers = selfRequests(port, {
  perSecond: 0.3,
  maxInFlight: 4,
  next: () => ({ method: 'GET', path: random() < 0.5 ? '/v1/jobs' : '/healthz' }),
});

onShutdown(() => {
  for (const entry of jobWorkers.values()) entry.worker.terminate();
});

reportStats(() => ({
  retained: jobWorkers.size,
  ...workerStates(),
  jobsSubmitted: counters.submitted,
  jobsFinished: counters.finished,
  workersStarted: counters.workersStarted,
  workersExited: counters.workersExited,
  requestsFailed: scheduler.failed + readers.failed,
}));

ready(`tenant-job-runner-idle-workers-leak: ~2.5 tenant jobs/h, one Worker each, finished workers never terminated (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
