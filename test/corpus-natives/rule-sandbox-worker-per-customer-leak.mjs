// Pricing-rules API of a B2B commerce platform. Established customers' rule
// sets were reviewed long ago and are evaluated in-process. Customers who
// sign up through self-service onboarding (open from the second hour of
// the day, SCENARIO_ONSET, ~1.5 sign-ups an hour) write their own rules in
// a trial session, and those untrusted rules are evaluated in a sandbox: a
// worker_threads Worker per customer with its own resource limits, created
// on the customer's first evaluation and reused for the rest of the session.
//
// THE BUG: ending a session (DELETE /v1/sessions/:id, sent by the web app
// when the trial session closes) removes the session but not the customer's
// sandbox: the Worker stays alive in the module-level Map `sandboxes`,
// keyed by customer id, forever. Every new customer leaves a whole idle V8
// isolate in the process; RSS grows slowly by several MB per customer while
// the main thread's JS heap barely moves.
import { Worker } from 'node:worker_threads';
import {
  buildBallast,
  every,
  listen,
  onShutdown,
  onsetMs,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x5a4d);

// --- rules -------------------------------------------------------------------------------------

const SEGMENTS = ['retail', 'wholesale', 'distributor', 'education', 'public'];
const CATEGORIES = ['fasteners', 'adhesives', 'abrasives', 'safety', 'tools', 'electrical', 'plumbing'];

/** A customer's rule set: discounts by category / quantity / segment. */
function ruleSet(customerId, seed) {
  const rules = [];
  const count = 5 + (seed % 20);
  for (let i = 0; i < count; i++) {
    rules.push({
      id: `${customerId}-r${i}`,
      when: { category: CATEGORIES[(seed + i) % CATEGORIES.length], minQuantity: 1 + ((seed * (i + 1)) % 50), segment: i % 3 === 0 ? SEGMENTS[(seed + i) % SEGMENTS.length] : null },
      then: { discountPct: 1 + ((seed + i * 7) % 25), freeShipping: i % 5 === 0 },
    });
  }
  return rules;
}

/** Shared by the in-process path and the sandbox (the sandbox gets its source). */
function evaluateRules(rules, cart) {
  let total = 0;
  let discount = 0;
  let freeShipping = false;
  const applied = [];
  for (const line of cart.lines) {
    const gross = line.quantity * line.unitPrice;
    total += gross;
    let best = 0;
    for (const rule of rules) {
      if (rule.when.category !== line.category || line.quantity < rule.when.minQuantity) continue;
      if (rule.when.segment !== null && rule.when.segment !== cart.segment) continue;
      if (rule.then.discountPct > best) best = rule.then.discountPct;
      if (rule.then.freeShipping) freeShipping = true;
      applied.push(rule.id);
    }
    discount += (gross * best) / 100;
  }
  return { total: Math.round(total), discount: Math.round(discount), freeShipping, applied: applied.length };
}

// --- sandboxes ------------------------------------------------------------------------------

