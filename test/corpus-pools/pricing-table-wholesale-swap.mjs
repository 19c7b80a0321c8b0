// Pricing service: GET /v1/prices/:sku and POST /v1/quote read the current
// price table. A repricing job rebuilds the whole table (~20 000 SKUs: list
// price, customer-group tiers, active promotion, VAT) every 10 minutes from
// the catalogue, the promotion calendar and the latest FX rates, then swaps
// it in with one assignment: readers always see one complete table, and the
// previous table becomes garbage as soon as the requests still using it end.
import {
  buildBallast,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x9a1ce);
const REPRICE_EVERY_S = 600;
const SKU_COUNT = 20_000;
const CURRENCIES = ['EUR', 'GBP', 'SEK', 'PLN', 'CHF'];
const GROUPS = ['retail', 'trade', 'wholesale', 'staff'];
const VAT = { DE: 0.19, FR: 0.2, NL: 0.21, SE: 0.25, PL: 0.23 };

// --- the catalogue (static: cost prices, categories) --------------------------

const CATEGORIES = ['fasteners', 'power-tools', 'hand-tools', 'paint', 'plumbing', 'electrical', 'garden', 'safety'];
const catalogue = [];
for (let i = 0; i < SKU_COUNT; i++) {
  catalogue.push({
    sku: `P${(400000 + i * 7).toString(10)}`,
    category: CATEGORIES[i % CATEGORIES.length],
    costCents: 80 + Math.floor(random() * 40_000),
    marginTarget: 0.18 + random() * 0.3,
    packSize: [1, 1, 1, 5, 10, 25][i % 6],
  });
}
const catalogueBySku = new Map(catalogue.map((p) => [p.sku, p]));

// --- inputs that change between repricings ------------------------------------

/** FX rates drift a little every repricing (a feed stand-in). */
const fx = { EUR: 1, GBP: 0.86, SEK: 11.4, PLN: 4.33, CHF: 0.95 };

function refreshFx() {
  for (const code of CURRENCIES) {
    if (code !== 'EUR') fx[code] = Math.round(fx[code] * (1 + (random() - 0.5) * 0.004) * 10_000) / 10_000;
  }
}

/** Promotion calendar: a few category- or SKU-range promotions live at a time. */
function activePromotions(now) {
  const promos = [];
  const slot = Math.floor(now / 1800); // promotions rotate every 30 min
  for (let k = 0; k < 4; k++) {
    const seed = (slot * 31 + k * 7) % 97;
    promos.push({
      id: `promo-${slot}-${k}`,
      category: CATEGORIES[seed % CATEGORIES.length],
      discount: 0.05 + (seed % 5) * 0.025,
      label: `${[10, 15, 20, 5, 25][seed % 5]}% off ${CATEGORIES[seed % CATEGORIES.length]}`,
    });
  }
  return promos;
}

// --- the table ----------------------------------------------------------------

/** The live table: { version, builtAt, currency rates, entries: Map sku -> PriceEntry }. */
let priceTable = null;
const rebuilds = { count: 0, lastMs: 0, building: false };

function roundPrice(cents) {
  // Charm pricing: end in 9 above 10.00.
  const c = Math.round(cents);
  return c > 1000 ? c - (c % 10) + 9 : c;
}

function priceEntry(product, promo, version, now) {
  const list = roundPrice(product.costCents / (1 - product.marginTarget));
  const promoted = promo === undefined ? list : roundPrice(list * (1 - promo.discount));
  const tiers = GROUPS.map((group, g) => ({ group, minQty: g === 0 ? 1 : product.packSize * 10 * g, cents: roundPrice(promoted * (1 - g * 0.04)) }));
  const local = {};
  for (const code of CURRENCIES) local[code] = Math.round(promoted * fx[code]);
  return {
    sku: product.sku,
    listCents: list,
    cents: promoted,
    promotion: promo === undefined ? null : { id: promo.id, label: promo.label },
    tiers,
    local,
    version,
    validFrom: new Date(1_700_000_000_000 + now * 1000).toISOString(),
  };
}

/** Rebuilds the table in slices (so requests keep being served) and swaps it in. */
async function repriceAll() {
  if (rebuilds.building) return;
  rebuilds.building = true;
  const started = performance.now();
  const now = programSeconds();
  refreshFx();
  const promos = activePromotions(now);
  const promoByCategory = new Map(promos.map((p) => [p.category, p]));
  const version = (priceTable?.version ?? 0) + 1;
  const entries = new Map();
  for (let i = 0; i < catalogue.length; i++) {
    const product = catalogue[i];
    entries.set(product.sku, priceEntry(product, promoByCategory.get(product.category), version, now));
    if (i % 2000 === 1999) await new Promise((resolve) => setImmediate(resolve));
  }
  priceTable = { version, builtAt: now, fx: { ...fx }, promotions: promos, entries };
  rebuilds.count++;
  rebuilds.lastMs = performance.now() - started;
  rebuilds.building = false;
}

