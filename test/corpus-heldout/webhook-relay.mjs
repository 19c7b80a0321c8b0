// Webhook relay: providers (payments, shipping, CRM) POST events to
// /v1/hooks/:provider; the relay checks the provider's signature, acks with
// 202, looks up the customer's endpoint for the event's account, re-signs the
// event with the customer's secret and forwards it, waiting on the customer's
// server (0.2–1.2 s when it is up; a dead one fails after a 10 s timeout or
// answers 503). The relay does little CPU work; it mostly waits. The customer
// endpoints are simulated with timers as a stand-in for the outgoing HTTP
// call; at any time ~20 % of them are down (which ones changes every 30 min).
//
// A failed delivery is appended to the module-level `pendingRetries` list
// (the outgoing request as it was signed: body, headers, plus the parsed
// event to re-sign on retry, the error and the attempt count). The retry
// worker that used to drain that list moved out in the "split relay /
// scheduler" refactor and nothing replaced it: nothing reads or trims the
// list any more, so every failed delivery (~10.5 KB) stays.
//
// Traffic follows a 3-hour cycle (speed 1): 1.5 webhooks/s at the trough
// (t = 0, 3 h, ...), 6.5/s at the peak (1.5 h, 4.5 h, ...), 4/s on average;
// ~19 % of deliveries fail → ~0.77 failures/s on average, ~30 MB/h of JS heap
// over a cycle from the first failure (the rate follows the traffic: ~11 MB/h
// at the trough, ~22 MB/h averaged over the first hour, ~48 MB/h at the peak).
// Cap: at 12 000 pending retries (~128 MB, ~4.3 h at speed 1, ~4.3 min at
// SCENARIO_SPEED=60) the relay drops further failures (counted) instead.
// stats: retained = pendingRetries.length.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { buildBallast, every, listen, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const MIN_PER_SECOND = 1.5;
const MAX_PER_SECOND = 6.5;
const PERIOD_SECONDS = 3 * 3600;
const ACCOUNTS = 240;
const DOWN_RATIO = 0.2;
const OUTAGE_SLOT_SECONDS = 30 * 60;
const DELIVERY_TIMEOUT_SECONDS = 10;
const MAX_PENDING_RETRIES = 12_000;
const PROVIDER_SECRETS = { payments: 'whsec_pay_7f3a9c', shipping: 'whsec_ship_1b8e44', crm: 'whsec_crm_90dd21' };

const counters = { received: 0, rejected: 0, unrouted: 0, inFlight: 0, delivered: 0, failed: 0, dropped: 0 };

// Retry list. Failed deliveries wait here for the retry worker (see above:
// there is none any more).
const pendingRetries = [];

// --- customer endpoints, loaded at boot ----------------------------------------------
const endpoints = new Map(); // accountId → endpoint
for (let i = 0; i < ACCOUNTS; i++) {
  const accountId = `acct_${(1000 + i * 37).toString(36)}`;
  endpoints.set(accountId, {
    id: `we_${i.toString(36).padStart(4, '0')}`,
    index: i,
    accountId,
    url: `https://hooks.customer-${i}.example.com/webhooks/relay`,
    secret: `cwsec_${(i * 2654435761 >>> 0).toString(16)}${(i * 40503 >>> 0).toString(16)}`,
    failureMode: i % 2 === 0 ? 'timeout' : 'http-503',
  });
}

// Which customer servers are down: re-rolled every outage slot.
const outageRandom = rng(8801);
let downEndpoints = new Set();
function rollOutages() {
  const down = new Set();
  for (const endpoint of endpoints.values()) if (outageRandom() < DOWN_RATIO) down.add(endpoint.id);
  downEndpoints = down;
}
rollOutages();
every(scaledMs(OUTAGE_SLOT_SECONDS), rollOutages);

// --- the outgoing call (timers standing in for the HTTP request) ----------------------
const latencyRandom = rng(8802);
function postToEndpoint(endpoint, delivery) {
  return new Promise((resolve, reject) => {
    if (!downEndpoints.has(endpoint.id)) {
      setTimeout(resolve, scaledMs(0.2 + latencyRandom() * 1.0), { status: 200, bytes: delivery.body.length });
      return;
    }
    if (endpoint.failureMode === 'timeout') {
      const error = new Error(`POST ${endpoint.url}: timed out after ${DELIVERY_TIMEOUT_SECONDS} s`);
      error.code = 'ETIMEDOUT';
      setTimeout(reject, scaledMs(DELIVERY_TIMEOUT_SECONDS), error);
      return;
    }
    const error = new Error(`POST ${endpoint.url}: 503 Service Unavailable`);
    error.code = 'HTTP_503';
    error.status = 503;
    setTimeout(reject, scaledMs(0.3 + latencyRandom() * 0.5), error);
  });
}

