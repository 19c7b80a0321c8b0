// Order API of a food-delivery platform with a home-grown Prometheus
// middleware: every response goes through observeRequest(), which keeps a
// request counter, a latency sum and the max latency per distinct label set
// (method, route, status) in class RequestMetrics (module-level
// `requestMetrics`, Map `series`), rendered on GET /metrics for the scraper
// (every 60 s). The route label is meant to be the route template, but
// routeLabel() only strips the query string, so it is the raw path: every
// order id, courier id and customer id that appears in a URL makes new
// series (one per status it is answered with), and nothing ever removes a
// series. The map gains keys slowly and forever: new orders (~0.4/s, each
// fetched, tracked and sometimes rated), and customers' order histories
// (a few per minute, out of 300 000 customers).
//
// Traffic: ~5 req/s from the apps (place order, order details, tracking,
// courier location, menus, restaurant lists, health checks).
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

const random = rng(0x3e7c);

// --- metrics middleware --------------------------------------------------------------------------

class RequestMetrics {
  constructor() {
    /** `${method} ${route} ${status}` -> { labels, count, sum, max } */
    this.series = new Map();
    this.scrapes = 0;
  }

  seriesFor(method, route, status) {
    const key = `${method} ${route} ${status}`;
    let entry = this.series.get(key);
    if (entry === undefined) {
      entry = { labels: { method, route, status: String(status) }, count: 0, sum: 0, max: 0 };
      this.series.set(key, entry);
    }
    return entry;
  }

  observe(method, route, status, ms) {
    const entry = this.seriesFor(method, route, status);
    entry.count++;
    entry.sum += ms;
    if (ms > entry.max) entry.max = ms;
  }

  render() {
    this.scrapes++;
    const lines = ['# TYPE http_requests_total counter', '# TYPE http_request_duration_ms_sum counter', '# TYPE http_request_duration_ms_max gauge'];
    for (const { labels, count, sum, max } of this.series.values()) {
      const l = `method="${labels.method}",route="${labels.route}",status="${labels.status}"`;
      lines.push(`http_requests_total{${l}} ${count}`);
      lines.push(`http_request_duration_ms_sum{${l}} ${Math.round(sum)}`);
      lines.push(`http_request_duration_ms_max{${l}} ${max}`);
    }
    return lines.join('\n');
  }
}

const requestMetrics = new RequestMetrics();

