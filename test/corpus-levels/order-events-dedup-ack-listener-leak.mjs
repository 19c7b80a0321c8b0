// Order-events consumer of a food-delivery platform. The message broker pushes
// batches of order events (placed, accepted, courier assigned, picked up,
// delivered, ...) to POST /v1/push; delivery is at-least-once, so a
// rebalance or a slow ack can bring the same message twice. The consumer
// keeps a Deduplicator (module-level `dedup`): a Set `seen` of message ids
// and a Map `unacked` of small per-message records (partition, offset, ...)
// needed to commit. After a batch is applied it is acked on the broker
// session; when the broker confirms the ack (the session's 'ack' event), the
// ids are pruned from both.
//
// The bug: connect() registers the 'ack' listener, but the reconnect path
// (handleDisconnect -> reconnect) builds a new BrokerSession and only
// re-registers 'close' and the subscriptions. The broker's rolling restart at
// the onset closes the session; from then on acks are still sent and
// confirmed, but nobody prunes, and the dedup state grows with the traffic,
// which follows the day (a lunchtime peak).
import { EventEmitter } from 'node:events';
import {
  buildBallast,
  envNumber,
  listen,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xded09e5);
const ONSET_S = onsetSeconds(7200);
const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 7.5, (v) => v >= 0 && v < 24);
const EPOCH_MS = Date.UTC(2024, 10, 5, 0, 0) + CLOCK_H * 3_600_000;
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);
const hourOfDay = () => (CLOCK_H + programSeconds() / 3600) % 24;

// --- dedup ---------------------------------------------------------------------

function toPendingRecord(message, now) {
  return {
    messageId: message.id,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    orderId: message.key,
    type: message.data.type,
    receivedAt: now,
    deliveryAttempt: message.attempt,
  };
}

class Deduplicator {
  constructor() {
    this.seen = new Set();
    this.unacked = new Map();
    this.duplicates = 0;
    this.pruned = 0;
  }

  isDuplicate(id) {
    return this.seen.has(id);
  }

  remember(message, now) {
    this.seen.add(message.id);
    this.unacked.set(message.id, toPendingRecord(message, now));
  }

  prune(ids) {
    for (const id of ids) {
      this.seen.delete(id);
      if (this.unacked.delete(id)) this.pruned++;
    }
  }
}

const dedup = new Deduplicator();

// --- broker session (stand-in for the broker client) ------------------------------

let sessionSeq = 0;

class BrokerSession extends EventEmitter {
  constructor(endpoint) {
    super();
    this.id = `sess-${++sessionSeq}`;
    this.endpoint = endpoint;
    this.topics = new Set();
    this.acksSent = 0;
    this.closed = false;
  }

  subscribe(topic) {
    this.topics.add(topic);
  }

  /** Sends the ack; the broker confirms it a few ms later with the committed offsets. */
  ack(ids, offsets) {
    if (this.closed) return;
    this.acksSent++;
    setTimeout(() => {
      if (!this.closed) this.emit('ack', { ids, offsets, confirmedAt: nowMs() });
    }, 2 + Math.floor(random() * 6));
  }

  close(reason) {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', reason);
  }
}

const TOPICS = ['orders.lifecycle', 'orders.courier', 'orders.payments'];
const BROKERS = ['broker-1.internal:9093', 'broker-2.internal:9093', 'broker-3.internal:9093'];
let session = null;
const connections = [];

function onAckConfirmed(confirm) {
  dedup.prune(confirm.ids);
  committed.acks++;
}

function connect() {
  session = new BrokerSession(BROKERS[0]);
  session.on('ack', onAckConfirmed);
  session.on('close', handleDisconnect);
  for (const topic of TOPICS) session.subscribe(topic);
  connections.push({ session: session.id, endpoint: session.endpoint, at: Math.round(programSeconds()), via: 'connect' });
}

function handleDisconnect(reason) {
  connections.push({ session: session.id, closed: reason, at: Math.round(programSeconds()) });
  reconnect();
}