// --- HTTP ---------------------------------------------------------------------

const counters = { lookups: 0, quotes: 0, misses: 0 };

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function tierFor(entry, group, qty) {
  let best = entry.tiers[0];
  for (const tier of entry.tiers) if (tier.group === group && qty >= tier.minQty) best = tier;
  return best;
}

function quoteLine(table, line, group, country) {
  const entry = table.entries.get(line.sku);
  if (entry === undefined) return { sku: line.sku, error: 'unknown sku' };
  const tier = tierFor(entry, group, line.qty);
  const net = tier.cents * line.qty;
  return { sku: line.sku, qty: line.qty, unitCents: tier.cents, netCents: net, vatCents: Math.round(net * (VAT[country] ?? 0.19)), promotion: entry.promotion?.label ?? null };
}

async function handler(req, res) {
  const url = req.url ?? '/';
  const table = priceTable;
  try {
    if (req.method === 'GET' && url.startsWith('/v1/prices/')) {
      counters.lookups++;
      const [sku, query = ''] = url.slice('/v1/prices/'.length).split('?');
      const entry = table.entries.get(sku);
      if (entry === undefined) {
        counters.misses++;
        return sendJson(res, 404, { error: 'unknown sku' });
      }
      const currency = new URLSearchParams(query).get('currency') ?? 'EUR';
      return sendJson(res, 200, { ...entry, currency, localCents: entry.local[currency] ?? entry.cents, tableVersion: table.version });
    }
    if (req.method === 'POST' && url === '/v1/quote') {
      counters.quotes++;
      const basket = JSON.parse((await readBody(req, 512 * 1024)).toString('utf8'));
      const lines = basket.lines.map((line) => quoteLine(table, line, basket.group, basket.country));
      const totalCents = lines.reduce((sum, l) => sum + (l.netCents ?? 0) + (l.vatCents ?? 0), 0);
      return sendJson(res, 200, { tableVersion: table.version, lines, totalCents });
    }
    if (req.method === 'GET' && url === '/healthz') {
      return sendJson(res, 200, { ok: true, tableVersion: table.version, builtAt: table.builtAt, rebuildMs: Math.round(rebuilds.lastMs) });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- clients --------------------------------------------------------------------

/** Popular SKUs are asked for much more often (r^3 bias). */
function pickSku() {
  const i = Math.floor(SKU_COUNT * random() ** 3);
  return catalogue[i].sku;
}

function nextLookup() {
  if (random() < 0.03) return { method: 'GET', path: '/healthz' };
  const currency = CURRENCIES[Math.floor(random() * CURRENCIES.length)];
  const sku = random() < 0.01 ? 'P0000000' : pickSku();
  return { method: 'GET', path: `/v1/prices/${sku}?currency=${currency}` };
}

function nextQuote() {
  const n = 1 + Math.floor(random() ** 2 * 30);
  const lines = Array.from({ length: n }, () => ({ sku: pickSku(), qty: 1 + Math.floor(random() * 40) }));
  const body = JSON.stringify({ group: GROUPS[Math.floor(random() * GROUPS.length)], country: Object.keys(VAT)[Math.floor(random() * 5)], lines });
  return { method: 'POST', path: '/v1/quote', headers: { 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
await repriceAll();
const repricer = setInterval(() => void repriceAll(), (REPRICE_EVERY_S * 1000) / speed);
onShutdown(() => clearInterval(repricer));
const { port } = await listen(handler);

// Product pages and the storefront: 4 price lookups/s; the checkout: 0.5 quotes/s.
const lookups = selfRequests(port, { perSecond: 4, next: nextLookup });
const quotes = selfRequests(port, { perSecond: 0.5, maxInFlight: 16, next: nextQuote });

reportStats(() => ({
  retained: priceTable.entries.size,
  tableVersion: priceTable.version,
  rebuilds: rebuilds.count,
  rebuildMs: Math.round(rebuilds.lastMs),
  lookups: counters.lookups,
  quotes: counters.quotes,
  requestsFailed: lookups.failed + quotes.failed,
}));

ready(
  `pricing-table-wholesale-swap: rebuilds a ${SKU_COUNT}-SKU price table every ${REPRICE_EVERY_S / 60} min and swaps it in; 4 lookups/s + 0.5 quotes/s read it (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
