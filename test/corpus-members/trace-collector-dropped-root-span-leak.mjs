// Distributed-tracing collector with tail-based sampling. Services' exporters
// POST span batches (/v1/traces, OTLP-like JSON, one batch per service every
// 5 s). The collector drops spans matching its drop rules, normalizes the
// rest (toSpan) and buffers them per trace id in the module-level Map
// `pendingTraces` (class TraceBuffer, `spans` array) until the trace's root
// span has arrived and a 10-second decision wait has passed for late
// children; then it decides (errors and slow traces kept, 10 % of the rest)
// and exports the trace, and drops the buffer. Spans of a trace already
// decided are exported on their own ("late").
//
// At the onset (SCENARIO_ONSET, default 90 min) the platform team adds a drop
// rule to cut the noise of synthetic monitoring: spans whose
// `http.user_agent` starts with "SyntheticsBot" are dropped at ingest. Only
// the edge gateway's root span carries the user agent; the synthetic checks'
// child spans (cart, checkout, catalog, payment and database calls) do not,
// so they are still buffered, and their trace's root never comes: those
// buffers wait in `pendingTraces` for good. There is no age limit on a buffer.
import {
  buildBallast,
  every,
  listen,
  onsetMs,
  onsetSeconds,
  paced,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7ace5);
const SYNTHETICS_RULE_FROM_S = onsetSeconds(5400);

const wallMs = (seconds) => (seconds * 1000) / speed;

// --- buffering and sampling ------------------------------------------------------------

const DECISION_WAIT_S = 10;
const REMEMBER_DECIDED_S = 300;

/** Spans waiting for their trace's root span (and the decision wait), by trace id. */
const pendingTraces = new Map();
/** Trace ids decided in the last 5 minutes -> when (insertion order), so late spans are exported without a new buffer. */
const decided = new Map();

const dropRules = [{ name: 'lb-health-checks', matches: (span) => span.name === 'GET /healthz' }];

const counters = { spansReceived: 0, spansDropped: 0, spansBuffered: 0, lateSpans: 0, tracesDecided: 0, tracesKept: 0, batches: 0 };

class TraceBuffer {
  constructor(traceId, now) {
    this.traceId = traceId;
    this.spans = [];
    this.firstSeenAt = now;
    this.rootArrivedAt = null;
    this.hasError = false;
  }

  add(span, now) {
    this.spans.push(span);
    if (span.parentSpanId === null) this.rootArrivedAt = now;
    if (span.status === 'ERROR') this.hasError = true;
  }
}

/** The collector's internal span: OTLP fields flattened, attributes copied from the key/value list. */
function toSpan(raw, service) {
  const attributes = {};
  for (const kv of raw.attributes ?? []) attributes[kv.key] = kv.value.stringValue ?? kv.value.intValue ?? kv.value.boolValue ?? null;
  const startUs = Math.round(Number(raw.startTimeUnixNano) / 1000);
  return {
    traceId: raw.traceId,
    spanId: raw.spanId,
    parentSpanId: raw.parentSpanId || null,
    name: raw.name,
    service,
    kind: raw.kind,
    startUs,
    durationUs: Math.round(Number(raw.endTimeUnixNano) / 1000) - startUs,
    attributes,
    status: raw.status?.code === 2 ? 'ERROR' : 'OK',
  };
}

function shouldDrop(span) {
  for (const rule of dropRules) if (rule.matches(span)) return true;
  return false;
}

function ingestBatch(batch, now) {
  counters.batches++;
  const service = batch.resource?.attributes?.find((kv) => kv.key === 'service.name')?.value.stringValue ?? 'unknown';
  for (const raw of batch.spans) {
    counters.spansReceived++;
    const span = toSpan(raw, service);
    if (shouldDrop(span)) {
      counters.spansDropped++;
      continue;
    }
    if (decided.has(span.traceId)) {
      exporter.exportLate(span);
      counters.lateSpans++;
      continue;
    }
    let buffer = pendingTraces.get(span.traceId);
    if (buffer === undefined) pendingTraces.set(span.traceId, (buffer = new TraceBuffer(span.traceId, now)));
    buffer.add(span, now);
    counters.spansBuffered++;
  }
}

/** Every 2 s: traces whose root arrived at least DECISION_WAIT_S ago are decided and exported. */
function decideReadyTraces() {
  const now = programSeconds();
  for (const [traceId, at] of decided) {
    if (now - at < REMEMBER_DECIDED_S) break;
    decided.delete(traceId);
  }
  for (const [traceId, buffer] of pendingTraces) {
    if (buffer.rootArrivedAt === null || now - buffer.rootArrivedAt < DECISION_WAIT_S) continue;
    pendingTraces.delete(traceId);
    decided.set(traceId, now);
    counters.tracesDecided++;
    const root = buffer.spans.find((s) => s.parentSpanId === null);
    const keep = buffer.hasError || root.durationUs > 1_500_000 || random() < 0.1;
    if (keep) {
      exporter.exportTrace(buffer);
      counters.tracesKept++;
    }
  }
}

