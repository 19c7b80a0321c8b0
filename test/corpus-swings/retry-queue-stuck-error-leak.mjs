// Outbound-webhook job queue of an e-commerce platform. Each job delivers one
// signed event (an order, a refund, a stock change) to a merchant's endpoint.
// A failed delivery waits in the retry list with an exponential backoff that
// depends on the error (timeouts, resets, 429/5xx), up to a per-error number
// of attempts; 4xx answers give up at once. Most retried jobs succeed on the
// second or third attempt.
//
// At the onset the HTTP client library is upgraded (4.x -> 6.0, the
// "dependency upgrade"). The new version reports a dropped connection as
// UND_ERR_SOCKET instead of ECONNRESET. That code is in neither RETRY_POLICY
// nor FATAL_CODES, so the entry gets a NaN next-attempt time and an
// undefined attempt limit: the retry sweep never requeues it and never gives
// it up. It stays in `retryList`, payload and error included.
import { createHmac } from 'node:crypto';
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
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const CONCURRENCY = 8;
const RETRY_SWEEP_SECONDS = 5;
const CLIENT_UPGRADE_AT = onsetSeconds(7200);
const SIGNING_SECRET = 'whsec_5f0c2a9e7b1d4c3a';

const RETRY_POLICY = {
  ETIMEDOUT: { baseSeconds: 30, maxAttempts: 8 },
  ECONNRESET: { baseSeconds: 15, maxAttempts: 8 },
  ECONNREFUSED: { baseSeconds: 60, maxAttempts: 10 },
  HTTP_429: { baseSeconds: 60, maxAttempts: 12 },
  HTTP_502: { baseSeconds: 30, maxAttempts: 10 },
  HTTP_503: { baseSeconds: 45, maxAttempts: 10 },
  HTTP_504: { baseSeconds: 30, maxAttempts: 10 },
};
const FATAL_CODES = new Set(['HTTP_400', 'HTTP_401', 'HTTP_403', 'HTTP_404', 'HTTP_410', 'HTTP_413']);
const MAX_BACKOFF_SECONDS = 3600;

// --- Jobs --------------------------------------------------------------------------

class DeliveryError extends Error {
  constructor(message, code, { endpoint, status, clientVersion }) {
    super(message);
    this.name = 'DeliveryError';
    this.code = code;
    this.endpoint = endpoint;
    this.status = status;
    this.clientVersion = clientVersion;
  }
}

let jobSeq = 0;

function toJob(body) {
  const payload = JSON.stringify({ id: body.event.id, type: body.event.type, createdAt: body.event.createdAt, data: body.event.data });
  return {
    id: `job_${(++jobSeq).toString(36)}`,
    seq: jobSeq,
    tenant: body.tenant,
    endpoint: body.endpoint,
    eventType: body.event.type,
    payload,
    signature: createHmac('sha256', SIGNING_SECRET).update(payload).digest('hex'),
    createdAt: programSeconds(),
    attempts: 0,
    lastAttemptAt: null,
  };
}

function backoffSeconds(baseSeconds, attempt, jitter) {
  return Math.min(MAX_BACKOFF_SECONDS, baseSeconds * 2 ** (attempt - 1)) * (0.8 + 0.4 * jitter);
}

const jitterRandom = rng(0x7177);

function toRetryEntry(job, err) {
  const policy = RETRY_POLICY[err.code];
  const now = programSeconds();
  return {
    job,
    code: err.code,
    error: err,
    attempts: job.attempts,
    failedAt: now,
    nextAttemptAt: now + backoffSeconds(policy?.baseSeconds, job.attempts, jitterRandom()),
    maxAttempts: policy?.maxAttempts,
  };
}

export const retryList = []; // RetryEntry, in the order they failed
const readyQueue = [];
const deadLetters = []; // the last 200 given up, for the ops page
const recentOutcomes = []; // the last 1 000 finished jobs
let running = 0;
let accepted = 0;
let delivered = 0;
let deliveredAfterRetry = 0;
let failures = 0;
let requeued = 0;
let gaveUp = 0;
const failuresByCode = {};

