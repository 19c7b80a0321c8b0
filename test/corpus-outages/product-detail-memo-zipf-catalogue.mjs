// Product-detail API of a shop with a finite catalogue of 8 000 products.
// Product records are immutable (a change is published as a new product id),
// so getProductDetail() memoizes the assembled detail forever in the
// module-level Map `productDetails`. Views follow a Zipf law over the
// catalogue: the popular products are cached within minutes, the rare ones
// only as somebody asks for them, so the memo fills over about two hours and
// then stays at ~8 000 entries. Healthy: bounded by the catalogue.
import {
  buildBallast,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const ballastMb = buildBallast();

const CATALOGUE_SIZE = 8_000;
const ZIPF_EXPONENT = 0.55;
const VIEWS_PER_S = 6;

// --- The catalogue database (in-process stand-in) ------------------------------

const BRANDS = ['Northwind', 'Fjällräven', 'Patagonia', 'Vaude', 'Salomon', 'Deuter', 'Mammut', 'Jack Wolfskin', 'Ortlieb', 'Primus'];
const KINDS = ['backpack', 'rain jacket', 'trail shoe', 'sleeping bag', 'tent', 'headlamp', 'stove', 'fleece', 'water bottle', 'trekking pole'];
const COLORS = ['black', 'forest green', 'ocean blue', 'sand', 'burnt orange', 'graphite', 'red'];
const PHRASES = [
  'Built for long days on the trail and short nights in the hut.',
  'Made from recycled materials with a PFC-free water-repellent finish.',
  'The ergonomic design keeps weight close to the body.',
  'Packs down small and fits in the side pocket of most packs.',
  'Tested in the Alps by our field team over three seasons.',
  'Reinforced at the stress points for years of use.',
  'Breathable mesh panels keep you cool on the ascent.',
  'Comes with a lifetime repair guarantee.',
  'Adjustable in seconds, even with gloves on.',
  'Weighs less than its predecessor while being more durable.',
];
const dbLatency = rng(31);

function productRecord(n) {
  const brand = BRANDS[n % BRANDS.length];
  const kind = KINDS[(n >> 2) % KINDS.length];
  return { id: `p${n}`, brand, kind, model: `${kind} ${100 + (n % 900)}`, basePriceCents: 1990 + ((n * 7919) % 40000), launchedAt: 1_600_000_000 + n * 3600 };
}

function queryCatalogue(n) {
  const ms = 8 + 20 * dbLatency();
  return new Promise((resolve) => setTimeout(() => resolve(productRecord(n)), scaledMs(ms / 1000)));
}

// --- Product detail memo -------------------------------------------------------

/** Product id -> assembled product detail (or the pending promise while it is loading). Never evicted: products are immutable. */
const productDetails = new Map();
const counters = { views: 0, hits: 0, misses: 0, coalesced: 0, notFound: 0, priceReads: 0 };

function describe(n) {
  const parts = [];
  for (let i = 0; i < 5; i++) parts.push(PHRASES[(n * 3 + i * 7) % PHRASES.length]);
  return parts.join(' ');
}

function variantsOf(record, n) {
  const variants = [];
  const count = 1 + (n % 4);
  for (let i = 0; i < count; i++) {
    const color = COLORS[(n + i) % COLORS.length];
    variants.push({ sku: `${record.id}-${i}`, color, size: ['S', 'M', 'L', 'XL'][i % 4], priceCents: record.basePriceCents + i * 500, image: `https://cdn.example.com/p/${record.id}/${i}-${color.replace(' ', '-')}.jpg` });
  }
  return variants;
}

function buildDetail(record, n) {
  return {
    id: record.id,
    title: `${record.brand} ${record.model}`,
    brand: record.brand,
    category: record.kind,
    description: describe(n),
    bullets: [PHRASES[n % PHRASES.length], PHRASES[(n + 4) % PHRASES.length], `Weight: ${200 + (n % 1800)} g`],
    images: [`https://cdn.example.com/p/${record.id}/main.jpg`, `https://cdn.example.com/p/${record.id}/side.jpg`, `https://cdn.example.com/p/${record.id}/detail.jpg`],
    variants: variantsOf(record, n),
    specs: { weightGrams: 200 + (n % 1800), material: n % 2 ? 'recycled polyamide' : 'polyester', warrantyYears: 2 + (n % 3), origin: ['VN', 'CN', 'PT', 'DE'][n % 4] },
    breadcrumbs: ['Outdoor', record.kind, record.brand],
    launchedAt: record.launchedAt,
  };
}

async function loadProductDetail(n) {
  const record = await queryCatalogue(n);
  return buildDetail(record, n);
}

function getProductDetail(n) {
  const id = n;
  const cached = productDetails.get(id);
  if (cached !== undefined) {
    if (cached instanceof Promise) counters.coalesced++;
    else counters.hits++;
    return cached;
  }
  counters.misses++;
  const pending = loadProductDetail(n).then((detail) => {
    productDetails.set(id, detail);
    return detail;
  });
  productDetails.set(id, pending);
  return pending;
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  req.resume();
  const match = /^\/v1\/products\/p(\d+)(\/price)?$/.exec(req.url ?? '/');
  if (match !== null) {
    const n = Number(match[1]);
    if (n >= CATALOGUE_SIZE) {
      counters.notFound++;
      return send(res, 404, { error: 'unknown product' });
    }
    if (match[2] !== undefined) {
      counters.priceReads++;
      return send(res, 200, { id: `p${n}`, priceCents: productRecord(n).basePriceCents, stock: (n * 13 + Math.floor(programSeconds() / 600)) % 50 });
    }
    counters.views++;
    return send(res, 200, await getProductDetail(n));
  }
  if (req.url === '/healthz') return send(res, 200, { ok: true, memo: productDetails.size });
  return send(res, 404, { error: 'not found' });
}

const { port } = await listen((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) send(res, 500, { error: 'internal' });
  });
});

