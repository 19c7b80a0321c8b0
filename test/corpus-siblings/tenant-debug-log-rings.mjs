// Webhook relay with a per-tenant debug log (healthy).
//
// Tenants post events (POST /v1/tenants/:id/events); the relay validates them,
// answers 202 and queues the delivery. Every request writes an access line,
// and some a debug or warn line, into that tenant's ring of the last 200 log
// lines (class LogRing, one per tenant, in the module-level Map `tenantLogs`),
// which support reads through GET /debug/tenants/:id/logs. Tenants are
// onboarded (POST /v1/tenants) and offboarded (DELETE /v1/tenants/:id) slowly,
// a few an hour; offboarding drops the tenant's config and its ring.
//
// Traffic: 120 tenants with Zipf(0.5) popularity, ~3.5 requests per second
// in all (~1.4 log lines per request), so the busiest tenant's ring is full
// after ~15 minutes and the quietest one's after ~2.5 hours; one tenant is
// replaced every ~20 minutes on average; a support engineer reads a tenant's
// log every ~10 s.
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

const RING_CAPACITY = 200;
const EPOCH = Date.parse('2026-12-07T06:00:00Z');
const clock = () => EPOCH + Math.round(programSeconds() * 1000);

class LogRing {
  constructor(capacity) {
    this.capacity = capacity;
    this.lines = new Array(capacity);
    this.next = 0;
    this.size = 0;
    this.overwritten = 0;
  }

