// Webhook delivery service. The shop's backends enqueue webhook jobs (POST
// /v1/jobs, ~4/s); a consumer delivers them to the partner's endpoint, at most
// 16 deliveries/s (the partner's rate limit). Healthy: at 1 h 45 min the
// partner's endpoint goes down for 45 minutes. After 5 consecutive failures the
// consumer's circuit breaker opens and the consumer stalls, probing the
// partner's health check every 30 s, while the producers keep enqueuing (the
// backlog reaches ~10 800 jobs, tens of MB). When the partner is back the
// breaker closes and the backlog drains at 16/s against 4/s of new jobs, in
// about 15 minutes. Nothing is kept after delivery beyond a bounded history.
import {
  buildBallast,
  every,
  listen,
  paced,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const ballastMb = buildBallast();

const OUTAGE_AT_S = 6300; // 1 h 45 min
const OUTAGE_FOR_S = 2700; // 45 min
const DELIVERIES_PER_S = 16; // partner rate limit
const CONCURRENCY = 8;
const BREAKER_THRESHOLD = 5;
const BREAKER_PROBE_S = 30;
const MAX_QUEUE = 100_000; // refuse new jobs beyond this (429)
const HISTORY = 1_000;

// --- The partner's endpoint (in-process stand-in) -----------------------------

const latency = rng(4242);
function partnerDown(now) {
  return now >= OUTAGE_AT_S && now < OUTAGE_AT_S + OUTAGE_FOR_S;
}

function callPartner(job) {
  const now = programSeconds();
  if (partnerDown(now)) {
    // connect timeout after 5 s
    return new Promise((_, reject) => setTimeout(() => reject(new Error('ETIMEDOUT')), scaledMs(5)));
  }
  const ms = 60 * Math.exp(0.5 * (latency() * 2 - 1)) + job.payload.length / 100;
  return new Promise((resolve) => setTimeout(() => resolve(200), scaledMs(ms / 1000)));
}

function probePartner() {
  return partnerDown(programSeconds()) ? Promise.reject(new Error('ETIMEDOUT')) : Promise.resolve(200);
}

// --- The queue -------------------------------------------------------------

class JobQueue {
  constructor(maxLength) {
    this.maxLength = maxLength;
    this.items = [];
    this.head = 0;
  }

  get length() {
    return this.items.length - this.head;
  }

  push(job) {
    if (this.length >= this.maxLength) return false;
    this.items.push(job);
    return true;
  }

  unshift(job) {
    if (this.head > 0) this.items[--this.head] = job;
    else this.items.unshift(job);
  }

  shift() {
    if (this.head >= this.items.length) return undefined;
    const job = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return job;
  }
}

const queue = new JobQueue(MAX_QUEUE);
const history = []; // last HISTORY deliveries for the status page
const counters = { enqueued: 0, refused: 0, delivered: 0, failures: 0, requeued: 0, breakerOpened: 0, probes: 0, statusReads: 0 };
const breaker = { state: 'closed', consecutiveFailures: 0, openedAt: 0, nextProbeAt: 0 };
let inFlight = 0;
let nextJobSeq = 1;
let peakQueue = 0;

function toJob(body, raw, now) {
  return {
    id: `job_${(nextJobSeq++).toString(36)}`,
    type: body.type,
    target: body.target,
    event: body.event,
    headers: { 'content-type': 'application/json', 'x-webhook-id': body.webhookId, 'x-signature': body.signature },
    payload: raw,
    enqueuedAt: now,
    attempts: 0,
    lastError: null,
  };
}

function recordDelivery(job, now) {
  history.push({ id: job.id, event: job.event, attempts: job.attempts, waitedSeconds: now - job.enqueuedAt });
  if (history.length > HISTORY) history.shift();
}

async function deliver(job) {
  inFlight++;
  job.attempts++;
  try {
    await callPartner(job);
    counters.delivered++;
    breaker.consecutiveFailures = 0;
    recordDelivery(job, programSeconds());
  } catch (error) {
    counters.failures++;
    job.lastError = error.message;
    queue.unshift(job); // keep its place
    counters.requeued++;
    if (++breaker.consecutiveFailures >= BREAKER_THRESHOLD && breaker.state === 'closed') {
      breaker.state = 'open';
      breaker.openedAt = programSeconds();
      breaker.nextProbeAt = breaker.openedAt + BREAKER_PROBE_S;
      counters.breakerOpened++;
    }
  } finally {
    inFlight--;
    pump();
  }
}

/** Token bucket for the partner's rate limit, refilled at DELIVERIES_PER_S (at most one second's worth banked). */
const limiter = { tokens: 0 };

function pump() {
  while (breaker.state === 'closed' && inFlight < CONCURRENCY && limiter.tokens >= 1) {
    const job = queue.shift();
    if (job === undefined) return;
    limiter.tokens--;
    deliver(job);
  }
}
paced(DELIVERIES_PER_S, (due) => {
  limiter.tokens = Math.min(limiter.tokens + due, DELIVERIES_PER_S * speed);
  pump();
});

every(scaledMs(1), () => {
  if (breaker.state !== 'open' || programSeconds() < breaker.nextProbeAt) return;
  counters.probes++;
  breaker.nextProbeAt = programSeconds() + BREAKER_PROBE_S;
  probePartner().then(
    () => {
      breaker.state = 'closed';
      breaker.consecutiveFailures = 0;
      pump();
    },
    () => {},
  );
});

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const now = programSeconds();
  if (req.method === 'POST' && req.url === '/v1/jobs') {
    const raw = (await readBody(req)).toString('utf8');
    const envelope = JSON.parse(raw);
    const job = toJob(envelope, envelope.payload, now);
    if (!queue.push(job)) {
      counters.refused++;
      return send(res, 429, { error: 'queue full' });
    }
    counters.enqueued++;
    if (queue.length > peakQueue) peakQueue = queue.length;
    return send(res, 202, { id: job.id, position: queue.length });
  }
  req.resume();
  if (req.url === '/v1/queue') {
    counters.statusReads++;
    let waited = 0;
    for (const h of history) waited += h.waitedSeconds;
    return send(res, 200, { depth: queue.length, inFlight, breaker: breaker.state, delivered: counters.delivered, avgWaitSeconds: history.length ? waited / history.length : 0 });
  }
  if (req.url === '/healthz') return send(res, 200, { ok: true });
  return send(res, 404, { error: 'not found' });
}