// --- relay ------------------------------------------------------------------------------
function sign(secret, timestamp, body) {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

function verifyProvider(provider, raw, header) {
  const secret = PROVIDER_SECRETS[provider];
  if (secret === undefined || typeof header !== 'string') return false;
  const [timestamp, signature] = header.split(',');
  const expected = Buffer.from(sign(secret, timestamp, raw), 'hex');
  const given = Buffer.from(signature ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

let deliverySeq = 0;
function buildDelivery(endpoint, event, provider) {
  const id = `dlv_${(++deliverySeq).toString(36)}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ id: event.id, type: event.type, provider, account: endpoint.accountId, createdAt: event.created, deliveredVia: 'relay-eu-1', data: event.data });
  return {
    id,
    endpoint,
    event,
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'HookRelay/3.4 (+https://relay.example.com)',
      'x-relay-delivery': id,
      'x-relay-event': event.type,
      'x-relay-timestamp': String(timestamp),
      'x-relay-signature': `t=${timestamp},v1=${sign(endpoint.secret, timestamp, body)}`,
    },
  };
}

function enqueueRetry(delivery, error) {
  if (pendingRetries.length >= MAX_PENDING_RETRIES) {
    counters.dropped++; // "retry list full, dropping delivery" in the log
    return;
  }
  const now = Date.now();
  pendingRetries.push({
    id: delivery.id,
    endpointId: delivery.endpoint.id,
    url: delivery.endpoint.url,
    event: delivery.event, // to re-sign with a fresh timestamp on retry
    body: delivery.body,
    headers: { ...delivery.headers },
    attempts: 1,
    firstFailedAt: now,
    nextAttemptAt: now + 30_000,
    lastError: { code: error.code, status: error.status ?? null, message: error.message },
  });
}

async function relay(endpoint, event, provider) {
  const delivery = buildDelivery(endpoint, event, provider);
  counters.inFlight++;
  try {
    await postToEndpoint(endpoint, delivery);
    counters.delivered++;
  } catch (error) {
    counters.failed++;
    enqueueRetry(delivery, error);
  } finally {
    counters.inFlight--;
  }
}

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  const match = /^\/v1\/hooks\/(\w+)$/.exec(req.url);
  if (req.method !== 'POST' || match === null) return res.writeHead(404).end();
  const provider = match[1];
  const raw = (await readBody(req)).toString('utf8');
  counters.received++;
  if (!verifyProvider(provider, raw, req.headers['x-signature'])) {
    counters.rejected++;
    return res.writeHead(401).end();
  }
  const event = JSON.parse(raw);
  res.writeHead(202, { 'content-type': 'application/json' }).end('{"received":true}');
  const endpoint = endpoints.get(event.account);
  if (endpoint === undefined) {
    counters.unrouted++;
    return;
  }
  relay(endpoint, event, provider);
});

// --- the providers ----------------------------------------------------------------------
function loadNow() {
  const phase = (programSeconds() % PERIOD_SECONDS) / PERIOD_SECONDS; // trough at 0, peak at 0.5
  return MIN_PER_SECOND + ((MAX_PER_SECOND - MIN_PER_SECOND) * (1 - Math.cos(2 * Math.PI * phase))) / 2;
}

const random = rng(8803);
const accountIds = [...endpoints.keys()];
const PROVIDERS = Object.keys(PROVIDER_SECRETS);
const EVENT_TYPES = { payments: ['charge.succeeded', 'charge.refunded', 'invoice.paid', 'payout.created'], shipping: ['shipment.created', 'shipment.in_transit', 'shipment.delivered'], crm: ['contact.updated', 'deal.won', 'ticket.created'] };
const ITEMS = ['Espresso machine', 'Milk frother', 'Coffee beans 1 kg', 'Descaler', 'Grinder burr set', 'Barista tamper', 'Knock box', 'Cup set (6)'];
let eventSeq = 0;
function eventBody(provider, account) {
  eventSeq++;
  const types = EVENT_TYPES[provider];
  const items = [];
  const count = 16 + Math.floor(random() * 24);
  for (let i = 0; i < count; i++) {
    items.push({ sku: `SKU-${Math.floor(random() * 900000 + 100000)}`, name: ITEMS[Math.floor(random() * ITEMS.length)], quantity: 1 + Math.floor(random() * 4), amountCents: 199 + Math.floor(random() * 90000), metadata: { warehouse: `W${Math.floor(random() * 9)}`, promo: random() < 0.3 ? `SPRING-${Math.floor(random() * 99)}` : null } });
  }
  return JSON.stringify({
    id: `evt_${eventSeq.toString(36)}${Math.floor(random() * 1e9).toString(36)}`,
    type: types[eventSeq % types.length],
    account,
    created: Math.floor(Date.now() / 1000),
    livemode: true,
    data: {
      object: {
        id: `obj_${Math.floor(random() * 1e12).toString(36)}`,
        customer: { id: `cus_${Math.floor(random() * 1e9).toString(36)}`, email: `buyer${Math.floor(random() * 1e6)}@mail.example`, name: `Buyer ${Math.floor(random() * 1e6)}` },
        shipping: { name: 'Kim Schmidt', line1: `Hauptstraße ${1 + Math.floor(random() * 200)}`, postalCode: '10115', city: 'Berlin', country: 'DE' },
        items,
        totals: { subtotalCents: 0, taxCents: 0, currency: 'EUR' },
        description: `Order placed via web shop, session ${Math.floor(random() * 1e12).toString(36)}. `.repeat(3),
      },
    },
  });
}

selfRequests(port, {
  perSecond: loadNow,
  maxInFlight: 32,
  next: () => {
    const provider = PROVIDERS[Math.floor(random() * PROVIDERS.length)];
    const body = eventBody(provider, accountIds[Math.floor(random() * accountIds.length)]);
    const timestamp = Math.floor(Date.now() / 1000);
    return { method: 'POST', path: `/v1/hooks/${provider}`, headers: { 'content-type': 'application/json', 'x-signature': `${timestamp},${sign(PROVIDER_SECRETS[provider], timestamp, body)}` }, body };
  },
});

reportStats(() => ({ retained: pendingRetries.length, load: Math.round(loadNow() * 100) / 100, down: downEndpoints.size, capped: pendingRetries.length >= MAX_PENDING_RETRIES, ...counters, ballastMB }));
ready(`webhook-relay: ${MIN_PER_SECOND}–${MAX_PER_SECOND} webhooks/s over a ${PERIOD_SECONDS / 3600} h cycle (speed 1), ~${DOWN_RATIO * 100} % of customer endpoints down`);