// --- Load: shoppers' product views (Zipf over the catalogue), price refreshes ---

const random = rng(8000);
// Popularity rank -> product number: a fixed shuffle, so popular products are spread over the ids.
const byRank = Array.from({ length: CATALOGUE_SIZE }, (_, i) => i);
for (let i = byRank.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [byRank[i], byRank[j]] = [byRank[j], byRank[i]];
}
const cumulative = new Float64Array(CATALOGUE_SIZE);
let total = 0;
for (let rank = 0; rank < CATALOGUE_SIZE; rank++) {
  total += 1 / (rank + 1) ** ZIPF_EXPONENT;
  cumulative[rank] = total;
}

function zipfProduct() {
  const x = random() * total;
  let lo = 0;
  let hi = CATALOGUE_SIZE - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return byRank[lo];
}

function nextRequest() {
  const r = random();
  if (r < 0.005) return { method: 'GET', path: '/healthz' };
  const n = zipfProduct();
  if (r < 0.2) return { method: 'GET', path: `/v1/products/p${n}/price` };
  return { method: 'GET', path: `/v1/products/p${n}` };
}

const http = selfRequests(port, { perSecond: VIEWS_PER_S / 0.795, maxInFlight: 32, next: nextRequest });

reportStats(() => {
  let loaded = 0;
  for (const value of productDetails.values()) if (!(value instanceof Promise)) loaded++;
  return { retained: loaded, memoEntries: productDetails.size, ...counters, sent: http.sent, failed: http.failed };
});

ready(
  `product-detail-memo-zipf-catalogue on 127.0.0.1:${port}: ${VIEWS_PER_S} views/s at speed 1 (x${speed}) over ${CATALOGUE_SIZE} immutable products (Zipf ${ZIPF_EXPONENT}), memo never evicted` +
    (ballastMb > 0 ? ` (ballast ${ballastMb} MB)` : ''),
);
