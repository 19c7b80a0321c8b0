// B2B pricing service. A price for (SKU, customer tier, region) is computed
// by the rules engine (list price from the catalogue, the tier's discount,
// regional uplift and currency, quantity breaks, live promotions, VAT) and
// kept in class PriceCache: a private Map #entries in insertion order,
// bounded at 20 000 entries, evicting the oldest when full. The catalogue
// has 40 000 SKUs and 24 price lists, so the cache fills over the first
// ~40 minutes of traffic and then stays full, replacing its oldest entries
// one for one.
//
// Load: the web shop's basket (2 quotes/s of 1-12 lines) and product pages
// (3 single-price reads/s), plus health checks.
import {
  buildBallast,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x9e1c3);

// --- the cache -------------------------------------------------------------------

class PriceCache {
  #entries = new Map();
  #maxEntries;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(maxEntries) {
    this.#maxEntries = maxEntries;
  }

  get size() {
    return this.#entries.size;
  }

  get(key) {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.expiresAt < programSeconds()) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry;
  }

  set(key, entry) {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxEntries) {
      // Map iterates in insertion order: the first key is the oldest
      this.#entries.delete(this.#entries.keys().next().value);
      this.evictions++;
    }
  }
}

const priceCache = new PriceCache(20_000);

// --- the rules engine ------------------------------------------------------------------

const SKU_COUNT = 40_000;
const TIERS = ['retail', 'trade', 'trade-plus', 'key-account'];
const TIER_DISCOUNT = [0, 0.08, 0.12, 0.18];
const REGIONS = [
  { code: 'DE', currency: 'EUR', vat: 0.19, uplift: 1 },
  { code: 'NL', currency: 'EUR', vat: 0.21, uplift: 1.01 },
  { code: 'FR', currency: 'EUR', vat: 0.2, uplift: 1.03 },
  { code: 'PL', currency: 'PLN', vat: 0.23, uplift: 4.31 },
  { code: 'CH', currency: 'CHF', vat: 0.081, uplift: 1.02 },
  { code: 'GB', currency: 'GBP', vat: 0.2, uplift: 0.86 },
];
const PROMOTIONS = [
  { id: 'PRM-SPRING-TOOLS', categories: [2, 5], percent: 10 },
  { id: 'PRM-CLEARANCE-LIGHT', categories: [7], percent: 25 },
  { id: 'PRM-TRADE-WEEK', categories: [0, 1, 3], percent: 5, tiers: [1, 2] },
];
const skuCode = (n) => `PX-${(n * 7919 + 104_729).toString(36).toUpperCase().padStart(6, '0')}`;
const skuIndex = new Map();
for (let n = 0; n < SKU_COUNT; n++) skuIndex.set(skuCode(n), n);

const roundCents = (value) => Math.round(value);

/** Computes the price entry of one (sku, tier, region): the expensive path. */
function computePrice(sku, tierIndex, regionIndex) {
  const n = skuIndex.get(sku);
  const region = REGIONS[regionIndex];
  const category = n % 9;
  const listCents = 250 + ((n * 104_729) % 48_000);
  const ruleTrace = [`list:${sku}`, `tier:${TIERS[tierIndex]}`, `region:${region.code}`];
  let net = listCents * (1 - TIER_DISCOUNT[tierIndex]) * region.uplift;
  let promotion = null;
  for (const promo of PROMOTIONS) {
    if (!promo.categories.includes(category)) continue;
    if (promo.tiers !== undefined && !promo.tiers.includes(tierIndex)) continue;
    net *= 1 - promo.percent / 100;
    promotion = { id: promo.id, percent: promo.percent };
    ruleTrace.push(`promo:${promo.id}`);
  }
  const netCents = roundCents(net);
  const now = programSeconds();
  return {
    sku,
    tier: TIERS[tierIndex],
    region: region.code,
    currency: region.currency,
    listCents: roundCents(listCents * region.uplift),
    netCents,
    grossCents: roundCents(netCents * (1 + region.vat)),
    vatRate: region.vat,
    breaks: [1, 10, 50, 250].map((minQty, i) => ({ minQty, unitCents: roundCents(netCents * (1 - i * 0.03)) })),
    promotion,
    ruleTrace,
    computedAt: now,
    expiresAt: now + 6 * 3600,
  };
}

