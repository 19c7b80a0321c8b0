// Caching reverse proxy in front of a storefront's API and pages (ESM, no
// dependencies).
//
// GET responses the origin marks cacheable are kept in `responseCache`, a
// class ByteBudgetCache: an LRU (a Map in recency order) bounded by the total
// size of the bodies it holds (48 MiB), not by the number of entries. Bodies
// are of very different sizes: config documents of ~200 bytes, product JSON
// of 0.35-3.2 KB, search pages of 5-66 KB, category pages of 11-200 KB and
// partner feeds of 0.18-1.4 MB; one feed can push out hundreds
// of products. Entries expire after their route's max-age (2-60 min) and are
// refetched on the next request; concurrent misses for one key share a single
// origin fetch. The cache fills in the first ~48 minutes, then holds its
// budget while entries keep being evicted and replaced.
//
// Load: an in-process keep-alive client on 127.0.0.1 plays the shoppers and
// apps, ~1.3 requests/s, with Zipf popularity over ~60 000 URLs. The origin is
// an in-process stand-in rendering JSON and HTML bodies with 30-300 ms of
// production-time latency.
import {
  buildBallast,
  listen,
  MiB,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const CACHE_BUDGET_BYTES = 48 * MiB;
const MAX_ENTRY_BYTES = 4 * MiB; // bigger responses are passed through
const REQUESTS_PER_SECOND = 1.3;

const random = rng(0xcac4e);

// --- The cache --------------------------------------------------------------

class ByteBudgetCache {
  constructor({ maxBytes }) {
    this.maxBytes = maxBytes;
    this.totalBytes = 0;
    this.entries = new Map(); // key -> entry, least recently used first
    this.hits = 0;
    this.misses = 0;
    this.expired = 0;
    this.evictions = 0;
    this.evictedBytes = 0;
  }

  get(key, now) {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (entry.expiresAt <= now) {
      this.expired++;
      this.misses++;
      this.remove(key, entry);
      return undefined;
    }
    // Most recently used goes to the end.
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.hits++;
    this.hits++;
    return entry;
  }

  set(key, entry) {
    if (entry.size > MAX_ENTRY_BYTES) return false;
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(key, old);
    this.entries.set(key, entry);
    this.totalBytes += entry.size;
    while (this.totalBytes > this.maxBytes) {
      const [oldestKey, oldest] = this.entries.entries().next().value;
      this.remove(oldestKey, oldest);
      this.evictions++;
      this.evictedBytes += oldest.size;
    }
    return true;
  }

  remove(key, entry) {
    this.entries.delete(key);
    this.totalBytes -= entry.size;
  }
}

const responseCache = new ByteBudgetCache({ maxBytes: CACHE_BUDGET_BYTES });
/** Origin fetches in flight, by cache key (request coalescing). */
const pending = new Map();

function toCacheEntry(key, response, now) {
  return {
    key,
    status: response.status,
    contentType: response.contentType,
    etag: response.etag,
    lastModified: response.lastModified,
    body: response.body,
    size: Buffer.byteLength(response.body),
    storedAt: now,
    expiresAt: now + response.maxAge,
    hits: 0,
  };
}

// --- Origin (stand-in) --------------------------------------------------------

const ROUTES = {
  config: { maxAge: 3600, universe: 12 },
  product: { maxAge: 600, universe: 40000 },
  search: { maxAge: 300, universe: 18000 },
  category: { maxAge: 1800, universe: 1500 },
  feed: { maxAge: 120, universe: 40 },
};
const ADJECTIVES = ['classic', 'slim', 'organic', 'wireless', 'compact', 'heavy-duty', 'vintage', 'smart'];
const NOUNS = ['lamp', 'kettle', 'backpack', 'speaker', 'chair', 'jacket', 'blender', 'drill', 'rug', 'monitor'];

/** Deterministic per-URL number in [0, 1). */
function urlHash(path) {
  let h = 2166136261;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 16777619);
  return ((h >>> 0) % 1000003) / 1000003;
}

function productJson(id, version) {
  const name = `${ADJECTIVES[id % 8]} ${NOUNS[id % 10]} ${id}`;
  return `{"id":${id},"name":"${name}","slug":"${name.replaceAll(' ', '-')}","priceCents":${499 + ((id * 7919) % 90000)},"currency":"EUR","stock":${(id * 31 + version) % 250},"rating":${((id % 50) / 10).toFixed(1)},"image":"https://img.example.com/p/${id}/main.jpg","badges":["${id % 3 === 0 ? 'sale' : 'new'}"]}`;
}

