// Metrics aggregator of a shop's Kubernetes namespace (leak from the onset,
// 2 h by default).
//
// Every pod pushes its metrics (POST /v1/push, JSON) every 30 s: request
// counters and latency histograms per route, job counters and histograms per
// queue and job type, and the Node.js process metrics. The aggregator keeps
// per-series state (last value, rate, histogram buckets, first/last seen) in
// the module-level Map `seriesState`, keyed by metric name and labels (the pod
// name is a label), and answers the dashboard's and the alert rules' queries
// from it, skipping series not seen for 5 minutes. It also keeps `metricNames`,
// a registry of every metric name with its type and help text, which grows
// when a team ships new instrumentation: a few names a day.
//
// Nothing ever deletes a series: the aggregator was written when the services
// ran on VMs with fixed host names. The pods were stable until the onset, when
// the `queue-worker` deployment (20 pods) moves to a spot node pool with a
// consolidating autoscaler: from then on its pods are preempted or moved ~13
// times an hour, each replacement gets a new pod name, and the ~60 series of
// every dead pod stay in `seriesState` (~0.7 MiB an hour).
//
// SCENARIO_ONSET (speed-1 seconds, default 7200) moves the move to spot. All
// times come from the production clock (programSeconds()).
import { buildBallast, every, listen, onsetSeconds, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const ONSET_SECONDS = onsetSeconds(7200);
const PUSH_INTERVAL_SECONDS = 30;
const STALE_AFTER_SECONDS = 300;
const SPOT_MOVES_PER_HOUR = 13;
const NEW_METRIC_NAMES_PER_DAY = 4;
const MAX_SERIES = 200_000; // refuse new series beyond this (like a sample limit)
const HISTOGRAM_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, Infinity];

function now() {
  return programSeconds();
}

function exponential(mean, random) {
  return -Math.log(1 - random()) * mean;
}

function pick(list, random) {
  return list[Math.floor(random() * list.length)];
}

// --- aggregator state ------------------------------------------------------------

/** metric name -> { name, type, help, firstSeenAt, firstSeenPod, series } */
const metricNames = new Map();
/** series key -> per-series state (see newSeriesState) */
const seriesState = new Map();
const ingestStats = { pushes: 0, samples: 0, newSeries: 0, seriesRefused: 0, counterResets: 0, queries: 0 };

function seriesKeyOf(name, labels) {
  let key = `${name}{`;
  const names = Object.keys(labels).sort();
  for (let i = 0; i < names.length; i++) key += `${i === 0 ? '' : ','}${names[i]}="${labels[names[i]]}"`;
  return `${key}}`;
}

function registerMetricName(name, type, help, pod, at) {
  let meta = metricNames.get(name);
  if (meta === undefined) {
    meta = { name, type, help: help ?? '', firstSeenAt: at, firstSeenPod: pod, series: 0 };
    metricNames.set(name, meta);
  } else if (help !== undefined && meta.help === '') meta.help = help;
  return meta;
}

function newSeriesState(key, sample, labels, at) {
  return {
    key,
    name: sample.name,
    type: sample.type,
    labels,
    pod: labels.pod,
    deployment: labels.deployment,
    value: 0,
    rate: 0,
    count: 0,
    sum: 0,
    buckets: sample.type === 'histogram' ? new Array(HISTOGRAM_BOUNDS.length).fill(0) : null,
    firstSeenAt: at,
    lastSeenAt: at,
    resets: 0,
  };
}

function updateSeries(state, sample, at) {
  const dt = Math.max(1, at - state.lastSeenAt);
  if (sample.type === 'histogram') {
    if (sample.count < state.count) state.resets++;
    state.rate = Math.max(0, sample.count - state.count) / dt;
    state.count = sample.count;
    state.sum = sample.sum;
    for (let i = 0; i < state.buckets.length; i++) state.buckets[i] = sample.buckets[i];
  } else if (sample.type === 'counter') {
    if (sample.value < state.value) {
      state.resets++;
      ingestStats.counterResets++;
      state.rate = sample.value / dt;
    } else state.rate = (sample.value - state.value) / dt;
    state.value = sample.value;
  } else state.value = sample.value;
  state.lastSeenAt = at;
}

