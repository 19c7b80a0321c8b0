// Leaky (heap), small leak under a tall sawtooth: a sales-report generator
// that builds 10–50 MB of temporary rows for every report (dropped once the
// report is out) and keeps each report's summary in a module-level history
// that nothing trims.
//
// Every REPORT_EVERY_SECONDS (20 s at speed 1) generateReport() loads the
// period's order lines (110k–550k row objects, 10–50 MB), aggregates them by
// product and region, renders, and pushes summarizeReport()'s result onto
// `reportHistory` (for a "recent reports" dashboard that only ever shows the
// last 20). The rows are garbage right after: the raw heap saws by tens of MB
// while the floor creeps up.
//
// Speed 1: 180 reports/h × ~115 KB of summary → ~20 MB/h of JS heap from the
// start. Cap: 900 summaries (~100 MB, after 5 h at speed 1, 5 min at
// SCENARIO_SPEED=60); then history stops growing.
// stats: retained = summaries in reportHistory.
import { buildBallast, every, ready, reportStats, rng, scaledMs } from './lib/corpus.mjs';

const REPORT_EVERY_SECONDS = 20;
const MIN_ROWS = 110_000;
const MAX_ROWS = 550_000;
const TOP_PRODUCTS = 1_000;
const MAX_HISTORY = 900;
const REGIONS = ['DE', 'AT', 'CH', 'NL', 'BE', 'FR', 'IT', 'ES'];

const reportHistory = [];
const random = rng(9);
const ballastMB = buildBallast();
let reportNo = 0;
let lastRows = 0;

function loadOrderLines(count, period) {
  const rows = new Array(count);
  for (let i = 0; i < count; i++) {
    rows[i] = {
      orderId: period * 1_000_000 + i,
      region: REGIONS[i % REGIONS.length],
      productId: Math.floor(random() * 20_000),
      qty: 1 + (i % 4),
      priceCents: 199 + ((i * 7919) % 20_000),
      hour: i % 24,
    };
  }
  return rows;
}

function aggregate(rows) {
  const byProduct = new Map();
  const byRegionHour = REGIONS.map(() => new Array(24).fill(0));
  for (const row of rows) {
    const revenue = row.qty * row.priceCents;
    byProduct.set(row.productId, (byProduct.get(row.productId) ?? 0) + revenue);
    byRegionHour[REGIONS.indexOf(row.region)][row.hour] += revenue;
  }
  return { byProduct, byRegionHour };
}

function summarizeReport(period, rows, totals) {
  const ranked = [...totals.byProduct].sort((a, b) => b[1] - a[1]);
  let revenue = 0;
  for (const [, cents] of ranked) revenue += cents;
  const topProducts = [];
  for (let i = 0; i < TOP_PRODUCTS && i < ranked.length; i++) {
    const [productId, cents] = ranked[i];
    topProducts.push({ productId, sku: `SKU-${productId.toString(36).toUpperCase()}`, revenueCents: cents, share: cents / revenue, rank: i + 1 });
  }
  return {
    period,
    generatedAt: new Date().toISOString(),
    rowCount: rows.length,
    revenueCents: revenue,
    topProducts,
    byRegionHour: totals.byRegionHour.map((hours) => hours.slice()),
  };
}

function generateReport() {
  const period = ++reportNo;
  const rows = loadOrderLines(MIN_ROWS + Math.floor(random() * (MAX_ROWS - MIN_ROWS)), period);
  const totals = aggregate(rows);
  const summary = summarizeReport(period, rows, totals);
  lastRows = rows.length;
  if (reportHistory.length < MAX_HISTORY) reportHistory.push(summary);
  return JSON.stringify({ period, revenue: summary.revenueCents, top: summary.topProducts.slice(0, 20) });
}

let published = 0;
every(scaledMs(REPORT_EVERY_SECONDS), () => {
  published += generateReport().length > 0 ? 1 : 0;
});

reportStats(() => ({ retained: reportHistory.length, capped: reportHistory.length >= MAX_HISTORY, lastRows, published, ballastMB }));
ready('leak-under-sawtooth: 10–50 MB of temporaries per report, every summary kept (~20 MB/h at speed 1)');
