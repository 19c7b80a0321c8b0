// Product catalogue API (GET /v1/products/:id). Product documents are
// assembled by the catalogue store (an in-process stand-in that builds the
// document JSON: description, specs, variants, images, breadcrumbs) and kept
// in a module-level LRU cache of 6 000 documents.
//
// Two kinds of clients: shoppers (2 req/s) who mostly look at the ~400
// bestsellers, and a price-comparison partner's feed crawler that walks the
// whole catalogue in id order at a steady 72 products a minute. The crawler
// is what fills the cache: one new product id every ~0.8 s, so the cache
// reaches its cap about 80 minutes after start and from then on every crawled
// product evicts the least-recently-used one (the bestsellers stay hot).
import { buildBallast, listen, programSeconds, ready, reportStats, rng, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0xc47a106);

// --- LRU cache ---------------------------------------------------------------

class LruCache {
  constructor(maxEntries) {
    this.maxEntries = maxEntries;
    this.map = new Map();
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  get size() {
    return this.map.size;
  }

  get(key) {
    const entry = this.map.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.doc;
  }

  set(key, doc) {
    if (this.map.has(key)) this.map.delete(key);
    this.map.set(key, { doc, cachedAt: programSeconds() });
    if (this.map.size > this.maxEntries) {
      this.map.delete(this.map.keys().next().value);
      this.evictions++;
    }
  }
}

const CACHE_SIZE = 6000;
const productCache = new LruCache(CACHE_SIZE);

// --- the catalogue store stand-in ----------------------------------------------

const WORDS = [
  'stainless', 'steel', 'oak', 'compact', 'cordless', 'ergonomic', 'premium', 'classic', 'matte', 'glossy', 'recycled', 'cotton', 'linen',
  'waterproof', 'foldable', 'adjustable', 'lightweight', 'heavy-duty', 'ceramic', 'bamboo', 'wireless', 'portable', 'modular', 'vintage',
];
const DEPARTMENTS = [['Home', 'Kitchen', 'Knives'], ['Garden', 'Tools', 'Pruners'], ['Office', 'Furniture', 'Chairs'], ['Audio', 'Speakers', 'Portable'], ['Sport', 'Cycling', 'Lights'], ['Kids', 'Toys', 'Puzzles']];
const COLORS = ['black', 'white', 'graphite', 'sand', 'sage', 'navy', 'red'];

function phrase(seed, count) {
  const out = [];
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(WORDS[s % WORDS.length]);
  }
  return out.join(' ');
}

function storeDocument(n) {
  const dept = DEPARTMENTS[n % DEPARTMENTS.length];
  const id = `prd-${n}`;
  const title = `${phrase(n, 3)} ${dept[2].toLowerCase()} ${n % 1000}`;
  const variants = [];
  for (let v = 0; v < 1 + (n % 6); v++) {
    variants.push({ sku: `${id}-${v}`, color: COLORS[(n + v) % COLORS.length], priceCents: 1499 + ((n * 37 + v * 250) % 30000), stock: (n * 7 + v * 3) % 80 });
  }
  const images = [];
  for (let i = 0; i < 3 + (n % 4); i++) images.push({ src: `https://img.shop.example/${id}/${i}.webp`, w: 1000, h: 1000 });
  return JSON.stringify({
    id,
    title,
    brand: `Brand ${n % 240}`,
    summary: phrase(n * 3, 18),
    description: `${phrase(n * 5, 70)}. ${phrase(n * 11, 60)}.`,
    specs: { material: phrase(n + 1, 2), dimensionsMm: [100 + (n % 400), 50 + (n % 300), 10 + (n % 90)], weightG: 150 + (n % 3000), warrantyYears: 1 + (n % 3) },
    breadcrumbs: dept.map((name, i) => ({ name, href: `/c/${dept.slice(0, i + 1).join('/').toLowerCase()}` })),
    variants,
    images,
    rating: { average: 3 + (n % 20) / 10, count: (n * 13) % 900 },
    updatedAt: new Date(1_710_000_000_000 + n * 60_000).toISOString(),
  });
}

const store = { reads: 0 };

function loadProduct(n) {
  store.reads++;
  const doc = JSON.parse(storeDocument(n));
  doc.fromPrice = doc.variants.reduce((min, v) => Math.min(min, v.priceCents), Infinity);
  doc.available = doc.variants.some((v) => v.stock > 0);
  return doc;
}

function getProduct(n) {
  const key = `prd-${n}`;
  let doc = productCache.get(key);
  if (doc === undefined) {
    doc = loadProduct(n);
    productCache.set(key, doc);
  }
  return doc;
}

// --- HTTP -------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function toListing(doc) {
  return { id: doc.id, title: doc.title, brand: doc.brand, fromPrice: doc.fromPrice, available: doc.available, image: doc.images[0].src, rating: doc.rating };
}

const PRODUCT_PATH = /^\/v1\/products\/prd-(\d+)$/;

function handler(req, res) {
  if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
  const match = PRODUCT_PATH.exec(req.url);
  if (match !== null) {
    const n = Number(match[1]);
    if (n < 1 || n > CATALOGUE_SIZE) return sendJson(res, 404, { error: 'unknown product' });
    const doc = getProduct(n);
    return sendJson(res, 200, req.headers['x-client'] === 'feed-crawler' ? doc : toListing(doc));
  }
  if (req.url === '/healthz') return sendJson(res, 200, { ok: true, cached: productCache.size });
  sendJson(res, 404, { error: 'not found' });
}

// --- clients ----------------------------------------------------------------------

const CATALOGUE_SIZE = 250_000;
const BESTSELLERS = 400;
const CRAWL_PER_MINUTE = 72;
const crawler = { next: BESTSELLERS + 1 };

function crawlerRequest() {
  const n = crawler.next++;
  if (crawler.next > CATALOGUE_SIZE) crawler.next = BESTSELLERS + 1;
  return { method: 'GET', path: `/v1/products/prd-${n}`, headers: { 'x-client': 'feed-crawler' } };
}

function shopperRequest() {
  if (random() < 0.05) return { method: 'GET', path: '/healthz' };
  const n = 1 + Math.floor(BESTSELLERS * random() ** 2);
  return { method: 'GET', path: `/v1/products/prd-${n}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const crawl = selfRequests(port, { perSecond: CRAWL_PER_MINUTE / 60, maxInFlight: 2, next: crawlerRequest });
const shoppers = selfRequests(port, { perSecond: 2, maxInFlight: 16, next: shopperRequest });

reportStats(() => ({
  retained: productCache.size,
  hits: productCache.hits,
  misses: productCache.misses,
  evictions: productCache.evictions,
  crawled: crawler.next - BESTSELLERS - 1,
  requestsFailed: crawl.failed + shoppers.failed,
}));

ready(`cache-catalogue-lru-80min: product catalogue API, LRU of ${CACHE_SIZE} documents filled by a feed crawler at ${CRAWL_PER_MINUTE}/min (full at ~80 min), 2 shopper req/s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
