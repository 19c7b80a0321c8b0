// Invoice-export service of a billing platform. Customers' accounting tools
// and the nightly-ish export buttons POST /v1/exports; each export is a job
// (invoice header, customer, line items, render options) put on an in-memory
// FIFO queue and rendered to PDF by a single worker that talks to a headless
// renderer process (an in-process stand-in here). Status polls and health
// checks come in between.
//
// The queue is hand-written like yocto-queue / fastq: a singly linked list of
// QueueNode {value, next} with head and tail pointers, no array. The worker is
// one async loop: shift a job, await the renderer, repeat; it sleeps on a
// promise when the queue is empty and push() wakes it up.
//
// The renderer call is a promise resolved by the renderer's 'rendered' event
// for that job id. After SCENARIO_ONSET (default 1.5 h) the renderer process
// wedges (its page crashed; the process is alive but never answers again).
// renderPdf() has no timeout, so the worker is stuck forever in `await`, and
// every job submitted from then on piles up on the linked list.
import { EventEmitter } from 'node:events';
import {
  buildBallast,
  listen,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x9df1a7);
const ONSET_S = onsetSeconds(5400);

// --- the queue ------------------------------------------------------------------

class QueueNode {
  constructor(value) {
    this.value = value;
    this.next = undefined;
  }
}

class JobQueue {
  constructor() {
    this.head = undefined;
    this.tail = undefined;
    this.length = 0;
    this.enqueued = 0;
    this.waiter = null;
  }

  push(value) {
    const node = new QueueNode(value);
    if (this.tail) {
      this.tail.next = node;
      this.tail = node;
    } else {
      this.head = node;
      this.tail = node;
    }
    this.length++;
    this.enqueued++;
    if (this.waiter !== null) {
      const wake = this.waiter;
      this.waiter = null;
      wake();
    }
  }

  shift() {
    const node = this.head;
    if (!node) return undefined;
    this.head = node.next;
    if (!this.head) this.tail = undefined;
    this.length--;
    return node.value;
  }

  /** Resolves when something is pushed. */
  whenNotEmpty() {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}

const renderQueue = new JobQueue();

// --- the renderer (stand-in for a headless Chromium behind a pipe) ------------------

class PdfRenderer extends EventEmitter {
  constructor() {
    super();
    this.wedged = false;
    this.rendered = 0;
    this.setMaxListeners(0);
  }

