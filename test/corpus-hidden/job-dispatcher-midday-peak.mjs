// Background-job dispatcher of a B2B invoicing product. Other services submit
// jobs over HTTP (POST /v1/jobs: password-reset and notification e-mails,
// invoice PDFs, document thumbnails, CSV exports) and poll their status
// (GET /v1/jobs/:id). Class JobDispatcher keeps waiting jobs in a
// hand-written doubly linked priority list (private field #queue: nodes
// with prev/next, one tail pointer per priority so an insert is O(1)) and
// feeds a pool of 5 workers, each job taking 0.5-12 s of production time at
// the downstream services (the mailer, the PDF renderer, object storage).
//
// Traffic follows the working day: ~0.8 jobs/s in the morning, a lunchtime
// peak (month-end invoicing runs kicked off before lunch) of ~2.8 jobs/s
// around 12:45, back down by 14:00. The workers handle ~1.8 jobs/s (~2.8 s
// per job on average), so the queue grows during the peak and drains to
// empty within ~40 minutes of its end.
// Finished jobs are kept only in a ring of the last 2 000 for status polls.
//
// SCENARIO_CLOCK_H: hour of the simulated day at start (default 10.5).
import {
  buildBallast,
  envNumber,
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
const CLOCK_START_H = envNumber('SCENARIO_CLOCK_H', 10.5, (v) => v >= 0 && v < 24);
const WORKERS = 5;

const hourOfDay = () => (CLOCK_START_H + programSeconds() / 3600) % 24;

// --- the priority list ------------------------------------------------------------------

const PRIORITIES = ['critical', 'high', 'normal', 'bulk'];

class QueueNode {
  constructor(job) {
    this.job = job;
    this.priority = job.priority;
    this.prev = null;
    this.next = null;
  }
}

class PriorityList {
  #head = null;
  #tails = [null, null, null, null]; // last node of each priority
  length = 0;

  /** Inserts after the last node of the same or a more urgent priority. */
  insert(job) {
    const node = new QueueNode(job);
    let after = null;
    for (let p = node.priority; p >= 0 && after === null; p--) after = this.#tails[p];
    if (after === null) {
      node.next = this.#head;
      if (this.#head !== null) this.#head.prev = node;
      this.#head = node;
    } else {
      node.prev = after;
      node.next = after.next;
      if (after.next !== null) after.next.prev = node;
      after.next = node;
    }
    this.#tails[node.priority] = node;
    this.length++;
    return node;
  }

  shift() {
    const node = this.#head;
    if (node === null) return undefined;
    this.#head = node.next;
    if (this.#head !== null) this.#head.prev = null;
    if (this.#tails[node.priority] === node) this.#tails[node.priority] = null;
    node.next = null;
    this.length--;
    return node.job;
  }

  /** Removes a node (cancelled job). */
  remove(node) {
    if (node.prev !== null) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next !== null) node.next.prev = node.prev;
    if (this.#tails[node.priority] === node) this.#tails[node.priority] = node.prev !== null && node.prev.priority === node.priority ? node.prev : null;
    node.prev = null;
    node.next = null;
    this.length--;
  }
}

// --- the dispatcher ---------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Production seconds a job of this type spends at its downstream service. */
function serviceSeconds(type) {
  switch (type) {
    case 'email.password-reset':
    case 'email.notification':
      return 0.5 + random() * 0.8;
    case 'invoice.pdf':
      return 3 + random() * 3;
    case 'document.thumbnail':
      return 1.5 + random() * 2;
    default:
      return 6 + random() * 6; // export.csv
  }
}

class JobDispatcher {
  #queue = new PriorityList();
  #nodes = new Map(); // job id -> queue node, while waiting
  #idle = [];
  #finished = [];
  #finishedById = new Map();
  counters = { submitted: 0, completed: 0, failed: 0, cancelled: 0, maxQueued: 0 };
  running = 0;

  get queued() {
    return this.#queue.length;
  }

  submit(job) {
    this.#nodes.set(job.id, this.#queue.insert(job));
    this.counters.submitted++;
    if (this.#queue.length > this.counters.maxQueued) this.counters.maxQueued = this.#queue.length;
    const wake = this.#idle.pop();
    if (wake !== undefined) wake();
  }

  cancel(id) {
    const node = this.#nodes.get(id);
    if (node === undefined) return false;
    this.#queue.remove(node);
    this.#nodes.delete(id);
    this.counters.cancelled++;
    return true;
  }

  status(id) {
    if (this.#nodes.has(id)) return { id, state: 'queued' };
    return this.#finishedById.get(id) ?? null;
  }

  async #next() {
    for (;;) {
      const job = this.#queue.shift();
      if (job !== undefined) {
        this.#nodes.delete(job.id);
        return job;
      }
      await new Promise((resolve) => this.#idle.push(resolve));
    }
  }

  #remember(result) {
    this.#finished.push(result);
    this.#finishedById.set(result.id, result);
    if (this.#finished.length > 2_000) this.#finishedById.delete(this.#finished.shift().id);
  }

  async worker(workerId) {
    for (;;) {
      const job = await this.#next();
      this.running++;
      const startedAt = programSeconds();
      await sleep((serviceSeconds(job.type) * 1000) / speed);
      const ok = random() > 0.004;
      this.running--;
      if (ok) this.counters.completed++;
      else this.counters.failed++;
      this.#remember({ id: job.id, state: ok ? 'done' : 'failed', worker: workerId, waitedS: Math.round(startedAt - job.submittedAt), tookS: Math.round((programSeconds() - startedAt) * 10) / 10 });
    }
  }
}

const dispatcher = new JobDispatcher();
for (let w = 0; w < WORKERS; w++) dispatcher.worker(`w${w}`);

// --- HTTP ------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const TYPES = new Map([
  ['email.password-reset', 0],
  ['email.notification', 1],
  ['invoice.pdf', 1],
  ['document.thumbnail', 2],
  ['export.csv', 3],
]);
let jobSeq = 0;

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://jobs.local');
  if (req.method === 'POST' && url.pathname === '/v1/jobs') {
    let body;
    try {
      body = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    const priority = TYPES.get(body.type);
    if (priority === undefined || typeof body.tenant !== 'string') return sendJson(res, 422, { error: 'unknown job type or tenant' });
    const job = { id: `job_${(++jobSeq).toString(36)}`, type: body.type, priority, tenant: body.tenant, payload: body.payload, submittedAt: programSeconds(), attempts: 0, traceId: req.headers['x-trace-id'] ?? null };
    dispatcher.submit(job);
    return sendJson(res, 202, { id: job.id, queued: dispatcher.queued });
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/jobs/')) {
    const status = dispatcher.status(url.pathname.slice('/v1/jobs/'.length));
    return status === null ? sendJson(res, 404, { error: 'unknown job' }) : sendJson(res, 200, status);
  }
  if (req.method === 'DELETE' && url.pathname.startsWith('/v1/jobs/')) {
    return dispatcher.cancel(url.pathname.slice('/v1/jobs/'.length)) ? sendJson(res, 200, { cancelled: true }) : sendJson(res, 409, { error: 'not queued' });
  }
  if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, queued: dispatcher.queued, running: dispatcher.running });
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: the other services, following the working day ------------------------------------

/** Jobs per second at this hour: the morning base and a lunchtime peak around 12:45. */
function submitRate() {
  const h = hourOfDay();
  const base = h >= 7 && h < 20 ? 0.8 : 0.2;
  const fromPeak = (h - 12.75) / 1.1;
  const peak = Math.abs(fromPeak) < 1 ? 2.0 * (0.5 + 0.5 * Math.cos(Math.PI * fromPeak)) : 0;
  return base + peak;
}

const TENANTS = Array.from({ length: 180 }, (_, i) => `tn_${(i * 7_919).toString(36)}`);
const submitted = [];

function payloadFor(type, tenant) {
  const n = Math.floor(random() * 1e9);
  switch (type) {
    case 'email.password-reset':
      return { to: `user${n % 50_000}@${tenant}.example`, template: 'password-reset', locale: 'en-GB', token: n.toString(36) + (n * 31).toString(36) };
    case 'email.notification':
      return { to: `billing${n % 900}@${tenant}.example`, template: 'invoice-issued', locale: random() < 0.5 ? 'de-DE' : 'en-GB', vars: { invoiceNumber: `INV-2024-${n % 100_000}`, amount: (n % 900_000) / 100, currency: 'EUR', dueDate: '2024-07-31' } };
    case 'invoice.pdf':
      return {
        invoiceId: `inv_${n.toString(36)}`,
        template: 'standard-v4',
        lines: Array.from({ length: 1 + (n % 12) }, (_, i) => ({ sku: `SVC-${(n + i) % 400}`, description: `Subscription seat ${(n + i) % 40} - July`, quantity: 1 + (i % 5), unitCents: 1_900 + ((n + i) % 9_000) })),
        billingAddress: { name: `Customer ${tenant}`, street: `${n % 300} Harbour Road`, city: 'Rotterdam', postcode: `30${n % 90} AB`, country: 'NL' },
      };
    case 'document.thumbnail':
      return { objectKey: `tenants/${tenant}/uploads/${n.toString(36)}.pdf`, sizes: [128, 512], format: 'webp' };
    default:
      return { report: 'invoices-by-customer', from: '2024-01-01', to: '2024-06-30', filters: { status: ['paid', 'overdue'], currency: 'EUR' }, notify: `finance@${tenant}.example` };
  }
}

function submitJob() {
  const roll = random();
  const type = roll < 0.05 ? 'email.password-reset' : roll < 0.35 ? 'email.notification' : roll < 0.7 ? 'invoice.pdf' : roll < 0.96 ? 'document.thumbnail' : 'export.csv';
  const tenant = TENANTS[Math.floor(random() ** 2 * TENANTS.length)];
  return { method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json', 'x-trace-id': Math.floor(random() * 2 ** 52).toString(16) }, body: JSON.stringify({ type, tenant, payload: payloadFor(type, tenant) }), collect: true };
}

function onSubmitted(status, text, request) {
  if (status !== 202 || request.collect !== true) return;
  submitted.push(JSON.parse(text).id);
  if (submitted.length > 500) submitted.shift();
}

function statusPoll() {
  if (random() < 0.05) return { method: 'GET', path: '/healthz' };
  if (submitted.length === 0) return null;
  const id = submitted[Math.floor(random() * submitted.length)];
  if (random() < 0.01) return { method: 'DELETE', path: `/v1/jobs/${id}` };
  return { method: 'GET', path: `/v1/jobs/${id}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const producers = selfRequests(port, { perSecond: submitRate, maxInFlight: 16, next: submitJob, onResponse: onSubmitted });
const pollers = selfRequests(port, { perSecond: 0.6, maxInFlight: 8, next: statusPoll });

reportStats(() => ({
  retained: dispatcher.queued,
  running: dispatcher.running,
  clockH: Math.round(hourOfDay() * 100) / 100,
  submitRate: Math.round(submitRate() * 100) / 100,
  submitted: dispatcher.counters.submitted,
  completed: dispatcher.counters.completed,
  maxQueued: dispatcher.counters.maxQueued,
  requestsFailed: producers.failed + pollers.failed,
}));

ready(
  `job-dispatcher-midday-peak: job dispatcher, ${WORKERS} workers (~1.8 jobs/s), 0.8 jobs/s rising to ~2.8 around 12:45, linked priority #queue grows in the peak and drains (clock ${CLOCK_START_H} h, speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
