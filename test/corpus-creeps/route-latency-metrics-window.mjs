// Latency-metrics aggregator: the platform's services push batches of request
// latencies every 15 s (POST /v1/samples: [route, status, ms] triples) and the
// aggregator keeps, for every minute of the last two hours, one latency
// histogram per route (class LatencyHistogram: fixed buckets from 5 ms to
// 30 s, count, sum, min, max, errors). Dashboards and the alerting rules read
// percentiles over the last 5/15/60/120 minutes (GET /v1/routes/latency,
// GET /v1/summary).
//
// The window (class SlidingWindow, Map `minutes`: minute -> Map route ->
// histogram) drops the minutes older than two hours whenever a new minute
// starts, so it fills during the first two production hours and then holds
// ~120 minutes' worth of histograms: flat. Healthy.
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

const random = rng(0x3e7c5);
const EPOCH_MS = Date.UTC(2024, 5, 3, 0, 0, 0);
const WINDOW_MINUTES = 120;

function clockMs() {
  return EPOCH_MS + Math.round(programSeconds() * 1000);
}

function minuteOf(ms) {
  return Math.floor(ms / 60_000);
}

// --- histograms -------------------------------------------------------------------------

/** Upper bounds (ms) of the histogram buckets; the last bucket is everything above. */
const BOUNDS = [5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000];

