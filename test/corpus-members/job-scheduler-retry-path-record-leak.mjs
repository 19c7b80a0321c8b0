// Background job scheduler of a B2B SaaS backend. Producers (the web app,
// the billing service, the CRM webhook receiver) POST jobs; the scheduler
// keeps every job it knows about in the module-level Map `jobs` (class Job:
// payload, state, attempts and the job's own `logs` array, which the ops UI
// tails while a job runs), runs them on 16 worker slots, and retries a failed
// attempt with exponential backoff. When a job finishes, its log lines are
// shipped to log storage (a stand-in), a summary goes to the `recent` ring
// and the record is removed from `jobs`.
//
// The bug is in the retry path: a job that succeeds on a later attempt goes
// through finishRetriedJob(), which ships the logs and writes the summary but
// never deletes the record from `jobs` (the first-attempt path, completeJob(),
// does). Downstream calls almost never fail, so for the first hour or so
// nothing is retried; at the onset (SCENARIO_ONSET, default 65 min) the CRM
// vendor's new per-minute quota starts answering 429 to 15 % of its calls
// (two per contact sync, so about a quarter of the syncs fail an attempt),
// which then succeed on the second or third attempt, and each of those
// finished records stays in `jobs` with its log lines.
import {
  buildBallast,
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
const CRM_QUOTA_FROM_S = onsetSeconds(3900);

const wallMs = (seconds) => (seconds * 1000) / speed;
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, wallMs(seconds)));

// --- the jobs table -------------------------------------------------------------

const WORKER_SLOTS = 16;
const MAX_ATTEMPTS = 5;
const BACKOFF_BASE_S = 30;

/** Every job the scheduler knows about: queued, running, waiting to retry. */
const jobs = new Map();
/** Ids ready to run, oldest first. */
const pending = [];
/** Jobs waiting for their retry time. */
const delayed = [];
/** Summaries of the last 2 000 finished jobs, for GET /v1/jobs/recent. */
const recent = [];

const stats = { enqueued: 0, succeeded: 0, succeededAfterRetry: 0, failed: 0, attempts: 0, retries: 0, shippedLogLines: 0 };
let running = 0;
let jobSeq = 0;

/** One line of a job's log. */
function logEntry(job, level, message) {
  return { at: programSeconds(), level, attempt: job.attempts, message };
}

class Job {
  constructor(type, payload, producer, now) {
    this.id = `job_${(++jobSeq).toString(36)}`;
    this.type = type;
    this.payload = payload;
    this.producer = producer;
    this.state = 'queued';
    this.attempts = 0;
    this.logs = [];
    this.createdAt = now;
    this.startedAt = null;
    this.finishedAt = null;
    this.runAt = now;
    this.result = null;
    this.lastError = null;
  }

  log(level, message) {
    this.logs.push(logEntry(this, level, message));
  }
}

function enqueue(type, payload, producer) {
  const job = new Job(type, payload, producer, programSeconds());
  jobs.set(job.id, job);
  pending.push(job.id);
  job.log('info', `enqueued by ${producer} (${type})`);
  stats.enqueued++;
  pump();
  return job;
}

// --- log storage and the downstream systems (stand-ins) ------------------------------

const logStorage = { batches: 0, lines: 0, bytes: 0 };

function shipLogs(job) {
  let bytes = 0;
  for (const line of job.logs) bytes += line.message.length + 40;
  logStorage.batches++;
  logStorage.lines += job.logs.length;
  logStorage.bytes += bytes;
  stats.shippedLogLines += job.logs.length;
}

