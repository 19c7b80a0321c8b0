// Checkout-quote service. Each POST /v1/carts/:id/quote makes three outbound
// calls (tax, shipping rates, fraud score) through dedupedCall(), which keeps
// every outbound request in the module-level Map `pendingByFingerprint`
// (sha256 of method, url and canonical body) so that identical concurrent
// calls (double-clicks, client retries) share one downstream request. The
// entry is deleted when the request succeeds; when it fails the catch path
// marks it failed and rethrows but never deletes it. From 1 h of production
// time (SCENARIO_ONSET) the pricing gateway becomes flaky and ~2 % of the
// outbound requests fail, so the Map grows with traffic, which ramps through
// the morning (07:00 -> 13:00, ~5x).
import crypto from 'node:crypto';
import {
  buildBallast, envNumber, listen, onsetSeconds, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 7, (v) => v >= 0 && v < 24);
const ONSET_S = onsetSeconds(3600); // production seconds until the gateway turns flaky
const FAILURE_RATE = 0.02;
const rand = rng(0xdd0be);

function hourOfDay() {
  return (CLOCK_H + programSeconds() / 3600) % 24;
}

/** Quote requests per second at speed 1 for an hour of the day. */
function quotesPerSecond(h) {
  if (h < 7) return 0.3;
  if (h < 13) return 0.8 + (4 - 0.8) * (h - 7) / 6; // the morning ramp, 5x
  if (h < 18) return 4;
  if (h < 23) return 4 - (4 - 0.3) * (h - 18) / 5;
  return 0.3;
}

// --- Pricing gateway stand-in (tax, carrier rates, fraud), a few ms of latency.
class PricingGateway {
  constructor() {
    this.calls = 0;
    this.failures = 0;
  }
  async request(method, url, body) {
    this.calls++;
    await new Promise((resolve) => setTimeout(resolve, 2 + rand() * 10));
    if (programSeconds() >= ONSET_S && rand() < FAILURE_RATE) {
      this.failures++;
      const kind = rand();
      const error = new Error(kind < 0.6 ? `upstream 503 from ${url}` : kind < 0.85 ? `timeout after 2500 ms calling ${url}` : `socket hang up (${url})`);
      error.code = kind < 0.6 ? 'E_UPSTREAM_503' : kind < 0.85 ? 'ETIMEDOUT' : 'ECONNRESET';
      throw error;
    }
    const input = JSON.parse(body);
    if (url.endsWith('/tax/v2/calculate')) return { taxCents: Math.round(input.subtotalCents * 0.21), jurisdiction: input.country };
    if (url.endsWith('/carriers/rates')) return { options: [{ carrier: 'postnl', cents: 495, days: 2 }, { carrier: 'dhl', cents: 795, days: 1 }] };
    return { score: Math.round(rand() * 1000) / 1000, reviewed: false };
  }
}
const gateway = new PricingGateway();

// --- Outbound dedupe registry ----------------------------------------------
const pendingByFingerprint = new Map(); // fingerprint -> in-flight outbound request
const totals = { outbound: 0, joined: 0, succeeded: 0, failed: 0, quotes: 0, quoteErrors: 0 };

