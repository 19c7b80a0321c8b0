// Webhook dispatcher: tenants' producers POST events, the dispatcher signs
// them and delivers them to the subscribed partner endpoints, then waits on
// the network (partners answer in 100 ms - 2 s). Almost all of its time is
// spent waiting.
//
// A failed delivery goes into `retryQueue` with its encoded body and is
// retried with exponential backoff (30 s doubling, capped at 5 min) by the
// RetryWorker, which runs every 10 s and removes what it delivers. At
// 1.5 h the biggest partner (Parcelly, ~40 % of the events) goes down for
// 40 minutes: the retry queue swells, and after the partner recovers the
// worker drains it (a bounded number of retries per tick).
import {
  buildBallast,
  every,
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
import { createHmac } from 'node:crypto';

const random = rng(0x3eb400c);
const OUTAGE = { partner: 'parcelly', from: 5400, to: 7800 };

function logNormal(median, sigma) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

const PARTNERS = [
  { name: 'parcelly', url: 'https://hooks.parcelly.example/v2/events', weight: 0.4, secret: 'whsec_parcelly_9f8a' },
  { name: 'taxbridge', url: 'https://api.taxbridge.example/webhooks', weight: 0.25, secret: 'whsec_taxbridge_11c0' },
  { name: 'crmly', url: 'https://in.crmly.example/hook', weight: 0.2, secret: 'whsec_crmly_77aa' },
  { name: 'ledgerly', url: 'https://ledgerly.example/api/hooks', weight: 0.15, secret: 'whsec_ledgerly_0b3d' },
];

function pickPartner() {
  let r = random();
  for (const partner of PARTNERS) {
    r -= partner.weight;
    if (r < 0) return partner;
  }
  return PARTNERS[0];
}

// --- the network: partners' endpoints ---------------------------------------------------

const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});

function partnerDown(partner) {
  const s = programSeconds();
  return partner.name === OUTAGE.partner && s >= OUTAGE.from && s < OUTAGE.to;
}

/** POSTs a delivery; resolves with the partner's status after a production-time latency. */
function postToPartner(partner, body) {
  const down = partnerDown(partner);
  const latency = down ? 10_000 : Math.min(8_000, logNormal(400, 0.7));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      if (down) resolve({ status: 0, error: 'ETIMEDOUT' });
      else if (random() < 0.003) resolve({ status: 503, error: 'Service Unavailable' });
      else resolve({ status: 200, bytes: body.length });
    }, latency / speed);
    pendingTimers.add(timer);
  });
}

function encodeDelivery(event, partner) {
  const payload = JSON.stringify({ id: event.id, type: event.type, createdAt: event.createdAt, tenant: event.tenant, data: event.data });
  const signature = createHmac('sha256', partner.secret).update(payload).digest('hex');
  return { body: Buffer.from(payload), headers: { 'content-type': 'application/json', 'webhook-id': event.id, 'webhook-signature': `v1,${signature}` } };
}

// --- deliveries and retries ------------------------------------------------------------------

const retryQueue = [];
const delivered = { first: 0, retried: 0, failedAttempts: 0, gaveUp: 0 };

async function deliver(event, partner) {
  const { body, headers } = encodeDelivery(event, partner);
  const result = await postToPartner(partner, body);
  if (result.status >= 200 && result.status < 300) {
    delivered.first++;
    return;
  }
  delivered.failedAttempts++;
  retryQueue.push({ event, partner, body, headers, attempts: 1, nextAttemptAt: programSeconds() + 30, lastError: result.error });
}

class RetryWorker {
  constructor(queue, { perTick }) {
    this.queue = queue;
    this.perTick = perTick;
    this.busy = false;
  }

  backoff(attempts) {
    return Math.min(300, 30 * 2 ** (attempts - 1));
  }

  async tick() {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = programSeconds();
      const due = [];
      for (const item of this.queue) {
        if (item.nextAttemptAt <= now) due.push(item);
        if (due.length >= this.perTick) break;
      }
      await Promise.all(due.map((item) => this.attempt(item)));
    } finally {
      this.busy = false;
    }
  }

  async attempt(item) {
    const result = await postToPartner(item.partner, item.body);
    item.attempts++;
    if (result.status >= 200 && result.status < 300) {
      this.remove(item);
      delivered.retried++;
    } else if (item.attempts > 200) {
      this.remove(item);
      delivered.gaveUp++;
    } else {
      delivered.failedAttempts++;
      item.lastError = result.error;
      item.nextAttemptAt = programSeconds() + this.backoff(item.attempts);
    }
  }

  remove(item) {
    const index = this.queue.indexOf(item);
    if (index >= 0) this.queue.splice(index, 1);
  }
}

const worker = new RetryWorker(retryQueue, { perTick: 400 });
every(10_000 / speed, () => worker.tick());

// --- HTTP ------------------------------------------------------------------------------------

let eventSeq = 0;
function sendJson(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function acceptEvent(req, res) {
  const raw = await readBody(req);
  const input = JSON.parse(raw.toString('utf8'));
  const event = { id: `evt_${(++eventSeq).toString(36)}`, type: input.type, tenant: input.tenant, createdAt: new Date().toISOString(), data: input.data };
  sendJson(res, 202, JSON.stringify({ id: event.id }));
  deliver(event, pickPartner()).catch(() => {});
}

function handler(req, res) {
  if (req.url === '/healthz') {
    req.resume();
    return sendJson(res, 200, JSON.stringify({ ok: true, retryQueue: retryQueue.length }));
  }
  if (req.method === 'POST' && req.url === '/v1/events') {
    return acceptEvent(req, res).catch((error) => {
      if (!res.headersSent) sendJson(res, 400, JSON.stringify({ error: String(error) }));
    });
  }
  req.resume();
  sendJson(res, 404, '{"error":"not found"}');
}

const TYPES = ['invoice.paid', 'order.created', 'order.shipped', 'customer.updated', 'refund.issued'];
function nextEvent() {
  const lines = Array.from({ length: 1 + Math.floor(random() * 12) }, (_, i) => ({ sku: `SKU-${Math.floor(random() * 99999)}`, qty: 1 + (i % 3), amountCents: Math.floor(random() * 20000), description: `Line item ${i} of the order, standard shipping` }));
  return {
    method: 'POST',
    path: '/v1/events',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: TYPES[Math.floor(random() * TYPES.length)], tenant: `t-${Math.floor(random() * 60)}`, data: { orderId: `o-${Math.floor(random() * 1e7)}`, customer: { id: `c-${Math.floor(random() * 1e5)}`, email: `buyer${Math.floor(random() * 1e5)}@example.com` }, lines } }),
  };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const producers = selfRequests(port, { perSecond: 1.5, maxInFlight: 16, next: nextEvent });
const monitor = selfRequests(port, { perSecond: 0.1, maxInFlight: 1, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: retryQueue.length,
  retryBytes: retryQueue.reduce((sum, item) => sum + item.body.length, 0),
  partnerDown: partnerDown(PARTNERS[0]),
  delivered: delivered.first,
  retried: delivered.retried,
  requestsFailed: producers.failed + monitor.failed,
}));

ready(`webhook-dispatcher-outage: dispatcher waiting on partners, 1.5 events/s, parcelly down 1.5-2.17 h then the retry queue drains (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