const SANDBOX_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const evaluateRules = ${evaluateRules.toString()};
let rules = workerData.rules;
parentPort.on('message', (message) => {
  if (message.type === 'rules') { rules = message.rules; return; }
  parentPort.postMessage({ id: message.id, result: evaluateRules(rules, message.cart) });
});
`;

/** Sandboxed rule evaluators by customer id. */
const sandboxes = new Map();
let nextEvaluation = 1;
const pending = new Map();

class RuleSandbox {
  constructor(customerId, rules) {
    this.customerId = customerId;
    this.createdAt = programSeconds();
    this.lastUsedAt = this.createdAt;
    this.evaluations = 0;
    this.worker = new Worker(SANDBOX_SOURCE, {
      eval: true,
      name: `rules-${customerId}`,
      workerData: { customerId, rules },
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8, stackSizeMb: 2 },
    });
    this.worker.on('message', ({ id, result }) => {
      const resolve = pending.get(id);
      pending.delete(id);
      resolve?.(result);
    });
    this.worker.on('error', () => sandboxes.delete(customerId));
  }

  evaluate(cart) {
    this.evaluations++;
    this.lastUsedAt = programSeconds();
    const id = nextEvaluation++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      this.worker.postMessage({ id, cart });
    });
  }
}

function sandboxFor(customer) {
  let sandbox = sandboxes.get(customer.id);
  if (sandbox === undefined) {
    sandbox = new RuleSandbox(customer.id, customer.rules);
    sandboxes.set(customer.id, sandbox);
  }
  return sandbox;
}

// --- customers and sessions ---------------------------------------------------------------------

const customers = new Map();
const sessions = new Map();
const counters = { signups: 0, sessionsOpened: 0, sessionsEnded: 0, evaluations: 0, sandboxed: 0 };

for (let i = 0; i < 400; i++) {
  const id = `cust_${(1000 + i).toString(36)}`;
  customers.set(id, { id, segment: SEGMENTS[i % SEGMENTS.length], trusted: true, rules: ruleSet(id, i) });
}

function signUp() {
  counters.signups++;
  const id = `cust_new_${counters.signups.toString(36)}`;
  const seed = 7000 + counters.signups * 13;
  const customer = { id, segment: SEGMENTS[seed % SEGMENTS.length], trusted: false, rules: ruleSet(id, seed), signedUpAt: programSeconds() };
  customers.set(id, customer);
  return customer;
}

function openSession(customer, minutes) {
  counters.sessionsOpened++;
  const id = `sess_${counters.sessionsOpened.toString(36)}`;
  const session = { id, customerId: customer.id, openedAt: programSeconds(), endsAt: programSeconds() + minutes * 60 };
  sessions.set(id, session);
  return session;
}

function endSession(id) {
  if (!sessions.delete(id)) return false;
  counters.sessionsEnded++;
  return true;
}

async function quote(customer, cart) {
  counters.evaluations++;
  if (customer.trusted) return evaluateRules(customer.rules, cart);
  counters.sandboxed++;
  return sandboxFor(customer).evaluate(cart);
}

function randomCart(segment) {
  const lines = [];
  const n = 1 + Math.floor(random() * 8);
  for (let i = 0; i < n; i++) lines.push({ sku: `SKU-${Math.floor(random() * 90000)}`, category: CATEGORIES[Math.floor(random() * CATEGORIES.length)], quantity: 1 + Math.floor(random() * 60), unitPrice: 50 + Math.floor(random() * 5000) });
  return { segment, lines };
}

// --- HTTP --------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://rules.local');
  const parts = url.pathname.split('/');
  if (req.method === 'POST' && url.pathname === '/v1/quotes') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    const customer = customers.get(body.customerId);
    if (customer === undefined) return sendJson(res, 404, { error: 'unknown customer' });
    return sendJson(res, 200, await quote(customer, body.cart));
  }
  if (req.method === 'DELETE' && parts[1] === 'v1' && parts[2] === 'sessions') {
    return sendJson(res, endSession(parts[3]) ? 200 : 404, {});
  }
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, sessions: sessions.size });
  sendJson(res, 404, { error: 'not found' });
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Onboarding: sign-ups open at the onset (default 1 h), ~1.5 an hour, each with a
// 10-25 min trial session in which the customer tries quotes against their rules.
const ONSET_S = 3600;
let onboardingOpen = false;
setTimeout(() => (onboardingOpen = true), onsetMs(ONSET_S));
let nextSignupAt = null;
every(5000 / speed, () => {
  if (!onboardingOpen) return;
  const now = programSeconds();
  if (nextSignupAt === null) nextSignupAt = now;
  if (now >= nextSignupAt) {
    openSession(signUp(), 10 + random() * 15);
    nextSignupAt = now + 3600 / 1.5 * (0.5 + random());
  }
});

// The web app: quotes for the trial sessions (one per ~20 s of each session), and
// the DELETE when a session's time is up.
const endingQueue = [];
const trialClient = selfRequests(port, {
  perSecond: 0.1,
  maxInFlight: 4,
  next: () => {
    const now = programSeconds();
    for (const session of sessions.values()) {
      if (now >= session.endsAt) {
        sessions.get(session.id).ending = true;
        endingQueue.push(session.id);
      }
    }
    if (endingQueue.length > 0) return { method: 'DELETE', path: `/v1/sessions/${endingQueue.shift()}` };
    const open = [...sessions.values()].filter((s) => !s.ending);
    if (open.length === 0) return null;
    const session = open[Math.floor(random() * open.length)];
    const customer = customers.get(session.customerId);
    return { method: 'POST', path: '/v1/quotes', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customerId: customer.id, cart: randomCart(customer.segment) }) };
  },
});
// Established customers' storefronts: 2 quotes/s, evaluated in-process; plus health checks.
const established = [...customers.values()];
const storefronts = selfRequests(port, {
  perSecond: 2,
  maxInFlight: 8,
  next: () => {
    if (random() < 0.05) return { method: 'GET', path: '/healthz' };
    const customer = established[Math.floor(random() * established.length)];
    return { method: 'POST', path: '/v1/quotes', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customerId: customer.id, cart: randomCart(customer.segment) }) };
  },
});

onShutdown(() => {
  for (const sandbox of sandboxes.values()) sandbox.worker.terminate();
});

reportStats(() => ({
  retained: sandboxes.size,
  sessions: sessions.size,
  signups: counters.signups,
  sessionsEnded: counters.sessionsEnded,
  evaluations: counters.evaluations,
  sandboxedEvaluations: counters.sandboxed,
  requestsFailed: trialClient.failed + storefronts.failed,
}));

ready(`rule-sandbox-worker-per-customer-leak: from ${ONSET_S / 3600} h ~1.5 new customers/h, one sandbox Worker each, kept after the session ends (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
