// Sales-report worker (leaky, heap, from the start).
//
// Every 3 minutes (speed 1) the worker builds the rolling sales report: it
// pages ~150 000-260 000 order lines out of the warehouse (another process:
// `fetchOrderPage` synthesizes a page of 5 000 rows per turn of the loop),
// keeps them all in memory (tens of MB), aggregates by region, day, customer
// and SKU, publishes the result and drops the rows. The summary of each run
// (`summarizeRun`: totals, per-region and per-day figures, top 250
// customers, top 400 SKUs, warnings; ~140 KB) is pushed onto the
// module-level `runHistory` for the dashboard's "previous runs" view and is
// never trimmed: ~20 summaries an hour, ~2.7 MB/h, under a tall sawtooth.
// Cap: the history stops at 1 000 runs (~50 h at speed 1).
// A small HTTP API serves the dashboard (GET /v1/reports/latest, polled
// every 15 s, and /v1/reports/history?limit=).
//
// Stats: retained = summaries in runHistory; runs, rows of the last run,
// run in progress, last run ms.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const RUN_EVERY_SECONDS = 180; // speed 1
const PAGE_ROWS = 5000;
const MAX_HISTORY = 1000;
const TOP_CUSTOMERS = 250;
const TOP_SKUS = 400;
const DASHBOARD_POLLS_PER_SECOND = 1 / 15;

const REGIONS = ['DE', 'FR', 'GB', 'NL', 'ES', 'IT', 'PL', 'SE', 'US-East', 'US-West', 'BR', 'JP'];
const CHANNELS = ['web', 'app', 'marketplace', 'b2b', 'store'];
const CUSTOMERS = 20_000;
const SKUS = 8_000;

const random = rng(99);

// --- the warehouse (another process) ---------------------------------------

async function fetchOrderPage(runSeed, page, rows) {
  await new Promise((resolve) => setImmediate(resolve));
  const r = rng(runSeed * 1000 + page);
  const out = new Array(rows);
  for (let i = 0; i < rows; i++) {
    const customer = Math.floor(r() * r() * CUSTOMERS);
    const sku = Math.floor(r() * r() * SKUS);
    out[i] = {
      orderId: `o-${runSeed}-${page}-${i}`,
      customerId: `c${customer}`,
      region: REGIONS[customer % REGIONS.length],
      channel: CHANNELS[Math.floor(r() * CHANNELS.length)],
      sku: `SKU-${sku.toString(36).toUpperCase()}`,
      quantity: 1 + Math.floor(r() * 4),
      unitPriceCents: 199 + ((sku * 7919) % 25_000),
      discountCents: r() < 0.2 ? Math.floor(r() * 500) : 0,
      placedAt: 1_760_000_000_000 - Math.floor(r() * 28 * 86_400_000),
      status: r() < 0.03 ? 'refunded' : 'paid',
    };
  }
  return out;
}

// --- the report ---------------------------------------------------------------

let runs = 0;
let running = false;
let lastRunRows = 0;
let lastRunMs = 0;
const runHistory = [];
let latest = null;

function addTo(map, key, cents, quantity) {
  let entry = map.get(key);
  if (entry === undefined) {
    entry = { key, revenueCents: 0, orders: 0, units: 0 };
    map.set(key, entry);
  }
  entry.revenueCents += cents;
  entry.orders++;
  entry.units += quantity;
}

function aggregate(rows) {
  const byRegion = new Map();
  const byDay = new Map();
  const byCustomer = new Map();
  const bySku = new Map();
  const byChannel = new Map();
  let revenueCents = 0;
  let refunds = 0;
  for (const row of rows) {
    if (row.status === 'refunded') {
      refunds++;
      continue;
    }
    const cents = row.quantity * row.unitPriceCents - row.discountCents;
    revenueCents += cents;
    addTo(byRegion, row.region, cents, row.quantity);
    addTo(byDay, new Date(row.placedAt).toISOString().slice(0, 10), cents, row.quantity);
    addTo(byCustomer, row.customerId, cents, row.quantity);
    addTo(bySku, row.sku, cents, row.quantity);
    addTo(byChannel, row.channel, cents, row.quantity);
  }
  return { revenueCents, refunds, byRegion, byDay, byCustomer, bySku, byChannel };
}

function top(map, n) {
  return [...map.values()].sort((a, b) => b.revenueCents - a.revenueCents).slice(0, n);
}

