// Metrics ingestion gateway of a multi-tenant monitoring product. Tenants'
// agents POST batches of samples to /v1/ingest; the gateway keeps one
// TenantBuffer per tenant (`buffers`: tenant id -> TenantBuffer) that appends
// the samples to `points` and keeps the tenant's series registry (`series`:
// series key -> descriptor, for the cardinality limit and the flush's label
// encoding). Every minute flushAll() aggregates each tenant's points per
// series, remote-writes them to the time-series store (an in-process stand-in
// with a few ms of latency) and starts a fresh `points` array.
//
// Tenants are onboarded gradually over the first two hours (the sales team's
// migration wave: 8 at start, 120 by 2 h): each onboarding registers a tenant
// and its buffer, and its agents start reporting. Held memory grows with the
// number of tenants (their series registries and, transiently, their points
// of the current minute) and then stays flat: nothing accumulates across
// flushes.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  KiB,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const EPOCH_MS = 1_717_000_000_000;
const random = rng(0x3e7c5);
const FLUSH_EVERY_S = 60;
const MAX_SERIES_PER_TENANT = 5_000;

// --- tenants -----------------------------------------------------------------

class TenantBuffer {
  constructor(tenant) {
    this.tenant = tenant;
    this.points = [];
    this.series = new Map();
    this.rejectedSeries = 0;
    this.flushes = 0;
    this.samplesFlushed = 0;
    this.lastFlushAt = null;
  }

  add(sample) {
    const key = seriesKey(sample.name, sample.labels);
    let descriptor = this.series.get(key);
    if (descriptor === undefined) {
      if (this.series.size >= MAX_SERIES_PER_TENANT) {
        this.rejectedSeries++;
        return false;
      }
      descriptor = { key, name: sample.name, labels: sample.labels, hash: createHash('sha1').update(key).digest('hex').slice(0, 16), firstSeenAt: programSeconds() };
      this.series.set(key, descriptor);
    }
    this.points.push({ series: descriptor, value: sample.value, ts: sample.ts });
    return true;
  }
}

/** tenant id -> TenantBuffer */
const buffers = new Map();
/** tenant id -> tenant config (what onboarding registered) */
const tenants = new Map();
const counters = { batches: 0, samples: 0, unknownTenant: 0, flushes: 0, written: 0, writeBytes: 0, onboarded: 0 };

function seriesKey(name, labels) {
  const keys = Object.keys(labels).sort();
  let key = name;
  for (const k of keys) key += `|${k}=${labels[k]}`;
  return key;
}

function onboard(tenantId, plan) {
  tenants.set(tenantId, { id: tenantId, plan, retentionDays: plan === 'enterprise' ? 395 : plan === 'team' ? 90 : 30, onboardedAt: programSeconds() });
  buffers.set(tenantId, new TenantBuffer(tenantId));
  counters.onboarded++;
}

// --- the time-series store stand-in -------------------------------------------

const tsdb = {
  writes: 0,
  write(tenantId, body) {
    return new Promise((resolve) => {
      setTimeout(() => {
        this.writes++;
        resolve({ status: 204, bytes: body.length });
      }, 2 + random() * 8);
    });
  },
};

/** Aggregates one tenant's minute per series and remote-writes it. */
async function flushTenant(buffer, points, minuteStart) {
  const bySeries = new Map();
  for (const point of points) {
    let agg = bySeries.get(point.series);
    if (agg === undefined) bySeries.set(point.series, (agg = { count: 0, sum: 0, min: Infinity, max: -Infinity, last: 0 }));
    agg.count++;
    agg.sum += point.value;
    if (point.value < agg.min) agg.min = point.value;
    if (point.value > agg.max) agg.max = point.value;
    agg.last = point.value;
  }
  const rows = [];
  for (const [descriptor, agg] of bySeries) rows.push(`${descriptor.hash} ${minuteStart} ${agg.count} ${agg.sum} ${agg.min} ${agg.max} ${agg.last}`);
  const body = Buffer.from(rows.join('\n'));
  await tsdb.write(buffer.tenant, body);
  buffer.flushes++;
  buffer.samplesFlushed += points.length;
  buffer.lastFlushAt = programSeconds();
  counters.written += rows.length;
  counters.writeBytes += body.length;
}

