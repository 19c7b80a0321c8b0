// Invoice outbox relay of an e-commerce platform: it polls the outbox table
// for new invoices (~3 a second) and posts each one to the accounting
// partner's REST API through a small HTTP client wrapper (class
// PartnerClient) with retries.
//
// A failed call is handed to class RetryScheduler: schedule() creates the
// retry closure (it captures the method, url, headers and the encoded request
// body), arms a timer with exponential backoff, and keeps {requestId,
// attempt, dueAt, timer, run} in its array `pending` so that shutdown can
// cancel what is still waiting. Entries are only removed when a request
// gives up after the last attempt; when the retry succeeds (almost always)
// nothing removes it, so each failed call keeps its ~11 KB body alive.
//
// For the first ~30 minutes the partner API is healthy; from then on it
// fails ~5 % of calls (503/504), as it did the day its new load balancer
// went live. SCENARIO_ONSET (speed-1 seconds) moves that moment.
import { randomUUID } from 'node:crypto';
import {
  buildBallast,
  listen,
  onsetSeconds,
  onShutdown,
  paced,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x4e7c1);
const failingFrom = onsetSeconds(1800);
const FAILURE_RATE = 0.05;

// --- the accounting partner's API (stand-in, in-process) ------------------------------------------

const partner = { calls: 0, failures: 0, bytes: 0 };

/** Latency log-normal, median 140 ms of production time. */
function partnerLatencyMs() {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(10_000, 140 * Math.exp(0.6 * z));
}

const partnerTimers = new Set();
function partnerTransport(method, url, headers, body) {
  partner.calls++;
  partner.bytes += body.length;
  const failing = programSeconds() >= failingFrom && random() < FAILURE_RATE;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      partnerTimers.delete(timer);
      if (failing) {
        partner.failures++;
        resolve({ status: random() < 0.7 ? 503 : 504, body: '{"error":"upstream unavailable"}' });
      } else resolve({ status: 201, body: `{"id":"acc-${partner.calls}","url":"${url}"}` });
    }, partnerLatencyMs() / speed);
    partnerTimers.add(timer);
  });
}

// --- the client wrapper -----------------------------------------------------------------------------

class RetryScheduler {
  constructor({ baseDelayMs, maxAttempts }) {
    this.baseDelayMs = baseDelayMs;
    this.maxAttempts = maxAttempts;
    this.pending = [];
    this.scheduled = 0;
    this.gaveUp = 0;
  }

  /** Arms a retry of `send` after the backoff for `attempt`; false when out of attempts. */
  schedule(requestId, attempt, run) {
    if (attempt >= this.maxAttempts) {
      this.gaveUp++;
      this.pending = this.pending.filter((entry) => entry.requestId !== requestId);
      return false;
    }
    const delayMs = this.baseDelayMs * 2 ** (attempt - 1) * (0.8 + random() * 0.4);
    const timer = setTimeout(run, delayMs / speed);
    this.pending.push({ requestId, attempt, dueAt: programSeconds() + delayMs / 1000, timer, run });
    this.scheduled++;
    return true;
  }

  cancelAll() {
    for (const entry of this.pending) clearTimeout(entry.timer);
  }
}

class PartnerClient {
  constructor(baseUrl, apiKey) {
    this.baseUrl = baseUrl;
    this.apiKey = apiKey;
    this.retries = new RetryScheduler({ baseDelayMs: 2_000, maxAttempts: 6 });
    this.stats = { ok: 0, failedAttempts: 0, okAfterRetry: 0, abandoned: 0 };
  }

  post(path, body, requestId = randomUUID()) {
    const headers = {
      'content-type': 'application/json',
      authorization: `ApiKey ${this.apiKey}`,
      'idempotency-key': requestId,
      'user-agent': 'invoice-outbox-relay/3.8.0',
    };
    return this.send('POST', `${this.baseUrl}${path}`, headers, body, requestId, 1);
  }

  async send(method, url, headers, body, requestId, attempt) {
    const response = await partnerTransport(method, url, headers, body);
    if (response.status < 300) {
      this.stats.ok++;
      if (attempt > 1) this.stats.okAfterRetry++;
      return response;
    }
    this.stats.failedAttempts++;
    const run = () => {
      this.send(method, url, headers, body, requestId, attempt + 1).catch(() => {});
    };
    if (!this.retries.schedule(requestId, attempt, run)) this.stats.abandoned++;
    return response;
  }
}

