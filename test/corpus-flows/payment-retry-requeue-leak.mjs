// Payment-notification service of a payment gateway.
//
// The processor POSTs every payment event (POST /v1/events: authorised,
// captured, refunded, failed, disputed); the service signs a notification for
// the merchant and delivers it to the merchant's webhook endpoint. A failed
// delivery goes onto the module-level array `retryQueue` with its attempt
// count incremented and an exponential backoff (30 s doubling, at most an
// hour); the retry worker looks at the queue every 10 s and tries the due ones
// again, re-queueing those that fail once more. Successful deliveries leave
// the queue. There is no maximum number of attempts: merchants whose endpoint
// is gone for good (a decommissioned shop, a domain that expired, a
// certificate nobody renewed, a URL that answers 410) get every one of their
// notifications re-queued forever, while the other merchants' occasional
// failures succeed within a few attempts.
import { createHmac, randomUUID } from 'node:crypto';
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

const RETRY_SCAN_EVERY_S = 10;
const RETRY_CONCURRENCY = 16;
const BACKOFF_BASE_S = 30;
const BACKOFF_MAX_S = 3600;

const random = rng(0x9a7e11);

// --- merchants and their endpoints (stand-in for the internet) ----------------------

const MERCHANT_COUNT = 300;
const merchants = new Map();
for (let i = 0; i < MERCHANT_COUNT; i++) {
  const id = `mch_${(0x2b00 + i * 97).toString(36)}`;
  const r = random();
  // Most endpoints work; some are gone for good; a few have outages now and then.
  const endpoint = i < 12 ? 'ok' : r < 0.07 ? 'gone' : r < 0.12 ? 'flaky' : 'ok';
  const goneReason = ['410 Gone', 'getaddrinfo ENOTFOUND', 'certificate has expired', '404 Not Found', 'connect ECONNREFUSED'][i % 5];
  merchants.set(id, {
    id,
    url: `https://${id.slice(4)}.shop.example.com/webhooks/payments`,
    secret: `whsec_${randomUUID().replace(/-/g, '')}`,
    endpoint,
    goneReason,
    outageUntil: 0,
    weight: 1 / Math.pow(i + 1, 0.8),
  });
}
const merchantList = [...merchants.values()];
const totalWeight = merchantList.reduce((sum, m) => sum + m.weight, 0);

function someMerchant() {
  let r = random() * totalWeight;
  for (const m of merchantList) {
    r -= m.weight;
    if (r <= 0) return m;
  }
  return merchantList[merchantList.length - 1];
}

/** POST to the merchant's endpoint (a few ms of real latency); resolves to { ok, status, error }. */
async function postToMerchant(merchant, notification) {
  await new Promise((resolve) => setTimeout(resolve, 1 + random() * 4));
  const now = programSeconds();
  if (merchant.endpoint === 'gone') {
    const status = merchant.goneReason.startsWith('4') ? Number(merchant.goneReason.slice(0, 3)) : 0;
    return { ok: false, status, error: merchant.goneReason };
  }
  if (merchant.endpoint === 'flaky') {
    if (now < merchant.outageUntil) return { ok: false, status: 502, error: '502 Bad Gateway' };
    if (random() < 0.002) merchant.outageUntil = now + 600 + random() * 2400; // an outage of 10-50 min starts
  }
  if (random() < 0.02) return { ok: false, status: random() < 0.5 ? 500 : 0, error: random() < 0.5 ? '500 Internal Server Error' : 'timeout after 10000 ms' };
  return { ok: true, status: 200, error: null, bytes: notification.body.length };
}

// --- notifications and the retry queue ---------------------------------------------

let retryQueue = [];
const recentDeliveries = []; // last 1 000 outcomes, for the merchant dashboard
const totals = { events: 0, delivered: 0, firstAttemptFailures: 0, retried: 0, retrySucceeded: 0, requeued: 0 };

function sign(secret, timestamp, body) {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

function buildNotification(event, merchant, now) {
  const body = JSON.stringify({
    id: `ntf_${randomUUID().replace(/-/g, '')}`,
    type: event.type,
    created: event.created,
    livemode: true,
    data: { object: event.payment },
  });
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    id: event.id,
    merchantId: merchant.id,
    url: merchant.url,
    eventType: event.type,
    body,
    signature: `t=${timestamp},v1=${sign(merchant.secret, timestamp, body)}`,
    attempts: 0,
    firstAttemptAt: now,
    nextAttemptAt: now,
    lastStatus: null,
    lastError: null,
  };
}

function backoffSeconds(attempts) {
  const base = Math.min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempts - 1));
  return base * (0.8 + random() * 0.4);
}

function requeue(notification, outcome) {
  notification.attempts += 1;
  notification.lastStatus = outcome.status;
  notification.lastError = outcome.error;
  notification.nextAttemptAt = programSeconds() + backoffSeconds(notification.attempts);
  retryQueue.push(notification);
  totals.requeued++;
}

function remember(notification, outcome) {
  recentDeliveries.push({ id: notification.id, merchantId: notification.merchantId, ok: outcome.ok, status: outcome.status, attempts: notification.attempts + 1, at: programSeconds() });
  if (recentDeliveries.length > 1000) recentDeliveries.shift();
}