function enqueue(job) {
  readyQueue.push(job);
  pump();
}

function pump() {
  while (running < CONCURRENCY && readyQueue.length > 0) {
    const job = readyQueue.shift();
    running++;
    deliver(job).finally(() => {
      running--;
      pump();
    });
  }
}

function remember(job, outcome, code) {
  recentOutcomes.push({ id: job.id, tenant: job.tenant, outcome, code, attempts: job.attempts, at: programSeconds() });
  if (recentOutcomes.length > 1000) recentOutcomes.shift();
}

async function deliver(job) {
  job.attempts++;
  job.lastAttemptAt = programSeconds();
  try {
    await transport.post(job);
    delivered++;
    if (job.attempts > 1) deliveredAfterRetry++;
    remember(job, 'delivered', null);
  } catch (err) {
    onDeliveryFailed(job, err);
  }
}

function onDeliveryFailed(job, err) {
  failures++;
  failuresByCode[err.code] = (failuresByCode[err.code] ?? 0) + 1;
  if (FATAL_CODES.has(err.code)) {
    giveUp(job, err, 'rejected');
    return;
  }
  retryList.push(toRetryEntry(job, err));
}

function giveUp(job, err, reason) {
  gaveUp++;
  deadLetters.push({ id: job.id, tenant: job.tenant, endpoint: job.endpoint, code: err.code, reason, attempts: job.attempts, gaveUpAt: programSeconds() });
  if (deadLetters.length > 200) deadLetters.shift();
  remember(job, 'gave-up', err.code);
}

/** Requeues the entries that are due, gives up the exhausted ones, keeps the rest. */
function sweepRetries() {
  const now = programSeconds();
  let kept = 0;
  for (const entry of retryList) {
    if (entry.attempts >= entry.maxAttempts) giveUp(entry.job, entry.error, 'exhausted');
    else if (entry.nextAttemptAt <= now) {
      requeued++;
      enqueue(entry.job);
    } else retryList[kept++] = entry;
  }
  retryList.length = kept;
}
every(scaledMs(RETRY_SWEEP_SECONDS), sweepRetries);

// --- The merchants' endpoints (stand-in for the outbound HTTP client) --------------------

const ERRORS = [
  ['ETIMEDOUT', 0.34],
  ['CONNRESET', 0.2],
  ['HTTP_503', 0.2],
  ['HTTP_502', 0.06],
  ['HTTP_429', 0.1],
  ['HTTP_410', 0.05],
  ['HTTP_404', 0.03],
  ['HTTP_400', 0.02],
];

