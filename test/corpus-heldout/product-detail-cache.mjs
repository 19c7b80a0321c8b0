// Product detail API (healthy): GET /v1/products/:sku returns the product
// view model (title, description, attributes, price tiers, images, badges)
// assembled from the catalogue store (simulated: built from the SKU on a miss,
// as the store round trip would). Assembled products are kept in a bounded
// LRU (class LruCache: a Map in recency order; a hit moves the key to the
// end, an insert past `maxEntries` evicts the oldest).
//
// Speed 1: 5 req/s; 30 % go to 2 000 best-sellers (hits once warm), 70 % to
// a long tail of 1.5 M SKUs (almost always misses) → ~3.5 inserts/s, so the
// 27 000-entry cache (~2.3 KB a product, ~60 MB) fills over ~2 h and then stays
// full, evicting one entry per miss. At SCENARIO_SPEED=60: full after ~2 min.
// stats: retained = cache entries.
import { buildBallast, listen, ready, reportStats, rng, selfRequests } from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 5;
const HOT_SHARE = 0.3;
const HOT_SKUS = 2000;
const TAIL_SKUS = 1_500_000;
const MAX_ENTRIES = 27_000;

class LruCache {
  constructor(maxEntries) {
    this.maxEntries = maxEntries;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  get(key) {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key, value) {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value);
      this.evictions++;
    }
  }
}

const productCache = new LruCache(MAX_ENTRIES);

const BRANDS = ['Nordkap', 'Alpina', 'Vektor', 'Solis', 'Brise', 'Kolibri', 'Tundra', 'Mistral'];
const KINDS = ['rain jacket', 'hiking boot', 'backpack', 'sleeping bag', 'tent', 'headlamp', 'trekking pole', 'fleece'];
const COLORS = ['black', 'navy', 'olive', 'red', 'sand', 'grey'];

function priceTiers(n) {
  const base = 1999 + ((n * 7919) % 30000);
  return [1, 3, 10].map((qty, i) => ({ minQty: qty, amountCents: Math.round(base * (1 - i * 0.07)), currency: 'EUR' }));
}

function loadProduct(sku) {
  const n = Number(sku.slice(4));
  const kind = KINDS[n % KINDS.length];
  const brand = BRANDS[(n >> 3) % BRANDS.length];
  return {
    sku,
    title: `${brand} ${kind} ${n % 97} — ${COLORS[n % COLORS.length]}`,
    brand,
    description: `The ${brand} ${kind} is built for long days outdoors. ${'Water-repellent finish, recycled materials and a fit that works over layers. '.repeat(8)}Model ${n}.`,
    attributes: { color: COLORS[n % COLORS.length], weightGrams: 200 + (n % 1800), material: n % 2 ? 'polyamide' : 'polyester', origin: n % 3 ? 'VN' : 'PT', sizes: ['XS', 'S', 'M', 'L', 'XL', 'XXL'].slice(n % 3) },
    priceTiers: priceTiers(n),
    images: Array.from({ length: 6 }, (_, i) => `https://cdn.example/p/${sku}/${i}-${(n * 31 + i).toString(36)}.webp`),
    badges: n % 5 === 0 ? ['bestseller', 'free-returns'] : ['free-returns'],
    stock: (n * 13) % 250,
    loadedAt: Date.now(),
  };
}

function productView(sku) {
  let product = productCache.get(sku);
  if (product === undefined) {
    product = loadProduct(sku);
    productCache.set(sku, product);
  }
  return product;
}

const ballastMB = buildBallast();
const { port } = await listen((req, res) => {
  const match = /^\/v1\/products\/(SKU-\d+)$/.exec(req.url);
  if (req.method !== 'GET' || match === null) return res.writeHead(404).end();
  const product = productView(match[1]);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sku: product.sku, title: product.title, price: product.priceTiers[0], stock: product.stock, images: product.images.slice(0, 2) }));
});

const random = rng(707);
selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  next: () => {
    const n = random() < HOT_SHARE ? Math.floor(random() * HOT_SKUS) : HOT_SKUS + Math.floor(random() * TAIL_SKUS);
    return { path: `/v1/products/SKU-${n}` };
  },
});

reportStats(() => ({ retained: productCache.entries.size, hits: productCache.hits, misses: productCache.misses, evictions: productCache.evictions, full: productCache.entries.size >= MAX_ENTRIES, ballastMB }));
ready(`product-detail-cache: ${REQUESTS_PER_SECOND} req/s (speed 1), LRU of ${MAX_ENTRIES} products`);
