// Pricing service: GET /v1/price?region=&sku=&qty=&tier= and POST /v1/quote
// price catalogue items with the sales region's rule table (discounts,
// markups, price floors, bundle rules by category and SKU prefix, customer
// tier and quantity band). A region's rule table is loaded lazily, the first
// time the region is asked for: loadRegionRules() fetches the rows from the
// rules database (an in-process stand-in returning JSON text), parses them and
// builds class RegionRuleTable (rules array plus a category index), kept in
// the module-level Map `regionTables` for the life of the process (rules are
// published with a deploy, not edited live).
//
// Sales regions come online one by one on the rollout calendar over the first
// ~3.3 hours (no traffic for a region before its go-live), so memory goes up
// one step per region as its table is loaded, and then nothing new is
// loaded. Healthy.
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

const random = rng(0x9e610);

// --- regions and their go-live times (production minutes after start) ---------------

const REGIONS = [
  { code: 'de-south', currency: 'EUR', goLiveMin: 0, rules: 5200, weight: 5 },
  { code: 'de-north', currency: 'EUR', goLiveMin: 12, rules: 4800, weight: 4 },
  { code: 'at', currency: 'EUR', goLiveMin: 25, rules: 2600, weight: 2 },
  { code: 'ch', currency: 'CHF', goLiveMin: 40, rules: 3100, weight: 2 },
  { code: 'fr', currency: 'EUR', goLiveMin: 55, rules: 5600, weight: 5 },
  { code: 'benelux', currency: 'EUR', goLiveMin: 75, rules: 3900, weight: 3 },
  { code: 'uk', currency: 'GBP', goLiveMin: 90, rules: 6100, weight: 5 },
  { code: 'ie', currency: 'EUR', goLiveMin: 110, rules: 1800, weight: 1 },
  { code: 'nordics', currency: 'SEK', goLiveMin: 130, rules: 4300, weight: 3 },
  { code: 'pl', currency: 'PLN', goLiveMin: 150, rules: 3300, weight: 2 },
  { code: 'cz-sk', currency: 'CZK', goLiveMin: 165, rules: 2400, weight: 1 },
  { code: 'it', currency: 'EUR', goLiveMin: 185, rules: 5000, weight: 4 },
  { code: 'iberia', currency: 'EUR', goLiveMin: 200, rules: 4600, weight: 3 },
];
const REGION_BY_CODE = new Map(REGIONS.map((r) => [r.code, r]));

// --- the catalogue (static) -----------------------------------------------------------

const CATEGORIES = ['fasteners', 'power-tools', 'hand-tools', 'adhesives', 'safety', 'electrical', 'plumbing', 'paint', 'garden', 'storage', 'lighting', 'abrasives'];
const TIERS = ['retail', 'trade', 'trade-plus', 'key-account'];
const catalogue = new Map();
const skus = [];
for (let i = 0; i < 6000; i++) {
  const category = CATEGORIES[i % CATEGORIES.length];
  const sku = `${category.slice(0, 3).toUpperCase()}-${(10_000 + i * 13).toString(36).toUpperCase()}`;
  catalogue.set(sku, { sku, category, listCents: 199 + ((i * 7_919) % 40_000), packSize: 1 + (i % 5) * 5 });
  skus.push(sku);
}

// --- the rules database (stand-in) -------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rows of one region's published rule set, as the database returns them (JSON text). */
async function queryRuleRows(region) {
  await sleep(30 + random() * 70); // wall ms
  const rows = [];
  for (let i = 0; i < region.rules; i++) {
    const category = CATEGORIES[Math.floor(random() ** 1.3 * CATEGORIES.length)];
    const kind = ['discount', 'discount', 'markup', 'floor', 'bundle'][Math.floor(random() * 5)];
    const minQty = [1, 1, 5, 10, 25, 50, 100][Math.floor(random() * 7)];
    rows.push({
      rule_id: `${region.code}-${(i + 1).toString().padStart(5, '0')}`,
      priority: Math.floor(random() * 100),
      kind,
      category,
      sku_prefix: random() < 0.4 ? `${category.slice(0, 3).toUpperCase()}-${Math.floor(random() * 36).toString(36).toUpperCase()}` : null,
      min_qty: minQty,
      max_qty: random() < 0.3 ? minQty * 10 : null,
      customer_tier: random() < 0.5 ? TIERS[Math.floor(random() * TIERS.length)] : null,
      adjustment_bps: kind === 'markup' ? Math.floor(random() * 800) : -Math.floor(random() * 2_500),
      fixed_cents: kind === 'floor' ? 99 + Math.floor(random() * 5_000) : null,
      valid_from: '2024-01-01T00:00:00Z',
      valid_to: random() < 0.2 ? '2024-12-31T23:59:59Z' : null,
      stackable: random() < 0.35,
      note: `${kind} ${category} ${minQty}+ ${region.code} campaign ${Math.floor(random() * 400)}`,
    });
  }
  return JSON.stringify(rows);
}

// --- rule tables ----------------------------------------------------------------------

class RegionRuleTable {
  constructor(region, rules) {
    this.region = region.code;
    this.currency = region.currency;
    this.rules = rules;
    this.byCategory = new Map();
    for (const rule of rules) {
      let list = this.byCategory.get(rule.category);
      if (list === undefined) this.byCategory.set(rule.category, (list = []));
      list.push(rule);
    }
    for (const list of this.byCategory.values()) list.sort((a, b) => b.priority - a.priority);
    this.loadedAt = Math.round(programSeconds());
  }