function reconnect() {
  const endpoint = BROKERS[connections.length % BROKERS.length];
  session = new BrokerSession(endpoint);
  session.on('close', handleDisconnect);
  for (const topic of TOPICS) session.subscribe(topic);
  connections.push({ session: session.id, endpoint, at: Math.round(programSeconds()), via: 'reconnect' });
}

// --- applying events ------------------------------------------------------------------

const committed = { batches: 0, messages: 0, acks: 0 };
/** Per delivery zone: counters for the ops dashboard (fixed set of zones). */
const zoneStats = new Map();
/** Courier id -> orders currently assigned (bounded by the fleet). */
const courierLoad = new Map();

function applyEvent(message) {
  const event = message.data;
  let zone = zoneStats.get(event.zone);
  if (zone === undefined) {
    zone = { placed: 0, delivered: 0, cancelled: 0, lastEventAt: 0 };
    zoneStats.set(event.zone, zone);
  }
  zone.lastEventAt = event.at;
  if (event.type === 'order.placed') zone.placed++;
  else if (event.type === 'order.delivered') zone.delivered++;
  else if (event.type === 'order.cancelled') zone.cancelled++;
  if (event.courierId !== undefined) {
    const load = courierLoad.get(event.courierId) ?? 0;
    if (event.type === 'courier.assigned') courierLoad.set(event.courierId, load + 1);
    else if (event.type === 'order.delivered' && load > 0) courierLoad.set(event.courierId, load - 1);
  }
}

