// Reporting service behind the analytics dashboards: GET /v1/reports?<query>
// builds a sales report (one row object per day x dimension) from the
// warehouse stand-in and memoizes the whole report in the module-level Map
// `reportCache`, keyed by the normalised query, with no eviction (the set of
// saved dashboard queries is small, and the nightly reload restarts the pods).
//
// At the onset (default 90 min) a deploy ships normaliser v2, which keeps the
// `asOf` parameter in the key (v1 dropped it, along with the cache buster and
// `requestedBy`). The live dashboards send asOf rounded to their refresh
// period (30 min, 1 h or 2 h), so from then on every refresh period of every
// live dashboard is a new distinct query: a few new reports of hundreds of KB
// to a few MB each an hour, all kept.
import {
  buildBallast,
  listen,
  onsetSeconds,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x4e90e7);
const ONSET = onsetSeconds(5400);
const EPOCH_MS = Date.UTC(2024, 4, 6, 0, 0, 0); // program time 0
const DAY_MS = 86_400_000;
const PAGE_SIZE = 100;

// --- dimensions ------------------------------------------------------------------

const REGIONS = ['emea-north', 'emea-south', 'dach', 'benelux', 'nordics', 'uk-ie', 'iberia', 'italy'];
const CHANNELS = ['web', 'app', 'marketplace', 'retail'];
const CATEGORIES = ['garden', 'kitchen', 'outdoor', 'office', 'toys', 'audio', 'lighting', 'tools', 'bath', 'pets', 'sport', 'baby'];
const SKUS = Array.from({ length: 240 }, (_, i) => `SKU-${(48_000 + i * 37).toString(36).toUpperCase()}`);
const DIMENSIONS = { region: REGIONS, channel: CHANNELS, category: CATEGORIES, sku: SKUS };

// --- saved dashboard queries (what the clients send) --------------------------------

// refresh: the live dashboards' asOf rounding in seconds (null: not live).
const DASHBOARDS = [
  { name: 'exec-daily', q: 'metric=revenue&groupBy=region&days=90&currency=EUR', refresh: null },
  { name: 'exec-channels', q: 'metric=revenue&groupBy=region,channel&days=60&currency=EUR', refresh: null },
  { name: 'ops-live-orders', q: 'metric=orders&groupBy=region,channel&days=90&currency=EUR', refresh: 1800 },
  { name: 'merch-categories', q: 'metric=units&groupBy=category,channel&days=45&currency=EUR', refresh: null },
  { name: 'merch-live-categories', q: 'metric=revenue&groupBy=category,region&days=60&currency=EUR', refresh: 3600 },
  { name: 'finance-refunds', q: 'metric=refunds&groupBy=region,category&days=90&currency=EUR', refresh: null },
  { name: 'finance-live-margin', q: 'metric=margin&groupBy=sku&days=60&currency=EUR', refresh: 3600 },
  { name: 'supply-sku-velocity', q: 'metric=units&groupBy=sku&days=28&currency=EUR', refresh: null },
  { name: 'supply-live-stockouts', q: 'metric=units&groupBy=sku,channel&days=14&currency=EUR', refresh: 7200 },
  { name: 'marketing-channels', q: 'metric=orders&groupBy=channel&days=180&currency=EUR', refresh: null },
  { name: 'country-gbp', q: 'metric=revenue&groupBy=region,channel&days=90&currency=GBP', refresh: null },
  { name: 'weekly-review', q: 'metric=revenue&groupBy=category&days=120&currency=EUR', refresh: null },
];
const VIEWERS = ['anna.k', 'ben.s', 'chloe.m', 'dev.p', 'elif.o', 'farid.n', 'greta.l', 'hugo.b', 'ines.r', 'jonas.w'];

// --- normalisation --------------------------------------------------------------

const VOLATILE_V1 = new Set(['_', 'requestedBy', 'asOf', 'page']);
const VOLATILE_V2 = new Set(['_', 'requestedBy', 'page']); // v2: asOf is part of the report identity

function normaliseQuery(params) {
  const volatile = programSeconds() >= ONSET ? VOLATILE_V2 : VOLATILE_V1;
  const pairs = [];
  for (const [key, value] of params) {
    if (volatile.has(key)) continue;
    pairs.push(`${key.toLowerCase()}=${key === 'groupBy' ? value.toLowerCase().split(',').sort().join(',') : value.toLowerCase()}`);
  }
  return pairs.sort().join('&');
}

// --- report building ---------------------------------------------------------------

