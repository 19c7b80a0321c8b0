// Report-export API of a B2B invoicing product.
//
// Customers ask for CSV exports (invoices, payments, ledger, tax summaries) and
// poll for the download link. Most of them do it right at the top of the hour
// (scheduled reminders, "export before the meeting"), so POST /v1/exports
// arrives in bursts of several hundred requests within a few minutes, plus a
// trickle the rest of the hour. Requests are validated, turned into a job and
// put on an in-memory FIFO that a pool of 4 workers drains: query the
// warehouse, render the CSV, upload it, publish a download link. During a burst
// the queue swells to a few hundred jobs and is empty again a few minutes
// later. Job statuses are kept for an hour so customers can fetch the link.
import { randomUUID } from 'node:crypto';
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

const WORKERS = 4;
const STATUS_TTL_S = 3600; // download links are shown for an hour
const START_MINUTE = 20; // the instance was deployed at twenty past the hour

const random = rng(0x5e7a11);
const REPORTS = ['invoices', 'payments', 'ledger', 'tax-summary', 'customers', 'credit-notes'];
const FORMATS = ['csv', 'csv', 'csv', 'xlsx'];
const TIMEZONES = ['Europe/Berlin', 'Europe/London', 'Europe/Paris', 'America/New_York', 'Europe/Madrid'];
const LOCALES = ['de-DE', 'en-GB', 'fr-FR', 'en-US', 'es-ES'];
const COLUMNS = {
  invoices: ['number', 'issuedAt', 'dueAt', 'customer', 'net', 'tax', 'gross', 'currency', 'status', 'paidAt'],
  payments: ['id', 'receivedAt', 'payer', 'amount', 'currency', 'method', 'reference', 'invoiceNumber'],
  ledger: ['entryId', 'bookedAt', 'account', 'contraAccount', 'debit', 'credit', 'text', 'costCentre'],
  'tax-summary': ['period', 'rate', 'net', 'tax', 'country', 'scheme'],
  customers: ['id', 'name', 'vatId', 'country', 'email', 'createdAt', 'openBalance'],
  'credit-notes': ['number', 'issuedAt', 'invoiceNumber', 'customer', 'net', 'tax', 'gross', 'reason'],
};

const pick = (list) => list[Math.floor(random() * list.length)];
const pad2 = (n) => String(n).padStart(2, '0');

function logNormal(median, sigma) {
  const u = 1 - random();
  const v = random();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

/** Waits `ms` of production time. */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms / speed));

// --- the job queue and the worker pool ---------------------------------------

class JobQueue {
  constructor() {
    this.jobs = [];
    this.waiting = []; // idle workers' wake-up callbacks
    this.enqueued = 0;
    this.peak = 0;
  }

  push(job) {
    this.jobs.push(job);
    this.enqueued++;
    if (this.jobs.length > this.peak) this.peak = this.jobs.length;
    const wake = this.waiting.shift();
    if (wake !== undefined) wake();
  }

  /** The next job, waiting for one if the queue is empty. */
  async take() {
    while (this.jobs.length === 0) await new Promise((resolve) => this.waiting.push(resolve));
    return this.jobs.shift();
  }

  get length() {
    return this.jobs.length;
  }
}

const exportQueue = new JobQueue();
const statuses = new Map(); // job id -> { state, ... }
const counters = { accepted: 0, rejected: 0, done: 0, failed: 0, running: 0, rowsExported: 0, bytesUploaded: 0 };

function toJob(request, accountId, userId, now) {
  return {
    id: `exp_${randomUUID()}`,
    accountId,
    userId,
    email: request.notify?.email ?? null,
    report: request.report,
    format: request.format ?? 'csv',
    range: { from: request.range.from, to: request.range.to },
    filters: { ...request.filters },
    columns: request.columns?.length ? request.columns.slice() : COLUMNS[request.report].slice(),
    timezone: request.timezone ?? 'UTC',
    locale: request.locale ?? 'en-GB',
    submittedAt: now,
    traceId: request.traceId,
  };
}

