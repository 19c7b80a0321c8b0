// Metrics ingest API (write-behind).
//
// Application agents POST their batch of metric points every 10 s
// (POST /v1/write, JSON: the agent's host tags plus counters, gauges and
// latency summaries per route). The API validates the batch, normalises every
// point and appends it to the module-level array `pending`; a flusher swaps the
// array out every 10 s and writes it to the time-series database (stand-in) in
// one line-protocol batch. A failed write puts the batch back in front of the
// buffer for the next flush. How much the buffer holds at a time follows the
// traffic of the monitored fleet: the autoscaler runs more application
// instances (more agents, more routes with traffic) during the day.
//
// SCENARIO_CLOCK_H: hour of the simulated day at start (default 7).
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

const FLUSH_EVERY_S = 10;
const MAX_BUFFERED_POINTS = 200_000; // drop oldest beyond this (TSDB down for a long time)
const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 7, (v) => v >= 0 && v < 24);

const random = rng(0x3e7c5);

// --- the buffer ------------------------------------------------------------------

let pending = [];
const stats = { batches: 0, points: 0, rejectedPoints: 0, flushes: 0, flushedPoints: 0, failedFlushes: 0, dropped: 0, lastFlushSize: 0, flushing: false };

const KINDS = new Set(['counter', 'gauge', 'summary']);
const NAME = /^[a-z][a-z0-9_.]{2,80}$/;

function toPoint(raw, agentTags, receivedAtMs) {
  const tags = { ...agentTags };
  if (raw.tags) for (const key of Object.keys(raw.tags)) tags[key] = String(raw.tags[key]);
  return {
    measurement: raw.name,
    kind: raw.kind,
    tags,
    value: raw.value,
    timestampMs: typeof raw.ts === 'number' ? raw.ts : receivedAtMs,
  };
}

function acceptBatch(batch, receivedAtMs) {
  const agentTags = { host: batch.agent.host, region: batch.agent.region, service: batch.agent.service, version: batch.agent.version };
  let accepted = 0;
  for (const raw of batch.points) {
    if (!NAME.test(raw.name) || !KINDS.has(raw.kind) || typeof raw.value !== 'number' || !Number.isFinite(raw.value)) {
      stats.rejectedPoints++;
      continue;
    }
    pending.push(toPoint(raw, agentTags, receivedAtMs));
    accepted++;
  }
  stats.batches++;
  stats.points += accepted;
  return accepted;
}

// --- the flush to the time-series database (stand-in) ----------------------------

const escapeTag = (text) => text.replace(/[ ,=]/g, (c) => `\\${c}`);

function toLine(point) {
  let line = point.measurement;
  for (const key of Object.keys(point.tags).sort()) line += `,${key}=${escapeTag(point.tags[key])}`;
  return `${line} value=${point.value} ${point.timestampMs}000000`;
}

const tsdb = {
  writes: 0,
  bytes: 0,
  /** A write of one line-protocol batch: a few ms, and once in a while a 503. */
  async write(body, points) {
    await new Promise((resolve) => setTimeout(resolve, 2 + random() * 6));
    if (random() < 0.004) throw new Error('503 Service Unavailable: write queue full');
    this.writes++;
    this.bytes += body.length;
    return { points };
  },
};

async function flush() {
  if (stats.flushing || pending.length === 0) return;
  stats.flushing = true;
  const batch = pending;
  pending = [];
  stats.lastFlushSize = batch.length;
  try {
    const body = batch.map(toLine).join('\n');
    await tsdb.write(body, batch.length);
    stats.flushes++;
    stats.flushedPoints += batch.length;
  } catch {
    stats.failedFlushes++;
    // Write-behind: keep the points for the next flush, oldest first.
    pending = batch.concat(pending);
    if (pending.length > MAX_BUFFERED_POINTS) {
      stats.dropped += pending.length - MAX_BUFFERED_POINTS;
      pending.splice(0, pending.length - MAX_BUFFERED_POINTS);
    }
  } finally {
    stats.flushing = false;
  }
}

every((FLUSH_EVERY_S * 1000) / speed, flush);

// --- HTTP ------------------------------------------------------------------------

