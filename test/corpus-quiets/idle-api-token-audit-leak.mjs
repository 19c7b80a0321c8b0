// Internal customer-data API of a mid-size retailer: mostly idle, a request
// every few seconds from a couple of dozen internal services (support tools,
// the CRM sync, the returns service, ...) plus load-balancer health checks.
//
// Every API request carries a bearer token issued by the internal auth
// service; validateToken() decodes it, checks the HMAC signature, the expiry
// and the scopes, and recordAudit() appends an audit record (built by
// auditRecord()) to the module-level array `auditTrail`. The audit shipper
// sends new records to the SIEM every minute and remembers how far it got
// (`shippedUpTo`) - but nobody ever trims the array after shipping, so every
// validation stays in memory for the life of the process.
import { createHmac, randomUUID } from 'node:crypto';
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x70ce1);
const SIGNING_KEY = 'internal-auth-hs256-key-2024-rotation-7';

// --- tokens (issued by the auth service; the clients below hold them) -----------------------------

const base64url = (text) => Buffer.from(text).toString('base64url');

function issueToken(client, now) {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'int-7' }));
  const claims = {
    iss: 'https://auth.internal.example/',
    sub: client.id,
    aud: 'customer-api',
    iat: Math.floor(now),
    exp: Math.floor(now) + 900,
    jti: randomUUID(),
    scope: client.scopes.join(' '),
    team: client.team,
    env: 'prod',
  };
  const payload = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', SIGNING_KEY).update(`${header}.${payload}`).digest('base64url');
  return { value: `${header}.${payload}.${signature}`, exp: claims.exp };
}

const CLIENTS = [
  ['support-console', 'customer-care', ['customers:read', 'orders:read']],
  ['crm-sync', 'marketing-tech', ['customers:read']],
  ['returns-service', 'fulfilment', ['orders:read', 'orders:write']],
  ['loyalty-points', 'loyalty', ['customers:read', 'loyalty:write']],
  ['fraud-scoring', 'risk', ['customers:read', 'orders:read', 'payments:read']],
  ['invoice-service', 'finance-tech', ['orders:read']],
  ['newsletter-batch', 'marketing-tech', ['customers:read']],
  ['store-app-backend', 'retail-tech', ['customers:read', 'orders:read']],
  ['data-export', 'data-platform', ['customers:read', 'orders:read']],
  ['gdpr-requests', 'privacy', ['customers:read', 'customers:delete']],
].map(([id, team, scopes]) => ({ id, team, scopes, token: null }));

function clientToken(client) {
  const now = programSeconds();
  if (client.token === null || client.token.exp - now < 60) client.token = issueToken(client, now);
  return client.token.value;
}

// --- validation and audit -------------------------------------------------------------------------

/** Module-level audit buffer: the shipper reads from `shippedUpTo`, nothing ever trims it. */
const auditTrail = [];
let shippedUpTo = 0;
const siem = { batches: 0, records: 0 };