function gaussian(random) {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

class WebhookTransport {
  constructor() {
    this.requests = 0;
  }

  get version() {
    return programSeconds() >= CLIENT_UPGRADE_AT ? '6.0.2' : '4.11.0';
  }

  /** The attempt's result comes from the job's own seeded stream, so it is the same on every run. */
  outcomeOf(job) {
    const random = rng(0x0b0e + job.seq * 7919 + job.attempts * 104_729);
    const failP = job.attempts === 1 ? 0.085 : 0.22;
    if (random() >= failP) return { ok: true, latency: 0.18 * Math.exp(0.6 * gaussian(random)) };
    let u = random();
    for (const [code, share] of ERRORS) {
      if (u < share) return { ok: false, code, latency: code === 'ETIMEDOUT' ? 10 : 0.05 + random() * 0.4 };
      u -= share;
    }
    return { ok: false, code: 'HTTP_503', latency: 0.2 };
  }

  async post(job) {
    this.requests++;
    const outcome = this.outcomeOf(job);
    await new Promise((resolve) => setTimeout(resolve, scaledMs(Math.min(outcome.latency, 10))));
    if (outcome.ok) return { status: 200 };
    const version = this.version;
    const details = { endpoint: job.endpoint, status: undefined, clientVersion: version };
    if (outcome.code === 'CONNRESET') {
      // 4.x maps the socket error to the Node code; 6.x reports its own.
      if (version.startsWith('6.')) throw new DeliveryError('other side closed', 'UND_ERR_SOCKET', details);
      throw new DeliveryError('socket hang up', 'ECONNRESET', details);
    }
    if (outcome.code === 'ETIMEDOUT') throw new DeliveryError(`timeout after 10000 ms posting to ${job.endpoint}`, 'ETIMEDOUT', details);
    const status = Number(outcome.code.slice(5));
    throw new DeliveryError(`${job.endpoint} answered ${status}`, outcome.code, { ...details, status });
  }
}

const transport = new WebhookTransport();

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function queueStats() {
  return {
    ready: readyQueue.length,
    running,
    retrying: retryList.length,
    accepted,
    delivered,
    deliveredAfterRetry,
    failures,
    gaveUp,
    failuresByCode,
    clientVersion: transport.version,
  };
}

async function handle(req, res) {
  const url = req.url ?? '/';
  if (req.method === 'POST' && url === '/v1/jobs') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    if (typeof body.endpoint !== 'string' || body.event?.id === undefined) {
      sendJson(res, 400, { error: 'endpoint and event required' });
      return;
    }
    const job = toJob(body);
    accepted++;
    enqueue(job);
    sendJson(res, 202, { jobId: job.id });
    return;
  }
  if (req.method === 'GET' && url === '/v1/queue/stats') {
    sendJson(res, 200, queueStats());
    return;
  }
  if (req.method === 'GET' && url === '/v1/dead-letters') {
    sendJson(res, 200, { deadLetters: deadLetters.slice(-50) });
    return;
  }
  if (req.method === 'GET' && url === '/healthz') {
    sendJson(res, 200, { ok: true });
    return;
  }
  sendJson(res, 404, { error: 'not found' });
}

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) sendJson(res, 400, { error: err.message });
    else res.destroy();
  });
});

// --- Load: the order, payment and inventory services enqueue events ----------------------

const JOBS_PER_SECOND = 3;
const MERCHANTS = 900;
const eventRandom = rng(0xe1e1);
const EVENT_TYPES = ['order.created', 'order.created', 'order.paid', 'order.fulfilled', 'refund.created', 'inventory.updated', 'customer.updated'];
const SKUS = ['TSHIRT', 'HOODIE', 'MUG', 'POSTER', 'SNEAKER', 'CAP', 'BAG', 'SOCKS', 'JACKET', 'SCARF'];
let eventSeq = 0;

function lineItem(i) {
  const sku = SKUS[Math.floor(eventRandom() * SKUS.length)];
  const productId = Math.floor(eventRandom() * 9e6) + 1e6;
  const price = Math.floor(eventRandom() * 12_000) + 500;
  return {
    id: `li_${eventSeq}_${i}`,
    productId: `prod_${productId}`,
    variantId: `var_${productId}${i}`,
    sku: `${sku}-${Math.floor(eventRandom() * 900 + 100)}`,
    title: `${sku.toLowerCase()} in ${['black', 'white', 'navy', 'olive', 'sand'][i % 5]}, size ${['S', 'M', 'L', 'XL'][i % 4]}`,
    vendor: ['Northwind Apparel', 'Contoso Goods', 'Fabrikam Studio'][i % 3],
    quantity: 1 + Math.floor(eventRandom() * 3),
    grams: 80 + Math.floor(eventRandom() * 900),
    requiresShipping: true,
    taxable: true,
    fulfillmentStatus: null,
    unitPrice: { amount: price, currency: 'EUR' },
    taxLines: [{ rate: 0.19, title: 'VAT', amount: Math.round(price * 0.19) }],
    discountAllocations: eventRandom() < 0.3 ? [{ code: 'SPRING10', amount: Math.round(price * 0.1) }] : [],
    imageUrl: `https://cdn.shop.example/products/${productId}/main_800x.jpg`,
    properties: { gift: eventRandom() < 0.1, personalisation: eventRandom() < 0.05 ? 'Happy birthday!' : null },
  };
}

