// Webhook fan-out service of a small ticketing platform: organisers' systems
// subscribe to event types (ticket.sold, order.refunded, ...), and every
// event the platform emits is delivered to each matching subscriber.
//
// Traffic is nearly idle at night (an event every minute or so) and quiet
// during the day, except when an organiser's ticket sale opens: then the
// platform emits ~1.2 events/s for 20-40 minutes, ~360 deliveries a
// minute (5 subscribers per event on average). Each subscriber has its own class SubscriberQueue (an array
// `pending` of signed payloads) drained by one delivery at a time, so a
// slow subscriber builds up a backlog during a sale and works it off
// afterwards. Nothing is kept after delivery (the last 200 outcomes only).
//
// The simulated day starts at SCENARIO_CLOCK_H (default 7.0, i.e. 07:00);
// the sales open at 07:40, 12:15, 17:30 and 21:05 (35, 25, 40 and 20 min).
import { createHmac, randomUUID } from 'node:crypto';
import {
  buildBallast,
  envNumber,
  every,
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

const random = rng(0x3e6b00c);
const clockStartH = envNumber('SCENARIO_CLOCK_H', 7, (v) => v >= 0 && v < 24);

/** Hour of the simulated day (0-24). */
function clockHour() {
  return (clockStartH + programSeconds() / 3600) % 24;
}

const SALES = [
  { opensH: 7 + 40 / 60, minutes: 35 },
  { opensH: 12.25, minutes: 25 },
  { opensH: 17.5, minutes: 40 },
  { opensH: 21 + 5 / 60, minutes: 20 },
];

function saleOpen() {
  const h = clockHour();
  return SALES.some((s) => h >= s.opensH && h < s.opensH + s.minutes / 60);
}

/** Events per second the platform emits: a trickle at night, a little more by day, 1.2/s during a sale. */
function eventRate() {
  if (saleOpen()) return 1.2;
  const h = clockHour();
  return h >= 7 && h < 22 ? 0.05 : 0.015;
}

// --- subscribers (organisers' endpoints, stand-ins with real latency) ----------------------------------

const EVENT_TYPES = ['ticket.sold', 'ticket.sold', 'ticket.sold', 'order.created', 'order.refunded', 'checkin.scanned', 'seat.released'];

const SUBSCRIBERS = [
  // [id, event types, median latency ms (production time)]
  ['box-office-crm', ['ticket.sold', 'order.created', 'order.refunded'], 1600],
  ['accounting-export', ['ticket.sold', 'order.refunded'], 900],
  ['venue-access-control', ['ticket.sold', 'checkin.scanned', 'seat.released'], 300],
  ['marketing-automation', ['order.created', 'ticket.sold'], 2500],
  ['fraud-screening', ['order.created'], 250],
  ['loyalty-wallet', ['ticket.sold'], 700],
  ['data-warehouse', EVENT_TYPES, 400],
  ['support-desk', ['order.refunded'], 600],
  ['sms-gateway', ['ticket.sold'], 1100],
  ['partner-resale', ['seat.released', 'order.refunded'], 500],
].map(([id, types, medianMs]) => ({ id, types: new Set(types), medianMs, secret: `whsec_${id}_2024` }));

function subscriberLatencyMs(subscriber) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(30_000, subscriber.medianMs * Math.exp(0.35 * z));
}

const endpointTimers = new Set();
onShutdown(() => {
  for (const timer of endpointTimers) clearTimeout(timer);
});

function postToSubscriber(subscriber, payload) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      endpointTimers.delete(timer);
      resolve(random() < 0.998 ? 200 : 500);
    }, subscriberLatencyMs(subscriber) / speed);
    endpointTimers.add(timer);
  });
}

// --- the fan-out ---------------------------------------------------------------------------------------

class SubscriberQueue {
  constructor(subscriber) {
    this.subscriber = subscriber;
    this.pending = [];
    this.busy = false;
    this.delivered = 0;
    this.maxBacklog = 0;
  }

  enqueue(payload) {
    this.pending.push(payload);
    if (this.pending.length > this.maxBacklog) this.maxBacklog = this.pending.length;
    if (!this.busy) this.drain();
  }

  async drain() {
    this.busy = true;
    while (this.pending.length > 0) {
      const payload = this.pending[0];
      const status = await postToSubscriber(this.subscriber, payload);
      if (status >= 300 && payload.attempts++ < 3) continue; // retry in place
      this.pending.shift();
      this.delivered++;
      recordOutcome(this.subscriber.id, payload.deliveryId, status);
    }
    this.busy = false;
  }
}

