// Service-mesh sidecar keeping a latency reservoir per service and route (healthy).
//
// The sidecar sits in front of the `storefront` pod: inbound requests go
// through it to the local app, and every call the app makes to other services
// of the mesh goes out through it again. For each (service, method, route
// template) it keeps the samples of the last 10 minutes, at most 4 096, in a
// RouteReservoir, so that the control plane can read exact p50/p90/p99 latency
// and error rates (and trace exemplars) every 15 s. Expired samples are
// skipped with a head index and the array is compacted with slice().
//
// Traffic: ~3 inbound requests/s at speed 1, each fanning out to 2-5 upstream
// calls. A few times a day (twice in the 6 h run) a campaign surges traffic
// 3-6x for 30-90 minutes, with a 5-minute ramp up and a 10-minute ramp down;
// the reservoirs follow the traffic of the last 10 minutes and come back down.
import { randomBytes } from 'node:crypto';
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

const EPOCH_MS = Date.UTC(2024, 8, 3, 8, 0, 0);
const WINDOW_MS = 10 * 60_000;
const MAX_SAMPLES = 4096;
const LOCAL_SERVICE = 'storefront';

function nowMs() {
  return EPOCH_MS + programSeconds() * 1000;
}

// --- Latency reservoirs ---------------------------------------------------------

function toSample(at, durationMs, status, upstream, attempt, bytes, traceId) {
  return { at, durationMs, status, upstream, attempt, bytes, traceId };
}

class RouteReservoir {
  constructor(service, method, route) {
    this.service = service;
    this.method = method;
    this.route = route;
    this.samples = [];
    this.head = 0;
    this.total = 0;
    this.errors = 0;
  }

  add(sample) {
    this.samples.push(sample);
    this.total++;
    if (sample.status >= 500) this.errors++;
    this.expire(sample.at - WINDOW_MS);
  }

  expire(cutoff) {
    const { samples } = this;
    let head = this.head;
    while (head < samples.length && (samples[head].at < cutoff || samples.length - head > MAX_SAMPLES)) head++;
    if (head > 1024 && head * 2 > samples.length) {
      this.samples = samples.slice(head);
      head = 0;
    }
    this.head = head;
  }

  get size() {
    return this.samples.length - this.head;
  }

  snapshot() {
    const n = this.size;
    if (n === 0) return null;
    const durations = new Float64Array(n);
    let errors = 0;
    let exemplar = null;
    for (let i = 0; i < n; i++) {
      const s = this.samples[this.head + i];
      durations[i] = s.durationMs;
      if (s.status >= 500) errors++;
      if (exemplar === null || s.durationMs > exemplar.durationMs) exemplar = s;
    }
    durations.sort();
    const q = (p) => durations[Math.min(n - 1, Math.floor(p * n))];
    return {
      service: this.service,
      method: this.method,
      route: this.route,
      count: n,
      errorRate: errors / n,
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
      max: durations[n - 1],
      exemplar: { traceId: exemplar.traceId, upstream: exemplar.upstream, durationMs: exemplar.durationMs },
    };
  }
}

const reservoirs = new Map(); // "service METHOD /route" -> RouteReservoir

/** `/v1/carts/84213/items` -> `/v1/carts/:id/items` */
function routeTemplate(path) {
  const q = path.indexOf('?');
  const segments = (q === -1 ? path : path.slice(0, q)).split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (/^\d+$/.test(s) || /^[a-z]{2,4}_[0-9a-z]{6,}$/.test(s) || s.startsWith('SKU-')) segments[i] = ':id';
  }
  return segments.join('/');
}

function recordSample(service, method, path, sample) {
  const route = routeTemplate(path);
  const key = `${service} ${method} ${route}`;
  let reservoir = reservoirs.get(key);
  if (reservoir === undefined) {
    reservoir = new RouteReservoir(service, method, route);
    reservoirs.set(key, reservoir);
  }
  reservoir.add(sample);
}

every(scaledMs(15), () => {
  const cutoff = nowMs() - WINDOW_MS;
  for (const reservoir of reservoirs.values()) reservoir.expire(cutoff);
});