function validate(request) {
  if (!REPORTS.includes(request.report)) return 'unknown report';
  if (!request.range || !/^\d{4}-\d{2}-\d{2}$/.test(request.range.from) || !/^\d{4}-\d{2}-\d{2}$/.test(request.range.to)) return 'bad range';
  if (request.range.from > request.range.to) return 'range is reversed';
  if (request.columns && !request.columns.every((c) => COLUMNS[request.report].includes(c))) return 'unknown column';
  return null;
}

// --- stand-ins for the warehouse and the object store ------------------------

function rangeDays(range) {
  return Math.max(1, Math.round((Date.parse(range.to) - Date.parse(range.from)) / 86_400_000) + 1);
}

/** Warehouse query stand-in: ~2 s of production time, rows proportional to the range. */
async function queryWarehouse(job) {
  const rows = Math.min(600, Math.round(rangeDays(job.range) * (2 + random() * 6)));
  await sleep(logNormal(1700, 0.55));
  const result = new Array(rows);
  for (let i = 0; i < rows; i++) result[i] = warehouseRow(job, i);
  return result;
}

function warehouseRow(job, i) {
  const day = 1 + (i % 28);
  const net = Math.round(random() * 250_000);
  return {
    number: `${job.accountId.slice(-4)}-${2024}${pad2(1 + (i % 12))}-${String(i).padStart(5, '0')}`,
    id: `${job.report.slice(0, 3)}_${i}`,
    issuedAt: `2024-${pad2(1 + (i % 12))}-${pad2(day)}`,
    dueAt: `2024-${pad2(1 + ((i + 1) % 12))}-${pad2(day)}`,
    customer: `Customer ${(i * 7919) % 5000}`,
    net,
    tax: Math.round(net * 0.19),
    gross: Math.round(net * 1.19),
    currency: 'EUR',
    status: i % 9 === 0 ? 'open' : 'paid',
  };
}

