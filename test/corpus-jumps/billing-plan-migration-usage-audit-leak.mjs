// Billing API: customers' systems POST metered usage (/v1/usage); every
// record is rated against the customer's plan and written to that customer's
// usage audit log (module-level Map `auditLogs`, class CustomerAuditLog with
// an `entries` array), which support reads and the invoice preview use. The
// audit is shipped to the warehouse elsewhere; locally it is only kept for a
// retention window, enforced by trimAuditLogs() every 5 minutes.
//
// At the onset the plan migration moves the cohort of large customers from
// enterprise-2022 to the new usage-based-2024 plan in one go: for each of
// them it pulls the current billing period's usage from the warehouse,
// re-rates it under the new plan and appends the re-rated records to the
// audit log. trimAuditLogs() walks the plans listed in AUDIT_RETENTION_SECONDS,
// which nobody updated for the new plan, so the migrated customers' logs are
// never trimmed: memory jumps as the cohort's backlog lands, then keeps
// growing with the cohort's live traffic.
import { createHash } from 'node:crypto';
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
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xb1111);
const EPOCH_MS = Date.UTC(2024, 4, 14, 6, 0, 0); // program time 0: mid-period
const PERIOD_START_MS = Date.UTC(2024, 4, 1);
const ONSET_SECONDS = onsetSeconds(7200); // the migration runs 2 h in

// --- plans and price books ------------------------------------------------------

const METERS = ['api_calls', 'compute_seconds', 'storage_gb_hours', 'egress_gb', 'seats_active', 'jobs_run'];
const UNITS = { api_calls: 'call', compute_seconds: 's', storage_gb_hours: 'GB·h', egress_gb: 'GB', seats_active: 'seat·day', jobs_run: 'job' };
const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-southeast-1'];

const PLANS = {
  'metered-2021': { currency: 'EUR', micros: { api_calls: 40, compute_seconds: 22, storage_gb_hours: 31, egress_gb: 80_000, seats_active: 400_000, jobs_run: 9_000 }, includedUnits: 0 },
  'pro-2022': { currency: 'EUR', micros: { api_calls: 32, compute_seconds: 19, storage_gb_hours: 28, egress_gb: 70_000, seats_active: 350_000, jobs_run: 8_000 }, includedUnits: 10_000 },
  'enterprise-2022': { currency: 'EUR', micros: { api_calls: 25, compute_seconds: 15, storage_gb_hours: 24, egress_gb: 55_000, seats_active: 300_000, jobs_run: 6_500 }, includedUnits: 100_000 },
  // New in this release: volume tiers per meter, committed spend.
  'usage-based-2024': {
    currency: 'EUR',
    micros: { api_calls: 21, compute_seconds: 13, storage_gb_hours: 22, egress_gb: 48_000, seats_active: 0, jobs_run: 5_500 },
    tiers: [
      { upTo: 1_000_000, factor: 1 },
      { upTo: 10_000_000, factor: 0.85 },
      { upTo: Infinity, factor: 0.7 },
    ],
    includedUnits: 0,
  },
};

/** How long each plan's audit entries are kept in memory (seconds). */
const AUDIT_RETENTION_SECONDS = {
  'metered-2021': 45 * 60,
  'pro-2022': 45 * 60,
  'enterprise-2022': 45 * 60,
};

// --- customers -----------------------------------------------------------------

const COMPANY_WORDS = ['Nordic', 'Blue', 'Apex', 'Harbor', 'Quantum', 'Cedar', 'Polar', 'Vertex', 'Summit', 'Lumen', 'Iron', 'Atlas'];
const COMPANY_KINDS = ['Logistics', 'Analytics', 'Health', 'Retail', 'Media', 'Labs', 'Systems', 'Energy'];

const customers = new Map();
const customerIds = [];
const customerWeights = [];
let totalWeight = 0;

for (let i = 0; i < 600; i++) {
  const size = i < 32 ? 'large' : i < 200 ? 'mid' : 'small';
  const plan = size === 'large' ? 'enterprise-2022' : size === 'mid' ? (i % 3 === 0 ? 'enterprise-2022' : 'pro-2022') : i % 2 === 0 ? 'pro-2022' : 'metered-2021';
  const id = `cus_${createHash('sha1').update(`customer-${i}`).digest('hex').slice(0, 14)}`;
  customers.set(id, {
    id,
    name: `${COMPANY_WORDS[i % COMPANY_WORDS.length]} ${COMPANY_KINDS[(i * 7) % COMPANY_KINDS.length]} ${i}`,
    size,
    plan,
    planChangedAt: null,
    region: REGIONS[i % REGIONS.length],
    resources: size === 'large' ? 40 : size === 'mid' ? 12 : 3,
  });
  customerIds.push(id);
  const weight = size === 'large' ? 12 : size === 'mid' ? 3 : 1;
  customerWeights.push(weight);
  totalWeight += weight;
}

