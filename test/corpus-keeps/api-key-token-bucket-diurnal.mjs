// Per-client rate-limit service for a public API (ESM, no dependencies).
//
// The API's edge proxies ask this service, in batches, whether each client
// request may pass: POST /v1/ratelimit:check with one check per request (API
// key, route, cost). The service keeps a token bucket per API key in the
// module-level Map `buckets` (capacity and refill rate from the key's plan),
// creating it on the key's first request, and a sweeper deletes every bucket
// idle for 10 minutes, once a minute. So the map holds the keys seen in the
// last ~10 minutes, and that follows the traffic: a quiet night, a morning
// ramp, a busy afternoon (14:00-16:00) and the evening fall. A program day
// starts at SCENARIO_CLOCK_H (default 12.0, so 6 h cover the lunchtime lull,
// the afternoon peak and the fall to 18:00).
//
// Load: four in-process edge proxies on the lib's keep-alive client, each
// sending its batch every 5 s of production time: ~200 client requests/s at
// the peak, ~10/s at night, 70 % of them from ~3 000 integrators' keys (Zipf)
// and 30 % from a long tail of 400 000 keys (apps, trials, scripts) that
// mostly make one or two calls. Plus the operators' key lookups and health
// checks.
import {
  buildBallast,
  envNumber,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_START_H = envNumber('SCENARIO_CLOCK_H', 12, (v) => v >= 0 && v < 24);
const IDLE_TTL_S = 600;
const SWEEP_EVERY_S = 60;
const EDGES = 4;
const BATCH_EVERY_S = 5;
const PEAK_CHECKS_PER_S = 200;
const REGULAR_KEYS = 3000;
const TAIL_KEYS = 400000;

const random = rng(0x7b0c4e7);

// --- Plans and buckets --------------------------------------------------------

const PLANS = {
  free: { capacity: 20, refillPerSecond: 1 },
  starter: { capacity: 60, refillPerSecond: 5 },
  pro: { capacity: 300, refillPerSecond: 25 },
  enterprise: { capacity: 1200, refillPerSecond: 100 },
};

/** The key's plan (a stand-in for the key registry's cached lookup). */
function planOf(apiKey) {
  let h = 0;
  for (let i = 8; i < apiKey.length; i++) h = (h * 31 + apiKey.charCodeAt(i)) | 0;
  const r = (h >>> 0) % 100;
  if (apiKey.startsWith('ak_live_i')) return r < 10 ? 'enterprise' : r < 55 ? 'pro' : 'starter';
  return r < 85 ? 'free' : 'starter';
}

class TokenBucket {
  constructor(apiKey, plan, now) {
    const { capacity, refillPerSecond } = PLANS[plan];
    this.apiKey = apiKey;
    this.plan = plan;
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.tokens = capacity;
    this.updatedAt = now;
    this.lastSeenAt = now;
    this.allowed = 0;
    this.limited = 0;
  }

  take(cost, now) {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) * this.refillPerSecond);
    this.updatedAt = now;
    this.lastSeenAt = now;
    if (this.tokens >= cost) {
      this.tokens -= cost;
      this.allowed++;
      return 0;
    }
    this.limited++;
    return Math.ceil(((cost - this.tokens) / this.refillPerSecond) * 1000);
  }
}

/** One token bucket per API key seen in the last IDLE_TTL_S. */
const buckets = new Map();
const totals = { checks: 0, allowed: 0, limited: 0, created: 0, swept: 0, batches: 0 };

function bucketFor(apiKey, now) {
  let bucket = buckets.get(apiKey);
  if (bucket === undefined) {
    bucket = new TokenBucket(apiKey, planOf(apiKey), now);
    buckets.set(apiKey, bucket);
    totals.created++;
  }
  return bucket;
}

function sweepIdleBuckets() {
  const cutoff = programSeconds() - IDLE_TTL_S;
  for (const [apiKey, bucket] of buckets) {
    if (bucket.lastSeenAt < cutoff) {
      buckets.delete(apiKey);
      totals.swept++;
    }
  }
}

// --- HTTP -------------------------------------------------------------------

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req, res) {
  if (req.url === '/healthz') return sendJson(res, 200, { ok: true, buckets: buckets.size });
  if (req.method === 'POST' && req.url === '/v1/ratelimit:check') {
    const batch = JSON.parse((await readBody(req)).toString('utf8'));
    const now = programSeconds();
    const results = new Array(batch.checks.length);
    for (let i = 0; i < batch.checks.length; i++) {
      const [apiKey, , cost] = batch.checks[i];
      const retryAfterMs = bucketFor(apiKey, now).take(cost, now);
      totals.checks++;
      if (retryAfterMs === 0) totals.allowed++;
      else totals.limited++;
      results[i] = retryAfterMs;
    }
    totals.batches++;
    return sendJson(res, 200, { edge: batch.edge, at: now, retryAfterMs: results });
  }
  if (req.method === 'GET' && req.url.startsWith('/v1/keys/')) {
    const bucket = buckets.get(decodeURIComponent(req.url.slice('/v1/keys/'.length)));
    if (bucket === undefined) return sendJson(res, 404, { error: 'no recent traffic' });
    const { apiKey, plan, capacity, tokens, allowed, limited, lastSeenAt } = bucket;
    return sendJson(res, 200, { apiKey, plan, capacity, tokens: Math.floor(tokens), allowed, limited, lastSeenAt });
  }
  return sendJson(res, 404, { error: 'not found' });
}