/** The route label: supposed to be the route template, but it is the raw path. */
function routeLabel(url) {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function observeRequest(req, res, startedAt) {
  res.on('finish', () => {
    const ms = (programSeconds() - startedAt) * 1000 + 2 + random() * 30;
    requestMetrics.observe(req.method, routeLabel(req.url ?? '/'), res.statusCode, Math.round(ms * 10) / 10);
  });
}

// --- the order service (stand-in data) ---------------------------------------------------------------

const RESTAURANTS = Array.from({ length: 800 }, (_, i) => ({ id: `r${1000 + i}`, name: `Restaurant ${i}`, city: ['berlin', 'hamburg', 'munich', 'cologne'][i % 4] }));
const orders = new Map(); // recent orders only (the database has the rest)
const recentOrderIds = [];
let orderSeq = 0;
const placed = { orders: 0 };

function placeOrder(body) {
  const id = `o_${(0x5f5e100 + ++orderSeq * 7).toString(36)}`;
  const order = { id, customerId: body.customerId, restaurantId: body.restaurantId, items: body.items, state: 'placed', courierId: `c${Math.floor(random() * 4000)}`, placedAt: programSeconds() };
  orders.set(id, order);
  recentOrderIds.push(id);
  if (recentOrderIds.length > 2000) orders.delete(recentOrderIds.shift());
  placed.orders++;
  return order;
}

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  observeRequest(req, res, programSeconds());
  const url = new URL(req.url ?? '/', 'http://orders.local');
  const parts = url.pathname.split('/');
  try {
    if (url.pathname === '/metrics') {
      const text = requestMetrics.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return res.end(text);
    }
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    if (req.method === 'POST' && url.pathname === '/v1/orders') {
      return sendJson(res, 201, placeOrder(JSON.parse((await readBody(req)).toString('utf8'))));
    }
    if (req.method === 'GET' && parts[2] === 'orders') {
      const order = orders.get(parts[3]);
      if (order === undefined) return sendJson(res, 404, { error: 'order not found' });
      if (parts[4] === 'tracking') return sendJson(res, 200, { id: order.id, state: order.state, courier: order.courierId, etaMinutes: 5 + Math.floor(random() * 30) });
      return sendJson(res, 200, order);
    }
    if (req.method === 'POST' && parts[2] === 'orders' && parts[4] === 'rating') {
      return sendJson(res, orders.has(parts[3]) ? 204 : 404, {});
    }
    if (req.method === 'GET' && parts[2] === 'couriers' && parts[4] === 'location') {
      return sendJson(res, 200, { courier: parts[3], lat: 52.5 + random() / 10, lng: 13.4 + random() / 10 });
    }
    if (req.method === 'GET' && parts[2] === 'customers' && parts[4] === 'orders') {
      return sendJson(res, 200, { customer: parts[3], orders: recentOrderIds.slice(-5) });
    }
    if (req.method === 'GET' && url.pathname === '/v1/restaurants') {
      const city = url.searchParams.get('city') ?? 'berlin';
      return sendJson(res, 200, RESTAURANTS.filter((r) => r.city === city).slice(0, 30));
    }
    if (req.method === 'GET' && parts[2] === 'restaurants' && parts[4] === 'menu') {
      return sendJson(res, 200, { restaurant: parts[3], sections: ['Starters', 'Mains', 'Desserts'], items: 42 });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- the apps (the load) ---------------------------------------------------------------------------------

const appOrders = []; // ids the apps know about (the last few hundred)
const CUSTOMERS = 300_000;

function customerId() {
  return `u${(1_000_000 + Math.floor(random() * CUSTOMERS)).toString(36)}`;
}

function appRequest() {
  const roll = random();
  if (roll < 0.08) {
    const body = JSON.stringify({ customerId: customerId(), restaurantId: RESTAURANTS[Math.floor(random() * RESTAURANTS.length)].id, items: [{ sku: 'm12', qty: 1 + Math.floor(random() * 3) }] });
    return { method: 'POST', path: '/v1/orders', headers: { 'content-type': 'application/json' }, body, place: true };
  }
  const recent = appOrders.length === 0 ? 'o_missing' : appOrders[appOrders.length - 1 - Math.floor(random() ** 2 * Math.min(appOrders.length, 300))];
  if (roll < 0.2) return { method: 'GET', path: `/v1/orders/${recent}` };
  if (roll < 0.42) return { method: 'GET', path: `/v1/orders/${recent}/tracking?app=ios` };
  if (roll < 0.44) return { method: 'POST', path: `/v1/orders/${recent}/rating`, headers: { 'content-type': 'application/json' }, body: '{"stars":5}' };
  if (roll < 0.5) return { method: 'GET', path: `/v1/couriers/c${Math.floor(random() * 4000)}/location` };
  if (roll < 0.53) return { method: 'GET', path: `/v1/customers/${customerId()}/orders` };
  if (roll < 0.75) return { method: 'GET', path: `/v1/restaurants?city=${['berlin', 'hamburg', 'munich', 'cologne'][Math.floor(random() * 4)]}` };
  if (roll < 0.95) return { method: 'GET', path: `/v1/restaurants/${RESTAURANTS[Math.floor(random() ** 2 * RESTAURANTS.length)].id}/menu` };
  return { method: 'GET', path: '/healthz' };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const apps = selfRequests(port, {
  perSecond: 5,
  maxInFlight: 32,
  next: appRequest,
  onResponse: (status, text, request) => {
    if (request.place === true && status === 201) {
      appOrders.push(JSON.parse(text).id);
      if (appOrders.length > 1000) appOrders.shift();
    }
  },
});
const scraper = selfRequests(port, { perSecond: 1 / 60, maxInFlight: 1, next: () => ({ method: 'GET', path: '/metrics' }) });

reportStats(() => ({
  retained: requestMetrics.series.size,
  orders: placed.orders,
  scrapes: requestMetrics.scrapes,
  requestsFailed: apps.failed + scraper.failed,
}));

ready(
  `order-api-route-label-metrics-leak: ~5 req/s; the metrics middleware labels series with the raw path (order, courier, customer ids), so requestMetrics.series gains keys forever (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
