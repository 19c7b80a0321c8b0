// Order projector of a quick-commerce platform. The outbox relay POSTs the
// domain events of the order service to /v1/events in batches; the projector
// appends each event to its aggregate's in-memory event list
// (`aggregates`: aggregate id -> Aggregate with `events`), folds it into the
// aggregate's state and keeps a read model (`orderViews`) for the customer
// app's status polls. Every minute the snapshotter takes a snapshot of each
// aggregate that has collected enough events and truncates its event list to
// the events after the snapshot; once an order is delivered or cancelled, its
// final snapshot is written and the aggregate is evicted from memory.
//
// At the onset the feature flag `split-fulfilment` flips on: new orders are
// created as `fulfilment-order` streams (one order, possibly several
// fulfilments). SNAPSHOT_STRATEGIES only knows `order`, so the snapshotter
// skips those aggregates: they are never snapshotted, never truncated and,
// because eviction follows the final snapshot, never evicted. Every event of
// every order created after the flip stays in memory. Orders created before
// the flip finish their lifecycle normally.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  listen,
  MiB,
  onShutdown,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const DEFAULT_ONSET_S = 105 * 60;
const EPOCH_MS = 1_717_000_000_000;
const random = rng(0x0e5e7);

const flags = { 'split-fulfilment': false };

// --- projection --------------------------------------------------------------

class Aggregate {
  constructor(id, streamType) {
    this.id = id;
    this.streamType = streamType;
    this.version = 0;
    this.events = [];
    this.state = { status: 'new', items: [], picked: 0, courier: null, lastLocation: null, totals: null, timeline: {} };
    this.snapshot = null;
    this.snapshotVersion = 0;
    this.completedAt = null;
  }
}

/** aggregate id -> Aggregate */
const aggregates = new Map();
/** order id -> read model row for the customer app */
const orderViews = new Map();
const counters = { batches: 0, events: 0, duplicates: 0, snapshots: 0, truncated: 0, evicted: 0, skippedNoStrategy: 0, views: 0 };

const SNAPSHOT_STRATEGIES = {
  order: { everyEvents: 20, keepAfterSnapshot: 0 },
};

/** The envelope kept in the aggregate's event list. */
function toStoredEvent(event, seq) {
  return {
    seq,
    type: event.type,
    aggregateId: event.aggregateId,
    payload: event.payload,
    recordedAt: programSeconds(),
    occurredAt: event.occurredAt,
    causationId: event.causationId ?? null,
    correlationId: event.correlationId,
    producer: event.producer,
  };
}

function evolve(state, event) {
  const p = event.payload;
  state.timeline[event.type] = event.occurredAt;
  switch (event.type) {
    case 'OrderPlaced':
      state.status = 'placed';
      state.items = p.items.map((i) => ({ sku: i.sku, quantity: i.quantity, picked: 0 }));
      state.totals = p.totals;
      state.customerId = p.customer.id;
      break;
    case 'PaymentAuthorized':
      state.status = 'paid';
      break;
    case 'OrderAccepted':
      state.status = 'accepted';
      state.storeId = p.storeId;
      break;
    case 'ItemPicked': {
      const item = state.items.find((i) => i.sku === p.sku);
      if (item !== undefined) item.picked += p.quantity;
      state.picked++;
      state.status = 'picking';
      break;
    }
    case 'OrderPacked':
      state.status = 'packed';
      break;
    case 'CourierAssigned':
      state.courier = p.courierId;
      break;
    case 'CourierLocationUpdated':
      state.lastLocation = { lat: p.lat, lng: p.lng, at: event.occurredAt };
      break;
    case 'OrderPickedUp':
      state.status = 'en_route';
      break;
    case 'OrderDelivered':
      state.status = 'delivered';
      break;
    case 'OrderCancelled':
      state.status = 'cancelled';
      break;
  }
  return state;
}

function project(event) {
  let aggregate = aggregates.get(event.aggregateId);
  if (aggregate === undefined) {
    aggregate = new Aggregate(event.aggregateId, event.streamType);
    aggregates.set(aggregate.id, aggregate);
  }
  if (event.version <= aggregate.version) {
    counters.duplicates++;
    return;
  }
  const stored = toStoredEvent(event, aggregate.version + 1);
  aggregate.events.push(stored);
  aggregate.version = stored.seq;
  evolve(aggregate.state, stored);
  counters.events++;
  if (aggregate.state.status === 'delivered' || aggregate.state.status === 'cancelled') aggregate.completedAt ??= programSeconds();
  const s = aggregate.state;
  orderViews.set(event.orderId, {
    orderId: event.orderId,
    status: s.status,
    eta: s.status === 'en_route' ? new Date(EPOCH_MS + (programSeconds() + 600) * 1000).toISOString() : null,
    courier: s.courier,
    location: s.lastLocation,
    itemsPicked: s.picked,
    updatedAt: programSeconds(),
    completedAt: aggregate.completedAt,
  });
}

