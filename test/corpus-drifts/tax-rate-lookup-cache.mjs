// Tax-rate lookup service of a checkout platform: the checkout and cart
// services ask for the tax treatment of a basket's items
// (GET /v1/tax-rates?keys=DE:10115:apparel,...), one key per destination
// postcode and product tax class. Each key is resolved by the tax engine (a
// stand-in with ~40 ms of production-time latency that builds the rate
// record: jurisdictions, rates, rounding rule, exemptions, the rule
// version) and kept in class TtlCache (module-level `rateCache`, Map
// `entries`) for 5 minutes; a sweep every 30 s drops expired entries, and a
// lookup of an expired key resolves it again. Concurrent misses of the same
// key share one engine call.
//
// The cache holds what was asked for in the last five minutes, so its size
// follows the mix of keys: most lookups (85 %) come from a "hot" set of
// postcode x class pairs whose breadth drifts over the hours (campaigns in
// some regions, marketplaces shipping everywhere, quiet spells) as an
// Ornstein-Uhlenbeck walk in log terms around 3 000 keys (sd ~0.6, time
// constant 1.5 h), the rest from the whole long tail. More distinct keys for a
// while, then fewer; no trend. Healthy.
import {
  buildBallast,
  every,
  listen,
  onShutdown,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7a8);

function gaussian() {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

// --- the cache -----------------------------------------------------------------------------------

class TtlCache {
  constructor(ttlSeconds) {
    this.ttlSeconds = ttlSeconds;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
    this.expired = 0;
  }

  get(key, now) {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      this.expired++;
      return undefined;
    }
    return entry.value;
  }

  set(key, value, now) {
    this.entries.set(key, { value, expiresAt: now + this.ttlSeconds });
  }

  sweep(now) {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) {
        this.entries.delete(key);
        this.expired++;
      }
    }
  }
}

const rateCache = new TtlCache(300);
/** key -> Promise of a rate record being resolved. */
const resolving = new Map();

// --- the tax engine stand-in --------------------------------------------------------------------

const COUNTRIES = ['DE', 'FR', 'NL', 'AT', 'BE', 'IT', 'ES', 'PL', 'SE', 'DK'];
const STANDARD = { DE: 19, FR: 20, NL: 21, AT: 20, BE: 21, IT: 22, ES: 21, PL: 23, SE: 25, DK: 25 };
const CLASSES = ['standard', 'apparel', 'food', 'books', 'children-clothing', 'medical', 'digital', 'alcohol'];

const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});
const engine = { calls: 0 };

function rateRecord(country, postcode, taxClass) {
  const standard = STANDARD[country] ?? 20;
  const reduced = taxClass === 'food' || taxClass === 'books' || taxClass === 'medical';
  const region = `${country}-${postcode.slice(0, 2)}`;
  return {
    key: `${country}:${postcode}:${taxClass}`,
    country,
    postcode,
    taxClass,
    jurisdictions: [
      { level: 'country', code: country, name: `${country} federal`, ratePercent: reduced ? Math.round(standard / 2.5) : standard },
      { level: 'region', code: region, name: `Region ${region}`, ratePercent: postcode.charCodeAt(1) % 3 === 0 ? 1 : 0 },
    ],
    effectiveRatePercent: reduced ? Math.round(standard / 2.5) : standard,
    rounding: country === 'SE' || country === 'DK' ? 'per-line-half-up' : 'per-invoice-half-even',
    exemptions: taxClass === 'children-clothing' && country === 'IT' ? ['under-14-apparel'] : [],
    reverseChargeEligible: taxClass === 'digital',
    ruleVersion: `2024.${1 + (postcode.charCodeAt(0) % 6)}`,
    source: 'tax-engine',
    notes: `Rate for ${taxClass} goods shipped to ${postcode} (${country}); evaluated against ${region} rules`,
  };
}

function engineLookup(key) {
  engine.calls++;
  const [country, postcode, taxClass] = key.split(':');
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      resolve(rateRecord(country, postcode, taxClass));
    }, (20 + random() * 40) / speed);
    pendingTimers.add(timer);
  });
}

function lookup(key) {
  const now = programSeconds();
  const cached = rateCache.get(key, now);
  if (cached !== undefined) {
    rateCache.hits++;
    return cached;
  }
  rateCache.misses++;
  let promise = resolving.get(key);
  if (promise === undefined) {
    promise = engineLookup(key).then((record) => {
      resolving.delete(key);
      rateCache.set(key, record, programSeconds());
      return record;
    });
    resolving.set(key, promise);
  }
  return promise;
}

// --- HTTP -----------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://tax.local');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/tax-rates') {
      const keys = (url.searchParams.get('keys') ?? '').split(',').filter((k) => k.split(':').length === 3);
      const records = await Promise.all(keys.map(lookup));
      return sendJson(res, 200, { rates: records.map((r) => ({ key: r.key, ratePercent: r.effectiveRatePercent, rounding: r.rounding, ruleVersion: r.ruleVersion })) });
    }
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, cached: rateCache.entries.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the checkout and cart services (the load) ------------------------------------------------------

const UNIVERSE = 400_000; // postcode x class pairs that ever occur

function keyOf(n) {
  const country = COUNTRIES[n % COUNTRIES.length];
  const postcode = String(10_000 + ((Math.floor(n / COUNTRIES.length) * 7_919) % 89_990)).padStart(5, '0');
  const taxClass = CLASSES[Math.floor(n / 97) % CLASSES.length];
  return `${country}:${postcode}:${taxClass}`;
}

/** Breadth of the hot key set: OU walk in log terms around 3 000, sd ~0.6, tau 1.5 h. */
const mix = { x: 0, hotKeys: 3000, lastT: 0, offset: 0 };
function stepMix() {
  const now = programSeconds();
  const dt = Math.max(0, now - mix.lastT);
  mix.lastT = now;
  const tau = 5400;
  mix.x += (-mix.x * dt) / tau + 0.6 * Math.sqrt((2 * dt) / tau) * gaussian();
  mix.hotKeys = Math.round(3000 * Math.exp(mix.x));
  // The hot set itself slides slowly through the universe (different regions over the day).
  mix.offset = (mix.offset + Math.round(dt * 0.5)) % UNIVERSE;
}

function basketKeys() {
  const count = 1 + Math.floor(random() * 8);
  const keys = new Set();
  for (let i = 0; i < count; i++) {
    const n = random() < 0.85 ? (mix.offset + Math.floor(random() * mix.hotKeys)) % UNIVERSE : Math.floor(random() * UNIVERSE);
    keys.add(keyOf(n));
  }
  return [...keys];
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Checkout and cart: 3 baskets/s, 1-8 items each.
const checkout = selfRequests(port, {
  perSecond: 3,
  maxInFlight: 32,
  next: () => ({ method: 'GET', path: `/v1/tax-rates?keys=${encodeURIComponent(basketKeys().join(','))}` }),
});
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

every(10_000 / speed, stepMix);
every(30_000 / speed, () => rateCache.sweep(programSeconds()));

reportStats(() => ({
  retained: rateCache.entries.size,
  hotKeys: mix.hotKeys,
  hits: rateCache.hits,
  misses: rateCache.misses,
  engineCalls: engine.calls,
  requestsFailed: checkout.failed + probes.failed,
}));

ready(
  `tax-rate-lookup-cache: 5-minute TTL cache of tax-rate records whose size follows a drifting key mix (hot set ~3 000 keys, widening and narrowing over hours) (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
