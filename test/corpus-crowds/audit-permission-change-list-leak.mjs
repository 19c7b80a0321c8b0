// Multi-tenant audit-log service (leak from a release at the onset).
//
// The product's services (identity, documents, billing, admin console, public
// API) send their audit events in batches to POST /v1/audit/events. The
// service forwards them to the archive (stand-in) and keeps, per tenant, the
// events of the last 15 minutes (at most 2 000) in a TenantAuditLog in the
// module-level Map `tenants`, for the admin console's live audit view and its
// filters. `recent` is trimmed with filter() when its oldest event expires (at
// most every 30 s per tenant, and for all tenants every minute) and cut with
// slice() when over 2 000.
//
// From release 2024.19 (deployed at the onset, SCENARIO_ONSET, default 2 h)
// the console has an access-review panel: recordEvent also appends every
// `permission.*` event to the tenant's `permissionChanges` list, which the
// panel reads. Nothing trims that list (the panel's query filters by date),
// so every permission change from the onset on is kept, with its actor,
// target and details: ~0.5 events/s, ~1 MB/h of heap.
//
// Traffic: ~15 events/s from 300 tenants (Zipf), 3 % of them permission
// changes, in batches every 2 s per producer, plus bursts every 35-85 minutes:
// morning login storms (+8-14 events/s for 20-40 min), SCIM directory syncs
// (one tenant provisions 150-700 users over 5-15 min: user.created,
// group.member_added and a permission.granted each) and bulk exports (2 000-6 000
// document.exported events in 10 minutes).
import {
  buildBallast,
  every,
  listen,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const EPOCH_MS = Date.UTC(2024, 4, 6, 6, 30, 0);
const RECENT_WINDOW_MS = 15 * 60_000;
const MAX_RECENT = 2000;
const TRIM_EVERY_MS = 30_000;

function nowMs() {
  return EPOCH_MS + programSeconds() * 1000;
}

// Release 2024.19 goes out at the onset and turns the access-review panel on.
const features = { release: '2024.18', accessReview: false };
setTimeout(() => {
  features.release = '2024.19';
  features.accessReview = true;
}, onsetMs(7200));

// --- The audit log ---------------------------------------------------------------

class TenantAuditLog {
  constructor(tenantId) {
    this.tenantId = tenantId;
    this.recent = [];
    this.permissionChanges = [];
    this.total = 0;
    this.lastEventAt = 0;
    this.lastTrimAt = 0;
  }
}

const tenants = new Map(); // tenantId -> TenantAuditLog

function tenantLog(tenantId) {
  let log = tenants.get(tenantId);
  if (log === undefined) {
    log = new TenantAuditLog(tenantId);
    tenants.set(tenantId, log);
  }
  return log;
}

/** A validated, normalized audit event from the wire format. */
function toAuditEvent(raw, receivedAt) {
  return {
    id: raw.id,
    tenantId: raw.tenant,
    at: Date.parse(raw.ts),
    receivedAt,
    actor: { id: raw.actor.id, type: raw.actor.type, ip: raw.actor.ip },
    action: raw.action,
    target: raw.target ? { type: raw.target.type, id: raw.target.id, name: raw.target.name } : null,
    outcome: raw.outcome ?? 'success',
    requestId: raw.requestId,
    details: raw.details ?? null,
  };
}

function isPermissionChange(event) {
  return event.action.startsWith('permission.');
}

function trimRecent(log, now) {
  const cutoff = now - RECENT_WINDOW_MS;
  if (log.recent.length > 0 && log.recent[0].at < cutoff) log.recent = log.recent.filter((e) => e.at >= cutoff);
  if (log.recent.length > MAX_RECENT) log.recent = log.recent.slice(-MAX_RECENT);
  log.lastTrimAt = now;
}

function recordEvent(event, now) {
  const log = tenantLog(event.tenantId);
  log.recent.push(event);
  log.total++;
  log.lastEventAt = event.at;
  if (features.accessReview && isPermissionChange(event)) log.permissionChanges.push(event);
  if (now - log.lastTrimAt >= TRIM_EVERY_MS || log.recent.length > MAX_RECENT + 200) trimRecent(log, now);
}

every(scaledMs(60), () => {
  const now = nowMs();
  for (const log of tenants.values()) trimRecent(log, now);
});

// Archive stand-in: batches are acknowledged by the archive writer (counted, not kept).
const archive = { batches: 0, events: 0, bytes: 0 };

// --- HTTP API ------------------------------------------------------------------------

const counters = { batches: 0, events: 0, rejected: 0, permissionEvents: 0, queries: 0, reviews: 0 };

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function isValid(raw) {
  return typeof raw?.id === 'string' && typeof raw.tenant === 'string' && typeof raw.action === 'string' && typeof raw.ts === 'string' && typeof raw.actor?.id === 'string';
}

async function ingest(req, res) {
  const body = await readBody(req, 4 * 1024 * 1024);
  const batch = JSON.parse(body.toString('utf8'));
  const receivedAt = nowMs();
  let accepted = 0;
  for (const raw of batch.events) {
    if (!isValid(raw)) {
      counters.rejected++;
      continue;
    }
    const event = toAuditEvent(raw, receivedAt);
    if (isPermissionChange(event)) counters.permissionEvents++;
    recordEvent(event, receivedAt);
    accepted++;
  }
  counters.batches++;
  counters.events += accepted;
  archive.batches++;
  archive.events += accepted;
  archive.bytes += body.length;
  sendJson(res, 202, { accepted, rejected: batch.events.length - accepted });
}

function auditPage(log, query) {
  const params = new URLSearchParams(query);
  const limit = Math.min(200, Number(params.get('limit') ?? 50));
  const action = params.get('action');
  const events = action ? log.recent.filter((e) => e.action.startsWith(action)) : log.recent;
  return { tenant: log.tenantId, window: '15m', count: events.length, events: events.slice(-limit).reverse() };
}

function accessReview(log, query) {
  const params = new URLSearchParams(query);
  const since = Date.parse(params.get('since') ?? '1970-01-01T00:00:00Z');
  const changes = log.permissionChanges.filter((e) => e.at >= since);
  const byTarget = {};
  for (const e of changes) byTarget[e.target?.id ?? 'none'] = (byTarget[e.target?.id ?? 'none'] ?? 0) + 1;
  return { tenant: log.tenantId, since: new Date(since).toISOString(), changes: changes.length, byTarget, latest: changes.slice(-25) };
}

async function handle(req, res) {
  const [path, query = ''] = req.url.split('?');
  if (req.method === 'POST' && path === '/v1/audit/events') return ingest(req, res);
  const parts = path.split('/'); // ['', 'v1', 'tenants', id, 'audit' | 'access-review']
  if (req.method === 'GET' && parts[2] === 'tenants') {
    const log = tenants.get(parts[3]);
    if (log === undefined) return sendJson(res, 404, { error: 'no events for tenant' });
    if (parts[4] === 'audit') {
      counters.queries++;
      return sendJson(res, 200, auditPage(log, query));
    }
    if (parts[4] === 'access-review') {
      if (!features.accessReview) return sendJson(res, 404, { error: 'not enabled' });
      counters.reviews++;
      return sendJson(res, 200, accessReview(log, query));
    }
  }
  if (path === '/healthz') return sendJson(res, 200, { ok: true, release: features.release, tenants: tenants.size });
  sendJson(res, 404, { error: 'not found' });
}

const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) sendJson(res, 400, { error: String(err.message) });
    else res.destroy();
  });
});