function ingestPush(push, at) {
  ingestStats.pushes++;
  if (Array.isArray(push.metadata)) for (const m of push.metadata) registerMetricName(m.name, m.type, m.help, push.pod, at);
  const target = { namespace: push.namespace, deployment: push.deployment, pod: push.pod, node: push.node };
  for (const sample of push.samples) {
    ingestStats.samples++;
    const labels = { ...target, ...sample.labels };
    const key = seriesKeyOf(sample.name, labels);
    let state = seriesState.get(key);
    if (state === undefined) {
      if (seriesState.size >= MAX_SERIES) {
        ingestStats.seriesRefused++;
        continue;
      }
      state = newSeriesState(key, sample, labels, at);
      seriesState.set(key, state);
      registerMetricName(sample.name, sample.type, undefined, push.pod, at).series++;
      ingestStats.newSeries++;
    }
    updateSeries(state, sample, at);
  }
}

/** Sum of a metric's rate (counters, histograms) or value (gauges) by one label, live series only. */
function query(metric, by) {
  ingestStats.queries++;
  const at = now();
  const groups = {};
  let live = 0;
  let stale = 0;
  for (const state of seriesState.values()) {
    if (state.name !== metric) continue;
    if (at - state.lastSeenAt > STALE_AFTER_SECONDS) {
      stale++;
      continue;
    }
    live++;
    const group = state.labels[by] ?? '';
    groups[group] = (groups[group] ?? 0) + (state.type === 'gauge' ? state.value : state.rate);
  }
  return { metric, by, live, stale, groups };
}

function targets() {
  const at = now();
  const pods = new Map();
  for (const state of seriesState.values()) {
    const seen = pods.get(state.pod);
    if (seen === undefined || seen < state.lastSeenAt) pods.set(state.pod, state.lastSeenAt);
  }
  let up = 0;
  for (const lastSeenAt of pods.values()) if (at - lastSeenAt <= 2 * PUSH_INTERVAL_SECONDS + 15) up++;
  return { up, known: pods.size };
}

// --- HTTP ------------------------------------------------------------------------

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://aggregator.local');
  if (url.pathname === '/healthz') {
    res.end('ok');
    return;
  }
  if (req.method === 'POST' && url.pathname === '/v1/push') {
    const push = JSON.parse((await readBody(req, 4 * 1024 * 1024)).toString('utf8'));
    ingestPush(push, now());
    res.writeHead(204);
    res.end();
    return;
  }
  if (req.method === 'GET' && url.pathname === '/v1/query') {
    return json(res, 200, query(url.searchParams.get('metric') ?? '', url.searchParams.get('by') ?? 'deployment'));
  }
  if (req.method === 'GET' && url.pathname === '/v1/targets') return json(res, 200, targets());
  if (req.method === 'GET' && url.pathname === '/v1/metadata') {
    return json(res, 200, { names: metricNames.size, metrics: [...metricNames.values()].map((m) => ({ name: m.name, type: m.type, help: m.help })) });
  }
  json(res, 404, { error: 'not found' });
}

// --- the namespace's pods (load) ---------------------------------------------------

