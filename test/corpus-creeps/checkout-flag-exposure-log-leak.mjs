// Checkout API with an embedded feature-flag SDK. Every cart view, quote and
// order confirmation evaluates a few flags (new address form, express
// shipping, BNPL, the fraud-check provider, ...) against the shopper's
// evaluation context. The SDK keeps an "exposure log": the first time it sees
// a context, it appends an exposure event (the context and the variants it
// was served) so that the analytics pipeline can attribute conversions to
// experiment arms. The log is supposed to be flushed to the analytics
// endpoint every 30 s and cleared, together with the index of contexts seen.
//
// The analytics endpoint moved, and the service's config now has
// `analytics.enabled: false` until the new collector is provisioned; the SDK
// only starts its flush timer when analytics is enabled, but still records
// exposures. Nothing ever flushes: every new shopper's context stays in
// `exposureLog` (and in the `exposureIndex` Map) for good, a steady creep of
// about a megabyte an hour.
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

const random = rng(0xf1a65);
const EPOCH_MS = Date.UTC(2024, 5, 3, 8, 0, 0);
const SDK_VERSION = 'flagkit-node/4.12.1';

/** Wall-clock of the production day (ms). */
function clockMs() {
  return EPOCH_MS + Math.round(programSeconds() * 1000);
}

// --- the flag SDK ----------------------------------------------------------------

/** FNV-1a over a string, 32 bits: stable bucketing of a context into a rollout. */
function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function bucketOf(salt, key) {
  return hash32(`${salt}.${key}`) / 4294967296;
}

function contextKey(context) {
  return `${context.kind}:${context.key}`;
}

function matchesRule(rule, context) {
  const value = context[rule.attribute];
  return rule.op === 'in' ? rule.values.includes(value) : value !== undefined && value >= rule.values[0];
}

/** Picks a variant: targeting rules first, then the percentage rollout. */
function evaluate(flag, context) {
  if (!flag.on) return flag.offVariant;
  for (const rule of flag.rules) if (matchesRule(rule, context)) return rule.variant;
  const bucket = bucketOf(flag.salt, context.key);
  let acc = 0;
  for (const [variant, weight] of flag.rollout) {
    acc += weight;
    if (bucket < acc) return variant;
  }
  return flag.offVariant;
}

/** The exposure event recorded the first time a context is evaluated. */
function toExposure(context, key, now) {
  return {
    contextKey: key,
    context,
    flags: {},
    firstSeenAt: now,
    sdkVersion: SDK_VERSION,
  };
}

class FlagClient {
  constructor(options) {
    this.options = options;
    this.flags = new Map();
    /** Exposure events not yet sent to analytics, oldest first. */
    this.exposureLog = [];
    /** contextKey -> its pending exposure event (dedupe until the next flush). */
    this.exposureIndex = new Map();
    this.evaluations = 0;
    this.flushed = 0;
    if (options.analytics.enabled && options.analytics.flushIntervalSeconds > 0) {
      every((options.analytics.flushIntervalSeconds * 1000) / speed, () => this.flush());
    }
  }

  setFlags(definitions) {
    for (const flag of definitions) this.flags.set(flag.key, flag);
  }

  variation(flagKey, context, fallback) {
    const flag = this.flags.get(flagKey);
    if (flag === undefined) return fallback;
    this.evaluations++;
    const variant = evaluate(flag, context);
    this.recordExposure(flagKey, variant, context);
    return variant;
  }

  recordExposure(flagKey, variant, context) {
    const key = contextKey(context);
    let event = this.exposureIndex.get(key);
    if (event === undefined) {
      event = toExposure(context, key, clockMs());
      this.exposureIndex.set(key, event);
      this.exposureLog.push(event);
    }
    if (event.flags[flagKey] === undefined) event.flags[flagKey] = variant;
  }

  /** Sends the pending exposures to the analytics collector and forgets them. */
  flush() {
    if (this.exposureLog.length === 0) return;
    const batch = this.exposureLog;
    this.exposureLog = [];
    this.exposureIndex.clear();
    const payload = JSON.stringify({ sdk: SDK_VERSION, sentAt: clockMs(), events: batch });
    this.flushed += batch.length;
    analyticsCollector.receive(payload);
  }
}

const analyticsCollector = {
  bytes: 0,
  receive(payload) {
    this.bytes += payload.length;
  },
};

