// Metrics aggregation service for an autoscaled web fleet. Collectors push the
// hosts' samples every 30 s (POST /v1/push, one batch per 10 hosts, 32 series
// per host: CPU per core, memory, disks, network, per-route request counts and
// latencies, runtime gauges); the service rolls them up into one-minute windows
// (count / sum / min / max / last per series) and keeps the last 15 minutes in
// memory for the dashboards (GET /v1/query). Older windows are dropped every
// minute and series not seen for 10 minutes leave the series index.
//
// The fleet follows the shop's daily traffic: ~32 hosts at night (03:00-04:00),
// ramping up through the morning to ~160 at the 15:00 peak and back down in the
// evening (an hourly profile, linearly interpolated). Scale-in removes the
// oldest hosts, scale-out adds new host names. The working set (series x
// windows) rises and falls with the curve; nothing accumulates.
//
// SCENARIO_CLOCK_H: hour of the simulated day at start (default 12, so a 6-hour
// run sees the rise to the afternoon peak and the fall after it).
import {
  buildBallast,
  envNumber,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x3e7c);
const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 12, (v) => v >= 0 && v < 24);

const WINDOW_S = 60;
const KEEP_WINDOWS = 15;
const SERIES_TTL_S = 600;
const PUSH_EVERY_S = 30;
const HOSTS_PER_BATCH = 10;

// --- traffic curve and fleet ------------------------------------------------------------------

// share of peak traffic at each hour of the day (00:00 .. 23:00)
const HOURLY = [0.3, 0.22, 0.17, 0.15, 0.15, 0.18, 0.27, 0.42, 0.58, 0.7, 0.77, 0.82, 0.85, 0.88, 0.95, 1.0, 0.97, 0.86, 0.72, 0.62, 0.56, 0.5, 0.43, 0.36];

function hourOfDay() {
  return (CLOCK_H + programSeconds() / 3600) % 24;
}

function trafficShare(hour) {
  const h = Math.floor(hour);
  const frac = hour - h;
  return HOURLY[h] + (HOURLY[(h + 1) % 24] - HOURLY[h]) * frac;
}

function wantedHosts() {
  return Math.round(10 + 150 * trafficShare(hourOfDay()));
}

const fleet = []; // host names, oldest first
let hostSeq = 0;
const scaling = { outs: 0, ins: 0 };

function autoscale() {
  const wanted = wantedHosts();
  while (fleet.length < wanted) {
    fleet.push(`web-${(++hostSeq).toString().padStart(5, '0')}.eu-central-1${'abc'[hostSeq % 3]}`);
    scaling.outs++;
  }
  while (fleet.length > wanted) {
    fleet.shift();
    scaling.ins++;
  }
}

// --- aggregation --------------------------------------------------------------------------

/** series key -> { name, host, labels, firstSeenAt, lastSeenAt } */
const seriesIndex = new Map();
/** window start (production s) -> Map(series key -> aggregate) */
const windows = new Map();
const ingest = { batches: 0, samples: 0, rejected: 0, droppedWindows: 0, expiredSeries: 0 };

function seriesKey(name, host, labels) {
  return labels === '' ? `${name}{host="${host}"}` : `${name}{host="${host}",${labels}}`;
}

function windowFor(ts) {
  const start = ts - (ts % WINDOW_S);
  let window = windows.get(start);
  if (window === undefined) {
    window = new Map();
    windows.set(start, window);
  }
  return window;
}

function addSample(window, key, value) {
  const agg = window.get(key);
  if (agg === undefined) {
    window.set(key, { count: 1, sum: value, min: value, max: value, last: value });
    return;
  }
  agg.count++;
  agg.sum += value;
  if (value < agg.min) agg.min = value;
  if (value > agg.max) agg.max = value;
  agg.last = value;
}

function touchSeries(key, name, host, labels, now) {
  const series = seriesIndex.get(key);
  if (series !== undefined) {
    series.lastSeenAt = now;
    return;
  }
  seriesIndex.set(key, { name, host, labels, firstSeenAt: now, lastSeenAt: now });
}

function ingestBatch(batch) {
  const now = programSeconds();
  ingest.batches++;
  for (const report of batch.hosts) {
    if (now - report.ts > KEEP_WINDOWS * WINDOW_S) {
      ingest.rejected += report.samples.length;
      continue;
    }
    const window = windowFor(Math.floor(report.ts));
    for (const [name, labels, value] of report.samples) {
      const key = seriesKey(name, report.host, labels);
      touchSeries(key, name, report.host, labels, now);
      addSample(window, key, value);
      ingest.samples++;
    }
  }
}

function rollWindows() {
  const now = programSeconds();
  const oldest = now - KEEP_WINDOWS * WINDOW_S;
  for (const start of windows.keys()) {
    if (start < oldest) {
      windows.delete(start);
      ingest.droppedWindows++;
    }
  }
  for (const [key, series] of seriesIndex) {
    if (now - series.lastSeenAt > SERIES_TTL_S) {
      seriesIndex.delete(key);
      ingest.expiredSeries++;
    }
  }
}

