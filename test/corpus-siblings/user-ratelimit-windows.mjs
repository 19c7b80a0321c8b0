// Rate-limit service of an API gateway (healthy).
//
// The gateway does not call us once per request: it collects the checks of
// its in-flight requests and asks POST /v1/limits/check with the batch four
// times a second. For every user we keep a sliding-window log: the timestamps
// of that user's accepted requests in the last 60 s (class SlidingWindow, one
// per user, in the module-level Map `windows`). A check trims the window,
// compares the count with the user's plan limit and records the hit. Windows
// whose last hit is older than the window are swept every 30 s.
//
// Traffic: ~300 signed-in users at any time (sessions of ~30 min, so the set
// turns over all day), each sending bursts of 1-12 requests with ~40 s
// between bursts, a campaign spike every ~12 minutes (for 30-120 s users
// come back 3x as often), and a few scripted clients that hammer the API for
// a minute and run into their limit.
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

const WINDOW_MS = 60_000;
const SWEEP_EVERY_S = 30;
const PLAN_LIMITS = { free: 60, pro: 300, enterprise: 1200 };
const EPOCH = Date.parse('2026-12-07T06:00:00Z');

/** Service clock (production time, ms since the epoch). */
const clock = () => EPOCH + Math.round(programSeconds() * 1000);

class SlidingWindow {
  constructor(userId, limit) {
    this.userId = userId;
    this.limit = limit;
    this.hits = [];
    this.lastSeen = 0;
    this.rejected = 0;
  }

  trim(now) {
    const cutoff = now - WINDOW_MS;
    const hits = this.hits;
    let stale = 0;
    while (stale < hits.length && hits[stale] <= cutoff) stale++;
    if (stale > 0) hits.splice(0, stale);
  }

  tryAcquire(now) {
    this.trim(now);
    this.lastSeen = now;
    if (this.hits.length >= this.limit) {
      this.rejected++;
      return false;
    }
    this.hits.push(now);
    return true;
  }

  resetAt() {
    return this.hits.length === 0 ? 0 : this.hits[0] + WINDOW_MS;
  }
}

/** userId → SlidingWindow */
const windows = new Map();
const totals = { checks: 0, allowed: 0, rejected: 0, swept: 0 };

function windowFor(userId, plan) {
  let window = windows.get(userId);
  if (window === undefined) {
    window = new SlidingWindow(userId, PLAN_LIMITS[plan] ?? PLAN_LIMITS.free);
    windows.set(userId, window);
  }
  return window;
}

function check(item, now) {
  const window = windowFor(item.user, item.plan);
  const at = Math.min(now, item.at ?? now);
  const allowed = window.tryAcquire(at);
  totals.checks++;
  if (allowed) totals.allowed++;
  else totals.rejected++;
  return { user: item.user, allowed, remaining: Math.max(0, window.limit - window.hits.length), resetAt: window.resetAt() };
}