function renderBody(route, id, path, version) {
  const h = urlHash(path);
  switch (route) {
    case 'config':
      return JSON.stringify({ path, version, flags: { checkoutV2: true, wishlist: h > 0.3 }, currency: 'EUR', locales: ['en', 'de', 'fr'] });
    case 'product': {
      // 0.35-3.2 KB: the product plus 0-12 related products.
      const related = [];
      const count = Math.floor(h * 13);
      for (let i = 1; i <= count; i++) related.push(productJson((id * 13 + i * 7) % 40000, version));
      return `{"product":${productJson(id, version)},"description":"${'Sturdy and well made. '.repeat(4 + Math.floor(h * 20))}","related":[${related.join(',')}]}`;
    }
    case 'search': {
      // 5-66 KB: 24-323 hits.
      const hits = [];
      const count = 24 + Math.floor(h * h * 300);
      for (let i = 0; i < count; i++) hits.push(productJson((id * 101 + i * 37) % 40000, version));
      return `{"query":"q${id}","total":${count * 7},"hits":[${hits.join(',')}]}`;
    }
    case 'category': {
      // 11-200 KB of HTML: 60-1 059 product tiles.
      const tiles = [];
      const count = 60 + Math.floor(h * h * h * 1000);
      for (let i = 0; i < count; i++) {
        const pid = (id * 53 + i * 11) % 40000;
        tiles.push(`<li class="tile" data-id="${pid}"><a href="/p/${pid}"><img src="https://img.example.com/p/${pid}/thumb.jpg" alt="${ADJECTIVES[pid % 8]} ${NOUNS[pid % 10]}" loading="lazy"><span class="price">${((499 + ((pid * 7919) % 90000)) / 100).toFixed(2)} EUR</span></a></li>`);
      }
      return `<!doctype html><html><head><title>Category ${id}</title></head><body><ul class="grid">${tiles.join('')}</ul></body></html>`;
    }
    case 'feed': {
      // 0.18-1.4 MB: a partner product feed.
      const items = [];
      const count = 900 + Math.floor(h * 6000);
      for (let i = 0; i < count; i++) items.push(productJson((id * 997 + i) % 40000, version));
      return `{"feed":"partner-${id}","generatedAt":${Math.floor(programSeconds())},"items":[${items.join(',')}]}`;
    }
    default:
      return '{}';
  }
}

let originCalls = 0;
let originBytes = 0;

/** The origin behind the proxy: 30-300 ms of production time, then the body. */
function fetchOrigin(path) {
  const [, , route, rawId] = path.split('/');
  const id = Number(rawId);
  const spec = ROUTES[route];
  const latencyS = 0.03 + random() * 0.27;
  return new Promise((resolve) => {
    setTimeout(() => {
      originCalls++;
      if (spec === undefined || !Number.isInteger(id)) {
        resolve({ status: 404, contentType: 'application/json', body: '{"error":"not found"}', maxAge: 0 });
        return;
      }
      const version = Math.floor(programSeconds() / spec.maxAge);
      const body = renderBody(route, id, path, version);
      originBytes += body.length;
      resolve({
        status: 200,
        contentType: route === 'category' ? 'text/html; charset=utf-8' : 'application/json',
        etag: `"${route}-${id}-${version}"`,
        lastModified: Math.floor(programSeconds() / spec.maxAge) * spec.maxAge,
        body,
        maxAge: spec.maxAge,
      });
    }, (latencyS * 1000) / speed);
  });
}

async function lookup(key) {
  const now = programSeconds();
  const cached = responseCache.get(key, now);
  if (cached !== undefined) return { entry: cached, hit: true };
  let inFlight = pending.get(key);
  if (inFlight === undefined) {
    inFlight = fetchOrigin(key).then((response) => {
      pending.delete(key);
      const entry = toCacheEntry(key, response, programSeconds());
      if (response.status === 200 && response.maxAge > 0) responseCache.set(key, entry);
      return entry;
    });
    pending.set(key, inFlight);
  }
  return { entry: await inFlight, hit: false };
}

// --- HTTP -------------------------------------------------------------------

async function handle(req, res) {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end('ok');
  }
  if (req.url === '/_cache/stats') {
    const { hits, misses, expired, evictions, totalBytes } = responseCache;
    const body = JSON.stringify({ entries: responseCache.entries.size, totalBytes, hits, misses, expired, evictions });
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(body);
  }
  if (req.method !== 'GET' || !req.url.startsWith('/s/')) {
    res.writeHead(404);
    return res.end();
  }
  const { entry, hit } = await lookup(req.url);
  res.writeHead(entry.status, {
    'content-type': entry.contentType,
    'content-length': entry.size,
    'cache-control': 'public, max-age=60',
    etag: entry.etag ?? '',
    age: String(Math.max(0, Math.floor(programSeconds() - entry.storedAt))),
    'x-cache': hit ? 'HIT' : 'MISS',
  });
  res.end(entry.body);
}

// --- Shoppers and apps (load generator) --------------------------------------

/** Zipf(s) sampler over 0..n-1. */
function zipf(n, s) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s;
    cdf[i] = sum;
  }
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const MIX = [
  ['product', 0.5, zipf(ROUTES.product.universe, 0.9)],
  ['search', 0.22, zipf(ROUTES.search.universe, 0.85)],
  ['category', 0.17, zipf(ROUTES.category.universe, 1.0)],
  ['config', 0.08, zipf(ROUTES.config.universe, 1.0)],
  ['feed', 0.03, zipf(ROUTES.feed.universe, 0.8)],
];
// Popular ids are scattered over the id space.
const scramble = (route, rank) => (rank * 7927 + route.length * 131) % ROUTES[route].universe;

let healthDue = 0;

function nextRequest() {
  const now = programSeconds();
  if (now >= healthDue) {
    healthDue = now + 5;
    return { method: 'GET', path: random() < 0.5 ? '/healthz' : '/_cache/stats' };
  }
  let u = random();
  for (const [route, share, pick] of MIX) {
    if (u < share) return { method: 'GET', path: `/s/${route}/${scramble(route, pick())}`, headers: { accept: '*/*' } };
    u -= share;
  }
  return null;
}

// --- Start ------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
});

const load = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: nextRequest, maxInFlight: 32 });

reportStats(() => ({
  retained: responseCache.entries.size,
  cachedBytes: responseCache.totalBytes,
  hits: responseCache.hits,
  misses: responseCache.misses,
  expired: responseCache.expired,
  evictions: responseCache.evictions,
  evictedBytes: responseCache.evictedBytes,
  originCalls,
  originBytes,
  pending: pending.size,
  requestsFailed: load.failed,
}));

ready(`response-cache-byte-budget-lru on 127.0.0.1:${port}: caching proxy, LRU bounded by ${CACHE_BUDGET_BYTES / MiB} MiB of bodies${ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''}`);
