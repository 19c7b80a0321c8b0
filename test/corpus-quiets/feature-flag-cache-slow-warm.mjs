// Feature-flag evaluation service of a B2B SaaS platform. Each of its 320
// tenants (a fixed set: the platform's customers) has its own ruleset of
// 20-70 flags, each with targeting rules and a percentage rollout, stored
// in the config database. Tenants' backends call POST /v1/evaluate with a
// user context and get every flag's value back.
//
// The service loads a tenant's ruleset the first time the tenant calls
// (loadRuleset: fetch the JSON, compileRuleset: build the evaluators) and
// keeps it in the module-level per-tenant cache `rulesCache` (class
// RulesCache, a Map `entries` tenant -> CompiledRuleset). The tenants'
// backends keep evaluated flags in their SDK's local cache for 40 minutes,
// so after a deploy of this service each tenant's first call comes when its
// local copy expires (spread evenly over ~40 min); from then on a tenant
// calls once a minute to once every ten minutes. The cache warms up over
// ~40 minutes and then stays flat: a changed ruleset replaces the old one.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xf1a95);
const TENANT_COUNT = 320;

// --- the config database (stand-in, in-process, a few ms of latency) --------------------------------

const ATTRIBUTES = ['country', 'plan', 'role', 'appVersion', 'platform', 'email', 'orgSize', 'betaOptIn'];
const OPERATORS = ['in', 'notIn', 'startsWith', 'endsWith', 'semverGte', 'gte', 'lte'];
const VALUES = {
  country: ['DE', 'AT', 'CH', 'FR', 'NL', 'US', 'GB', 'SE', 'PL', 'ES', 'IT'],
  plan: ['free', 'starter', 'team', 'business', 'enterprise'],
  role: ['owner', 'admin', 'member', 'viewer', 'billing'],
  appVersion: ['3.1.0', '3.2.0', '3.4.2', '4.0.0', '4.1.1'],
  platform: ['web', 'ios', 'android', 'desktop'],
  email: ['@example.com', '@partner.example', '@internal.example'],
  orgSize: ['10', '50', '250', '1000'],
  betaOptIn: ['true'],
};

const tenants = Array.from({ length: TENANT_COUNT }, (_, i) => ({
  id: `t-${(7_000 + i * 13).toString(36)}`,
  flagCount: 20 + Math.floor(random() * 51),
  version: 1,
  // calls per second: log-uniform between one a minute and one every ten minutes
  rate: Math.exp(Math.log(1 / 600) + random() * Math.log(10)),
  // Tenants' backends keep the evaluated flags in their SDK's local cache for 40 minutes, so
  // after a deploy of this service each tenant's first call comes when its local copy expires.
  firstCallAt: random() * 2400,
}));
const tenantById = new Map(tenants.map((t) => [t.id, t]));

function rulesetDocument(tenant) {
  const seeded = rng(tenant.id.length * 7919 + tenant.id.charCodeAt(2) * 31 + tenant.version);
  const flags = [];
  for (let f = 0; f < tenant.flagCount; f++) {
    const rules = [];
    const ruleCount = 1 + Math.floor(seeded() * 4);
    for (let r = 0; r < ruleCount; r++) {
      const conditions = [];
      for (let c = 0, n = 1 + Math.floor(seeded() * 3); c < n; c++) {
        const attribute = ATTRIBUTES[Math.floor(seeded() * ATTRIBUTES.length)];
        const pool = VALUES[attribute];
        conditions.push({
          attribute,
          operator: OPERATORS[Math.floor(seeded() * OPERATORS.length)],
          values: pool.filter(() => seeded() < 0.4).concat(pool[Math.floor(seeded() * pool.length)]),
        });
      }
      rules.push({ id: `r${r}`, description: `segment ${r} of flag ${f}`, conditions, serve: seeded() < 0.5 ? 'on' : 'off' });
    }
    flags.push({
      key: `${['checkout', 'search', 'billing', 'onboarding', 'reports', 'inbox'][f % 6]}.${['new-ui', 'v2-api', 'fast-path', 'experiment', 'kill-switch'][f % 5]}-${f}`,
      kind: f % 9 === 0 ? 'multivariate' : 'boolean',
      variations: f % 9 === 0 ? ['control', 'variant-a', 'variant-b'] : ['off', 'on'],
      enabled: seeded() < 0.9,
      rules,
      rollout: { percentage: Math.floor(seeded() * 101), bucketBy: seeded() < 0.8 ? 'userId' : 'orgId', salt: `${tenant.id}-${f}-${tenant.version}` },
      fallthrough: seeded() < 0.5 ? 'on' : 'off',
      owner: `team-${f % 12}@${tenant.id}.example`,
      updatedAt: new Date(Date.UTC(2024, 6, 1) + f * 3_600_000).toISOString(),
    });
  }
  return JSON.stringify({ tenant: tenant.id, version: tenant.version, flags });
}