function csvCell(value) {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'number' ? (value / 100).toFixed(2) : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function toCsv(job, rows) {
  const lines = [job.columns.join(',')];
  for (const row of rows) lines.push(job.columns.map((c) => csvCell(row[c])).join(','));
  return lines.join('\n');
}

/** Object-store upload stand-in: ~300 ms of production time. */
async function upload(key, text) {
  await sleep(logNormal(300, 0.4));
  return { key, bytes: Buffer.byteLength(text), etag: `"${(text.length * 2654435761 >>> 0).toString(16)}"` };
}

async function runExport(job) {
  const startedAt = programSeconds();
  statuses.set(job.id, { state: 'running', accountId: job.accountId, submittedAt: job.submittedAt, startedAt });
  const rows = await queryWarehouse(job);
  const csv = toCsv(job, rows);
  const stored = await upload(`exports/${job.accountId}/${job.id}.${job.format}`, csv);
  counters.rowsExported += rows.length;
  counters.bytesUploaded += stored.bytes;
  return {
    state: 'done',
    accountId: job.accountId,
    submittedAt: job.submittedAt,
    finishedAt: programSeconds(),
    rows: rows.length,
    bytes: stored.bytes,
    url: `https://exports.example.com/${stored.key}?sig=${stored.etag.slice(1, -1)}`,
  };
}

async function worker() {
  for (;;) {
    const job = await exportQueue.take();
    counters.running++;
    try {
      statuses.set(job.id, await runExport(job));
      counters.done++;
    } catch (error) {
      statuses.set(job.id, { state: 'failed', accountId: job.accountId, submittedAt: job.submittedAt, finishedAt: programSeconds(), error: String(error) });
      counters.failed++;
    } finally {
      counters.running--;
    }
  }
}

for (let i = 0; i < WORKERS; i++) void worker();

function pruneStatuses() {
  const cutoff = programSeconds() - STATUS_TTL_S;
  for (const [id, status] of statuses) {
    if (status.finishedAt !== undefined && status.finishedAt < cutoff) statuses.delete(id);
  }
}

every(300_000 / speed, pruneStatuses); // every 5 production minutes

// --- HTTP ----------------------------------------------------------------------

function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    const url = new URL(req.url, 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true, queued: exportQueue.length, running: counters.running });
    if (req.method === 'POST' && parts[0] === 'v1' && parts[1] === 'accounts' && parts[3] === 'exports') {
      const request = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      const problem = validate(request);
      if (problem !== null) {
        counters.rejected++;
        return send(res, 422, { error: problem });
      }
      const job = toJob(request, parts[2], req.headers['x-user-id'] ?? 'unknown', programSeconds());
      statuses.set(job.id, { state: 'queued', accountId: job.accountId, submittedAt: job.submittedAt });
      exportQueue.push(job);
      counters.accepted++;
      return send(res, 202, { id: job.id, state: 'queued', position: exportQueue.length });
    }
    if (req.method === 'GET' && parts[0] === 'v1' && parts[1] === 'exports' && parts[2]) {
      const status = statuses.get(parts[2]);
      if (status === undefined) return send(res, 404, { error: 'unknown export' });
      return send(res, 200, { id: parts[2], ...status });
    }
    send(res, 404, { error: 'not found' });
  } catch (error) {
    send(res, 400, { error: String(error.message ?? error) });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// --- customers -----------------------------------------------------------------

const ACCOUNTS = Array.from({ length: 900 }, (_, i) => `acc_${(0x10000 + i * 7331).toString(36)}`);
const recentIds = [];

/** Exports requested per production second: a trickle plus a burst around each full hour. */
function exportRate() {
  const t = programSeconds() + START_MINUTE * 60;
  const hour = Math.floor((t + 300) / 3600);
  const offset = ((t + 300) % 3600) - 300; // seconds from the full hour, -300 .. 3300
  // Customers start clicking a minute before the hour; most do it in the first two minutes.
  let burst = 0;
  if (offset > -60 && offset <= 0) burst = 5 * ((offset + 60) / 60);
  else if (offset > 0 && offset < 180) burst = 5 * (1 - offset / 180);
  const size = 0.7 + ((hour * 2654435761) >>> 0) / 4294967296 * 0.6; // some hours are busier
  return 0.04 + burst * size;
}

function isoDate(daysAgo) {
  const d = new Date(Date.UTC(2024, 10, 30) - daysAgo * 86_400_000);
  return d.toISOString().slice(0, 10);
}

function exportRequest() {
  const report = pick(REPORTS);
  const days = random() < 0.6 ? 30 : random() < 0.7 ? 7 : 90;
  const end = Math.floor(random() * 20);
  const columns = random() < 0.3 ? COLUMNS[report].filter(() => random() < 0.7) : undefined;
  const i = Math.floor(random() * TIMEZONES.length);
  return {
    report,
    format: pick(FORMATS),
    range: { from: isoDate(end + days - 1), to: isoDate(end) },
    filters: random() < 0.5 ? { status: random() < 0.5 ? 'open' : 'paid', minAmount: Math.floor(random() * 1000) } : {},
    columns,
    timezone: TIMEZONES[i],
    locale: LOCALES[i],
    notify: { email: `user${Math.floor(random() * 5000)}@customer.example` },
    traceId: randomUUID().replace(/-/g, ''),
  };
}

selfRequests(port, {
  perSecond: exportRate,
  maxInFlight: 32,
  next: () => {
    const account = ACCOUNTS[Math.floor(Math.pow(random(), 1.6) * ACCOUNTS.length)];
    return {
      method: 'POST',
      path: `/v1/accounts/${account}/exports`,
      headers: { 'content-type': 'application/json', 'x-user-id': `u_${Math.floor(random() * 5000)}` },
      body: JSON.stringify(exportRequest()),
    };
  },
  onResponse: (status, text) => {
    if (status !== 202) return;
    recentIds.push(JSON.parse(text).id);
    if (recentIds.length > 200) recentIds.shift();
  },
});

// Customers polling for their download link, and the load balancer's health checks.
selfRequests(port, {
  perSecond: 0.4,
  maxInFlight: 8,
  next: () => {
    if (random() < 0.4 || recentIds.length === 0) return { method: 'GET', path: '/healthz' };
    return { method: 'GET', path: `/v1/exports/${recentIds[Math.floor(random() * recentIds.length)]}` };
  },
});

reportStats(() => ({
  retained: exportQueue.length,
  running: counters.running,
  peakQueued: exportQueue.peak,
  accepted: counters.accepted,
  done: counters.done,
  failed: counters.failed,
  rejected: counters.rejected,
  statuses: statuses.size,
}));

ready(`export-job-worker-pool: report exports queued in hourly bursts, drained by ${WORKERS} workers (ballast ${ballastMb} MB)`);