// --- Producers (in-process stand-ins for the product's services) ---------------------

const TENANTS = 300;
const BASE_EVENTS_PER_S = 15;
const genRng = rng(0xa0d17);
const tenantIds = Array.from({ length: TENANTS }, (_, i) => `t_${(36 ** 5 + i * 104729).toString(36)}`);
const tenantCdf = [];
{
  let sum = 0;
  for (let i = 1; i <= TENANTS; i++) tenantCdf.push((sum += 1 / i));
  for (let i = 0; i < TENANTS; i++) tenantCdf[i] /= sum;
}

function pickTenant() {
  const u = genRng();
  let lo = 0;
  let hi = TENANTS - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tenantCdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** [action, share of base traffic, producer, target type] */
const ACTIONS = [
  ['session.created', 0.24, 'identity', 'session'],
  ['session.ended', 0.14, 'identity', 'session'],
  ['session.mfa_challenged', 0.04, 'identity', 'session'],
  ['document.viewed', 0.2, 'documents', 'document'],
  ['document.updated', 0.1, 'documents', 'document'],
  ['document.shared', 0.05, 'documents', 'document'],
  ['api_key.used', 0.09, 'api', 'api_key'],
  ['settings.updated', 0.03, 'console', 'setting'],
  ['user.invited', 0.02, 'console', 'user'],
  ['billing.invoice_viewed', 0.03, 'billing', 'invoice'],
  ['billing.payment_method_updated', 0.01, 'billing', 'payment_method'],
  ['permission.granted', 0.016, 'console', 'user'],
  ['permission.revoked', 0.008, 'console', 'user'],
  ['permission.role_changed', 0.006, 'console', 'user'],
];
const PRODUCERS = ['identity', 'documents', 'api', 'console', 'billing'];
const ROLES = ['viewer', 'editor', 'admin', 'billing_admin', 'owner', 'auditor'];
const SCOPES = ['workspace', 'project', 'folder', 'document'];
const USER_AGENTS = ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36', 'acme-cli/2.7.1 node/20.12', 'terraform-provider-acme/1.9.0'];

function hex(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += ((genRng() * 16) | 0).toString(16);
  return s;
}

function rawEvent(action, targetType, tenant, atMs, extra) {
  const userNo = Math.floor(genRng() * genRng() * 400);
  const raw = {
    id: `evt_${hex(20)}`,
    tenant: tenantIds[tenant],
    ts: new Date(atMs).toISOString(),
    actor: { id: `usr_${tenant.toString(36)}${userNo.toString(36).padStart(3, '0')}`, type: action === 'api_key.used' ? 'api_key' : 'user', ip: `203.0.${(tenant * 7) % 256}.${1 + (userNo % 250)}` },
    action,
    target: { type: targetType, id: `${targetType.slice(0, 3)}_${hex(10)}`, name: targetType === 'document' ? `Q${1 + (userNo % 4)} plan ${userNo}.docx` : `${targetType} ${userNo}` },
    outcome: genRng() < 0.985 ? 'success' : 'failure',
    requestId: `req_${hex(16)}`,
    details: null,
  };
  if (action.startsWith('permission.')) {
    const from = ROLES[Math.floor(genRng() * ROLES.length)];
    const to = ROLES[Math.floor(genRng() * ROLES.length)];
    raw.details = { scope: SCOPES[Math.floor(genRng() * SCOPES.length)], role: to, previousRole: action === 'permission.granted' ? null : from, via: 'console', userAgent: USER_AGENTS[Math.floor(genRng() * USER_AGENTS.length)] };
  } else if (action.startsWith('session.')) {
    raw.details = { method: genRng() < 0.7 ? 'sso' : 'password', userAgent: USER_AGENTS[Math.floor(genRng() * USER_AGENTS.length)] };
  }
  if (extra !== undefined) Object.assign(raw, extra);
  return raw;
}

// Bursts: seeded schedule (own stream), every 35-85 minutes.
const burstRng = rng(0xb2257);
const bursts = [];
{
  let at = 1500 + burstRng() * 1800;
  while (at < 30 * 3600) {
    const r = burstRng();
    if (r < 0.45) bursts.push({ kind: 'login-storm', start: at, lengthS: 1200 + burstRng() * 1200, extraPerS: 8 + burstRng() * 6, tenant: -1 });
    else if (r < 0.75) bursts.push({ kind: 'scim-sync', start: at, lengthS: 300 + burstRng() * 600, users: 150 + Math.floor(burstRng() * 550), tenant: Math.floor(burstRng() * 40) });
    else bursts.push({ kind: 'bulk-export', start: at, lengthS: 600, events: 2000 + Math.floor(burstRng() * 4000), tenant: Math.floor(burstRng() * 60) });
    at += 2100 + burstRng() * 3000;
  }
}

function activeBursts(t) {
  return bursts.filter((b) => t >= b.start && t < b.start + b.lengthS);
}

function poisson(mean) {
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * Math.sqrt(-2 * Math.log(1 - genRng())) * Math.cos(2 * Math.PI * genRng())));
  let k = 0;
  let p = Math.exp(-mean);
  let s = p;
  const u = genRng();
  while (u > s && k < 200) {
    k++;
    p *= mean / k;
    s += p;
  }
  return k;
}

