// Batch-job runner: the control plane of a small fleet of job workers.
//
// Tenants' schedulers submit jobs (CSV exports, search reindexes, ledger
// reconciliations, thumbnail batches, CRM syncs; ~50 an hour). Ten worker
// agents poll for work, run a job for 2-8 minutes and stream its log lines
// and progress to the runner every 15 s; the runner keeps each job's state,
// with every log line and progress record, in the module-level Map `jobs`
// while it runs (the UI tails the log and draws the progress bar), and
// deletes it when the worker reports completion (only a summary of the last
// 200 jobs is kept). A job whose worker stops reporting is reaped after 90 s,
// retried and deleted.
//
// The bug: at the onset (default 2 h, the lib's SCENARIO_ONSET) the fleet is
// upgraded to agent 2.0, whose supervisor reports a crashed job process
// (OOM kills, segfaults in native image/parquet code) at once via POST
// /internal/jobs/:id/crash instead of just going silent. handleWorkerCrash()
// marks the job crashed, keeps the crash report and queues the retry, but
// never deletes the crashed attempt from `jobs`, and the reaper only looks at
// running jobs. ~7 % of runs crash, so a few crashed jobs an hour stay for
// good, each with the log lines and progress it had when it died (a few
// hundred KB of small objects).
import {
  buildBallast,
  envNumber,
  every,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x10b5);
const onset = onsetSeconds(7200);

/** Runs `fn` every `seconds` of production time. */
function everyProduction(seconds, fn) {
  return every((seconds * 1000) / speed, fn);
}

const MAX_ATTEMPTS = 3;
const HEARTBEAT_TIMEOUT_S = 90;
const HISTORY_LENGTH = 200;
const MAX_LOG_LINE = 2000;

// --- jobs -----------------------------------------------------------------------------------------

class Job {
  constructor(id, spec, attempt, now) {
    this.id = id;
    this.type = spec.type;
    this.tenant = spec.tenant;
    this.params = spec.params;
    this.attempt = attempt;
    this.state = 'queued';
    this.submittedAt = now;
    this.startedAt = null;
    this.workerId = null;
    this.lastHeartbeatAt = now;
    this.logs = [];
    this.progress = [];
    this.crash = null;
  }
}

/** Every job the runner knows about, by id: queued, running (and, by mistake, crashed). */
const jobs = new Map();
/** Ids of queued jobs, oldest first. */
const queue = [];
/** Summaries of the last HISTORY_LENGTH finished jobs. */
const history = [];
const stats = { submitted: 0, succeeded: 0, lost: 0, crashed: 0, retried: 0, failed: 0, logLines: 0 };
let jobSeq = 0;

function createJob(spec, attempt, now) {
  jobSeq++;
  const id = `job-${(1_000_000 + jobSeq).toString(36)}-${attempt}`;
  const job = new Job(id, spec, attempt, now);
  jobs.set(id, job);
  queue.push(id);
  return job;
}

function toLogEntry(line, job) {
  return {
    seq: job.logs.length,
    ts: line.ts,
    level: line.level,
    logger: line.logger,
    msg: line.msg.length > MAX_LOG_LINE ? line.msg.slice(0, MAX_LOG_LINE) : line.msg,
  };
}

function toProgress(report, now) {
  return { at: now, stage: report.stage, done: report.done, total: report.total, rowsPerSec: report.rowsPerSec };
}

function appendReport(job, body, now) {
  for (const line of body.logs) job.logs.push(toLogEntry(line, job));
  if (body.progress !== undefined) job.progress.push(toProgress(body.progress, now));
  job.lastHeartbeatAt = now;
  stats.logLines += body.logs.length;
}

function finishJob(job, outcome, now, detail) {
  history.push({
    id: job.id,
    type: job.type,
    tenant: job.tenant,
    attempt: job.attempt,
    outcome,
    detail,
    seconds: job.startedAt === null ? 0 : Math.round(now - job.startedAt),
    logLines: job.logs.length,
  });
  if (history.length > HISTORY_LENGTH) history.shift();
  jobs.delete(job.id);
}

