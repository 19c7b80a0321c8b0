// Multi-tenant cache service in front of the shop platform's pricing and
// availability API. Each tenant (a shop) gets its own small LRU (class
// TenantLru, a Map `entries` in recency order, lazily expired by TTL on
// read), all of them in the module-level Map `tenants`. Shops' storefront
// backends GET /v1/cache/:tenant/:key and, on a miss, compute the value from
// the origin and PUT it back.
//
// Cache sizes come from the tenant config: defaults for the small shops, an
// override for the one big tenant (megamart, 4 000 entries). An override
// replaces the defaults as a whole, and TenantLru takes an absent maxEntries
// as "unbounded". At the onset (SCENARIO_ONSET, default 95 min) a config
// reload ships an ops change meant to raise megamart's cache to 60 000
// entries, spelt `maxEntires`: megamart's LRU is reconfigured with maxEntries
// Infinity and never evicts again. Half of megamart's lookups are long-tail
// keys (product x variant x locale x currency) that are rarely asked for
// twice, so from then on every one of them stays in its `entries` Map. TTLs
// are only checked when a key is read again, so they do not help.
import {
  buildBallast,
  listen,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7e4a47);
const CONFIG_RELOAD_AT_S = onsetSeconds(5700);

// --- tenant config --------------------------------------------------------------------

const SMALL_TENANTS = ['alpine-outdoor', 'bookbarn', 'cafe-supplies', 'dog-and-co', 'eco-home', 'fietsen-nl', 'gadgetzone', 'herbal-lab', 'inkwell', 'jazz-records', 'kiddo-toys', 'lumen-lights'];
const BIG_TENANT = 'megamart';

const config = {
  version: 41,
  defaults: { maxEntries: 300, ttlSeconds: 900 },
  overrides: { [BIG_TENANT]: { maxEntries: 4000, ttlSeconds: 900 } },
};

/** The reload at the onset: the change raising megamart's cache, with the key misspelt. */
const config42 = {
  version: 42,
  defaults: { maxEntries: 300, ttlSeconds: 900 },
  overrides: { [BIG_TENANT]: { maxEntires: 60000, ttlSeconds: 900 } },
};

function cacheOptionsFor(tenantId, cfg) {
  return cfg.overrides[tenantId] ?? cfg.defaults;
}

// --- the per-tenant LRU ------------------------------------------------------------------

/** One cached value. */
function cacheEntry(value, ttlSeconds, now) {
  return { value, storedAt: now, expiresAt: now + ttlSeconds, size: value.length };
}

class TenantLru {
  constructor(tenantId, options) {
    this.tenantId = tenantId;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
    this.expired = 0;
    this.bytes = 0;
    this.configure(options);
  }

  configure(options) {
    this.maxEntries = options.maxEntries ?? Infinity;
    this.ttlSeconds = options.ttlSeconds ?? 300;
    this.evictOverflow();
  }

  get(key, now) {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.entries.delete(key);
    if (entry.expiresAt <= now) {
      this.bytes -= entry.size;
      this.expired++;
      this.misses++;
      return undefined;
    }
    this.entries.set(key, entry);
    this.hits++;
    return entry;
  }

  set(key, value, ttlSeconds, now) {
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.entries.delete(key);
      this.bytes -= previous.size;
    }
    const entry = cacheEntry(value, Math.min(ttlSeconds ?? this.ttlSeconds, this.ttlSeconds), now);
    this.entries.set(key, entry);
    this.bytes += entry.size;
    this.evictOverflow();
  }

  delete(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.bytes -= entry.size;
    return true;
  }

  evictOverflow() {
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      this.bytes -= this.entries.get(oldest).size;
      this.entries.delete(oldest);
      this.evictions++;
    }
  }
}

/** Every tenant's cache. */
const tenants = new Map();

function tenantCache(tenantId) {
  let cache = tenants.get(tenantId);
  if (cache === undefined) {
    cache = new TenantLru(tenantId, cacheOptionsFor(tenantId, config));
    tenants.set(tenantId, cache);
  }
  return cache;
}

function reloadConfig(next) {
  config.version = next.version;
  config.defaults = next.defaults;
  config.overrides = next.overrides;
  for (const [tenantId, cache] of tenants) cache.configure(cacheOptionsFor(tenantId, config));
}

// --- HTTP -------------------------------------------------------------------------------------