/** Snapshots aggregates with enough events, truncates them, evicts completed ones. */
function snapshotter() {
  const now = programSeconds();
  for (const aggregate of aggregates.values()) {
    const strategy = SNAPSHOT_STRATEGIES[aggregate.streamType];
    if (strategy === undefined) {
      counters.skippedNoStrategy++;
      continue;
    }
    const completed = aggregate.completedAt !== null;
    if (aggregate.events.length >= strategy.everyEvents || (completed && aggregate.events.length > 0)) {
      aggregate.snapshot = JSON.parse(JSON.stringify(aggregate.state));
      aggregate.snapshotVersion = aggregate.version;
      counters.truncated += aggregate.events.length - strategy.keepAfterSnapshot;
      aggregate.events.splice(0, aggregate.events.length - strategy.keepAfterSnapshot);
      counters.snapshots++;
    }
    if (completed && aggregate.events.length === 0) {
      aggregates.delete(aggregate.id);
      counters.evicted++;
    }
  }
  for (const [orderId, view] of orderViews) {
    if (view.completedAt !== null && now - view.completedAt > 15 * 60) orderViews.delete(orderId);
  }
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    if (req.method === 'POST' && url === '/v1/events') {
      const batch = JSON.parse((await readBody(req, 4 * MiB)).toString('utf8'));
      counters.batches++;
      for (const event of batch.events) project(event);
      return sendJson(res, 200, { accepted: batch.events.length, position: batch.position });
    }
    if (req.method === 'GET' && url.startsWith('/v1/orders/')) {
      counters.views++;
      const view = orderViews.get(url.slice('/v1/orders/'.length));
      return view === undefined ? sendJson(res, 404, { error: 'unknown order' }) : sendJson(res, 200, view);
    }
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { ok: true, aggregates: aggregates.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, error instanceof SyntaxError ? 400 : 500, { error: String(error.message ?? error) });
  }
}

// --- the order service (the load): orders move through their lifecycle --------

const STORES = Array.from({ length: 12 }, (_, i) => `store-${['ber', 'ham', 'muc', 'cgn'][i % 4]}-${1 + (i >> 2)}`);
const PRODUCTS = Array.from({ length: 2_000 }, (_, i) => ({ sku: `SKU-${(50_000 + i * 37).toString(36).toUpperCase()}`, name: `${['organic', 'fresh', 'family', 'mini', 'classic'][i % 5]} ${['milk', 'bananas', 'bread', 'eggs', 'coffee', 'pasta', 'tomatoes', 'yoghurt', 'cheese', 'apples'][i % 10]} ${i}`, priceCents: 79 + ((i * 131) % 900) }));
const ORDERS_PER_HOUR = 150;

/** In-flight orders on the order service's side: { orderId, aggregateId, streamType, version, steps, next, at } */
const activeOrders = [];
/** Events the outbox relay has not sent yet. */
const outbox = [];
let orderSeq = 0;
let outboxPosition = 0;

function pick(list) {
  return list[Math.floor(random() * list.length)];
}

function uuidish(seed) {
  return createHash('md5').update(seed).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
}

/** The order's whole lifecycle as (delay seconds, type, payload) steps. */
function lifecycle() {
  const items = Array.from({ length: 3 + Math.floor(random() * 13) }, () => {
    const product = pick(PRODUCTS);
    return { sku: product.sku, name: product.name, quantity: 1 + Math.floor(random() * 3), unitPriceCents: product.priceCents };
  });
  const subtotal = items.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0);
  const steps = [
    [0, 'OrderPlaced', { customer: { id: `cus_${Math.floor(random() * 1e7).toString(36)}`, segment: random() < 0.2 ? 'plus' : 'standard' }, address: { street: `${Math.floor(random() * 200)} ${pick(['Linden', 'Ahorn', 'Birken', 'Eichen'])}str.`, city: pick(['Berlin', 'Hamburg', 'München', 'Köln']), postcode: String(10000 + Math.floor(random() * 89999)), lat: 52.5 + random() / 10, lng: 13.4 + random() / 10 }, items, totals: { subtotalCents: subtotal, deliveryFeeCents: 199, totalCents: subtotal + 199, currency: 'EUR' } }],
    [5 + random() * 20, 'PaymentAuthorized', { provider: pick(['card', 'paypal', 'applepay']), authorizationId: `auth_${Math.floor(random() * 1e12).toString(36)}`, amountCents: subtotal + 199 }],
  ];
  if (random() < 0.03) return [...steps, [60 + random() * 300, 'OrderCancelled', { reason: pick(['customer_request', 'out_of_stock', 'payment_failed']) }]];
  steps.push([10 + random() * 60, 'OrderAccepted', { storeId: pick(STORES), pickerId: `pk_${Math.floor(random() * 400)}` }]);
  for (const item of items) steps.push([10 + random() * 40, 'ItemPicked', { sku: item.sku, quantity: item.quantity, bin: `A${Math.floor(random() * 40)}-${Math.floor(random() * 8)}`, substituted: random() < 0.05 }]);
  steps.push([20 + random() * 60, 'OrderPacked', { bags: 1 + Math.floor(items.length / 6), chilled: random() < 0.4 }]);
  steps.push([30 + random() * 240, 'CourierAssigned', { courierId: `cr_${Math.floor(random() * 900)}`, vehicle: pick(['bike', 'ebike', 'scooter']) }]);
  steps.push([60 + random() * 180, 'OrderPickedUp', { handoverCode: String(Math.floor(random() * 9000) + 1000) }]);
  const ride = 8 * 60 + random() * 14 * 60;
  for (let t = 30; t < ride; t += 30) {
    steps.push([30, 'CourierLocationUpdated', { lat: 52.5 + random() / 10, lng: 13.4 + random() / 10, heading: Math.floor(random() * 360), speedKmh: Math.round(random() * 250) / 10, accuracyM: 3 + Math.floor(random() * 20) }]);
  }
  steps.push([20 + random() * 60, 'OrderDelivered', { proof: random() < 0.7 ? 'handed_over' : 'left_at_door', rating: null }]);
  return steps;
}

