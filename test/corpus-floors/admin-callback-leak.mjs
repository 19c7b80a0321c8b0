// Internal admin console backend (leaky, heap, from the start).
//
// A handful of operators click around: ~0.4 req/s at speed 1 over
// GET /admin/tenants/:id, GET /admin/tenants/:id/users,
// GET /admin/tenants/:id/audit and POST /admin/tenants/:id/flags.
// Operator roles live in the module-level `permissions` (class
// `PermissionCache`), reloaded from the directory every 10 min; it tells
// subscribers when a role changes (`onChange(callback)` returns an
// unsubscribe function). The `authorize()` middleware builds a request
// context (operator, tenant-scoped grants, the request headers for the audit
// trail) and subscribes `() => invalidateGrants(ctx)` so that a role change
// in the middle of a long request is noticed; the unsubscribe it gets back is
// never called. Every request leaves one callback (closing over its ~2.4 KB
// context) in `permissions.subscribers`: ~1 440 per hour, ~3.4 MB/h.
// Cap: the cache refuses subscribers beyond 25 000 (~61 MB, ~17 h at speed 1).
//
// Stats: retained = subscribers held; refused; role reloads; rps.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 0.4; // speed 1
const ROLE_RELOAD_SECONDS = 600;
const MAX_SUBSCRIBERS = 25_000;

const OPERATORS = [
  { login: 'j.alvarez', role: 'support' },
  { login: 'm.chen', role: 'support' },
  { login: 'k.osei', role: 'billing' },
  { login: 'r.lindqvist', role: 'admin' },
  { login: 'p.sharma', role: 'support-lead' },
  { login: 'd.moreau', role: 'billing' },
];
const ROLE_PERMISSIONS = {
  support: ['tenant.read', 'users.read', 'users.reset-password', 'audit.read', 'tickets.write'],
  'support-lead': ['tenant.read', 'users.read', 'users.write', 'users.reset-password', 'users.impersonate', 'audit.read', 'tickets.write', 'flags.read'],
  billing: ['tenant.read', 'billing.read', 'billing.write', 'invoices.read', 'invoices.refund', 'audit.read'],
  admin: ['tenant.read', 'tenant.write', 'users.read', 'users.write', 'users.impersonate', 'audit.read', 'flags.read', 'flags.write', 'billing.read', 'plans.write', 'tenant.suspend'],
};
const PLANS = ['free', 'team', 'business', 'enterprise'];

// --- permissions: long-lived, module level ------------------------------------

class PermissionCache {
  constructor() {
    this.roles = new Map();
    this.version = 0;
    this.subscribers = [];
    this.refused = 0;
  }

  reload(roleTable) {
    let changed = false;
    for (const [role, grants] of Object.entries(roleTable)) {
      const previous = this.roles.get(role);
      if (previous === undefined || previous.join() !== grants.join()) {
        this.roles.set(role, [...grants]);
        changed = true;
      }
    }
    if (!changed) return;
    this.version++;
    for (const callback of this.subscribers) {
      try {
        callback(this.version);
      } catch {
        // a broken subscriber must not stop the others
      }
    }
  }

  grantsFor(role) {
    return this.roles.get(role) ?? [];
  }

  onChange(callback) {
    if (this.subscribers.length >= MAX_SUBSCRIBERS) {
      this.refused++;
      return () => {};
    }
    this.subscribers.push(callback);
    return () => {
      const index = this.subscribers.indexOf(callback);
      if (index !== -1) this.subscribers.splice(index, 1);
    };
  }
}

const permissions = new PermissionCache();
permissions.reload(ROLE_PERMISSIONS);
let roleReloads = 0;

// --- middleware -------------------------------------------------------------------

let requestSeq = 0;

function invalidateGrants(ctx) {
  ctx.stale = true;
}

function authorize(req, tenantId) {
  const login = req.headers['x-operator'];
  const operator = OPERATORS.find((o) => o.login === login);
  if (operator === undefined) return null;
  const ctx = {
    requestId: `adm-${Date.now().toString(36)}-${(++requestSeq).toString(36)}`,
    operator: operator.login,
    role: operator.role,
    tenantId,
    tenant: loadTenant(tenantId),
    route: `${req.method} ${req.url}`,
    grants: permissions.grantsFor(operator.role).map((grant) => `${tenantId}:${grant}`),
    headers: { ...req.headers },
    client: { ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] },
    startedAt: programSeconds(),
    stale: false,
  };
  // Re-check grants if roles change while this request runs.
  permissions.onChange(() => invalidateGrants(ctx));
  return ctx;
}

function can(ctx, grant) {
  if (ctx.stale) {
    ctx.grants = permissions.grantsFor(ctx.role).map((g) => `${ctx.tenantId}:${g}`);
    ctx.stale = false;
  }
  return ctx.grants.includes(`${ctx.tenantId}:${grant}`);
}

// --- handlers -----------------------------------------------------------------------

