// Job scheduler of a billing platform. Its one heavy job, `invoice-reminders`,
// runs every 90 minutes (first at 20 min): a BatchRun pages the overdue
// invoices out of the billing service's work-item API
// (GET /internal/work-items, served here by a stand-in route of the same
// server) in chunks of 500, keeps them all in `run.items` (the job needs the
// whole batch to group reminders per customer and to de-duplicate), then
// works through them over ~20 minutes at a steady pace (rendering and
// "sending" one reminder per item) and finally drops the batch, keeping only
// a summary of the run. Between runs only the scheduler itself and a trickle
// of status requests remain.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xb47c4);

// --- the billing service's work-item API (stand-in) ------------------------------------

const FIRST = ['Ada', 'Bram', 'Clara', 'Dev', 'Eva', 'Femi', 'Greta', 'Hugo', 'Ines', 'Jules', 'Kira', 'Lars'];
const LAST = ['Okafor', 'van Dijk', 'Moreau', 'Lindqvist', 'Novak', 'Ferreira', 'Schulz', 'Byrne'];
const PLANS = ['starter', 'team', 'business', 'enterprise'];
const LOCALES = ['en-GB', 'de-DE', 'fr-FR', 'nl-NL', 'sv-SE'];

/** One overdue invoice as the billing service returns it. */
function workItem(run, index) {
  const n = run * 1_000_003 + index * 7919;
  const first = FIRST[n % FIRST.length];
  const last = LAST[(n >> 4) % LAST.length];
  const lineCount = 1 + (n % 4);
  const lines = [];
  let total = 0;
  for (let l = 0; l < lineCount; l++) {
    const amount = 900 + ((n * (l + 3)) % 40_000);
    total += amount;
    lines.push({ description: `${PLANS[(n + l) % PLANS.length]} plan, ${1 + ((n + l) % 25)} seats, period ${l + 1}`, amount });
  }
  return {
    invoiceId: `inv_${run}_${index.toString(36).padStart(5, '0')}`,
    customerId: `cus_${(n % 180_000).toString(36)}`,
    email: `${first}.${last.replace(' ', '')}${n % 1000}@customer.example`.toLowerCase(),
    name: `${first} ${last}`,
    amountDue: total,
    currency: n % 7 === 0 ? 'GBP' : 'EUR',
    dueDate: new Date(Date.UTC(2024, 5, 1) - (n % 60) * 86_400_000).toISOString().slice(0, 10),
    daysOverdue: 1 + (n % 60),
    remindersSent: n % 3,
    locale: LOCALES[n % LOCALES.length],
    billingAddress: { line1: `${1 + (n % 300)} ${last} Street`, city: ['London', 'Berlin', 'Paris', 'Utrecht', 'Malmo'][n % 5], postcode: String(10_000 + (n % 89_999)), country: ['GB', 'DE', 'FR', 'NL', 'SE'][n % 5] },
    lines,
  };
}

/** Size of each run's batch: how many invoices are overdue when it starts. */
function batchSize(run) {
  return 24_000 + ((run * 7_919) % 6_000);
}

// --- scheduler, runs ---------------------------------------------------------------------------

const CHUNK = 500;
const PROCESS_SECONDS = 20 * 60;

class BatchRun {
  constructor(id, job, startedAt) {
    this.id = id;
    this.job = job;
    this.startedAt = startedAt;
    this.state = 'loading';
    this.expected = null;
    this.cursor = 0;
    this.items = [];
    this.processed = 0;
    this.sent = 0;
    this.skipped = 0;
    this.perCustomer = new Map();
    this.loadedAt = null;
    this.finishedAt = null;
  }

  addChunk(page) {
    this.expected = page.total;
    for (const item of page.items) this.items.push(item);
    this.cursor = page.nextCursor ?? this.cursor;
    if (page.nextCursor === null) {
      this.state = 'processing';
      this.loadedAt = programSeconds();
      for (const item of this.items) this.perCustomer.set(item.customerId, (this.perCustomer.get(item.customerId) ?? 0) + 1);
    }
  }

  /** Works through the batch at a pace that spreads it over PROCESS_SECONDS. */
  processFor(seconds) {
    if (this.state !== 'processing') return;
    const quota = Math.ceil((this.items.length / PROCESS_SECONDS) * seconds);
    const end = Math.min(this.items.length, this.processed + quota);
    for (; this.processed < end; this.processed++) {
      const item = this.items[this.processed];
      if (item.remindersSent >= 3 || item.amountDue < 1000) {
        this.skipped++;
        continue;
      }
      mailer.send(item.email, renderReminder(item, this.perCustomer.get(item.customerId)));
      this.sent++;
    }
    if (this.processed >= this.items.length) {
      this.state = 'done';
      this.finishedAt = programSeconds();
    }
  }