const flagClient = new FlagClient({
  environment: 'production',
  // Collector migration in progress (INFRA-2291): re-enable once the new endpoint is live.
  analytics: { enabled: false, endpoint: 'https://events.internal/v2/exposures', flushIntervalSeconds: 30 },
});

flagClient.setFlags([
  { key: 'checkout.address-form-v2', on: true, salt: 'af2', offVariant: 'control', rules: [{ attribute: 'country', op: 'in', values: ['NL', 'BE'], variant: 'treatment' }], rollout: [['treatment', 0.3], ['control', 0.7]] },
  { key: 'checkout.express-shipping', on: true, salt: 'exs', offVariant: 'off', rules: [{ attribute: 'plan', op: 'in', values: ['plus'], variant: 'on' }], rollout: [['on', 0.5], ['off', 0.5]] },
  { key: 'checkout.bnpl-provider', on: true, salt: 'bnpl', offVariant: 'none', rules: [], rollout: [['klarna', 0.45], ['riverty', 0.2], ['none', 0.35]] },
  { key: 'checkout.fraud-provider', on: true, salt: 'frd', offVariant: 'legacy', rules: [{ attribute: 'appVersion', op: 'gte', values: ['7.30.0'], variant: 'signalx' }], rollout: [['signalx', 0.1], ['legacy', 0.9]] },
  { key: 'checkout.upsell-carousel', on: true, salt: 'ups', offVariant: 'off', rules: [], rollout: [['three-items', 0.33], ['six-items', 0.33], ['off', 0.34]] },
  { key: 'checkout.free-shipping-threshold', on: true, salt: 'fst', offVariant: '50', rules: [{ attribute: 'country', op: 'in', values: ['DE', 'AT'], variant: '40' }], rollout: [['50', 0.5], ['60', 0.5]] },
]);

// --- checkout domain ------------------------------------------------------------------

const SHIPPING_CENTS = { standard: 495, express: 1295 };
const VAT = { NL: 0.21, BE: 0.21, DE: 0.19, AT: 0.2, FR: 0.2, ES: 0.21, IT: 0.22, PL: 0.23 };

/** The evaluation context of a request: who is buying, from where, on what. */
function contextFrom(headers) {
  return {
    kind: 'user',
    key: headers['x-user-id'],
    country: headers['x-country'],
    locale: headers['accept-language'],
    platform: headers['x-platform'],
    appVersion: headers['x-app-version'],
    plan: headers['x-plan'],
    anonymous: headers['x-user-id'].startsWith('anon_'),
  };
}

function lineTotal(line) {
  return line.unitCents * line.quantity;
}

function quote(cart, context) {
  let subtotal = 0;
  for (const line of cart.lines) subtotal += lineTotal(line);
  const threshold = Number(flagClient.variation('checkout.free-shipping-threshold', context, '50')) * 100;
  const express = flagClient.variation('checkout.express-shipping', context, 'off') === 'on' && cart.shipping === 'express';
  const shipping = subtotal >= threshold && !express ? 0 : SHIPPING_CENTS[express ? 'express' : 'standard'];
  const vat = Math.round((subtotal + shipping) * (VAT[context.country] ?? 0.21));
  const bnpl = flagClient.variation('checkout.bnpl-provider', context, 'none');
  return { subtotal, shipping, vat, total: subtotal + shipping + vat, currency: 'EUR', paymentOptions: bnpl === 'none' ? ['card', 'ideal'] : ['card', 'ideal', bnpl] };
}