  push(line) {
    this.lines[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
    else this.overwritten++;
  }

  tail(limit) {
    const count = Math.min(limit, this.size);
    const out = new Array(count);
    for (let i = 0; i < count; i++) out[i] = this.lines[(this.next - count + i + this.capacity) % this.capacity];
    return out;
  }
}

/** tenantId → { id, name, webhookUrl, plan, createdAt } */
const tenantConfigs = new Map();
/** tenantId → LogRing of its last 200 lines */
const tenantLogs = new Map();
const totals = { events: 0, lines: 0, onboarded: 0, offboarded: 0, rejected: 0 };

function formatLine(level, tenantId, requestId, message) {
  return `${new Date(clock()).toISOString()} ${level.padEnd(5)} tenant=${tenantId} req=${requestId} ${message}`;
}

function debugLog(tenantId, level, requestId, message) {
  let ring = tenantLogs.get(tenantId);
  if (ring === undefined) {
    ring = new LogRing(RING_CAPACITY);
    tenantLogs.set(tenantId, ring);
  }
  ring.push(formatLine(level, tenantId, requestId, message));
  totals.lines++;
}

let requestSeq = 0;
const nextRequestId = () => (0x1000000 + ((requestSeq++ * 2654435761) % 0xeffffff)).toString(16);

function acceptEvent(tenant, event, bytes, userAgent) {
  const requestId = nextRequestId();
  const started = performance.now();
  const valid = typeof event.type === 'string' && typeof event.id === 'string' && event.data !== null && typeof event.data === 'object';
  const status = valid ? 202 : 422;
  if (valid && event.data.attempt > 1) {
    debugLog(tenant.id, 'DEBUG', requestId, `redelivery of ${event.id} (${event.type}) attempt=${event.data.attempt} to ${tenant.webhookUrl}`);
  } else if (valid && bytes > 400) {
    debugLog(tenant.id, 'DEBUG', requestId, `large payload ${event.id} (${event.type}) ${bytes} bytes, delivering compressed to ${tenant.webhookUrl}`);
  }
  if (valid && event.data.lastLatencyMs > 800) {
    debugLog(tenant.id, 'WARN', requestId, `destination ${tenant.webhookUrl} slow: ${event.data.lastLatencyMs}ms (budget 800ms), circuit half-open`);
  }
  const ms = (performance.now() - started).toFixed(1);
  debugLog(tenant.id, 'INFO', requestId, `POST /v1/tenants/${tenant.id}/events ${status} ${ms}ms bytes=${bytes} type=${event.type} ua="${userAgent}"`);
  if (valid) totals.events++;
  else totals.rejected++;
  return { status, requestId };
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const TENANT_PATH = /^\/(v1|debug)\/tenants(?:\/([\w-]+))?(?:\/(events|logs))?(?:\?.*)?$/;

async function handler(req, res) {
  try {
    const match = TENANT_PATH.exec(req.url);
    if (match === null) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    const [, area, tenantId, resource] = match;
    if (area === 'v1' && tenantId === undefined && req.method === 'POST') {
      const config = JSON.parse((await readBody(req)).toString('utf8'));
      tenantConfigs.set(config.id, { ...config, createdAt: clock() });
      totals.onboarded++;
      sendJson(res, 201, { id: config.id });
    } else if (area === 'v1' && resource === 'events' && req.method === 'POST') {
      const body = await readBody(req);
      const tenant = tenantConfigs.get(tenantId);
      if (tenant === undefined) {
        sendJson(res, 404, { error: 'unknown tenant' });
        return;
      }
      const { status, requestId } = acceptEvent(tenant, JSON.parse(body.toString('utf8')), body.length, req.headers['user-agent'] ?? '-');
      sendJson(res, status, { requestId });
    } else if (area === 'v1' && resource === undefined && tenantId !== undefined && req.method === 'DELETE') {
      const existed = tenantConfigs.delete(tenantId);
      tenantLogs.delete(tenantId);
      if (existed) totals.offboarded++;
      sendJson(res, existed ? 200 : 404, { id: tenantId });
    } else if (area === 'debug' && resource === 'logs' && req.method === 'GET') {
      const ring = tenantLogs.get(tenantId);
      const lines = ring === undefined ? [] : ring.tail(RING_CAPACITY);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(lines.join('\n'));
    } else {
      sendJson(res, 405, { error: 'method not allowed' });
    }
  } catch (error) {
    sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- Tenants' integrations, onboarding and support ----------------------------

const random = rng(424242);
const TENANT_SLOTS = 120;
const EVENTS_PER_S = 3.5;
const CHURN_MEAN_S = 20 * 60;
const DEBUG_READS_PER_S = 0.1;
const EVENT_TYPES = ['order.created', 'order.paid', 'order.shipped', 'invoice.finalized', 'customer.updated', 'refund.issued'];
const USER_AGENTS = ['acme-sdk/3.2.1 node/20.11', 'relay-client/1.8 (go1.22)', 'python-requests/2.31', 'shopware-connector/5.4.0'];
const PLANS = ['starter', 'growth', 'scale'];

const exponential = (mean) => -Math.log(1 - random()) * mean;
const poisson = (mean) => {
  let k = 0;
  for (let p = Math.exp(-mean), s = p, u = random(); u > s; k++) {
    p *= mean / (k + 1);
    s += p;
  }
  return k;
};

let tenantSeq = 0;
function newTenantConfig() {
  const n = tenantSeq++;
  const id = `tn-${(4096 + n * 37).toString(36)}`;
  return { id, name: `Tenant ${n}`, webhookUrl: `https://hooks.customer-${n}.example.com/ingest/${id}`, plan: PLANS[n % PLANS.length] };
}

// A slot is a position in the popularity order; its tenant changes when one leaves and another is onboarded.
const slotWeights = [];
for (let i = 1; i <= TENANT_SLOTS; i++) slotWeights.push(1 / Math.sqrt(i));
const weightSum = slotWeights.reduce((a, b) => a + b, 0);
const slots = [];
for (let i = 0; i < TENANT_SLOTS; i++) {
  const config = newTenantConfig();
  tenantConfigs.set(config.id, { ...config, createdAt: clock() }); // loaded from the config database at start
  slots.push(config.id);
}

function pickSlot() {
  let r = random() * weightSum;
  for (let i = 0; i < TENANT_SLOTS; i++) {
    r -= slotWeights[i];
    if (r <= 0) return i;
  }
  return TENANT_SLOTS - 1;
}

function eventRequest(tenantId) {
  const type = EVENT_TYPES[Math.floor(random() * EVENT_TYPES.length)];
  const items = 1 + Math.floor(random() * 12);
  const data = {
    attempt: random() < 0.1 ? 2 + Math.floor(random() * 3) : 1,
    lastLatencyMs: Math.round(exponential(180)),
    orderId: `ord_${Math.floor(random() * 1e9).toString(36)}`,
    amountCents: Math.round(random() * 50000),
    currency: 'EUR',
    items: Array.from({ length: items }, (_, i) => ({ sku: `SKU-${i}-${Math.floor(random() * 9999)}`, qty: 1 + (i % 3) })),
  };
  const body = JSON.stringify({ id: `evt_${Math.floor(random() * 1e12).toString(36)}`, type, data });
  return { method: 'POST', path: `/v1/tenants/${tenantId}/events`, headers: { 'content-type': 'application/json', 'user-agent': USER_AGENTS[Math.floor(random() * USER_AGENTS.length)] }, body };
}

const outbox = [];
const handovers = [];
let nextChurnAt = exponential(CHURN_MEAN_S);

/** One second of client traffic (production time). */
function tick() {
  const t = programSeconds();
  for (let n = poisson(EVENTS_PER_S); n > 0; n--) outbox.push(eventRequest(slots[pickSlot()]));
  for (let n = poisson(DEBUG_READS_PER_S); n > 0; n--) outbox.push({ method: 'GET', path: `/debug/tenants/${slots[pickSlot()]}/logs` });
  // Last second's onboarding is done: the new tenant's integration starts sending, the old one is removed.
  for (const { slot, id } of handovers.splice(0)) {
    outbox.push({ method: 'DELETE', path: `/v1/tenants/${slots[slot]}` });
    slots[slot] = id;
  }
  while (t >= nextChurnAt) {
    nextChurnAt += exponential(CHURN_MEAN_S);
    const config = newTenantConfig();
    outbox.push({ method: 'POST', path: '/v1/tenants', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });
    handovers.push({ slot: Math.floor(random() * TENANT_SLOTS), id: config.id });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
every(scaledMs(1), tick);
const traffic = selfRequests(port, { perSecond: 10, next: () => outbox.shift() ?? null });

reportStats(() => {
  let lines = 0;
  let full = 0;
  for (const ring of tenantLogs.values()) {
    lines += ring.size;
    if (ring.size === ring.capacity) full++;
  }
  return {
    retained: lines,
    rings: tenantLogs.size,
    fullRings: full,
    tenants: tenantConfigs.size,
    events: totals.events,
    lines: totals.lines,
    offboarded: totals.offboarded,
    requests: traffic.completed,
    queued: outbox.length,
  };
});
ready(`tenant-debug-log-rings: per-tenant ring of the last 200 log lines, 120 tenants (slow churn), ~3.5 req/s; ballast ${ballastMb} MB`);
