// quote-api-heavy-window: HEALTHY (requests get heavier for 90 min, same rate).
//
// Pricing/quote API of a B2B web shop on 127.0.0.1 with an in-process
// keep-alive client: POST /v1/quotes with a cart at a constant 2 req/s at
// speed 1 (plus GET /v1/quotes/recent now and then). priceCart() prices every
// line against the module-level `catalog` (Map of 8 000 products with tier
// prices) and `promotions` (40 rules), checks stock through a simulated
// inventory service (one call per 50 lines, 8-25 ms each, real latency, not
// scaled) and answers with the full per-line breakdown. Normally carts have
// 2-12 lines (~0.3 KB bodies, ~1.7 KB responses). From 2 h to 3 h 30 min
// (HEAVY_FROM_S .. HEAVY_UNTIL_S) a large customer's procurement system
// sends its quarterly re-quotes through the same integration at the same
// rate: 150-450 lines per cart (~24 KB bodies, ~70 KB responses on
// average, ~300 lines), so each request parses,
// computes and holds far more while it is in flight (body, parsed cart,
// priced lines, response string across the inventory awaits). Nothing is
// kept beyond the response except `recentQuotes` (last 100 small summaries)
// and counters: the after-GC floor returns to its baseline when the window
// ends. Healthy.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const HEAVY_FROM_S = 7200;
const HEAVY_UNTIL_S = 12600;
const INVENTORY_BATCH = 50;
const RECENT_QUOTES = 100;

// --- catalog and promotions (constant) -----------------------------------------

const CATEGORIES = ['fasteners', 'adhesives', 'abrasives', 'safety', 'electrical', 'plumbing', 'hand-tools', 'power-tools', 'packaging', 'cleaning'];
const catalog = new Map();
{
  const r = rng(0xca7a);
  for (let i = 0; i < 8000; i++) {
    const sku = `B2B-${CATEGORIES[i % CATEGORIES.length].slice(0, 3).toUpperCase()}-${(10000 + i).toString()}`;
    const list = 50 + Math.floor(r() * 50000);
    catalog.set(sku, {
      sku,
      title: `${CATEGORIES[i % CATEGORIES.length]} item ${i}, pack of ${[1, 5, 10, 50, 100][i % 5]}`,
      category: CATEGORIES[i % CATEGORIES.length],
      listCents: list,
      tiers: [
        { minQty: 10, cents: Math.round(list * 0.95) },
        { minQty: 50, cents: Math.round(list * 0.9) },
        { minQty: 250, cents: Math.round(list * 0.82) },
      ],
      taxRate: i % 11 === 0 ? 0.07 : 0.19,
      packSize: [1, 5, 10, 50, 100][i % 5],
    });
  }
}
const SKUS = [...catalog.keys()];

const promotions = [];
for (let i = 0; i < 40; i++) {
  promotions.push({
    code: `PROMO-${i}`,
    category: CATEGORIES[i % CATEGORIES.length],
    minQty: [1, 5, 20, 100][i % 4],
    percentOff: 2 + (i % 6),
    customerGroup: ['all', 'gold', 'platinum', 'public-sector'][i % 4],
  });
}

// --- pricing --------------------------------------------------------------------

function unitPrice(product, qty) {
  let cents = product.listCents;
  for (const tier of product.tiers) if (qty >= tier.minQty) cents = tier.cents;
  return cents;
}

function bestPromotion(product, qty, group) {
  let best = null;
  for (const promo of promotions) {
    if (promo.category !== product.category || qty < promo.minQty) continue;
    if (promo.customerGroup !== 'all' && promo.customerGroup !== group) continue;
    if (best === null || promo.percentOff > best.percentOff) best = promo;
  }
  return best;
}

function priceLine(line, group) {
  const product = catalog.get(line.sku);
  if (product === undefined) return { sku: line.sku, error: 'unknown sku' };
  const qty = Math.max(1, Math.ceil(line.qty / product.packSize) * product.packSize);
  const unit = unitPrice(product, qty);
  const promo = bestPromotion(product, qty, group);
  const net = Math.round(unit * qty * (promo === null ? 1 : 1 - promo.percentOff / 100));
  return {
    sku: product.sku,
    title: product.title,
    requestedQty: line.qty,
    qty,
    unitCents: unit,
    promotion: promo === null ? null : promo.code,
    netCents: net,
    taxCents: Math.round(net * product.taxRate),
    costCenter: line.costCenter ?? null,
    note: line.note ?? null,
    available: null,
  };
}

// The inventory service: one call per batch of SKUs, a few ms of real latency.
function checkInventory(skus) {
  return new Promise((resolve) => {
    setTimeout(() => {
      const result = new Map();
      for (const sku of skus) result.set(sku, (sku.length * 7919 + sku.charCodeAt(sku.length - 1)) % 400);
      resolve(result);
    }, 8 + Math.random() * 17);
  });
}

