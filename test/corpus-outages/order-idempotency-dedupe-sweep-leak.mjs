// Order service. Shop front-ends POST /v1/orders with an Idempotency-Key
// header; mobile clients on bad networks retry a few percent of them with the
// same key. Config rollout 2024-07-b (SCENARIO_ONSET, default 5 400 s) turns on
// `dedupeRetries`: from then on rememberRequest() keeps every request's parsed
// body and response in the module-level Map `idempotencyCache` so that a retry
// gets the first answer instead of a duplicate order. Entries are meant to
// live 10 minutes, but sweepExpired() was copied from the reservation sweep and
// still walks `reservations`, so nothing ever leaves `idempotencyCache`.
import {
  buildBallast,
  every,
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

const ballastMb = buildBallast();

const MAX_REMEMBERED = 80_000; // memory guard on the dedupe map
const STATUS_CACHE_SIZE = 2_000;

let config = { version: '2024-07-a', dedupeRetries: false, idempotencyTtlSeconds: 600, reservationTtlSeconds: 900 };
setTimeout(() => {
  config = { ...config, version: '2024-07-b', dedupeRetries: true };
}, onsetMs(5400)).unref();

/** Idempotency key -> the first request's parsed body and response (meant to live idempotencyTtlSeconds). */
const idempotencyCache = new Map();
/** Order id -> stock reservation awaiting payment capture. */
const reservations = new Map();
/** Recently placed orders for the status endpoint (insertion-ordered, bounded). */
const orderStatus = new Map();

const counters = { orders: 0, retries: 0, dedupeHits: 0, duplicates: 0, rememberRefused: 0, captured: 0, reservationsExpired: 0, statusReads: 0, invalid: 0 };
let nextOrderSeq = 100_000;

function lineTotal(item) {
  return item.unitPriceCents * item.quantity;
}

function orderTotal(items) {
  let total = 0;
  for (const item of items) total += lineTotal(item);
  return total;
}

function validateOrder(body) {
  return typeof body.customerId === 'string' && Array.isArray(body.items) && body.items.length > 0 && body.items.every((i) => i.quantity > 0);
}

function rememberRequest(key, body, response, now) {
  if (idempotencyCache.size >= MAX_REMEMBERED) {
    counters.rememberRefused++;
    return;
  }
  idempotencyCache.set(key, { key, customerId: body.customerId, body, response, status: 201, receivedAt: now, expiresAt: now + config.idempotencyTtlSeconds });
}

function sweepExpired() {
  const now = programSeconds();
  for (const [key, entry] of reservations) {
    if (entry.expiresAt <= now) reservations.delete(key);
  }
}

function sweepReservations() {
  const now = programSeconds();
  for (const [orderId, reservation] of reservations) {
    if (reservation.expiresAt <= now) {
      reservations.delete(orderId);
      counters.reservationsExpired++;
    }
  }
}
every(scaledMs(60), sweepExpired);
every(scaledMs(60), sweepReservations);

const captureDelay = rng(99);

function placeOrder(body, now) {
  const orderId = `ord_${(nextOrderSeq++).toString(36)}`;
  const totalCents = orderTotal(body.items) + (body.shipping?.priceCents ?? 0);
  reservations.set(orderId, { orderId, skus: body.items.map((i) => i.sku), expiresAt: now + config.reservationTtlSeconds });
  const response = { orderId, status: 'pending_payment', totalCents, currency: body.currency, createdAt: now };
  orderStatus.set(orderId, { orderId, status: 'pending_payment', totalCents, updatedAt: now });
  if (orderStatus.size > STATUS_CACHE_SIZE) orderStatus.delete(orderStatus.keys().next().value);
  counters.orders++;
  // The payment service captures most orders within a minute or two.
  setTimeout(() => capture(orderId), scaledMs(20 + captureDelay() * 100));
  return response;
}

function capture(orderId) {
  if (!reservations.delete(orderId)) return;
  counters.captured++;
  const status = orderStatus.get(orderId);
  if (status !== undefined) {
    status.status = 'paid';
    status.updatedAt = programSeconds();
  }
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function createOrder(req, res) {
  const now = programSeconds();
  const key = req.headers['idempotency-key'];
  const raw = await readBody(req);
  if (config.dedupeRetries && typeof key === 'string') {
    const seen = idempotencyCache.get(key);
    if (seen !== undefined) {
      counters.dedupeHits++;
      return send(res, seen.status, seen.response);
    }
  }
  const body = JSON.parse(raw.toString('utf8'));
  if (!validateOrder(body)) {
    counters.invalid++;
    return send(res, 422, { error: 'invalid order' });
  }
  if (req.headers['x-retry-attempt'] !== undefined && !config.dedupeRetries) counters.duplicates++;
  const response = placeOrder(body, now);
  if (config.dedupeRetries && typeof key === 'string') rememberRequest(key, body, response, now);
  return send(res, 201, response);
}

async function handle(req, res) {
  const url = req.url ?? '/';
  if (req.method === 'POST' && url === '/v1/orders') return createOrder(req, res);
  const match = /^\/v1\/orders\/(ord_\w+)$/.exec(url);
  if (match !== null && req.method === 'GET') {
    counters.statusReads++;
    const status = orderStatus.get(match[1]);
    return status === undefined ? send(res, 404, { error: 'unknown order' }) : send(res, 200, status);
  }
  req.resume();
  if (url === '/healthz') return send(res, 200, { ok: true, config: config.version });
  return send(res, 404, { error: 'not found' });
}

const { port } = await listen((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) send(res, 400, { error: 'bad request' });
  });
});

// --- Load: web and app checkouts, order-status polls, probes --------------------

