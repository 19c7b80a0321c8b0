// Product API of a commerce platform: merchants' catalogues are served from a
// module-level cache (`catalogueCache`, Map "merchant/sku" -> entry built by
// toCatalogueEntry), filled from the catalogue service at boot and by
// merchants' feed imports (POST /v1/merchants/:m/feed, pages of products),
// kept current by price/stock updates (PATCH /v1/merchants/:m/products/:sku)
// and delta feeds, and read by the storefronts (GET product, GET listing).
//
// The platform starts with ~30 small merchants (a few hundred products each).
// At ~2 h a large marketplace customer is onboarded: its catalogue arrives as
// four feed deliveries (one per department) over ~20 minutes, each imported
// in pages as fast as the importer can send them, so the cache steps up four
// times. From then on nothing is added: updates and delta feeds replace the
// entries of products already known (an update for an unknown SKU is refused
// until a feed brings it), so the cache stays at the same size. A hard cap
// (MAX_ENTRIES, evicting the oldest insertion) protects the process but is
// not reached.
import {
  buildBallast,
  listen,
  MiB,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xca7a_1091);
const EPOCH_MS = Date.UTC(2024, 8, 2, 7, 0);
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);

const MAX_ENTRIES = 120_000;
/** When the marketplace's four department feeds are delivered (program seconds) and how many products each has. */
const ONBOARDING = [
  { at: 7200, department: 'home-garden', products: 9_400 },
  { at: 7560, department: 'electronics', products: 6_800 },
  { at: 7980, department: 'fashion', products: 11_200 },
  { at: 8400, department: 'sports-outdoor', products: 5_600 },
];
const MARKETPLACE = 'm-bazaarhub';

// --- cache ---------------------------------------------------------------------------

/** "merchant/sku" -> catalogue entry */
const catalogueCache = new Map();
/** merchant id -> array of its SKUs (for listings and the load) */
const skusByMerchant = new Map();
const cacheStats = { hits: 0, misses: 0, inserted: 0, replaced: 0, evicted: 0, refused: 0 };

const cacheKey = (merchantId, sku) => `${merchantId}/${sku}`;

function toCatalogueEntry(merchantId, product, now) {
  return {
    merchantId,
    sku: product.sku,
    title: product.title,
    brand: product.brand,
    category: product.category,
    priceCents: product.priceCents,
    currency: product.currency,
    stock: product.stock,
    attributes: product.attributes,
    images: product.images,
    updatedAt: now,
    version: product.version,
  };
}

function store(merchantId, product, now) {
  const key = cacheKey(merchantId, product.sku);
  const existed = catalogueCache.has(key);
  catalogueCache.set(key, toCatalogueEntry(merchantId, product, now));
  if (existed) {
    cacheStats.replaced++;
    return;
  }
  cacheStats.inserted++;
  let skus = skusByMerchant.get(merchantId);
  if (skus === undefined) {
    skus = [];
    skusByMerchant.set(merchantId, skus);
  }
  skus.push(product.sku);
  if (catalogueCache.size > MAX_ENTRIES) {
    const oldest = catalogueCache.keys().next().value;
    catalogueCache.delete(oldest);
    cacheStats.evicted++;
  }
}

// --- catalogue data (the catalogue service / merchants' feeds) ------------------------