/** Events one producer has buffered over (from, to] program seconds. */
function producerEvents(producer, from, to) {
  const events = [];
  const span = to - from;
  for (const [action, share, owner, targetType] of ACTIONS) {
    if (owner !== producer) continue;
    const n = poisson(BASE_EVENTS_PER_S * share * span);
    for (let i = 0; i < n; i++) events.push(rawEvent(action, targetType, pickTenant(), EPOCH_MS + (from + genRng() * span) * 1000));
  }
  for (const b of activeBursts(to)) {
    const part = span / b.lengthS;
    if (b.kind === 'login-storm' && producer === 'identity') {
      const n = poisson(b.extraPerS * span);
      for (let i = 0; i < n; i++) events.push(rawEvent(genRng() < 0.8 ? 'session.created' : 'session.mfa_challenged', 'session', pickTenant(), EPOCH_MS + (from + genRng() * span) * 1000));
    } else if (b.kind === 'scim-sync' && producer === 'identity') {
      const n = poisson(b.users * part);
      for (let i = 0; i < n; i++) {
        const at = EPOCH_MS + (from + genRng() * span) * 1000;
        const extra = { actor: { id: 'scim_okta', type: 'directory_sync', ip: '198.51.100.20' } };
        events.push(rawEvent('user.created', 'user', b.tenant, at, extra));
        events.push(rawEvent('group.member_added', 'group', b.tenant, at, extra));
        events.push(rawEvent('permission.granted', 'user', b.tenant, at, extra));
      }
    } else if (b.kind === 'bulk-export' && producer === 'documents') {
      const n = poisson(b.events * part);
      for (let i = 0; i < n; i++) events.push(rawEvent('document.exported', 'document', b.tenant, EPOCH_MS + (from + genRng() * span) * 1000));
    }
  }
  return events;
}

