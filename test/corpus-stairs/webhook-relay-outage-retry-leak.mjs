// Webhook relay: tenants POST events to /v1/events; the relay validates them,
// signs a delivery envelope and forwards it to the fulfilment platform
// (FlakyDownstream, an in-process stand-in with a few ms of real latency).
// The platform is flaky in bursts: every 10-20 minutes it has an episode of
// 2-5 minutes in which most deliveries fail (502/503/timeouts).
//
// A failed delivery is answered 202 and handed to scheduleRetry(), which
// pushes the delivery (with its encoded body Buffer) onto the module-level
// `retryQueue` for RetryWorker. The worker is constructed below, but its
// start() used to be called by the old cluster bootstrap and nobody calls it
// any more, so the queue is never drained: every failed body stays.
import { createHash, createHmac } from 'node:crypto';
import {
  buildBallast,
  KiB,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7e1a7);
const MINUTE = 60;

// --- configuration -----------------------------------------------------------

const config = {
  maxBodyBytes: 256 * KiB,
  deliveryTimeoutMs: 10_000, // production ms
  retry: { maxAttempts: 8, baseDelaySeconds: 30, maxDelaySeconds: 3600 },
  recentDeliveries: 500,
};

const TENANTS = Array.from({ length: 40 }, (_, i) => `tn_${(0x3f00 + i * 37).toString(16)}`);
const EVENT_TYPES = ['order.created', 'order.updated', 'order.cancelled', 'shipment.created', 'shipment.delivered', 'invoice.paid', 'refund.issued'];

/** subscriptionId -> subscription (one endpoint per tenant on the fulfilment platform). */
const subscriptions = new Map();
/** tenant -> subscriptionId */
const subscriptionByTenant = new Map();

for (const tenant of TENANTS) {
  const id = `sub_${createHash('sha1').update(tenant).digest('hex').slice(0, 12)}`;
  subscriptions.set(id, {
    id,
    tenant,
    url: `https://hooks.fulfil.example/v2/inbound/${tenant}`,
    secret: createHash('sha256').update(`secret:${tenant}`).digest('hex'),
    eventTypes: new Set(EVENT_TYPES),
    createdAt: '2024-02-01T00:00:00.000Z',
    stats: { delivered: 0, failed: 0, lastStatus: 0 },
  });
  subscriptionByTenant.set(tenant, id);
}

// --- the flaky downstream ------------------------------------------------------

/** Episodes of failures: starts 10-20 min apart, each lasting 2-5 min. */
class FlakyDownstream {
  constructor(rand) {
    this.rand = rand;
    this.episodeStart = this.pickGap();
    this.episodeEnd = this.episodeStart + this.pickLength();
    this.episodes = 0;
    this.calls = 0;
    this.failures = 0;
  }

  pickGap() {
    return (10 + this.rand() * 10) * MINUTE;
  }

  pickLength() {
    return (2 + this.rand() * 3) * MINUTE;
  }

  degraded(now) {
    while (now >= this.episodeEnd) {
      this.episodes++;
      this.episodeStart += this.pickGap();
      this.episodeEnd = this.episodeStart + this.pickLength();
    }
    return now >= this.episodeStart;
  }

