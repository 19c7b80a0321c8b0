// Checkout API of an online food and grocery shop. POST /v1/checkout takes a
// cart, asks the card network (an in-process stand-in) for an authorisation
// and answers 202 with a payment id; the card network calls back on
// POST /v1/card-network/callback 1-30 s later (production time), and only then
// is the pending authorisation settled and removed. Traffic ramps from 10:00
// to a lunchtime peak at 13:00 and falls back in the afternoon, so the Map of
// pending authorisations follows it up and down. Healthy.
import http from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import {
  buildBallast, envNumber, every, listen, onShutdown, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 10);
const random = rng(1301);
const STORES = ['lon-01', 'lon-02', 'man-01', 'bri-01', 'edi-01', 'lee-01'];
const BRANDS = ['visa', 'mastercard', 'amex'];
const PRODUCTS = Array.from({ length: 400 }, (_, i) => ({ sku: `G${10000 + i}`, name: `grocery item ${i}`, priceMinor: 49 + ((i * 397) % 1500) }));

/** Hour of the simulated day. */
function clockHour() {
  return CLOCK_H + programSeconds() / 3600;
}

/** Checkouts per second at speed 1: ~1/s at 10:00, 6/s at the 13:00 peak, back down by 16:00. */
function checkoutRate() {
  const h = clockHour();
  const lunch = Math.exp(-(((h - 13) / 1.25) ** 2));
  const day = h >= 7 && h <= 22 ? 1 : 0.25;
  return day * (1 + 5 * lunch);
}

// --- pending card authorisations -------------------------------------------
const pendingAuthorisations = new Map(); // paymentId -> authorisation
const recentOutcomes = []; // last 1 000 settled payments, for support lookups
const totals = { authorised: 0, declined: 0, expired: 0, callbacks: 0 };

class Authorisation {
  constructor(paymentId, order, card, now) {
    this.paymentId = paymentId;
    this.orderId = order.orderId;
    this.store = order.store;
    this.customerId = order.customerId;
    this.amountMinor = order.amountMinor;
    this.currency = 'GBP';
    this.lines = order.lines;
    this.card = card;
    this.requestedAt = now;
    this.expiresAt = now + 90;
    this.networkRef = null;
    this.status = 'pending';
  }
}

function cardFingerprint(pan) {
  return createHash('sha256').update(pan).digest('hex').slice(0, 24);
}

function priceCart(lines) {
  let total = 0;
  for (const line of lines) total += line.priceMinor * line.quantity;
  return total;
}

function startAuthorisation(order, pan) {
  const paymentId = `pay_${randomUUID().replace(/-/g, '')}`;
  const card = { brand: BRANDS[pan.charCodeAt(3) % 3], bin: pan.slice(0, 6), last4: pan.slice(-4), fingerprint: cardFingerprint(pan) };
  const auth = new Authorisation(paymentId, order, card, programSeconds());
  pendingAuthorisations.set(paymentId, auth);
  cardNetwork.authorise(auth);
  return auth;
}

function settle(paymentId, approved, networkRef) {
  const auth = pendingAuthorisations.get(paymentId);
  if (auth === undefined) return false;
  pendingAuthorisations.delete(paymentId);
  auth.status = approved ? 'authorised' : 'declined';
  auth.networkRef = networkRef;
  if (approved) totals.authorised++;
  else totals.declined++;
  recentOutcomes.push({ paymentId, orderId: auth.orderId, status: auth.status, amountMinor: auth.amountMinor, settledAt: programSeconds() });
  if (recentOutcomes.length > 1000) recentOutcomes.splice(0, recentOutcomes.length - 1000);
  return true;
}

// Authorisations whose callback never came (none expected) are expired by a sweeper.
every(5000 / speed, () => {
  const now = programSeconds();
  for (const [id, auth] of pendingAuthorisations) {
    if (auth.expiresAt < now) {
      pendingAuthorisations.delete(id);
      totals.expired++;
    }
  }
});

