// Usage metering service of a multi-tenant API platform: the API gateways
// send the usage records of the requests they served in batches (POST
// /v1/usage: tenant, route, status, bytes, latency, request id). The
// module-level `meter` (class UsageMeter) keeps one entry per tenant in the
// Map `meter.tenants`: counters plus the per-request history of the current
// minute (the billing service wants the raw records for its percentile and
// overage rules). Every minute flushUsage() walks the Map, sends each
// tenant's minute to billing under the plan found in the tenant directory
// (module-level `tenantDirectory`), and resets the counters and the history.
//
// The leak: tenants are deleted now and then (DELETE /v1/tenants/:id removes
// them from the directory), but flushUsage() skips entries whose tenant is no
// longer in the directory (`continue` before the reset: "no plan, cannot
// bill") and nothing removes them from meter.tenants. The deleted tenants'
// integrations keep calling (cron jobs, a mobile app in the wild) and the
// gateways keep metering those requests, so every deleted tenant's entry
// grows without end by its traffic's records (and faster than before: the
// orphaned integrations get 403s and retry in a loop, ~3x their old rate).
// One tenant is deleted about every 10 minutes from ~8 min in; the growth
// speeds up as more of them pile up.
import { buildBallast, every, listen, MiB, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0x7e4a47);
const FLUSH_SECONDS = 60;
const TENANTS = 300;

// --- tenant directory -------------------------------------------------------------------------

const PLANS = ['free', 'starter', 'growth', 'enterprise'];
/** tenantId -> { id, name, plan, createdAt } */
const tenantDirectory = new Map();
let tenantSeq = 0;

function createTenant() {
  const n = ++tenantSeq;
  const tenant = { id: `ten_${(100000 + n * 7919).toString(36)}`, name: `customer-${n}`, plan: PLANS[Math.floor(random() * random() * PLANS.length)], createdAt: Math.round(programSeconds()) };
  tenantDirectory.set(tenant.id, tenant);
  return tenant;
}

// --- metering ---------------------------------------------------------------------------------------

/** One metered request as billing wants it. */
function toUsageRecord(raw, gateway) {
  return {
    requestId: raw.rid,
    at: raw.ts,
    route: raw.route,
    method: raw.method,
    status: raw.status,
    bytesIn: raw.in,
    bytesOut: raw.out,
    latencyMs: raw.ms,
    gateway,
  };
}

class UsageMeter {
  constructor() {
    this.tenants = new Map();
    this.recorded = 0;
  }

  record(tenantId, usage) {
    let entry = this.tenants.get(tenantId);
    if (entry === undefined) {
      entry = { tenantId, requests: 0, errors: 0, bytesIn: 0, bytesOut: 0, since: Math.round(programSeconds()), history: [] };
      this.tenants.set(tenantId, entry);
    }
    entry.requests++;
    if (usage.status >= 500) entry.errors++;
    entry.bytesIn += usage.bytesIn;
    entry.bytesOut += usage.bytesOut;
    entry.history.push(usage);
    this.recorded++;
  }
}

const meter = new UsageMeter();
const billing = { minutes: 0, lines: 0, skipped: 0 };

/** Sends every known tenant's minute to billing and resets it. */
function flushUsage() {
  const now = Math.round(programSeconds());
  let skipped = 0;
  for (const entry of meter.tenants.values()) {
    const tenant = tenantDirectory.get(entry.tenantId);
    if (tenant === undefined) {
      skipped++; // no plan, cannot bill
      continue;
    }
    if (entry.requests === 0) continue;
    const latencies = entry.history.map((u) => u.latencyMs).sort((a, b) => a - b);
    const line = {
      tenant: tenant.id,
      plan: tenant.plan,
      from: entry.since,
      to: now,
      requests: entry.requests,
      errors: entry.errors,
      bytes: entry.bytesIn + entry.bytesOut,
      p95: latencies[Math.floor(latencies.length * 0.95)] ?? 0,
    };
    billing.lines += JSON.stringify(line).length > 0 ? 1 : 0;
    entry.requests = 0;
    entry.errors = 0;
    entry.bytesIn = 0;
    entry.bytesOut = 0;
    entry.since = now;
    entry.history = [];
  }
  billing.minutes++;
  billing.skipped = skipped;
}

// --- HTTP -------------------------------------------------------------------------------------------------

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/usage') {
      const body = JSON.parse((await readBody(req, 4 * MiB)).toString('utf8'));
      for (const raw of body.records) meter.record(raw.tenant, toUsageRecord(raw, body.gateway));
      res.writeHead(202).end();
      return;
    }
    if (req.method === 'DELETE' && req.url?.startsWith('/v1/tenants/')) {
      const deleted = tenantDirectory.delete(req.url.slice('/v1/tenants/'.length));
      res.writeHead(deleted ? 204 : 404).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/tenants') {
      const tenant = createTenant();
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(tenant));
      return;
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, tenants: tenantDirectory.size, metered: meter.tenants.size }));
      return;
    }
    res.writeHead(404).end();
  } catch (error) {
    if (!res.headersSent) res.writeHead(400).end(String(error.message ?? error));
  }
}

