// Leaky (heap), fast: an orders API whose audit middleware appends a record
// of every request to a module-level array that nothing ever trims.
//
// POST /v1/orders carries a JSON order (a B2B order: 40–80 lines with
// descriptions, ~12 KB); the handler validates it, prices it and answers 201.
// recordAudit() keeps who did what (actor, route, status, timing) and the
// request body with the customer's e-mail and phone masked, and pushes it
// onto `auditLog`, which was meant to be flushed to the audit store by a job
// that was never wired up.
//
// Speed 1: 16.5 req/s (self-generated on 127.0.0.1), ~10 KB retained per
// record → ~600 MB/h of JS heap from the first request; so much of the heap
// is long-lived that V8's major GCs are rare and find little garbage.
// Cap: AUDIT_CAP records (~240 MB): reached after ~24 min at speed 1, i.e.
// ~24 s at SCENARIO_SPEED=60; the log then stops growing.
// stats: retained = audit records held.
import { buildBallast, listen, rng, readBody, ready, reportStats, selfRequests } from './lib/corpus.mjs';

const REQUESTS_PER_SECOND = 16.5;
const AUDIT_CAP = 23_500;

const auditLog = [];
let auditSeq = 0;

const WAREHOUSES = ['eu-west-1', 'eu-central-1', 'us-east-1'];

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

// The audit trail: one record per request, with the body as received but
// personal data masked.
const PII_FIELDS = /"(email|phone)":"[^"]*"/g;
function recordAudit(req, rawBody, status, startedAt, outcome) {
  if (auditLog.length >= AUDIT_CAP) return; // corpus safety cap
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
    body: rawBody === null ? null : rawBody.replace(PII_FIELDS, '"$1":"***"'),
  });
}

async function handleOrder(req, res) {
  const startedAt = process.hrtime.bigint();
  let rawBody = null;
  let status = 201;
  let outcome;
  try {
    rawBody = (await readBody(req)).toString('utf8');
    const order = JSON.parse(rawBody);
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
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: status === 201, result: outcome }));
  recordAudit(req, rawBody, status, startedAt, typeof outcome === 'string' ? outcome : 'accepted');
}

const ballastMB = buildBallast();
const { port } = await listen((req, res) => {
  if (req.method === 'POST' && req.url === '/v1/orders') {
    handleOrder(req, res);
    return;
  }
  res.writeHead(404).end();
});

// Client side: B2B orders. Line blocks are pre-rendered (the client is not
// what this program is about); every order gets its own ref and customer.
const random = rng(1);
const DESCRIPTIONS = ['Stainless steel hinge, 120 mm, brushed finish, pack of 10', 'Cable tray bracket, galvanised, for 300 mm trays', 'LED panel 600x600, 36 W, neutral white 4000 K, flicker-free driver', 'Safety gloves, nitrile coated, size 9, EN 388 4131X'];
function lineBlock(seed) {
  const lines = [];
  const count = 40 + (seed % 41);
  for (let i = 0; i < count; i++) {
    lines.push({
      sku: `SKU-${(seed * 131 + i * 17) % 50_000}`,
      qty: 1 + ((seed + i) % 24),
      unitPriceCents: 199 + ((seed * 7 + i * 13) % 9_800),
      warehouse: WAREHOUSES[i % 3],
      description: DESCRIPTIONS[(seed + i) % DESCRIPTIONS.length],
      discounts: i % 4 === 0 ? [5, 10] : [0],
    });
  }
  return JSON.stringify(lines);
}
const LINE_BLOCKS = Array.from({ length: 64 }, (_, i) => lineBlock(i * 7));
let orderNo = 0;
function nextOrder() {
  orderNo++;
  const user = Math.floor(random() * 5_000);
  const customer = JSON.stringify({ name: `Customer ${user}`, email: `buyer${user}@example.test`, phone: `+49 30 ${1000000 + user}` });
  return {
    method: 'POST',
    path: '/v1/orders',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'procurement-sync/3.2 (+erp)',
      'x-user-id': `user-${user}`,
      'x-tenant': `tenant-${user % 40}`,
      'x-request-id': `req-${orderNo.toString(16)}`,
    },
    body: `{"orderRef":"ORD-${orderNo}","customerId":"cust-${user}","customer":${customer},"currency":"EUR","lines":${LINE_BLOCKS[orderNo % LINE_BLOCKS.length]}}`,
  };
}
const load = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: nextOrder });

reportStats(() => ({ retained: auditLog.length, capped: auditLog.length >= AUDIT_CAP, requests: load.completed, ballastMB }));
ready(`fast-heap-leak: orders API, every request's audit record kept (~600 MB/h at speed 1)`);
