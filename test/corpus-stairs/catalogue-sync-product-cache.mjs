// Product-detail API of a marketplace storefront. Product details come from
// the PIM (an in-process stand-in that assembles the document: description,
// bullets, images, variants, attributes, breadcrumbs) and are kept in a
// module-level LRU cache of 4 000 entries (class LruCache over a Map).
//
// New products arrive through the catalogue sync: every 6 minutes the sync
// job fetches the new and changed product IDs from the PIM feed and requests
// them from this API in batches of 50 (GET /v1/products?ids=...), which
// warms the cache: each sync is a burst of ~500 misses. Shoppers (3 req/s)
// mostly look at recent products, sometimes at older ones that have been
// evicted. The cache is full after ~40 minutes; from then on every sync
// evicts as many least-recently-used entries as it adds.
import {
  buildBallast,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xca7a10);

// --- LRU cache -------------------------------------------------------------------

class LruCache {
  constructor(maxEntries) {
    this.maxEntries = maxEntries;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  get size() {
    return this.entries.size;
  }

  get(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // move to the most-recently-used end
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key, value) {
    this.entries.delete(key);
    this.entries.set(key, { value, storedAt: programSeconds() });
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value);
      this.evictions++;
    }
  }
}

const productCache = new LruCache(4000);

// --- the PIM stand-in ----------------------------------------------------------------

const WORDS = [
  'organic', 'cotton', 'slim', 'fit', 'water', 'resistant', 'stainless', 'steel', 'handmade', 'recycled', 'wool', 'blend', 'lightweight',
  'durable', 'compact', 'wireless', 'ergonomic', 'premium', 'classic', 'modern', 'vintage', 'oak', 'walnut', 'ceramic', 'linen', 'bamboo',
];
const CATEGORIES = [['Home', 'Kitchen', 'Cookware'], ['Fashion', 'Women', 'Knitwear'], ['Garden', 'Tools', 'Hand tools'], ['Electronics', 'Audio', 'Headphones'], ['Sports', 'Outdoor', 'Camping']];
const COLORS = ['black', 'white', 'navy', 'sand', 'olive', 'rust', 'grey'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL', 'XXL'];

function words(seed, count) {
  const out = new Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = WORDS[s % WORDS.length];
  }
  return out.join(' ');
}

/** The PIM's product-detail document for `id`, as JSON text (what its API returns). */
function pimDocument(id) {
  const n = Number(id.slice(2));
  const category = CATEGORIES[n % CATEGORIES.length];
  const title = `${words(n, 3)} ${category[2].toLowerCase()} ${n}`;
  const variants = [];
  const variantCount = 2 + (n % 9);
  for (let v = 0; v < variantCount; v++) {
    variants.push({
      sku: `${id}-${v}`,
      color: COLORS[(n + v) % COLORS.length],
      size: SIZES[v % SIZES.length],
      price: { amount: 999 + ((n * 31 + v * 200) % 20000), currency: 'EUR' },
      stock: (n * 13 + v) % 60,
      ean: String(4_000_000_000_000 + n * 16 + v),
    });
  }
  const images = [];
  for (let i = 0; i < 4 + (n % 5); i++) {
    images.push({ url: `https://cdn.shop.example/p/${id}/${i}-${(n * 7 + i).toString(36)}.jpg`, width: 1200, height: 1500, alt: `${title} view ${i + 1}` });
  }
  return JSON.stringify({
    id,
    title,
    brand: `Brand ${n % 311}`,
    description: `${words(n * 3, 60)}. ${words(n * 5, 80)}. ${words(n * 7, 60)}.`,
    bullets: [words(n + 1, 8), words(n + 2, 10), words(n + 3, 7), words(n + 4, 9)],
    breadcrumbs: category.map((name, depth) => ({ name, url: `/c/${category.slice(0, depth + 1).join('/').toLowerCase()}` })),
    variants,
    images,
    attributes: { material: words(n + 9, 2), care: words(n + 11, 5), origin: ['PT', 'IT', 'DE', 'CN', 'VN'][n % 5], weightGrams: 120 + (n % 900) },
    related: [n - 3, n - 7, n + 11, n + 19].filter((r) => r > 0).map((r) => `p-${r}`),
    updatedAt: new Date(1_700_000_000_000 + programSeconds() * 1000).toISOString(),
  });
}

