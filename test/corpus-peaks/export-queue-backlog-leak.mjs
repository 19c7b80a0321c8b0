// Background-export API of a B2B invoicing product. POST /v1/exports takes the
// rows a user selected in the UI (invoice ids, filters, columns, format) and
// enqueues a job in an in-memory array queue; a single worker takes jobs one
// at a time, renders the CSV and uploads it to the storage backend (an
// in-process stand-in whose latency is production time scaled by the speed).
// The worker's throughput is fixed: with the storage backend's normal latency
// it keeps up with steady daytime traffic with room to spare, but from onset
// (1 h of production time) the backend gets slower and the worker completes
// only ~90 % of the jobs arriving, so the queue grows for the rest of the day.
// LEAKY: exportQueue is never bounded and the backlog never drains.
import { createHash, randomUUID } from 'node:crypto';
import {
  buildBallast, envNumber, listen, onShutdown, onsetSeconds, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 11);
const ONSET_S = onsetSeconds(3600);
const ARRIVALS_PER_S = 0.4; // steady daytime export requests (1 440/h)
const RENDER_S = 0.9; // worker CPU + DB time per job, production seconds
const STORAGE_NORMAL_S = 0.6; // upload latency before onset (capacity ~0.67 jobs/s)
const STORAGE_SLOW_S = 1 / (0.9 * ARRIVALS_PER_S) - RENDER_S; // after onset: ~1.88 s, capacity 0.36 jobs/s
const random = rng(1105);
const FORMATS = ['csv', 'csv', 'csv', 'xlsx'];
const COLUMNS = ['number', 'customer', 'issuedAt', 'dueAt', 'currency', 'net', 'tax', 'gross', 'status', 'paidAt', 'reference', 'costCentre'];

function clockHour() {
  return CLOCK_H + programSeconds() / 3600;
}

// --- the queue ------------------------------------------------------------------
const exportQueue = [];
const finished = []; // last 200 finished exports, for GET /v1/exports/:id
const totals = { enqueued: 0, exported: 0, rows: 0, uploadedBytes: 0 };

function createExportJob(request, now) {
  return {
    id: `exp_${randomUUID()}`,
    accountId: request.accountId,
    requestedBy: request.requestedBy,
    kind: request.kind,
    format: request.format,
    columns: request.columns.slice(),
    filters: { ...request.filters },
    invoiceIds: request.invoiceIds.slice(),
    notifyEmail: request.notifyEmail,
    status: 'queued',
    enqueuedAt: now,
  };
}

function invoiceRow(id, columns) {
  const n = Number.parseInt(id.slice(4), 36);
  const values = { number: id, customer: `Customer ${n % 997}`, issuedAt: '2024-03-01', dueAt: '2024-03-31', currency: 'EUR', net: (n % 90000) / 100, tax: (n % 17100) / 100, gross: (n % 107100) / 100, status: n % 3 ? 'paid' : 'open', paidAt: '', reference: `REF-${n % 100000}`, costCentre: `CC${n % 40}` };
  return columns.map((c) => String(values[c])).join(',');
}

// Storage backend stand-in: slower from onset.
const storage = {
  upload(key, body) {
    const base = programSeconds() >= ONSET_S ? STORAGE_SLOW_S : STORAGE_NORMAL_S;
    const latency = base * (0.9 + 0.2 * random());
    const etag = createHash('sha1').update(body).digest('hex');
    return new Promise((resolve) => setTimeout(() => resolve(etag), (latency * 1000) / speed));
  },
};

// --- the single worker --------------------------------------------------------
const wait = (productionSeconds) => new Promise((resolve) => setTimeout(resolve, (productionSeconds * 1000) / speed));
let stopping = false;
let idleWake = null;
onShutdown(() => {
  stopping = true;
  idleWake?.();
});

