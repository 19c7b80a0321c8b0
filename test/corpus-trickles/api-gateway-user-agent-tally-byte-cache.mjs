// API gateway of a storefront (healthy).
//
// The gateway sits in front of the catalogue service. Two module-level
// structures live for the whole process:
//
//   - `userAgentsSeen`: every distinct User-Agent string the gateway has ever
//     seen, with a request counter and first/last-seen times, for the
//     "clients" page of the ops dashboard. Browsers, the mobile app and
//     partner integrations ship a few new builds an hour, so it gains a few
//     entries an hour and is never pruned (nobody thought it needed to be).
//   - `responseCache`: a byte-budgeted LRU of upstream GET responses (product,
//     category, search and store pages). It starts empty and fills over the
//     first ~40 minutes of traffic; from then on every insert evicts the
//     least recently used responses.
//
// Load (the lib's keep-alive client on 127.0.0.1): ~4.4 requests/s from
// shoppers' browsers and apps, partner feeds and crawlers, the kubelet's
// probes and the dashboard. All times come from the production clock
// (programSeconds()); upstream latencies are production latencies scaled by
// the speed.
import { createHash } from 'node:crypto';
import { MiB, buildBallast, every, listen, programSeconds, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const CACHE_MAX_BYTES = 12 * MiB;
const CACHE_TTL_SECONDS = { product: 1800, category: 600, search: 300, store: 86400 };
const PRODUCTS = 40_000;
const CATEGORIES = 120;
const STORES = 350;

// --- small helpers ---------------------------------------------------------

function now() {
  return programSeconds();
}

function zipfSampler(n, exponent, random) {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += 1 / Math.pow(i + 1, exponent);
    cdf[i] = total;
  }
  return () => {
    const target = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function pick(list, random) {
  return list[Math.floor(random() * list.length)];
}

function exponential(mean, random) {
  return -Math.log(1 - random()) * mean;
}

function logNormal(median, sigma, random) {
  const u = 1 - random();
  const v = random();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

// --- the user-agent tally --------------------------------------------------

/** Every User-Agent ever seen: ua string -> { userAgent, family, firstSeenAt, lastSeenAt, requests }. */
const userAgentsSeen = new Map();

function uaFamily(ua) {
  if (/bot|crawler|spider|Synthetics/i.test(ua)) return 'bot';
  if (ua.startsWith('ShopApp/')) return 'app';
  if (/^(okhttp|python-requests|curl|Go-http-client|PostmanRuntime|axios|kube-probe)/.test(ua)) return 'tool';
  if (/Partner|Sync|Feed/.test(ua)) return 'partner';
  if (/Edg\//.test(ua)) return 'edge';
  if (/Chrome\//.test(ua)) return 'chrome';
  if (/Firefox\//.test(ua)) return 'firefox';
  if (/Safari\//.test(ua)) return 'safari';
  return 'other';
}

function tallyUserAgent(ua, at) {
  let seen = userAgentsSeen.get(ua);
  if (seen === undefined) {
    seen = { userAgent: ua, family: uaFamily(ua), firstSeenAt: at, lastSeenAt: at, requests: 0 };
    userAgentsSeen.set(ua, seen);
  }
  seen.requests++;
  seen.lastSeenAt = at;
}

function userAgentReport() {
  const byFamily = {};
  const top = [];
  for (const seen of userAgentsSeen.values()) {
    byFamily[seen.family] = (byFamily[seen.family] ?? 0) + seen.requests;
    top.push(seen);
  }
  top.sort((a, b) => b.requests - a.requests);
  return JSON.stringify({ distinct: userAgentsSeen.size, byFamily, top: top.slice(0, 20) });
}

// --- the response cache ----------------------------------------------------

class ResponseCache {
  constructor(maxBytes) {
    this.maxBytes = maxBytes;
    this.bytes = 0;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
    this.stale = 0;
    this.evictions = 0;
  }

  get(key, at) {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (entry.expiresAt <= at) {
      this.stale++;
      return undefined;
    }
    // LRU: move to the back of the insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    return entry;
  }

  set(entry) {
    const previous = this.entries.get(entry.key);
    if (previous !== undefined) {
      this.entries.delete(entry.key);
      this.bytes -= previous.bytes;
    }
    this.entries.set(entry.key, entry);
    this.bytes += entry.bytes;
    for (const [key, oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= oldest.bytes;
      this.evictions++;
    }
  }
}

const responseCache = new ResponseCache(CACHE_MAX_BYTES);

function toCacheEntry(key, kind, body, at) {
  const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`;
  return {
    key,
    kind,
    contentType: 'application/json; charset=utf-8',
    etag,
    body,
    bytes: body.length + key.length + 160,
    storedAt: at,
    expiresAt: at + CACHE_TTL_SECONDS[kind],
  };
}

// --- the catalogue upstream (in-process stand-in) --------------------------

const WORDS = (
  'light sturdy compact cotton steel oak linen matte gloss wireless portable classic modern slim large small ' +
  'waterproof organic recycled premium everyday travel outdoor kitchen garden office kids winter summer soft ' +
  'warm cool quiet fast durable ergonomic adjustable foldable rechargeable handmade vintage minimal bold bright ' +
  'natural ceramic glass leather wool bamboo walnut copper brass silver black white grey navy olive sand rust ' +
  'fits easily into any space and is built to last with a two year warranty free returns within thirty days ' +
  'designed in our studio tested by customers for comfort and everyday use pairs well with the rest of the range'
).split(' ');
const BRANDS = ['Northwind', 'Fabrikam', 'Contoso', 'Tailspin', 'Wingtip', 'Litware', 'Proseware', 'Adatum', 'Lamna', 'Fourth Coffee'];
const COLOURS = ['black', 'white', 'grey', 'navy', 'olive', 'sand', 'rust', 'walnut', 'oak'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL', '30', '32', '34', 'one size'];

function sentence(random, words) {
  const out = [];
  for (let i = 0; i < words; i++) out.push(pick(WORDS, random));
  return out.join(' ');
}

function productSummary(id) {
  const random = rng(id * 2654435761);
  return {
    id,
    sku: `SKU-${id.toString(36).toUpperCase()}`,
    title: `${pick(BRANDS, random)} ${sentence(random, 3)}`,
    priceCents: 499 + Math.floor(random() * 40000),
    currency: 'EUR',
    rating: Math.round(random() * 50) / 10,
    image: `https://cdn.example-shop.com/p/${id}/main-640.webp`,
  };
}

function renderProduct(id) {
  const random = rng(id * 40503 + 17);
  const attributes = {};
  const attributeCount = 6 + Math.floor(random() * 9);
  for (let i = 0; i < attributeCount; i++) attributes[`${pick(WORDS, random)}_${i}`] = sentence(random, 1 + Math.floor(random() * 3));
  const images = [];
  for (let i = 0, n = 3 + Math.floor(random() * 6); i < n; i++) images.push(`https://cdn.example-shop.com/p/${id}/${i}-1280.webp`);
  const variants = [];
  for (let i = 0, n = 1 + Math.floor(random() * 6); i < n; i++) {
    variants.push({ sku: `SKU-${id.toString(36).toUpperCase()}-${i}`, colour: pick(COLOURS, random), size: pick(SIZES, random), stock: Math.floor(random() * 80) });
  }
  const related = [];
  for (let i = 0; i < 8; i++) related.push(Math.floor(random() * PRODUCTS));
  return JSON.stringify({
    ...productSummary(id),
    brand: pick(BRANDS, random),
    description: sentence(random, 40 + Math.floor(random() * 360)),
    attributes,
    images,
    variants,
    related,
    reviews: { count: Math.floor(random() * 900), average: Math.round(random() * 50) / 10 },
    updatedAt: '2024-05-02T08:15:00Z',
  });
}

function renderCategory(slug, page) {
  const base = (Number.parseInt(slug.slice(4), 10) * 977 + page * 24) % PRODUCTS;
  const items = [];
  for (let i = 0; i < 24; i++) items.push(productSummary((base + i * 131) % PRODUCTS));
  return JSON.stringify({ category: slug, page, pageSize: 24, total: 24 * 9, items });
}

function renderSearch(q) {
  const random = rng(q.length * 7919 + q.charCodeAt(0) * 31 + q.charCodeAt(q.length - 1));
  const items = [];
  for (let i = 0; i < 20; i++) items.push(productSummary(Math.floor(random() * PRODUCTS)));
  return JSON.stringify({ q, total: 20 + Math.floor(random() * 400), items, facets: { brand: BRANDS.slice(0, 5), colour: COLOURS.slice(0, 4) } });
}

function renderStore(id) {
  const random = rng(id * 31 + 5);
  return JSON.stringify({
    id,
    name: `${pick(BRANDS, random)} store ${id}`,
    address: { street: `${sentence(random, 2)} ${1 + Math.floor(random() * 200)}`, city: `City ${id % 90}`, postcode: String(10000 + id * 7) },
    hours: ['mo-fr 09:00-20:00', 'sa 10:00-18:00', 'su closed'],
    services: ['click-and-collect', 'returns', random() < 0.5 ? 'repairs' : 'gift-wrapping'],
  });
}

const upstreamRandom = rng(0xca7a1);
const inflight = new Map();

/** Calls the catalogue upstream (coalescing concurrent misses of the same key). */
function fetchUpstream(key, kind, render) {
  let pending = inflight.get(key);
  if (pending !== undefined) return pending;
  const latencyMs = logNormal(45, 0.6, upstreamRandom);
  pending = new Promise((resolve) => {
    setTimeout(() => resolve(render()), scaledMs(latencyMs / 1000));
  }).finally(() => inflight.delete(key));
  inflight.set(key, pending);
  return pending;
}

// --- the gateway -----------------------------------------------------------

const counters = { requests: 0, notModified: 0, notFound: 0, uncached: 0 };

function route(url) {
  const path = url.pathname;
  let m;
  if ((m = /^\/api\/products\/(\d+)$/.exec(path)) !== null) {
    const id = Number(m[1]);
    return { kind: 'product', key: `product:${id}`, render: () => renderProduct(id) };
  }
  if ((m = /^\/api\/categories\/(cat-\d+)$/.exec(path)) !== null) {
    const slug = m[1];
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
    return { kind: 'category', key: `category:${slug}:${page}`, render: () => renderCategory(slug, page) };
  }
  if (path === '/api/search') {
    const q = (url.searchParams.get('q') ?? '').trim().toLowerCase();
    if (q === '') return null;
    return { kind: 'search', key: `search:${q}`, render: () => renderSearch(q) };
  }
  if ((m = /^\/api\/stores\/(\d+)$/.exec(path)) !== null) {
    const id = Number(m[1]);
    return { kind: 'store', key: `store:${id}`, render: () => renderStore(id) };
  }
  return null;
}

function send(res, status, headers, body) {
  res.writeHead(status, headers);
  res.end(body);
}

async function handle(req, res) {
  const at = now();
  counters.requests++;
  tallyUserAgent(req.headers['user-agent'] ?? '-', at);
  const url = new URL(req.url, 'http://gateway.local');

  if (url.pathname === '/healthz') return send(res, 200, { 'content-type': 'text/plain' }, 'ok');
  if (url.pathname === '/internal/user-agents') return send(res, 200, { 'content-type': 'application/json' }, userAgentReport());
  if (url.pathname === '/api/account/me') {
    counters.uncached++;
    return send(res, 200, { 'content-type': 'application/json', 'cache-control': 'private, no-store' }, JSON.stringify({ id: req.headers['x-user'] ?? 'anonymous', cart: 0 }));
  }

  const target = route(url);
  if (target === null) {
    counters.notFound++;
    return send(res, 404, { 'content-type': 'application/json' }, '{"error":"not_found"}');
  }
  let entry = responseCache.get(target.key, at);
  let cacheStatus = 'HIT';
  if (entry === undefined) {
    cacheStatus = 'MISS';
    const body = await fetchUpstream(target.key, target.kind, target.render);
    const fetchedAt = now();
    // A coalesced request may already have stored this response.
    entry = responseCache.entries.get(target.key);
    if (entry === undefined || entry.body !== body || entry.expiresAt <= fetchedAt) {
      entry = toCacheEntry(target.key, target.kind, body, fetchedAt);
      responseCache.set(entry);
    }
  }
  if (req.headers['if-none-match'] === entry.etag) {
    counters.notModified++;
    return send(res, 304, { etag: entry.etag, 'x-cache': cacheStatus }, undefined);
  }
  send(res, 200, { 'content-type': entry.contentType, etag: entry.etag, 'x-cache': cacheStatus, 'cache-control': `public, max-age=${CACHE_TTL_SECONDS[entry.kind]}` }, entry.body);
}

// --- clients (load) --------------------------------------------------------

const loadRandom = rng(0x9a7e);
const uaRandom = rng(0x5eed5);
const productOf = zipfSampler(PRODUCTS, 0.9, loadRandom);
const searchTermOf = zipfSampler(6000, 1.0, loadRandom);
const storeOf = zipfSampler(STORES, 1.1, loadRandom);
const SEARCH_STEMS = WORDS.slice(0, 60);

function searchTerm(rank) {
  const a = SEARCH_STEMS[rank % SEARCH_STEMS.length];
  const b = SEARCH_STEMS[Math.floor(rank / SEARCH_STEMS.length) % SEARCH_STEMS.length];
  return rank < SEARCH_STEMS.length ? a : `${a} ${b}`;
}

// User agents in use: { ua, weight }. New builds appear over time.
const uaPool = [];
let uaTotal = 0;
function addUserAgent(ua, weight) {
  uaPool.push({ ua, weight });
  uaTotal += weight;
}
const CHROME = (v, os) => `Mozilla/5.0 (${os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36`;
const OSES = ['Windows NT 10.0; Win64; x64', 'Macintosh; Intel Mac OS X 10_15_7', 'X11; Linux x86_64', 'Linux; Android 14; Pixel 7', 'Linux; Android 13; SM-S911B'];
let chromeMajor = 124;
let appMinor = 12;
let appPatch = 3;
let iosMinor = 4;
for (let v = chromeMajor - 3; v <= chromeMajor; v++) for (const os of OSES) addUserAgent(CHROME(v, os), v === chromeMajor ? 12 : 4);
for (let v = chromeMajor - 3; v <= chromeMajor; v++) addUserAgent(`${CHROME(v, OSES[0])} Edg/${v}.0.0.0`, 3);
for (let v = 123; v <= 125; v++) addUserAgent(`Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`, 3);
for (const os of ['iPhone; CPU iPhone OS 17_4 like Mac OS X', 'iPhone; CPU iPhone OS 17_3_1 like Mac OS X', 'iPad; CPU OS 17_4 like Mac OS X', 'Macintosh; Intel Mac OS X 10_15_7']) {
  addUserAgent(`Mozilla/5.0 (${os}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1`, 8);
}
for (let p = 0; p <= appPatch; p++) {
  addUserAgent(`ShopApp/5.${appMinor}.${p} (iPhone15,2; iOS 17.${iosMinor}; Scale/3.00)`, 6);
  addUserAgent(`ShopApp/5.${appMinor}.${p} (Android 14; Pixel 7; okhttp/4.12.0)`, 5);
}
for (const ua of [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
  'Datadog/Synthetics',
  'python-requests/2.31.0',
  'okhttp/4.12.0',
  'Go-http-client/1.1',
  'PostmanRuntime/7.37.3',
  'curl/8.5.0',
  'NorthwindPartnerFeed/2.3 (+https://partners.example-shop.com)',
  'PriceCompareSync/1.9.4',
]) {
  addUserAgent(ua, 2);
}
const PARTNERS = ['PriceCompareSync', 'NorthwindPartnerFeed', 'MarketMirror', 'DealRadarBot', 'AffiliateHubSync', 'ShopLensCrawler'];

/** A new client build shows up somewhere: an app patch, a browser release, a partner's new version. */
function newClientBuild() {
  const r = uaRandom();
  if (r < 0.4) {
    appPatch++;
    if (appPatch > 9) {
      appMinor++;
      appPatch = 0;
    }
    addUserAgent(`ShopApp/5.${appMinor}.${appPatch} (iPhone15,2; iOS 17.${iosMinor}; Scale/3.00)`, 6);
    addUserAgent(`ShopApp/5.${appMinor}.${appPatch} (Android 14; Pixel 7; okhttp/4.12.0)`, 5);
  } else if (r < 0.55) {
    iosMinor++;
    addUserAgent(`Mozilla/5.0 (iPhone; CPU iPhone OS 17_${iosMinor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${iosMinor} Mobile/15E148 Safari/604.1`, 8);
  } else if (r < 0.7) {
    chromeMajor++;
    addUserAgent(CHROME(chromeMajor, pick(OSES, uaRandom)), 10);
  } else {
    addUserAgent(`${pick(PARTNERS, uaRandom)}/${1 + Math.floor(uaRandom() * 4)}.${Math.floor(uaRandom() * 20)}.${Math.floor(uaRandom() * 50)}`, 1);
  }
}

function pickUserAgent() {
  let target = uaRandom() * uaTotal;
  for (let i = uaPool.length - 1; i >= 0; i--) {
    target -= uaPool[i].weight;
    if (target <= 0) return uaPool[i].ua;
  }
  return uaPool[0].ua;
}

function nextShopperRequest() {
  const r = loadRandom();
  const headers = { 'user-agent': pickUserAgent(), accept: 'application/json' };
  let path;
  if (r < 0.55) path = `/api/products/${productOf()}`;
  else if (r < 0.75) {
    const page = 1 + Math.min(8, Math.floor(exponential(1.2, loadRandom)));
    path = `/api/categories/cat-${Math.floor(Math.pow(loadRandom(), 2) * CATEGORIES)}?page=${page}`;
  } else if (r < 0.9) path = `/api/search?q=${encodeURIComponent(searchTerm(searchTermOf()))}`;
  else if (r < 0.95) path = `/api/stores/${storeOf()}`;
  else {
    path = '/api/account/me';
    headers['x-user'] = `u${Math.floor(loadRandom() * 90000)}`;
  }
  return { method: 'GET', path, headers };
}

// --- main ------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) send(res, 500, { 'content-type': 'text/plain' }, String(err?.message ?? err));
  });
});

const shoppers = selfRequests(port, { perSecond: 4.2, next: nextShopperRequest, maxInFlight: 48 });
const probes = selfRequests(port, { perSecond: 0.2, next: () => ({ method: 'GET', path: '/healthz', headers: { 'user-agent': 'kube-probe/1.29' } }), maxInFlight: 2 });
const dashboard = selfRequests(port, { perSecond: 1 / 300, next: () => ({ method: 'GET', path: '/internal/user-agents', headers: { 'user-agent': CHROME(124, OSES[1]) } }), maxInFlight: 1 });

// New client builds: a few an hour (Poisson, seeded).
let nextBuildAt = exponential(3600 / 3, uaRandom);
let newBuilds = 0;
every(scaledMs(10), () => {
  while (now() >= nextBuildAt) {
    newClientBuild();
    newBuilds++;
    nextBuildAt += exponential(3600 / 3, uaRandom);
  }
});

reportStats(() => ({
  retained: responseCache.entries.size,
  cacheBytes: responseCache.bytes,
  userAgents: userAgentsSeen.size,
  newBuilds,
  hits: responseCache.hits,
  misses: responseCache.misses,
  stale: responseCache.stale,
  evictions: responseCache.evictions,
  requests: counters.requests,
  notModified: counters.notModified,
  sent: shoppers.sent + probes.sent + dashboard.sent,
  failed: shoppers.failed + probes.failed + dashboard.failed,
}));

ready(`api-gateway-user-agent-tally-byte-cache on 127.0.0.1:${port}: user-agent tally + ${CACHE_MAX_BYTES / MiB} MiB response cache (ballast ${ballastMb} MB)`);