const configDb = { reads: 0, versionChecks: 0 };

function fetchRulesetJson(tenantId) {
  configDb.reads++;
  return new Promise((resolve) => setTimeout(() => resolve(rulesetDocument(tenantById.get(tenantId))), 3));
}

// --- compiled rulesets and the cache ---------------------------------------------------------------------

function compileCondition(condition) {
  const { attribute, operator, values } = condition;
  return operator === 'in' || operator === 'notIn' ? { attribute, operator, set: new Set(values), list: null } : { attribute, operator, set: null, list: values };
}

function testCondition(condition, ctx) {
  const value = ctx[condition.attribute];
  switch (condition.operator) {
    case 'in':
      return condition.set.has(String(value));
    case 'notIn':
      return !condition.set.has(String(value));
    case 'startsWith':
      return condition.list.some((v) => String(value ?? '').startsWith(v));
    case 'endsWith':
      return condition.list.some((v) => String(value ?? '').endsWith(v));
    case 'semverGte':
      return compareVersions(String(value ?? '0'), condition.list[0]) >= 0;
    case 'gte':
      return Number(value) >= Number(condition.list[0]);
    default:
      return Number(value) <= Number(condition.list[0]);
  }
}

function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

class CompiledRuleset {
  constructor(document) {
    this.tenant = document.tenant;
    this.version = document.version;
    this.loadedAt = programSeconds();
    this.flags = new Map();
    for (const flag of document.flags) {
      this.flags.set(flag.key, {
        key: flag.key,
        variations: flag.variations,
        enabled: flag.enabled,
        rules: flag.rules.map((rule) => ({ id: rule.id, serve: rule.serve, conditions: rule.conditions.map(compileCondition) })),
        rollout: flag.rollout,
        fallthrough: flag.fallthrough,
        owner: flag.owner,
        updatedAt: flag.updatedAt,
      });
    }
  }

  evaluate(ctx) {
    const out = {};
    for (const flag of this.flags.values()) out[flag.key] = evaluateFlag(flag, ctx);
    return out;
  }
}

function bucket(salt, key) {
  return createHash('sha1').update(`${salt}:${key}`).digest().readUInt16BE(0) % 100;
}

function evaluateFlag(flag, ctx) {
  if (!flag.enabled) return flag.variations[0];
  for (const rule of flag.rules) {
    if (rule.conditions.every((condition) => testCondition(condition, ctx))) return rule.serve;
  }
  if (flag.rollout.percentage >= 100) return flag.variations.at(-1);
  if (flag.rollout.percentage === 0) return flag.fallthrough;
  return bucket(flag.rollout.salt, ctx[flag.rollout.bucketBy] ?? '') < flag.rollout.percentage ? flag.variations.at(-1) : flag.fallthrough;
}

class RulesCache {
  constructor() {
    this.entries = new Map();
    this.loading = new Map();
    this.stats = { hits: 0, loads: 0, reloads: 0 };
  }

  async get(tenantId) {
    const cached = this.entries.get(tenantId);
    if (cached !== undefined) {
      this.stats.hits++;
      return cached;
    }
    let pending = this.loading.get(tenantId);
    if (pending === undefined) {
      pending = this.load(tenantId).finally(() => this.loading.delete(tenantId));
      this.loading.set(tenantId, pending);
    }
    return pending;
  }

  async load(tenantId) {
    const ruleset = await loadRuleset(tenantId);
    if (this.entries.has(tenantId)) this.stats.reloads++;
    else this.stats.loads++;
    this.entries.set(tenantId, ruleset);
    return ruleset;
  }

