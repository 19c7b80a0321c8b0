// Metrics ingest gateway of a monitoring SaaS (leaky, heap, from start).
//
// Each tenant's agent pushes its samples once a minute (POST /v1/metrics).
// The gateway keeps every tenant's raw samples of the last 10 minutes in
// memory (class TenantSeries, one per tenant, in the module-level Map
// `tenantSamples`) for the live dashboards (GET /v1/tenants/:id/latest), and
// ships them to long-term storage: the exporter sends each tenant's new
// samples every 30 s and marks them exported; the compaction job (every
// 60 s) drops samples that are older than the retention AND exported
// ("never drop what we have not shipped").
//
// The bug: since storage v2, histogram buckets are shipped with normalised
// labels, so prepareForExport() returns a copy for them, and the exporter
// marks what it sent, i.e. the copies. The original bucket samples are never
// marked exported, so compaction keeps them for good. Every tenant pushes the
// same three buckets every 2 minutes, so the samples arrays of all 150
// tenants grow by ~90 samples an hour each, evenly.
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

const RAW_RETENTION_MS = 10 * 60_000;
const EXPORT_EVERY_S = 30;
const COMPACT_EVERY_S = 60;
const EPOCH = Date.parse('2026-12-07T06:00:00Z');
const clock = () => EPOCH + Math.round(programSeconds() * 1000);

class TenantSeries {
  constructor(tenantId) {
    this.tenantId = tenantId;
    this.samples = [];
    this.exportCursor = 0;
    this.lastPushAt = 0;
    this.pushes = 0;
  }
}

/** tenantId → TenantSeries */
const tenantSamples = new Map();
const totals = { pushes: 0, samples: 0, exported: 0, exportBatches: 0, compacted: 0, exportedBytes: 0 };

function seriesFor(tenantId) {
  let series = tenantSamples.get(tenantId);
  if (series === undefined) {
    series = new TenantSeries(tenantId);
    tenantSamples.set(tenantId, series);
  }
  return series;
}

function toSample(raw, receivedAt) {
  return {
    ts: raw.ts,
    metric: raw.name,
    kind: raw.kind,
    value: raw.value,
    labels: raw.labels ?? null,
    receivedAt,
    exported: false,
  };
}

function ingest(tenantId, payload) {
  const series = seriesFor(tenantId);
  const receivedAt = clock();
  for (const raw of payload.samples) series.samples.push(toSample(raw, receivedAt));
  series.lastPushAt = receivedAt;
  series.pushes++;
  totals.pushes++;
  totals.samples += payload.samples.length;
}

// --- Export to long-term storage ----------------------------------------------

function normaliseLe(le) {
  return le === '+Inf' ? '+Inf' : String(Number.parseFloat(le));
}

/** What storage v2 accepts: histogram buckets carry a normalised `le` and no agent labels. */
function prepareForExport(sample) {
  if (sample.kind !== 'bucket') return sample;
  return { ...sample, labels: { le: normaliseLe(sample.labels.le), job: sample.labels.job } };
}

const storage = {
  // Stand-in for the remote-write client: serialises the batch, "sends" it, acks a few ms later.
  write(tenantId, batch) {
    const body = JSON.stringify({ tenant: tenantId, samples: batch });
    totals.exportedBytes += body.length;
    return new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 6));
  },
};

async function exportSeries(series) {
  const batch = series.samples.slice(series.exportCursor).map(prepareForExport);
  if (batch.length === 0) return;
  series.exportCursor = series.samples.length;
  await storage.write(series.tenantId, batch);
  for (const sample of batch) sample.exported = true;
  totals.exported += batch.length;
  totals.exportBatches++;
}

let exporting = false;
async function exportAll() {
  if (exporting) return;
  exporting = true;
  try {
    await Promise.all(Array.from(tenantSamples.values(), exportSeries));
  } finally {
    exporting = false;
  }
}

function compact(series, cutoff) {
  const kept = [];
  let dropped = 0;
  let droppedBeforeCursor = 0;
  for (let i = 0; i < series.samples.length; i++) {
    const sample = series.samples[i];
    if (sample.ts < cutoff && sample.exported) {
      dropped++;
      if (i < series.exportCursor) droppedBeforeCursor++;
    } else {
      kept.push(sample);
    }
  }
  if (dropped === 0) return 0;
  series.samples = kept;
  series.exportCursor -= droppedBeforeCursor;
  return dropped;
}

function compactAll() {
  const cutoff = clock() - RAW_RETENTION_MS;
  for (const series of tenantSamples.values()) totals.compacted += compact(series, cutoff);
}