// --- the API gateways, customers and the admin console (the load) ---------------------------------------------

for (let i = 0; i < TENANTS; i++) createTenant();
/** Every tenant that ever existed, with its traffic weight (the gateways keep metering deleted ones). */
const callers = [...tenantDirectory.values()].map((t) => ({ id: t.id, weight: 0.2 + random() * 1.8 }));
let totalWeight = callers.reduce((sum, c) => sum + c.weight, 0);

function pickCaller() {
  let roll = random() * totalWeight;
  for (const caller of callers) {
    roll -= caller.weight;
    if (roll < 0) return caller;
  }
  return callers[callers.length - 1];
}

const ROUTES = ['/v3/messages', '/v3/messages/:id', '/v3/contacts', '/v3/contacts/:id', '/v3/webhooks', '/v3/files', '/v3/search'];
const GATEWAYS = ['gw-eu-1a', 'gw-eu-1b', 'gw-eu-1c'];

function usageBatch() {
  const gateway = GATEWAYS[Math.floor(random() * GATEWAYS.length)];
  const records = [];
  const n = 30 + Math.floor(random() * 41);
  for (let i = 0; i < n; i++) {
    const caller = pickCaller();
    records.push({
      tenant: caller.id,
      rid: `req_${Math.floor(random() * 2 ** 48).toString(36)}`,
      ts: Math.round(programSeconds() * 1000),
      route: ROUTES[Math.floor(random() * ROUTES.length)],
      method: random() < 0.6 ? 'GET' : 'POST',
      status: caller.deleted ? 403 : random() < 0.97 ? 200 : random() < 0.5 ? 429 : 503,
      in: Math.floor(200 + random() * 3000),
      out: Math.floor(300 + random() * 20000),
      ms: Math.round(8 + 400 * random() ** 3),
    });
  }
  return { method: 'POST', path: '/v1/usage', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ gateway, records }) };
}

const DELETE_EVERY_SECONDS = 600;
const FIRST_DELETE_SECONDS = 480;
let nextAdminAt = FIRST_DELETE_SECONDS;
const admin = { deleted: 0, created: 0 };

/** The admin console: deletes a tenant every ~10 min (a churned customer) and signs up a new one. */
function adminAction() {
  if (programSeconds() < nextAdminAt) return null;
  nextAdminAt += DELETE_EVERY_SECONDS * (0.5 + random());
  const live = callers.filter((c) => tenantDirectory.has(c.id));
  const victim = live[Math.floor(random() * live.length)];
  admin.deleted++;
  // Its integrations now get 403 and retry in a loop: ~3x the traffic, all of it still metered.
  totalWeight += victim.weight * 2;
  victim.weight *= 3;
  victim.deleted = true;
  return { method: 'DELETE', path: `/v1/tenants/${victim.id}` };
}

function onSignup(status, text) {
  if (status !== 201) return;
  const tenant = JSON.parse(text);
  const caller = { id: tenant.id, weight: 0.2 + random() * 1.8 };
  callers.push(caller);
  totalWeight += caller.weight;
  admin.created++;
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~2 batches/s of ~50 records: ~100 metered requests/s.
const gateways = selfRequests(port, { perSecond: 2, maxInFlight: 8, next: usageBatch });
const console_ = selfRequests(port, { perSecond: 0.05, maxInFlight: 1, next: adminAction });
const signups = selfRequests(port, { perSecond: 1 / DELETE_EVERY_SECONDS, maxInFlight: 1, next: () => ({ method: 'POST', path: '/v1/tenants' }), onResponse: onSignup });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

every(Math.max(1, (FLUSH_SECONDS * 1000) / speed), flushUsage);

function deletedHistory() {
  let records = 0;
  for (const entry of meter.tenants.values()) if (!tenantDirectory.has(entry.tenantId)) records += entry.history.length;
  return records;
}

reportStats(() => ({
  retained: meter.tenants.size,
  liveTenants: tenantDirectory.size,
  deletedTenants: admin.deleted,
  deletedHistory: deletedHistory(),
  recorded: meter.recorded,
  flushes: billing.minutes,
  requestsFailed: gateways.failed + console_.failed + signups.failed + probes.failed,
}));

ready(`tenant-usage-meter-deleted-leak: meters ~100 gateway requests/s across ~${TENANTS} tenants, flushes every ${FLUSH_SECONDS} s; deleted tenants' entries are skipped, never reset or removed (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