function address(random) {
  return {
    firstName: ['Anna', 'Ben', 'Chiara', 'Deniz', 'Emil'][Math.floor(random() * 5)],
    lastName: ['Schmidt', 'Rossi', 'Yilmaz', 'Novak', 'Berg'][Math.floor(random() * 5)],
    line1: `${Math.floor(random() * 200)} Hauptstrasse`,
    line2: random() < 0.3 ? `Apartment ${Math.floor(random() * 40)}` : null,
    city: 'Berlin',
    postalCode: `10${Math.floor(random() * 900 + 100)}`,
    country: 'DE',
    phone: `+49 30 ${Math.floor(random() * 9e6 + 1e6)}`,
  };
}

function nextJobRequest() {
  const merchant = Math.floor(MERCHANTS * eventRandom() ** 2);
  const type = EVENT_TYPES[Math.floor(eventRandom() * EVENT_TYPES.length)];
  const items = Math.min(60, Math.max(1, Math.round(3 * Math.exp(0.9 * gaussian(eventRandom)))));
  const event = {
    id: `evt_${(++eventSeq).toString(36)}`,
    type,
    createdAt: new Date(Date.UTC(2024, 2, 4) + programSeconds() * 1000).toISOString(),
    data: {
      orderId: `ord_${Math.floor(eventRandom() * 1e9).toString(36)}`,
      customer: { id: `cus_${Math.floor(eventRandom() * 1e8).toString(36)}`, email: `buyer${Math.floor(eventRandom() * 1e6)}@mail.example`, locale: 'de-DE' },
      shippingAddress: address(eventRandom),
      billingAddress: address(eventRandom),
      lineItems: Array.from({ length: items }, (_, i) => lineItem(i)),
      shippingLines: [{ code: 'DHL_STANDARD', title: 'DHL Paket', price: 495, carrierIdentifier: 'dhl-de' }],
      totals: null,
      paymentGateway: ['stripe', 'paypal', 'klarna'][Math.floor(eventRandom() * 3)],
      clientDetails: {
        browserIp: `203.0.113.${Math.floor(eventRandom() * 250)}`,
        userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
        acceptLanguage: 'de-DE,de;q=0.9,en;q=0.8',
      },
      tags: eventRandom() < 0.4 ? ['returning-customer', 'newsletter'] : [],
      note: eventRandom() < 0.2 ? 'Please leave the parcel with the neighbour if nobody is home.' : '',
    },
  };
  let subtotal = 0;
  for (const item of event.data.lineItems) subtotal += item.unitPrice.amount * item.quantity;
  event.data.totals = { subtotal, tax: Math.round(subtotal * 0.19), shipping: 495, currency: 'EUR' };
  return {
    method: 'POST',
    path: '/v1/jobs',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: `shop_${merchant}`, endpoint: `https://hooks.merchant-${merchant}.example/webhooks/shop`, event }),
  };
}

const loadRandom = rng(0x10ad);
const client = selfRequests(port, {
  perSecond: JOBS_PER_SECOND + 0.15,
  maxInFlight: 32,
  next: () => {
    const u = loadRandom() * (JOBS_PER_SECOND + 0.15);
    if (u < JOBS_PER_SECOND) return nextJobRequest();
    if (u < JOBS_PER_SECOND + 0.07) return { method: 'GET', path: '/v1/queue/stats' };
    if (u < JOBS_PER_SECOND + 0.1) return { method: 'GET', path: '/v1/dead-letters' };
    return { method: 'GET', path: '/healthz' };
  },
});

reportStats(() => {
  let stuck = 0;
  let retryPayloadBytes = 0;
  for (const entry of retryList) {
    if (Number.isNaN(entry.nextAttemptAt)) stuck++;
    retryPayloadBytes += entry.job.payload.length;
  }
  return {
    retained: retryList.length,
    stuck,
    retryPayloadBytes,
    ready: readyQueue.length,
    running,
    accepted,
    delivered,
    deliveredAfterRetry,
    failures,
    requeued,
    gaveUp,
    failuresByCode: { ...failuresByCode },
    clientVersion: transport.version,
    sent: client.sent,
    failed: client.failed,
  };
});

ready(
  `retry-queue-stuck-error-leak: ${JOBS_PER_SECOND} webhook jobs/s at speed 1, retry list with per-error backoff, ` +
    `HTTP client 6.0 from ${CLIENT_UPGRADE_AT} s on port ${port}${ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''}`,
);
