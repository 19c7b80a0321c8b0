// Background job runner of a document platform: clients submit jobs
// (POST /v1/jobs: PDF renders, CSV exports, thumbnail sets, e-mail digests),
// a worker pool of 16 runs them (a few seconds to a minute of production
// time each), and the result of every finished job is pushed onto the
// module-level array `recentResults`, which backs the operators' "recent
// results" page (GET /v1/results/recent shows the last 50). Nobody trims
// the array: the page only ever slices its tail, so every job result since
// startup stays in memory. Job state for polling (`jobs`) is cleaned up
// after 15 minutes, as intended.
//
// Traffic: 0.6 jobs/s submitted, 0.5 req/s of status polls, the recent page
// and health checks.
import { buildBallast, every, listen, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0x10b5);

const JOB_TYPES = {
  'pdf-render': { minS: 4, maxS: 40 },
  'csv-export': { minS: 10, maxS: 90 },
  thumbnails: { minS: 2, maxS: 15 },
  'email-digest': { minS: 1, maxS: 8 },
};

/** Every finished job's result, for the "recent results" page. */
const recentResults = [];
const jobs = new Map(); // id -> job, while queued/running and 15 min after
const queue = [];
const WORKERS = 16;
const counters = { submitted: 0, started: 0, finished: 0, failed: 0, running: 0 };

/** The result record kept for a finished job. */
function toResult(job, output, error) {
  const finishedAt = programSeconds();
  return {
    jobId: job.id,
    type: job.type,
    tenant: job.tenant,
    submittedBy: job.submittedBy,
    status: error === undefined ? 'succeeded' : 'failed',
    queuedMs: Math.round((job.startedAt - job.submittedAt) * 1000),
    runMs: Math.round((finishedAt - job.startedAt) * 1000),
    finishedAt: new Date(1_717_000_000_000 + finishedAt * 1000).toISOString(),
    output,
    error: error === undefined ? null : { code: error.code, message: error.message },
    log: job.log,
  };
}

function produceOutput(job) {
  const p = job.params;
  switch (job.type) {
    case 'pdf-render':
      return { url: `https://files.docs.example/${job.tenant}/${job.id}.pdf`, pages: 1 + (p.sections * 3), bytes: 40_000 + p.sections * 52_000, template: p.template };
    case 'csv-export':
      return { url: `https://files.docs.example/${job.tenant}/${job.id}.csv`, rows: p.rows, columns: p.columns, bytes: p.rows * p.columns.length * 9 };
    case 'thumbnails':
      return { images: p.sizes.map((size) => ({ size, url: `https://cdn.docs.example/${job.tenant}/${job.id}/${size}.webp` })) };
    default:
      return { recipients: p.recipients, sent: p.recipients - (p.recipients % 17 === 0 ? 1 : 0), messageIds: [`<${job.id}.1@mail.docs.example>`] };
  }
}

function finishJob(job) {
  job.log.push(`${new Date(1_717_000_000_000 + programSeconds() * 1000).toISOString()} ${job.type} finished`);
  let error;
  let output = null;
  if (job.failRoll < 0.03) error = { code: 'UPSTREAM_TIMEOUT', message: `storage upload timed out after 30000 ms for ${job.id}` };
  else output = produceOutput(job);
  const result = toResult(job, output, error);
  recentResults.push(result);
  job.status = result.status;
  job.finishedAt = programSeconds();
  counters.running--;
  if (error === undefined) counters.finished++;
  else counters.failed++;
  runNext();
}

function runNext() {
  while (counters.running < WORKERS && queue.length > 0) {
    const job = queue.shift();
    counters.running++;
    counters.started++;
    job.status = 'running';
    job.startedAt = programSeconds();
    job.log.push(`${new Date(1_717_000_000_000 + job.startedAt * 1000).toISOString()} worker picked up ${job.type}`);
    const spec = JOB_TYPES[job.type];
    const seconds = spec.minS + job.durationRoll * (spec.maxS - spec.minS);
    setTimeout(() => finishJob(job), scaledMs(seconds));
  }
}