/** Stand-in for the write to the order-state store (a few ms). */
function persist(count) {
  return new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(random() * 3) + (count >> 3)));
}

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/push') {
      const push = JSON.parse((await readBody(req)).toString('utf8'));
      const now = nowMs();
      const fresh = [];
      for (const message of push.messages) {
        if (dedup.isDuplicate(message.id)) {
          dedup.duplicates++;
          continue;
        }
        dedup.remember(message, now);
        fresh.push(message);
      }
      for (const message of fresh) applyEvent(message);
      await persist(fresh.length);
      committed.batches++;
      committed.messages += fresh.length;
      const offsets = {};
      for (const message of push.messages) offsets[`${message.topic}/${message.partition}`] = message.offset;
      session.ack(push.messages.map((m) => m.id), offsets);
      return sendJson(res, 200, { applied: fresh.length, duplicates: push.messages.length - fresh.length });
    }
    if (req.method === 'GET' && req.url === '/healthz') return sendJson(res, 200, { ok: true, session: session.id });
    if (req.method === 'GET' && req.url === '/v1/stats') {
      return sendJson(res, 200, { committed, unacked: dedup.unacked.size, duplicates: dedup.duplicates, zones: Object.fromEntries(zoneStats) });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- the broker's push deliveries (the load) -------------------------------------------

const ZONES = ['amsterdam-centrum', 'amsterdam-zuid', 'amsterdam-oost', 'amsterdam-west', 'amstelveen', 'haarlem', 'zaandam', 'diemen'];
const RESTAURANTS = 640;
const COURIERS = 420;
const LIFECYCLE = ['order.placed', 'order.accepted', 'courier.assigned', 'order.ready', 'order.picked_up', 'order.delivered'];

/** Messages per second (speed 1): a food-delivery day, night trickle, lunch and dinner peaks. */
function messagesPerSecond() {
  const h = hourOfDay();
  const lunch = Math.exp(-0.5 * ((h - 12) / 1.2) ** 2);
  const dinner = Math.exp(-0.5 * ((h - 19.25) / 1.5) ** 2);
  return 4.5 * (0.1 + 0.9 * Math.max(lunch, 0.85 * dinner));
}

/** Orders in progress on the broker side: each emits its lifecycle events in turn. */
const activeOrders = [];
const partitionOffsets = new Array(24).fill(0);
let orderSeq = 0;
let messageSeq = 0;
/** Recently pushed messages the broker may deliver again (rebalance, slow ack). */
const recentlyPushed = [];

function nextEvent() {
  // Orders in progress follow the traffic (each lives for ~6 events).
  if (activeOrders.length < Math.max(20, Math.ceil(messagesPerSecond() * 60))) {
    activeOrders.push({ id: `ord_${(++orderSeq).toString(36).padStart(7, '0')}`, step: 0, zone: ZONES[Math.floor(random() * ZONES.length)], restaurant: Math.floor(random() * RESTAURANTS), courier: undefined });
  }
  const index = Math.floor(random() * activeOrders.length);
  const order = activeOrders[index];
  let type = LIFECYCLE[order.step];
  if (order.step === 1 && random() < 0.03) type = 'order.cancelled';
  if (type === 'courier.assigned') order.courier = `c_${Math.floor(random() * COURIERS)}`;
  order.step++;
  if (type === 'order.cancelled' || order.step >= LIFECYCLE.length) activeOrders.splice(index, 1);
  const partition = (order.restaurant * 7 + order.zone.length) % partitionOffsets.length;
  const topic = type.startsWith('courier') ? TOPICS[1] : TOPICS[0];
  return {
    id: `${topic.slice(7, 10)}-${(++messageSeq).toString(36).padStart(9, '0')}`,
    topic,
    partition,
    offset: ++partitionOffsets[partition],
    key: order.id,
    attempt: 1,
    publishTime: new Date(nowMs()).toISOString(),
    data: {
      type,
      orderId: order.id,
      zone: order.zone,
      restaurantId: `r_${order.restaurant}`,
      courierId: order.courier,
      at: nowMs(),
      etaMinutes: 15 + Math.floor(random() * 30),
    },
  };
}

function nextPush() {
  const size = 1 + Math.floor(random() * 16);
  const messages = [];
  for (let i = 0; i < size; i++) {
    if (recentlyPushed.length > 0 && random() < 0.01) {
      const again = recentlyPushed[Math.floor(random() * recentlyPushed.length)];
      messages.push({ ...again, attempt: again.attempt + 1 });
      continue;
    }
    const message = nextEvent();
    messages.push(message);
    recentlyPushed.push(message);
    if (recentlyPushed.length > 50) recentlyPushed.shift();
  }
  return { method: 'POST', path: '/v1/push', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subscription: 'order-events-consumer', messages }) };
}

const ballastMb = buildBallast();
connect();
const { port } = await listen(handler);

// Broker pushes: on average 8.5 messages per push.
const pushes = selfRequests(port, { perSecond: () => messagesPerSecond() / 8.5, maxInFlight: 8, next: nextPush });
// Load balancer health checks and the ops dashboard.
const reads = selfRequests(port, {
  perSecond: 0.25,
  maxInFlight: 2,
  next: () => (random() < 0.8 ? { method: 'GET', path: '/healthz' } : { method: 'GET', path: '/v1/stats' }),
});

// The broker's rolling restart closes our session at the onset.
const restart = setTimeout(() => session.close('broker rolling restart: broker-1 going down'), onsetMs(7200));
restart.unref();

reportStats(() => ({
  retained: dedup.unacked.size,
  seen: dedup.seen.size,
  pruned: dedup.pruned,
  duplicates: dedup.duplicates,
  messages: committed.messages,
  clock: Math.round(hourOfDay() * 100) / 100,
  ratePerSecond: Math.round(messagesPerSecond() * 100) / 100,
  ordersInProgress: activeOrders.length,
  session: session.id,
  ackListeners: session.listenerCount('ack'),
  requestsFailed: pushes.failed + reads.failed,
}));

ready(
  `order-events-dedup-ack-listener-leak: dedup Set + unacked Map pruned on broker ack confirmations; the reconnect after the broker restart at ${ONSET_S} s drops the 'ack' listener (clock ${CLOCK_H} h, speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