function flushAll() {
  counters.flushes++;
  const minuteStart = Math.floor(EPOCH_MS / 1000 + programSeconds()) - FLUSH_EVERY_S;
  for (const buffer of buffers.values()) {
    if (buffer.points.length === 0) continue;
    const points = buffer.points;
    buffer.points = [];
    void flushTenant(buffer, points, minuteStart);
  }
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    if (req.method === 'POST' && url === '/v1/ingest') {
      const tenantId = req.headers['x-tenant-id'];
      const buffer = buffers.get(tenantId);
      if (buffer === undefined) {
        counters.unknownTenant++;
        req.resume();
        return sendJson(res, 401, { error: 'unknown tenant' });
      }
      const batch = JSON.parse((await readBody(req, 512 * KiB)).toString('utf8'));
      counters.batches++;
      let accepted = 0;
      for (const sample of batch.samples) if (buffer.add(sample)) accepted++;
      counters.samples += accepted;
      return sendJson(res, 202, { accepted, rejected: batch.samples.length - accepted });
    }
    if (req.method === 'POST' && url === '/admin/tenants') {
      const body = JSON.parse((await readBody(req, 16 * KiB)).toString('utf8'));
      if (tenants.has(body.id)) return sendJson(res, 409, { error: 'exists' });
      onboard(body.id, body.plan);
      return sendJson(res, 201, tenants.get(body.id));
    }
    if (req.method === 'GET' && url === '/admin/tenants') {
      return sendJson(res, 200, [...buffers.values()].map((b) => ({ tenant: b.tenant, series: b.series.size, pending: b.points.length, flushes: b.flushes, rejectedSeries: b.rejectedSeries })));
    }
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { ok: true, tenants: tenants.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, error instanceof SyntaxError ? 400 : 500, { error: String(error.message ?? error) });
  }
}

// --- tenants' agents and the onboarding wave (the load) ------------------------

const TOTAL_TENANTS = 120;
const INITIAL_TENANTS = 8;
const ONBOARDING_WINDOW_S = 2 * 3600;
const SCRAPE_EVERY_S = 60;
const METRICS = [
  ['http_requests_total', ['service', 'route', 'status']],
  ['http_request_duration_seconds', ['service', 'route']],
  ['process_cpu_seconds_total', ['service', 'instance']],
  ['process_resident_memory_bytes', ['service', 'instance']],
  ['db_query_duration_seconds', ['service', 'table', 'op']],
  ['queue_depth', ['service', 'queue']],
  ['cache_hits_total', ['service', 'cache']],
  ['jvm_gc_pause_seconds', ['service', 'instance', 'gc']],
];
const LABEL_VALUES = {
  service: ['api', 'web', 'worker', 'billing', 'search', 'auth'],
  route: ['/', '/login', '/api/orders', '/api/orders/:id', '/api/products', '/api/cart', '/api/search', '/health'],
  status: ['200', '201', '204', '301', '400', '404', '500'],
  instance: ['i-0a', 'i-0b', 'i-0c', 'i-0d', 'i-0e', 'i-0f'],
  table: ['orders', 'users', 'products', 'sessions', 'payments'],
  op: ['select', 'insert', 'update'],
  queue: ['emails', 'exports', 'webhooks'],
  cache: ['redis', 'local'],
  gc: ['young', 'old'],
};

/** What the onboarding wave has scheduled: { id, plan, at, series, phase } sorted by `at`. */
const wave = [];
for (let i = 0; i < TOTAL_TENANTS; i++) {
  const id = `tn_${createHash('sha1').update(`tenant-${i}`).digest('hex').slice(0, 10)}`;
  const plan = i % 11 === 0 ? 'enterprise' : i % 3 === 0 ? 'team' : 'starter';
  wave.push({ id, plan, at: i < INITIAL_TENANTS ? 0 : 60 + random() * (ONBOARDING_WINDOW_S - 60), series: null, phase: random() * SCRAPE_EVERY_S, nextScrapeAt: 0 });
}
wave.sort((a, b) => a.at - b.at);
/** Onboarded tenants whose agents are reporting. */
const live = [];
/** Batches the agents have scraped and not sent yet. */
const outgoing = [];
let waveIndex = 0;