function submitJob(body) {
  const now = programSeconds();
  const job = {
    id: `job-${++counters.submitted}`,
    type: body.type,
    tenant: body.tenant,
    submittedBy: body.submittedBy,
    params: body.params,
    status: 'queued',
    submittedAt: now,
    startedAt: null,
    finishedAt: null,
    durationRoll: random(),
    failRoll: random(),
    log: [`${new Date(1_717_000_000_000 + now * 1000).toISOString()} queued by ${body.submittedBy}`],
  };
  jobs.set(job.id, job);
  queue.push(job);
  runNext();
  return job;
}

// forget finished jobs' polling state after 15 minutes
every(scaledMs(60), () => {
  const cutoff = programSeconds() - 15 * 60;
  for (const [id, job] of jobs) if (job.finishedAt !== null && job.finishedAt < cutoff) jobs.delete(id);
});

// --- HTTP -----------------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  if (req.url === '/healthz') return sendJson(res, 200, { ok: true, queued: queue.length, running: counters.running });
  if (req.method === 'GET' && req.url === '/v1/results/recent') return sendJson(res, 200, { results: recentResults.slice(-50).reverse() });
  if (req.method === 'GET' && req.url.startsWith('/v1/jobs/')) {
    const job = jobs.get(req.url.slice('/v1/jobs/'.length));
    if (job === undefined) return sendJson(res, 404, { error: 'unknown job' });
    return sendJson(res, 200, { id: job.id, type: job.type, status: job.status });
  }
  if (req.method === 'POST' && req.url === '/v1/jobs') {
    let body;
    try {
      body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    } catch {
      return sendJson(res, 400, { error: 'bad JSON' });
    }
    if (JOB_TYPES[body.type] === undefined) return sendJson(res, 422, { error: 'unknown job type' });
    const job = submitJob(body);
    return sendJson(res, 202, { id: job.id, status: job.status, poll: `/v1/jobs/${job.id}` });
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- clients ---------------------------------------------------------------------------------

const TYPE_NAMES = Object.keys(JOB_TYPES);
const COLUMNS = ['id', 'date', 'customer', 'amount', 'currency', 'status', 'region', 'owner', 'reference', 'notes'];

function nextJob() {
  const type = TYPE_NAMES[Math.floor(random() * TYPE_NAMES.length)];
  let params;
  if (type === 'pdf-render') params = { template: `invoice-v${1 + Math.floor(random() * 4)}`, sections: 1 + Math.floor(random() * 8), locale: 'en-GB' };
  else if (type === 'csv-export') params = { rows: 100 + Math.floor(random() * 50000), columns: COLUMNS.slice(0, 4 + Math.floor(random() * 7)), filter: { from: '2024-05-01', to: '2024-05-31' } };
  else if (type === 'thumbnails') params = { source: `uploads/${Math.floor(random() * 1e6)}.jpg`, sizes: [64, 128, 256, 512].slice(0, 2 + Math.floor(random() * 3)) };
  else params = { recipients: 1 + Math.floor(random() * 300), digest: 'weekly' };
  const body = { type, tenant: `tenant-${Math.floor(random() * 80)}`, submittedBy: `user-${Math.floor(random() * 2000)}@docs.example`, params };
  return { method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function nextRead() {
  const r = random();
  if (r < 0.2) return { method: 'GET', path: '/healthz' };
  if (r < 0.35) return { method: 'GET', path: '/v1/results/recent' };
  return { method: 'GET', path: `/v1/jobs/job-${Math.max(1, counters.submitted - Math.floor(random() * 20))}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const submitters = selfRequests(port, { perSecond: 0.6, maxInFlight: 8, next: nextJob });
const readers = selfRequests(port, { perSecond: 0.5, maxInFlight: 8, next: nextRead });

reportStats(() => ({
  retained: recentResults.length,
  trackedJobs: jobs.size,
  queued: queue.length,
  ...counters,
  requestsFailed: submitters.failed + readers.failed,
}));

ready(`job-results-array-leak: job runner pushing every finished job's result onto an untrimmed recentResults array, 0.6 jobs/s, 16 workers (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