class DownstreamError extends Error {
  constructor(status, message, retryAfterS) {
    super(message);
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

/** One call to a downstream: production-time latency, a rare transient failure, the CRM quota after the onset. */
async function callDownstream(system, operation, job) {
  await sleep(0.05 + random() * 0.6);
  if (system === 'crm' && programSeconds() >= CRM_QUOTA_FROM_S && random() < 0.15) {
    throw new DownstreamError(429, `crm ${operation}: 429 Too Many Requests (quota 600/min exceeded for account ${job.payload.accountId})`, 20 + Math.floor(random() * 40));
  }
  if (random() < 0.0004) throw new DownstreamError(503, `${system} ${operation}: 503 Service Unavailable`, 0);
  return { status: 200, requestId: `req_${Math.floor(random() * 1e12).toString(36)}` };
}

// --- job handlers -----------------------------------------------------------------------

async function syncCrmContact(job) {
  const { contact } = job.payload;
  job.log('info', `loading contact ${contact.id} (${contact.email}) from the customer database`);
  await sleep(0.2 + random() * 0.5);
  job.log('debug', `contact ${contact.id}: ${contact.fields.length} custom fields, owner ${contact.owner}, lifecycle ${contact.stage}`);
  const lookup = await callDownstream('crm', 'search', job);
  job.log('info', `crm search by email ${contact.email}: 1 match (request ${lookup.requestId})`);
  for (const field of contact.fields) {
    job.log('debug', `mapping field ${field.name} -> crm property ${field.crmProperty} (${field.value.length} chars)`);
  }
  const update = await callDownstream('crm', 'patch', job);
  job.log('info', `crm contact updated (request ${update.requestId}), ${contact.fields.length} properties written`);
  return { crmContactId: `crm_${contact.id}`, properties: contact.fields.length };
}

async function sendInvoiceEmail(job) {
  const { invoice } = job.payload;
  job.log('info', `rendering invoice ${invoice.number} for ${invoice.customer} (${invoice.lines} lines, ${invoice.total} ${invoice.currency})`);
  await sleep(0.5 + random() * 1.5);
  job.log('debug', `pdf rendered: ${(40 + Math.floor(random() * 200)).toString()} KB, template ${invoice.template}`);
  const sent = await callDownstream('smtp', 'send', job);
  job.log('info', `mail queued to ${invoice.email} (message ${sent.requestId})`);
  return { messageId: sent.requestId };
}

async function generateThumbnails(job) {
  const { upload } = job.payload;
  job.log('info', `fetching ${upload.key} (${upload.bytes} bytes, ${upload.mime}) from object storage`);
  await sleep(0.3 + random());
  for (const size of upload.sizes) {
    await sleep(0.2 + random() * 0.6);
    job.log('debug', `thumbnail ${size}px written to thumbs/${size}/${upload.key}`);
  }
  return { thumbnails: upload.sizes.length };
}

async function exportReport(job) {
  const { report } = job.payload;
  job.log('info', `export ${report.name} for workspace ${report.workspace}: ${report.pages} pages of ${report.rowsPerPage} rows`);
  for (let page = 1; page <= report.pages; page++) {
    await sleep(1 + random() * 3);
    job.log('debug', `page ${page}/${report.pages} fetched, ${report.rowsPerPage} rows, cursor ${Math.floor(random() * 1e9).toString(36)}`);
  }
  const stored = await callDownstream('storage', 'put', job);
  job.log('info', `report stored as exports/${report.workspace}/${job.id}.csv (request ${stored.requestId})`);
  return { pages: report.pages };
}

const HANDLERS = {
  'crm.sync-contact': syncCrmContact,
  'billing.send-invoice': sendInvoiceEmail,
  'media.thumbnails': generateThumbnails,
  'reports.export': exportReport,
};

// --- the worker loop ----------------------------------------------------------------------

function pump() {
  while (running < WORKER_SLOTS && pending.length > 0) {
    const job = jobs.get(pending.shift());
    if (job === undefined) continue;
    running++;
    runAttempt(job).finally(() => {
      running--;
      pump();
    });
  }
}

async function runAttempt(job) {
  job.attempts++;
  job.state = 'running';
  job.startedAt ??= programSeconds();
  stats.attempts++;
  job.log('info', `attempt ${job.attempts}/${MAX_ATTEMPTS} started on worker ${running}`);
  let result;
  try {
    result = await HANDLERS[job.type](job);
  } catch (error) {
    onAttemptFailed(job, error);
    return;
  }
  if (job.attempts === 1) completeJob(job, result);
  else finishRetriedJob(job, result);
}

function summarize(job) {
  recent.push({ id: job.id, type: job.type, state: job.state, attempts: job.attempts, seconds: Math.round(job.finishedAt - job.createdAt) });
  if (recent.length > 2000) recent.shift();
}

function completeJob(job, result) {
  job.state = 'succeeded';
  job.result = result;
  job.finishedAt = programSeconds();
  job.log('info', `succeeded in ${(job.finishedAt - job.startedAt).toFixed(1)} s`);
  shipLogs(job);
  summarize(job);
  jobs.delete(job.id);
  stats.succeeded++;
}

function onAttemptFailed(job, error) {
  job.lastError = error.message;
  job.log('warn', `attempt ${job.attempts} failed: ${error.message}`);
  if (job.attempts >= MAX_ATTEMPTS) {
    job.state = 'failed';
    job.finishedAt = programSeconds();
    job.log('error', `giving up after ${job.attempts} attempts`);
    shipLogs(job);
    summarize(job);
    jobs.delete(job.id);
    stats.failed++;
    return;
  }
  scheduleRetry(job, error);
}

function scheduleRetry(job, error) {
  const backoff = BACKOFF_BASE_S * 2 ** (job.attempts - 1) * (0.8 + random() * 0.4);
  const wait = Math.max(backoff, error.retryAfterS ?? 0);
  job.state = 'retry-wait';
  job.runAt = programSeconds() + wait;
  job.log('info', `retrying in ${wait.toFixed(0)} s (attempt ${job.attempts + 1} of ${MAX_ATTEMPTS})`);
  delayed.push(job);
  stats.retries++;
}

/** The retry path's completion: logs shipped and the summary written, but the record is not removed from `jobs`. */
function finishRetriedJob(job, result) {
  job.state = 'succeeded';
  job.result = result;
  job.finishedAt = programSeconds();
  job.log('info', `succeeded on attempt ${job.attempts} after ${(job.finishedAt - job.createdAt).toFixed(1)} s`);
  shipLogs(job);
  summarize(job);
  stats.succeeded++;
  stats.succeededAfterRetry++;
}

/** Every second of production time: due retries go back to the queue. */
function releaseDueRetries() {
  const now = programSeconds();
  let keep = 0;
  for (let i = 0; i < delayed.length; i++) {
    const job = delayed[i];
    if (job.runAt <= now) {
      job.state = 'queued';
      pending.push(job.id);
    } else delayed[keep++] = job;
  }
  delayed.length = keep;
  pump();
}

// --- HTTP -----------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://scheduler.local');
  const parts = url.pathname.split('/');
  try {
    if (req.method === 'POST' && url.pathname === '/v1/jobs') {
      const body = JSON.parse((await readBody(req, 512 * 1024)).toString('utf8'));
      if (HANDLERS[body.type] === undefined) return sendJson(res, 400, { error: `unknown job type ${body.type}` });
      const job = enqueue(body.type, body.payload, req.headers['x-producer'] ?? 'unknown');
      return sendJson(res, 202, { id: job.id, state: job.state });
    }
    if (req.method === 'GET' && url.pathname === '/v1/jobs/recent') return sendJson(res, 200, recent.slice(-50));
    if (req.method === 'GET' && parts[1] === 'v1' && parts[2] === 'jobs' && parts[3]) {
      const job = jobs.get(parts[3]);
      if (job === undefined) return sendJson(res, 404, { error: 'not found (finished jobs are in /v1/jobs/recent)' });
      if (parts[4] === 'logs') return sendJson(res, 200, { id: job.id, logs: job.logs.slice(-100) });
      return sendJson(res, 200, { id: job.id, type: job.type, state: job.state, attempts: job.attempts, lastError: job.lastError, result: job.result });
    }
    if (req.method === 'GET' && url.pathname === '/v1/queues') {
      return sendJson(res, 200, { pending: pending.length, delayed: delayed.length, running, known: jobs.size, ...stats });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- producers (the load) ---------------------------------------------------------------------

const FIELD_NAMES = ['company', 'job_title', 'phone', 'country', 'industry', 'employees', 'plan', 'mrr', 'signup_source', 'last_login', 'nps', 'language'];
const STAGES = ['lead', 'trial', 'customer', 'churn-risk', 'churned'];
const WORKSPACES = Array.from({ length: 300 }, (_, i) => `ws_${(i * 2654435761 % 1e8).toString(36)}`);

function crmContact(n) {
  const fields = [];
  const count = 4 + Math.floor(random() * 8);
  for (let i = 0; i < count; i++) {
    const name = FIELD_NAMES[(n + i) % FIELD_NAMES.length];
    fields.push({ name, crmProperty: `hs_${name}`, value: `${name}-value-${Math.floor(random() * 1e6)}-${'x'.repeat(Math.floor(random() * 24))}` });
  }
  return { id: `c_${n}`, email: `user${n}@customer${n % 900}.example.com`, owner: `owner_${n % 40}`, stage: STAGES[n % STAGES.length], fields };
}

let produced = 0;
function nextJob() {
  const n = ++produced;
  const roll = random();
  let type;
  let payload;
  let producer;
  if (roll < 0.4) {
    type = 'crm.sync-contact';
    payload = { accountId: `acct_${n % 250}`, contact: crmContact(n) };
    producer = 'crm-webhooks';
  } else if (roll < 0.7) {
    type = 'billing.send-invoice';
    payload = { invoice: { number: `INV-2024-${String(n).padStart(7, '0')}`, customer: `Customer ${n % 5000}`, email: `billing@customer${n % 5000}.example.com`, lines: 1 + Math.floor(random() * 30), total: Math.floor(random() * 500000) / 100, currency: 'EUR', template: 'invoice-v7' } };
    producer = 'billing';
  } else if (roll < 0.95) {
    type = 'media.thumbnails';
    payload = { upload: { key: `uploads/${WORKSPACES[n % WORKSPACES.length]}/${n.toString(36)}.jpg`, bytes: 200_000 + Math.floor(random() * 4_000_000), mime: 'image/jpeg', sizes: [64, 128, 256, 512] } };
    producer = 'web';
  } else {
    type = 'reports.export';
    payload = { report: { name: ['usage', 'invoices', 'audit-log', 'seats'][n % 4], workspace: WORKSPACES[n % WORKSPACES.length], pages: 2 + Math.floor(random() * 10), rowsPerPage: 500 } };
    producer = 'web';
  }
  return { method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json', 'x-producer': producer }, body: JSON.stringify({ type, payload }) };
}

/** Ids the web app is still polling for (a job's status page stays open a minute or so). */
const watched = [];

const ballastMb = buildBallast();
const { port } = await listen(handler);

every(wallMs(1), releaseDueRetries);

// ~1.1 jobs/s from the producers.
const producers = selfRequests(port, {
  perSecond: 1.1,
  maxInFlight: 16,
  next: nextJob,
  onResponse: (status, text) => {
    if (status !== 202 || random() > 0.2) return;
    watched.push({ id: JSON.parse(text).id, until: programSeconds() + 60 });
    if (watched.length > 200) watched.shift();
  },
});
// Status pages and the ops UI: 0.5 req/s.
const readers = selfRequests(port, {
  perSecond: 0.5,
  maxInFlight: 8,
  next: () => {
    const now = programSeconds();
    while (watched.length > 0 && watched[0].until < now) watched.shift();
    const roll = random();
    if (roll < 0.6 && watched.length > 0) return { method: 'GET', path: `/v1/jobs/${watched[Math.floor(random() * watched.length)].id}` };
    if (roll < 0.75 && watched.length > 0) return { method: 'GET', path: `/v1/jobs/${watched[Math.floor(random() * watched.length)].id}/logs` };
    if (roll < 0.9) return { method: 'GET', path: '/v1/queues' };
    return { method: 'GET', path: '/healthz' };
  },
});

function finishedHeld() {
  let count = 0;
  for (const job of jobs.values()) if (job.state === 'succeeded') count++;
  return count;
}

reportStats(() => ({
  retained: jobs.size,
  finishedHeld: finishedHeld(),
  pending: pending.length,
  delayed: delayed.length,
  running,
  enqueued: stats.enqueued,
  succeeded: stats.succeeded,
  succeededAfterRetry: stats.succeededAfterRetry,
  failed: stats.failed,
  retries: stats.retries,
  requestsFailed: producers.failed + readers.failed,
}));

ready(
  `job-scheduler-retry-path-record-leak: ~1.1 jobs/s on 16 slots, records with their logs in the jobs Map; from the CRM quota at ${CRM_QUOTA_FROM_S} s jobs that succeed on a retry are never removed (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