async function runExport(job) {
  const lines = [job.columns.join(',')];
  for (const id of job.invoiceIds) lines.push(invoiceRow(id, job.columns));
  const body = lines.join('\n');
  await wait(RENDER_S); // the database reads behind the rows
  const etag = await storage.upload(`exports/${job.accountId}/${job.id}.${job.format}`, body);
  totals.exported++;
  totals.rows += job.invoiceIds.length;
  totals.uploadedBytes += body.length;
  finished.push({ id: job.id, accountId: job.accountId, etag, rows: job.invoiceIds.length, finishedAt: programSeconds() });
  if (finished.length > 200) finished.shift();
}

async function worker() {
  while (!stopping) {
    const job = exportQueue.shift();
    if (job === undefined) {
      await new Promise((resolve) => (idleWake = resolve));
      idleWake = null;
      continue;
    }
    job.status = 'running';
    await runExport(job);
  }
}

// --- HTTP ---------------------------------------------------------------------
function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/exports') {
      const request = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8'));
      if (!Array.isArray(request.invoiceIds) || !Array.isArray(request.columns)) return send(res, 400, { error: 'invalid export' });
      const job = createExportJob(request, programSeconds());
      exportQueue.push(job);
      totals.enqueued++;
      idleWake?.();
      return send(res, 202, { id: job.id, position: exportQueue.length });
    }
    if (req.method === 'GET' && req.url.startsWith('/v1/exports/')) {
      const id = req.url.slice('/v1/exports/'.length);
      const done = finished.find((f) => f.id === id);
      return done ? send(res, 200, { ...done, status: 'done' }) : send(res, 200, { id, status: 'queued' });
    }
    if (req.url === '/healthz') return send(res, 200, { ok: true, queued: exportQueue.length });
    send(res, 404, { error: 'not found' });
  } catch (error) {
    send(res, 500, { error: String(error.message) });
  }
}

// --- users ------------------------------------------------------------------------
const recentIds = [];
function nextExport() {
  const account = Math.floor(random() ** 2 * 3000);
  const rows = 20 + Math.floor(random() ** 2 * 480); // 20-500 selected invoices
  const first = Math.floor(random() * 1e7);
  const invoiceIds = Array.from({ length: rows }, (_, i) => `inv_${(first + i * 7).toString(36).padStart(8, '0')}`);
  const columns = COLUMNS.filter(() => random() < 0.75);
  const body = JSON.stringify({
    accountId: `acc_${account}`, requestedBy: `user_${account}_${Math.floor(random() * 20)}`, kind: 'invoices', format: FORMATS[Math.floor(random() * 4)],
    columns: columns.length ? columns : ['number', 'gross'], filters: { status: random() < 0.5 ? 'open' : 'any', from: '2024-01-01', to: '2024-03-31' },
    invoiceIds, notifyEmail: `finance+${account}@example.com`,
  });
  return { method: 'POST', path: '/v1/exports', headers: { 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
worker();
const users = selfRequests(port, {
  perSecond: ARRIVALS_PER_S,
  next: nextExport,
  onResponse: (status, text) => {
    if (status === 202) recentIds.push(JSON.parse(text).id);
    if (recentIds.length > 100) recentIds.shift();
  },
});
const pollers = selfRequests(port, { perSecond: 0.5, next: () => (recentIds.length && random() < 0.8 ? { path: `/v1/exports/${recentIds[Math.floor(random() * recentIds.length)]}` } : { path: '/healthz' }) });
reportStats(() => ({
  retained: exportQueue.length,
  clock: Math.round(clockHour() * 100) / 100,
  slowStorage: programSeconds() >= ONSET_S,
  ...totals,
  failed: users.failed + pollers.failed,
}));
ready(`export API: one worker, storage slower from ${ONSET_S} s, backlog grows ~${Math.round(0.1 * ARRIVALS_PER_S * 3600)} jobs/h (clock ${CLOCK_H}h, ballast ${ballastMb} MB)`);
