// Healthy, tall sawtooth: a pricing engine that recomputes every price list
// from scratch every 20 s (speed 1): it loads 20–60 MB of temporary rows,
// sorts and aggregates them, publishes a small digest and drops everything.
// Nothing is retained between runs; the raw heap (and RSS) saw up and down by
// tens of MB while the floor stays flat.
//
// Speed 1: one recompute every 20 s (3 per second at SCENARIO_SPEED=60), each
// allocating 20–60 MB that is garbage a moment later.
// stats: retained = price lists published (a counter; nothing is kept).
'use strict';

const RECOMPUTE_EVERY_SECONDS = 20;
const MIN_ROWS = 200_000;
const MAX_ROWS = 600_000;

const digest = { runs: 0, lastRows: 0, lastChecksum: 0 };

function loadCostRows(count, random) {
  const rows = [];
  for (let i = 0; i < count; i++) {
    rows.push({ sku: i, supplier: i % 300, costCents: 100 + Math.floor(random() * 40_000), freightCents: (i * 13) % 900, margin: 0.18 + (i % 7) / 100 });
  }
  return rows;
}

function priceRows(rows) {
  const prices = rows.map((row) => Math.round((row.costCents + row.freightCents) * (1 + row.margin)));
  const bySupplier = new Map();
  for (const row of rows) bySupplier.set(row.supplier, (bySupplier.get(row.supplier) ?? 0) + row.costCents);
  const sorted = prices.slice().sort((a, b) => a - b);
  return { median: sorted[sorted.length >> 1], suppliers: bySupplier.size, prices };
}

function recompute(random) {
  const rows = loadCostRows(MIN_ROWS + Math.floor(random() * (MAX_ROWS - MIN_ROWS)), random);
  const result = priceRows(rows);
  let checksum = 0;
  for (let i = 0; i < result.prices.length; i += 97) checksum = (checksum * 31 + result.prices[i]) | 0;
  digest.runs++;
  digest.lastRows = rows.length;
  digest.lastChecksum = checksum;
  return JSON.stringify({ run: digest.runs, median: result.median, suppliers: result.suppliers, checksum });
}

async function main() {
  const lib = await import('./lib/corpus.mjs');
  const ballastMB = lib.buildBallast();
  const random = lib.rng(15);
  let published = 0;
  lib.every(lib.scaledMs(RECOMPUTE_EVERY_SECONDS), () => {
    published += recompute(random).length > 0 ? 1 : 0;
  });
  lib.reportStats(() => ({ retained: published, lastRows: digest.lastRows, ballastMB }));
  lib.ready('sawtooth-temporaries: 20–60 MB of temporaries every 20 s (speed 1), nothing retained');
}

main();
