// audit-trail-class-leak: an orders API with compliance auditing. Every
// request's audit entry goes through the module-level singleton `auditTrail`
// (class AuditTrail), which keeps entries in `this.entries` until the remote
// audit sink has acknowledged them: flush() ships the unsent tail every 30 s and
// trims the entries up to the sink's `ackedThrough`. The sink was upgraded to
// its v2 API, which answers `{ accepted, batchId }` and no longer sends
// `ackedThrough`, so nothing is ever acknowledged, nothing is trimmed, and the
// array grows by one entry per request from the start (flush still advances
// `sentThrough`, so nothing is re-sent and nobody notices on the wire).
import {
  buildBallast,
  listen,
  onShutdown,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 2; // speed 1
const FLUSH_EVERY_S = 30;
const MAX_BATCH = 1000;
const ORDERS_KEPT = 1500; // the hot window of recent orders; older ones live in the database

// --- The audit trail --------------------------------------------------------------

class AuditTrail {
  constructor(sink, { flushEveryMs, maxBatch }) {
    this.sink = sink;
    this.maxBatch = maxBatch;
    this.entries = [];
    this.seq = 0;
    this.sentThrough = 0;
    this.ackedThrough = 0;
    this.flushing = false;
    this.stats = { recorded: 0, flushed: 0, batches: 0, trimmed: 0, sinkErrors: 0 };
    this.timer = setInterval(() => this.flush(), flushEveryMs);
  }

  record(req, res, startedAt, detail) {
    this.seq++;
    this.stats.recorded++;
    this.entries.push({
      seq: this.seq,
      at: new Date(startedAt).toISOString(),
      requestId: req.headers['x-request-id'] ?? `req-${this.seq}`,
      actor: req.headers['x-user-id'] ?? 'anonymous',
      sourceIp: req.socket.remoteAddress,
      action: `${req.method} ${detail.route}`,
      resource: detail.resource,
      status: res.statusCode,
      durationMs: Date.now() - startedAt,
      summary: detail.summary,
    });
  }

  async flush() {
    if (this.flushing) return;
    const start = this.entries.findIndex((entry) => entry.seq > this.sentThrough);
    if (start < 0) return;
    const batch = this.entries.slice(start, start + this.maxBatch);
    this.flushing = true;
    try {
      const reply = await this.sink.send(batch);
      this.sentThrough = batch[batch.length - 1].seq;
      this.stats.flushed += batch.length;
      this.stats.batches++;
      this.acknowledge(reply.ackedThrough);
    } catch {
      this.stats.sinkErrors++;
    } finally {
      this.flushing = false;
    }
  }

  acknowledge(ackedThrough) {
    if (ackedThrough > this.ackedThrough) this.ackedThrough = ackedThrough;
    let drop = 0;
    while (drop < this.entries.length && this.entries[drop].seq <= this.ackedThrough) drop++;
    if (drop > 0) {
      this.entries.splice(0, drop);
      this.stats.trimmed += drop;
    }
  }

  close() {
    clearInterval(this.timer);
  }
}

/** The remote audit sink (v2): accepts batches, no longer reports what it has persisted. */
const auditSink = {
  batches: 0,
  async send(batch) {
    const payload = JSON.stringify({ source: 'orders-api', entries: batch });
    await new Promise((resolve) => setTimeout(resolve, 15 + (payload.length % 30)));
    this.batches++;
    return { accepted: batch.length, batchId: `b-${this.batches}` };
  },
};

const auditTrail = new AuditTrail(auditSink, { flushEveryMs: scaledMs(FLUSH_EVERY_S), maxBatch: MAX_BATCH });
onShutdown(() => auditTrail.close());

// --- Orders -----------------------------------------------------------------------------

const SKUS = Array.from({ length: 400 }, (_, i) => ({ sku: `SKU-${(7000 + i).toString(36).toUpperCase()}`, priceCents: 299 + ((i * 7919) % 9000) }));
const skuIndex = new Map(SKUS.map((item) => [item.sku, item]));
/** orderId -> order, most recent ORDERS_KEPT only. */
const recentOrders = new Map();
let orderSeq = 0;

function priceLines(lines) {
  let totalCents = 0;
  const priced = [];
  for (const line of lines) {
    const item = skuIndex.get(line.sku);
    if (item === undefined) continue;
    const qty = Math.max(1, Math.min(20, line.qty | 0));
    totalCents += item.priceCents * qty;
    priced.push({ sku: item.sku, qty, unitCents: item.priceCents });
  }
  return { priced, totalCents };
}

function createOrder(customerId, lines, currency) {
  orderSeq++;
  const { priced, totalCents } = priceLines(lines);
  const order = { id: `ord_${orderSeq.toString(36)}`, customerId, lines: priced, totalCents, currency, status: 'placed', createdAt: Date.now() };
  recentOrders.set(order.id, order);
  if (recentOrders.size > ORDERS_KEPT) recentOrders.delete(recentOrders.keys().next().value);
  return order;
}

function formatMoney(cents, currency) {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function route(req, res, url) {
  if (req.method === 'POST' && url.pathname === '/v1/orders') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    const order = createOrder(body.customerId, body.lines, body.currency ?? 'EUR');
    sendJson(res, 201, order);
    return { route: '/v1/orders', resource: order.id, summary: `order ${order.id} customer=${order.customerId} items=${order.lines.length} total=${formatMoney(order.totalCents, order.currency)}` };
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/orders/')) {
    const id = url.pathname.slice('/v1/orders/'.length);
    const order = recentOrders.get(id);
    if (order === undefined) sendJson(res, 404, { error: 'not found', id });
    else sendJson(res, 200, order);
    return { route: '/v1/orders/:id', resource: id, summary: order === undefined ? `order ${id} not in hot window` : `read order ${id}` };
  }
  if (req.method === 'GET' && url.pathname === '/v1/orders') {
    const customerId = url.searchParams.get('customer');
    const found = [];
    for (const order of recentOrders.values()) if (order.customerId === customerId) found.push(order);
    sendJson(res, 200, { customerId, orders: found.slice(-10) });
    return { route: '/v1/orders?customer', resource: `customer/${customerId}`, summary: `listed ${found.length} orders for ${customerId}` };
  }
  sendJson(res, 404, { error: 'no route' });
  return { route: 'unmatched', resource: url.pathname, summary: 'no route' };
}

async function handler(req, res) {
  const startedAt = Date.now();
  const url = new URL(req.url, 'http://orders.internal');
  let detail;
  try {
    detail = await route(req, res, url);
  } catch (error) {
    sendJson(res, 400, { error: 'bad request' });
    detail = { route: url.pathname, resource: null, summary: `rejected: ${error.message}` };
  }
  auditTrail.record(req, res, startedAt, detail);
}

// --- Start ---------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

const random = rng(0xa0d17);
const placed = [];
let requestSeq = 0;

function nextRequest() {
  requestSeq++;
  const customerId = `cus_${1 + Math.floor(random() * 5000)}`;
  const headers = { 'x-request-id': `${Date.now().toString(36)}-${requestSeq.toString(36)}`, 'x-user-id': `staff-${1 + Math.floor(random() * 40)}` };
  const roll = random();
  if (roll < 0.4 || placed.length === 0) {
    const lines = Array.from({ length: 1 + Math.floor(random() * 5) }, () => ({ sku: SKUS[Math.floor(random() * SKUS.length)].sku, qty: 1 + Math.floor(random() * 3) }));
    placed.push(orderSeq + 1);
    if (placed.length > 3000) placed.shift();
    return { method: 'POST', path: '/v1/orders', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ customerId, lines, currency: random() < 0.2 ? 'GBP' : 'EUR' }) };
  }
  if (roll < 0.85) {
    const id = placed[Math.max(0, placed.length - 1 - Math.floor(random() ** 2 * placed.length))];
    return { method: 'GET', path: `/v1/orders/ord_${id.toString(36)}`, headers };
  }
  return { method: 'GET', path: `/v1/orders?customer=${customerId}`, headers };
}

const client = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: nextRequest });

reportStats(() => ({
  retained: auditTrail.entries.length,
  auditEntries: auditTrail.entries.length,
  sentThrough: auditTrail.sentThrough,
  ackedThrough: auditTrail.ackedThrough,
  ...auditTrail.stats,
  recentOrders: recentOrders.size,
  requests: client.completed,
  failed: client.failed,
}));

ready(`audit-trail-class-leak: orders API, ${REQUESTS_PER_SECOND} req/s; auditTrail.entries keeps every entry because the v2 sink never acknowledges; ballast ${ballastMb} MB`);