const pim = { fetches: 0, bytes: 0 };

/** Fetches and decodes a product detail from the PIM, with the fields the storefront derives. */
function loadProductDetail(id) {
  const text = pimDocument(id);
  pim.fetches++;
  pim.bytes += text.length;
  const product = JSON.parse(text);
  product.minPrice = Math.min(...product.variants.map((v) => v.price.amount));
  product.totalStock = product.variants.reduce((sum, v) => sum + v.stock, 0);
  return product;
}

function getProduct(id) {
  let product = productCache.get(id);
  if (product === undefined) {
    product = loadProductDetail(id);
    productCache.set(id, product);
  }
  return product;
}

// --- HTTP ------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** What the storefront shows on a product page: the detail minus internal fields. */
function toView(product, variantLimit) {
  return {
    id: product.id,
    title: product.title,
    brand: product.brand,
    price: product.variants[0].price,
    inStock: product.variants.some((v) => v.stock > 0),
    image: product.images[0].url,
    variants: product.variants.slice(0, variantLimit).map((v) => ({ sku: v.sku, color: v.color, size: v.size, stock: v.stock })),
  };
}

const ID_PATTERN = /^p-\d+$/;

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://catalogue.local');
  if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
  if (url.pathname.startsWith('/v1/products/')) {
    const id = url.pathname.slice('/v1/products/'.length);
    if (!ID_PATTERN.test(id)) return sendJson(res, 400, { error: 'bad id' });
    return sendJson(res, 200, toView(getProduct(id), 20));
  }
  if (url.pathname === '/v1/products') {
    const ids = (url.searchParams.get('ids') ?? '').split(',').filter((id) => ID_PATTERN.test(id));
    if (ids.length === 0 || ids.length > 100) return sendJson(res, 400, { error: 'ids: 1..100 product ids' });
    // the sync only needs to know the documents are there and fresh
    return sendJson(res, 200, { count: ids.length, items: ids.map((id) => ({ id, updatedAt: getProduct(id).updatedAt })) });
  }
  if (url.pathname === '/healthz') {
    return sendJson(res, 200, { ok: true, cached: productCache.size });
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: the catalogue sync and the shoppers ------------------------------------------

const SYNC_EVERY_S = 6 * 60;
const SYNC_FIRST_S = 60;
const sync = { runs: 0, newIds: 0, pending: [], nextRunAt: SYNC_FIRST_S };
/** Highest product id published so far (ids are assigned in order). */
let newestProduct = 1000;

function syncBatch() {
  const now = programSeconds();
  if (sync.pending.length === 0 && now >= sync.nextRunAt) {
    // the PIM feed: ~450-600 new or changed products since the last run
    const count = 450 + Math.floor(random() * 150);
    for (let i = 0; i < count; i++) sync.pending.push(`p-${++newestProduct}`);
    sync.runs++;
    sync.newIds += count;
    sync.nextRunAt += SYNC_EVERY_S;
  }
  if (sync.pending.length === 0) return null;
  const ids = sync.pending.splice(0, 50);
  return { method: 'GET', path: `/v1/products?ids=${ids.join(',')}`, headers: { 'x-client': 'catalogue-sync' } };
}

function shopperRequest() {
  if (random() < 0.05) return { method: 'GET', path: '/healthz' };
  // recent products are the popular ones; a long tail goes back to the start
  const age = Math.floor((newestProduct - 1) * random() ** 4);
  return { method: 'GET', path: `/v1/products/p-${newestProduct - age}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const syncClient = selfRequests(port, { perSecond: 2, maxInFlight: 2, next: syncBatch });
const shoppers = selfRequests(port, { perSecond: 3, maxInFlight: 16, next: shopperRequest });

reportStats(() => ({
  retained: productCache.size,
  hits: productCache.hits,
  misses: productCache.misses,
  evictions: productCache.evictions,
  syncRuns: sync.runs,
  newestProduct,
  requestsFailed: syncClient.failed + shoppers.failed,
}));

ready(
  `catalogue-sync-product-cache: product-detail API, LRU of 4000 details warmed in bursts of ~500 by a catalogue sync every 6 min, 3 shopper req/s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
