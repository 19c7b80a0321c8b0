// Inbound-webhook receiver of an order-management service. Three long-standing
// integrations (storefront, payments, carrier) POST events to
// /v1/webhooks/:integration; their events carry a natural key that the order
// store upserts, so a redelivery is harmless. A marketplace integration added
// later signs with the Standard Webhooks headers (webhook-id, -timestamp,
// -signature) and redelivers on any slow answer, so its handler dedupes on the
// webhook id: idempotencyKey() builds "<integration>:<webhook-id>" and the key
// goes into the module-level Set `deliveredKeys`, which nothing ever prunes.
// The marketplace goes live at SCENARIO_ONSET (default 1 h) and sends ~4
// events/s from then on; every key stays for the life of the process.
import { createHmac, randomBytes } from 'node:crypto';
import {
  buildBallast, listen, onsetSeconds, programSeconds, readBody, ready, reportStats, rng, selfRequests,
} from '../corpus/lib/corpus.mjs';

const ONSET_S = onsetSeconds(3600);
const EPOCH_MS = Date.UTC(2024, 1, 6, 7);
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);
const INTEGRATIONS = {
  storefront: { secret: 'whsec_storefront_9f2c', idempotency: 'upsert', perSecond: 0.8 },
  payments: { secret: 'whsec_payments_41aa', idempotency: 'upsert', perSecond: 0.5 },
  carrier: { secret: 'whsec_carrier_7d10', idempotency: 'upsert', perSecond: 0.3 },
  marketplace: { secret: 'whsec_marketplace_c3e8', idempotency: 'webhook-id', perSecond: 4 },
};
const EVENT_TYPES = ['order.created', 'order.updated', 'order.paid', 'shipment.created', 'inventory.adjusted', 'refund.created'];

// --- receiver ---------------------------------------------------------------
const deliveredKeys = new Set();
const eventCounts = {}; // "<integration> <event type>" -> count, for the metrics endpoint
const recentEvents = []; // last 1 000 events, for the operations dashboard
const metrics = { received: 0, applied: 0, duplicates: 0, badSignature: 0 };

function sign(secret, id, timestamp, body) {
  return `v1,${createHmac('sha256', secret).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

function verifySignature(integration, headers, body) {
  const id = headers['webhook-id'];
  const expected = sign(integration.secret, id, headers['webhook-timestamp'], body);
  return headers['webhook-signature'].split(' ').includes(expected);
}

/** The dedupe key of a delivery, or null when the integration's events are idempotent by themselves. */
function idempotencyKey(name, integration, headers) {
  if (integration.idempotency !== 'webhook-id') return null;
  return `${name}:${headers['webhook-id']}`;
}

/** Stand-in for the order store's upsert (a database in production): validates and counts. */
function applyEvent(name, event) {
  const { orderRef, lines, totalCents } = event.data;
  if (typeof orderRef !== 'string' || !Array.isArray(lines)) throw new Error('malformed event');
  const total = lines.reduce((sum, line) => sum + line.qty * line.unitCents, 0);
  if (total !== totalCents) throw new Error('total mismatch');
  const counter = `${name} ${event.type}`;
  eventCounts[counter] = (eventCounts[counter] ?? 0) + 1;
  recentEvents.push({ integration: name, type: event.type, ref: orderRef, at: nowMs() });
  if (recentEvents.length > 1000) recentEvents.shift();
  metrics.applied++;
}

async function receiveWebhook(name, req, res) {
  const integration = INTEGRATIONS[name];
  if (integration === undefined) return res.writeHead(404).end();
  const body = (await readBody(req, 256 * 1024)).toString('utf8');
  metrics.received++;
  if (!verifySignature(integration, req.headers, body)) {
    metrics.badSignature++;
    return res.writeHead(401).end();
  }
  const key = idempotencyKey(name, integration, req.headers);
  if (key !== null && deliveredKeys.has(key)) {
    metrics.duplicates++;
    return res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"duplicate"}');
  }
  applyEvent(name, JSON.parse(body));
  if (key !== null) deliveredKeys.add(key);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
}

async function handle(req, res) {
  const match = /^\/v1\/webhooks\/([a-z-]+)$/.exec(req.url);
  if (req.method === 'POST' && match !== null) return receiveWebhook(match[1], req, res);
  if (req.url === '/v1/ops/recent') return res.end(JSON.stringify({ counts: eventCounts, recent: recentEvents.slice(-50) }));
  if (req.url === '/healthz') return res.end('ok');
  res.writeHead(404).end();
}

// --- the integrations' senders (in-process clients) ---------------------------
const random = rng(6021);
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const recentDeliveries = []; // the marketplace's last 200 deliveries, some of which it redelivers

function webhookId() {
  let id = 'msg_';
  for (const byte of randomBytes(27)) id += BASE62[byte % 62];
  return id;
}

function eventFor(name) {
  const type = EVENT_TYPES[Math.floor(random() * EVENT_TYPES.length)];
  const lines = [];
  for (let n = 1 + Math.floor(random() * 5); n > 0; n--) lines.push({ sku: `SKU-${Math.floor(random() * 90_000)}`, qty: 1 + Math.floor(random() * 3), unitCents: 499 + Math.floor(random() * 9000) });
  const orderRef = `${name.slice(0, 2).toUpperCase()}-${Math.floor(random() * 400_000)}`;
  return { type, createdAt: new Date(nowMs()).toISOString(), data: { orderRef, lines, totalCents: lines.reduce((s, l) => s + l.qty * l.unitCents, 0), currency: 'EUR', channel: name } };
}

function delivery(name, id, body) {
  const timestamp = String(Math.floor(nowMs() / 1000));
  const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': sign(INTEGRATIONS[name].secret, id, timestamp, body) };
  return { method: 'POST', path: `/v1/webhooks/${name}`, headers, body };
}

function sender(name) {
  return () => {
    if (name === 'marketplace' && programSeconds() < ONSET_S) return null; // not live yet
    if (name === 'marketplace' && recentDeliveries.length > 0 && random() < 0.01) { // at-least-once: a redelivery
      const again = recentDeliveries[Math.floor(random() * recentDeliveries.length)];
      return delivery(name, again.id, again.body);
    }
    const body = JSON.stringify(eventFor(name));
    const id = webhookId();
    if (name === 'marketplace') {
      recentDeliveries.push({ id, body });
      if (recentDeliveries.length > 200) recentDeliveries.shift();
    }
    return delivery(name, id, body);
  };
}

// --- main -------------------------------------------------------------------
const ballastMb = buildBallast();
const { server, port } = await listen((req, res) => {
  handle(req, res).catch(() => res.writeHead(400).end());
});
server.keepAliveTimeout = 65_000; // longer than the load balancer's idle timeout
server.headersTimeout = 66_000;
const senders = Object.entries(INTEGRATIONS).map(([name, { perSecond }]) => selfRequests(port, { perSecond, next: sender(name), maxInFlight: 16 }));
const dashboard = selfRequests(port, { perSecond: 0.1, next: () => ({ method: 'GET', path: random() < 0.5 ? '/v1/ops/recent' : '/healthz' }), maxInFlight: 1 });

ready(`webhook receiver: marketplace webhook ids kept in a Set that is never pruned, marketplace live from ${ONSET_S} s (~4 events/s); port ${port}; ballast ${ballastMb} MB`);
reportStats(() => ({
  retained: deliveredKeys.size,
  ...metrics,
  failed: senders.reduce((sum, s) => sum + s.failed, dashboard.failed),
}));
