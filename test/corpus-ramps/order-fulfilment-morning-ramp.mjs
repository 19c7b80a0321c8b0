// Order-fulfilment API. Orders are created by the storefront (POST /v1/orders)
// and stay in the module-level Map `ordersInFlight` until the warehouse
// reports them shipped (batched WMS callbacks, POST /v1/warehouse/events),
// 2-20 minutes later. Traffic follows the morning: it rises steadily from
// 07:00 to 13:00 (~5x), holds through the afternoon and eases in the evening.
// Healthy: every order leaves the Map when it ships.
import {
  buildBallast, envNumber, listen, onShutdown, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 7, (v) => v >= 0 && v < 24);
const rand = rng(0x0fde1);

/** Hour of the simulated day (production clock). */
function hourOfDay() {
  return (CLOCK_H + programSeconds() / 3600) % 24;
}

/** Storefront orders per second at speed 1 for an hour of the day. */
function ordersPerSecond(h) {
  if (h < 7) return 0.12 + (0.35 - 0.12) * Math.max(0, h - 5) / 2;
  if (h < 13) return 0.35 + (1.75 - 0.35) * (h - 7) / 6; // the morning ramp, 5x
  if (h < 17) return 1.75;
  if (h < 22) return 1.75 - (1.75 - 0.12) * (h - 17) / 5;
  return 0.12;
}

// --- Orders ---------------------------------------------------------------
const ordersInFlight = new Map(); // order id -> order, until shipped
const totals = { created: 0, shipped: 0, rejected: 0, events: 0 };
let orderSeq = 0;

function orderId() {
  orderSeq += 1;
  return `ORD-${(20_250_000 + orderSeq).toString(36).toUpperCase()}-${orderSeq % 7}`;
}

function lineTotal(line) {
  return line.qty * line.unitPriceCents;
}

function validateOrder(input) {
  const errors = [];
  if (typeof input.customerId !== 'string') errors.push('customerId');
  if (!Array.isArray(input.lines) || input.lines.length === 0) errors.push('lines');
  else if (input.lines.some((l) => !Number.isInteger(l.qty) || l.qty <= 0 || !Number.isInteger(l.unitPriceCents))) errors.push('lines.qty');
  if (!input.shipTo || typeof input.shipTo.postcode !== 'string') errors.push('shipTo');
  return errors;
}

class Order {
  constructor(input, now) {
    this.id = orderId();
    this.customerId = input.customerId;
    this.channel = input.channel;
    this.lines = input.lines.map((l) => ({ sku: l.sku, title: l.title, qty: l.qty, unitPriceCents: l.unitPriceCents, totalCents: lineTotal(l) }));
    this.subtotalCents = this.lines.reduce((sum, l) => sum + l.totalCents, 0);
    this.shippingCents = this.subtotalCents > 5000 ? 0 : 495;
    this.currency = input.currency;
    this.shipTo = { ...input.shipTo };
    this.paymentRef = input.paymentRef;
    this.status = 'accepted';
    this.createdAt = now;
    this.promisedBy = now + 2 * 86_400;
    this.history = [{ stage: 'accepted', at: now }];
  }
}

function applyWarehouseEvent(event, now) {
  const order = ordersInFlight.get(event.orderId);
  if (order === undefined) return false;
  totals.events++;
  order.status = event.stage;
  order.history.push({ stage: event.stage, at: now, station: event.station });
  if (event.stage === 'shipped') {
    order.trackingNumber = event.trackingNumber;
    ordersInFlight.delete(order.id);
    totals.shipped++;
  }
  return true;
}

// --- Warehouse stand-in (the WMS): picks, packs and ships every accepted
// order 2-20 minutes later and reports the stages back in batches. ---------
class Warehouse {
  constructor() {
    this.jobs = [];
  }
  accept(order, now) {
    const total = 120 + rand() * 1080; // 2-20 min
    this.jobs.push({ orderId: order.id, due: [now + total * 0.35, now + total * 0.7, now + total], next: 0 });
  }
  dueEvents(now) {
    const events = [];
    const stages = ['picked', 'packed', 'shipped'];
    let kept = 0;
    for (const job of this.jobs) {
      while (job.next < 3 && job.due[job.next] <= now) {
        const stage = stages[job.next++];
        const event = { orderId: job.orderId, stage, station: `DC1-${stage}-${1 + (kept % 6)}` };
        if (stage === 'shipped') event.trackingNumber = `1Z${job.orderId.slice(4).replace(/-/g, '')}${Math.floor(rand() * 1e6)}`;
        events.push(event);
      }
      if (job.next < 3) this.jobs[kept++] = job;
    }
    this.jobs.length = kept;
    return events;
  }
}
const warehouse = new Warehouse();

