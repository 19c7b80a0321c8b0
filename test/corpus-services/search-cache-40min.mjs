// Product-search API with a result cache (healthy).
//
// GET /v1/search?q=&category=&sort=&page= runs a small in-memory search over
// the shop's catalogue (inverted index term -> product indexes) and caches the
// rendered result page for 40 minutes (TTL counted from insertion, as search
// results must pick up price and stock changes). The cache is a Map in a
// ResultCache class with an LRU cap as a safety net; a sweep every minute drops
// expired entries. Queries follow a long-tailed popularity (a few head queries,
// a huge tail), so the cache fills over the first TTL and then stays level:
// every new entry is balanced by one that expires.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const CACHE_TTL_SECONDS = 40 * 60;
const CACHE_MAX_ENTRIES = 50_000;
const SWEEP_EVERY_SECONDS = 60;
const PAGE_SIZE = 20;
const REQUESTS_PER_SECOND = 5; // production rate of the storefront's search backend

const random = rng(0x5eac40);

// --- Catalogue ---------------------------------------------------------------

const NOUNS = [
  'chair', 'table', 'lamp', 'kettle', 'blender', 'toaster', 'speaker', 'headphones', 'backpack', 'jacket',
  'boots', 'sneakers', 'tent', 'sleeping-bag', 'drill', 'saw', 'hammer', 'ladder', 'hose', 'grill',
  'mug', 'plate', 'bowl', 'knife', 'pan', 'pot', 'rug', 'curtain', 'pillow', 'duvet',
  'desk', 'monitor', 'keyboard', 'mouse', 'router', 'charger', 'cable', 'watch', 'camera', 'tripod',
  'bicycle', 'helmet', 'gloves', 'scarf', 'hat', 'umbrella', 'wallet', 'suitcase', 'bottle', 'thermos',
  'puzzle', 'doll', 'blocks', 'kite', 'ball', 'racket', 'skates', 'mat', 'dumbbell', 'bench',
];
const ADJECTIVES = [
  'compact', 'foldable', 'wireless', 'portable', 'classic', 'modern', 'vintage', 'heavy-duty', 'lightweight', 'premium',
  'ergonomic', 'waterproof', 'insulated', 'adjustable', 'rechargeable', 'smart', 'mini', 'xl', 'kids', 'pro',
  'eco', 'organic', 'stainless', 'non-stick', 'cordless', 'quiet', 'fast', 'travel', 'outdoor', 'indoor',
];
const MATERIALS = ['wood', 'steel', 'aluminium', 'cotton', 'wool', 'leather', 'bamboo', 'glass', 'ceramic', 'plastic', 'linen', 'carbon'];
const COLORS = ['black', 'white', 'grey', 'red', 'blue', 'green', 'yellow', 'orange', 'pink', 'brown', 'navy', 'beige'];
const BRANDS = [
  'Acme', 'Northwind', 'Contoso', 'Fabrikam', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Soylent',
  'Wonka', 'Tyrell', 'Cyberdyne', 'Stark', 'Wayne', 'Oscorp', 'Aperture', 'BlackMesa', 'Monarch', 'Gringotts',
];
const CATEGORIES = ['home', 'kitchen', 'audio', 'outdoor', 'tools', 'office', 'fashion', 'sports', 'toys', 'travel'];
const NOUN_CATEGORY = NOUNS.map((_, i) => CATEGORIES[Math.floor(i / 6)]);
const SORTS = ['relevance', 'price_asc', 'price_desc', 'rating', 'newest'];
const PRODUCT_COUNT = 12_000;

function pick(list) {
  return list[Math.floor(random() * list.length)];
}

const products = [];
const postings = new Map(); // term -> array of product indexes

function addPosting(term, index) {
  let list = postings.get(term);
  if (list === undefined) postings.set(term, (list = []));
  list.push(index);
}

for (let i = 0; i < PRODUCT_COUNT; i++) {
  // popular nouns have more products
  const nounIndex = Math.min(NOUNS.length - 1, Math.floor(NOUNS.length * random() ** 1.4));
  const noun = NOUNS[nounIndex];
  const adjective = pick(ADJECTIVES);
  const material = pick(MATERIALS);
  const color = pick(COLORS);
  const brand = pick(BRANDS);
  const product = {
    id: 100_000 + i,
    sku: `${brand.slice(0, 3).toUpperCase()}-${noun.slice(0, 4).toUpperCase()}-${(i * 7919).toString(36)}`,
    title: `${brand} ${adjective} ${material} ${noun}, ${color}`,
    brand,
    category: NOUN_CATEGORY[nounIndex],
    priceCents: 299 + Math.floor(random() * random() * 40_000),
    currency: 'EUR',
    rating: Math.round((2.5 + random() * 2.5) * 10) / 10,
    reviews: Math.floor(random() ** 3 * 4000),
    listedAt: 1_700_000_000 - Math.floor(random() * 86400 * 700),
    stock: Math.floor(random() * 300),
    terms: [noun, adjective, material, color, brand.toLowerCase()],
  };
  products.push(product);
  for (const term of product.terms) addPosting(term, i);
}

