// Admin API of a subscription platform's back office: support agents and the
// ops team's automation look up customers, change plans, issue credits,
// reset MFA and pause subscriptions (GET/POST/PATCH under /admin/...), with a
// bearer token per operator. Compliance wants an audit trail, so a wrapper
// around every admin handler calls auditRecord() and appends a small record
// (who, what, which resource, outcome, how long) to the module-level array
// `auditTrail`, to be shipped to the audit store "later"; the shipper was
// never written and nothing trims the array, so every admin request stays in
// memory for good. GET /admin/audit serves the last 50.
//
// At the production rate (~2.5 admin requests/s from ~40 agents and the
// automation) that is ~9 000 records and a few MB an hour, from the start.
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

const random = rng(0xad317);

// --- the back-office data (a stand-in for the subscription database) ---------------------------------

const PLANS = ['starter', 'team', 'business', 'enterprise'];
const customers = new Map();
for (let i = 0; i < 20_000; i++) {
  const id = `cus_${(0x10000 + i * 7919).toString(36)}`;
  customers.set(id, { id, plan: PLANS[i % PLANS.length], seats: 1 + (i % 50), paused: false, creditsCents: 0, mfa: i % 3 === 0 });
}
const customerIds = [...customers.keys()];

const OPERATORS = new Map();
for (let i = 0; i < 40; i++) OPERATORS.set(`tok_agent_${i.toString(36)}x7`, { id: `agent-${100 + i}`, role: i < 32 ? 'support' : 'billing' });
OPERATORS.set('tok_automation_q9', { id: 'svc-dunning-automation', role: 'automation' });
OPERATORS.set('tok_automation_r2', { id: 'svc-plan-sync', role: 'automation' });
const tokens = [...OPERATORS.keys()];

// --- the audit trail ------------------------------------------------------------------------------

/** Every admin request ever served, oldest first (meant to be shipped to the audit store). */
const auditTrail = [];
let auditSeq = 0;

/** One audit record per admin request. */
function auditRecord(operator, req, outcome, startedAt) {
  return {
    id: ++auditSeq,
    requestId: req.headers['x-request-id'] ?? `req-${auditSeq}`,
    at: startedAt,
    actor: operator === undefined ? 'anonymous' : operator.id,
    role: operator === undefined ? null : operator.role,
    action: outcome.action,
    resource: outcome.resource,
    method: req.method,
    path: req.url,
    status: outcome.status,
    changes: outcome.changes ?? null,
    ip: req.headers['x-forwarded-for'] ?? req.socket.remoteAddress,
    userAgent: req.headers['user-agent'] ?? null,
    durationMs: Math.round((programSeconds() - startedAt) * 1000),
  };
}

// --- admin handlers -----------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return status;
}