  matching(item, qty, tier) {
    const out = [];
    for (const rule of this.byCategory.get(item.category) ?? []) {
      if (qty < rule.minQty || (rule.maxQty !== null && qty > rule.maxQty)) continue;
      if (rule.customerTier !== null && rule.customerTier !== tier) continue;
      if (rule.skuPrefix !== null && !item.sku.startsWith(rule.skuPrefix)) continue;
      out.push(rule);
      if (!rule.stackable) break;
    }
    return out;
  }
}

function toRule(row) {
  return {
    id: row.rule_id,
    priority: row.priority,
    kind: row.kind,
    category: row.category,
    skuPrefix: row.sku_prefix,
    minQty: row.min_qty,
    maxQty: row.max_qty,
    customerTier: row.customer_tier,
    adjustmentBps: row.adjustment_bps,
    fixedCents: row.fixed_cents,
    validFrom: Date.parse(row.valid_from),
    validTo: row.valid_to === null ? null : Date.parse(row.valid_to),
    stackable: row.stackable,
    note: row.note,
  };
}

/** region code -> RegionRuleTable, loaded on first use, kept for the process lifetime. */
const regionTables = new Map();
const loading = new Map();
const loads = [];

async function loadRegionRules(region) {
  const rows = JSON.parse(await queryRuleRows(region));
  const table = new RegionRuleTable(region, rows.map(toRule));
  regionTables.set(region.code, table);
  loads.push({ region: region.code, rules: table.rules.length, at: table.loadedAt });
  return table;
}

function tableFor(region) {
  const table = regionTables.get(region.code);
  if (table !== undefined) return table;
  let pending = loading.get(region.code);
  if (pending === undefined) {
    pending = loadRegionRules(region).finally(() => loading.delete(region.code));
    loading.set(region.code, pending);
  }
  return pending;
}

function priceLine(table, item, qty, tier) {
  let unitCents = item.listCents;
  const applied = [];
  for (const rule of table.matching(item, qty, tier)) {
    if (rule.kind === 'floor') unitCents = Math.max(unitCents, rule.fixedCents);
    else unitCents = Math.round(unitCents * (1 + rule.adjustmentBps / 10_000));
    applied.push(rule.id);
  }
  return { sku: item.sku, qty, unitCents, totalCents: unitCents * qty, currency: table.currency, applied };
}

// --- HTTP -----------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const counters = { prices: 0, quotes: 0, unknown: 0 };

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://pricing.local');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/price') {
      const region = REGION_BY_CODE.get(url.searchParams.get('region'));
      const item = catalogue.get(url.searchParams.get('sku'));
      if (region === undefined || item === undefined) {
        counters.unknown++;
        return sendJson(res, 404, { error: 'unknown region or sku' });
      }
      const table = await tableFor(region);
      counters.prices++;
      return sendJson(res, 200, priceLine(table, item, Number(url.searchParams.get('qty') ?? 1), url.searchParams.get('tier') ?? 'retail'));
    }
    if (req.method === 'POST' && url.pathname === '/v1/quote') {
      const body = JSON.parse((await readBody(req, 512 * 1024)).toString('utf8'));
      const region = REGION_BY_CODE.get(body.region);
      if (region === undefined) return sendJson(res, 404, { error: 'unknown region' });
      const table = await tableFor(region);
      counters.quotes++;
      const lines = body.lines.filter((l) => catalogue.has(l.sku)).map((l) => priceLine(table, catalogue.get(l.sku), l.qty, body.tier));
      return sendJson(res, 200, { region: region.code, currency: table.currency, lines, totalCents: lines.reduce((s, l) => s + l.totalCents, 0) });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, regionsLoaded: regionTables.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error?.message ?? error) });
  }
}

// --- shops and sales reps (the load) ----------------------------------------------------

function liveRegions() {
  const minutes = programSeconds() / 60;
  return REGIONS.filter((r) => r.goLiveMin <= minutes);
}

function pickRegion() {
  const live = liveRegions();
  let r = random() * live.reduce((s, x) => s + x.weight, 0);
  for (const region of live) if ((r -= region.weight) <= 0) return region;
  return live[live.length - 1];
}

function pickSku() {
  return skus[Math.floor(skus.length * random() ** 1.8)];
}

function nextRequest() {
  const roll = random();
  if (roll < 0.02) return { method: 'GET', path: '/healthz' };
  const region = pickRegion();
  const tier = TIERS[Math.floor(random() ** 1.5 * TIERS.length)];
  if (roll < 0.85) {
    const qty = [1, 1, 2, 5, 10, 25, 100][Math.floor(random() * 7)];
    return { method: 'GET', path: `/v1/price?region=${region.code}&sku=${encodeURIComponent(pickSku())}&qty=${qty}&tier=${tier}` };
  }
  const lines = Array.from({ length: 1 + Math.floor(random() * 20) }, () => ({ sku: pickSku(), qty: 1 + Math.floor(random() * 50) }));
  return { method: 'POST', path: '/v1/quote', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ region: region.code, tier, lines }) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const clients = selfRequests(port, { perSecond: 3, next: nextRequest });

reportStats(() => {
  let rules = 0;
  for (const table of regionTables.values()) rules += table.rules.length;
  return {
    retained: rules,
    regionsLoaded: regionTables.size,
    lastLoadAt: loads.length === 0 ? null : loads[loads.length - 1].at,
    prices: counters.prices,
    quotes: counters.quotes,
    requestsFailed: clients.failed,
  };
});

ready(
  `pricing-region-rules-lazy-load: 3 price/quote req/s; each of ${REGIONS.length} sales regions' rule tables is loaded on its first request as regions go live over ~3.3 h, then nothing new (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