// --- Result cache --------------------------------------------------------------

class ResultCache {
  constructor({ ttlSeconds, maxEntries }) {
    this.ttlSeconds = ttlSeconds;
    this.maxEntries = maxEntries;
    this.entries = new Map(); // key -> { key, value, createdAt, expiresAt, hits }
    this.hits = 0;
    this.misses = 0;
    this.expired = 0;
    this.evicted = 0;
  }

  get(key, now) {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      this.expired++;
      this.misses++;
      return undefined;
    }
    // LRU order: most recently used last
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.hits++;
    this.hits++;
    return entry.value;
  }

  set(key, value, now) {
    this.entries.delete(key);
    this.entries.set(key, { key, value, createdAt: now, expiresAt: now + this.ttlSeconds, hits: 0 });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      this.entries.delete(oldest);
      this.evicted++;
    }
  }

  sweep(now) {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) {
        this.entries.delete(key);
        dropped++;
      }
    }
    this.expired += dropped;
    return dropped;
  }
}

const searchCache = new ResultCache({ ttlSeconds: CACHE_TTL_SECONDS, maxEntries: CACHE_MAX_ENTRIES });

// --- Search --------------------------------------------------------------------

function normalizeTerms(q) {
  return q
    .toLowerCase()
    .split(/[\s+,]+/)
    .filter((t) => t.length > 0)
    .sort();
}

function cacheKey(terms, category, sort, page) {
  return `${terms.join(' ')}|${category}|${sort}|${page}`;
}

function matchScore(product, terms) {
  let score = 0;
  for (const term of terms) if (product.terms.includes(term)) score += 1;
  return score / terms.length + product.rating / 25 + Math.log1p(product.reviews) / 40;
}

function toHit(product, score) {
  return {
    id: product.id,
    sku: product.sku,
    title: product.title,
    brand: product.brand,
    priceCents: product.priceCents,
    currency: product.currency,
    rating: product.rating,
    inStock: product.stock > 0,
    thumbnail: `https://img.shop.example/p/${product.sku}/200x200.webp`,
    score: Math.round(score * 1000) / 1000,
  };
}

const COMPARATORS = {
  relevance: (a, b) => b.score - a.score,
  price_asc: (a, b) => a.product.priceCents - b.product.priceCents,
  price_desc: (a, b) => b.product.priceCents - a.product.priceCents,
  rating: (a, b) => b.product.rating - a.product.rating || b.product.reviews - a.product.reviews,
  newest: (a, b) => b.product.listedAt - a.product.listedAt,
};

function runSearch(terms, category, sort, page) {
  let seed = null;
  for (const term of terms) {
    const list = postings.get(term);
    if (list === undefined) continue;
    if (seed === null || list.length < seed.length) seed = list;
  }
  const candidates = [];
  const brandCounts = {};
  const priceBands = [0, 0, 0, 0];
  if (seed !== null) {
    for (const index of seed) {
      const product = products[index];
      if (category !== '' && product.category !== category) continue;
      const score = matchScore(product, terms);
      if (score < 0.5) continue;
      candidates.push({ product, score });
      brandCounts[product.brand] = (brandCounts[product.brand] ?? 0) + 1;
      priceBands[product.priceCents < 2000 ? 0 : product.priceCents < 5000 ? 1 : product.priceCents < 15000 ? 2 : 3]++;
    }
  }
  candidates.sort(COMPARATORS[sort] ?? COMPARATORS.relevance);
  const start = (page - 1) * PAGE_SIZE;
  const hits = [];
  for (let i = start; i < Math.min(candidates.length, start + PAGE_SIZE); i++) {
    hits.push(toHit(candidates[i].product, candidates[i].score));
  }
  const brands = Object.entries(brandCounts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([name, count]) => ({ name, count }));
  return {
    query: terms.join(' '),
    category: category || null,
    sort,
    page,
    total: candidates.length,
    hits,
    facets: {
      brands,
      price: [
        { band: 'under-20', count: priceBands[0] },
        { band: '20-50', count: priceBands[1] },
        { band: '50-150', count: priceBands[2] },
        { band: 'over-150', count: priceBands[3] },
      ],
    },
    generatedAt: new Date(1_767_225_600_000 + programSeconds() * 1000).toISOString(),
  };
}