function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.method === 'GET' && req.url === '/healthz') return send(res, 200, { ok: true, buffered: pending.length });
    if (req.method === 'POST' && req.url === '/v1/write') {
      const batch = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8'));
      if (!batch.agent || !Array.isArray(batch.points)) return send(res, 400, { error: 'expected {agent, points[]}' });
      const accepted = acceptBatch(batch, Date.now());
      res.writeHead(204, { 'x-accepted-points': String(accepted) });
      return res.end();
    }
    send(res, 404, { error: 'not found' });
  } catch (error) {
    send(res, 400, { error: String(error.message ?? error) });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// --- the monitored fleet's agents ---------------------------------------------------

/** Hour of the simulated day. */
const hourOfDay = () => (CLOCK_H + programSeconds() / 3600) % 24;

/** Share of peak traffic at an hour of the day: quiet night, morning ramp, lunch dip, evening decline. */
function traffic(h) {
  const bump = (centre, width) => Math.exp(-(((h - centre) / width) ** 2));
  const level = 0.12 + 0.95 * bump(10.5, 2.6) + 0.9 * bump(15, 2.8) - 0.12 * bump(12.5, 0.6);
  return Math.max(0.12, Math.min(1, level));
}

const SERVICES = ['checkout', 'catalogue', 'search', 'accounts', 'payments', 'shipping'];
const REGIONS = ['eu-west-1', 'eu-central-1'];
const ROUTES = ['/api/cart', '/api/cart/items', '/api/products/:id', '/api/search', '/api/orders', '/api/orders/:id', '/api/session', '/api/payments', '/api/shipping/quote', '/api/recommendations', '/api/stock/:sku', '/api/users/me'];

const agents = Array.from({ length: 40 }, (_, i) => ({
  host: `ip-10-0-${(i * 37) % 250}-${(i * 91) % 250}.${REGIONS[i % 2]}.compute.internal`,
  region: REGIONS[i % 2],
  service: SERVICES[i % SERVICES.length],
  version: `2024.11.${1 + (i % 4)}`,
}));
let nextAgent = 0;

function agentBatch() {
  const load = traffic(hourOfDay());
  // The autoscaler runs 8-40 instances; only the ones running report.
  const running = Math.max(8, Math.round(agents.length * load));
  const agent = agents[nextAgent++ % running];
  const now = Date.now();
  const points = [
    { name: 'process.cpu.utilisation', kind: 'gauge', value: Math.round(load * 70 + random() * 20) / 100, ts: now },
    { name: 'process.heap.used_bytes', kind: 'gauge', value: Math.round(80e6 + random() * 60e6), ts: now },
    { name: 'process.event_loop.lag_ms', kind: 'gauge', value: Math.round(random() * 40) / 10, ts: now },
  ];
  const routes = 4 + Math.round(load * (ROUTES.length - 4) * (0.7 + random() * 0.3));
  for (let r = 0; r < routes; r++) {
    const route = ROUTES[r];
    const count = Math.round(load * 400 * random());
    points.push({ name: 'http.server.requests', kind: 'counter', tags: { route, method: r % 3 === 0 ? 'POST' : 'GET', status: '2xx' }, value: count, ts: now });
    points.push({ name: 'http.server.requests', kind: 'counter', tags: { route, method: r % 3 === 0 ? 'POST' : 'GET', status: '5xx' }, value: random() < 0.1 ? 1 : 0, ts: now });
    for (const q of ['0.5', '0.95', '0.99']) {
      points.push({ name: 'http.server.duration_ms', kind: 'summary', tags: { route, quantile: q }, value: Math.round((20 + random() * 30) * (q === '0.5' ? 1 : q === '0.95' ? 3 : 6)), ts: now });
    }
  }
  return { agent, sentAt: new Date(now).toISOString(), points };
}

// Each running agent reports every 10 s: 0.8-4 batches per production second.
selfRequests(port, {
  perSecond: () => Math.max(8, Math.round(agents.length * traffic(hourOfDay()))) / FLUSH_EVERY_S,
  maxInFlight: 16,
  next: () => ({ method: 'POST', path: '/v1/write', headers: { 'content-type': 'application/json' }, body: JSON.stringify(agentBatch()) }),
});

// The load balancer's health checks.
selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: pending.length,
  hour: Math.round(hourOfDay() * 100) / 100,
  traffic: Math.round(traffic(hourOfDay()) * 100) / 100,
  lastFlushSize: stats.lastFlushSize,
  batches: stats.batches,
  points: stats.points,
  flushes: stats.flushes,
  flushedPoints: stats.flushedPoints,
  failedFlushes: stats.failedFlushes,
  dropped: stats.dropped,
}));

ready(`metrics-write-behind-buffer: metric points buffered in memory, flushed to the TSDB every ${FLUSH_EVERY_S} s (clock ${CLOCK_H} h, ballast ${ballastMb} MB)`);
