// Latency collector for the storefront fleet: every app instance POSTs a
// batch of request timings (route label, duration, status, time) to
// /v1/observations every few seconds; Prometheus scrapes /metrics for
// per-route p50/p90/p99. Timings go into a MetricsRegistry
// (./metrics-registry.mjs; the instance `registry` lives here): one
// RouteMetrics object per route label (~40 labels) in `registry.routes`, each
// with a `samples` array of raw { at, ms, status } samples.
//
// The quantiles only use the last 1 024 samples of a route, but nothing ever
// trims `samples`: every raw sample ever received stays.
// Speed 1: 2 batches/s × 25 samples, ~90 B per kept sample → ~16 MB/h of JS
// heap from the start.
// Cap: the registry stops keeping raw samples after 1 500 000 (~135 MB,
// ~8 h at speed 1, ~8 min at SCENARIO_SPEED=60).
// stats: retained = registry.totalSamples.
import { MetricsRegistry } from './metrics-registry.mjs';
import { buildBallast, listen, readBody, ready, reportStats, rng, selfRequests } from '../corpus/lib/corpus.mjs';

const BATCHES_PER_SECOND = 2;
const SAMPLES_PER_BATCH = 25;
const SCRAPE_SECONDS = 15;

const registry = new MetricsRegistry({ window: 1024, maxSamples: 1_500_000 });

function ingest(batch) {
  let accepted = 0;
  for (const o of batch.observations) {
    if (typeof o.route !== 'string' || typeof o.ms !== 'number') continue;
    registry.record(o.route, o.ms, o.status | 0, o.at);
    accepted++;
  }
  return accepted;
}

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  if (req.method === 'POST' && req.url === '/v1/observations') {
    let batch;
    try {
      batch = JSON.parse(await readBody(req));
    } catch {
      return res.writeHead(400).end();
    }
    const accepted = ingest(batch);
    return res.writeHead(202, { 'content-type': 'application/json' }).end(`{"accepted":${accepted}}`);
  }
  if (req.method === 'GET' && req.url === '/metrics') {
    return res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(registry.exposition());
  }
  res.writeHead(404).end();
});

// --- the fleet: 40 route labels, instances reporting batches ----------------------
const RESOURCES = ['orders', 'carts', 'products', 'customers', 'invoices', 'shipments', 'returns', 'reviews', 'wishlists', 'coupons'];
const ROUTES = [];
for (const r of RESOURCES) ROUTES.push(`GET /v1/${r}`, `GET /v1/${r}/:id`, `POST /v1/${r}`, `PATCH /v1/${r}/:id`);
const BASE_MS = ROUTES.map((_, i) => 8 + ((i * 37) % 120));

const random = rng(101);
let batchSeq = 0;
function latencyFor(i) {
  const u = random();
  const tail = u > 0.98 ? 10 + random() * 20 : 1; // slow requests
  return Math.round(BASE_MS[i] * (0.5 + random()) * tail * 1000) / 1000;
}
function nextBatch() {
  batchSeq++;
  const now = Date.now();
  const observations = [];
  for (let k = 0; k < SAMPLES_PER_BATCH; k++) {
    const i = Math.floor(random() * random() * ROUTES.length); // some routes are much busier
    observations.push({ route: ROUTES[i], ms: latencyFor(i), status: random() < 0.01 ? 503 : 200, at: now - Math.floor(random() * 5000) });
  }
  return {
    method: 'POST',
    path: '/v1/observations',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'storefront', instance: `storefront-${batchSeq % 12}`, observations }),
  };
}
selfRequests(port, { perSecond: BATCHES_PER_SECOND, next: nextBatch, maxInFlight: 8 });

// Prometheus scrape.
let scrapes = 0;
selfRequests(port, { perSecond: 1 / SCRAPE_SECONDS, next: () => (scrapes++, { method: 'GET', path: '/metrics' }), maxInFlight: 1 });

reportStats(() => ({ retained: registry.totalSamples, routes: registry.routes.size, dropped: registry.dropped, capped: registry.totalSamples >= registry.maxSamples, scrapes, ballastMB }));
ready(`latency-collector: ${BATCHES_PER_SECOND} batches/s × ${SAMPLES_PER_BATCH} samples (speed 1), raw samples kept per route`);