const fleetRandom = rng(0x90d5);
const churnRandom = rng(0x5b07);
const NODE_POOLS = { 'on-demand': 6, spot: 9 };
const JOB_TYPES = [
  ['orders', ['order.confirm', 'order.invoice', 'order.cancel', 'order.export']],
  ['emails', ['email.receipt', 'email.shipping', 'email.password-reset']],
  ['media', ['image.resize', 'image.optimize', 'video.poster']],
];
const DEPLOYMENTS = [
  { name: 'storefront-api', replicas: 8, kind: 'http', routes: ['GET /products/:id', 'GET /categories/:slug', 'GET /search', 'GET /cart', 'POST /cart/items', 'GET /account', 'GET /stores/:id', 'GET /healthz'], db: true },
  { name: 'checkout', replicas: 4, kind: 'http', routes: ['POST /checkout', 'POST /payments', 'GET /orders/:id', 'POST /vouchers/validate', 'GET /healthz'], db: true },
  { name: 'search', replicas: 5, kind: 'http', routes: ['GET /query', 'GET /suggest', 'POST /reindex', 'GET /healthz'], db: false },
  { name: 'catalog-sync', replicas: 2, kind: 'worker', queues: JOB_TYPES.slice(2), db: true },
  { name: 'queue-worker', replicas: 20, kind: 'worker', queues: JOB_TYPES, db: true, spotFromOnset: true },
  { name: 'notifier', replicas: 3, kind: 'worker', queues: JOB_TYPES.slice(1, 2), db: false },
];
const DEFAULT_METRICS = [
  ['process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.'],
  ['process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.'],
  ['process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.'],
  ['process_open_fds', 'gauge', 'Number of open file descriptors.'],
  ['nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.'],
  ['nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.'],
  ['nodejs_external_memory_bytes', 'gauge', 'Node.js external memory size in bytes.'],
  ['nodejs_eventloop_lag_seconds', 'gauge', 'Lag of event loop in seconds.'],
  ['nodejs_active_handles_total', 'gauge', 'Number of active libuv handles.'],
  ['nodejs_active_requests_total', 'gauge', 'Number of active libuv requests.'],
];
const GC_KINDS = ['minor', 'major', 'incremental', 'weakcb'];
// Instrumentation the teams ship later (a few names a day), per deployment.
const LATER_METRICS = [
  ['checkout', 'checkout_voucher_rejections_total', 'counter', 'Vouchers rejected at checkout, by reason.', { reason: 'expired' }],
  ['storefront-api', 'storefront_ssr_cache_hits_total', 'counter', 'Server-side render cache hits.', {}],
  ['search', 'search_zero_result_queries_total', 'counter', 'Queries that returned no results.', {}],
  ['queue-worker', 'queue_lease_renewals_total', 'counter', 'Job lease renewals.', { queue: 'orders' }],
  ['notifier', 'notifier_invalid_push_tokens_total', 'counter', 'Push tokens rejected by the provider.', {}],
  ['storefront-api', 'storefront_feature_flag_fetch_seconds', 'histogram', 'Time to fetch feature flags.', {}],
  ['checkout', 'checkout_payment_retries_total', 'counter', 'Payment authorisations retried.', {}],
  ['catalog-sync', 'catalog_sync_lag_seconds', 'gauge', 'Age of the newest synced product change.', {}],
  ['search', 'search_index_segments', 'gauge', 'Segments in the live index.', {}],
  ['queue-worker', 'queue_dead_letters_total', 'counter', 'Jobs moved to the dead-letter queue.', { queue: 'emails' }],
];
const laterMetricsLive = [];

function randomSuffix(random, length) {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(random() * alphabet.length)];
  return s;
}

const replicaSetHash = new Map(DEPLOYMENTS.map((d) => [d.name, randomSuffix(fleetRandom, 10)]));

function nodeName(pool, random) {
  return `ip-10-0-${pool === 'spot' ? 64 + Math.floor(random() * NODE_POOLS.spot) : Math.floor(random() * NODE_POOLS['on-demand'])}-${Math.floor(random() * 250)}.eu-central-1.compute.internal`;
}

function series(name, type, labels) {
  return type === 'histogram'
    ? { name, type, labels, count: 0, sum: 0, buckets: new Array(HISTOGRAM_BOUNDS.length).fill(0), weight: 0.2 + fleetRandom() }
    : { name, type, labels, value: 0, weight: 0.2 + fleetRandom() };
}

/** The series a pod of this deployment exposes (pod-side state). */
function podSeries(deployment) {
  const out = [];
  if (deployment.kind === 'http') {
    for (const route of deployment.routes) {
      const [method, path] = route.split(' ');
      for (const status of ['200', '304', '400', '404', '500']) {
        if (status !== '200' && (method === 'POST') === (status === '304')) continue;
        out.push(series('http_requests_total', 'counter', { method, route: path, status }));
      }
      out.push(series('http_request_duration_seconds', 'histogram', { method, route: path }));
    }
  } else {
    for (const [queue, jobs] of deployment.queues) {
      for (const job of jobs) {
        out.push(series('jobs_processed_total', 'counter', { queue, job }));
        out.push(series('jobs_failed_total', 'counter', { queue, job }));
        out.push(series('jobs_retried_total', 'counter', { queue, job }));
        out.push(series('job_duration_seconds', 'histogram', { queue, job }));
      }
      out.push(series('queue_depth', 'gauge', { queue }));
    }
  }
  for (const [name, type] of DEFAULT_METRICS) out.push(series(name, type, {}));
  for (const kind of GC_KINDS) out.push(series('nodejs_gc_duration_seconds', 'histogram', { kind }));
  if (deployment.db) for (const state of ['idle', 'used', 'pending']) out.push(series('db_pool_connections', 'gauge', { state }));
  for (const [owner, name, type, , labels] of laterMetricsLive) if (owner === deployment.name) out.push(series(name, type, labels));
  return out;
}