function summarizeRun(runId, startedAt, rows, totals) {
  const share = (cents) => Math.round((cents / totals.revenueCents) * 1e6) / 1e4;
  const warnings = [];
  for (const region of totals.byRegion.values()) {
    if (region.orders < rows.length / 40) warnings.push(`region ${region.key}: only ${region.orders} orders in run ${runId}, check the ${region.key} feed`);
  }
  return {
    runId,
    startedAt: new Date(1_760_000_000_000 + startedAt * 1000).toISOString(),
    rows: rows.length,
    revenueCents: totals.revenueCents,
    refunds: totals.refunds,
    regions: [...totals.byRegion.values()].map((r) => ({ region: r.key, revenueCents: r.revenueCents, orders: r.orders, share: share(r.revenueCents) })),
    channels: [...totals.byChannel.values()].map((c) => ({ channel: c.key, revenueCents: c.revenueCents, orders: c.orders })),
    days: [...totals.byDay.values()].sort((a, b) => (a.key < b.key ? -1 : 1)).map((d) => ({ day: d.key, revenueCents: d.revenueCents, orders: d.orders, units: d.units })),
    topCustomers: top(totals.byCustomer, TOP_CUSTOMERS).map((c, rank) => ({ rank: rank + 1, customerId: c.key, label: `Customer ${c.key} (${c.orders} orders)`, revenueCents: c.revenueCents, orders: c.orders, share: share(c.revenueCents) })),
    topSkus: top(totals.bySku, TOP_SKUS).map((s, rank) => ({ rank: rank + 1, sku: s.key, title: `${s.key} - ${s.units} units`, revenueCents: s.revenueCents, units: s.units, share: share(s.revenueCents) })),
    warnings,
  };
}

async function runReport() {
  if (running) return; // the previous run is still going: skip this slot
  running = true;
  const started = performance.now();
  const startedAt = programSeconds();
  const runId = ++runs;
  try {
    const target = 150_000 + Math.floor(random() * 110_000);
    const rows = [];
    for (let page = 0; rows.length < target; page++) {
      const batch = await fetchOrderPage(runId, page, Math.min(PAGE_ROWS, target - rows.length));
      for (const row of batch) rows.push(row);
    }
    const totals = aggregate(rows);
    const summary = summarizeRun(runId, startedAt, rows, totals);
    latest = summary;
    if (runHistory.length < MAX_HISTORY) runHistory.push(summary);
    lastRunRows = rows.length;
  } finally {
    running = false;
    lastRunMs = Math.round(performance.now() - started);
  }
}

// --- HTTP ---------------------------------------------------------------------

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function handler(req, res) {
  const url = new URL(req.url, 'http://worker');
  if (url.pathname === '/v1/reports/latest') {
    if (latest === null) sendJson(res, 404, { error: 'no report yet' });
    else sendJson(res, 200, { runId: latest.runId, startedAt: latest.startedAt, revenueCents: latest.revenueCents, regions: latest.regions, topCustomers: latest.topCustomers.slice(0, 10) });
    return;
  }
  if (url.pathname === '/v1/reports/history') {
    const limit = Math.min(100, Number(url.searchParams.get('limit') ?? 20));
    sendJson(res, 200, runHistory.slice(-limit).map((run) => ({ runId: run.runId, startedAt: run.startedAt, rows: run.rows, revenueCents: run.revenueCents, warnings: run.warnings.length })));
    return;
  }
  if (url.pathname === '/healthz') {
    sendJson(res, 200, { ok: true, running });
    return;
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- start -----------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);
every(scaledMs(RUN_EVERY_SECONDS), () => {
  runReport().catch((error) => process.stderr.write(`report run failed: ${error.stack}\n`));
});
const dashboard = selfRequests(port, {
  perSecond: DASHBOARD_POLLS_PER_SECOND,
  maxInFlight: 2,
  next: () => (random() < 0.8 ? { path: '/v1/reports/latest' } : { path: '/v1/reports/history?limit=24' }),
});

ready(`report-history-leak: sales-report worker, a 150k-260k-row report (tens of MB) every ${RUN_EVERY_SECONDS} s at speed 1, every run's summary kept in runHistory; leaky from start`);

reportStats(() => ({
  retained: runHistory.length,
  runs,
  running,
  lastRunRows,
  lastRunMs,
  dashboardPolls: dashboard.completed,
  ballastMb,
}));
