// Live-metrics aggregator of a multi-tenant SaaS. Collectors ship raw
// measurement events (request and query durations, queue lag) every 10 s;
// the aggregator keeps every raw event of the last 10 minutes per tenant and
// metric, so dashboards and the alert evaluator can ask for exact
// percentiles over any window up to 10 minutes.
//
// Traffic is bursty: quiet spells of a quarter of an hour or more, then a
// few minutes in which one to three tenants (a flash sale, a batch import,
// a load test) send ten times the usual volume. What is held follows the
// last 10 minutes of traffic, up in a burst and back down after it.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const WINDOW_SECONDS = 600;
const SWEEP_EVERY_SECONDS = 15;
const EPOCH_MS = Date.UTC(2024, 4, 14, 9, 0, 0); // production clock origin

function nowMs() {
  return EPOCH_MS + Math.round(programSeconds() * 1000);
}

// --- Raw event windows ---------------------------------------------------------

function toRawEvent(event) {
  return {
    ts: event.ts,
    value: event.value,
    host: event.host,
    route: event.route,
    status: event.status,
    traceId: event.traceId,
  };
}

/** One tenant's raw events of one metric, oldest first; `head` skips the expired ones. */
class RawSeries {
  constructor(metric) {
    this.metric = metric;
    this.events = [];
    this.head = 0;
    this.received = 0;
  }

  get size() {
    return this.events.length - this.head;
  }

  push(event) {
    this.events.push(event);
    this.received++;
  }

  prune(cutoffMs) {
    const events = this.events;
    let head = this.head;
    while (head < events.length && events[head].ts < cutoffMs) head++;
    this.head = head;
    if (head === events.length) {
      if (head > 0) this.events = [];
      this.head = 0;
    } else if (head >= 32 && head * 2 >= events.length) {
      this.events = events.slice(head);
      this.head = 0;
    }
  }

  valuesSince(sinceMs) {
    const events = this.events;
    const out = new Float64Array(events.length - this.head);
    let n = 0;
    for (let i = this.head; i < events.length; i++) if (events[i].ts >= sinceMs) out[n++] = events[i].value;
    return out.subarray(0, n);
  }
}

class TenantWindow {
  constructor(tenant) {
    this.tenant = tenant;
    this.series = new Map(); // metric -> RawSeries
    this.firstSeenAt = nowMs();
    this.lastEventAt = 0;
  }

  seriesFor(metric) {
    let series = this.series.get(metric);
    if (series === undefined) {
      series = new RawSeries(metric);
      this.series.set(metric, series);
    }
    return series;
  }

  get size() {
    let n = 0;
    for (const series of this.series.values()) n += series.size;
    return n;
  }
}

export const tenants = new Map(); // tenant id -> TenantWindow
let eventsIngested = 0;
let eventsRejected = 0;
let batches = 0;
let queries = 0;
let evaluations = 0;

function windowFor(tenant) {
  let window = tenants.get(tenant);
  if (window === undefined) {
    window = new TenantWindow(tenant);
    tenants.set(tenant, window);
  }
  return window;
}

function ingestBatch(batch) {
  const cutoff = nowMs() - WINDOW_SECONDS * 1000;
  for (const event of batch.events) {
    if (typeof event.value !== 'number' || event.ts < cutoff) {
      eventsRejected++;
      continue;
    }
    const window = windowFor(event.tenant);
    window.seriesFor(event.metric).push(toRawEvent(event));
    if (event.ts > window.lastEventAt) window.lastEventAt = event.ts;
    eventsIngested++;
  }
  batches++;
}

function sweepWindows() {
  const cutoff = nowMs() - WINDOW_SECONDS * 1000;
  for (const window of tenants.values()) {
    for (const [metric, series] of window.series) {
      series.prune(cutoff);
      if (series.size === 0) window.series.delete(metric);
    }
    if (window.series.size === 0 && window.lastEventAt < cutoff) tenants.delete(window.tenant);
  }
}