// --- the tracing backend (stand-in) ------------------------------------------------------------

const exporter = {
  traces: 0,
  spans: 0,
  late: 0,
  byService: new Map(),
  exportTrace(buffer) {
    this.traces++;
    for (const span of buffer.spans) {
      this.spans++;
      const agg = this.byService.get(span.service) ?? { spans: 0, errors: 0, totalUs: 0 };
      agg.spans++;
      agg.totalUs += span.durationUs;
      if (span.status === 'ERROR') agg.errors++;
      this.byService.set(span.service, agg);
    }
  },
  exportLate() {
    this.late++;
  },
};

// --- HTTP ------------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://collector.local');
  try {
    if (req.method === 'POST' && url.pathname === '/v1/traces') {
      const body = JSON.parse((await readBody(req, 4 * 1024 * 1024)).toString('utf8'));
      const now = programSeconds();
      for (const batch of body.resourceSpans) ingestBatch(batch, now);
      return sendJson(res, 200, { partialSuccess: {} });
    }
    if (req.method === 'GET' && url.pathname === '/v1/status') {
      return sendJson(res, 200, { pendingTraces: pendingTraces.size, dropRules: dropRules.map((r) => r.name), ...counters, exported: exporter.traces });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the instrumented services (the load) ----------------------------------------------------------

const SERVICES = ['edge-gateway', 'storefront', 'cart', 'checkout', 'catalog', 'payments', 'inventory'];
const ROUTES = [
  { route: 'GET /products/:id', calls: [['catalog', 'GET catalog.product', ['db', 'cache']], ['inventory', 'GET inventory.stock', ['db']]] },
  { route: 'GET /search', calls: [['catalog', 'POST catalog.search', ['db', 'db', 'cache']]] },
  { route: 'POST /cart/items', calls: [['cart', 'POST cart.add', ['cache', 'db']], ['inventory', 'GET inventory.stock', ['db']]] },
  { route: 'GET /cart', calls: [['cart', 'GET cart.view', ['cache']], ['catalog', 'POST catalog.batch', ['db']]] },
  { route: 'POST /checkout', calls: [['cart', 'GET cart.view', ['cache']], ['checkout', 'POST checkout.place', ['db', 'db']], ['payments', 'POST payments.authorize', ['http', 'db']], ['inventory', 'POST inventory.reserve', ['db']]] },
];
const SYNTHETIC_JOURNEYS = [ROUTES[0], ROUTES[2], ROUTES[4]];
const USER_AGENTS = ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36', 'ShopApp/8.4.1 (Android 14)'];
const DB_STATEMENTS = ['SELECT * FROM products WHERE id = $1', 'SELECT sku, qty FROM stock WHERE sku = ANY($1)', 'INSERT INTO cart_items (cart_id, sku, qty) VALUES ($1, $2, $3)', 'UPDATE orders SET state = $1 WHERE id = $2'];

const hex = (digits) => {
  let out = '';
  while (out.length < digits) out += Math.floor(random() * 0x100000000).toString(16).padStart(8, '0');
  return out.slice(0, digits);
};
const attr = (key, value) => ({ key, value: typeof value === 'number' ? { intValue: value } : { stringValue: String(value) } });

/** Spans waiting in each service's batch exporter. */
const exportQueues = new Map(SERVICES.map((s) => [s, []]));

function emit(service, span) {
  exportQueues.get(service).push(span);
}

function rawSpan(traceId, parentSpanId, name, kind, startNs, durationNs, attributes, error) {
  return {
    traceId,
    spanId: hex(16),
    parentSpanId,
    name,
    kind,
    startTimeUnixNano: String(startNs),
    endTimeUnixNano: String(startNs + durationNs),
    attributes,
    status: { code: error ? 2 : 1 },
  };
}

/** One request through the shop: the edge's root span, a server span per downstream service, its client spans (db, cache, http). */
function generateTrace(synthetic) {
  const traceId = hex(32);
  const route = synthetic ? SYNTHETIC_JOURNEYS[Math.floor(random() * SYNTHETIC_JOURNEYS.length)] : ROUTES[Math.floor(random() * ROUTES.length)];
  const startNs = (1_717_000_000 + programSeconds()) * 1e9;
  const error = random() < 0.01;
  let cursor = startNs + 2e6;
  const rootId = hex(16);
  for (const [service, name, clients] of route.calls) {
    const serverSpan = rawSpan(traceId, rootId, name, 2, cursor, 0, [attr('rpc.system', 'http'), attr('http.method', name.split(' ')[0]), attr('net.peer.name', `${service}.svc.cluster.local`)], false);
    let inner = cursor + 5e5;
    for (const client of clients) {
      const d = Math.round((0.5 + random() * (client === 'http' ? 200 : 12)) * 1e6);
      const attributes =
        client === 'db'
          ? [attr('db.system', 'postgresql'), attr('db.statement', DB_STATEMENTS[Math.floor(random() * DB_STATEMENTS.length)]), attr('db.name', `${service}_db`), attr('net.peer.name', 'pg-primary.internal')]
          : client === 'cache'
            ? [attr('db.system', 'redis'), attr('db.operation', random() < 0.7 ? 'GET' : 'SET'), attr('net.peer.name', 'redis.internal')]
            : [attr('http.method', 'POST'), attr('http.url', 'https://api.psp.example/v2/authorizations'), attr('http.status_code', 201)];
      emit(service, rawSpan(traceId, serverSpan.spanId, client === 'http' ? 'POST psp.authorize' : `${client} ${service}`, 3, inner, d, attributes, false));
      inner += d + 2e5;
    }
    serverSpan.endTimeUnixNano = String(inner + 3e5);
    emit(service, serverSpan);
    cursor = inner + 1e6;
  }
  const rootAttributes = [
    attr('http.method', route.route.split(' ')[0]),
    attr('http.route', route.route.split(' ')[1]),
    attr('http.status_code', error ? 500 : 200),
    attr('http.user_agent', synthetic ? `SyntheticsBot/2.3 (+https://monitoring.example/bot; check=${route.route})` : USER_AGENTS[Math.floor(random() * USER_AGENTS.length)]),
    attr('client.address', `10.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`),
  ];
  emit('edge-gateway', rawSpan(traceId, '', `${route.route}`, 2, startNs, cursor - startNs + 1e6, rootAttributes, error));
}

function healthCheckTrace() {
  const startNs = (1_717_000_000 + programSeconds()) * 1e9;
  emit('edge-gateway', rawSpan(hex(32), '', 'GET /healthz', 2, startNs, 3e5, [attr('http.user_agent', 'ELB-HealthChecker/2.0')], false));
}

let exporterTurn = 0;
/** The next service's batch exporter flush (each service flushes every 5 s). */
function nextBatch() {
  exporterTurn = (exporterTurn + 1) % SERVICES.length;
  const service = SERVICES[exporterTurn];
  const queue = exportQueues.get(service);
  if (queue.length === 0) return null;
  const spans = queue.splice(0, queue.length);
  const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [attr('service.name', service), attr('service.version', '2024.06.3'), attr('deployment.environment', 'production')] }, spans }] });
  return { method: 'POST', path: '/v1/traces', headers: { 'content-type': 'application/json' }, body };
}