async function adminAction(req, res, operator, parts, url) {
  const customer = customers.get(parts[3]);
  if (parts[2] !== 'customers') return { action: 'unknown', resource: url.pathname, status: sendJson(res, 404, { error: 'not found' }) };
  if (customer === undefined) return { action: 'customer.read', resource: parts[3], status: sendJson(res, 404, { error: 'no such customer' }) };
  if (req.method === 'GET') return { action: 'customer.read', resource: customer.id, status: sendJson(res, 200, customer) };
  const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8') || '{}');
  switch (parts[4]) {
    case 'plan':
      if (!PLANS.includes(body.plan)) return { action: 'customer.plan', resource: customer.id, status: sendJson(res, 422, { error: 'unknown plan' }) };
      const changes = { plan: [customer.plan, body.plan] };
      customer.plan = body.plan;
      return { action: 'customer.plan', resource: customer.id, changes, status: sendJson(res, 200, customer) };
    case 'credits':
      if (operator.role === 'support' && body.amountCents > 5_000) return { action: 'customer.credit', resource: customer.id, status: sendJson(res, 403, { error: 'needs billing role' }) };
      customer.creditsCents += body.amountCents;
      return { action: 'customer.credit', resource: customer.id, changes: { amountCents: body.amountCents, reason: body.reason }, status: sendJson(res, 200, customer) };
    case 'pause':
      customer.paused = Boolean(body.paused);
      return { action: 'customer.pause', resource: customer.id, changes: { paused: customer.paused }, status: sendJson(res, 200, customer) };
    case 'mfa-reset':
      customer.mfa = false;
      return { action: 'customer.mfa_reset', resource: customer.id, status: sendJson(res, 200, { ok: true }) };
    default:
      return { action: 'unknown', resource: customer.id, status: sendJson(res, 404, { error: 'not found' }) };
  }
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://backoffice.local');
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
  const parts = url.pathname.split('/');
  if (parts[1] !== 'admin') return sendJson(res, 404, { error: 'not found' });
  const startedAt = programSeconds();
  const operator = OPERATORS.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
  let outcome;
  try {
    if (operator === undefined) outcome = { action: 'auth', resource: url.pathname, status: sendJson(res, 401, { error: 'unauthorized' }) };
    else if (url.pathname === '/admin/audit') outcome = { action: 'audit.read', resource: 'audit', status: sendJson(res, 200, { total: auditTrail.length, records: auditTrail.slice(-50) }) };
    else outcome = await adminAction(req, res, operator, parts, url);
  } catch (error) {
    outcome = { action: 'error', resource: url.pathname, status: res.headersSent ? 500 : sendJson(res, 500, { error: String(error.message ?? error) }) };
  }
  auditTrail.push(auditRecord(operator, req, outcome, startedAt));
}

// --- agents and automation (the load) ---------------------------------------------------------------

const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
];

function adminRequest() {
  const token = random() < 0.003 ? 'tok_expired' : tokens[Math.floor(random() * tokens.length)];
  const headers = {
    authorization: `Bearer ${token}`,
    'x-forwarded-for': `10.20.${Math.floor(random() * 8)}.${10 + Math.floor(random() * 200)}`,
    'x-request-id': `${Math.floor(random() * 2 ** 32).toString(16).padStart(8, '0')}-${Math.floor(random() * 2 ** 32).toString(16).padStart(8, '0')}`,
    'user-agent': token.startsWith('tok_automation') ? 'backoffice-automation/3.4.1 node/20' : USER_AGENTS[Math.floor(random() * USER_AGENTS.length)],
  };
  const customer = random() < 0.02 ? 'cus_unknown' : customerIds[Math.floor(random() * customerIds.length)];
  const roll = random();
  if (roll < 0.68) return { method: 'GET', path: `/admin/customers/${customer}`, headers };
  if (roll < 0.70) return { method: 'GET', path: '/admin/audit', headers };
  headers['content-type'] = 'application/json';
  if (roll < 0.82) return { method: 'PATCH', path: `/admin/customers/${customer}/plan`, headers, body: JSON.stringify({ plan: PLANS[Math.floor(random() * PLANS.length)] }) };
  if (roll < 0.92) return { method: 'POST', path: `/admin/customers/${customer}/credits`, headers, body: JSON.stringify({ amountCents: 500 * (1 + Math.floor(random() * 20)), reason: 'goodwill' }) };
  if (roll < 0.97) return { method: 'POST', path: `/admin/customers/${customer}/pause`, headers, body: JSON.stringify({ paused: random() < 0.5 }) };
  return { method: 'POST', path: `/admin/customers/${customer}/mfa-reset`, headers, body: '{}' };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const admins = selfRequests(port, { perSecond: 2.5, maxInFlight: 16, next: adminRequest });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: auditTrail.length,
  requestsFailed: admins.failed + probes.failed,
}));

ready(
  `admin-api-audit-trail-leak: ~2.5 admin requests/s, each appends an audit record to auditTrail, never shipped or trimmed (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