function retryOrGiveUp(job, now) {
  if (job.attempt >= MAX_ATTEMPTS) {
    stats.failed++;
    return null;
  }
  stats.retried++;
  return createJob({ type: job.type, tenant: job.tenant, params: job.params }, job.attempt + 1, now);
}

/** Agent 2.0's crash report: the job process died (exit code / signal, last lines of stderr). */
function handleWorkerCrash(job, report, now) {
  job.state = 'crashed';
  job.crash = { workerId: report.worker, exitCode: report.exitCode, signal: report.signal, stderrTail: report.stderrTail, at: now };
  stats.crashed++;
  const retry = retryOrGiveUp(job, now);
  return { retry: retry?.id ?? null };
}

/** Jobs whose worker went silent: retried and forgotten. */
function reapStaleJobs(now) {
  for (const job of jobs.values()) {
    if (job.state === 'running' && now - job.lastHeartbeatAt > HEARTBEAT_TIMEOUT_S) {
      job.state = 'lost';
      stats.lost++;
      retryOrGiveUp(job, now);
      finishJob(job, 'lost', now, 'heartbeat timeout');
    }
  }
}

everyProduction(30, () => reapStaleJobs(programSeconds()));

// --- HTTP ---------------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function jobView(job, tail) {
  const last = job.progress[job.progress.length - 1];
  return {
    id: job.id,
    type: job.type,
    tenant: job.tenant,
    state: job.state,
    attempt: job.attempt,
    workerId: job.workerId,
    progress: last === undefined ? null : { stage: last.stage, done: last.done, total: last.total },
    logLines: job.logs.length,
    tail: tail ? job.logs.slice(-20) : undefined,
  };
}

async function handle(req, res) {
  const now = programSeconds();
  const url = new URL(req.url ?? '/', 'http://runner.local');
  const parts = url.pathname.split('/');
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, jobs: jobs.size });

  if (url.pathname === '/v1/jobs' && req.method === 'POST') {
    const spec = JSON.parse((await readBody(req)).toString('utf8'));
    const job = createJob(spec, 1, now);
    stats.submitted++;
    return sendJson(res, 201, { id: job.id });
  }
  if (url.pathname === '/v1/jobs' && req.method === 'GET') {
    const tenant = url.searchParams.get('tenant');
    const list = [];
    for (const job of jobs.values()) if (tenant === null || job.tenant === tenant) list.push(jobView(job, false));
    return sendJson(res, 200, { jobs: list, recent: history.slice(-20) });
  }
  if (parts.length === 4 && parts[1] === 'v1' && parts[2] === 'jobs' && req.method === 'GET') {
    const job = jobs.get(parts[3]);
    if (job === undefined) return sendJson(res, 404, { error: 'no such job' });
    return sendJson(res, 200, jobView(job, true));
  }

  // /internal/workers/:worker/claim
  if (parts.length === 5 && parts[1] === 'internal' && parts[2] === 'workers' && parts[4] === 'claim') {
    await readBody(req);
    while (queue.length > 0) {
      const job = jobs.get(queue.shift());
      if (job === undefined || job.state !== 'queued') continue;
      job.state = 'running';
      job.workerId = parts[3];
      job.startedAt = now;
      job.lastHeartbeatAt = now;
      return sendJson(res, 200, { id: job.id, type: job.type, tenant: job.tenant, params: job.params, attempt: job.attempt });
    }
    res.writeHead(204);
    return res.end();
  }

  // /internal/jobs/:id/(report|complete|crash)
  if (parts.length === 5 && parts[1] === 'internal' && parts[2] === 'jobs' && req.method === 'POST') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    const job = jobs.get(parts[3]);
    if (job === undefined) return sendJson(res, 404, { error: 'no such job' });
    if (job.state !== 'running' || job.workerId !== body.worker) return sendJson(res, 409, { error: `job is ${job.state}` });
    if (parts[4] === 'report') {
      appendReport(job, body, now);
      return sendJson(res, 200, { ok: true });
    }
    if (parts[4] === 'complete') {
      if (body.logs !== undefined) appendReport(job, body, now);
      job.state = 'succeeded';
      stats.succeeded++;
      finishJob(job, 'succeeded', now, body.result);
      return sendJson(res, 200, { ok: true });
    }
    if (parts[4] === 'crash') return sendJson(res, 200, handleWorkerCrash(job, body, now));
  }
  sendJson(res, 404, { error: 'not found' });
}