// --- wiring ------------------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

setTimeout(() => {
  dropRules.push({ name: 'synthetic-monitoring', matches: (span) => typeof span.attributes['http.user_agent'] === 'string' && span.attributes['http.user_agent'].startsWith('SyntheticsBot') });
}, onsetMs(5400));

// Shoppers: 1.2 traced requests/s; synthetic monitoring: 3 journeys from 3 regions every minute; load balancers' health checks 0.5/s.
paced(1.2, (due) => {
  for (let i = 0; i < due; i++) generateTrace(false);
});
paced(9 / 60, (due) => {
  for (let i = 0; i < due; i++) generateTrace(true);
});
paced(0.5, (due) => {
  for (let i = 0; i < due; i++) healthCheckTrace();
});
const exporters = selfRequests(port, { perSecond: SERVICES.length / 5, maxInFlight: 8, next: nextBatch });
const dashboards = selfRequests(port, { perSecond: 0.1, maxInFlight: 2, next: () => ({ method: 'GET', path: '/v1/status' }) });
every(wallMs(2), decideReadyTraces);

function spansHeld() {
  let count = 0;
  for (const buffer of pendingTraces.values()) count += buffer.spans.length;
  return count;
}

reportStats(() => {
  let rootless = 0;
  for (const buffer of pendingTraces.values()) if (buffer.rootArrivedAt === null) rootless++;
  return {
    retained: spansHeld(),
    pendingTraces: pendingTraces.size,
    rootless,
    spansReceived: counters.spansReceived,
    spansDropped: counters.spansDropped,
    tracesDecided: counters.tracesDecided,
    tracesKept: counters.tracesKept,
    lateSpans: counters.lateSpans,
    requestsFailed: exporters.failed + dashboards.failed,
  };
});

ready(
  `trace-collector-dropped-root-span-leak: tail-sampling collector, ~1.35 traces/s buffered per trace id in pendingTraces; from the synthetics drop rule at ${SYNTHETICS_RULE_FROM_S} s synthetic traces lose their root and are never flushed (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