const stats = { carts: 0, quotes: 0, orders: 0 };
/** The last 500 confirmed orders (for the order-status lookups). */
const recentOrders = [];

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://checkout.local');
  try {
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    if (req.headers['x-user-id'] === undefined) return sendJson(res, 401, { error: 'no user' });
    const context = contextFrom(req.headers);
    if (req.method === 'GET' && url.pathname === '/v1/cart') {
      stats.carts++;
      const layout = flagClient.variation('checkout.upsell-carousel', context, 'off');
      return sendJson(res, 200, { layout, addressForm: flagClient.variation('checkout.address-form-v2', context, 'control') });
    }
    if (req.method === 'POST' && url.pathname === '/v1/checkout/quote') {
      stats.quotes++;
      const cart = JSON.parse((await readBody(req)).toString('utf8'));
      return sendJson(res, 200, quote(cart, context));
    }
    if (req.method === 'POST' && url.pathname === '/v1/checkout/confirm') {
      stats.orders++;
      const cart = JSON.parse((await readBody(req)).toString('utf8'));
      const priced = quote(cart, context);
      const fraud = flagClient.variation('checkout.fraud-provider', context, 'legacy');
      const order = { id: `ord_${(stats.orders + 1_000_000).toString(36)}`, user: context.key, total: priced.total, fraud, at: clockMs() };
      recentOrders.push(order);
      if (recentOrders.length > 500) recentOrders.shift();
      return sendJson(res, 201, order);
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- shoppers (the load) ----------------------------------------------------------------

const COUNTRIES = ['NL', 'NL', 'DE', 'DE', 'DE', 'BE', 'FR', 'AT', 'ES', 'IT', 'PL'];
const LOCALES = { NL: 'nl-NL', BE: 'nl-BE', DE: 'de-DE', AT: 'de-AT', FR: 'fr-FR', ES: 'es-ES', IT: 'it-IT', PL: 'pl-PL' };
const PLATFORMS = ['web', 'web', 'ios', 'android'];
const APP_VERSIONS = ['7.28.2', '7.29.0', '7.29.1', '7.30.0', '7.30.1'];
/** Customers who shop repeatedly (their contexts are seen again and again). */
const regulars = Array.from({ length: 1500 }, (_, i) => `usr_${(48_000_000 + i * 7919).toString(36)}`);
let shopperSeq = 0;

function newShopper() {
  const country = COUNTRIES[Math.floor(random() * COUNTRIES.length)];
  const regular = random() < 0.12;
  const id = regular
    ? regulars[Math.floor(random() * regulars.length)]
    : random() < 0.3
      ? `anon_${(++shopperSeq).toString(36)}${Math.floor(random() * 1e9).toString(36)}`
      : `usr_${(60_000_000 + ++shopperSeq * 13).toString(36)}`;
  const lines = [];
  const n = 1 + Math.floor(random() * 4);
  for (let i = 0; i < n; i++) lines.push({ sku: `SKU-${Math.floor(random() * 90_000)}`, quantity: 1 + Math.floor(random() * 2), unitCents: 499 + Math.floor(random() * 8000) });
  return {
    headers: {
      'x-user-id': id,
      'x-country': country,
      'accept-language': LOCALES[country],
      'x-platform': PLATFORMS[Math.floor(random() * PLATFORMS.length)],
      'x-app-version': APP_VERSIONS[Math.floor(random() * APP_VERSIONS.length)],
      'x-plan': random() < 0.15 ? 'plus' : 'basic',
      'content-type': 'application/json',
    },
    cart: JSON.stringify({ lines, shipping: random() < 0.25 ? 'express' : 'standard' }),
    steps: ['cart', 'quote', ...(random() < 0.5 ? ['cart', 'quote'] : []), ...(random() < 0.55 ? ['confirm'] : [])],
  };
}

/** Shoppers part-way through their checkout journey (about a dozen at any time). */
const journeys = [];
const CONCURRENT_SHOPPERS = 12;

function nextRequest() {
  if (random() < 0.04) return { method: 'GET', path: '/healthz' };
  while (journeys.length < CONCURRENT_SHOPPERS) journeys.push(newShopper());
  const index = Math.floor(random() * journeys.length);
  const journey = journeys[index];
  const step = journey.steps.shift();
  if (journey.steps.length === 0) journeys.splice(index, 1);
  if (step === 'cart') return { method: 'GET', path: '/v1/cart', headers: journey.headers };
  return { method: 'POST', path: step === 'quote' ? '/v1/checkout/quote' : '/v1/checkout/confirm', headers: journey.headers, body: journey.cart };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~1.7 requests/s: cart views, quotes and confirmations of ~0.45 shoppers/s.
const shoppers = selfRequests(port, { perSecond: 1.7, maxInFlight: 8, next: nextRequest });

reportStats(() => ({
  retained: flagClient.exposureLog.length,
  contexts: flagClient.exposureIndex.size,
  evaluations: flagClient.evaluations,
  flushed: flagClient.flushed,
  orders: stats.orders,
  requestsFailed: shoppers.failed,
}));

ready(
  `checkout-flag-exposure-log-leak: checkout API whose flag SDK appends every new evaluation context to exposureLog; the analytics flush is disabled, so it is never sent or cleared (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
