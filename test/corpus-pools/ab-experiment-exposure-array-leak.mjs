// A/B experiment service: the web and mobile apps call GET /v1/assignments
// for a user and get a variant for every running experiment the user is
// eligible for (deterministic hash bucketing, traffic allocation, targeting
// by platform and country). Every assignment handed out is an exposure, and
// recordExposure() appends {userId, variant, timestamp} to the experiment's
// `exposures` array so GET /v1/experiments/:key/results can count exposures
// per variant. The nightly job that was meant to ship exposures to the
// warehouse and clear the arrays was never written, so the arrays only grow.
import { createHash } from 'node:crypto';
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

const random = rng(0xab7e57);

class Experiment {
  constructor({ key, variants, allocation, platforms, countries, salt }) {
    this.key = key;
    this.variants = variants; // [{ name, weight }]
    this.allocation = allocation; // share of eligible users in the experiment
    this.platforms = platforms;
    this.countries = countries;
    this.salt = salt;
    this.exposures = [];
    this.conversions = 0;
  }

  eligible(context) {
    if (this.platforms !== null && !this.platforms.includes(context.platform)) return false;
    if (this.countries !== null && !this.countries.includes(context.country)) return false;
    return true;
  }
}

/** key -> Experiment: the running experiments. */
const experiments = new Map();
function define(spec) {
  experiments.set(spec.key, new Experiment(spec));
}
define({ key: 'checkout-one-page', variants: [{ name: 'control', weight: 1 }, { name: 'one-page', weight: 1 }], allocation: 1, platforms: ['web'], countries: null, salt: 'c1p' });
define({ key: 'search-ranking-v7', variants: [{ name: 'control', weight: 2 }, { name: 'bm25-boost', weight: 1 }, { name: 'semantic', weight: 1 }], allocation: 0.5, platforms: null, countries: null, salt: 'srv7' });
define({ key: 'free-shipping-banner', variants: [{ name: 'off', weight: 1 }, { name: 'on', weight: 1 }], allocation: 1, platforms: null, countries: ['DE', 'AT', 'NL'], salt: 'fsb' });
define({ key: 'ios-onboarding-carousel', variants: [{ name: 'control', weight: 1 }, { name: 'three-step', weight: 1 }, { name: 'video', weight: 1 }], allocation: 0.8, platforms: ['ios'], countries: null, salt: 'ioc' });
define({ key: 'recommendations-widget', variants: [{ name: 'control', weight: 1 }, { name: 'carousel', weight: 1 }], allocation: 0.3, platforms: ['web', 'android'], countries: null, salt: 'rw' });
define({ key: 'price-anchor-copy', variants: [{ name: 'control', weight: 1 }, { name: 'was-now', weight: 1 }], allocation: 1, platforms: null, countries: ['DE', 'FR', 'GB'], salt: 'pac' });
define({ key: 'android-bottom-nav', variants: [{ name: 'control', weight: 1 }, { name: 'five-tabs', weight: 1 }], allocation: 1, platforms: ['android'], countries: null, salt: 'abn' });

/** A number in [0, 1) from the user id and a salt (stable across requests). */
function bucket(userId, salt) {
  const digest = createHash('sha1').update(`${salt}:${userId}`).digest();
  return digest.readUInt32BE(0) / 4294967296;
}

function pickVariant(experiment, userId) {
  const inExperiment = bucket(userId, `${experiment.salt}:alloc`);
  if (inExperiment >= experiment.allocation) return null;
  const total = experiment.variants.reduce((sum, v) => sum + v.weight, 0);
  let roll = bucket(userId, experiment.salt) * total;
  for (const variant of experiment.variants) {
    roll -= variant.weight;
    if (roll < 0) return variant.name;
  }
  return experiment.variants.at(-1).name;
}

function recordExposure(experiment, userId, variant) {
  experiment.exposures.push({ userId, variant, timestamp: Date.now() });
}

function assignmentsFor(context) {
  const assignments = {};
  for (const experiment of experiments.values()) {
    if (!experiment.eligible(context)) continue;
    const variant = pickVariant(experiment, context.userId);
    if (variant === null) continue;
    assignments[experiment.key] = variant;
    recordExposure(experiment, context.userId, variant);
  }
  return assignments;
}