  submit(job) {
    if (this.wedged) return; // the page crashed: the process never answers again
    // layout + print: 150-500 ms of production time per document
    setTimeout(() => {
      this.rendered++;
      const pages = 1 + Math.ceil(job.lines.length / 25);
      this.emit('rendered', job.id, { pages, bytes: 18_000 + job.lines.length * 900 });
    }, scaledMs(0.15 + random() * 0.35));
  }
}

const renderer = new PdfRenderer();
setTimeout(() => {
  renderer.wedged = true;
}, onsetMs(5400)).unref();

function renderPdf(job) {
  return new Promise((resolve) => {
    const onRendered = (id, result) => {
      if (id !== job.id) return;
      renderer.off('rendered', onRendered);
      resolve(result);
    };
    renderer.on('rendered', onRendered);
    renderer.submit(job);
  });
}

// --- the worker ----------------------------------------------------------------------

const RECENT_MAX = 500;
const recent = new Map(); // job id -> status, for the status endpoint (bounded)
const worker = { busyWith: null, done: 0, pages: 0 };

function remember(id, status) {
  recent.set(id, status);
  if (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value);
}

async function runWorker() {
  for (;;) {
    const job = renderQueue.shift();
    if (job === undefined) {
      await renderQueue.whenNotEmpty();
      continue;
    }
    worker.busyWith = job.id;
    remember(job.id, { state: 'rendering', startedAt: programSeconds() });
    const result = await renderPdf(job);
    worker.busyWith = null;
    worker.done++;
    worker.pages += result.pages;
    remember(job.id, { state: 'done', pages: result.pages, bytes: result.bytes, finishedAt: programSeconds() });
  }
}

// --- jobs ---------------------------------------------------------------------------------

let nextJobId = 1;

function toLine(raw, currency) {
  return {
    sku: raw.sku,
    description: raw.description,
    quantity: raw.quantity,
    unitPrice: raw.unitPrice,
    taxRate: raw.taxRate,
    total: Math.round(raw.quantity * raw.unitPrice * (1 + raw.taxRate)),
    currency,
  };
}

/** The job the worker renders: invoice header, customer, lines and render options. */
function toRenderJob(tenantId, body) {
  const lines = body.lines.map((line) => toLine(line, body.currency));
  return {
    id: `exp_${(nextJobId++).toString(36)}`,
    tenantId,
    invoiceNumber: body.invoiceNumber,
    customer: { name: body.customer.name, vatId: body.customer.vatId, address: body.customer.address.join('\n') },
    lines,
    currency: body.currency,
    template: body.template ?? 'standard',
    locale: body.locale ?? 'en-GB',
    submittedAt: programSeconds(),
    attempts: 0,
  };
}

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://exports.local');
  if (req.method === 'POST' && url.pathname.startsWith('/v1/tenants/') && url.pathname.endsWith('/exports')) {
    const tenantId = url.pathname.split('/')[3];
    let body;
    try {
      body = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8'));
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    if (!Array.isArray(body.lines) || body.lines.length === 0 || typeof body.invoiceNumber !== 'string') {
      return sendJson(res, 422, { error: 'invoiceNumber and lines are required' });
    }
    const job = toRenderJob(tenantId, body);
    renderQueue.push(job);
    remember(job.id, { state: 'queued' });
    return sendJson(res, 202, { id: job.id, position: renderQueue.length });
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/exports/')) {
    const status = recent.get(url.pathname.slice('/v1/exports/'.length));
    return status ? sendJson(res, 200, status) : sendJson(res, 404, { error: 'unknown export' });
  }
  if (req.method === 'GET' && url.pathname === '/healthz') {
    // the health check only says the process is up (nobody looks at the queue)
    return sendJson(res, 200, { ok: true });
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- clients ------------------------------------------------------------------------------

const PRODUCTS = ['Consulting hours', 'Support plan', 'Licence seat', 'Hosting (monthly)', 'Data transfer (GB)', 'Onboarding workshop', 'Storage (TB)', 'SMS bundle'];
const STREETS = ['Harbour Road', 'Mill Lane', 'Station Street', 'Kingsway', 'Market Square', 'Church Walk'];
const CITIES = ['Leeds', 'Bristol', 'Utrecht', 'Lyon', 'Porto', 'Gdansk'];
const recentIds = [];

function exportRequest() {
  const tenant = Math.floor(random() ** 2 * 120);
  const lineCount = 1 + Math.floor(Math.exp(random() * 2.8)); // 1..16, mostly short
  const lines = [];
  for (let i = 0; i < lineCount; i++) {
    const product = Math.floor(random() * PRODUCTS.length);
    lines.push({
      sku: `SKU-${product}-${Math.floor(random() * 40)}`,
      description: `${PRODUCTS[product]} - period ${1 + Math.floor(random() * 12)}/2024`,
      quantity: 1 + Math.floor(random() * 20),
      unitPrice: 500 + Math.floor(random() * 20000),
      taxRate: [0.2, 0.21, 0.19, 0.0][product % 4],
    });
  }
  const n = Math.floor(random() * 1e6);
  const body = JSON.stringify({
    invoiceNumber: `INV-${tenant}-${n}`,
    currency: tenant % 3 === 0 ? 'GBP' : 'EUR',
    customer: {
      name: `Customer ${n % 9000} Ltd`,
      vatId: `GB${100000000 + (n % 899999999)}`,
      address: [`${1 + (n % 200)} ${STREETS[n % STREETS.length]}`, CITIES[n % CITIES.length], `${10000 + (n % 89999)}`],
    },
    lines,
    template: tenant % 5 === 0 ? 'compact' : 'standard',
    locale: tenant % 3 === 0 ? 'en-GB' : 'nl-NL',
  });
  return { method: 'POST', path: `/v1/tenants/t${tenant}/exports`, headers: { 'content-type': 'application/json' }, body };
}

function pollRequest() {
  if (random() < 0.15 || recentIds.length === 0) return { method: 'GET', path: '/healthz' };
  return { method: 'GET', path: `/v1/exports/${recentIds[Math.floor(random() * recentIds.length)]}` };
}

function onSubmitted(status, text) {
  if (status !== 202) return;
  recentIds.push(JSON.parse(text).id);
  if (recentIds.length > 200) recentIds.shift();
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
runWorker();

const submitters = selfRequests(port, { perSecond: 1.2, maxInFlight: 8, next: exportRequest, onResponse: onSubmitted });
const pollers = selfRequests(port, { perSecond: 0.8, maxInFlight: 8, next: pollRequest });

reportStats(() => ({
  retained: renderQueue.length,
  enqueued: renderQueue.enqueued,
  rendered: worker.done,
  workerStuckOn: renderer.wedged ? worker.busyWith : null,
  rendererWedged: renderer.wedged,
  requestsFailed: submitters.failed + pollers.failed,
}));

ready(
  `invoice-pdf-linked-queue-stalled-worker-leak: export jobs on a linked-list queue, single PDF worker hangs on the renderer from ${ONSET_S} s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