const client = new PartnerClient('https://api.books-partner.example/v2', 'ak_live_7f3e9c2b5d1a4e8f');
onShutdown(() => {
  client.retries.cancelAll();
  for (const timer of partnerTimers) clearTimeout(timer);
});

// --- the outbox ----------------------------------------------------------------------------------------

const PRODUCTS = ['Espresso machine', 'Coffee grinder', 'Milk frother', 'Descaler 1 l', 'Bean hopper', 'Tamper 58 mm', 'Knock box', 'Cleaning tablets', 'Water filter', 'Cup set'];
const STREETS = ['Hauptstrasse', 'Bahnhofstrasse', 'Lindenweg', 'Schillerplatz', 'Marktgasse'];
let invoiceSeq = 1_200_000;

/** The invoice as the partner's API wants it (JSON text, ~8-15 KB). */
function encodeInvoice(seq) {
  const lineCount = 30 + Math.floor(random() * 40);
  const lines = [];
  let net = 0;
  for (let i = 0; i < lineCount; i++) {
    const product = PRODUCTS[(seq + i * 3) % PRODUCTS.length];
    const unit = 299 + ((seq * 31 + i * 977) % 40_000);
    const quantity = 1 + ((seq + i) % 4);
    net += unit * quantity;
    lines.push({
      position: i + 1,
      sku: `SKU-${((seq * 7 + i) % 90_000).toString(36).toUpperCase()}`,
      description: `${product} - order line ${i + 1} of ${lineCount}, shipped from warehouse ${1 + (i % 4)}`,
      quantity,
      unitPriceCents: unit,
      taxRate: i % 7 === 0 ? 7 : 19,
      accountCode: i % 7 === 0 ? '8300' : '8400',
      costCenter: `CC-${100 + (seq % 40)}`,
    });
  }
  return JSON.stringify({
    externalId: `INV-${seq}`,
    issueDate: new Date(Date.UTC(2024, 9, 1) + programSeconds() * 1000).toISOString().slice(0, 10),
    currency: 'EUR',
    customer: {
      number: `C-${seq % 50_000}`,
      name: `Customer ${seq % 50_000} GmbH`,
      vatId: `DE${String(100_000_000 + (seq % 899_999_999)).slice(0, 9)}`,
      address: { street: `${STREETS[seq % STREETS.length]} ${1 + (seq % 120)}`, zip: String(10_000 + (seq % 89_999)), city: 'Berlin', country: 'DE' },
    },
    lines,
    totals: { netCents: net, taxCents: Math.round(net * 0.19), grossCents: Math.round(net * 1.19) },
    notes: 'Payable within 14 days without deduction. Thank you for your order.',
  });
}

const outbox = { published: 0, inFlight: 0 };

function publishNext() {
  const seq = invoiceSeq++;
  outbox.inFlight++;
  client
    .post('/invoices', encodeInvoice(seq))
    .catch(() => {})
    .finally(() => {
      outbox.inFlight--;
      outbox.published++;
    });
}

// --- HTTP: health and status ------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handler(req, res) {
  if (req.url === '/healthz') return sendJson(res, 200, { ok: true });
  if (req.url === '/v1/outbox/status') return sendJson(res, 200, { ...outbox, client: client.stats, retries: { scheduled: client.retries.scheduled } });
  sendJson(res, 404, { error: 'not found' });
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const probes = selfRequests(port, {
  perSecond: 0.25,
  maxInFlight: 2,
  next: () => ({ method: 'GET', path: random() < 0.8 ? '/healthz' : '/v1/outbox/status' }),
});

// The outbox poller: ~3 new invoices a second.
paced(3, (due) => {
  for (let i = 0; i < due; i++) publishNext();
});

reportStats(() => ({
  retained: client.retries.pending.length,
  published: outbox.published,
  failedAttempts: client.stats.failedAttempts,
  okAfterRetry: client.stats.okAfterRetry,
  abandoned: client.stats.abandoned,
  partnerFailing: programSeconds() >= failingFrom,
  requestsFailed: probes.failed,
}));

ready(
  `retry-timer-closure-leak: invoice outbox relay, 3 calls/s to a partner API failing 5 % from ${failingFrom} s; every retry closure (with its ~11 KB body) kept in RetryScheduler.pending after success (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
