// Feature-flag evaluation service (healthy).
//
// Web and mobile clients fetch their evaluated flags (GET /v1/flags) when a
// session starts and re-poll every minute or two; backend services evaluate
// single flags (GET /v1/flags/:key). The service keeps:
//
//   - `flags`: the ~40 flag definitions (rollout percentage, targeting rules,
//     variants), edited by product managers through PUT /admin/flags/:key a
//     few times an hour during the working day;
//   - `flagAuditLog`: a module-level array with one small entry per flag
//     change, for the admin UI's history tab. It is never trimmed: it grows by
//     a few entries an hour;
//   - `evaluationCache`: evaluated flag sets per user, kept 10 minutes (and
//     re-evaluated early when a flag changes), swept every minute.
//
// Traffic is steady through the working day with a lunch-time peak
// (11:30-14:00, up to 2.4x at 12:15-13:15). The program's clock starts at
// 08:00. All times come from the production clock (programSeconds()).
import { buildBallast, every, listen, paced, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const CACHE_TTL_SECONDS = 600;
const CLOCK_START_HOUR = 8;
const USERS = 60_000;
const SESSIONS_PER_SECOND = 0.4;
const BACKEND_EVALUATIONS_PER_SECOND = 0.6;

function now() {
  return programSeconds();
}

function hourOfDay(at = now()) {
  return (CLOCK_START_HOUR + at / 3600) % 24;
}

function exponential(mean, random) {
  return -Math.log(1 - random()) * mean;
}

function logNormal(median, sigma, random) {
  const u = 1 - random();
  const v = random();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

function pick(list, random) {
  return list[Math.floor(random() * list.length)];
}

/** FNV-1a, for sticky percentage buckets. */
function bucketOf(salt, userId) {
  let h = 0x811c9dc5;
  const text = `${salt}:${userId}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % 10000;
}

// --- flag definitions --------------------------------------------------------

const COUNTRIES = ['DE', 'FR', 'NL', 'GB', 'ES', 'IT', 'PL', 'SE', 'AT', 'BE'];
const PLANS = ['free', 'plus', 'pro', 'business'];
const PLATFORMS = ['web', 'ios', 'android'];
const FLAG_NAMES = [
  'checkout.new-address-form', 'checkout.express-pay', 'checkout.split-shipping', 'checkout.gift-cards', 'search.semantic-ranking',
  'search.typo-tolerance', 'search.sponsored-slots', 'home.personalised-hero', 'home.recently-viewed', 'pdp.size-advisor',
  'pdp.video-gallery', 'pdp.bundle-offers', 'cart.save-for-later', 'cart.free-shipping-bar', 'account.passkeys',
  'account.dark-mode', 'account.new-settings', 'orders.live-tracking', 'orders.return-labels', 'loyalty.points-banner',
  'loyalty.tier-v2', 'payments.bnpl', 'payments.3ds2-frictionless', 'support.chat-widget', 'support.ai-answers',
  'notifications.push-digest', 'notifications.back-in-stock', 'recs.collaborative-v3', 'recs.cross-sell-cart', 'perf.image-cdn-v2',
  'perf.prefetch-routes', 'perf.http3', 'experiments.pricing-copy', 'experiments.onboarding-steps', 'marketing.exit-intent',
  'marketing.newsletter-modal', 'ops.maintenance-banner', 'ops.read-only-mode', 'mobile.new-tab-bar', 'mobile.in-app-review',
];

const flags = new Map();
let configVersion = 1;
const defRandom = rng(0xf1a95);
for (const key of FLAG_NAMES) {
  const multivariate = defRandom() < 0.25;
  const rules = [];
  if (defRandom() < 0.4) rules.push({ attribute: 'country', op: 'in', values: COUNTRIES.filter(() => defRandom() < 0.4) });
  if (defRandom() < 0.3) rules.push({ attribute: 'plan', op: 'in', values: PLANS.filter(() => defRandom() < 0.5) });
  if (defRandom() < 0.2) rules.push({ attribute: 'platform', op: 'in', values: [pick(PLATFORMS, defRandom)] });
  flags.set(key, {
    key,
    enabled: defRandom() < 0.85,
    rolloutPercent: pick([0, 5, 10, 25, 50, 100, 100], defRandom),
    rules,
    variants: multivariate ? ['control', 'treatment-a', 'treatment-b'] : ['on', 'off'],
    defaultVariant: multivariate ? 'control' : 'off',
    salt: `${key}:2024`,
    version: 1,
    updatedAt: 0,
    updatedBy: 'bootstrap',
  });
}

// --- audit log (never trimmed) ------------------------------------------------

/** One entry per flag change, oldest first: the admin UI's history tab. */
const flagAuditLog = [];
let auditSeq = 0;

function recordFlagChange(flag, action, from, to, actor, at) {
  flagAuditLog.push({ seq: ++auditSeq, at, flagKey: flag.key, action, from, to, actor, version: flag.version });
}

function applyChange(flag, change, actor, at) {
  if (typeof change.rolloutPercent === 'number' && change.rolloutPercent !== flag.rolloutPercent) {
    const from = flag.rolloutPercent;
    flag.rolloutPercent = Math.max(0, Math.min(100, change.rolloutPercent));
    flag.version++;
    recordFlagChange(flag, 'rollout', from, flag.rolloutPercent, actor, at);
  }
  if (typeof change.enabled === 'boolean' && change.enabled !== flag.enabled) {
    flag.enabled = change.enabled;
    flag.version++;
    recordFlagChange(flag, change.enabled ? 'enable' : 'disable', !change.enabled, change.enabled, actor, at);
  }
  if (Array.isArray(change.countries)) {
    const from = flag.rules.find((r) => r.attribute === 'country')?.values.join(',') ?? '';
    flag.rules = flag.rules.filter((r) => r.attribute !== 'country');
    if (change.countries.length > 0) flag.rules.push({ attribute: 'country', op: 'in', values: change.countries });
    flag.version++;
    recordFlagChange(flag, 'targeting', from, change.countries.join(','), actor, at);
  }
  flag.updatedAt = at;
  flag.updatedBy = actor;
  configVersion++;
}

// --- evaluation and the per-user cache --------------------------------------

function matches(rule, context) {
  const value = context[rule.attribute];
  return rule.op === 'in' ? rule.values.includes(value) : false;
}

function evaluateFlag(flag, context) {
  if (!flag.enabled) return flag.defaultVariant;
  for (const rule of flag.rules) if (!matches(rule, context)) return flag.defaultVariant;
  const bucket = bucketOf(flag.salt, context.userId);
  if (bucket >= flag.rolloutPercent * 100) return flag.defaultVariant;
  return flag.variants.length === 2 ? flag.variants[0] : flag.variants[bucket % flag.variants.length];
}

function evaluateAll(context) {
  const result = {};
  for (const flag of flags.values()) result[flag.key] = evaluateFlag(flag, context);
  return result;
}

/** userId -> { userId, context, flags, configVersion, evaluatedAt, expiresAt, hits } */
const evaluationCache = new Map();
const cacheStats = { hits: 0, misses: 0, reevaluated: 0, swept: 0 };

function evaluatedFlagsFor(context, at) {
  const cached = evaluationCache.get(context.userId);
  if (cached !== undefined && cached.expiresAt > at && cached.configVersion === configVersion) {
    cached.hits++;
    cacheStats.hits++;
    return cached;
  }
  if (cached !== undefined) cacheStats.reevaluated++;
  else cacheStats.misses++;
  const entry = {
    userId: context.userId,
    context,
    flags: evaluateAll(context),
    configVersion,
    evaluatedAt: at,
    expiresAt: at + CACHE_TTL_SECONDS,
    hits: 0,
  };
  evaluationCache.set(context.userId, entry);
  return entry;
}

function sweepEvaluationCache() {
  const at = now();
  for (const [userId, entry] of evaluationCache) {
    if (entry.expiresAt <= at) {
      evaluationCache.delete(userId);
      cacheStats.swept++;
    }
  }
}

// --- HTTP -------------------------------------------------------------------

const counters = { clientFetches: 0, serverEvaluations: 0, adminChanges: 0, historyReads: 0 };

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function contextFrom(url) {
  const userId = url.searchParams.get('user');
  if (userId === null || userId === '') return null;
  return {
    userId,
    country: url.searchParams.get('country') ?? 'DE',
    plan: url.searchParams.get('plan') ?? 'free',
    platform: url.searchParams.get('platform') ?? 'web',
    appVersion: url.searchParams.get('v') ?? '',
  };
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://flags.local');
  const path = url.pathname;
  if (path === '/healthz') {
    res.end('ok');
    return;
  }
  if (req.method === 'GET' && path === '/v1/flags') {
    const context = contextFrom(url);
    if (context === null) return json(res, 400, { error: 'user required' });
    counters.clientFetches++;
    const entry = evaluatedFlagsFor(context, now());
    return json(res, 200, { user: entry.userId, version: entry.configVersion, flags: entry.flags });
  }
  let m;
  if (req.method === 'GET' && (m = /^\/v1\/flags\/([\w.-]+)$/.exec(path)) !== null) {
    const context = contextFrom(url);
    if (context === null) return json(res, 400, { error: 'user required' });
    const entry = evaluatedFlagsFor(context, now());
    const variant = entry.flags[m[1]];
    if (variant === undefined) return json(res, 404, { error: 'unknown flag' });
    counters.serverEvaluations++;
    return json(res, 200, { flag: m[1], variant });
  }
  if ((m = /^\/admin\/flags\/([\w.-]+)(\/history)?$/.exec(path)) !== null) {
    const flag = flags.get(m[1]);
    if (flag === undefined) return json(res, 404, { error: 'unknown flag' });
    if (req.method === 'GET' && m[2] === '/history') {
      counters.historyReads++;
      return json(res, 200, { flag: flag.key, history: flagAuditLog.filter((e) => e.flagKey === flag.key).slice(-50) });
    }
    if (req.method === 'PUT') {
      const change = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      applyChange(flag, change, req.headers['x-actor'] ?? 'unknown', now());
      counters.adminChanges++;
      return json(res, 200, flag);
    }
  }
  json(res, 404, { error: 'not found' });
}

// --- load ---------------------------------------------------------------------

/** Traffic factor by hour of day: 1 through the day, up to 2.4 over lunch. */
function trafficFactor(hour = hourOfDay()) {
  const ramp = (from, to) => Math.min(1, Math.max(0, (hour - from) / (to - from)));
  if (hour < 12.25) return 1 + 1.4 * ramp(11.5, 12.25);
  if (hour < 13.25) return 2.4;
  return 2.4 - 1.4 * ramp(13.25, 14);
}

const sessionRandom = rng(0x5e55);
const ACTORS = ['maria.k', 'jonas.b', 'li.wei', 'sam.o', 'priya.r', 'tomasz.n'];

function userProfile(n) {
  const random = rng(n * 2246822519);
  return {
    userId: `u${n}`,
    country: COUNTRIES[Math.floor(Math.pow(random(), 1.6) * COUNTRIES.length)],
    plan: PLANS[Math.floor(Math.pow(random(), 2.2) * PLANS.length)],
    platform: pick(PLATFORMS, random),
    v: `5.${10 + Math.floor(random() * 4)}.${Math.floor(random() * 6)}`,
  };
}

function flagsPath(profile, key) {
  const q = `user=${profile.userId}&country=${profile.country}&plan=${profile.plan}&platform=${profile.platform}&v=${profile.v}`;
  return key === undefined ? `/v1/flags?${q}` : `/v1/flags/${key}?${q}`;
}

// Client sessions: arrive at 0.4/s x traffic factor, last ~7 minutes
// (log-normal), fetch flags at start and re-poll every 45-150 s.
const clientQueue = [];
let sessionsStarted = 0;
let sessionsLive = 0;

function startSession() {
  sessionsStarted++;
  sessionsLive++;
  // A quarter of the sessions come from 4 000 regulars.
  const n = sessionRandom() < 0.25 ? Math.floor(sessionRandom() * 4000) : Math.floor(sessionRandom() * USERS);
  const profile = userProfile(n);
  const endsAt = now() + logNormal(420, 0.7, sessionRandom);
  const poll = () => {
    if (now() >= endsAt) {
      sessionsLive--;
      return;
    }
    clientQueue.push({ method: 'GET', path: flagsPath(profile), headers: { 'x-client': profile.platform } });
    setTimeout(poll, scaledMs(45 + sessionRandom() * 105));
  };
  poll();
}

const backendRandom = rng(0xbac4);
function backendEvaluation() {
  // Backend services evaluate one flag for a user in a live request.
  const n = backendRandom() < 0.3 ? Math.floor(backendRandom() * 4000) : Math.floor(backendRandom() * USERS);
  return { method: 'GET', path: flagsPath(userProfile(n), pick(FLAG_NAMES, backendRandom)) };
}

// Flag changes by product managers: ~4 an hour 09:00-18:00, rarely otherwise.
const adminRandom = rng(0xad1);
const adminQueue = [];
function scheduleAdminWork() {
  const hour = hourOfDay();
  const perHour = hour >= 9 && hour < 18 ? 4 : 0.3;
  // Called every 60 s of production time.
  if (adminRandom() < perHour / 60) {
    const flag = flags.get(pick(FLAG_NAMES, adminRandom));
    const r = adminRandom();
    let change;
    if (r < 0.65) change = { rolloutPercent: pick([0, 5, 10, 20, 25, 50, 75, 100], adminRandom) };
    else if (r < 0.85) change = { enabled: !flag.enabled };
    else change = { countries: COUNTRIES.filter(() => adminRandom() < 0.5) };
    const actor = pick(ACTORS, adminRandom);
    adminQueue.push({ method: 'GET', path: `/admin/flags/${flag.key}/history`, headers: { 'x-actor': actor } });
    adminQueue.push({ method: 'PUT', path: `/admin/flags/${flag.key}`, headers: { 'content-type': 'application/json', 'x-actor': actor }, body: JSON.stringify(change) });
  }
}

// --- main ---------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) json(res, 500, { error: String(err?.message ?? err) });
  });
});

// Session arrivals (x speed), driven by the hour of day.
paced(() => SESSIONS_PER_SECOND * trafficFactor(), (due) => {
  for (let i = 0; i < due; i++) startSession();
});

const clients = selfRequests(port, {
  perSecond: () => Math.max(1, clientQueue.length) * 2,
  next: () => clientQueue.shift() ?? null,
  maxInFlight: 48,
});
const backends = selfRequests(port, { perSecond: () => BACKEND_EVALUATIONS_PER_SECOND * trafficFactor(), next: backendEvaluation, maxInFlight: 16 });
const admins = selfRequests(port, { perSecond: 0.2, next: () => adminQueue.shift() ?? null, maxInFlight: 2 });
const probes = selfRequests(port, { perSecond: 0.1, next: () => ({ method: 'GET', path: '/healthz' }), maxInFlight: 2 });
every(scaledMs(60), scheduleAdminWork);
every(scaledMs(60), sweepEvaluationCache);

reportStats(() => ({
  retained: evaluationCache.size,
  auditEntries: flagAuditLog.length,
  configVersion,
  hour: Math.round(hourOfDay() * 100) / 100,
  traffic: Math.round(trafficFactor() * 100) / 100,
  sessionsLive,
  sessionsStarted,
  clientFetches: counters.clientFetches,
  serverEvaluations: counters.serverEvaluations,
  adminChanges: counters.adminChanges,
  cacheHits: cacheStats.hits,
  cacheMisses: cacheStats.misses,
  reevaluated: cacheStats.reevaluated,
  swept: cacheStats.swept,
  sent: clients.sent + backends.sent + admins.sent + probes.sent,
  failed: clients.failed + backends.failed + admins.failed + probes.failed,
}));

ready(`feature-flag-audit-log-user-cache on 127.0.0.1:${port}: ${flags.size} flags, 10-min per-user cache, clock from 0${CLOCK_START_HOUR}:00 (ballast ${ballastMb} MB)`);
