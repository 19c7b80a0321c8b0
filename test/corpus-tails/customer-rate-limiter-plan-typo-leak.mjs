// Rate-limit service behind the public API's edge proxies. Each edge node
// batches its limiter checks and POSTs them to /v1/check every few hundred ms:
// one decision per API call, by customer. The limiter is a sliding-window log:
// `hitsByCustomer` (customer id -> { customerId, plan, hits, limits, ... })
// keeps the timestamp (epoch ms) of every allowed call; allow() counts the
// calls inside the customer's window with a binary search, and the sweeper,
// every 15 s, drops the timestamps that have fallen out of the window.
//
// The sweeper takes the window length from WINDOW_MS_BY_PLAN, which has its
// own copy of the plan ids. At the onset the `enterprise` plan launches (the
// billing webhook moves the beta cohort onto it and new enterprise contracts
// land on it afterwards) and the entry added to WINDOW_MS_BY_PLAN was spelled
// `enterprize`. allow() reads the limits the billing sync copied onto the
// customer, so decisions are right; the sweeper finds no window for
// `enterprise` and, as written for plans mid-migration, leaves those
// customers' logs alone. Every call an enterprise customer makes stays in its
// `hits` array.
import {
  buildBallast,
  KiB,
  listen,
  onShutdown,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const DEFAULT_ONSET_S = 80 * 60;
const EPOCH_MS = 1_717_000_000_000;
const random = rng(0x7a7e11);

// --- plans -------------------------------------------------------------------

const PLANS = {
  free: { limit: 60, windowMs: 60_000, burst: 10 },
  pro: { limit: 600, windowMs: 60_000, burst: 50 },
  business: { limit: 3_000, windowMs: 60_000, burst: 200 },
};

/** Used by the sweeper only (the edge nodes use the limits copied onto the customer). */
const WINDOW_MS_BY_PLAN = {
  free: 60_000,
  pro: 60_000,
  business: 60_000,
};

/** The enterprise plan launch (release 2024.23), applied at the onset. */
function launchEnterprisePlan() {
  PLANS.enterprise = { limit: 12_000, windowMs: 60_000, burst: 600 };
  WINDOW_MS_BY_PLAN.enterprize = 60_000;
  launched = true;
  // the beta cohort moves over at once; new contracts follow over time
  for (const customer of customers) {
    if (customer.cohort === 'beta') changePlan(customer, 'enterprise');
  }
}

// --- customers (what the billing sync knows) -----------------------------------

const CUSTOMER_COUNT = 420;
const customers = [];
let launched = false;

for (let i = 0; i < CUSTOMER_COUNT; i++) {
  // heavy-tailed traffic: a few big integrators, a long tail of small accounts
  const weight = 0.2 + 30 * random() ** 6;
  const plan = weight > 8 ? 'business' : weight > 1.2 ? 'pro' : 'free';
  customers.push({
    id: `cus_${(0x10000 + i * 7919).toString(36)}`,
    plan,
    weight,
    cohort: plan === 'business' && i % 3 === 0 ? 'beta' : 'ga',
  });
}
const totalWeight = customers.reduce((sum, c) => sum + c.weight, 0);
const customerById = new Map(customers.map((c) => [c.id, c]));

function changePlan(customer, plan) {
  customer.plan = plan;
  const entry = hitsByCustomer.get(customer.id);
  if (entry !== undefined) {
    entry.plan = plan;
    entry.limits = { ...PLANS[plan] };
  }
}

// --- the limiter -------------------------------------------------------------

/** customer id -> { customerId, plan, hits (epoch ms, ascending), limits, allowed, rejected, lastSeenAt } */
const hitsByCustomer = new Map();
const counters = { checks: 0, allowed: 0, rejected: 0, unknown: 0, sweeps: 0, pruned: 0, skippedUnknownPlan: 0, batches: 0 };

function entryFor(customer) {
  let entry = hitsByCustomer.get(customer.id);
  if (entry === undefined) {
    entry = { customerId: customer.id, plan: customer.plan, hits: [], limits: { ...PLANS[customer.plan] }, allowed: 0, rejected: 0, lastSeenAt: 0 };
    hitsByCustomer.set(customer.id, entry);
  }
  return entry;
}

/** Index of the first timestamp >= since. */
function firstAtOrAfter(hits, since) {
  let lo = 0;
  let hi = hits.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hits[mid] < since) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function recordHit(entry, now) {
  entry.hits.push(now);
  entry.allowed++;
  entry.lastSeenAt = now;
}

function allow(entry, now, cost) {
  const { limit, windowMs } = entry.limits;
  const inWindow = entry.hits.length - firstAtOrAfter(entry.hits, now - windowMs);
  if (inWindow + cost > limit) {
    entry.rejected++;
    return { allowed: false, remaining: Math.max(0, limit - inWindow), retryAfterMs: Math.max(1, entry.hits[entry.hits.length - inWindow] + windowMs - now) };
  }
  for (let i = 0; i < cost; i++) recordHit(entry, now);
  return { allowed: true, remaining: limit - inWindow - cost, retryAfterMs: 0 };
}

/** Drops timestamps that fell out of their plan's window. */
function sweep() {
  const now = EPOCH_MS + programSeconds() * 1000;
  counters.sweeps++;
  for (const entry of hitsByCustomer.values()) {
    const windowMs = WINDOW_MS_BY_PLAN[entry.plan];
    if (windowMs === undefined) {
      // plan not known here yet (mid-migration): keep the log rather than under-count
      counters.skippedUnknownPlan++;
      continue;
    }
    const cut = firstAtOrAfter(entry.hits, now - windowMs);
    if (cut > 0) {
      entry.hits.splice(0, cut);
      counters.pruned += cut;
    }
  }
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    if (req.method === 'POST' && url === '/v1/check') {
      const batch = JSON.parse((await readBody(req, 256 * KiB)).toString('utf8'));
      if (!Array.isArray(batch.checks)) return sendJson(res, 422, { error: 'checks[] required' });
      counters.batches++;
      const now = EPOCH_MS + programSeconds() * 1000;
      const decisions = new Array(batch.checks.length);
      for (let i = 0; i < batch.checks.length; i++) {
        const check = batch.checks[i];
        counters.checks++;
        const customer = customerById.get(check.customer);
        if (customer === undefined) {
          counters.unknown++;
          decisions[i] = { id: check.id, allowed: false, reason: 'unknown_customer' };
          continue;
        }
        const decision = allow(entryFor(customer), now, check.cost ?? 1);
        if (decision.allowed) counters.allowed++;
        else counters.rejected++;
        decisions[i] = { id: check.id, ...decision };
      }
      return sendJson(res, 200, { node: batch.node, decisions });
    }
    if (req.method === 'GET' && url.startsWith('/v1/customers/')) {
      const id = url.slice('/v1/customers/'.length).split('/')[0];
      const entry = hitsByCustomer.get(id);
      if (entry === undefined) return sendJson(res, 404, { error: 'no traffic' });
      const now = EPOCH_MS + programSeconds() * 1000;
      const inWindow = entry.hits.length - firstAtOrAfter(entry.hits, now - entry.limits.windowMs);
      return sendJson(res, 200, { customer: id, plan: entry.plan, limit: entry.limits.limit, used: inWindow, allowed: entry.allowed, rejected: entry.rejected });
    }
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { ok: true, customers: hitsByCustomer.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, error instanceof SyntaxError ? 400 : 500, { error: String(error.message ?? error) });
  }
}