async function deliver(notification) {
  const merchant = merchants.get(notification.merchantId);
  const outcome = await postToMerchant(merchant, notification);
  remember(notification, outcome);
  if (outcome.ok) {
    totals.delivered++;
    if (notification.attempts > 0) totals.retrySucceeded++;
    return true;
  }
  if (notification.attempts === 0) totals.firstAttemptFailures++;
  requeue(notification, outcome);
  return false;
}

let scanning = false;
async function retryDue() {
  if (scanning) return;
  scanning = true;
  try {
    const now = programSeconds();
    const due = [];
    const waiting = [];
    for (const notification of retryQueue) (notification.nextAttemptAt <= now ? due : waiting).push(notification);
    retryQueue = waiting;
    totals.retried += due.length;
    // A few deliveries at a time; failures are pushed back by requeue().
    for (let i = 0; i < due.length; i += RETRY_CONCURRENCY) {
      await Promise.all(due.slice(i, i + RETRY_CONCURRENCY).map(deliver));
    }
  } finally {
    scanning = false;
  }
}

every((RETRY_SCAN_EVERY_S * 1000) / speed, retryDue);

// --- HTTP ---------------------------------------------------------------------------

function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const EVENT_TYPES = new Set(['payment.authorised', 'payment.captured', 'payment.failed', 'refund.succeeded', 'dispute.opened']);

async function handler(req, res) {
  try {
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true, retrying: retryQueue.length });
    if (req.method === 'POST' && url.pathname === '/v1/events') {
      const event = JSON.parse((await readBody(req, 128 * 1024)).toString('utf8'));
      const merchant = merchants.get(event.merchantId);
      if (merchant === undefined || !EVENT_TYPES.has(event.type) || !event.payment) return send(res, 422, { error: 'unknown merchant or event' });
      totals.events++;
      const notification = buildNotification(event, merchant, programSeconds());
      // The processor only needs to know the event was taken; delivery is ours.
      send(res, 202, { accepted: event.id });
      await deliver(notification);
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/merchants/')) {
      const merchantId = url.pathname.split('/')[3];
      const deliveries = recentDeliveries.filter((d) => d.merchantId === merchantId).slice(-20);
      const pending = retryQueue.filter((n) => n.merchantId === merchantId).length;
      return send(res, 200, { merchantId, deliveries, pending });
    }
    send(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) send(res, 400, { error: String(error.message ?? error) });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// --- the payment processor -------------------------------------------------------------

const BRANDS = ['visa', 'mastercard', 'amex', 'maestro'];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'GBP', 'USD', 'SEK'];
const TYPES = ['payment.authorised', 'payment.captured', 'payment.captured', 'payment.failed', 'refund.succeeded', 'dispute.opened'];

function paymentEvent() {
  const merchant = someMerchant();
  const amount = Math.round(500 + Math.pow(random(), 3) * 150_000);
  const created = Math.floor(Date.now() / 1000);
  return {
    id: `evt_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    type: TYPES[Math.floor(random() * TYPES.length)],
    merchantId: merchant.id,
    created,
    payment: {
      id: `pay_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      amount,
      currency: CURRENCIES[Math.floor(random() * CURRENCIES.length)],
      status: 'succeeded',
      method: { type: 'card', brand: BRANDS[Math.floor(random() * BRANDS.length)], last4: String(1000 + Math.floor(random() * 9000)), expMonth: 1 + Math.floor(random() * 12), expYear: 2025 + Math.floor(random() * 6), country: 'DE' },
      customer: { id: `cus_${Math.floor(random() * 1e9).toString(36)}`, email: `buyer${Math.floor(random() * 1e6)}@mail.example` },
      description: `Order #${100000 + Math.floor(random() * 900000)}`,
      metadata: { orderId: `ord_${Math.floor(random() * 1e9).toString(36)}`, channel: random() < 0.7 ? 'web' : 'app', cartItems: String(1 + Math.floor(random() * 6)) },
      createdAt: new Date(created * 1000).toISOString(),
    },
  };
}

selfRequests(port, {
  perSecond: 3,
  maxInFlight: 32,
  next: () => ({ method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify(paymentEvent()) }),
});

// Merchants looking at their dashboard, and health checks.
selfRequests(port, {
  perSecond: 0.2,
  maxInFlight: 2,
  next: () => (random() < 0.5 ? { method: 'GET', path: '/healthz' } : { method: 'GET', path: `/v1/merchants/${someMerchant().id}/deliveries` }),
});

function queueShape() {
  let maxAttempts = 0;
  let dueNow = 0;
  const now = programSeconds();
  for (const n of retryQueue) {
    if (n.attempts > maxAttempts) maxAttempts = n.attempts;
    if (n.nextAttemptAt <= now) dueNow++;
  }
  return { maxAttempts, dueNow };
}

const goneMerchants = merchantList.filter((m) => m.endpoint === 'gone');

reportStats(() => ({
  retained: retryQueue.length,
  ...queueShape(),
  events: totals.events,
  delivered: totals.delivered,
  firstAttemptFailures: totals.firstAttemptFailures,
  retried: totals.retried,
  retrySucceeded: totals.retrySucceeded,
  requeued: totals.requeued,
  flakyDown: merchantList.filter((m) => m.endpoint === 'flaky' && m.outageUntil > programSeconds()).length,
}));

ready(`payment-retry-requeue-leak: ${MERCHANT_COUNT} merchants (${goneMerchants.length} endpoints gone), 3 events/s, retries re-queued without a limit (ballast ${ballastMb} MB)`);