function canonicalJson(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

function fingerprint(method, url, body) {
  return crypto.createHash('sha256').update(method).update(' ').update(url).update('\n').update(body).digest('hex');
}

function trackRequest(fp, method, url, body, headers) {
  const entry = {
    fingerprint: fp,
    method,
    url,
    body,
    headers,
    startedAt: programSeconds(),
    waiters: 1,
    state: 'pending',
    error: null,
    promise: null,
  };
  pendingByFingerprint.set(fp, entry);
  return entry;
}

async function dedupedCall(method, url, payload, requestId) {
  const body = canonicalJson(payload);
  const fp = fingerprint(method, url, body);
  const existing = pendingByFingerprint.get(fp);
  if (existing !== undefined && existing.state === 'pending') {
    existing.waiters++;
    totals.joined++;
    return existing.promise;
  }
  const entry = trackRequest(fp, method, url, body, { 'x-request-id': requestId, 'content-type': 'application/json', 'idempotency-key': fp.slice(0, 32) });
  totals.outbound++;
  entry.promise = gateway.request(method, url, body).then(
    (result) => {
      pendingByFingerprint.delete(fp);
      totals.succeeded++;
      return result;
    },
    (error) => {
      // BUG: the entry is marked failed but never removed from the registry.
      entry.state = 'failed';
      entry.error = error;
      totals.failed++;
      throw error;
    },
  );
  return entry.promise;
}

// --- Quotes ---------------------------------------------------------------
async function quote(cartId, cart, requestId) {
  const subtotalCents = cart.lines.reduce((sum, l) => sum + l.qty * l.unitPriceCents, 0);
  const [tax, rates, fraud] = await Promise.all([
    dedupedCall('POST', 'https://pricing.internal/tax/v2/calculate', { cartId, country: cart.shipTo.country, postcode: cart.shipTo.postcode, subtotalCents, lines: cart.lines }, requestId),
    dedupedCall('POST', 'https://pricing.internal/carriers/rates', { cartId, shipTo: cart.shipTo, parcels: [{ weightGrams: cart.weightGrams }] }, requestId),
    dedupedCall('POST', 'https://pricing.internal/fraud/score', { cartId, customerId: cart.customerId, ip: cart.ip, subtotalCents }, requestId),
  ]);
  return { cartId, subtotalCents, taxCents: tax.taxCents, shipping: rates.options, fraudScore: fraud.score, totalCents: subtotalCents + tax.taxCents + rates.options[0].cents };
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const match = /^\/v1\/carts\/([\w-]+)\/quote$/.exec(req.url);
  if (req.method === 'POST' && match !== null) {
    const cart = JSON.parse((await readBody(req)).toString('utf8'));
    totals.quotes++;
    try {
      return send(res, 200, await quote(match[1], cart, req.headers['x-request-id'] ?? 'none'));
    } catch (error) {
      totals.quoteErrors++;
      return send(res, 502, { error: 'pricing unavailable', code: error.code });
    }
  }
  if (req.url === '/healthz') return send(res, 200, { ok: true });
  send(res, 404, { error: 'not found' });
}

// --- Shoppers at checkout (in-process client); ~3 % double-submit ----------
let cartSeq = 0;
let lastCart = null;

function quoteRequest() {
  if (lastCart !== null && rand() < 0.03) {
    const again = lastCart; // a double click: the same cart again
    lastCart = null;
    return again;
  }
  const c = Math.floor(rand() * 300_000);
  const lines = Array.from({ length: 1 + Math.floor(rand() ** 2 * 5) }, () => {
    const k = Math.floor(rand() * 50_000);
    return { sku: `SKU-${k.toString(36).toUpperCase()}`, qty: 1 + Math.floor(rand() ** 3 * 3), unitPriceCents: 199 + Math.floor(rand() * 12_000) };
  });
  const cart = { customerId: `cus_${c.toString(36)}`, ip: `10.${c % 250}.${(c >> 8) % 250}.${c % 199}`, weightGrams: 200 + Math.floor(rand() * 4800), shipTo: { country: c % 4 === 0 ? 'BE' : 'NL', postcode: `${1000 + (c % 8999)} ${String.fromCharCode(65 + (c % 26))}${String.fromCharCode(65 + ((c >> 5) % 26))}`, city: `City ${c % 400}` }, lines };
  const id = `cart-${(++cartSeq).toString(36)}-${c.toString(36)}`;
  lastCart = { method: 'POST', path: `/v1/carts/${id}/quote`, headers: { 'content-type': 'application/json', 'x-request-id': crypto.randomUUID() }, body: JSON.stringify(cart) };
  return lastCart;
}

const { port } = await listen(handler);
const shoppers = selfRequests(port, { perSecond: () => quotesPerSecond(hourOfDay()), maxInFlight: 32, next: quoteRequest });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ path: '/healthz' }) });

const ballastMb = buildBallast();
reportStats(() => ({
  retained: pendingByFingerprint.size,
  clock: Math.round(hourOfDay() * 100) / 100,
  quotesPerHour: Math.round(quotesPerSecond(hourOfDay()) * 3600),
  outbound: totals.outbound,
  joined: totals.joined,
  outboundFailed: totals.failed,
  quoteErrors: totals.quoteErrors,
  failed: shoppers.failed + probes.failed,
}));
ready(`outbound-dedupe-registry-leak: failed outbound requests stay in Map pendingByFingerprint, onset ${ONSET_S} s, day starts ${CLOCK_H}:00, speed ${speed}, ballast ${ballastMb} MB`);