// --- HTTP ---------------------------------------------------------------------

function latest(series) {
  const out = {};
  for (let i = series.samples.length - 1; i >= 0; i--) {
    const sample = series.samples[i];
    const key = sample.labels?.le === undefined ? sample.metric : `${sample.metric}{le="${sample.labels.le}"}`;
    if (!(key in out)) out[key] = { value: sample.value, ts: sample.ts };
    if (series.samples.length - i > 64) break;
  }
  return out;
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/metrics') {
      const tenantId = req.headers['x-tenant-id'];
      if (typeof tenantId !== 'string') {
        sendJson(res, 401, { error: 'missing tenant' });
        return;
      }
      ingest(tenantId, JSON.parse((await readBody(req)).toString('utf8')));
      res.writeHead(204);
      res.end();
      return;
    }
    const match = /^\/v1\/tenants\/([\w-]+)\/latest$/.exec(req.url);
    if (req.method === 'GET' && match !== null) {
      const series = tenantSamples.get(match[1]);
      sendJson(res, series === undefined ? 404 : 200, series === undefined ? { error: 'unknown tenant' } : latest(series));
      return;
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- The tenants' agents ------------------------------------------------------

const random = rng(31337);
const TENANTS = 150;
const PUSH_EVERY_S = 60;
const DASHBOARD_READS_PER_S = 0.5;
const GAUGES = [
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
  'http_requests_total',
  'http_requests_errors_total',
  'http_request_duration_seconds_sum',
  'http_request_duration_seconds_count',
  'db_pool_connections_in_use',
  'queue_depth',
  'cache_hit_ratio',
];
const BUCKETS = ['0.1', '1.0', '+Inf'];

const agents = [];
for (let i = 0; i < TENANTS; i++) {
  agents.push({
    tenantId: `tenant-${(1000 + i * 7).toString(36)}`,
    job: ['api', 'worker', 'web', 'billing'][i % 4],
    nextPushAt: random() * PUSH_EVERY_S,
    counter: Math.floor(random() * 1e6),
    pushes: 0,
  });
}

function pushBody(agent, ts) {
  agent.counter += Math.floor(random() * 400);
  const samples = GAUGES.map((name, i) => ({ name, kind: name.endsWith('_total') || name.endsWith('_count') ? 'counter' : 'gauge', value: i === 3 ? agent.counter : Math.round(random() * 1e6) / 1000, ts }));
  // The queue-wait histogram comes from a slow collector that runs every other push (2 minutes).
  if (agent.pushes++ % 2 === 0) {
    let cumulative = 0;
    for (const le of BUCKETS) {
      cumulative += Math.floor(random() * 200);
      samples.push({ name: 'job_queue_wait_seconds_bucket', kind: 'bucket', value: cumulative, ts, labels: { le, job: agent.job } });
    }
  }
  return JSON.stringify({ agent: 'metrics-agent/2.7.1', samples });
}

const outbox = [];

/** One second of agent activity (production time). */
function tick() {
  const t = programSeconds();
  const ts = clock();
  for (const agent of agents) {
    if (t < agent.nextPushAt) continue;
    agent.nextPushAt += PUSH_EVERY_S;
    outbox.push({ method: 'POST', path: '/v1/metrics', headers: { 'content-type': 'application/json', 'x-tenant-id': agent.tenantId }, body: pushBody(agent, ts) });
  }
  if (random() < DASHBOARD_READS_PER_S) outbox.push({ method: 'GET', path: `/v1/tenants/${agents[Math.floor(random() * TENANTS)].tenantId}/latest` });
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
every(scaledMs(1), tick);
every(scaledMs(EXPORT_EVERY_S), exportAll);
every(scaledMs(COMPACT_EVERY_S), compactAll);
const traffic = selfRequests(port, { perSecond: 8, next: () => outbox.shift() ?? null });

reportStats(() => {
  let held = 0;
  let unexported = 0;
  for (const series of tenantSamples.values()) {
    held += series.samples.length;
    for (const sample of series.samples) if (!sample.exported) unexported++;
  }
  return {
    retained: held,
    unexported,
    tenants: tenantSamples.size,
    pushes: totals.pushes,
    exported: totals.exported,
    compacted: totals.compacted,
    requests: traffic.completed,
    queued: outbox.length,
  };
});
ready(`tenant-metric-samples-leak: per-tenant raw samples, 150 tenants pushing once a minute, exporter marks copies of histogram buckets; ballast ${ballastMb} MB`);