const lastFlush = Object.fromEntries(PRODUCERS.map((p) => [p, 0]));
let producerTurn = 0;

function producerBatch() {
  const producer = PRODUCERS[producerTurn++ % PRODUCERS.length];
  const to = programSeconds();
  const events = producerEvents(producer, lastFlush[producer], to);
  lastFlush[producer] = to;
  if (events.length === 0) return null;
  return { method: 'POST', path: '/v1/audit/events', headers: { 'content-type': 'application/json', 'x-producer': producer }, body: JSON.stringify({ producer, events }) };
}

// each producer flushes every 2 s
const producerClient = selfRequests(port, { perSecond: PRODUCERS.length / 2, next: producerBatch, maxInFlight: 32 });

// tenant admins in the console: live audit view, filters, and (after the release) access reviews
const adminRng = rng(0xad417);
const adminClient = selfRequests(port, {
  perSecond: 0.3,
  next: () => {
    const tenant = tenantIds[Math.floor(adminRng() * adminRng() * TENANTS)];
    const r = adminRng();
    if (r < 0.02) return { method: 'GET', path: '/healthz' };
    if (r < 0.55) return { method: 'GET', path: `/v1/tenants/${tenant}/audit?limit=50` };
    if (r < 0.8 || programSeconds() < onsetSeconds(7200)) return { method: 'GET', path: `/v1/tenants/${tenant}/audit?limit=100&action=${adminRng() < 0.5 ? 'permission.' : 'session.'}` };
    // the access-review panel ships with release 2024.19
    const since = new Date(nowMs() - 7 * 86400_000).toISOString();
    return { method: 'GET', path: `/v1/tenants/${tenant}/access-review?since=${since}` };
  },
  maxInFlight: 8,
});

const ballastMb = buildBallast();
ready(`multi-tenant audit service on 127.0.0.1:${port}, release 2024.19 at ${onsetSeconds(7200)} s${ballastMb ? `, ballast ${ballastMb} MB` : ''}`);

reportStats(() => {
  let recent = 0;
  let permissionChanges = 0;
  for (const log of tenants.values()) {
    recent += log.recent.length;
    permissionChanges += log.permissionChanges.length;
  }
  const t = programSeconds();
  return {
    retained: permissionChanges,
    recent,
    tenants: tenants.size,
    release: features.release,
    bursts: activeBursts(t).map((b) => b.kind),
    ...counters,
    sent: producerClient.sent + adminClient.sent,
    failed: producerClient.failed + adminClient.failed,
  };
});