function bucketIndex(ms) {
  let lo = 0;
  let hi = BOUNDS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= BOUNDS[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

class LatencyHistogram {
  constructor() {
    this.counts = new Array(BOUNDS.length + 1).fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
    this.errors = 0;
  }

  record(ms, status) {
    this.counts[bucketIndex(ms)]++;
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    if (status >= 500) this.errors++;
  }

  mergeInto(target) {
    for (let i = 0; i < this.counts.length; i++) target.counts[i] += this.counts[i];
    target.count += this.count;
    target.sum += this.sum;
    target.min = Math.min(target.min, this.min);
    target.max = Math.max(target.max, this.max);
    target.errors += this.errors;
  }

  quantile(q) {
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i < BOUNDS.length ? BOUNDS[i] : this.max;
    }
    return this.max;
  }
}

class SlidingWindow {
  constructor(windowMinutes) {
    this.windowMinutes = windowMinutes;
    /** minute -> Map(route -> LatencyHistogram), oldest first. */
    this.minutes = new Map();
    this.currentMinute = -1;
    this.histograms = 0;
    this.samples = 0;
  }

  histogramFor(minute, route) {
    let routes = this.minutes.get(minute);
    if (routes === undefined) {
      routes = new Map();
      this.minutes.set(minute, routes);
      if (minute > this.currentMinute) {
        this.currentMinute = minute;
        this.evict(minute - this.windowMinutes);
      }
    }
    let histogram = routes.get(route);
    if (histogram === undefined) {
      histogram = new LatencyHistogram();
      routes.set(route, histogram);
      this.histograms++;
    }
    return histogram;
  }

  record(route, status, ms, atMs) {
    this.histogramFor(minuteOf(atMs), route).record(ms, status);
    this.samples++;
  }

  /** Drops every minute at or before `oldest`. */
  evict(oldest) {
    for (const [minute, routes] of this.minutes) {
      if (minute > oldest) continue;
      this.histograms -= routes.size;
      this.minutes.delete(minute);
    }
  }

  /** Per route, the merged histogram of the last `minutes` minutes. */
  merged(minutes) {
    const since = minuteOf(clockMs()) - minutes;
    const out = new Map();
    for (const [minute, routes] of this.minutes) {
      if (minute <= since) continue;
      for (const [route, histogram] of routes) {
        let target = out.get(route);
        if (target === undefined) {
          target = new LatencyHistogram();
          out.set(route, target);
        }
        histogram.mergeInto(target);
      }
    }
    return out;
  }
}

const latencyWindow = new SlidingWindow(WINDOW_MINUTES);

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://metrics.local');
  try {
    if (req.method === 'POST' && url.pathname === '/v1/samples') {
      const batch = JSON.parse((await readBody(req)).toString('utf8'));
      const receivedAt = clockMs();
      for (const [route, status, ms, agoMs] of batch.samples) latencyWindow.record(`${batch.service} ${route}`, status, ms, receivedAt - agoMs);
      return sendJson(res, 202, { accepted: batch.samples.length });
    }
    if (req.method === 'GET' && url.pathname === '/v1/routes/latency') {
      const minutes = Math.min(WINDOW_MINUTES, Number(url.searchParams.get('minutes') ?? 15));
      const prefix = url.searchParams.get('service') ?? '';
      const rows = [];
      for (const [route, h] of latencyWindow.merged(minutes)) {
        if (!route.startsWith(prefix)) continue;
        rows.push({ route, count: h.count, p50: h.quantile(0.5), p95: h.quantile(0.95), p99: h.quantile(0.99), max: h.max, errorRate: h.errors / h.count });
      }
      return sendJson(res, 200, { minutes, rows });
    }
    if (req.method === 'GET' && url.pathname === '/v1/summary') {
      const merged = latencyWindow.merged(5);
      let slowest = null;
      for (const [route, h] of merged) if (slowest === null || h.quantile(0.99) > slowest.p99) slowest = { route, p99: h.quantile(0.99) };
      return sendJson(res, 200, { routes: merged.size, minutes: latencyWindow.minutes.size, histograms: latencyWindow.histograms, slowest });
    }
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the services pushing samples (the load) ----------------------------------------------------

const SERVICES = [
  { name: 'catalog', routes: 18, rps: 40, median: 25 },
  { name: 'search', routes: 6, rps: 25, median: 60 },
  { name: 'cart', routes: 12, rps: 15, median: 20 },
  { name: 'checkout', routes: 14, rps: 4, median: 180 },
  { name: 'accounts', routes: 22, rps: 8, median: 35 },
  { name: 'orders', routes: 20, rps: 5, median: 70 },
  { name: 'reviews', routes: 9, rps: 6, median: 45 },
  { name: 'admin', routes: 30, rps: 0.6, median: 120 },
].map((service) => ({
  ...service,
  // Route popularity: a few hot routes and a tail that is hit now and then.
  paths: Array.from({ length: service.routes }, (_, i) => `${i % 3 === 0 ? 'POST' : 'GET'} /${service.name}/v1/${['items', 'lists', 'by-id', 'search', 'batch', 'export', 'status', 'history'][i % 8]}${i >= 8 ? `/${i}` : ''}`),
}));

function latencySample(median) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.round(median * Math.exp(0.7 * z) * 10) / 10;
}

let serviceTurn = 0;

/** The next 15-second batch of one service's request latencies (each service sampled at 10 %). */
function sampleBatch() {
  const service = SERVICES[serviceTurn++ % SERVICES.length];
  const n = Math.max(1, Math.round(service.rps * 15 * 0.1 * (0.7 + 0.6 * random())));
  const samples = [];
  for (let i = 0; i < n; i++) {
    const route = service.paths[Math.floor(service.routes * random() ** 2.5)];
    samples.push([route, random() < 0.006 ? 503 : 200, latencySample(service.median), Math.floor(random() * 15_000)]);
  }
  return { method: 'POST', path: '/v1/samples', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: service.name, samples }) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Every service pushes a batch every 15 s: 8 / 15 batches per second.
const pushers = selfRequests(port, { perSecond: SERVICES.length / 15, maxInFlight: 4, next: sampleBatch });
// Dashboards and alert rules: 0.25 reads/s.
const readers = selfRequests(port, {
  perSecond: 0.25,
  maxInFlight: 2,
  next: () => {
    const roll = random();
    if (roll < 0.5) return { method: 'GET', path: '/v1/summary' };
    if (roll < 0.9) return { method: 'GET', path: `/v1/routes/latency?minutes=${[5, 15, 60][Math.floor(random() * 3)]}&service=${SERVICES[Math.floor(random() * SERVICES.length)].name}` };
    return { method: 'GET', path: '/v1/routes/latency?minutes=120' };
  },
});

reportStats(() => ({
  retained: latencyWindow.histograms,
  minutes: latencyWindow.minutes.size,
  samples: latencyWindow.samples,
  requestsFailed: pushers.failed + readers.failed,
}));

ready(
  `route-latency-metrics-window: per-minute latency histograms per route for a sliding 2 h window; fills for 2 h, then old minutes are dropped as new ones start (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
