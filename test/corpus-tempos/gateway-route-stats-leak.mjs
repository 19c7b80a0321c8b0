// API gateway in front of four internal services (orders, users, catalogue,
// shipping). Every proxied request is timed and recorded in per-route latency
// stats that the /internal/metrics endpoint summarises for the dashboards.
//
// The bug: the stats are keyed by the raw request path ("GET /v1/orders/
// ord_k2x9f1/tracking") instead of the route template ("GET /v1/orders/:id/
// tracking"). Paths carry order ids, user ids and SKUs, so almost every request
// adds a new entry to the module-level Map `routeStats`, and nothing ever
// removes one. Clients: 3.5 req/s from the storefront and the mobile apps.
import {
  buildBallast,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x9a7e3);

// --- latency stats -----------------------------------------------------------------

const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000];

/** method + path -> stats. Meant to be per route; keyed by the raw path. */
const routeStats = new Map();

function bucketIndex(ms) {
  let i = 0;
  while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
  return i;
}

function statsFor(method, path) {
  const route = `${method} ${path}`;
  let stats = routeStats.get(route);
  if (stats === undefined) {
    stats = {
      route,
      count: 0,
      errors: 0,
      totalMs: 0,
      maxMs: 0,
      lastStatus: 0,
      lastSeenAt: 0,
      buckets: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0),
    };
    routeStats.set(route, stats);
  }
  return stats;
}

function recordLatency(method, path, status, ms) {
  const stats = statsFor(method, path);
  stats.count++;
  if (status >= 500) stats.errors++;
  stats.totalMs += ms;
  if (ms > stats.maxMs) stats.maxMs = ms;
  stats.lastStatus = status;
  stats.lastSeenAt = programSeconds();
  stats.buckets[bucketIndex(ms)]++;
}

/** The dashboard summary: totals and the 15 busiest "routes". */
function metricsSummary() {
  let requests = 0;
  let errors = 0;
  const top = [];
  for (const stats of routeStats.values()) {
    requests += stats.count;
    errors += stats.errors;
    if (top.length < 15 || stats.count > top[top.length - 1].count) {
      top.push(stats);
      top.sort((a, b) => b.count - a.count);
      if (top.length > 15) top.pop();
    }
  }
  return {
    routes: routeStats.size,
    requests,
    errors,
    top: top.map((s) => ({ route: s.route, count: s.count, meanMs: Math.round((s.totalMs / s.count) * 10) / 10, maxMs: Math.round(s.maxMs) })),
  };
}

// --- upstream services (in-process stand-ins with a few ms of real latency) -------------