const BRANDS = ['Aurora', 'Brightline', 'Copperfield', 'Driftwood', 'Evergreen', 'Foxglove', 'Greyhound', 'Halcyon', 'Ironbark', 'Juniper', 'Kinfolk', 'Lodestar'];
const ADJECTIVES = ['Classic', 'Compact', 'Deluxe', 'Essential', 'Lightweight', 'Premium', 'Rugged', 'Slim', 'Ultra', 'Vintage'];
const NOUNS = {
  'home-garden': ['Planter', 'Lamp', 'Throw', 'Hose', 'Cushion', 'Shelf', 'Rug'],
  electronics: ['Headphones', 'Charger', 'Speaker', 'Keyboard', 'Webcam', 'Router', 'Monitor'],
  fashion: ['Jacket', 'Sneaker', 'Scarf', 'Dress', 'Backpack', 'Belt', 'Shirt'],
  'sports-outdoor': ['Tent', 'Bottle', 'Helmet', 'Jersey', 'Rope', 'Stove', 'Mat'],
  grocery: ['Coffee', 'Tea', 'Olive Oil', 'Granola', 'Honey', 'Pasta', 'Chocolate'],
};
const DEPARTMENTS = Object.keys(NOUNS);
const COLORS = ['black', 'white', 'navy', 'olive', 'sand', 'charcoal', 'red', 'teal'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL', 'one-size'];

function feedProduct(merchantId, department, n, version) {
  const nouns = NOUNS[department];
  const brand = BRANDS[(n * 7) % BRANDS.length];
  const imageCount = 2 + (n % 3);
  const images = [];
  for (let i = 0; i < imageCount; i++) images.push(`https://cdn.example-shop.com/${merchantId}/${department}/${n}-${i}.webp`);
  return {
    sku: `${department.slice(0, 3).toUpperCase()}-${String(n).padStart(6, '0')}`,
    title: `${brand} ${ADJECTIVES[n % ADJECTIVES.length]} ${nouns[(n >> 2) % nouns.length]} ${COLORS[n % COLORS.length]}`,
    brand,
    category: `${department}/${nouns[(n >> 2) % nouns.length].toLowerCase()}`,
    priceCents: 499 + ((n * 7919 + version * 113) % 40_000),
    currency: 'EUR',
    stock: Math.floor(random() * 250),
    attributes: { color: COLORS[n % COLORS.length], size: SIZES[n % SIZES.length], weightGrams: 80 + ((n * 31) % 4_000), ean: String(4_000_000_000_000 + n * 37) },
    images,
    version,
  };
}

const SMALL_MERCHANTS = [];
for (let i = 1; i <= 30; i++) {
  SMALL_MERCHANTS.push({ id: `m-${String(i).padStart(4, '0')}`, department: DEPARTMENTS[i % DEPARTMENTS.length], products: 120 + Math.floor(random() * 330) });
}

/** Boot: load every merchant's catalogue from the catalogue service (JSON pages). */
function warmFromCatalogueService() {
  for (const merchant of SMALL_MERCHANTS) {
    const page = [];
    for (let n = 0; n < merchant.products; n++) page.push(feedProduct(merchant.id, merchant.department, n, 1));
    const now = nowMs();
    for (const product of JSON.parse(JSON.stringify(page))) store(merchant.id, product, now);
  }
}

// --- HTTP -------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const imports = { pages: 0, products: 0 };

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://catalogue.local');
  const parts = url.pathname.split('/');
  try {
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, entries: catalogueCache.size });
    if (parts[1] !== 'v1' || parts[2] !== 'merchants') return sendJson(res, 404, { error: 'not found' });
    const merchantId = parts[3];
    if (req.method === 'POST' && parts[4] === 'feed') {
      const feed = JSON.parse((await readBody(req, 32 * MiB)).toString('utf8'));
      const now = nowMs();
      for (const product of feed.products) store(merchantId, product, now);
      imports.pages++;
      imports.products += feed.products.length;
      return sendJson(res, 202, { imported: feed.products.length });
    }
    if (req.method === 'PATCH' && parts[4] === 'products') {
      const change = JSON.parse((await readBody(req)).toString('utf8'));
      const current = catalogueCache.get(cacheKey(merchantId, parts[5]));
      if (current === undefined) {
        cacheStats.refused++;
        return sendJson(res, 409, { error: 'unknown sku: import it with a feed first' });
      }
      const product = { ...current, priceCents: change.priceCents ?? current.priceCents, stock: change.stock ?? current.stock, version: current.version + 1 };
      store(merchantId, product, nowMs());
      return sendJson(res, 200, { sku: product.sku, version: product.version });
    }
    if (req.method === 'GET' && parts[4] === 'products' && parts.length === 6) {
      const entry = catalogueCache.get(cacheKey(merchantId, parts[5]));
      if (entry === undefined) {
        cacheStats.misses++;
        return sendJson(res, 404, { error: 'not found' });
      }
      cacheStats.hits++;
      return sendJson(res, 200, entry);
    }
    if (req.method === 'GET' && parts[4] === 'products' && parts.length === 5) {
      const skus = skusByMerchant.get(merchantId) ?? [];
      const offset = Math.min(Number(url.searchParams.get('offset') ?? 0), Math.max(0, skus.length - 24));
      const items = [];
      for (let i = offset; i < Math.min(skus.length, offset + 24); i++) {
        const e = catalogueCache.get(cacheKey(merchantId, skus[i]));
        if (e !== undefined) items.push({ sku: e.sku, title: e.title, priceCents: e.priceCents, image: e.images[0], inStock: e.stock > 0 });
      }
      return sendJson(res, 200, { merchantId, total: skus.length, items });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- the load: feeds, merchants' updates, storefronts -----------------------------------

/** Feed pages waiting to be sent by the importer: {merchantId, department, from, to, version}. */
const feedQueue = [];
const onboarded = [];
let nextDelta = 9000;

function scheduleFeeds() {
  const now = programSeconds();
  for (const delivery of ONBOARDING) {
    if (delivery.queued || now < delivery.at) continue;
    delivery.queued = true;
    const base = ONBOARDING.indexOf(delivery) * 100_000;
    for (let from = 0; from < delivery.products; from += 500) {
      feedQueue.push({ merchantId: MARKETPLACE, department: delivery.department, from: base + from, to: base + Math.min(delivery.products, from + 500), version: 1 });
    }
    onboarded.push({ department: delivery.department, products: delivery.products, at: Math.round(now) });
  }
  // After onboarding the marketplace sends a delta feed every 30 min: changed products only (same SKUs).
  if (onboarded.length === ONBOARDING.length && now >= nextDelta) {
    nextDelta = now + 1800;
    const changed = 800 + Math.floor(random() * 1_700);
    for (let k = 0; k < changed; k += 500) {
      const delivery = ONBOARDING[Math.floor(random() * ONBOARDING.length)];
      const base = ONBOARDING.indexOf(delivery) * 100_000;
      const from = base + Math.floor(random() * (delivery.products - 500));
      feedQueue.push({ merchantId: MARKETPLACE, department: delivery.department, from, to: from + Math.min(500, changed - k), version: 2 + Math.floor(now / 1800) });
    }
  }
}

function nextFeedPage() {
  scheduleFeeds();
  const page = feedQueue.shift();
  if (page === undefined) return null;
  const products = [];
  for (let n = page.from; n < page.to; n++) products.push(feedProduct(page.merchantId, page.department, n, page.version));
  return {
    method: 'POST',
    path: `/v1/merchants/${page.merchantId}/feed`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ department: page.department, products }),
  };
}