function pickCustomer() {
  let r = random() * totalWeight;
  for (let i = 0; i < customerIds.length; i++) {
    r -= customerWeights[i];
    if (r <= 0) return customers.get(customerIds[i]);
  }
  return customers.get(customerIds[customerIds.length - 1]);
}

// --- rating --------------------------------------------------------------------

/** Month-to-date units per customer and meter (for tiered plans). */
const monthToDate = new Map();

function unitsSoFar(customerId, meter) {
  let perMeter = monthToDate.get(customerId);
  if (perMeter === undefined) {
    perMeter = Object.fromEntries(METERS.map((m) => [m, 0]));
    monthToDate.set(customerId, perMeter);
  }
  return perMeter;
}

function rate(plan, customerId, meter, quantity) {
  const book = PLANS[plan];
  const perMeter = unitsSoFar(customerId, meter);
  const before = perMeter[meter];
  perMeter[meter] = before + quantity;
  let factor = 1;
  if (book.tiers !== undefined) factor = book.tiers.find((tier) => before < tier.upTo).factor;
  const unitPriceMicros = Math.round(book.micros[meter] * factor);
  return { unitPriceMicros, amountMicros: Math.round(unitPriceMicros * quantity) };
}

// --- the audit log -------------------------------------------------------------

class CustomerAuditLog {
  constructor(customerId, plan) {
    this.customerId = customerId;
    this.plan = plan;
    this.entries = [];
    this.trimmed = 0;
    this.totalMicros = 0;
  }

  append(entry) {
    this.entries.push(entry);
    this.totalMicros += entry.amountMicros;
  }

  /** Drops entries rated before `cutoff` (ms); they are in the warehouse already. */
  trimBefore(cutoff) {
    let n = 0;
    while (n < this.entries.length && this.entries[n].ratedAt < cutoff) n++;
    if (n > 0) {
      this.entries.splice(0, n);
      this.trimmed += n;
    }
    return n;
  }

  tail(limit) {
    return this.entries.slice(-limit);
  }
}

/** customerId -> CustomerAuditLog */
const auditLogs = new Map();

function auditLogFor(customer) {
  let log = auditLogs.get(customer.id);
  if (log === undefined) {
    log = new CustomerAuditLog(customer.id, customer.plan);
    auditLogs.set(customer.id, log);
  }
  return log;
}

function nowMs() {
  return EPOCH_MS + programSeconds() * 1000;
}

/** One rated usage record as kept in the audit log. */
function toAuditEntry(customer, usage, rating, source) {
  return {
    usageId: usage.idempotencyKey,
    customerId: customer.id,
    plan: customer.plan,
    meter: usage.meter,
    quantity: usage.quantity,
    unit: UNITS[usage.meter],
    unitPriceMicros: rating.unitPriceMicros,
    amountMicros: rating.amountMicros,
    occurredAt: usage.occurredAt,
    ratedAt: nowMs(),
    resource: usage.resource,
    region: usage.region,
    source,
  };
}

function recordUsage(customer, usage, source) {
  const rating = rate(customer.plan, customer.id, usage.meter, usage.quantity);
  auditLogFor(customer).append(toAuditEntry(customer, usage, rating, source));
  return rating;
}

const trimStats = { runs: 0, trimmed: 0 };

/** The retention job: every 5 minutes, per plan it knows about. */
function trimAuditLogs() {
  trimStats.runs++;
  const now = nowMs();
  for (const [plan, retentionSeconds] of Object.entries(AUDIT_RETENTION_SECONDS)) {
    const cutoff = now - retentionSeconds * 1000;
    for (const log of auditLogs.values()) {
      if (log.plan !== plan) continue;
      trimStats.trimmed += log.trimBefore(cutoff);
    }
  }
}

every(300_000 / speed, trimAuditLogs);

// --- the usage warehouse (stand-in) ---------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The current period's usage of one customer, as the warehouse returns it. */
async function fetchPeriodUsage(customer, untilMs) {
  await sleep(5 + random() * 15); // wall ms
  const count = 900 + Math.floor(random() * 1_200);
  const span = untilMs - PERIOD_START_MS;
  const rows = [];
  for (let i = 0; i < count; i++) rows.push(usageRecord(customer, PERIOD_START_MS + Math.floor((span * i) / count)));
  return rows;
}

// --- the migration --------------------------------------------------------------

const migration = { started: false, migrated: 0, rerated: 0, finishedAt: null };

async function migrateCustomer(customer, toPlan) {
  const rows = await fetchPeriodUsage(customer, nowMs());
  customer.plan = toPlan;
  customer.planChangedAt = nowMs();
  auditLogFor(customer).plan = toPlan;
  monthToDate.delete(customer.id); // re-rated from the start of the period
  for (const usage of rows) recordUsage(customer, usage, 'migration-rerate');
  migration.rerated += rows.length;
  migration.migrated++;
}