function decodeSegment(segment) {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

function validateToken(authorization, requiredScope) {
  if (!authorization?.startsWith('Bearer ')) return { ok: false, reason: 'missing_token', claims: null };
  const token = authorization.slice(7);
  const [header, payload, signature] = token.split('.');
  if (signature === undefined) return { ok: false, reason: 'malformed', claims: null };
  const expected = createHmac('sha256', SIGNING_KEY).update(`${header}.${payload}`).digest('base64url');
  if (expected !== signature) return { ok: false, reason: 'bad_signature', claims: null };
  const claims = decodeSegment(payload);
  if (claims.exp < programSeconds()) return { ok: false, reason: 'expired', claims };
  const scopes = claims.scope.split(' ');
  if (!scopes.includes(requiredScope)) return { ok: false, reason: 'insufficient_scope', claims };
  return { ok: true, reason: 'ok', claims };
}

/** One audit entry per token validation, as the security team's SIEM schema wants it. */
function auditRecord(req, route, result, startedAt) {
  const claims = result.claims;
  return {
    id: randomUUID(),
    at: new Date(Date.UTC(2024, 8, 2) + programSeconds() * 1000).toISOString(),
    kind: 'token.validation',
    outcome: result.reason,
    clientId: claims?.sub ?? null,
    team: claims?.team ?? null,
    tokenId: claims?.jti ?? null,
    scopes: claims ? claims.scope.split(' ') : [],
    expiresAt: claims ? new Date(Date.UTC(2024, 8, 2) + claims.exp * 1000).toISOString() : null,
    method: req.method,
    route,
    path: req.url,
    sourceIp: req.headers['x-forwarded-for'] ?? req.socket.remoteAddress,
    userAgent: req.headers['user-agent'] ?? '',
    traceId: req.headers['x-trace-id'] ?? null,
    durationUs: Math.round((performance.now() - startedAt) * 1000),
    claims,
  };
}

function recordAudit(req, route, result, startedAt) {
  auditTrail.push(auditRecord(req, route, result, startedAt));
}

/** Every minute: send what is new to the SIEM (stand-in) and remember the position. */
function shipAudit() {
  const batch = auditTrail.slice(shippedUpTo);
  if (batch.length === 0) return;
  const payload = JSON.stringify({ source: 'customer-api', records: batch });
  siem.batches++;
  siem.records += batch.length;
  siem.lastBatchBytes = payload.length;
  shippedUpTo = auditTrail.length;
}

// --- the API ----------------------------------------------------------------------------------------

const FIRST = ['Anna', 'Ben', 'Chloe', 'David', 'Emma', 'Felix', 'Greta', 'Hugo', 'Ines', 'Jonas'];
const LAST = ['Schmidt', 'Meyer', 'Weber', 'Fischer', 'Wagner', 'Becker', 'Hoffmann', 'Koch'];

function customerView(id) {
  return {
    id,
    name: `${FIRST[id % FIRST.length]} ${LAST[(id >> 3) % LAST.length]}`,
    email: `customer${id}@mail.example`,
    tier: ['basic', 'silver', 'gold'][id % 3],
    createdAt: new Date(Date.UTC(2019, 0, 1) + (id % 1800) * 86_400_000).toISOString(),
  };
}

function ordersView(customerId) {
  return Array.from({ length: 1 + (customerId % 6) }, (_, i) => ({
    id: `o-${customerId}-${i}`,
    total: ((customerId * 37 + i * 1301) % 30000) / 100,
    status: ['delivered', 'shipped', 'returned'][i % 3],
  }));
}

const served = { api: 0, health: 0, denied: 0 };

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handler(req, res) {
  const startedAt = performance.now();
  const url = new URL(req.url ?? '/', 'http://customer-api.internal');
  if (url.pathname === '/healthz') {
    served.health++;
    return sendJson(res, 200, { ok: true });
  }
  let route;
  let scope;
  let body;
  const customerMatch = /^\/internal\/v1\/customers\/(\d+)$/.exec(url.pathname);
  if (req.method === 'GET' && customerMatch) {
    route = 'GET /internal/v1/customers/:id';
    scope = 'customers:read';
    body = () => customerView(Number(customerMatch[1]));
  } else if (req.method === 'GET' && url.pathname === '/internal/v1/orders') {
    route = 'GET /internal/v1/orders';
    scope = 'orders:read';
    body = () => ({ orders: ordersView(Number(url.searchParams.get('customer') ?? 0)) });
  } else {
    return sendJson(res, 404, { error: 'not found' });
  }
  const result = validateToken(req.headers.authorization, scope);
  recordAudit(req, route, result, startedAt);
  if (!result.ok) {
    served.denied++;
    return sendJson(res, result.reason === 'insufficient_scope' ? 403 : 401, { error: result.reason });
  }
  served.api++;
  sendJson(res, 200, body());
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Two load balancers: a health check every 10 s each (no token).
const balancers = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });
// The internal callers: one API request every ~3 s in all.
const callers = selfRequests(port, {
  perSecond: 0.33,
  maxInFlight: 8,
  next: () => {
    const client = CLIENTS[Math.floor(random() * CLIENTS.length)];
    const customer = 10_000 + Math.floor(random() * 90_000);
    const wantsOrders = client.scopes.includes('orders:read') && random() < 0.5;
    return {
      method: 'GET',
      path: wantsOrders ? `/internal/v1/orders?customer=${customer}` : `/internal/v1/customers/${customer}`,
      headers: {
        authorization: `Bearer ${clientToken(client)}`,
        'user-agent': `${client.id}/2.${customer % 7}.1 (node/20; +https://git.internal.example/${client.team}/${client.id})`,
        'x-forwarded-for': `10.${20 + (customer % 12)}.${customer % 250}.${(customer >> 4) % 250}`,
        'x-trace-id': randomUUID().replaceAll('-', ''),
      },
    };
  },
});

every(60_000 / speed, shipAudit);

reportStats(() => ({
  retained: auditTrail.length,
  shippedUpTo,
  apiRequests: served.api,
  denied: served.denied,
  siemBatches: siem.batches,
  requestsFailed: balancers.failed + callers.failed,
}));

ready(
  `idle-api-token-audit-leak: internal customer API, ~0.33 token-checked req/s, every validation appended to a never-trimmed audit array (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