function samplesHeld() {
  let n = 0;
  for (const reservoir of reservoirs.values()) n += reservoir.size;
  return n;
}

// --- Upstream services of the mesh (stand-ins) ------------------------------------

const meshRng = rng(0x5eed5ca7);

/** Median latency (ms), log-normal sigma, 5xx rate and response size per route. */
const UPSTREAMS = {
  cart: { pods: 4, routes: { 'GET /v1/carts/:id': [9, 0.5, 0.002, 1800], 'POST /v1/carts/:id/items': [14, 0.5, 0.003, 600] } },
  pricing: { pods: 6, routes: { 'POST /v1/quote': [22, 0.6, 0.004, 2400], 'GET /v1/prices/:id': [6, 0.4, 0.001, 300] } },
  inventory: { pods: 5, routes: { 'GET /v1/stock/:id': [5, 0.5, 0.002, 180], 'POST /v1/reservations': [30, 0.7, 0.006, 420] } },
  payments: { pods: 3, routes: { 'POST /v1/authorize': [180, 0.5, 0.01, 700] } },
  orders: { pods: 3, routes: { 'POST /v1/orders': [45, 0.5, 0.004, 900], 'GET /v1/orders/:id': [12, 0.5, 0.002, 2600] } },
  catalog: { pods: 8, routes: { 'GET /v1/products/:id': [11, 0.6, 0.001, 5200] } },
  reviews: { pods: 2, routes: { 'GET /v1/products/:id/summary': [16, 0.8, 0.005, 900] } },
  search: { pods: 6, routes: { 'GET /v1/search': [60, 0.7, 0.003, 14000] } },
  shipping: { pods: 2, routes: { 'GET /v1/shipments/:id': [25, 0.6, 0.004, 1100] } },
  notifications: { pods: 2, routes: { 'POST /v1/send': [35, 0.9, 0.008, 120] } },
};
const endpoints = {};
for (const [service, { pods }] of Object.entries(UPSTREAMS)) {
  endpoints[service] = Array.from({ length: pods }, (_, i) => `10.42.${(service.length * 7 + i) % 32}.${11 + i * 13}:8080`);
}