function percentileOf(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

function percentiles(tenant, metric, windowSeconds, ps) {
  const series = tenants.get(tenant)?.series.get(metric);
  const cutoff = nowMs() - WINDOW_SECONDS * 1000;
  if (series === undefined) return { count: 0, values: Object.fromEntries(ps.map((p) => [`p${p}`, null])) };
  series.prune(cutoff);
  const values = series.valuesSince(nowMs() - windowSeconds * 1000).sort();
  return { count: values.length, values: Object.fromEntries(ps.map((p) => [`p${p}`, percentileOf(values, p)])) };
}

function heldEvents() {
  let n = 0;
  for (const window of tenants.values()) n += window.size;
  return n;
}

// --- HTTP ------------------------------------------------------------------

const PERCENTILE_PATH = /^\/v1\/tenants\/([\w-]+)\/percentiles\?(.*)$/;

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const url = req.url ?? '/';
  if (req.method === 'POST' && url === '/v1/ingest') {
    const batch = JSON.parse((await readBody(req, 16 * 1024 * 1024)).toString('utf8'));
    ingestBatch(batch);
    sendJson(res, 202, { accepted: batch.events.length });
    return;
  }
  let match;
  if (req.method === 'GET' && (match = PERCENTILE_PATH.exec(url)) !== null) {
    const params = new URLSearchParams(match[2]);
    const ps = (params.get('p') ?? '50,90,99').split(',').map(Number);
    const windowSeconds = Math.min(WINDOW_SECONDS, Number(params.get('window') ?? 300));
    queries++;
    sendJson(res, 200, { tenant: match[1], metric: params.get('metric'), windowSeconds, ...percentiles(match[1], params.get('metric'), windowSeconds, ps) });
    return;
  }
  if (req.method === 'POST' && url === '/v1/alerts/evaluate') {
    const { rules } = JSON.parse((await readBody(req)).toString('utf8'));
    const firing = [];
    for (const rule of rules) {
      const result = percentiles(rule.tenant, rule.metric, rule.windowSeconds, [rule.p]);
      const value = result.values[`p${rule.p}`];
      if (value !== null && value > rule.threshold) firing.push({ ...rule, value, count: result.count });
    }
    evaluations++;
    sendJson(res, 200, { evaluated: rules.length, firing });
    return;
  }
  if (req.method === 'GET' && url === '/healthz') {
    sendJson(res, 200, { ok: true, tenants: tenants.size });
    return;
  }
  sendJson(res, 404, { error: 'not found' });
}

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) sendJson(res, 400, { error: err.message });
    else res.destroy();
  });
});
every(scaledMs(SWEEP_EVERY_SECONDS), sweepWindows);

// --- Load: collectors, dashboards, the alert evaluator ---------------------------

const TENANT_COUNT = 160;
const COLLECTORS = 6;
const SHIP_EVERY_SECONDS = 10;
const BASE_EVENTS_PER_SECOND = 14;
const METRICS = [
  { name: 'http.server.duration_ms', share: 0.55, median: 38, sigma: 0.9 },
  { name: 'db.query.duration_ms', share: 0.3, median: 4.5, sigma: 1.1 },
  { name: 'queue.lag_ms', share: 0.1, median: 220, sigma: 1.3 },
  { name: 'checkout.duration_ms', share: 0.05, median: 640, sigma: 0.6 },
];
const ROUTES = ['GET /api/items', 'GET /api/items/:id', 'POST /api/cart', 'GET /api/search', 'POST /api/checkout', 'GET /api/me', 'GET /health'];

const tenantIds = Array.from({ length: TENANT_COUNT }, (_, i) => `tn-${(4096 + i * 37).toString(16)}`);
const tenantCdf = new Float64Array(TENANT_COUNT);
{
  let sum = 0;
  for (let i = 0; i < TENANT_COUNT; i++) tenantCdf[i] = sum += 1 / (i + 1) ** 1.1;
  for (let i = 0; i < TENANT_COUNT; i++) tenantCdf[i] /= sum;
}
function pickTenant(u) {
  let i = 0;
  while (i < TENANT_COUNT - 1 && tenantCdf[i] < u) i++;
  return tenantIds[i];
}