  summary() {
    return { id: this.id, job: this.job, startedAt: this.startedAt, loadedAt: this.loadedAt, finishedAt: this.finishedAt, items: this.items.length, sent: this.sent, skipped: this.skipped };
  }
}

function formatMoney(cents, currency) {
  return `${currency} ${(cents / 100).toFixed(2)}`;
}

function renderReminder(item, openInvoices) {
  const level = ['friendly', 'second', 'final'][item.remindersSent];
  return `Dear ${item.name},\n\nthis is a ${level} reminder that invoice ${item.invoiceId} over ${formatMoney(item.amountDue, item.currency)} was due on ${item.dueDate} (${item.daysOverdue} days ago).${openInvoices > 1 ? ` You have ${openInvoices} open invoices.` : ''}\n\n${item.lines.map((l) => `- ${l.description}: ${formatMoney(l.amount, item.currency)}`).join('\n')}\n`;
}

const mailer = {
  sent: 0,
  bytes: 0,
  send(to, text) {
    this.sent++;
    this.bytes += text.length + to.length;
  },
};

const JOBS = [{ name: 'invoice-reminders', everySeconds: 90 * 60, firstAtSeconds: 20 * 60 }];
const scheduler = { runs: 0, nextAt: new Map(JOBS.map((job) => [job.name, job.firstAtSeconds])), history: [] };
/** The run in progress, if any. */
let currentRun = null;
let lastTick = 0;

function schedulerTick() {
  const now = programSeconds();
  const elapsed = now - lastTick;
  lastTick = now;
  if (currentRun !== null) {
    currentRun.processFor(elapsed);
    if (currentRun.state === 'done') {
      scheduler.history.push(currentRun.summary());
      if (scheduler.history.length > 20) scheduler.history.shift();
      currentRun = null; // the batch goes with it
    }
    return;
  }
  for (const job of JOBS) {
    if (now >= scheduler.nextAt.get(job.name)) {
      scheduler.runs++;
      currentRun = new BatchRun(scheduler.runs, job.name, now);
      scheduler.nextAt.set(job.name, scheduler.nextAt.get(job.name) + job.everySeconds);
      break;
    }
  }
}

// --- HTTP -----------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://scheduler.local');
  if (url.pathname === '/internal/work-items') {
    const run = Number(url.searchParams.get('run'));
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    const limit = Math.min(1000, Number(url.searchParams.get('limit') ?? CHUNK));
    const total = batchSize(run);
    const items = [];
    for (let i = cursor; i < Math.min(total, cursor + limit); i++) items.push(workItem(run, i));
    const next = cursor + items.length;
    return sendJson(res, 200, { total, items, nextCursor: next < total ? next : null });
  }
  if (url.pathname === '/v1/runs/current') {
    if (currentRun === null) return sendJson(res, 200, { running: false, nextAt: Object.fromEntries(scheduler.nextAt) });
    const { id, state, cursor, expected, processed, sent } = currentRun;
    return sendJson(res, 200, { running: true, id, state, cursor, expected, processed, sent });
  }
  if (url.pathname === '/v1/runs') return sendJson(res, 200, scheduler.history);
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
  sendJson(res, 404, { error: 'not found' });
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// The loader: one chunk request at a time, one every 4 s while a run is loading.
let chunkInFlight = false;
const loader = selfRequests(port, {
  perSecond: 0.25,
  maxInFlight: 1,
  next: () => {
    if (currentRun === null || currentRun.state !== 'loading' || chunkInFlight) return null;
    chunkInFlight = true;
    return { method: 'GET', path: `/internal/work-items?job=${currentRun.job}&run=${currentRun.id}&cursor=${currentRun.cursor}&limit=${CHUNK}`, run: currentRun };
  },
  onResponse: (status, text, request) => {
    chunkInFlight = false;
    if (status === 200 && request.run === currentRun) currentRun.addChunk(JSON.parse(text));
  },
});
// Operators and the on-call dashboard: 0.2 req/s.
const operators = selfRequests(port, {
  perSecond: 0.2,
  maxInFlight: 4,
  next: () => {
    const roll = random();
    return { method: 'GET', path: roll < 0.5 ? '/v1/runs/current' : roll < 0.7 ? '/v1/runs' : '/healthz' };
  },
});

// The scheduler wakes up every 5 s of production time.
every(5000 / speed, schedulerTick);

reportStats(() => ({
  retained: currentRun === null ? 0 : currentRun.items.length,
  state: currentRun === null ? 'idle' : currentRun.state,
  processed: currentRun === null ? 0 : currentRun.processed,
  runs: scheduler.runs,
  completedRuns: scheduler.history.length,
  mailsSent: mailer.sent,
  requestsFailed: loader.failed + operators.failed,
}));

ready(
  `invoice-reminder-batch-scheduler: every 90 min (from 20 min) loads ~27 000 overdue invoices in chunks of 500, works through them over 20 min, drops them (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