function handler(req, res) {
  handle(req, res).catch((error) => {
    if (!res.headersSent) sendJson(res, 500, { error: String(error) });
  });
}

// --- the clients: tenants' schedulers, the worker fleet, the UI ---------------------------------------

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

const JOBS_PER_HOUR = envNumber('RUNNER_JOBS_PER_HOUR', 50, (v) => v > 0);
const WORKERS = 10;
const REPORT_EVERY_S = 15;
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'tyrell', 'soylent', 'wonka', 'cyberdyne', 'oscorp'];
// type -> [weight, min minutes, max minutes, crash probability per run, stages, loggers]
const JOB_TYPES = {
  'export-csv': [0.3, 2, 5, 0.03, ['query', 'format', 'upload'], ['export.query', 'export.csv', 's3.multipart']],
  'reindex-search': [0.2, 3, 8, 0.07, ['scan', 'transform', 'bulk-index', 'refresh'], ['reindex.scan', 'reindex.bulk', 'es.client']],
  'reconcile-ledger': [0.15, 4, 8, 0.16, ['load', 'match', 'report'], ['ledger.loader', 'ledger.matcher', 'parquet.reader']],
  'thumbnail-batch': [0.2, 2, 6, 0.08, ['list', 'resize', 'store'], ['thumbs.worker', 'vips', 's3.put']],
  'sync-crm': [0.15, 2, 4, 0.04, ['fetch', 'diff', 'push'], ['crm.client', 'crm.diff', 'http.retry']],
};
const TYPE_NAMES = Object.keys(JOB_TYPES);
const LEVELS = ['DEBUG', 'DEBUG', 'DEBUG', 'INFO', 'INFO', 'INFO', 'INFO', 'WARN'];
const STDERR_TAILS = [
  ['FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory', ' 1: 0xb7a940 node::Abort() [node]'],
  ['Segmentation fault (core dumped)', 'vips_image_new_from_buffer: libvips error'],
  ['Killed', 'oom-kill:constraint=CONSTRAINT_MEMCG,task=job-proc'],
];

function pickType() {
  let r = random();
  for (const name of TYPE_NAMES) {
    r -= JOB_TYPES[name][0];
    if (r <= 0) return name;
  }
  return TYPE_NAMES[TYPE_NAMES.length - 1];
}

function exponential(mean) {
  return -Math.log(1 - random()) * mean;
}