function gaussian(random) {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

// Bursts: drawn once from their own seeded stream, so every run has the same
// traffic. Quiet 6 min + exponential (mean 18 min), then 2-14 min of
// 60-200 extra events/s spread over 1-3 tenants.
const bursts = [];
{
  const random = rng(0xb0b5);
  let t = 0;
  while (t < 48 * 3600) {
    t += 360 + -Math.log(1 - random()) * 1080;
    const length = 120 + random() * 720;
    const extra = 60 + random() * 140;
    const count = 1 + Math.floor(random() * 3);
    const burstTenants = Array.from({ length: count }, () => tenantIds[Math.floor(random() * 40)]);
    bursts.push({ from: t, to: t + length, extra, tenants: burstTenants });
    t += length;
  }
}
function burstAt(simT) {
  for (const burst of bursts) {
    if (burst.from > simT) return null;
    if (burst.to > simT) return burst;
  }
  return null;
}

const eventRandom = rng(0xe7e7);
let hostSeq = 0;

function sampleEvent(tenant, ts) {
  let u = eventRandom();
  let metric = METRICS[0];
  for (const m of METRICS) {
    if (u < m.share) {
      metric = m;
      break;
    }
    u -= m.share;
  }
  const status = eventRandom() < 0.015 ? 500 : eventRandom() < 0.04 ? 404 : 200;
  return {
    ts,
    tenant,
    metric: metric.name,
    value: Math.round(metric.median * Math.exp(metric.sigma * gaussian(eventRandom)) * 100) / 100,
    host: `web-${String(hostSeq++ % 24).padStart(2, '0')}`,
    route: ROUTES[Math.floor(eventRandom() * ROUTES.length)],
    status,
    traceId: Math.floor(eventRandom() * 2 ** 52).toString(16).padStart(13, '0') + Math.floor(eventRandom() * 4096).toString(16),
  };
}

/** One collector's shipment: its share of the events of the last 10 s. */
function collectorBatch(collector) {
  const simT = programSeconds();
  const burst = burstAt(simT);
  const perCollector = (BASE_EVENTS_PER_SECOND * SHIP_EVERY_SECONDS) / COLLECTORS;
  const burstPerCollector = burst === null ? 0 : (burst.extra * SHIP_EVERY_SECONDS) / COLLECTORS;
  const total = Math.round(perCollector + burstPerCollector + gaussian(eventRandom) * Math.sqrt(perCollector + burstPerCollector));
  const base = nowMs() - SHIP_EVERY_SECONDS * 1000;
  const events = [];
  for (let i = 0; i < total; i++) {
    const ts = base + Math.round(((i + 0.5) / total) * SHIP_EVERY_SECONDS * 1000);
    const fromBurst = burst !== null && eventRandom() * (perCollector + burstPerCollector) < burstPerCollector;
    const tenant = fromBurst ? burst.tenants[Math.floor(eventRandom() * burst.tenants.length)] : pickTenant(eventRandom());
    events.push(sampleEvent(tenant, ts));
  }
  return { collector: `collector-${collector}`, sentAt: nowMs(), events };
}

const outgoing = [];
let nextCollector = 0;
every(scaledMs(SHIP_EVERY_SECONDS / COLLECTORS), () => {
  const collector = nextCollector++ % COLLECTORS;
  outgoing.push({ method: 'POST', path: '/v1/ingest', headers: { 'content-type': 'application/json' }, body: JSON.stringify(collectorBatch(collector)) });
});

// Alert evaluator: every 60 s, p99 over 5 min for the 30 biggest tenants' main metrics.
every(scaledMs(60), () => {
  const rules = [];
  for (const tenant of tenantIds.slice(0, 30)) {
    rules.push({ tenant, metric: 'http.server.duration_ms', p: 99, windowSeconds: 300, threshold: 900 });
    rules.push({ tenant, metric: 'db.query.duration_ms', p: 99, windowSeconds: 300, threshold: 250 });
  }
  outgoing.push({ method: 'POST', path: '/v1/alerts/evaluate', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules }) });
});

const dashboardRandom = rng(0xda5b);
function dashboardQuery() {
  const burst = burstAt(programSeconds());
  const tenant =
    burst !== null && dashboardRandom() < 0.5 ? burst.tenants[Math.floor(dashboardRandom() * burst.tenants.length)] : pickTenant(dashboardRandom());
  const metric = METRICS[Math.floor(dashboardRandom() * 3)].name;
  const windowSeconds = [60, 300, 600][Math.floor(dashboardRandom() * 3)];
  return { method: 'GET', path: `/v1/tenants/${tenant}/percentiles?metric=${metric}&window=${windowSeconds}&p=50,90,95,99` };
}

const DASHBOARD_QUERIES_PER_SECOND = 0.3;
const HEALTH_CHECKS_PER_SECOND = 0.2;
const loadRandom = rng(0x10ad);
const client = selfRequests(port, {
  perSecond: 4,
  maxInFlight: 16,
  next: () => {
    if (outgoing.length > 0) return outgoing.shift();
    const u = loadRandom() * 4;
    if (u < DASHBOARD_QUERIES_PER_SECOND) return dashboardQuery();
    if (u < DASHBOARD_QUERIES_PER_SECOND + HEALTH_CHECKS_PER_SECOND) return { method: 'GET', path: '/healthz' };
    return null;
  },
});

reportStats(() => {
  const burst = burstAt(programSeconds());
  let series = 0;
  for (const window of tenants.values()) series += window.series.size;
  return {
    retained: heldEvents(),
    tenants: tenants.size,
    series,
    burst: burst === null ? 0 : Math.round(burst.extra),
    eventsIngested,
    eventsRejected,
    batches,
    queries,
    evaluations,
    sent: client.sent,
    failed: client.failed,
  };
});

ready(
  `tenant-metrics-window: raw events of the last ${WINDOW_SECONDS / 60} min per tenant and metric, ${BASE_EVENTS_PER_SECOND} events/s ` +
    `plus bursts at speed 1 on port ${port}${ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''}`,
);