const random = rng(7_2024);
const ORDERS_PER_S = 0.8;
const RETRY_SHARE = 0.03;
const CATALOGUE = [
  ['SKU-TEE-BLK-M', 'Organic cotton tee, black, M', 1999],
  ['SKU-TEE-WHT-L', 'Organic cotton tee, white, L', 1999],
  ['SKU-HOOD-GRY-M', 'Heavyweight hoodie, grey melange, M', 5900],
  ['SKU-JEAN-IND-32', 'Selvedge jeans, indigo, W32 L32', 11900],
  ['SKU-SOCK-3PK', 'Merino socks, 3-pack', 2400],
  ['SKU-CAP-NVY', 'Six-panel cap, navy', 2900],
  ['SKU-BAG-TOTE', 'Canvas tote bag, natural', 1500],
  ['SKU-JKT-OLV-L', 'Waxed field jacket, olive, L', 24900],
  ['SKU-BELT-BRN-90', 'Leather belt, brown, 90 cm', 4500],
  ['SKU-SCARF-WL', 'Lambswool scarf, charcoal', 3900],
];
const CITIES = [
  ['Berlin', '10115', 'DE'],
  ['Hamburg', '20095', 'DE'],
  ['München', '80331', 'DE'],
  ['Wien', '1010', 'AT'],
  ['Amsterdam', '1012', 'NL'],
  ['Lyon', '69001', 'FR'],
];
const STREETS = ['Hauptstraße', 'Bahnhofstraße', 'Gartenweg', 'Lindenallee', 'Marktplatz', 'Schillerstraße', 'Kerkstraat', 'Rue de la République'];
const recentKeys = [];
const recentOrders = [];

function pick(list) {
  return list[Math.floor(random() * list.length)];
}

function address(customer) {
  const [city, postalCode, country] = CITIES[customer % CITIES.length];
  return { name: `Customer ${customer}`, line1: `${pick(STREETS)} ${1 + (customer % 120)}`, line2: random() < 0.3 ? `Apt ${1 + (customer % 40)}` : null, city, postalCode, country, phone: `+49 30 ${1000000 + customer}` };
}

function orderBody() {
  const customer = Math.floor(random() * 250_000);
  const items = [];
  const lines = 1 + Math.floor(random() * random() * 6);
  for (let i = 0; i < lines; i++) {
    const [sku, name, unitPriceCents] = pick(CATALOGUE);
    items.push({ sku, name, quantity: 1 + Math.floor(random() * random() * 3), unitPriceCents, giftWrap: random() < 0.05 });
  }
  const shippingAddress = address(customer);
  return {
    customerId: `cus_${customer.toString(36)}`,
    email: `customer${customer}@example.com`,
    currency: 'EUR',
    items,
    shippingAddress,
    billingAddress: random() < 0.8 ? shippingAddress : address(customer + 1),
    shipping: { method: random() < 0.7 ? 'standard' : 'express', priceCents: random() < 0.7 ? 495 : 995 },
    payment: { method: pick(['card', 'card', 'paypal', 'klarna']), token: `tok_${Math.floor(random() * 1e12).toString(36)}${Math.floor(random() * 1e12).toString(36)}` },
    couponCode: random() < 0.15 ? pick(['SUMMER10', 'WELCOME5', 'FREESHIP']) : null,
    channel: pick(['web', 'web', 'ios', 'android']),
    client: { appVersion: pick(['5.2.0', '5.2.1', '5.3.0']), userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15', ip: `10.${customer % 255}.${(customer >> 8) % 255}.${customer % 7}` },
    notes: random() < 0.1 ? 'Bitte beim Nachbarn abgeben, falls niemand zu Hause ist.' : '',
  };
}

let loadTick = 0;
function nextRequest() {
  loadTick++;
  const r = random();
  if (r < 0.28) {
    if (recentKeys.length > 0 && random() < RETRY_SHARE) {
      // A client that timed out sends the same order again with the same key.
      const retry = recentKeys[Math.floor(random() * recentKeys.length)];
      counters.retries++;
      return { method: 'POST', path: '/v1/orders', headers: { 'content-type': 'application/json', 'idempotency-key': retry.key, 'x-retry-attempt': '1' }, body: retry.body };
    }
    const key = `${Math.floor(random() * 1e12).toString(36)}-${Math.floor(random() * 1e12).toString(36)}-${loadTick.toString(36)}`;
    const body = JSON.stringify(orderBody());
    recentKeys.push({ key, body });
    if (recentKeys.length > 50) recentKeys.shift();
    return { method: 'POST', path: '/v1/orders', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body };
  }
  if (r < 0.98 && recentOrders.length > 0) return { method: 'GET', path: `/v1/orders/${recentOrders[Math.floor(random() * recentOrders.length)]}` };
  return { method: 'GET', path: '/healthz' };
}

const http = selfRequests(port, {
  perSecond: ORDERS_PER_S / 0.28,
  maxInFlight: 32,
  next: nextRequest,
  onResponse: (status, text, request) => {
    if (request.method !== 'POST' || status !== 201) return;
    recentOrders.push(JSON.parse(text).orderId);
    if (recentOrders.length > 200) recentOrders.shift();
  },
});

reportStats(() => ({
  retained: idempotencyCache.size,
  config: config.version,
  reservations: reservations.size,
  statusCache: orderStatus.size,
  ...counters,
  sent: http.sent,
  failed: http.failed,
}));

ready(
  `order-idempotency-dedupe-sweep-leak on 127.0.0.1:${port}: ~${ORDERS_PER_S} orders/s at speed 1 (x${speed}); config 2024-07-b at ${onsetSeconds(5400)} s keeps every order body in idempotencyCache, the sweep walks reservations` +
    (ballastMb > 0 ? ` (ballast ${ballastMb} MB)` : ''),
);