function placeOrder() {
  orderSeq++;
  const orderId = `ord_${(1_000_000 + orderSeq).toString(36)}`;
  const streamType = flags['split-fulfilment'] ? 'fulfilment-order' : 'order';
  activeOrders.push({ orderId, aggregateId: `${streamType}-${uuidish(orderId)}`, streamType, correlationId: uuidish(`${orderId}:corr`), version: 0, steps: lifecycle(), next: 0, at: programSeconds() });
}

/** Every production second: place new orders, emit the events that are due. */
function orderServiceTick() {
  if (random() < ORDERS_PER_HOUR / 3600) placeOrder();
  const now = programSeconds();
  for (let i = activeOrders.length - 1; i >= 0; i--) {
    const order = activeOrders[i];
    while (order.next < order.steps.length && order.at + order.steps[order.next][0] <= now) {
      const [delay, type, payload] = order.steps[order.next];
      order.at += delay;
      order.version++;
      outbox.push({
        eventId: uuidish(`${order.orderId}:${order.version}`),
        aggregateId: order.aggregateId,
        streamType: order.streamType,
        orderId: order.orderId,
        version: order.version,
        type,
        payload,
        occurredAt: new Date(EPOCH_MS + order.at * 1000).toISOString(),
        correlationId: order.correlationId,
        causationId: order.version > 1 ? uuidish(`${order.orderId}:${order.version - 1}`) : null,
        producer: 'order-service@7.14.2',
      });
      order.next++;
    }
    if (order.next >= order.steps.length) activeOrders.splice(i, 1);
  }
}

function nextOutboxBatch() {
  if (outbox.length === 0) return null;
  const events = outbox.splice(0, 200);
  outboxPosition += events.length;
  return { method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ position: outboxPosition, events }) };
}

// --- start -------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

const orderService = setInterval(orderServiceTick, scaledMs(1));
const snapshots = setInterval(snapshotter, scaledMs(60));
const flip = setTimeout(() => (flags['split-fulfilment'] = true), onsetMs(DEFAULT_ONSET_S));
onShutdown(() => {
  clearInterval(orderService);
  clearInterval(snapshots);
  clearTimeout(flip);
});

// The outbox relay flushes twice a second; customers' apps poll their order's status ~1/s in all.
const relay = selfRequests(port, { perSecond: 2, maxInFlight: 1, next: nextOutboxBatch });
const apps = selfRequests(port, {
  perSecond: 1,
  maxInFlight: 8,
  next: () => {
    if (activeOrders.length === 0 || random() < 0.05) return { method: 'GET', path: '/healthz' };
    return { method: 'GET', path: `/v1/orders/${activeOrders[Math.floor(random() * activeOrders.length)].orderId}` };
  },
});

reportStats(() => {
  let events = 0;
  let unsnapshotted = 0;
  for (const aggregate of aggregates.values()) {
    events += aggregate.events.length;
    if (SNAPSHOT_STRATEGIES[aggregate.streamType] === undefined) unsnapshotted++;
  }
  return {
    retained: events,
    aggregates: aggregates.size,
    unsnapshotted,
    views: orderViews.size,
    activeOrders: activeOrders.length,
    outbox: outbox.length,
    projected: counters.events,
    snapshots: counters.snapshots,
    evicted: counters.evicted,
    flag: flags['split-fulfilment'] ? 1 : 0,
    requestsFailed: relay.failed + apps.failed,
  };
});

ready(
  `order-projector-snapshot-flag-leak: ~${ORDERS_PER_HOUR} orders/h, ~2 events/s projected into per-aggregate event lists; from ${onsetSeconds(DEFAULT_ONSET_S)} s fulfilment-order aggregates are never snapshotted, truncated or evicted (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