function results(experiment) {
  const byVariant = {};
  const users = new Set();
  for (const exposure of experiment.exposures) {
    byVariant[exposure.variant] = (byVariant[exposure.variant] ?? 0) + 1;
    users.add(exposure.userId);
  }
  return { key: experiment.key, exposures: experiment.exposures.length, uniqueUsers: users.size, byVariant, conversions: experiment.conversions };
}

// --- HTTP -----------------------------------------------------------------------

const counters = { assignments: 0, conversions: 0, results: 0 };

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://ab.internal');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/assignments') {
      counters.assignments++;
      const context = {
        userId: url.searchParams.get('user'),
        platform: url.searchParams.get('platform') ?? 'web',
        country: url.searchParams.get('country') ?? 'DE',
        appVersion: url.searchParams.get('v'),
      };
      if (!context.userId) return sendJson(res, 400, { error: 'user required' });
      return sendJson(res, 200, { user: context.userId, assignments: assignmentsFor(context) });
    }
    if (req.method === 'POST' && url.pathname === '/v1/conversions') {
      const event = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      const experiment = experiments.get(event.experiment);
      if (experiment === undefined) return sendJson(res, 404, { error: 'unknown experiment' });
      experiment.conversions++;
      counters.conversions++;
      return sendJson(res, 202, { ok: true });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/experiments/') && url.pathname.endsWith('/results')) {
      counters.results++;
      const experiment = experiments.get(url.pathname.split('/')[3]);
      if (experiment === undefined) return sendJson(res, 404, { error: 'unknown experiment' });
      return sendJson(res, 200, results(experiment));
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, experiments: experiments.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the apps (load) -----------------------------------------------------------

const PLATFORMS = ['web', 'web', 'web', 'ios', 'android', 'android'];
const COUNTRIES = ['DE', 'DE', 'DE', 'AT', 'NL', 'FR', 'GB', 'PL', 'IT'];
const KEYS = [...experiments.keys()];

/** ~400 000 known users, returning users more likely (r^2 bias); 15 % anonymous first visits. */
function nextUser() {
  if (random() < 0.15) return `anon-${Math.floor(random() * 2 ** 40).toString(36)}`;
  return `u${(1_000_000 + Math.floor(400_000 * random() ** 2)).toString()}`;
}

function nextAppRequest() {
  const roll = random();
  if (roll < 0.06) return { method: 'POST', path: '/v1/conversions', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ experiment: KEYS[Math.floor(random() * KEYS.length)], user: nextUser(), value: Math.round(random() * 12_000) }) };
  if (roll < 0.07) return { method: 'GET', path: '/healthz' };
  const platform = PLATFORMS[Math.floor(random() * PLATFORMS.length)];
  const country = COUNTRIES[Math.floor(random() * COUNTRIES.length)];
  return { method: 'GET', path: `/v1/assignments?user=${nextUser()}&platform=${platform}&country=${country}&v=5.${Math.floor(random() * 12)}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// App sessions starting: 2.5 req/s; the experimentation dashboard: a results read every ~2 min.
const apps = selfRequests(port, { perSecond: 2.5, next: nextAppRequest });
const dashboard = selfRequests(port, {
  perSecond: 1 / 120,
  maxInFlight: 2,
  next: () => ({ method: 'GET', path: `/v1/experiments/${KEYS[Math.floor(random() * KEYS.length)]}/results` }),
});

function exposureCount() {
  let n = 0;
  for (const experiment of experiments.values()) n += experiment.exposures.length;
  return n;
}

reportStats(() => ({
  retained: exposureCount(),
  assignments: counters.assignments,
  conversions: counters.conversions,
  resultsReads: counters.results,
  requestsFailed: apps.failed + dashboard.failed,
}));

ready(
  `ab-experiment-exposure-array-leak: 2.5 assignment req/s over ${experiments.size} experiments; every exposure is appended to its experiment's never-trimmed exposures array (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