async function runPlanMigration() {
  migration.started = true;
  const cohort = [...customers.values()].filter((c) => c.size === 'large' && c.plan === 'enterprise-2022');
  for (const customer of cohort) await migrateCustomer(customer, 'usage-based-2024');
  migration.finishedAt = Math.round(programSeconds());
}

setTimeout(() => void runPlanMigration(), onsetMs(7200));

// --- HTTP ----------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const counters = { batches: 0, records: 0, rejected: 0, reads: 0 };

function validUsage(usage) {
  return (
    typeof usage === 'object' &&
    usage !== null &&
    METERS.includes(usage.meter) &&
    Number.isFinite(usage.quantity) &&
    usage.quantity > 0 &&
    typeof usage.idempotencyKey === 'string' &&
    typeof usage.occurredAt === 'string'
  );
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://billing.local');
  try {
    if (req.method === 'POST' && url.pathname === '/v1/usage') {
      const batch = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8'));
      const customer = customers.get(batch.customerId);
      if (customer === undefined) return sendJson(res, 404, { error: 'unknown customer' });
      counters.batches++;
      let amountMicros = 0;
      let accepted = 0;
      for (const usage of batch.records) {
        if (!validUsage(usage)) {
          counters.rejected++;
          continue;
        }
        amountMicros += recordUsage(customer, usage, 'api').amountMicros;
        accepted++;
      }
      counters.records += accepted;
      return sendJson(res, 202, { accepted, amountMicros, plan: customer.plan });
    }
    const match = /^\/v1\/customers\/([\w]+)\/(audit|invoice-preview)$/.exec(url.pathname);
    if (req.method === 'GET' && match !== null) {
      const customer = customers.get(match[1]);
      if (customer === undefined) return sendJson(res, 404, { error: 'unknown customer' });
      counters.reads++;
      const log = auditLogFor(customer);
      if (match[2] === 'audit') return sendJson(res, 200, { plan: log.plan, entries: log.tail(Number(url.searchParams.get('limit') ?? 50)) });
      const perMeter = {};
      for (const entry of log.entries) perMeter[entry.meter] = (perMeter[entry.meter] ?? 0) + entry.amountMicros;
      return sendJson(res, 200, { customerId: customer.id, plan: customer.plan, currency: PLANS[customer.plan].currency, recentMicros: perMeter });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, migration });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error?.message ?? error) });
  }
}

// --- customers' metering agents (the load) ---------------------------------------

let usageSeq = 0;

function usageRecord(customer, atMs) {
  usageSeq++;
  const meter = METERS[Math.floor(random() ** 1.5 * METERS.length)];
  const quantity =
    meter === 'api_calls' ? 50 + Math.floor(random() * 5_000) : meter === 'seats_active' ? 1 : Math.round(random() * 3_600 * 100) / 100;
  return {
    idempotencyKey: `usg_${customer.id.slice(4, 10)}_${usageSeq.toString(36)}_${Math.floor(random() * 1e9).toString(36)}`,
    meter,
    quantity,
    occurredAt: new Date(atMs).toISOString(),
    resource: `${meter === 'storage_gb_hours' ? 'bucket' : 'vm'}-${Math.floor(random() * customer.resources).toString(16).padStart(4, '0')}`,
    region: REGIONS[Math.floor(random() * REGIONS.length)],
  };
}

function nextBatch() {
  const customer = pickCustomer();
  const count = customer.size === 'large' ? 2 + Math.floor(random() * 7) : 1 + Math.floor(random() * 4);
  const at = nowMs();
  const records = Array.from({ length: count }, () => usageRecord(customer, at - Math.floor(random() * 60_000)));
  return { method: 'POST', path: '/v1/usage', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customerId: customer.id, records }) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const agents = selfRequests(port, { perSecond: 2.5, next: nextBatch });
const support = selfRequests(port, {
  perSecond: 0.2,
  maxInFlight: 4,
  next: () => {
    const roll = random();
    if (roll < 0.2) return { method: 'GET', path: '/healthz' };
    const customer = pickCustomer();
    return { method: 'GET', path: `/v1/customers/${customer.id}/${roll < 0.6 ? 'audit?limit=50' : 'invoice-preview'}` };
  },
});

function countEntries(filter) {
  let n = 0;
  for (const log of auditLogs.values()) if (filter === undefined || log.plan === filter) n += log.entries.length;
  return n;
}

reportStats(() => ({
  retained: countEntries(),
  newPlanEntries: countEntries('usage-based-2024'),
  migrated: migration.migrated,
  rerated: migration.rerated,
  records: counters.records,
  trimmed: trimStats.trimmed,
  requestsFailed: agents.failed + support.failed,
}));

ready(
  `billing-plan-migration-usage-audit-leak: rates 2.5 usage batches/s into per-customer audit logs trimmed every 5 min per known plan; at ${ONSET_SECONDS} s the large customers migrate to usage-based-2024, which the trim job does not know (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
