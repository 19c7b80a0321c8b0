// Leaky (heap): a per-request listener on a long-lived emitter is never removed.
//
// An HTTP service (driving its own traffic on 127.0.0.1) builds a context per
// request and subscribes it to the process-wide `configEvents` emitter so a
// config reload can adjust the request's limits. Nobody removes the listener
// when the response finishes, so every request's closure, and the context it
// captures, stays reachable from the emitter. Someone "fixed" the
// MaxListenersExceededWarning with setMaxListeners(0) instead of the bug.
//
// Leak at speed 1: 50 requests/s × ~2.9 KB per context and closure ≈ 140 KB/s
// of JS heap, allocated in attachRequestListener. Capped at 50 000 listeners
// (≈ 145 MB, ~17 min at speed 1); past the cap requests are served without
// one.
// stats: retained = listeners on configEvents.
import { EventEmitter } from 'node:events';
import { every, listen, ready, reportStats, scaledMs, selfLoad } from './lib/scenario.mjs';

const REQUESTS_PER_SECOND = 50;
const LATENCY_BUCKETS = 300;
const MAX_LISTENERS = 50_000;

const configEvents = new EventEmitter();
configEvents.setMaxListeners(0);
let config = { rps: 100, burst: 20, version: 1 };

// Builds the request context and subscribes it to config reloads. The context,
// its latency histogram and the listener closure are allocated here, and the
// listener is never removed: this is where the retained bytes come from.
// (Deliberately not tiny: V8 inlines functions under 460 bytes of bytecode
// into hot callers, and the sampling heap profiler then reports the caller.)
function attachRequestListener(req, requestId) {
  const tenant = /[?&]tenant=([\w-]+)/.exec(req.url)?.[1] ?? 'default';
  const priority = req.headers['x-priority'] === 'high' ? 1 : 0;
  const deadlineMs = Number(req.headers['x-deadline-ms'] ?? 2000);
  const traceparent = req.headers.traceparent;
  const traceId = typeof traceparent === 'string' && traceparent.length >= 35 ? traceparent.slice(3, 35) : null;
  const latencyBuckets = new Array(LATENCY_BUCKETS);
  for (let i = 0; i < LATENCY_BUCKETS; i++) latencyBuckets[i] = 0;
  const context = {
    requestId,
    traceId,
    tenant,
    priority,
    method: req.method,
    path: req.url,
    startedAt: Date.now(),
    deadlineAt: Date.now() + (Number.isFinite(deadlineMs) ? deadlineMs : 2000),
    limits: { rps: config.rps, burst: config.burst, version: config.version },
    retries: 0,
    bytesOut: 0,
    status: 0,
    latencyBuckets,
  };
  if (tenant === 'batch') {
    context.limits.rps = Math.floor(config.rps / 4);
    context.limits.burst = Math.max(1, Math.floor(config.burst / 4));
  }
  const onConfigReload = (next) => {
    if (next.version <= context.limits.version) return;
    context.limits = { rps: next.rps, burst: next.burst, version: next.version };
  };
  if (configEvents.listenerCount('reload') < MAX_LISTENERS) {
    configEvents.on('reload', onConfigReload);
    // Missing: res.once('close', () => configEvents.off('reload', onConfigReload))
  }
  return context;
}

let nextRequestId = 0;
function handle(req, res) {
  const context = attachRequestListener(req, ++nextRequestId);
  const items = [];
  for (let i = 0; i < 40; i++) items.push({ sku: `sku-${(context.requestId * 31 + i) % 997}`, qty: i % 5, price: 9.99 + i });
  const body = JSON.stringify({ requestId: context.requestId, tenant: context.tenant, items });
  context.status = 200;
  context.bytesOut = body.length;
  const bucket = Math.min(LATENCY_BUCKETS - 1, Date.now() - context.startedAt);
  context.latencyBuckets[bucket]++;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const { port } = await listen(handle);
const traffic = selfLoad(port, {
  perSecond: REQUESTS_PER_SECOND,
  nextPath: () => `/cart?tenant=${traffic.sent % 5 === 0 ? 'batch' : 'web'}`,
});
every(scaledMs(5), () => {
  config = { ...config, rps: config.rps + 1, version: config.version + 1 };
  configEvents.emit('reload', config);
});
reportStats(() => ({ retained: configEvents.listenerCount('reload'), requests: traffic.completed }));
ready(`listeners: http on 127.0.0.1:${port}, one forgotten listener per request`);