const KNOWN = new Set([...SMALL_TENANTS, BIG_TENANT]);

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://cache.local');
  const parts = url.pathname.split('/');
  const now = programSeconds();
  try {
    if (parts[1] === 'v1' && parts[2] === 'cache' && parts[3] && parts[4]) {
      const tenantId = parts[3];
      if (!KNOWN.has(tenantId)) return sendJson(res, 404, { error: 'unknown tenant' });
      const cache = tenantCache(tenantId);
      const key = decodeURIComponent(parts[4]);
      if (req.method === 'GET') {
        const entry = cache.get(key, now);
        if (entry === undefined) return sendJson(res, 404, { miss: true });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(entry.value), age: String(Math.round(now - entry.storedAt)) });
        return res.end(entry.value);
      }
      if (req.method === 'PUT') {
        const value = (await readBody(req, 256 * 1024)).toString('utf8');
        const ttl = Number(req.headers['x-ttl-seconds'] ?? cache.ttlSeconds);
        cache.set(key, value, ttl, now);
        return sendJson(res, 201, { stored: true });
      }
      if (req.method === 'DELETE') return sendJson(res, 200, { deleted: cache.delete(key) });
    }
    if (req.method === 'GET' && url.pathname === '/v1/tenants') {
      const out = [];
      for (const cache of tenants.values()) out.push({ tenant: cache.tenantId, entries: cache.entries.size, maxEntries: String(cache.maxEntries), hits: cache.hits, misses: cache.misses, evictions: cache.evictions, bytes: cache.bytes });
      return sendJson(res, 200, { configVersion: config.version, tenants: out });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- storefront backends (the load) --------------------------------------------------------------

const LOCALES = ['de-DE', 'en-GB', 'fr-FR', 'nl-NL', 'it-IT', 'es-ES', 'pl-PL', 'sv-SE'];
const CURRENCIES = ['EUR', 'GBP', 'PLN', 'SEK'];

/** megamart: half the lookups from ~3 000 hot products, half from the long tail (~320 M product x variant x locale x currency keys). */
function megamartKey() {
  if (random() < 0.5) {
    const n = Math.floor(random() * 3000);
    return `price:v3:${100000 + n}:default:${LOCALES[n % 2]}:EUR`;
  }
  const product = 100000 + Math.floor(random() * 2_500_000);
  const variant = Math.floor(random() * 4);
  return `price:v3:${product}:var${variant}:${LOCALES[Math.floor(random() * LOCALES.length)]}:${CURRENCIES[Math.floor(random() * CURRENCIES.length)]}`;
}

/** A small shop: 6 000 keys, strongly skewed to its best sellers. */
function smallShopKey() {
  const r = random();
  const n = Math.floor(6000 * r * r * r);
  return `price:v3:${n}:default:de-DE:EUR`;
}

/** What the origin (pricing + availability API) answers for a key: a few hundred bytes of JSON. */
function originValue(tenant, key) {
  const parts = key.split(':');
  const offers = [];
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) {
    offers.push({ seller: `${tenant}-seller-${i}`, priceMinor: 199 + Math.floor(random() * 99_800), stock: Math.floor(random() * 300), shipsInDays: 1 + (i % 5) });
  }
  return JSON.stringify({
    key,
    product: parts[2],
    variant: parts[3],
    locale: parts[4],
    currency: parts[5],
    offers,
    badges: random() < 0.3 ? ['bestseller', 'free-shipping'] : ['free-shipping'],
    computedAt: new Date(Date.UTC(2024, 8, 1) + programSeconds() * 1000).toISOString(),
  });
}

/** Values fetched from the origin after a miss, waiting to be PUT. */
const fills = [];

function lookup(tenant, key) {
  return { method: 'GET', path: `/v1/cache/${tenant}/${encodeURIComponent(key)}`, tenant, key };
}

function onLookup(status, _text, request) {
  if (request.method !== 'GET' || status !== 404) return;
  fills.push({
    method: 'PUT',
    path: request.path,
    headers: { 'content-type': 'application/json', 'x-ttl-seconds': '900' },
    body: originValue(request.tenant, request.key),
  });
}

// --- wiring ------------------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

setTimeout(() => reloadConfig(config42), onsetMs(5700));

// megamart's storefront: 2.5 lookups/s; the 12 small shops: 0.15 lookups/s each.
const megamart = selfRequests(port, { perSecond: 2.5, maxInFlight: 16, next: () => lookup(BIG_TENANT, megamartKey()), onResponse: onLookup });
const smallShops = selfRequests(port, {
  perSecond: SMALL_TENANTS.length * 0.15,
  maxInFlight: 16,
  next: () => lookup(SMALL_TENANTS[Math.floor(random() * SMALL_TENANTS.length)], smallShopKey()),
  onResponse: onLookup,
});
// Cache fills after misses (the storefronts PUT what the origin returned).
const writers = selfRequests(port, { perSecond: 10, maxInFlight: 16, next: () => fills.shift() ?? null });
// The ops dashboard.
const ops = selfRequests(port, { perSecond: 1 / 30, maxInFlight: 1, next: () => ({ method: 'GET', path: '/v1/tenants' }) });

reportStats(() => {
  let entries = 0;
  for (const cache of tenants.values()) entries += cache.entries.size;
  const big = tenants.get(BIG_TENANT);
  return {
    retained: entries,
    bigTenantEntries: big?.entries.size ?? 0,
    bigTenantMax: String(big?.maxEntries ?? ''),
    bigTenantHitRate: big ? Math.round((1000 * big.hits) / Math.max(1, big.hits + big.misses)) / 1000 : 0,
    pendingFills: fills.length,
    configVersion: config.version,
    requestsFailed: megamart.failed + smallShops.failed + writers.failed + ops.failed,
  };
});

ready(
  `tenant-cache-lru-infinity-typo-leak: per-tenant LRUs in tenants, megamart 2.5 lookups/s half long-tail; the config reload at ${CONFIG_RELOAD_AT_S} s gives megamart maxEntries Infinity (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