/** A merchant weighted by catalogue size, and one of its SKUs. */
function pickProduct() {
  let roll = random() * catalogueCache.size;
  for (const [merchantId, skus] of skusByMerchant) {
    roll -= skus.length;
    if (roll < 0) {
      // Popular products first: r^2 bias to the start of the catalogue.
      const r = random();
      return [merchantId, skus[Math.floor(r * r * skus.length)]];
    }
  }
  const [merchantId, skus] = skusByMerchant.entries().next().value;
  return [merchantId, skus[0]];
}

function nextUpdate() {
  const [merchantId, sku] = pickProduct();
  const change = random() < 0.6 ? { stock: Math.floor(random() * 250) } : { priceCents: 499 + Math.floor(random() * 40_000) };
  return { method: 'PATCH', path: `/v1/merchants/${merchantId}/products/${sku}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(change) };
}

function nextShopper() {
  const roll = random();
  if (roll < 0.03) return { method: 'GET', path: '/healthz' };
  const [merchantId, sku] = pickProduct();
  // Stale links from search engines and old newsletters: products that were never imported.
  if (roll < 0.05) return { method: 'GET', path: `/v1/merchants/${merchantId}/products/OLD-${String(Math.floor(random() * 90_000)).padStart(6, '0')}` };
  if (roll < 0.25) return { method: 'GET', path: `/v1/merchants/${merchantId}/products?offset=${Math.floor(random() * 400)}` };
  return { method: 'GET', path: `/v1/merchants/${merchantId}/products/${sku}` };
}

const ballastMb = buildBallast();
warmFromCatalogueService();
const { port } = await listen(handler);

// The feed importer: one page a second while a delivery is queued.
const importer = selfRequests(port, { perSecond: 1, maxInFlight: 1, next: nextFeedPage });
// Merchants' price and stock updates.
const updates = selfRequests(port, { perSecond: 1.5, maxInFlight: 4, next: nextUpdate });
// Storefronts.
const shoppers = selfRequests(port, { perSecond: 3, maxInFlight: 8, next: nextShopper });

reportStats(() => ({
  retained: catalogueCache.size,
  marketplaceProducts: skusByMerchant.get(MARKETPLACE)?.length ?? 0,
  feedPages: imports.pages,
  pagesQueued: feedQueue.length,
  inserted: cacheStats.inserted,
  replaced: cacheStats.replaced,
  evicted: cacheStats.evicted,
  hitRate: Math.round((cacheStats.hits / Math.max(1, cacheStats.hits + cacheStats.misses)) * 1000) / 1000,
  requestsFailed: importer.failed + updates.failed + shoppers.failed,
}));

ready(
  `marketplace-onboarding-catalogue-cache: ${catalogueCache.size} products cached for ${SMALL_MERCHANTS.length} merchants; ${MARKETPLACE} onboarded from 7200 s in ${ONBOARDING.length} feed deliveries, then updates replace entries (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