// --- Edge proxies (load generator) --------------------------------------------

// Share of the peak rate by hour of day (linear in between).
const DAY_CURVE = [0.05, 0.04, 0.04, 0.04, 0.05, 0.08, 0.14, 0.26, 0.45, 0.6, 0.7, 0.75, 0.68, 0.8, 0.97, 1.0, 0.93, 0.72, 0.5, 0.38, 0.3, 0.22, 0.14, 0.08];

function clockHours() {
  return (CLOCK_START_H + programSeconds() / 3600) % 24;
}

function clockLabel(hours) {
  const minutes = Math.round(hours * 60);
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

function trafficShare(hours) {
  const h = Math.floor(hours);
  const f = hours - h;
  return DAY_CURVE[h] * (1 - f) + DAY_CURVE[(h + 1) % 24] * f;
}

/** Zipf(s) sampler over 0..n-1. */
function zipf(n, s) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s;
    cdf[i] = sum;
  }
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const pickIntegrator = zipf(REGULAR_KEYS, 1.05);
const ROUTES = ['GET /v2/orders', 'GET /v2/orders/:id', 'POST /v2/orders', 'GET /v2/products', 'GET /v2/inventory', 'POST /v2/webhooks/test', 'GET /v2/customers/:id'];

function clientKey() {
  if (random() < 0.7) return `ak_live_i${(pickIntegrator() * 7919 + 104729).toString(36)}`;
  return `ak_live_t${(Math.floor(random() * TAIL_KEYS) * 31 + 1000003).toString(36)}`;
}

function poisson(mean) {
  if (mean > 40) return Math.max(0, Math.round(mean + Math.sqrt(mean) * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
  let n = 0;
  let p = Math.exp(-mean);
  let s = p;
  const u = random();
  while (u > s) {
    n++;
    p *= mean / n;
    s += p;
  }
  return n;
}

const edgeDue = Array.from({ length: EDGES }, (_, i) => (i * BATCH_EVERY_S) / EDGES);
let operatorDue = 30;
let healthDue = 0;
let lastKeys = [];

function nextRequest() {
  const now = programSeconds();
  for (let edge = 0; edge < EDGES; edge++) {
    if (now < edgeDue[edge]) continue;
    const window = now - edgeDue[edge] + BATCH_EVERY_S;
    edgeDue[edge] = now + BATCH_EVERY_S;
    const count = poisson((PEAK_CHECKS_PER_S * trafficShare(clockHours()) * window) / EDGES);
    const checks = new Array(count);
    for (let i = 0; i < count; i++) {
      const route = ROUTES[Math.floor(random() * ROUTES.length)];
      checks[i] = [clientKey(), route, route.startsWith('POST') ? 2 : 1];
    }
    if (count > 0) lastKeys = [checks[0][0], checks[count - 1][0]];
    return { method: 'POST', path: '/v1/ratelimit:check', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ edge: `edge-${edge}`, checks }) };
  }
  if (now >= healthDue) {
    healthDue = now + 10;
    return { method: 'GET', path: '/healthz' };
  }
  if (now >= operatorDue && lastKeys.length > 0) {
    operatorDue = now + 20 + random() * 60;
    return { method: 'GET', path: `/v1/keys/${encodeURIComponent(lastKeys[Math.floor(random() * lastKeys.length)])}` };
  }
  return null;
}

// --- Start ------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((error) => {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message) });
  });
});

every((SWEEP_EVERY_S * 1000) / speed, sweepIdleBuckets);
const load = selfRequests(port, { perSecond: 4, next: nextRequest, maxInFlight: 8 });

reportStats(() => ({
  retained: buckets.size,
  clockH: Math.round(clockHours() * 100) / 100,
  share: Math.round(trafficShare(clockHours()) * 1000) / 1000,
  ...totals,
  requestsFailed: load.failed,
}));

ready(`api-key-token-bucket-diurnal on 127.0.0.1:${port}: rate limiter, token bucket per API key swept after ${IDLE_TTL_S / 60} idle min, daily traffic from ${clockLabel(CLOCK_START_H)}${ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''}`);