  /** Every 5 min: reload the rulesets whose version changed in the config database. */
  async refresh() {
    for (const [tenantId, ruleset] of this.entries) {
      configDb.versionChecks++;
      if (tenantById.get(tenantId).version !== ruleset.version) await this.load(tenantId);
    }
  }
}

async function loadRuleset(tenantId) {
  const json = await fetchRulesetJson(tenantId);
  return new CompiledRuleset(JSON.parse(json));
}

const rulesCache = new RulesCache();

// --- HTTP --------------------------------------------------------------------------------------------------

const served = { evaluations: 0, flagsEvaluated: 0 };

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.url === '/healthz') return sendJson(res, 200, { ok: true, tenantsCached: rulesCache.entries.size });
    if (req.method === 'POST' && req.url === '/v1/evaluate') {
      const { tenant, context } = JSON.parse((await readBody(req)).toString('utf8'));
      if (!tenantById.has(tenant)) return sendJson(res, 404, { error: 'unknown tenant' });
      const ruleset = await rulesCache.get(tenant);
      const flags = ruleset.evaluate(context);
      served.evaluations++;
      served.flagsEvaluated += ruleset.flags.size;
      return sendJson(res, 200, { tenant, version: ruleset.version, flags });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error) });
  }
}

// --- the tenants' backends ---------------------------------------------------------------------------

const totalRate = tenants.reduce((sum, t) => sum + t.rate, 0);
const calling = [];
const firstCalls = [];
let callingRate = 0;

/** Tenants whose first call is due join the callers (tenants sorted by firstCallAt). */
function callingTenants() {
  const now = programSeconds();
  while (calling.length < tenants.length && byFirstCall[calling.length].firstCallAt <= now) {
    const tenant = byFirstCall[calling.length];
    calling.push(tenant);
    firstCalls.push(tenant);
    callingRate += tenant.rate;
  }
  return calling;
}
const byFirstCall = [...tenants].sort((a, b) => a.firstCallAt - b.firstCallAt);

function pickTenant() {
  let r = random() * callingRate;
  for (const tenant of calling) {
    r -= tenant.rate;
    if (r <= 0) return tenant;
  }
  return calling[calling.length - 1];
}

function userContext(tenant) {
  const n = Math.floor(random() * 100_000);
  return {
    userId: `${tenant.id}-u${n}`,
    orgId: `${tenant.id}-o${n % 300}`,
    country: VALUES.country[n % VALUES.country.length],
    plan: VALUES.plan[n % 5],
    role: VALUES.role[(n >> 2) % 5],
    appVersion: VALUES.appVersion[(n >> 4) % 5],
    platform: VALUES.platform[n % 4],
    email: `user${n}${VALUES.email[n % 3]}`,
    orgSize: 10 + (n % 900),
    betaOptIn: String(n % 7 === 0),
  };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const backends = selfRequests(port, {
  perSecond: () => (callingTenants(), callingRate + (firstCalls.length > 0 ? 1 : 0)),
  maxInFlight: 8,
  next: () => {
    if (callingTenants().length === 0) return null;
    const tenant = firstCalls.shift() ?? pickTenant();
    return { method: 'POST', path: '/v1/evaluate', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenant: tenant.id, context: userContext(tenant) }) };
  },
});
const balancer = selfRequests(port, { perSecond: 0.1, maxInFlight: 1, next: () => ({ method: 'GET', path: '/healthz' }) });

// Product teams edit flags: about 20 tenants' rulesets change per hour; the cache reloads them.
every(300_000 / speed, () => {
  for (const tenant of tenants) if (random() < 20 / TENANT_COUNT / 12) tenant.version++;
  rulesCache.refresh().catch(() => {});
});

reportStats(() => ({
  retained: rulesCache.entries.size,
  tenantsCalling: calling.length,
  evaluations: served.evaluations,
  loads: rulesCache.stats.loads,
  reloads: rulesCache.stats.reloads,
  hitRate: Math.round((rulesCache.stats.hits / Math.max(1, served.evaluations)) * 1000) / 1000,
  requestsFailed: backends.failed + balancer.failed,
}));

ready(
  `feature-flag-cache-slow-warm: flag evaluation for ${TENANT_COUNT} tenants at ${totalRate.toFixed(2)} req/s, per-tenant rules cache warming over ~40 min, then flat (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