// --- HTTP ------------------------------------------------------------------------

const counters = { searches: 0, productViews: 0, notFound: 0 };

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handleSearch(url, res) {
  const q = url.searchParams.get('q') ?? '';
  const category = url.searchParams.get('category') ?? '';
  const sort = url.searchParams.get('sort') ?? 'relevance';
  const page = Math.max(1, Math.min(10, Number(url.searchParams.get('page') ?? 1) || 1));
  const terms = normalizeTerms(q);
  const key = cacheKey(terms, category, sort, page);
  const now = programSeconds();
  let result = searchCache.get(key, now);
  if (result === undefined) {
    result = runSearch(terms, category, sort, page);
    searchCache.set(key, result, now);
  }
  counters.searches++;
  sendJson(res, 200, result);
}

const { port } = await listen((req, res) => {
  const url = new URL(req.url, 'http://search.internal');
  if (url.pathname === '/v1/search') return handleSearch(url, res);
  if (url.pathname.startsWith('/v1/products/')) {
    const id = Number(url.pathname.slice('/v1/products/'.length));
    const product = products[id - 100_000];
    counters.productViews++;
    if (product === undefined) {
      counters.notFound++;
      return sendJson(res, 404, { error: 'not found' });
    }
    const { terms, ...view } = product;
    return sendJson(res, 200, view);
  }
  if (url.pathname === '/internal/cache') {
    return sendJson(res, 200, {
      entries: searchCache.entries.size,
      hits: searchCache.hits,
      misses: searchCache.misses,
      expired: searchCache.expired,
      evicted: searchCache.evicted,
    });
  }
  sendJson(res, 404, { error: 'no route' });
});

// --- Shoppers (in-process client) ------------------------------------------------
//
// Query popularity is Zipf-like (s ~ 1) over ~2 million distinct query
// variants: a log-uniform rank, mapped to a query by a hash.

const QUERY_SPACE = 2_000_000;

function hash32(n) {
  let h = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function queryForRank(rank) {
  const h = hash32(rank);
  const h2 = hash32(rank + 0x51ed27);
  const words = [NOUNS[h % NOUNS.length]];
  if (rank >= 40) words.unshift(ADJECTIVES[(h >>> 6) % ADJECTIVES.length]);
  if (rank >= 600 && h2 % 3 !== 0) words.push(COLORS[(h2 >>> 4) % COLORS.length]);
  if (rank >= 5000 && h2 % 5 < 2) words.unshift(BRANDS[(h2 >>> 9) % BRANDS.length].toLowerCase());
  if (rank >= 20_000 && h % 4 === 0) words.push(MATERIALS[(h >>> 12) % MATERIALS.length]);
  const params = new URLSearchParams({ q: words.join(' ') });
  if (rank >= 200 && h2 % 4 === 1) params.set('category', CATEGORIES[(h2 >>> 14) % CATEGORIES.length]);
  if (rank >= 100 && h % 3 !== 0) params.set('sort', SORTS[(h >>> 18) % SORTS.length]);
  if (rank >= 300 && h2 % 6 === 0) params.set('page', String(2 + ((h2 >>> 20) % 3)));
  return `/v1/search?${params}`;
}

function nextRequest() {
  const r = random();
  if (r < 0.8) {
    const rank = Math.floor(Math.exp(random() * Math.log(QUERY_SPACE))) - 1;
    return { method: 'GET', path: queryForRank(rank) };
  }
  if (r < 0.99) {
    const index = Math.floor(PRODUCT_COUNT * random() ** 2);
    return { method: 'GET', path: `/v1/products/${100_000 + index}` };
  }
  return { method: 'GET', path: '/internal/cache' };
}

const ballastMb = buildBallast();

const client = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: nextRequest, maxInFlight: 32 });

every(Math.max(10, (SWEEP_EVERY_SECONDS * 1000) / speed), () => searchCache.sweep(programSeconds()));

reportStats(() => ({
  retained: searchCache.entries.size,
  cacheHits: searchCache.hits,
  cacheMisses: searchCache.misses,
  expired: searchCache.expired,
  evicted: searchCache.evicted,
  searches: counters.searches,
  requests: client.completed,
  failed: client.failed,
}));

ready(
  `search-cache-40min: product search API on 127.0.0.1:${port}, ${PRODUCT_COUNT} products, result cache TTL ${CACHE_TTL_SECONDS} s (cap ${CACHE_MAX_ENTRIES}), ${REQUESTS_PER_SECOND} req/s x speed ${speed}` +
    (ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''),
);