// --- HTTP ---------------------------------------------------------------
function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const now = programSeconds();
  const url = new URL(req.url, 'http://orders.local');
  if (req.method === 'POST' && url.pathname === '/v1/orders') {
    const input = JSON.parse((await readBody(req)).toString('utf8'));
    const errors = validateOrder(input);
    if (errors.length > 0) {
      totals.rejected++;
      return send(res, 422, { errors });
    }
    const order = new Order(input, now);
    ordersInFlight.set(order.id, order);
    totals.created++;
    warehouse.accept(order, now);
    return send(res, 201, { id: order.id, status: order.status, totalCents: order.subtotalCents + order.shippingCents });
  }
  if (req.method === 'POST' && url.pathname === '/v1/warehouse/events') {
    const { events } = JSON.parse((await readBody(req)).toString('utf8'));
    let applied = 0;
    for (const event of events) if (applyWarehouseEvent(event, now)) applied++;
    return send(res, 200, { applied });
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/orders/')) {
    const order = ordersInFlight.get(url.pathname.slice('/v1/orders/'.length));
    if (order === undefined) return send(res, 404, { error: 'not in flight' });
    return send(res, 200, { id: order.id, status: order.status, history: order.history, promisedBy: order.promisedBy });
  }
  if (url.pathname === '/healthz') return send(res, 200, { ok: true, inFlight: ordersInFlight.size });
  send(res, 404, { error: 'not found' });
}

// --- Storefront, WMS and customers (in-process clients) --------------------
const CITIES = ['Leeds', 'Lyon', 'Utrecht', 'Graz', 'Porto', 'Aarhus', 'Ghent', 'Turin'];
const WORDS = ['oak', 'linen', 'steel', 'ceramic', 'cotton', 'walnut', 'glass', 'wool', 'copper'];

function orderRequest() {
  const n = 1 + Math.floor(rand() ** 2 * 6);
  const lines = [];
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rand() * 40_000);
    lines.push({ sku: `SKU-${k.toString(36).toUpperCase()}`, title: `${WORDS[k % 9]} ${WORDS[(k >> 3) % 9]} set no. ${k % 300}`, qty: 1 + Math.floor(rand() ** 3 * 4), unitPriceCents: 299 + Math.floor(rand() * 9000) });
  }
  const c = Math.floor(rand() * 250_000);
  return {
    customerId: `cus_${c.toString(36)}`,
    channel: rand() < 0.7 ? 'web' : 'app',
    currency: 'EUR',
    paymentRef: `pi_${Math.floor(rand() * 1e12).toString(36)}`,
    shipTo: { name: `Customer ${c}`, line1: `${1 + (c % 180)} ${WORDS[c % 9]} street`, city: CITIES[c % 8], postcode: `${1000 + (c % 8999)}`, country: 'NL' },
    lines,
  };
}

const { port } = await listen(handler);
const recentIds = [];
const storefront = selfRequests(port, {
  perSecond: () => ordersPerSecond(hourOfDay()),
  maxInFlight: 16,
  next: () => ({ method: 'POST', path: '/v1/orders', headers: { 'content-type': 'application/json' }, body: JSON.stringify(orderRequest()) }),
  onResponse: (status, text) => {
    if (status !== 201) return;
    recentIds.push(JSON.parse(text).id);
    if (recentIds.length > 200) recentIds.shift();
  },
});
const wms = selfRequests(port, {
  perSecond: 0.1, // one callback batch every 10 s
  maxInFlight: 1,
  next: () => {
    const events = warehouse.dueEvents(programSeconds());
    if (events.length === 0) return null;
    return { method: 'POST', path: '/v1/warehouse/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) };
  },
});
const customers = selfRequests(port, {
  perSecond: 0.4,
  maxInFlight: 8,
  next: () => (rand() < 0.4 || recentIds.length === 0 ? { path: '/healthz' } : { path: `/v1/orders/${recentIds[Math.floor(rand() * recentIds.length)]}` }),
});

const ballastMb = buildBallast();
reportStats(() => ({
  retained: ordersInFlight.size,
  clock: Math.round(hourOfDay() * 100) / 100,
  ordersPerHour: Math.round(ordersPerSecond(hourOfDay()) * 3600),
  created: totals.created,
  shipped: totals.shipped,
  warehouseJobs: warehouse.jobs.length,
  failed: storefront.failed + wms.failed + customers.failed,
}));
onShutdown(() => warehouse.jobs.splice(0));
ready(`order-fulfilment-morning-ramp: in-flight orders in Map ordersInFlight, day starts ${CLOCK_H}:00, speed ${speed}, ballast ${ballastMb} MB`);