// --- card network stand-in: calls back over HTTP 1-30 s later -----------------
let port = 0;
const callbackAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const callbackTimers = new Set();
const cardNetwork = {
  authorise(auth) {
    const delaySeconds = 1 + 29 * random() ** 1.6; // most answer within a few seconds, a tail up to 30 s
    const approved = random() > 0.04;
    const timer = setTimeout(() => {
      callbackTimers.delete(timer);
      const body = JSON.stringify({ paymentId: auth.paymentId, approved, networkRef: `NR${Math.floor(random() * 1e12)}`, responseCode: approved ? '00' : '05' });
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/card-network/callback', agent: callbackAgent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => res.resume());
      req.on('error', () => {});
      req.end(body);
    }, (delaySeconds * 1000) / speed);
    callbackTimers.add(timer);
  },
};
onShutdown(() => {
  for (const timer of callbackTimers) clearTimeout(timer);
  callbackAgent.destroy();
});

// --- HTTP ---------------------------------------------------------------------
function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/checkout') {
      const body = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
      if (!Array.isArray(body.lines) || body.lines.length === 0 || typeof body.pan !== 'string') return send(res, 400, { error: 'invalid cart' });
      const lines = body.lines.map((l) => ({ sku: l.sku, name: l.name, quantity: l.quantity, priceMinor: l.priceMinor }));
      const order = { orderId: body.orderId, store: body.store, customerId: body.customerId, lines, amountMinor: priceCart(lines) };
      const auth = startAuthorisation(order, body.pan);
      return send(res, 202, { paymentId: auth.paymentId, status: 'pending', amountMinor: auth.amountMinor });
    }
    if (req.method === 'POST' && req.url === '/v1/card-network/callback') {
      const body = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
      totals.callbacks++;
      const known = settle(body.paymentId, body.approved, body.networkRef);
      return send(res, known ? 200 : 404, { ok: known });
    }
    if (req.method === 'GET' && req.url.startsWith('/v1/payments/')) {
      const id = req.url.slice('/v1/payments/'.length);
      const auth = pendingAuthorisations.get(id);
      return auth ? send(res, 200, { paymentId: id, status: auth.status }) : send(res, 404, { error: 'not pending' });
    }
    if (req.url === '/healthz') return send(res, 200, { ok: true, pending: pendingAuthorisations.size });
    send(res, 404, { error: 'not found' });
  } catch (error) {
    send(res, 500, { error: String(error.message) });
  }
}

// --- shoppers -----------------------------------------------------------------
let orderSeq = 0;
const recentPaymentIds = [];
function nextCheckout() {
  const count = 1 + Math.floor(random() ** 1.5 * 35);
  const lines = [];
  for (let i = 0; i < count; i++) {
    const product = PRODUCTS[Math.floor(random() * PRODUCTS.length)];
    lines.push({ sku: product.sku, name: product.name, quantity: 1 + Math.floor(random() * 3), priceMinor: product.priceMinor });
  }
  const pan = `4${String(Math.floor(random() * 1e15)).padStart(15, '0')}`;
  const body = JSON.stringify({ orderId: `ord-${++orderSeq}`, store: STORES[orderSeq % STORES.length], customerId: `cus-${Math.floor(random() * 200000)}`, pan, lines });
  return { method: 'POST', path: '/v1/checkout', headers: { 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
({ port } = await listen(handler));
const shoppers = selfRequests(port, {
  perSecond: checkoutRate,
  next: nextCheckout,
  onResponse: (status, text) => {
    if (status !== 202) return;
    recentPaymentIds.push(JSON.parse(text).paymentId);
    if (recentPaymentIds.length > 200) recentPaymentIds.shift();
  },
});
// The shop front polls a payment's status now and then; load balancers check health.
const pollers = selfRequests(port, {
  perSecond: () => 0.3 + checkoutRate() * 0.3,
  next: () => (random() < 0.2 || recentPaymentIds.length === 0 ? { path: '/healthz' } : { path: `/v1/payments/${recentPaymentIds[Math.floor(random() * recentPaymentIds.length)]}` }),
});
reportStats(() => ({
  retained: pendingAuthorisations.size,
  clock: Math.round(clockHour() * 100) / 100,
  ratePerS: Math.round(checkoutRate() * 100) / 100,
  ...totals,
  sent: shoppers.sent,
  failed: shoppers.failed + pollers.failed,
}));
ready(`checkout API: pending card authorisations follow a 10:00-13:00-16:00 lunchtime peak (clock ${CLOCK_H}h, ballast ${ballastMb} MB)`);