/** A log line as the worker's job process writes it. */
function logLine(run, i, now) {
  const [, , , , , loggers] = JOB_TYPES[run.type];
  const level = LEVELS[Math.floor(random() * LEVELS.length)];
  const batch = run.batch++;
  const rows = 500 + Math.floor(random() * 4500);
  const ms = 20 + Math.floor(random() * 900);
  let msg;
  switch (i % 4) {
    case 0:
      msg = `processed batch ${batch}/${run.batches} of s3://jobs-${run.tenant}/${run.type}/${run.id}/part-${String(batch).padStart(5, '0')}.parquet rows=${rows} skipped=${Math.floor(random() * 4)} in ${ms}ms`;
      break;
    case 1:
      msg = `stage=${run.stage} checkpoint offset=${run.offset} lag=${Math.floor(random() * 2000)} heapUsedMb=${200 + Math.floor(random() * 800)} rss=${400 + Math.floor(random() * 1200)}MB`;
      break;
    case 2:
      msg = `upstream call GET https://api.internal/${run.tenant}/records?cursor=${run.offset.toString(36)}&limit=${rows} -> 200 (${ms} ms, retry=0)`;
      break;
    default:
      msg = `tenant=${run.tenant} job=${run.id} attempt=${run.attempt} records in=${run.offset} out=${run.offset - Math.floor(run.offset / 97)} errors=${Math.floor(run.offset / 997)}`;
  }
  run.offset += rows;
  return { ts: Math.round(1_717_400_000_000 + now * 1000 + i * 37), level, logger: loggers[i % loggers.length], msg };
}

function reportBody(run, now) {
  const logs = [];
  const count = 60 + Math.floor(random() * 61);
  for (let i = 0; i < count; i++) logs.push(logLine(run, i, now));
  const [, , , , stages] = JOB_TYPES[run.type];
  const fraction = Math.min(1, (now - run.startedAt) / run.duration);
  run.stage = stages[Math.min(stages.length - 1, Math.floor(fraction * stages.length))];
  return { worker: run.worker.id, logs, progress: { stage: run.stage, done: Math.floor(fraction * run.batches), total: run.batches, rowsPerSec: 2000 + Math.floor(random() * 8000) } };
}

const agenda = new Agenda();
const workers = Array.from({ length: WORKERS }, (_, i) => ({ id: `worker-${i + 1}`, agentVersion: '1.9.4', run: null }));
const fleet = { runs: 0, crashes: 0, silentCrashes: 0, reportedCrashes: 0, abandoned: 0 };

function post(path, body, extra) {
  return { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...extra };
}

function startRun(worker, claimed, now) {
  const [, minMin, maxMin, crashP] = JOB_TYPES[claimed.type];
  const duration = (minMin + random() * (maxMin - minMin)) * 60;
  const run = {
    id: claimed.id,
    type: claimed.type,
    tenant: claimed.tenant,
    attempt: claimed.attempt,
    worker,
    startedAt: now,
    duration,
    crashAt: random() < crashP ? now + duration * (0.4 + random() * 0.55) : null,
    batch: 0,
    batches: Math.round(duration * 2.5),
    offset: 0,
    stage: 'start',
  };
  worker.run = run;
  fleet.runs++;
  agenda.push(now + REPORT_EVERY_S, { kind: 'report', worker });
}

