// Healthy, daily cycle: a reporting API whose traffic follows the working day
// (low at night, morning ramp, midday peak, evening decline; period 24 h at
// speed 1). Each request is a slow export (~30 s) that builds a per-request
// lookup cache (~550 KB) while it runs, so the live heap follows concurrency:
// ~60 exports in flight at the peak, ~2 at night. Nothing survives a request.
//
// SCENARIO_CLOCK_H (default 0): hour of the simulated day at start.
// Speed 1: peak 2 req/s × 30 s ≈ 60 in flight (~33 MB of request caches),
// night 0.1 req/s; the heap floor rises and falls with the load every day.
// stats: retained = exports in flight.
import { buildBallast, envNumber, listen, programSeconds, ready, reportStats, rng, scaledMs, selfRequests } from './lib/corpus.mjs';

const PEAK_RATE = 2;
const EXPORT_SECONDS = 30;
const CACHE_ENTRIES = 2_500;
// Share of the peak rate at each hour of the day (interpolated linearly).
const LOAD_BY_HOUR = [0.06, 0.05, 0.05, 0.05, 0.06, 0.1, 0.25, 0.5, 0.8, 0.95, 1, 1, 0.85, 0.9, 1, 1, 0.95, 0.85, 0.65, 0.45, 0.35, 0.25, 0.15, 0.09];
const clockStartHours = envNumber('SCENARIO_CLOCK_H', 0, (v) => v >= 0 && v < 24);

function hourOfDay() {
  return (clockStartHours + programSeconds() / 3600) % 24;
}

function loadShare(hour) {
  const h = Math.floor(hour);
  const next = LOAD_BY_HOUR[(h + 1) % 24];
  return LOAD_BY_HOUR[h] + (next - LOAD_BY_HOUR[h]) * (hour - h);
}

const ballastMB = buildBallast();
const exports = { inFlight: 0, done: 0, rows: 0 };

async function runExport(accountId, days) {
  // Per-request lookup cache: resolved dimension rows for this export.
  const dimensions = new Map();
  for (let i = 0; i < CACHE_ENTRIES; i++) {
    dimensions.set(`${accountId}:${i}`, { id: i, label: `campaign ${accountId}-${i}`, channel: i % 4, costCents: (i * 7919) % 100_000 });
  }
  let total = 0;
  const steps = 6;
  for (let step = 0; step < steps; step++) {
    await new Promise((resolve) => setTimeout(resolve, scaledMs(EXPORT_SECONDS / steps))); // warehouse queries
    for (let i = step; i < CACHE_ENTRIES; i += 50) total += dimensions.get(`${accountId}:${i}`).costCents * days;
  }
  exports.rows += dimensions.size;
  return total;
}

const { port } = await listen(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/v1/exports') return res.writeHead(404).end();
  exports.inFlight++;
  try {
    const total = await runExport(Number(url.searchParams.get('account')), Number(url.searchParams.get('days')));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ totalCents: total }));
  } finally {
    exports.inFlight--;
    exports.done++;
  }
});

const random = rng(14);
selfRequests(port, {
  perSecond: () => PEAK_RATE * loadShare(hourOfDay()),
  maxInFlight: 200,
  next: () => ({ method: 'GET', path: `/v1/exports?account=${Math.floor(random() * 5_000)}&days=${1 + Math.floor(random() * 30)}` }),
});

reportStats(() => ({ retained: exports.inFlight, hour: Math.round(hourOfDay() * 100) / 100, done: exports.done, ballastMB }));
ready(`diurnal-load: a 24 h traffic cycle (speed 1), clock starts at ${clockStartHours}:00`);