/** Live pods, in push order. */
const fleet = [];
let pushCursor = 0;
const churn = { started: 0, preempted: 0, pending: 0 };

function startPod(deployment) {
  const pool = deployment.spotFromOnset && spotLive ? 'spot' : 'on-demand';
  fleet.push({
    name: `${deployment.name}-${replicaSetHash.get(deployment.name)}-${randomSuffix(fleetRandom, 5)}`,
    deployment,
    node: nodeName(pool, fleetRandom),
    pool,
    series: podSeries(deployment),
    pushes: 0,
  });
  churn.started++;
}

function stopPod(pod) {
  const index = fleet.indexOf(pod);
  if (index < 0) return;
  fleet.splice(index, 1);
  if (pushCursor > index) pushCursor--;
}

const sampleRandom = rng(0x5a3e);
function advance(s) {
  const n = Math.floor(s.weight * 12 * sampleRandom());
  if (s.type === 'histogram') {
    for (let k = 0; k < n; k++) {
      const seconds = 0.004 * Math.exp(4 * sampleRandom());
      s.count++;
      s.sum += seconds;
      for (let i = 0; i < HISTOGRAM_BOUNDS.length; i++) if (seconds <= HISTOGRAM_BOUNDS[i]) s.buckets[i]++;
    }
  } else if (s.type === 'counter') s.value += n;
  else s.value = Math.round(s.weight * 1000 * (0.8 + 0.4 * sampleRandom()));
}

function nextPush() {
  if (fleet.length === 0) return null;
  if (pushCursor >= fleet.length) pushCursor = 0;
  const pod = fleet[pushCursor++];
  const samples = [];
  for (const s of pod.series) {
    advance(s);
    samples.push(s.type === 'histogram' ? { name: s.name, type: s.type, labels: s.labels, count: s.count, sum: s.sum, buckets: s.buckets } : { name: s.name, type: s.type, labels: s.labels, value: s.value });
  }
  const push = { namespace: 'shop', deployment: pod.deployment.name, pod: pod.name, node: pod.node, ts: Math.round(now()), samples };
  // Metadata (type and help) with the first push and every 20th.
  if (pod.pushes++ % 20 === 0) {
    push.metadata = [];
    const seen = new Set();
    for (const s of pod.series) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      push.metadata.push({ name: s.name, type: s.type, help: helpOf(s.name) });
    }
  }
  return { method: 'POST', path: '/v1/push', headers: { 'content-type': 'application/json' }, body: JSON.stringify(push) };
}

const HELP = new Map([
  ['http_requests_total', 'HTTP requests served.'],
  ['http_request_duration_seconds', 'HTTP request duration in seconds.'],
  ['jobs_processed_total', 'Jobs processed.'],
  ['jobs_failed_total', 'Jobs that failed.'],
  ['jobs_retried_total', 'Jobs retried.'],
  ['job_duration_seconds', 'Job duration in seconds.'],
  ['queue_depth', 'Jobs waiting in the queue.'],
  ['nodejs_gc_duration_seconds', 'Garbage collection duration by kind.'],
  ['db_pool_connections', 'Database pool connections by state.'],
  ...DEFAULT_METRICS.map(([name, , help]) => [name, help]),
  ...LATER_METRICS.map(([, name, , help]) => [name, help]),
]);
function helpOf(name) {
  return HELP.get(name) ?? '';
}