function priceFor(sku, tierIndex, regionIndex) {
  const key = `${sku}|${tierIndex}|${regionIndex}`;
  let entry = priceCache.get(key);
  if (entry === undefined) {
    entry = computePrice(sku, tierIndex, regionIndex);
    priceCache.set(key, entry);
  }
  return entry;
}

const unitPrice = (entry, quantity) => {
  let cents = entry.breaks[0].unitCents;
  for (const b of entry.breaks) if (quantity >= b.minQty) cents = b.unitCents;
  return cents;
};

// --- HTTP ------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const quotes = { count: 0, lines: 0 };

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://pricing.local');
  const tierIndex = TIERS.indexOf(url.searchParams.get('tier') ?? 'retail');
  const regionIndex = REGIONS.findIndex((r) => r.code === (url.searchParams.get('region') ?? 'DE'));
  if (req.method === 'GET' && url.pathname.startsWith('/v1/prices/')) {
    const sku = url.pathname.slice('/v1/prices/'.length);
    if (!skuIndex.has(sku)) return sendJson(res, 404, { error: 'unknown sku' });
    if (tierIndex < 0 || regionIndex < 0) return sendJson(res, 400, { error: 'bad tier or region' });
    const entry = priceFor(sku, tierIndex, regionIndex);
    return sendJson(res, 200, { sku, currency: entry.currency, netCents: entry.netCents, grossCents: entry.grossCents, breaks: entry.breaks, promotion: entry.promotion });
  }
  if (req.method === 'POST' && url.pathname === '/v1/quotes') {
    let basket;
    try {
      basket = JSON.parse((await readBody(req, 512 * 1024)).toString('utf8'));
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    const tier = TIERS.indexOf(basket.tier);
    const region = REGIONS.findIndex((r) => r.code === basket.region);
    if (tier < 0 || region < 0 || !Array.isArray(basket.lines)) return sendJson(res, 422, { error: 'tier, region and lines required' });
    let netTotal = 0;
    const lines = [];
    for (const line of basket.lines) {
      if (!skuIndex.has(line.sku)) {
        lines.push({ sku: line.sku, error: 'unknown sku' });
        continue;
      }
      const entry = priceFor(line.sku, tier, region);
      const unitCents = unitPrice(entry, line.quantity);
      netTotal += unitCents * line.quantity;
      lines.push({ sku: line.sku, quantity: line.quantity, unitCents, promotion: entry.promotion?.id ?? null });
    }
    quotes.count++;
    quotes.lines += lines.length;
    const vat = REGIONS[region].vat;
    return sendJson(res, 200, { quoteId: `Q-${quotes.count}`, currency: REGIONS[region].currency, lines, netCents: netTotal, grossCents: roundCents(netTotal * (1 + vat)) });
  }
  if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, cached: priceCache.size });
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: the basket, product pages, the load balancer ----------------------------------

const popularSku = () => skuCode(Math.floor(SKU_COUNT * random() ** 2.5));
const customerTier = () => Math.floor(random() ** 2 * TIERS.length);
const customerRegion = () => Math.floor(random() ** 2 * REGIONS.length);

function productPageRequest() {
  if (random() < 0.03) return { method: 'GET', path: '/healthz' };
  return { method: 'GET', path: `/v1/prices/${popularSku()}?tier=${TIERS[customerTier()]}&region=${REGIONS[customerRegion()].code}` };
}

function basketRequest() {
  const lineCount = 1 + Math.min(11, Math.floor(-Math.log(1 - random()) * 1.8));
  const lines = [];
  for (let i = 0; i < lineCount; i++) lines.push({ sku: popularSku(), quantity: 1 + Math.floor(random() ** 3 * 80) });
  const body = JSON.stringify({ tier: TIERS[customerTier()], region: REGIONS[customerRegion()].code, customerId: `C-${Math.floor(random() * 90_000)}`, lines });
  return { method: 'POST', path: '/v1/quotes', headers: { 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const pages = selfRequests(port, { perSecond: 3, maxInFlight: 16, next: productPageRequest });
const baskets = selfRequests(port, { perSecond: 2, maxInFlight: 8, next: basketRequest });

reportStats(() => ({
  retained: priceCache.size,
  hits: priceCache.hits,
  misses: priceCache.misses,
  evictions: priceCache.evictions,
  quotes: quotes.count,
  requestsFailed: pages.failed + baskets.failed,
}));

ready(
  `pricing-quote-cache-plateau: B2B pricing API, 3 price reads/s + 2 basket quotes/s, PriceCache #entries bounded at 20000 (oldest evicted), full after ~40 min (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
