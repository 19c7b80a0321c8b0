// Edge API gateway in front of three internal upstreams (catalogue, pricing,
// orders). The gateway itself does almost nothing: it authenticates the call,
// reads and parses the body of writes, picks a route and then WAITS for the
// upstream (a few hundred ms to a few seconds), so its event loop is idle
// most of the time. Traffic doubles to ~2.5x for about an hour twice a day
// (the morning and afternoon campaigns, 1-2 h and 3-4 h of program time).
//
// While a call is in flight its RequestContext holds the raw body Buffer, the
// parsed body and, once the upstream answers, the upstream's response
// Buffer; the context is removed from `inFlight` when the call finishes.
// Nothing else is kept except bounded counters and a ring of recent
// latencies.
import {
  buildBallast,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xed6e);

/** Campaign peaks: x2.5 from 1 h to 2 h and from 3 h to 4 h, 10-minute ramps. */
const PEAKS = [
  [3600, 7200],
  [10800, 14400],
];
function trafficFactor() {
  const s = programSeconds();
  const ramp = 600;
  for (const [from, to] of PEAKS) {
    if (s < from - ramp || s > to + ramp) continue;
    if (s < from) return 1 + 1.5 * ((s - (from - ramp)) / ramp);
    if (s > to) return 1 + 1.5 * ((to + ramp - s) / ramp);
    return 2.5;
  }
  return 1;
}

function logNormal(median, sigma) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

// --- routes and upstreams -------------------------------------------------------------------

const ROUTES = new Map([
  ['catalogue', { upstream: 'catalogue.internal:8080', medianMs: 350, timeoutMs: 10_000, writes: false }],
  ['pricing', { upstream: 'pricing.internal:8080', medianMs: 900, timeoutMs: 10_000, writes: false }],
  ['orders', { upstream: 'orders.internal:8443', medianMs: 2200, timeoutMs: 20_000, writes: true }],
]);

const upstreamStats = new Map([...ROUTES.keys()].map((name) => [name, { calls: 0, errors: 0, totalMs: 0 }]));
const recentLatencies = new Float64Array(512);
let latencyCursor = 0;

const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});

/** The upstream stand-in: answers after a production-time latency (scaled to wall time). */
function callUpstream(name, route, context) {
  const latency = Math.min(route.timeoutMs, logNormal(route.medianMs, 0.6));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      const items = Array.from({ length: 5 + Math.floor(random() * 20) }, (_, i) => ({
        id: `${name}-${context.id}-${i}`,
        sku: `SKU-${(context.id * 31 + i) % 9973}`,
        qty: 1 + (i % 4),
        priceCents: 199 + ((context.id * 7 + i * 13) % 9000),
      }));
      const body = Buffer.from(JSON.stringify({ route: name, requestId: context.id, items, servedBy: route.upstream }));
      resolve({ status: 200, body, latency });
    }, latency / speed);
    pendingTimers.add(timer);
  });
}

class RequestContext {
  constructor(id, route, method, path) {
    this.id = id;
    this.route = route;
    this.method = method;
    this.path = path;
    this.startedAt = programSeconds();
    this.rawBody = null;
    this.parsed = null;
    this.upstreamBody = null;
  }
}

const inFlight = new Map();
let nextId = 1;
const served = { ok: 0, rejected: 0, health: 0 };

function authenticate(req) {
  const auth = req.headers.authorization ?? '';
  return auth.startsWith('Bearer ') && auth.length > 20;
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function proxy(req, res, name, route) {
  const context = new RequestContext(nextId++, name, req.method, req.url);
  inFlight.set(context.id, context);
  try {
    if (req.method === 'POST' || req.method === 'PUT') {
      context.rawBody = await readBody(req);
      context.parsed = JSON.parse(context.rawBody.toString('utf8'));
      if (!Array.isArray(context.parsed.lines)) return sendJson(res, 400, '{"error":"lines required"}');
    } else {
      req.resume();
    }
    const answer = await callUpstream(name, route, context);
    context.upstreamBody = answer.body;
    const stats = upstreamStats.get(name);
    stats.calls++;
    stats.totalMs += answer.latency;
    recentLatencies[latencyCursor++ % recentLatencies.length] = answer.latency;
    res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': answer.body.length, 'x-request-id': String(context.id) });
    res.end(answer.body);
    served.ok++;
  } finally {
    inFlight.delete(context.id);
  }
}

function handler(req, res) {
  if (req.url === '/healthz') {
    served.health++;
    req.resume();
    return sendJson(res, 200, '{"ok":true}');
  }
  const name = (req.url ?? '/').split('/')[2];
  const route = ROUTES.get(name);
  if (route === undefined) return sendJson(res, 404, '{"error":"no route"}');
  if (!authenticate(req)) {
    served.rejected++;
    req.resume();
    return sendJson(res, 401, '{"error":"unauthorized"}');
  }
  proxy(req, res, name, route).catch((error) => {
    upstreamStats.get(name).errors++;
    if (!res.headersSent) sendJson(res, 502, JSON.stringify({ error: String(error) }));
  });
}

function orderBody() {
  const lines = Array.from({ length: 1 + Math.floor(random() * 30) }, (_, i) => ({
    sku: `SKU-${Math.floor(random() * 9973)}`,
    qty: 1 + Math.floor(random() * 3),
    note: i % 5 === 0 ? 'gift wrap, deliver to the back door please' : '',
  }));
  return JSON.stringify({ customerId: `c-${Math.floor(random() * 50_000)}`, currency: 'EUR', lines, shipping: { method: 'express', country: 'DE', zip: String(10000 + Math.floor(random() * 89999)) } });
}

function nextCall() {
  const r = random();
  const headers = { authorization: `Bearer tok-${Math.floor(random() * 1e9).toString(36)}-abcdefghij` };
  if (r < 0.55) return { method: 'GET', path: `/api/catalogue/products/${Math.floor(random() * 9973)}`, headers };
  if (r < 0.85) return { method: 'GET', path: `/api/pricing/quote?sku=${Math.floor(random() * 9973)}`, headers };
  return { method: 'POST', path: '/api/orders', headers: { ...headers, 'content-type': 'application/json' }, body: orderBody() };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const clients = selfRequests(port, { perSecond: () => 2 * trafficFactor(), maxInFlight: 128, next: nextCall });
const balancer = selfRequests(port, { perSecond: 0.2, maxInFlight: 1, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => {
  let heldBytes = 0;
  for (const context of inFlight.values()) heldBytes += (context.rawBody?.length ?? 0) + (context.upstreamBody?.length ?? 0);
  return {
    retained: inFlight.size,
    heldBytes,
    trafficFactor: Math.round(trafficFactor() * 100) / 100,
    served: served.ok,
    requestsFailed: clients.failed + balancer.failed,
  };
});

ready(`edge-gateway-peaks: API gateway waiting on upstreams, 2 req/s (x2.5 at 1-2 h and 3-4 h), in-flight contexts released on completion (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