// The move to spot: preemptions and consolidation moves, each replaced by a new pod 40-120 s later.
let spotLive = false;
let nextMoveAt = Infinity;
function churnTick() {
  const at = now();
  if (!spotLive && at >= ONSET_SECONDS) {
    spotLive = true;
    nextMoveAt = at + exponential(3600 / SPOT_MOVES_PER_HOUR, churnRandom);
  }
  while (at >= nextMoveAt) {
    const candidates = fleet.filter((p) => p.deployment.spotFromOnset);
    if (candidates.length > 0) {
      const victim = pick(candidates, churnRandom);
      stopPod(victim);
      churn.preempted++;
      churn.pending++;
      setTimeout(() => {
        churn.pending--;
        startPod(victim.deployment);
      }, scaledMs(40 + churnRandom() * 80));
    }
    nextMoveAt += exponential(3600 / SPOT_MOVES_PER_HOUR, churnRandom);
  }
}

// New instrumentation shipped by the teams: a few metric names a day.
const namesRandom = rng(0x4e41);
let nextNameAt = exponential((24 * 3600) / NEW_METRIC_NAMES_PER_DAY, namesRandom);
function newInstrumentationTick() {
  while (now() >= nextNameAt && laterMetricsLive.length < LATER_METRICS.length) {
    const later = LATER_METRICS[laterMetricsLive.length];
    laterMetricsLive.push(later);
    const [owner, name, type, , labels] = later;
    for (const pod of fleet) if (pod.deployment.name === owner) pod.series.push(series(name, type, labels));
    nextNameAt += exponential((24 * 3600) / NEW_METRIC_NAMES_PER_DAY, namesRandom);
  }
}

// --- main --------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) json(res, 500, { error: String(err?.message ?? err) });
  });
});

for (const deployment of DEPLOYMENTS) for (let i = 0; i < deployment.replicas; i++) startPod(deployment);

const pushes = selfRequests(port, { perSecond: () => fleet.length / PUSH_INTERVAL_SECONDS, next: nextPush, maxInFlight: 32 });
const DASHBOARD_QUERIES = [
  ['http_requests_total', 'deployment'],
  ['http_request_duration_seconds', 'route'],
  ['jobs_processed_total', 'job'],
  ['jobs_failed_total', 'queue'],
  ['queue_depth', 'queue'],
  ['process_resident_memory_bytes', 'pod'],
  ['nodejs_eventloop_lag_seconds', 'deployment'],
];
let queryCursor = 0;
const dashboard = selfRequests(port, {
  perSecond: 1 / 15,
  next: () => {
    const [metric, by] = DASHBOARD_QUERIES[queryCursor++ % DASHBOARD_QUERIES.length];
    return { method: 'GET', path: `/v1/query?metric=${metric}&by=${by}` };
  },
  maxInFlight: 2,
});
const alerts = selfRequests(port, { perSecond: 1 / 60, next: () => ({ method: 'GET', path: '/v1/targets' }), maxInFlight: 1 });
const metadata = selfRequests(port, { perSecond: 1 / 600, next: () => ({ method: 'GET', path: '/v1/metadata' }), maxInFlight: 1 });
const probes = selfRequests(port, { perSecond: 0.1, next: () => ({ method: 'GET', path: '/healthz' }), maxInFlight: 2 });
every(scaledMs(5), churnTick);
every(scaledMs(60), newInstrumentationTick);

reportStats(() => {
  let stale = 0;
  const at = now();
  for (const state of seriesState.values()) if (at - state.lastSeenAt > STALE_AFTER_SECONDS) stale++;
  return {
    retained: seriesState.size,
    staleSeries: stale,
    metricNames: metricNames.size,
    pods: fleet.length,
    podsStarted: churn.started,
    preempted: churn.preempted,
    spot: spotLive,
    pushes: ingestStats.pushes,
    samples: ingestStats.samples,
    newSeries: ingestStats.newSeries,
    seriesRefused: ingestStats.seriesRefused,
    queries: ingestStats.queries,
    sent: pushes.sent + dashboard.sent + alerts.sent + metadata.sent + probes.sent,
    failed: pushes.failed + dashboard.failed + alerts.failed + metadata.failed + probes.failed,
  };
});

ready(`metrics-aggregator-dead-pod-series-leak on 127.0.0.1:${port}: ${fleet.length} pods, queue-worker to spot at ${ONSET_SECONDS} s (ballast ${ballastMb} MB)`);