function sweepIdleWindows() {
  const cutoff = clock() - WINDOW_MS;
  for (const [userId, window] of windows) {
    if (window.lastSeen <= cutoff) {
      windows.delete(userId);
      totals.swept++;
    }
  }
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/limits/check') {
      const { checks } = JSON.parse((await readBody(req)).toString('utf8'));
      const now = clock();
      const results = checks.map((item) => check(item, now));
      sendJson(res, 200, { at: now, results });
      return;
    }
    if (req.method === 'GET' && req.url.startsWith('/v1/limits/')) {
      const userId = decodeURIComponent(req.url.slice('/v1/limits/'.length));
      const window = windows.get(userId);
      if (window === undefined) {
        sendJson(res, 200, { user: userId, used: 0 });
        return;
      }
      window.trim(clock());
      sendJson(res, 200, { user: userId, used: window.hits.length, limit: window.limit, rejected: window.rejected, resetAt: window.resetAt() });
      return;
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- The gateway: simulated users whose checks it batches -------------------

const random = rng(20261207);
const ACTIVE_USERS = 300;
const SESSION_MEAN_S = 30 * 60;
const BURST_GAP_MEAN_S = 40;
const POPULATION = 60_000;

const exponential = (mean) => -Math.log(1 - random()) * mean;
const pickPlan = () => {
  const r = random();
  return r < 0.7 ? 'free' : r < 0.95 ? 'pro' : 'enterprise';
};

let spikeUntil = 0;
let nextSpikeAt = exponential(12 * 60);
const gapFactor = (t) => (t < spikeUntil ? 1 / 3 : 1);

function newSession(t) {
  const scripted = random() < 0.01;
  return {
    user: `usr_${Math.floor(random() * POPULATION).toString(36).padStart(4, '0')}`,
    plan: scripted ? 'free' : pickPlan(),
    scripted,
    leaveAt: t + exponential(SESSION_MEAN_S),
    nextBurstAt: t + random() * BURST_GAP_MEAN_S,
  };
}

const sessions = [];
for (let i = 0; i < ACTIVE_USERS; i++) sessions.push(newSession(0));
let pendingChecks = [];

function burstSize(session) {
  if (session.scripted) return 60 + Math.floor(random() * 90); // a script's run: ~1-2 req/s for a minute
  return 1 + Math.min(11, Math.floor(exponential(3)));
}

const ROUTES = ['GET /v1/feed', 'GET /v1/items', 'POST /v1/events', 'GET /v1/search', 'GET /v1/me'];
const FLUSH_EVERY_S = 0.25;
const outbox = [];
let flushes = 0;

/** The gateway's flush loop (every 250 ms of production time): due bursts become checks, due checks one batch. */
function flush() {
  const t = programSeconds();
  const now = clock();
  if (t >= nextSpikeAt) {
    spikeUntil = t + 30 + random() * 90;
    nextSpikeAt = spikeUntil + exponential(12 * 60);
  }
  for (let i = 0; i < sessions.length; i++) {
    let session = sessions[i];
    if (t >= session.leaveAt) {
      session = newSession(t);
      sessions[i] = session;
    }
    if (t < session.nextBurstAt) continue;
    const size = burstSize(session);
    const spreadMs = session.scripted ? 60_000 : 1_500;
    for (let k = 0; k < size; k++) {
      pendingChecks.push({ user: session.user, plan: session.plan, route: ROUTES[k % ROUTES.length], at: now + Math.round((k * spreadMs) / size) });
    }
    session.nextBurstAt = t + (session.scripted ? 60 : 0) + exponential(BURST_GAP_MEAN_S * gapFactor(t));
  }
  flushes++;
  if (flushes % 50 === 0) {
    const session = sessions[Math.floor(random() * sessions.length)];
    outbox.push({ method: 'GET', path: `/v1/limits/${session.user}` });
  }
  const due = [];
  const later = [];
  for (const item of pendingChecks) (item.at <= now ? due : later).push(item);
  pendingChecks = later;
  if (due.length > 0) {
    outbox.push({ method: 'POST', path: '/v1/limits/check', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ checks: due }) });
  }
}

const nextRequest = () => outbox.shift() ?? null;

const ballastMb = buildBallast();
const { port } = await listen(handler);
every(scaledMs(FLUSH_EVERY_S), flush);
every(scaledMs(SWEEP_EVERY_S), sweepIdleWindows);
const traffic = selfRequests(port, { perSecond: 10, next: nextRequest });

reportStats(() => {
  let hits = 0;
  for (const window of windows.values()) hits += window.hits.length;
  return {
    retained: hits,
    windows: windows.size,
    checks: totals.checks,
    rejected: totals.rejected,
    swept: totals.swept,
    spike: programSeconds() < spikeUntil,
    requests: traffic.completed,
    queued: outbox.length,
  };
});
ready(`user-ratelimit-windows: per-user 60 s sliding-window rate limiter, ~300 active users, batched checks 4 req/s; ballast ${ballastMb} MB`);