  /** POSTs `body`; resolves { status } or rejects like a socket error would. */
  post(url, headers, body) {
    this.calls++;
    const failing = this.degraded(programSeconds()) ? this.rand() < 0.88 : this.rand() < 0.002;
    const latency = failing && this.rand() < 0.3 ? 40 : 2 + this.rand() * 8; // wall ms
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        if (!failing) return resolve({ status: 200, bytes: body.length });
        this.failures++;
        const roll = this.rand();
        if (roll < 0.3) return reject(Object.assign(new Error(`timeout after ${config.deliveryTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
        if (roll < 0.4) return reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        resolve({ status: roll < 0.7 ? 503 : 502, bytes: 0 });
      }, latency);
    });
  }
}

const downstream = new FlakyDownstream(rng(0xf1a6));

// --- retries -----------------------------------------------------------------

/** Deliveries waiting to be retried by the RetryWorker. */
const retryQueue = [];
let retryBytes = 0;

class RetryWorker {
  constructor(queue, target, options) {
    this.queue = queue;
    this.target = target;
    this.options = options;
    this.timer = null;
    this.running = false;
  }

  start(intervalMs = 5000) {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.drain(), intervalMs);
  }

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  async drain() {
    if (this.running) return;
    this.running = true;
    try {
      const now = programSeconds();
      for (let i = 0; i < this.queue.length; ) {
        const item = this.queue[i];
        if (item.nextAttemptAt > now) {
          i++;
          continue;
        }
        item.attempts++;
        const ok = await this.target
          .post(item.url, item.headers, item.body)
          .then((r) => r.status < 300)
          .catch(() => false);
        if (ok || item.attempts >= this.options.maxAttempts) {
          this.queue.splice(i, 1);
          retryBytes -= item.body.length;
        } else {
          item.nextAttemptAt = now + backoff(item.attempts);
          i++;
        }
      }
    } finally {
      this.running = false;
    }
  }
}

// Was started by the cluster bootstrap (primary only) before the move to one
// process per pod; nothing calls start() any more.
const retryWorker = new RetryWorker(retryQueue, downstream, config.retry);
onShutdown(() => retryWorker.stop());

function backoff(attempts) {
  const { baseDelaySeconds, maxDelaySeconds } = config.retry;
  return Math.min(maxDelaySeconds, baseDelaySeconds * 2 ** (attempts - 1));
}

function scheduleRetry(delivery, reason) {
  retryQueue.push({
    id: delivery.id,
    subscriptionId: delivery.subscriptionId,
    url: delivery.url,
    headers: delivery.headers,
    body: delivery.body,
    attempts: 1,
    firstFailedAt: delivery.attemptedAt,
    nextAttemptAt: delivery.attemptedAt + backoff(1),
    lastError: reason,
  });
  retryBytes += delivery.body.length;
}

// --- deliveries --------------------------------------------------------------

/** The last `config.recentDeliveries` delivery outcomes (for /v1/deliveries/:id). */
const recentDeliveries = new Map();
const counters = { received: 0, invalid: 0, delivered: 0, failed: 0, bytesIn: 0, bytesOut: 0 };

function remember(id, outcome) {
  recentDeliveries.set(id, outcome);
  if (recentDeliveries.size > config.recentDeliveries) {
    recentDeliveries.delete(recentDeliveries.keys().next().value);
  }
}

function sign(secret, timestamp, body) {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** Builds the signed envelope sent to the subscriber: the request body Buffer. */
function encodeDelivery(event, subscription, now) {
  const envelope = {
    id: event.id,
    type: event.type,
    tenant: subscription.tenant,
    createdAt: event.createdAt,
    deliveredAt: new Date(1_700_000_000_000 + now * 1000).toISOString(),
    data: event.data,
  };
  return Buffer.from(JSON.stringify(envelope));
}

function validateEvent(event) {
  if (typeof event !== 'object' || event === null) return 'body is not an object';
  if (typeof event.id !== 'string' || !event.id.startsWith('evt_')) return 'missing id';
  if (!EVENT_TYPES.includes(event.type)) return `unknown type ${event.type}`;
  if (!subscriptionByTenant.has(event.tenant)) return `unknown tenant ${event.tenant}`;
  if (typeof event.data !== 'object' || event.data === null) return 'missing data';
  return null;
}

async function relay(event) {
  const subscription = subscriptions.get(subscriptionByTenant.get(event.tenant));
  const now = programSeconds();
  const body = encodeDelivery(event, subscription, now);
  const timestamp = Math.floor(1_700_000_000 + now);
  const headers = {
    'content-type': 'application/json',
    'x-relay-event': event.type,
    'x-relay-timestamp': String(timestamp),
    'x-relay-signature': `v1=${sign(subscription.secret, timestamp, body)}`,
  };
  const delivery = { id: event.id, subscriptionId: subscription.id, url: subscription.url, headers, body, attemptedAt: now };
  let reason = null;
  try {
    const response = await downstream.post(subscription.url, headers, body);
    subscription.stats.lastStatus = response.status;
    if (response.status >= 300) reason = `HTTP ${response.status}`;
  } catch (error) {
    reason = `${error.code ?? 'EUNKNOWN'}: ${error.message}`;
  }
  if (reason === null) {
    subscription.stats.delivered++;
    counters.delivered++;
    counters.bytesOut += body.length;
    remember(event.id, { status: 'delivered', at: now });
    return { status: 'delivered' };
  }
  subscription.stats.failed++;
  counters.failed++;
  scheduleRetry(delivery, reason);
  remember(event.id, { status: 'retrying', at: now, reason });
  return { status: 'queued_for_retry' };
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    if (req.method === 'POST' && url === '/v1/events') {
      const raw = await readBody(req, config.maxBodyBytes);
      counters.received++;
      counters.bytesIn += raw.length;
      let event;
      try {
        event = JSON.parse(raw.toString('utf8'));
      } catch {
        counters.invalid++;
        return sendJson(res, 400, { error: 'invalid JSON' });
      }
      const problem = validateEvent(event);
      if (problem !== null) {
        counters.invalid++;
        return sendJson(res, 422, { error: problem });
      }
      const result = await relay(event);
      return sendJson(res, result.status === 'delivered' ? 200 : 202, { id: event.id, ...result });
    }
    if (req.method === 'GET' && url.startsWith('/v1/deliveries/')) {
      const outcome = recentDeliveries.get(url.slice('/v1/deliveries/'.length));
      return outcome === undefined ? sendJson(res, 404, { error: 'unknown delivery' }) : sendJson(res, 200, outcome);
    }
    if (req.method === 'GET' && url === '/healthz') {
      return sendJson(res, 200, { ok: true, pendingRetries: retryQueue.length, workerRunning: retryWorker.timer !== null });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- tenants' producers (the load) ------------------------------------------

const WORDS = ['alpha', 'delta', 'garden', 'copper', 'north', 'velvet', 'harbor', 'maple', 'quartz', 'ember', 'linen', 'summit', 'cobalt', 'meadow'];
let eventSeq = 0;
const sentIds = [];

function word() {
  return WORDS[Math.floor(random() * WORDS.length)];
}

/** Log-normal number of order lines, median ~9, 1..80. */
function lineCount() {
  const u = Math.max(1e-9, random());
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.max(1, Math.min(80, Math.round(Math.exp(2.2 + 0.8 * z))));
}

function orderLine(i) {
  return {
    line: i + 1,
    sku: `SKU-${Math.floor(random() * 900_000 + 100_000)}`,
    title: `${word()} ${word()} ${word()} set`,
    quantity: 1 + Math.floor(random() * 4),
    unitPrice: { amount: Math.round(random() * 20_000) / 100, currency: 'EUR' },
    warehouse: `wh-${1 + Math.floor(random() * 6)}`,
    attributes: { color: word(), size: ['S', 'M', 'L', 'XL'][i % 4], giftWrap: random() < 0.1 },
  };
}

function nextEvent() {
  eventSeq++;
  const tenant = TENANTS[Math.floor(TENANTS.length * random() ** 1.6)];
  const type = EVENT_TYPES[Math.floor(random() * EVENT_TYPES.length)];
  const id = `evt_${eventSeq.toString(36)}_${Math.floor(random() * 1e9).toString(36)}`;
  const event = {
    id,
    type,
    tenant,
    createdAt: new Date(1_700_000_000_000 + programSeconds() * 1000).toISOString(),
    data: {
      orderId: `ord_${Math.floor(random() * 1e10).toString(36)}`,
      customer: { id: `cus_${Math.floor(random() * 1e8).toString(36)}`, email: `${word()}.${word()}@example.com`, country: ['DE', 'FR', 'NL', 'GB', 'IT'][eventSeq % 5] },
      shippingAddress: { street: `${Math.floor(random() * 200)} ${word()} street`, city: word(), postcode: String(10000 + Math.floor(random() * 89999)) },
      lines: Array.from({ length: lineCount() }, (_, i) => orderLine(i)),
      notes: random() < 0.2 ? `${word()} ${word()} ${word()} ${word()} please` : null,
    },
  };
  sentIds.push(id);
  if (sentIds.length > 200) sentIds.shift();
  return event;
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Producers: 2 events/s; dashboards: 0.2 status reads/s; the load balancer: 0.1 health checks/s.
const producers = selfRequests(port, {
  perSecond: 2,
  next: () => ({ method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify(nextEvent()) }),
});
const readers = selfRequests(port, {
  perSecond: 0.3,
  maxInFlight: 8,
  next: () =>
    random() < 0.33 || sentIds.length === 0
      ? { method: 'GET', path: '/healthz' }
      : { method: 'GET', path: `/v1/deliveries/${sentIds[Math.floor(random() * sentIds.length)]}` },
});

reportStats(() => ({
  retained: retryQueue.length,
  retryBytes,
  received: counters.received,
  delivered: counters.delivered,
  failed: counters.failed,
  episodes: downstream.episodes,
  degraded: downstream.degraded(programSeconds()) ? 1 : 0,
  requestsFailed: producers.failed + readers.failed,
}));

ready(
  `webhook-relay-outage-retry-leak: relays 2 events/s to a downstream failing in 2-5 min bursts every 10-20 min; failed bodies wait in retryQueue for a RetryWorker never started (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