/** The series a tenant's agents expose: a fixed list, its length by plan. */
function agentSeries(plan, r) {
  const wanted = plan === 'enterprise' ? 400 + Math.floor(r() * 200) : plan === 'team' ? 150 + Math.floor(r() * 100) : 40 + Math.floor(r() * 60);
  const list = [];
  const seen = new Set();
  while (list.length < wanted) {
    const [name, labelNames] = METRICS[Math.floor(r() * METRICS.length)];
    const labels = {};
    for (const l of labelNames) labels[l] = LABEL_VALUES[l][Math.floor(r() * LABEL_VALUES[l].length)];
    const key = seriesKey(name, labels);
    if (seen.has(key)) continue;
    seen.add(key);
    list.push({ name, labels });
  }
  return list;
}

function nextOnboarding() {
  if (waveIndex >= wave.length || wave[waveIndex].at > programSeconds()) return null;
  const tenant = wave[waveIndex++];
  return { method: 'POST', path: '/admin/tenants', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: tenant.id, plan: tenant.plan }), tenant };
}

function onOnboarded(status, _text, request) {
  if (status !== 201) return;
  const tenant = request.tenant;
  tenant.series = agentSeries(tenant.plan, rng(Number.parseInt(tenant.id.slice(3, 11), 16)));
  tenant.nextScrapeAt = programSeconds() + tenant.phase;
  live.push(tenant);
}

/** Every production second: agents whose scrape is due send all their series, in batches of 200. */
function agentsTick() {
  const now = programSeconds();
  for (const tenant of live) {
    if (tenant.nextScrapeAt > now) continue;
    tenant.nextScrapeAt += SCRAPE_EVERY_S;
    const ts = Math.floor(EPOCH_MS + now * 1000);
    for (let i = 0; i < tenant.series.length; i += 200) {
      const samples = tenant.series.slice(i, i + 200).map((s) => ({ name: s.name, labels: s.labels, value: Math.round(random() * 1e6) / 1000, ts }));
      outgoing.push({ method: 'POST', path: '/v1/ingest', headers: { 'content-type': 'application/json', 'x-tenant-id': tenant.id }, body: JSON.stringify({ samples }) });
    }
  }
}

// --- start -------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

const flusher = setInterval(flushAll, scaledMs(FLUSH_EVERY_S));
const scraper = setInterval(agentsTick, scaledMs(1));
onShutdown(() => {
  clearInterval(flusher);
  clearInterval(scraper);
});

// Onboarding checks the wave every few seconds; agents' batches go out as they are scraped (~2.6/s with all tenants).
const onboarding = selfRequests(port, { perSecond: 0.2, maxInFlight: 1, next: nextOnboarding, onResponse: onOnboarded });
const agents = selfRequests(port, { perSecond: 4, maxInFlight: 16, next: () => outgoing.shift() ?? null });
const admin = selfRequests(port, { perSecond: 1 / 60, maxInFlight: 1, next: () => ({ method: 'GET', path: random() < 0.5 ? '/admin/tenants' : '/healthz' }) });

reportStats(() => {
  let points = 0;
  let series = 0;
  for (const buffer of buffers.values()) {
    points += buffer.points.length;
    series += buffer.series.size;
  }
  return {
    retained: series,
    pendingPoints: points,
    tenants: buffers.size,
    outgoing: outgoing.length,
    samples: counters.samples,
    flushes: counters.flushes,
    written: counters.written,
    requestsFailed: onboarding.failed + agents.failed + admin.failed,
  };
});

ready(
  `tenant-metrics-buffer-minute-flush: per-tenant buffers flushed every minute; ${INITIAL_TENANTS} -> ${TOTAL_TENANTS} tenants onboarded over the first 2 h (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