function gaussian(random) {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** One call to an upstream pod: resolves { status, bytes } after its latency. */
function callUpstream(service, method, path, load) {
  const spec = UPSTREAMS[service].routes[`${method} ${routeTemplate(path)}`];
  const [median, sigma, errorRate, bytes] = spec;
  // pods slow down a little under a surge
  const latencyMs = median * (1 + 0.06 * (load - 1)) * Math.exp(sigma * gaussian(meshRng));
  const status = meshRng() < errorRate * (1 + 0.3 * (load - 1)) ? 503 : 200;
  return new Promise((resolve) => setTimeout(() => resolve({ status, bytes: Math.round(bytes * (0.5 + meshRng())) }), scaledMs(latencyMs / 1000)));
}

/** The sidecar's outbound path: pick a pod, retry a 503 once on another, record every attempt. */
async function egress(service, method, path, traceId) {
  const pods = endpoints[service];
  let pod = Math.floor(meshRng() * pods.length);
  for (let attempt = 1; ; attempt++) {
    const startedAt = nowMs();
    const result = await callUpstream(service, method, path, surgeFactor(programSeconds()));
    const durationMs = nowMs() - startedAt;
    recordSample(service, method, path, toSample(startedAt, durationMs, result.status, pods[pod], attempt, result.bytes, traceId));
    counters.outbound++;
    if (result.status < 500 || attempt === 2) return result;
    counters.retries++;
    pod = (pod + 1) % pods.length;
  }
}

// --- The local app (storefront) behind the sidecar -------------------------------

function id(n) {
  return Math.floor(meshRng() * n) + 1;
}

const APP_ROUTES = {
  '/api/products/:id': async (traceId) => {
    const product = id(20000);
    await Promise.all([
      egress('catalog', 'GET', `/v1/products/${product}`, traceId),
      egress('pricing', 'GET', `/v1/prices/SKU-${product}`, traceId),
      egress('reviews', 'GET', `/v1/products/${product}/summary`, traceId),
      egress('inventory', 'GET', `/v1/stock/SKU-${product}`, traceId),
    ]);
  },
  '/api/search': async (traceId) => {
    await egress('search', 'GET', `/v1/search?q=${id(5000)}`, traceId);
    await egress('pricing', 'POST', '/v1/quote', traceId);
  },
  '/api/cart/:id': async (traceId) => {
    const cart = id(90000);
    await egress('cart', 'GET', `/v1/carts/${cart}`, traceId);
    const lines = 1 + Math.floor(meshRng() * 3);
    const calls = [egress('pricing', 'POST', '/v1/quote', traceId)];
    for (let i = 0; i < lines; i++) calls.push(egress('inventory', 'GET', `/v1/stock/SKU-${id(20000)}`, traceId));
    await Promise.all(calls);
  },
  '/api/cart/:id/items': async (traceId) => {
    const cart = id(90000);
    await egress('inventory', 'GET', `/v1/stock/SKU-${id(20000)}`, traceId);
    await egress('cart', 'POST', `/v1/carts/${cart}/items`, traceId);
  },
  '/api/checkout': async (traceId) => {
    const cart = id(90000);
    await egress('cart', 'GET', `/v1/carts/${cart}`, traceId);
    await egress('inventory', 'POST', '/v1/reservations', traceId);
    const auth = await egress('payments', 'POST', '/v1/authorize', traceId);
    if (auth.status < 500) {
      await egress('orders', 'POST', '/v1/orders', traceId);
      egress('notifications', 'POST', '/v1/send', traceId);
    }
  },
  '/api/orders/:id': async (traceId) => {
    const order = id(400000);
    await egress('orders', 'GET', `/v1/orders/${order}`, traceId);
    await egress('shipping', 'GET', `/v1/shipments/${order}`, traceId);
  },
};

// --- The sidecar's listener ---------------------------------------------------------

const counters = { inbound: 0, outbound: 0, retries: 0, scrapes: 0, notFound: 0 };

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function latencyReport(service) {
  const routes = [];
  for (const reservoir of reservoirs.values()) {
    if (service !== null && reservoir.service !== service) continue;
    const snap = reservoir.snapshot();
    if (snap !== null) routes.push(snap);
  }
  return { windowSeconds: WINDOW_MS / 1000, generatedAt: new Date(nowMs()).toISOString(), routes };
}

function traceIdOf(header) {
  // traceparent: 00-<32 hex trace id>-<16 hex span id>-01
  return typeof header === 'string' && header.length >= 35 ? header.slice(3, 35) : randomBytes(16).toString('hex');
}

async function handle(req, res) {
  const [path, query] = req.url.split('?');
  if (path === '/stats/latency') {
    counters.scrapes++;
    const service = query?.startsWith('service=') ? query.slice(8) : null;
    return sendJson(res, 200, latencyReport(service));
  }
  if (path === '/healthz') return sendJson(res, 200, { ok: true, routes: reservoirs.size });
  const route = routeTemplate(path);
  const app = APP_ROUTES[route];
  if (app === undefined) {
    counters.notFound++;
    return sendJson(res, 404, { error: 'no route' });
  }
  if (req.method !== 'GET') await readBody(req, 256 * 1024);
  counters.inbound++;
  const traceId = traceIdOf(req.headers.traceparent);
  const startedAt = nowMs();
  await app(traceId);
  const durationMs = nowMs() - startedAt;
  recordSample(LOCAL_SERVICE, req.method, path, toSample(startedAt, durationMs, 200, 'inbound', 1, 0, traceId));
  sendJson(res, 200, { ok: true, traceId });
}

const { port } = await listen((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
    else res.destroy();
  });
});

// --- Traffic: base rate and campaign surges ----------------------------------------