/** Dashboard query: per-minute sum / max of `metric` over all hosts for the last `minutes`. */
function query(metric, minutes) {
  const now = programSeconds();
  const out = [];
  for (const [start, window] of windows) {
    if (start < now - minutes * WINDOW_S) continue;
    let sum = 0;
    let max = -Infinity;
    let hosts = 0;
    for (const [key, agg] of window) {
      if (!key.startsWith(metric) || key.charCodeAt(metric.length) !== 123 /* { */) continue;
      sum += agg.sum / agg.count;
      if (agg.max > max) max = agg.max;
      hosts++;
    }
    out.push({ start, hosts, sum: Math.round(sum * 100) / 100, max });
  }
  return out.sort((a, b) => a.start - b.start);
}

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://metrics.local');
  if (req.method === 'POST' && url.pathname === '/v1/push') {
    const batch = JSON.parse((await readBody(req)).toString('utf8'));
    if (!Array.isArray(batch.hosts)) return sendJson(res, 400, { error: 'hosts: array' });
    ingestBatch(batch);
    return sendJson(res, 202, { accepted: batch.hosts.length });
  }
  if (req.method === 'GET' && url.pathname === '/v1/query') {
    const metric = url.searchParams.get('metric') ?? 'cpu_seconds';
    const minutes = Math.min(KEEP_WINDOWS, Number(url.searchParams.get('minutes') ?? 5));
    return sendJson(res, 200, { metric, points: query(metric, minutes) });
  }
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, series: seriesIndex.size, windows: windows.size });
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: collectors and dashboards ----------------------------------------------------

const ROUTES = ['/', '/search', '/product', '/cart', '/checkout', '/api/stock'];

/** One host's 32 samples: [name, labels, value]. */
function hostSamples(load) {
  const samples = [];
  for (let core = 0; core < 4; core++) samples.push(['cpu_seconds', `core="${core}"`, 25 * load + random() * 10]);
  samples.push(['mem_used_bytes', '', 2.1e9 + load * 1.5e9 + random() * 1e8]);
  samples.push(['mem_cached_bytes', '', 6e8 + random() * 2e8]);
  for (const dev of ['nvme0n1', 'nvme1n1']) {
    samples.push(['disk_read_bytes', `dev="${dev}"`, Math.round(random() * 4e6)]);
    samples.push(['disk_write_bytes', `dev="${dev}"`, Math.round(load * 9e6 * random())]);
  }
  samples.push(['net_rx_bytes', 'iface="eth0"', Math.round(load * 4e7 * (0.8 + random() * 0.4))]);
  samples.push(['net_tx_bytes', 'iface="eth0"', Math.round(load * 9e7 * (0.8 + random() * 0.4))]);
  for (const route of ROUTES) {
    samples.push(['http_requests', `route="${route}"`, Math.round(load * 300 * (0.5 + random()))]);
    samples.push(['http_latency_ms', `route="${route}",q="p95"`, 40 + load * 120 * random()]);
  }
  samples.push(['gc_pause_ms', '', random() * 12]);
  samples.push(['event_loop_lag_ms', '', 1 + random() * 8 * load]);
  samples.push(['open_fds', '', 200 + Math.round(load * 800)]);
  samples.push(['threads', '', 40 + Math.round(random() * 6)]);
  samples.push(['heap_used_bytes', '', 3e8 + random() * 2e8]);
  samples.push(['http_errors', 'code="5xx"', random() < 0.05 ? 1 : 0]);
  samples.push(['http_errors', 'code="4xx"', Math.round(random() * 20 * load)]);
  samples.push(['uptime_seconds', '', Math.round(programSeconds())]);
  return samples;
}

let cursor = 0;

function collectorPush() {
  if (fleet.length === 0) return null;
  const now = programSeconds();
  const load = trafficShare(hourOfDay());
  const hosts = [];
  for (let i = 0; i < HOSTS_PER_BATCH && i < fleet.length; i++) {
    cursor = (cursor + 1) % fleet.length;
    hosts.push({ host: fleet[cursor], ts: now - random() * 5, samples: hostSamples(load) });
  }
  return { method: 'POST', path: '/v1/push', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ collector: `col-${cursor % 8}`, hosts }) };
}

const METRICS = ['cpu_seconds', 'http_requests', 'http_latency_ms', 'mem_used_bytes', 'event_loop_lag_ms'];

function dashboardQuery() {
  return { method: 'GET', path: `/v1/query?metric=${METRICS[Math.floor(random() * METRICS.length)]}&minutes=${5 + Math.floor(random() * 10)}` };
}

const ballastMb = buildBallast();
autoscale();
const { port } = await listen(handler);

// the autoscaler (every minute) and the window roll-up (every minute), production time
setInterval(autoscale, (60 * 1000) / speed);
setInterval(rollWindows, (WINDOW_S * 1000) / speed);

const collectors = selfRequests(port, { perSecond: () => fleet.length / (PUSH_EVERY_S * HOSTS_PER_BATCH), maxInFlight: 8, next: collectorPush });
const dashboards = selfRequests(port, { perSecond: 0.2, maxInFlight: 4, next: dashboardQuery });

reportStats(() => {
  let aggregates = 0;
  for (const window of windows.values()) aggregates += window.size;
  return {
    retained: aggregates,
    series: seriesIndex.size,
    windows: windows.size,
    hosts: fleet.length,
    clock: Math.round(hourOfDay() * 100) / 100,
    samples: ingest.samples,
    requestsFailed: collectors.failed + dashboards.failed,
  };
});

ready(
  `metrics-aggregator-daily-traffic: one-minute roll-ups of an autoscaled fleet (~32 hosts at night, 160 at the 15:00 peak, 32 series each), last 15 min kept, clock starts ${CLOCK_H}:00 (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