/** Deterministic pseudo-measure for a cell (stands in for the warehouse aggregate). */
function measure(seed, dayIndex, salt) {
  let x = (seed ^ Math.imul(dayIndex + 1, 0x9e3779b1) ^ Math.imul(salt + 7, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) >>> 0;
  return ((x ^ (x >>> 12)) >>> 0) / 4294967296;
}

function hashText(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function dayLabel(dayIndex) {
  return new Date(EPOCH_MS - dayIndex * DAY_MS).toISOString().slice(0, 10);
}

/** One report row: a day and one value per grouping dimension, plus the measures. */
function toRow(day, dims, seed, dayIndex, currency) {
  const orders = 5 + Math.floor(measure(seed, dayIndex, 1) * 400);
  const units = orders + Math.floor(measure(seed, dayIndex, 2) * orders * 1.6);
  const revenueCents = units * (900 + Math.floor(measure(seed, dayIndex, 3) * 9000));
  return {
    day,
    region: dims.region ?? null,
    channel: dims.channel ?? null,
    category: dims.category ?? null,
    sku: dims.sku ?? null,
    orders,
    units,
    revenueCents,
    refundsCents: Math.floor(revenueCents * measure(seed, dayIndex, 4) * 0.08),
    marginPct: Math.round(measure(seed, dayIndex, 5) * 4000) / 100 + 0.01,
    currency,
  };
}

/** Every combination of the grouping dimensions' values. */
function combinations(groupBy) {
  let combos = [{}];
  for (const dim of groupBy) {
    const values = DIMENSIONS[dim] ?? [];
    const next = [];
    for (const combo of combos) for (const value of values) next.push({ ...combo, [dim]: value });
    combos = next;
  }
  return combos;
}

/** Runs the report: a row per day per combination, and totals. */
function buildReport(key, params) {
  const groupBy = (params.get('groupBy') ?? 'region').split(',').filter((d) => d in DIMENSIONS);
  const days = Math.min(365, Number(params.get('days') ?? 30));
  const currency = params.get('currency') ?? 'EUR';
  const combos = combinations(groupBy);
  const rows = [];
  const totals = { orders: 0, units: 0, revenueCents: 0, refundsCents: 0 };
  const seeds = combos.map((dims) => hashText(`${key}|${Object.values(dims).join('|')}`));
  for (let d = 0; d < days; d++) {
    const day = dayLabel(d);
    for (let c = 0; c < combos.length; c++) {
      const row = toRow(day, combos[c], seeds[c], d, currency);
      totals.orders += row.orders;
      totals.units += row.units;
      totals.revenueCents += row.revenueCents;
      totals.refundsCents += row.refundsCents;
      rows.push(row);
    }
  }
  return {
    key,
    query: Object.fromEntries(params),
    generatedAt: programSeconds(),
    columns: ['day', ...groupBy, 'orders', 'units', 'revenueCents', 'refundsCents', 'marginPct'],
    rows,
    totals,
    rowCount: rows.length,
  };
}

// --- memo ---------------------------------------------------------------------------

/** normalised query -> report. No eviction: "the saved queries are a small set". */
const reportCache = new Map();
const building = new Map(); // normalised query -> Promise of the report
const stats = { requests: 0, hits: 0, misses: 0, rowsBuilt: 0 };

/** The warehouse stand-in: a few ms of real latency before the report is built. */
function queryWarehouse(key, params) {
  return new Promise((resolve) => setTimeout(() => resolve(buildReport(key, params)), 3 + random() * 12));
}

async function getReport(params) {
  const key = normaliseQuery(params);
  const cached = reportCache.get(key);
  if (cached !== undefined) {
    stats.hits++;
    return cached;
  }
  let pending = building.get(key);
  if (pending === undefined) {
    stats.misses++;
    pending = queryWarehouse(key, params).then((report) => {
      reportCache.set(key, report);
      building.delete(key);
      stats.rowsBuilt += report.rowCount;
      return report;
    });
    building.set(key, pending);
  }
  return pending;
}

// --- HTTP -----------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://reports.internal');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/reports') {
      stats.requests++;
      const report = await getReport(url.searchParams);
      const page = Math.max(0, Number(url.searchParams.get('page') ?? 0));
      return sendJson(res, 200, {
        key: report.key,
        generatedAt: report.generatedAt,
        columns: report.columns,
        totals: report.totals,
        rowCount: report.rowCount,
        page,
        rows: report.rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE),
      });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') {
      return sendJson(res, 200, { ok: true, cachedReports: reportCache.size });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- dashboards (the load) ---------------------------------------------------------------

function asOf(refresh) {
  const now = programSeconds();
  return new Date(EPOCH_MS + Math.floor(now / refresh) * refresh * 1000).toISOString();
}

function nextRequest() {
  if (random() < 0.08) return { method: 'GET', path: '/healthz' };
  const dashboard = DASHBOARDS[Math.floor(random() * DASHBOARDS.length)];
  let path = `/v1/reports?${dashboard.q}&requestedBy=${VIEWERS[Math.floor(random() * VIEWERS.length)]}&_=${Math.floor(random() * 1e9)}`;
  if (dashboard.refresh !== null) path += `&asOf=${encodeURIComponent(asOf(dashboard.refresh))}`;
  if (random() < 0.25) path += `&page=${1 + Math.floor(random() * 5)}`;
  return { method: 'GET', path };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~0.4 dashboard panel loads a second from a few dozen analysts.
const clients = selfRequests(port, { perSecond: 0.4, maxInFlight: 8, next: nextRequest });

reportStats(() => {
  let rows = 0;
  for (const report of reportCache.values()) rows += report.rowCount;
  return {
    retained: reportCache.size,
    cachedRows: rows,
    requests: stats.requests,
    hits: stats.hits,
    misses: stats.misses,
    requestsFailed: clients.failed,
  };
});

ready(
  `report-memo-normaliser-leak: dashboards' reports memoized by normalised query with no eviction; from ${ONSET} s normaliser v2 keys on asOf, a few new reports an hour (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