const { port } = await listen((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) send(res, 400, { error: 'bad request' });
  });
});

// --- Load: order and shipment events from the shop's backends, a dashboard -----

const random = rng(1807);
const JOBS_PER_S = 4;
const EVENTS = ['order.created', 'order.paid', 'order.shipped', 'order.delivered', 'refund.created', 'customer.updated'];
const SKUS = ['SKU-TEE-BLK-M', 'SKU-HOOD-GRY-M', 'SKU-JEAN-IND-32', 'SKU-SOCK-3PK', 'SKU-CAP-NVY', 'SKU-BAG-TOTE', 'SKU-JKT-OLV-L'];

function eventPayload(event, seq) {
  const items = [];
  const n = 1 + Math.floor(random() * 5);
  for (let i = 0; i < n; i++) {
    const sku = SKUS[Math.floor(random() * SKUS.length)];
    items.push({
      sku,
      quantity: 1 + Math.floor(random() * 2),
      unitPriceCents: 1500 + Math.floor(random() * 20000),
      taxRateBps: 1900,
      title: 'Item description as shown on the invoice',
      productUrl: `https://shop.example.com/products/${sku.toLowerCase()}`,
      imageUrl: `https://cdn.example.com/images/${sku.toLowerCase()}/main-800x800.jpg`,
    });
  }
  return JSON.stringify({
    id: `evt_${seq.toString(36)}${Math.floor(random() * 1e9).toString(36)}`,
    type: event,
    createdAt: new Date(1_720_000_000_000 + programSeconds() * 1000).toISOString(),
    data: {
      orderId: `ord_${Math.floor(random() * 1e8).toString(36)}`,
      customer: { id: `cus_${Math.floor(random() * 1e7).toString(36)}`, email: `buyer${Math.floor(random() * 1e6)}@example.com`, name: 'Firstname Lastname' },
      items,
      shippingAddress: { name: 'Firstname Lastname', line1: `Musterstraße ${1 + Math.floor(random() * 200)}`, line2: null, city: 'Berlin', postalCode: '10115', country: 'DE', phone: '+49 30 1234567' },
      billingAddress: { name: 'Firstname Lastname', line1: `Musterstraße ${1 + Math.floor(random() * 200)}`, city: 'Berlin', postalCode: '10115', country: 'DE', vatId: null },
      discounts: random() < 0.2 ? [{ code: 'SUMMER10', amountCents: 1290 }] : [],
      metadata: { source: 'storefront', channel: random() < 0.6 ? 'web' : 'app', campaign: 'utm_source=newsletter&utm_medium=email&utm_campaign=summer-sale', locale: 'de-DE' },
      totals: { subtotalCents: 12900, shippingCents: 495, taxCents: 2451, currency: 'EUR' },
      tracking: event === 'order.shipped' ? { carrier: 'DHL', number: `00340434${Math.floor(random() * 1e10)}` } : null,
    },
  });
}

let seq = 0;
function nextRequest() {
  if (random() < 0.01) return { method: 'GET', path: random() < 0.5 ? '/v1/queue' : '/healthz' };
  const event = EVENTS[Math.floor(random() * EVENTS.length)];
  seq++;
  const envelope = {
    type: 'webhook',
    target: `https://partner-${seq % 3}.example.net/hooks/shop`,
    event,
    webhookId: `wh_${seq.toString(36)}`,
    signature: `t=${Math.floor(programSeconds())},v1=${Math.floor(random() * 2 ** 52).toString(16)}${Math.floor(random() * 2 ** 52).toString(16)}`,
    payload: eventPayload(event, seq),
  };
  return { method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) };
}

const http = selfRequests(port, { perSecond: JOBS_PER_S / 0.99, maxInFlight: 32, next: nextRequest });

reportStats(() => ({
  retained: queue.length,
  peakQueue,
  inFlight,
  breaker: breaker.state,
  partner: partnerDown(programSeconds()) ? 'down' : 'up',
  history: history.length,
  ...counters,
  sent: http.sent,
  failed: http.failed,
}));

ready(
  `webhook-job-queue-upstream-outage-drain on 127.0.0.1:${port}: ~${JOBS_PER_S} jobs/s at speed 1 (x${speed}), partner down ${OUTAGE_AT_S}-${OUTAGE_AT_S + OUTAGE_FOR_S} s, consumer stalls then drains at ${DELIVERIES_PER_S}/s` +
    (ballastMb > 0 ? ` (ballast ${ballastMb} MB)` : ''),
);
