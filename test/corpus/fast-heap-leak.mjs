// Leaky (heap), fast: an orders API whose audit middleware appends a record
// of every request to a module-level array that nothing ever trims.
//
// POST /v1/orders carries a JSON order (12–64 lines); the handler validates
// it, prices it and answers 201. recordAudit() snapshots who did what (actor,
// route, status, timing, a normalised copy of the order lines for
// compliance) and pushes it onto `auditLog`, which was meant to be flushed to
// the audit store by a job that was never wired up.
//
// Speed 1: 20 req/s (self-generated on 127.0.0.1), ~9.3 KB retained per
// record → ~600 MB/h of JS heap from the first request; so much of the heap
// is long-lived that V8's major GCs are rare and find little garbage.
// Cap: AUDIT_CAP records (~240 MB): reached after ~25 min at speed 1, i.e.
// ~25 s at SCENARIO_SPEED=60; the log then stops growing.
// stats: retained = audit records held.
import { buildBallast, listen, rng, readBody, ready, reportStats, selfRequests } from './lib/corpus.mjs';

const REQUESTS_PER_SECOND = 20;
const AUDIT_CAP = 26_500;

const auditLog = [];
let auditSeq = 0;

const WAREHOUSES = ['eu-west-1', 'eu-central-1', 'us-east-1'];

function normaliseSku(sku) {
  return sku.trim().toUpperCase();
}

function priceOrder(order) {
  let total = 0;
  for (const line of order.lines) total += line.qty * line.unitPriceCents;
  return { totalCents: total, currency: order.currency, lineCount: order.lines.length };
}

function validateOrder(order) {
  if (typeof order.customerId !== 'string' || !Array.isArray(order.lines)) return 'malformed order';
  if (order.lines.length === 0) return 'no lines';
  for (const line of order.lines) {
    if (!(line.qty > 0)) return `bad qty for ${line.sku}`;
  }
  return null;
}

// The audit trail: one record per request, with a normalised copy of the
// order lines (the raw body is not kept).
function recordAudit(req, order, status, startedAt, outcome) {
  if (auditLog.length >= AUDIT_CAP) return; // corpus safety cap
  const lines = [];
  if (order !== null) {
    for (const line of order.lines) {
      lines.push({
        sku: normaliseSku(line.sku),
        qty: line.qty,
        unitPriceCents: line.unitPriceCents,
        warehouse: line.warehouse,
        lineRef: `${order.orderRef}/${line.sku}`,
        discounts: line.discounts.slice(),
      });
    }
  }
  auditLog.push({
    id: ++auditSeq,
    at: new Date().toISOString(),
    actor: req.headers['x-user-id'] ?? 'anonymous',
    tenant: req.headers['x-tenant'] ?? 'default',
    requestId: req.headers['x-request-id'],
    method: req.method,
    path: req.url,
    ip: req.socket.remoteAddress,
    userAgent: req.headers['user-agent'],
    status,
    durationMs: Number(process.hrtime.bigint() - startedAt) / 1e6,
    outcome,
    lines,
  });
}

async function handleOrder(req, res) {
  const startedAt = process.hrtime.bigint();
  let order = null;
  let status = 201;
  let outcome;
  try {
    order = JSON.parse((await readBody(req)).toString('utf8'));
    const problem = validateOrder(order);
    if (problem !== null) {
      status = 422;
      outcome = problem;
    } else {
      outcome = priceOrder(order);
    }
  } catch {
    status = 400;
    outcome = 'invalid json';
    order = null;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: status === 201, result: outcome }));
  recordAudit(req, order, status, startedAt, typeof outcome === 'string' ? outcome : 'accepted');
}

const ballastMB = buildBallast();
const { port } = await listen((req, res) => {
  if (req.method === 'POST' && req.url === '/v1/orders') {
    handleOrder(req, res);
    return;
  }
  res.writeHead(404).end();
});

const random = rng(1);
let orderNo = 0;
function nextOrder() {
  orderNo++;
  const lines = [];
  const count = 12 + Math.floor(random() * 53);
  for (let i = 0; i < count; i++) {
    lines.push({
      sku: `sku-${Math.floor(random() * 50_000)}`,
      qty: 1 + Math.floor(random() * 4),
      unitPriceCents: 199 + Math.floor(random() * 9_800),
      warehouse: WAREHOUSES[i % 3],
      discounts: i % 4 === 0 ? [5, 10] : [0],
    });
  }
  const user = Math.floor(random() * 5_000);
  return {
    method: 'POST',
    path: '/v1/orders',
    headers: {
      'content-type': 'application/json',
      'x-user-id': `user-${user}`,
      'x-tenant': `tenant-${user % 40}`,
      'x-request-id': `req-${orderNo.toString(16)}`,
    },
    body: JSON.stringify({ orderRef: `ORD-${orderNo}`, customerId: `cust-${user}`, currency: 'EUR', lines }),
  };
}
const load = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: nextOrder });

reportStats(() => ({ retained: auditLog.length, capped: auditLog.length >= AUDIT_CAP, requests: load.completed, ballastMB }));
ready(`fast-heap-leak: orders API, every request's audit record kept (~600 MB/h at speed 1)`);