const BASE_RATE = 3; // inbound requests/s at speed 1
const surgeRng = rng(0x5a6e);
const surges = [];
{
  let start = 3000 + surgeRng() * 2400;
  while (start < 30 * 3600) {
    const lengthS = 1800 + surgeRng() * 3600; // 30-90 min at full strength
    const factor = 3 + surgeRng() * 3;
    surges.push({ start: Math.round(start), lengthS: Math.round(lengthS), factor: Math.round(factor * 10) / 10 });
    start += 300 + lengthS + 600 + 3600 * (1.2 + surgeRng() * 1.6);
  }
}

/** Traffic multiplier at program time t: 1, ramping to the surge's factor over 5 min and back over 10. */
function surgeFactor(t) {
  for (const s of surges) {
    if (t < s.start) break;
    const up = s.start + 300;
    const down = up + s.lengthS;
    if (t < up) return 1 + ((s.factor - 1) * (t - s.start)) / 300;
    if (t < down) return s.factor;
    if (t < down + 600) return s.factor - ((s.factor - 1) * (t - down)) / 600;
  }
  return 1;
}

const clientRng = rng(0xc1a55);
const MIX = [
  ['/api/products/', 0.38],
  ['/api/search', 0.2],
  ['/api/cart/', 0.2],
  ['/api/cart/items', 0.08],
  ['/api/orders/', 0.08],
  ['/api/checkout', 0.06],
];

function traceparent() {
  const hex = (n) => {
    let s = '';
    for (let i = 0; i < n; i++) s += ((clientRng() * 16) | 0).toString(16);
    return s;
  };
  return `00-${hex(32)}-${hex(16)}-01`;
}

function inboundRequest() {
  let r = clientRng();
  let kind = MIX[MIX.length - 1][0];
  for (const [k, w] of MIX) {
    if (r < w) {
      kind = k;
      break;
    }
    r -= w;
  }
  const headers = { traceparent: traceparent(), 'user-agent': 'storefront-web/3.18' };
  const n = (m) => Math.floor(clientRng() * m) + 1;
  switch (kind) {
    case '/api/products/':
      return { method: 'GET', path: `/api/products/${n(20000)}`, headers };
    case '/api/search':
      return { method: 'GET', path: `/api/search?q=term${n(5000)}`, headers };
    case '/api/cart/':
      return { method: 'GET', path: `/api/cart/${n(90000)}`, headers };
    case '/api/cart/items':
      return { method: 'POST', path: `/api/cart/${n(90000)}/items`, headers, body: `{"sku":"SKU-${n(20000)}","qty":1}` };
    case '/api/orders/':
      return { method: 'GET', path: `/api/orders/${n(400000)}`, headers };
    default:
      return { method: 'POST', path: '/api/checkout', headers, body: `{"cartId":${n(90000)},"payment":"card"}` };
  }
}

const inboundClient = selfRequests(port, {
  perSecond: () => BASE_RATE * surgeFactor(programSeconds()),
  next: inboundRequest,
  maxInFlight: 256,
});

// control plane scrape every 15 s, plus a dashboard and the kubelet's probes
let controlTick = 0;
const controlClient = selfRequests(port, {
  perSecond: 0.2,
  next: () => {
    controlTick++;
    if (controlTick % 3 === 0) return { method: 'GET', path: '/stats/latency' };
    if (controlTick % 3 === 1) return { method: 'GET', path: '/healthz' };
    return { method: 'GET', path: `/stats/latency?service=${Object.keys(UPSTREAMS)[controlTick % 10]}` };
  },
  maxInFlight: 4,
});

const ballastMb = buildBallast();
ready(`service-mesh sidecar with per-route latency reservoirs on 127.0.0.1:${port}, campaign surges${ballastMb ? `, ballast ${ballastMb} MB` : ''}`);

reportStats(() => ({
  retained: samplesHeld(),
  routes: reservoirs.size,
  surge: Math.round(surgeFactor(programSeconds()) * 100) / 100,
  surges: surges.filter((s) => s.start <= programSeconds()),
  inbound: counters.inbound,
  outbound: counters.outbound,
  retries: counters.retries,
  scrapes: counters.scrapes,
  sent: inboundClient.sent + controlClient.sent,
  failed: inboundClient.failed + controlClient.failed,
}));