// --- edge nodes (the load) ---------------------------------------------------

const EDGE_NODES = ['edge-fra-1', 'edge-fra-2', 'edge-ams-1', 'edge-lhr-1'];
const ROUTES = [
  ['GET /v2/orders', 1],
  ['GET /v2/orders/:id', 1],
  ['POST /v2/orders', 2],
  ['GET /v2/products', 1],
  ['GET /v2/inventory', 1],
  ['POST /v2/webhooks/test', 5],
  ['GET /v2/reports/:id', 3],
];
let checkSeq = 0;

function pickCustomer() {
  let r = random() * totalWeight;
  for (const c of customers) {
    r -= c.weight;
    if (r <= 0) return c;
  }
  return customers[customers.length - 1];
}

/** One edge node's batch: ~40 checks (API calls seen since its last flush). */
function nextBatch() {
  const size = 25 + Math.floor(random() * 31);
  const checks = new Array(size);
  for (let i = 0; i < size; i++) {
    const route = ROUTES[Math.floor(ROUTES.length * random() ** 2)];
    checks[i] = { id: ++checkSeq, customer: random() < 0.002 ? 'cus_deleted' : pickCustomer().id, route: route[0], cost: route[1] };
  }
  return { method: 'POST', path: '/v1/check', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ node: EDGE_NODES[checkSeq % EDGE_NODES.length], checks }) };
}

/** Sales closes an enterprise contract now and then after the launch (~1 every 90 min). */
function salesTick() {
  if (!launched || random() > 0.055) return;
  const candidates = customers.filter((c) => c.plan === 'business' || (c.plan === 'pro' && c.weight > 5));
  if (candidates.length > 0) changePlan(candidates[Math.floor(random() * candidates.length)], 'enterprise');
}

// --- start -------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

const sweeper = setInterval(sweep, scaledMs(15));
const sales = setInterval(salesTick, scaledMs(300));
const launch = setTimeout(launchEnterprisePlan, onsetMs(DEFAULT_ONSET_S));
onShutdown(() => {
  clearInterval(sweeper);
  clearInterval(sales);
  clearTimeout(launch);
});

// 4 edge nodes, 3 batches/s in all (~120 API calls/s); support looks a customer up now and then.
const edges = selfRequests(port, { perSecond: 3, maxInFlight: 8, next: nextBatch });
const support = selfRequests(port, {
  perSecond: 0.1,
  maxInFlight: 2,
  next: () => (random() < 0.3 ? { method: 'GET', path: '/healthz' } : { method: 'GET', path: `/v1/customers/${pickCustomer().id}` }),
});

reportStats(() => {
  let hits = 0;
  let enterpriseHits = 0;
  let enterpriseCustomers = 0;
  for (const entry of hitsByCustomer.values()) {
    hits += entry.hits.length;
    if (entry.plan === 'enterprise') {
      enterpriseHits += entry.hits.length;
      enterpriseCustomers++;
    }
  }
  return {
    retained: hits,
    enterpriseHits,
    enterpriseCustomers,
    customers: hitsByCustomer.size,
    checks: counters.checks,
    allowed: counters.allowed,
    rejected: counters.rejected,
    pruned: counters.pruned,
    requestsFailed: edges.failed + support.failed,
  };
});

ready(
  `customer-rate-limiter-plan-typo-leak: sliding-window log for ${CUSTOMER_COUNT} customers, ~120 checks/s in batches; from ${onsetSeconds(DEFAULT_ONSET_S)} s enterprise customers' logs are never pruned (plan id typo) (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