const UPSTREAMS = {
  orders: { minMs: 3, spreadMs: 9, failRate: 0.004 },
  users: { minMs: 2, spreadMs: 5, failRate: 0.001 },
  catalogue: { minMs: 2, spreadMs: 6, failRate: 0.001 },
  shipping: { minMs: 4, spreadMs: 12, failRate: 0.01 },
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function upstreamBody(service, method, path, body) {
  const id = path.split('/')[3] ?? '';
  switch (service) {
    case 'orders':
      if (method === 'POST') {
        const order = JSON.parse(body);
        return { id: `ord_${(order.cartId * 7919).toString(36)}`, status: 'created', lines: order.lines.length, totalCents: order.lines.reduce((s, l) => s + l.qty * l.priceCents, 0) };
      }
      return { id, status: 'paid', currency: 'EUR', totalCents: 1000 + (id.length * 731) % 9000, lines: [{ sku: 'SKU-1', qty: 1 }, { sku: 'SKU-2', qty: 2 }], placedAt: '2024-03-01T10:00:00Z' };
    case 'users':
      return { id, displayName: `user ${id}`, locale: 'de-DE', tier: id.length % 2 ? 'plus' : 'basic', addresses: 2, marketingOptIn: false };
    case 'catalogue':
      return { sku: id, title: `Product ${id}`, priceCents: 1299, stock: 14, images: [`https://cdn.example/${id}/1.jpg`, `https://cdn.example/${id}/2.jpg`] };
    default:
      return { orderId: id, carrier: 'DHL', status: 'in_transit', events: [{ at: '2024-03-02T08:00:00Z', where: 'Leipzig hub' }, { at: '2024-03-02T19:30:00Z', where: 'Berlin depot' }] };
  }
}

async function callUpstream(service, method, path, body) {
  const upstream = UPSTREAMS[service];
  await sleep(upstream.minMs + random() * upstream.spreadMs);
  if (random() < upstream.failRate) return { status: 503, body: { error: `${service} unavailable` } };
  return { status: method === 'POST' ? 201 : 200, body: upstreamBody(service, method, path, body) };
}

// --- the gateway --------------------------------------------------------------------------

function routeService(path) {
  if (path.startsWith('/v1/orders')) return path.endsWith('/tracking') ? 'shipping' : 'orders';
  if (path.startsWith('/v1/users/')) return 'users';
  if (path.startsWith('/v1/products/') || path === '/v1/search') return 'catalogue';
  return null;
}

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

let requestSeq = 0;

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://gateway.local');
  const path = url.pathname;
  if (path === '/healthz') return sendJson(res, 200, { ok: true });
  if (path === '/internal/metrics') return sendJson(res, 200, metricsSummary());
  const service = routeService(path);
  if (service === null) return sendJson(res, 404, { error: 'no route' });
  const started = performance.now();
  const body = req.method === 'POST' ? (await readBody(req)).toString('utf8') : undefined;
  const requestId = `gw-${(++requestSeq).toString(36)}`;
  const result = await callUpstream(service, req.method, path, body);
  res.setHeader('x-request-id', requestId);
  sendJson(res, result.status, result.body);
  recordLatency(req.method, path, result.status, performance.now() - started);
}

// --- clients: storefront, mobile apps, the metrics scraper -----------------------------------

let ordersPlaced = 0;
let nextCart = 1;
const recentOrders = [];

function orderId(n) {
  return `ord_${(n * 7919).toString(36)}`;
}

function clientRequest() {
  const r = random();
  if (r < 0.05) {
    const lines = [];
    for (let i = 0, n = 1 + Math.floor(random() * 4); i < n; i++) lines.push({ sku: `SKU-${Math.floor(random() * 200000)}`, qty: 1 + Math.floor(random() * 3), priceCents: 499 + Math.floor(random() * 9000) });
    const cartId = nextCart++;
    recentOrders.push(orderId(cartId));
    if (recentOrders.length > 300) recentOrders.shift();
    ordersPlaced++;
    return { method: 'POST', path: '/v1/orders', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cartId, lines }) };
  }
  if (r < 0.3) {
    // order page views: the customer's fresh order, or one from their history
    const id = recentOrders.length > 0 && random() < 0.3 ? recentOrders[Math.floor(random() * recentOrders.length)] : orderId(Math.floor(random() * 5_000_000));
    return { method: 'GET', path: `/v1/orders/${id}` };
  }
  if (r < 0.38) {
    const id = recentOrders.length > 0 ? recentOrders[Math.floor(random() * recentOrders.length)] : orderId(1);
    return { method: 'GET', path: `/v1/orders/${id}/tracking` };
  }
  if (r < 0.65) return { method: 'GET', path: `/v1/users/u${Math.floor(random() * 4_000_000)}/profile` };
  if (r < 0.95) return { method: 'GET', path: `/v1/products/SKU-${Math.floor(random() * 200_000)}` };
  if (r < 0.98) return { method: 'GET', path: `/v1/search?q=${['lamp', 'desk', 'chair', 'rug', 'kettle'][Math.floor(random() * 5)]}` };
  return { method: 'GET', path: '/healthz' };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const clients = selfRequests(port, { perSecond: 3.5, maxInFlight: 32, next: clientRequest });
const scraper = selfRequests(port, { perSecond: 1 / 60, maxInFlight: 1, next: () => ({ method: 'GET', path: '/internal/metrics' }) });

reportStats(() => ({
  retained: routeStats.size,
  requests: clients.completed,
  ordersPlaced,
  requestsFailed: clients.failed + scraper.failed,
}));

ready(
  `gateway-route-stats-leak: API gateway, 3.5 req/s, per-route latency stats keyed by the raw path (ids included) in Map routeStats, never pruned (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