function perform(action, now) {
  if (action.kind === 'submit') {
    agenda.push(now + exponential(3600 / JOBS_PER_HOUR), { kind: 'submit' });
    const type = pickType();
    const tenant = TENANTS[Math.floor(random() * TENANTS.length)];
    return post('/v1/jobs', { type, tenant, params: { since: '2024-06-01', batchSize: 5000, dryRun: false, region: random() < 0.7 ? 'eu-west-1' : 'us-east-1' } });
  }
  if (action.kind === 'ui') {
    agenda.push(now + exponential(5), { kind: 'ui' });
    if (random() < 0.3) return { method: 'GET', path: `/v1/jobs?tenant=${TENANTS[Math.floor(random() * TENANTS.length)]}` };
    const busy = workers.filter((w) => w.run !== null);
    if (busy.length === 0) return { method: 'GET', path: '/healthz' };
    return { method: 'GET', path: `/v1/jobs/${busy[Math.floor(random() * busy.length)].run.id}` };
  }
  const worker = action.worker;
  if (action.kind === 'poll') {
    // The rolling upgrade: an idle worker comes back on agent 2.0 once the deploy has started.
    if (now >= onset && worker.agentVersion !== '2.0.0') worker.agentVersion = '2.0.0';
    return post(`/internal/workers/${worker.id}/claim`, { agentVersion: worker.agentVersion }, { worker, claim: true });
  }
  // report: the running job streams its logs, finishes, or crashes
  const run = worker.run;
  if (run === null) return null;
  if (run.crashAt !== null && now >= run.crashAt) {
    fleet.crashes++;
    worker.run = null;
    if (worker.agentVersion === '2.0.0') {
      fleet.reportedCrashes++;
      agenda.push(now + 20 + random() * 20, { kind: 'poll', worker });
      const tail = STDERR_TAILS[Math.floor(random() * STDERR_TAILS.length)];
      return post(`/internal/jobs/${run.id}/crash`, { worker: worker.id, exitCode: tail[0] === 'Killed' ? 137 : 134, signal: tail[0] === 'Killed' ? 'SIGKILL' : 'SIGABRT', stderrTail: tail });
    }
    // agent 1.x: the job process takes the agent down with it; systemd restarts it a minute later.
    fleet.silentCrashes++;
    agenda.push(now + 45 + random() * 30, { kind: 'poll', worker });
    return null;
  }
  if (now - run.startedAt >= run.duration) {
    worker.run = null;
    agenda.push(now + 1 + random() * 4, { kind: 'poll', worker });
    return post(`/internal/jobs/${run.id}/complete`, { ...reportBody(run, now), result: { rows: run.offset, batches: run.batch } }, { worker });
  }
  agenda.push(now + REPORT_EVERY_S, { kind: 'report', worker });
  return post(`/internal/jobs/${run.id}/report`, reportBody(run, now), { worker, runId: run.id });
}

function nextRequest() {
  const now = programSeconds();
  while (agenda.size > 0 && agenda.peekAt() <= now) {
    const request = perform(agenda.pop(), now);
    if (request !== null) return request;
  }
  return null;
}

function onResponse(status, text, request) {
  const worker = request.worker;
  if (worker === undefined) return;
  const now = programSeconds();
  if (request.claim === true) {
    if (status === 200) startRun(worker, JSON.parse(text), now);
    else agenda.push(now + 10 + random() * 10, { kind: 'poll', worker });
    return;
  }
  // The runner gave the job away (reaped after a stall): the worker drops it and asks for more.
  if ((status === 404 || status === 409) && request.runId !== undefined && worker.run?.id === request.runId) {
    worker.run = null;
    fleet.abandoned++;
    agenda.push(now + 5, { kind: 'poll', worker });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

agenda.push(0, { kind: 'submit' });
agenda.push(1, { kind: 'ui' });
for (const worker of workers) agenda.push(random() * 15, { kind: 'poll', worker });
const clients = selfRequests(port, { perSecond: 6, maxInFlight: 24, next: nextRequest, onResponse });

reportStats(() => {
  let running = 0;
  let queued = 0;
  let crashedHeld = 0;
  let logEntries = 0;
  let crashedLogEntries = 0;
  for (const job of jobs.values()) {
    logEntries += job.logs.length;
    if (job.state === 'running') running++;
    else if (job.state === 'queued') queued++;
    else if (job.state === 'crashed') {
      crashedHeld++;
      crashedLogEntries += job.logs.length;
    }
  }
  return {
    retained: jobs.size,
    running,
    queued,
    crashedHeld,
    logEntries,
    crashedLogEntries,
    submitted: stats.submitted,
    succeeded: stats.succeeded,
    lost: stats.lost,
    crashed: stats.crashed,
    retried: stats.retried,
    runs: fleet.runs,
    silentCrashes: fleet.silentCrashes,
    reportedCrashes: fleet.reportedCrashes,
    abandoned: fleet.abandoned,
    requestsFailed: clients.failed,
  };
});

ready(
  `job-runner-crashed-job-log-leak: batch-job runner (${JOBS_PER_HOUR} jobs/h, ${WORKERS} workers, logs kept while a job runs); from the agent 2.0 upgrade (onset ${onset} s) crashed jobs are never deleted (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