const queues = SUBSCRIBERS.map((s) => new SubscriberQueue(s));
const recentOutcomes = [];
function recordOutcome(subscriberId, deliveryId, status) {
  recentOutcomes.push({ subscriberId, deliveryId, status, at: programSeconds() });
  if (recentOutcomes.length > 200) recentOutcomes.shift();
}

/** The signed delivery for one subscriber: body text and headers. */
function signPayload(subscriber, event) {
  const body = JSON.stringify({ id: randomUUID(), type: event.type, createdAt: event.createdAt, data: event.data });
  const timestamp = Math.floor(programSeconds());
  const signature = createHmac('sha256', subscriber.secret).update(`${timestamp}.${body}`).digest('hex');
  return { deliveryId: randomUUID(), body, headers: { 'webhook-signature': `t=${timestamp},v1=${signature}`, 'content-type': 'application/json' }, attempts: 0 };
}

const counters = { events: 0, deliveriesQueued: 0 };

function fanOut(event) {
  counters.events++;
  for (const queue of queues) {
    if (!queue.subscriber.types.has(event.type)) continue;
    queue.enqueue(signPayload(queue.subscriber, event));
    counters.deliveriesQueued++;
  }
}

// --- HTTP: the platform posts events here -----------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.url === '/healthz') return sendJson(res, 200, { ok: true });
    if (req.method === 'POST' && req.url === '/v1/events') {
      const event = JSON.parse((await readBody(req)).toString('utf8'));
      fanOut(event);
      return sendJson(res, 202, { accepted: true });
    }
    if (req.method === 'GET' && req.url === '/v1/subscribers') {
      return sendJson(res, 200, queues.map((q) => ({ id: q.subscriber.id, backlog: q.pending.length, delivered: q.delivered })));
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error) });
  }
}

// --- the platform (event producer) ---------------------------------------------------------------------

let orderSeq = 880_000;
function platformEvent() {
  const type = EVENT_TYPES[Math.floor(random() * EVENT_TYPES.length)];
  const order = orderSeq++;
  const tickets = 1 + Math.floor(random() * 6);
  return {
    type,
    createdAt: new Date(Date.UTC(2024, 10, 4) + programSeconds() * 1000).toISOString(),
    data: {
      orderId: `ORD-${order}`,
      eventId: `EV-${2000 + (order % 37)}`,
      eventName: `Concert night ${order % 37} - ${['Arena', 'Stadthalle', 'Club', 'Open Air'][order % 4]}`,
      buyer: { id: `B-${order % 70_000}`, email: `buyer${order % 70_000}@mail.example`, country: ['DE', 'AT', 'CH', 'NL'][order % 4] },
      tickets: Array.from({ length: tickets }, (_, i) => ({
        ticketId: `T-${order}-${i}`,
        category: ['standing', 'seated-a', 'seated-b', 'vip'][(order + i) % 4],
        seat: (order + i) % 4 === 0 ? null : `Block ${1 + (i % 9)} Row ${1 + (order % 30)} Seat ${1 + i}`,
        priceCents: 2900 + ((order * 17 + i * 313) % 9000),
        barcode: `${order.toString(36)}${i}${(order * 7919).toString(36)}`.toUpperCase(),
      })),
      totalCents: tickets * 4900,
      currency: 'EUR',
      channel: ['web', 'app', 'box-office'][order % 3],
    },
  };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const platform = selfRequests(port, {
  perSecond: eventRate,
  maxInFlight: 16,
  next: () => ({ method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify(platformEvent()) }),
});
// A load balancer's health check every 20 s and an operator dashboard now and then.
const probes = selfRequests(port, {
  perSecond: 0.06,
  maxInFlight: 1,
  next: () => ({ method: 'GET', path: random() < 0.8 ? '/healthz' : '/v1/subscribers' }),
});

const rateSeen = { perMinute: 0, last: 0 };
every(60_000 / speed, () => {
  rateSeen.perMinute = counters.deliveriesQueued - rateSeen.last;
  rateSeen.last = counters.deliveriesQueued;
});

reportStats(() => ({
  retained: queues.reduce((n, q) => n + q.pending.length, 0),
  clockH: Math.round(clockHour() * 100) / 100,
  saleOpen: saleOpen(),
  events: counters.events,
  deliveriesPerMin: rateSeen.perMinute,
  delivered: queues.reduce((n, q) => n + q.delivered, 0),
  maxBacklog: Math.max(...queues.map((q) => q.pending.length)),
  requestsFailed: platform.failed + probes.failed,
}));

ready(
  `webhook-fanout-quiet-nights: webhook fan-out to 10 subscribers, ~0.015-0.05 events/s, 1.2/s during 20-40 min ticket sales, per-subscriber backlogs drained after each (clock ${clockStartH} h, speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