async function priceCart(cart) {
  const lines = cart.lines.map((line) => priceLine(line, cart.customerGroup));
  for (let i = 0; i < lines.length; i += INVENTORY_BATCH) {
    const batch = lines.slice(i, i + INVENTORY_BATCH);
    const stock = await checkInventory(batch.map((l) => l.sku));
    for (const l of batch) l.available = stock.get(l.sku) ?? 0;
  }
  let net = 0;
  let tax = 0;
  for (const l of lines) {
    net += l.netCents ?? 0;
    tax += l.taxCents ?? 0;
  }
  return { lines, net, tax, backordered: lines.filter((l) => l.available !== null && l.available < l.qty).length };
}

// --- HTTP ------------------------------------------------------------------------

const recentQuotes = [];
let quotes = 0;
let linesPriced = 0;
let bytesIn = 0;
let bytesOut = 0;
let inFlight = 0;
let peakInFlight = 0;

async function handle(req, res) {
  if (req.method === 'GET' && req.url === '/v1/quotes/recent') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(recentQuotes.slice(-20)));
    return;
  }
  if (req.method !== 'POST' || req.url !== '/v1/quotes') {
    res.writeHead(404).end();
    return;
  }
  inFlight++;
  if (inFlight > peakInFlight) peakInFlight = inFlight;
  try {
    const raw = await readBody(req, 4 * 1024 * 1024);
    bytesIn += raw.length;
    const cart = JSON.parse(raw.toString('utf8'));
    const priced = await priceCart(cart);
    const quoteId = `Q-${(++quotes).toString(36).toUpperCase()}`;
    const body = JSON.stringify({
      quoteId,
      customer: cart.customer,
      currency: 'EUR',
      validUntil: new Date(Date.now() + 15 * 60_000).toISOString(),
      netCents: priced.net,
      taxCents: priced.tax,
      totalCents: priced.net + priced.tax,
      backordered: priced.backordered,
      lines: priced.lines,
    });
    bytesOut += body.length;
    linesPriced += priced.lines.length;
    recentQuotes.push({ quoteId, customer: cart.customer, lines: priced.lines.length, totalCents: priced.net + priced.tax, at: Date.now() });
    if (recentQuotes.length > RECENT_QUOTES) recentQuotes.shift();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  } catch (error) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: String(error.message) }));
  } finally {
    inFlight--;
  }
}

const ballastMB = buildBallast();
const { port } = await listen(handle);

// --- in-process traffic ------------------------------------------------------------

const random = rng(0x9a07e);
const CUSTOMERS = ['c-1001 Müller Bau GmbH', 'c-1002 Jansen Installatie BV', 'c-1003 Atelier Dubois', 'c-1004 Rossi Impianti', 'c-1005 Novak Stavby', 'c-1006 Berg Elektro AS'];
const GROUPS = ['all', 'gold', 'platinum', 'public-sector'];
const NOTES = ['deliver to gate 3', 'for project Nordbahnhof', 'replace damaged stock', 'urgent', 'split delivery ok', ''];

function heavyWindow() {
  const now = programSeconds();
  return now >= HEAVY_FROM_S && now < HEAVY_UNTIL_S;
}

function cartBody() {
  const heavy = heavyWindow();
  const n = heavy ? 150 + Math.floor(random() * 300) : 2 + Math.floor(random() * 11);
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push({
      sku: SKUS[Math.floor(random() * SKUS.length)],
      qty: 1 + Math.floor(random() * (heavy ? 400 : 30)),
      costCenter: heavy ? `CC-${4000 + Math.floor(random() * 60)}` : undefined,
      note: heavy ? NOTES[Math.floor(random() * NOTES.length)] : undefined,
    });
  }
  return JSON.stringify({
    customer: heavy ? 'c-2040 Stadtwerke Nord (procurement)' : CUSTOMERS[Math.floor(random() * CUSTOMERS.length)],
    customerGroup: heavy ? 'public-sector' : GROUPS[Math.floor(random() * GROUPS.length)],
    reference: `PO-${Math.floor(random() * 1e6)}`,
    lines,
  });
}

selfRequests(port, {
  perSecond: 2,
  maxInFlight: 32,
  next: () => ({ method: 'POST', path: '/v1/quotes', headers: { 'content-type': 'application/json' }, body: cartBody() }),
});
selfRequests(port, { perSecond: 0.05, maxInFlight: 2, next: () => ({ method: 'GET', path: '/v1/quotes/recent' }) });

let windowPeak = 0;
every(scaledMs(60), () => {
  windowPeak = peakInFlight;
  peakInFlight = inFlight;
});

reportStats(() => ({
  retained: recentQuotes.length,
  heavy: heavyWindow(),
  quotes,
  linesPriced,
  bytesIn,
  bytesOut,
  inFlight,
  peakInFlight: windowPeak,
}));

ready(`quote API on 127.0.0.1:${port}: 2 carts/s, carts 150-450 lines from ${HEAVY_FROM_S} to ${HEAVY_UNTIL_S} s${ballastMB ? ` (ballast ${ballastMB} MB)` : ''}`);
