// Metrics agent: the application pods of a checkout platform push their
// counter and timing samples (statsd-style, in batches) to this agent over
// HTTP (POST /v1/samples). The agent aggregates them per metric name and label
// set in the module-level Map `aggregates` (count, sum, min, max, last) and
// every 10 s serialises the interval's series into one Prometheus remote-write
// style payload for the metrics backend, then clears the Map. The pods,
// routes, status codes and regions are the same from one interval to the
// next, so the same few thousand label sets come back every interval: the Map
// fills to its working size within each interval and is emptied at every
// flush.
//
// Healthy: nothing survives a flush except a per-series sample counter kept
// for the last 30 flushes (a fixed-size ring).
import { buildBallast, every, listen, MiB, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0x3e7a1c5);
const FLUSH_SECONDS = 10;

// --- aggregation ----------------------------------------------------------------

/** key (name + canonical label string) -> aggregate of the current interval. */
const aggregates = new Map();
const agent = { samples: 0, rejected: 0, flushes: 0, seriesFlushed: 0, bytesFlushed: 0, lastFlushSeries: 0 };
/** Series counts of the last 30 flushes (a ring, for /v1/status). */
const flushHistory = new Array(30).fill(0);

/** Canonical label string: keys sorted, `k="v"` joined with commas. */
function labelKey(labels) {
  const keys = Object.keys(labels).sort();
  let out = '';
  for (const key of keys) out += `${out === '' ? '' : ','}${key}="${labels[key]}"`;
  return out;
}

function record(sample) {
  if (typeof sample.name !== 'string' || typeof sample.value !== 'number' || !Number.isFinite(sample.value)) {
    agent.rejected++;
    return;
  }
  const labels = labelKey(sample.labels ?? {});
  const key = `${sample.name}{${labels}}`;
  let agg = aggregates.get(key);
  if (agg === undefined) {
    agg = { name: sample.name, labels, type: sample.type ?? 'counter', count: 0, sum: 0, min: Infinity, max: -Infinity, last: 0 };
    aggregates.set(key, agg);
  }
  agg.count++;
  agg.sum += sample.value;
  if (sample.value < agg.min) agg.min = sample.value;
  if (sample.value > agg.max) agg.max = sample.value;
  agg.last = sample.value;
  agent.samples++;
}

/** One line per series, the shape the backend's text ingest takes. */
function encodeSeries(agg, timestampMs) {
  if (agg.type === 'timing') {
    return `${agg.name}_count{${agg.labels}} ${agg.count} ${timestampMs}\n${agg.name}_sum{${agg.labels}} ${agg.sum.toFixed(3)} ${timestampMs}\n${agg.name}_max{${agg.labels}} ${agg.max.toFixed(3)} ${timestampMs}\n`;
  }
  return `${agg.name}_total{${agg.labels}} ${agg.sum} ${timestampMs}\n`;
}

// --- backend stand-in (remote write: a few ms of latency, keeps nothing) ----------

const backend = {
  received: 0,
  async write(payload) {
    await new Promise((resolve) => setTimeout(resolve, 2 + random() * 6));
    this.received += payload.length;
    return 204;
  },
};

async function flush() {
  const timestampMs = Math.round(Date.UTC(2024, 5, 3) + programSeconds() * 1000);
  const parts = [];
  for (const agg of aggregates.values()) parts.push(encodeSeries(agg, timestampMs));
  const series = aggregates.size;
  aggregates.clear();
  const payload = Buffer.from(parts.join(''), 'utf8');
  flushHistory[agent.flushes % flushHistory.length] = series;
  agent.flushes++;
  agent.lastFlushSeries = series;
  agent.seriesFlushed += series;
  agent.bytesFlushed += payload.length;
  await backend.write(payload);
}

// --- HTTP -------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/samples') {
      const body = JSON.parse((await readBody(req, 4 * MiB)).toString('utf8'));
      const common = body.labels ?? {};
      for (const sample of body.samples) record({ ...sample, labels: { ...common, ...sample.labels } });
      res.writeHead(202).end();
      return;
    }
    if (req.method === 'GET' && req.url === '/v1/status') return sendJson(res, 200, { ...agent, pending: aggregates.size, history: flushHistory });
    if (req.method === 'GET' && req.url === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- the pods (the load) ----------------------------------------------------------

const SERVICES = ['checkout-api', 'cart-api', 'payments-worker', 'pricing-api', 'inventory-sync', 'search-api'];
const ROUTES = ['/cart', '/cart/items', '/checkout', '/checkout/confirm', '/prices', '/stock', '/search', '/orders/:id', '/healthz', '/payments/:id/capture'];
const METHODS = ['GET', 'POST', 'PUT'];
const STATUSES = ['200', '200', '200', '200', '201', '204', '400', '404', '500', '503'];
const REGIONS = ['eu-west-1', 'eu-central-1'];
const PODS_PER_SERVICE = 8;

function pushBatch() {
  const service = SERVICES[Math.floor(random() * SERVICES.length)];
  const pod = `${service}-7d9f${Math.floor(random() * PODS_PER_SERVICE)}`;
  const region = REGIONS[pod.charCodeAt(pod.length - 1) % 2];
  const samples = [];
  const n = 40 + Math.floor(random() * 50);
  for (let i = 0; i < n; i++) {
    const route = ROUTES[Math.floor(random() * ROUTES.length)];
    const method = METHODS[Math.floor(random() * random() * METHODS.length)];
    const status = STATUSES[Math.floor(random() * random() * STATUSES.length)];
    if (i % 2 === 0) samples.push({ name: 'http_requests', type: 'counter', value: 1, labels: { route, method, status } });
    else samples.push({ name: 'http_request_duration_ms', type: 'timing', value: Math.round(5 + 200 * random() * random()), labels: { route, method } });
    if (i % 10 === 0) samples.push({ name: 'db_pool_in_use', type: 'gauge', value: Math.floor(random() * 20), labels: { pool: 'primary' } });
  }
  return {
    method: 'POST',
    path: '/v1/samples',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ labels: { service, pod, region, env: 'prod' }, samples }),
  };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// 48 pods push every ~20 s: 2.4 batches/s of ~65 samples.
const pushes = selfRequests(port, { perSecond: 2.4, maxInFlight: 8, next: pushBatch });
const reads = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: random() < 0.5 ? '/healthz' : '/v1/status' }) });

every(Math.max(1, (FLUSH_SECONDS * 1000) / speed), () => {
  flush().catch((error) => process.stderr.write(`flush failed: ${error.message}\n`));
});

reportStats(() => ({
  retained: aggregates.size,
  lastFlushSeries: agent.lastFlushSeries,
  flushes: agent.flushes,
  samples: agent.samples,
  requestsFailed: pushes.failed + reads.failed,
}));

ready(`metrics-agent-interval-flush: aggregates pods' samples per label set in a Map, flushed and cleared every ${FLUSH_SECONDS} s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