// The tenant row (from the accounts database; synthesized here).
function loadTenant(tenantId) {
  const n = Number(tenantId.slice(2));
  return {
    id: tenantId,
    name: `Tenant ${n}`,
    plan: PLANS[n % PLANS.length],
    seats: 5 + (n % 200),
    createdAt: new Date(1_600_000_000_000 + n * 86_400_000).toISOString(),
    region: n % 3 === 0 ? 'eu-west-1' : 'us-east-1',
    flags: { newEditor: n % 2 === 0, sso: n % 4 === 0, auditExport: n % 5 === 0 },
    limits: { apiCallsPerDay: 10_000 * (1 + (n % 10)), storageGb: 50 + (n % 500), projects: 20 + (n % 80) },
    billingContact: { name: `Billing Team ${n}`, email: `billing@tenant${n}.example`, vatId: `EU${(n * 7919).toString().padStart(9, '0')}` },
    features: ['sso', 'audit-export', 'custom-roles', 'webhooks', 'api-v2'].filter((_, i) => (n >> i) % 2 === 0).map((f) => `${f}@${n % 7}`),
    notes: `Migrated from legacy plan in ${2019 + (n % 5)}; primary contact prefers e-mail. Account manager: ${OPERATORS[n % OPERATORS.length].login}.`,
  };
}

function tenantUsers(tenantId) {
  const n = Number(tenantId.slice(2));
  return Array.from({ length: 10 + (n % 15) }, (_, i) => ({ id: `${tenantId}-u${i}`, email: `user${i}@tenant${n}.example`, role: i === 0 ? 'owner' : 'member', lastLogin: new Date(1_760_000_000_000 - i * 3_600_000).toISOString() }));
}

function auditPage(tenantId) {
  return Array.from({ length: 25 }, (_, i) => ({ at: new Date(1_760_000_000_000 - i * 60_000).toISOString(), actor: OPERATORS[i % OPERATORS.length].login, action: i % 3 === 0 ? 'user.reset-password' : 'tenant.view', tenantId }));
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handler(req, res) {
  const match = /^\/admin\/tenants\/(tn\d+)(?:\/(users|audit|flags))?$/.exec(req.url);
  if (match === null) {
    sendJson(res, 404, { error: 'not found' });
    return;
  }
  const [, tenantId, section] = match;
  const ctx = authorize(req, tenantId);
  if (ctx === null) {
    sendJson(res, 401, { error: 'unknown operator' });
    return;
  }
  try {
    if (section === undefined) {
      if (!can(ctx, 'tenant.read')) return sendJson(res, 403, { error: 'forbidden' });
      sendJson(res, 200, ctx.tenant);
    } else if (section === 'users') {
      if (!can(ctx, 'users.read')) return sendJson(res, 403, { error: 'forbidden' });
      sendJson(res, 200, tenantUsers(tenantId));
    } else if (section === 'audit') {
      if (!can(ctx, 'audit.read')) return sendJson(res, 403, { error: 'forbidden' });
      sendJson(res, 200, auditPage(tenantId));
    } else if (req.method === 'POST') {
      const change = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
      if (!can(ctx, 'flags.write')) return sendJson(res, 403, { error: 'forbidden' });
      sendJson(res, 200, { ...ctx.tenant.flags, ...change, changedBy: ctx.operator });
    } else {
      sendJson(res, 405, { error: 'method not allowed' });
    }
  } catch (error) {
    sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- in-process clients ------------------------------------------------------------------

const ballastMb = buildBallast();
const random = rng(777);
const { port } = await listen(handler);

// The directory sync: every 10 min the roles are re-read; now and then a role
// really changes (a grant added or removed), which notifies the subscribers.
every(scaledMs(ROLE_RELOAD_SECONDS), () => {
  roleReloads++;
  const table = { ...ROLE_PERMISSIONS };
  if (roleReloads % 3 === 0) table.support = [...ROLE_PERMISSIONS.support, 'flags.read'];
  permissions.reload(table);
});

const BROWSERS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
];

const client = selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  maxInFlight: 4,
  next: () => {
    const operator = OPERATORS[Math.floor(random() * OPERATORS.length)];
    const tenantId = `tn${1000 + Math.floor(random() * 4000)}`;
    const headers = {
      'x-operator': operator.login,
      'user-agent': BROWSERS[Math.floor(random() * BROWSERS.length)],
      accept: 'application/json',
      'accept-language': 'en-GB,en;q=0.9',
      cookie: `admin_session=${Math.floor(random() * 1e12).toString(36)}${Math.floor(random() * 1e12).toString(36)}; theme=dark`,
      'x-request-id': `${Math.floor(random() * 1e15).toString(16)}`,
      'x-forwarded-for': `10.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`,
      referer: `https://admin.internal.example/tenants/${tenantId}`,
    };
    const pick = random();
    if (pick < 0.45) return { method: 'GET', path: `/admin/tenants/${tenantId}`, headers };
    if (pick < 0.75) return { method: 'GET', path: `/admin/tenants/${tenantId}/users`, headers };
    if (pick < 0.95) return { method: 'GET', path: `/admin/tenants/${tenantId}/audit`, headers };
    return { method: 'POST', path: `/admin/tenants/${tenantId}/flags`, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ newEditor: random() < 0.5 }) };
  },
});

ready(`admin-callback-leak: internal admin API, ${REQUESTS_PER_SECOND} req/s at speed 1; every request leaves a permissions.onChange callback (~2.4 KB context); leaky from start`);

let lastCompleted = 0;
let lastT = programSeconds();
reportStats(() => {
  const now = programSeconds();
  const rps = now > lastT ? (client.completed - lastCompleted) / (now - lastT) : 0;
  lastCompleted = client.completed;
  lastT = now;
  return {
    retained: permissions.subscribers.length,
    refused: permissions.refused,
    roleVersion: permissions.version,
    roleReloads,
    rps: Math.round(rps * 100) / 100,
    ballastMb,
  };
});
