// API gateway with a per-user sliding-window rate limiter (healthy).
//
// The gateway authenticates each request (signed bearer token), classifies the
// route (auth / read / write) and asks the limiter whether this user may make
// another request of that class: the limiter keeps, per `user:class` key, the
// timestamps of the user's accepted requests in the last 15 minutes (a
// sliding-window log), prunes the old ones on every hit and answers 429 once
// the window is full. A sweep every minute drops keys whose window is empty.
// Allowed requests go on to the upstream stand-ins (ticketing API).
//
// Traffic: ~4 000 regular users (Zipf) and two price-watch bots at ~2.5
// requests/s in all (the bigger bot runs into the read limit), and a few
// times over 6 hours a flash crowd: an on-sale announcement brings 2 000-4 500
// new users within 6-14 minutes; each signs in, polls the event's
// availability for 1-28 minutes and leaves. Their windows are swept 15
// minutes after their last request, so the limiter grows with each crowd and
// comes back to its base size.
import { createHmac } from 'node:crypto';
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

const EPOCH_MS = Date.UTC(2024, 4, 14, 9, 0, 0);
const MINUTE_MS = 60_000;
const TOKEN_SECRET = 'gw-signing-key-2024-05';

/** Rate-limit policy per route class: accepted requests per sliding window. */
const POLICIES = {
  auth: { limit: 10, windowMs: 15 * MINUTE_MS },
  read: { limit: 300, windowMs: 15 * MINUTE_MS },
  write: { limit: 60, windowMs: 15 * MINUTE_MS },
};

function nowMs() {
  return EPOCH_MS + programSeconds() * 1000;
}

// --- The limiter ------------------------------------------------------------

function windowKey(userId, routeClass) {
  return `${userId}:${routeClass}`;
}

/** Index of the first timestamp still inside the window. */
function firstLive(stamps, cutoff) {
  let i = 0;
  while (i < stamps.length && stamps[i] <= cutoff) i++;
  return i;
}

function dropExpired(win, cutoff) {
  const live = firstLive(win.stamps, cutoff);
  if (live > 0) win.stamps = win.stamps.slice(live);
}

class SlidingWindowLimiter {
  constructor(policies) {
    this.policies = policies;
    this.windows = new Map(); // "userId:class" -> { userId, routeClass, stamps, firstSeenAt, lastSeenAt, rejected }
    this.swept = 0;
  }

  hit(userId, routeClass, now) {
    const policy = this.policies[routeClass];
    const key = windowKey(userId, routeClass);
    let win = this.windows.get(key);
    if (win === undefined) {
      win = { userId, routeClass, stamps: [], firstSeenAt: now, lastSeenAt: now, rejected: 0 };
      this.windows.set(key, win);
    }
    dropExpired(win, now - policy.windowMs);
    win.lastSeenAt = now;
    if (win.stamps.length >= policy.limit) {
      win.rejected++;
      return { allowed: false, limit: policy.limit, remaining: 0, resetAt: win.stamps[0] + policy.windowMs };
    }
    win.stamps.push(now);
    return { allowed: true, limit: policy.limit, remaining: policy.limit - win.stamps.length, resetAt: win.stamps[0] + policy.windowMs };
  }

  usage(userId) {
    const out = {};
    for (const routeClass of Object.keys(this.policies)) {
      const win = this.windows.get(windowKey(userId, routeClass));
      if (win !== undefined) out[routeClass] = { used: win.stamps.length, limit: this.policies[routeClass].limit, rejected: win.rejected };
    }
    return out;
  }

  sweep(now) {
    for (const [key, win] of this.windows) {
      dropExpired(win, now - this.policies[win.routeClass].windowMs);
      if (win.stamps.length === 0) {
        this.windows.delete(key);
        this.swept++;
      }
    }
  }

  stampCount() {
    let n = 0;
    for (const win of this.windows.values()) n += win.stamps.length;
    return n;
  }
}

const limiter = new SlidingWindowLimiter(POLICIES);
every(scaledMs(60), () => limiter.sweep(nowMs()));

// --- Auth ---------------------------------------------------------------------

function sign(userId) {
  return createHmac('sha256', TOKEN_SECRET).update(userId).digest('base64url').slice(0, 22);
}

function issueToken(userId) {
  return `${userId}.${sign(userId)}`;
}

/** The user id of a valid bearer token, or null. */
function verifyToken(header) {
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return null;
  const token = header.slice(7);
  const dot = token.lastIndexOf('.');
  if (dot <= 0) return null;
  const userId = token.slice(0, dot);
  return sign(userId) === token.slice(dot + 1) ? userId : null;
}

// --- Upstream stand-ins (ticketing API) ---------------------------------------

const upstreamRng = rng(0x7e1c4e7);

function routeClassOf(method, path) {
  if (path.startsWith('/v1/auth/')) return 'auth';
  return method === 'GET' ? 'read' : 'write';
}

function upstreamReply(method, path, userId) {
  const parts = path.split('/');
  if (path.startsWith('/v1/auth/session')) return { status: 201, body: { userId, session: sign(`${userId}:${Math.floor(nowMs() / 1000)}`), expiresIn: 3600 } };
  if (parts[2] === 'events' && parts[4] === 'availability') {
    const left = Math.max(0, Math.floor(upstreamRng() * 900) - 100);
    return { status: 200, body: { eventId: parts[3], sections: [{ id: 'floor', left: left >> 1 }, { id: 'stand', left }], queue: left === 0 ? 'waitlist' : 'open' } };
  }
  if (parts[2] === 'events') return { status: 200, body: { eventId: parts[3], title: `Event ${parts[3]}`, venue: 'Arena', doorsAt: '19:00' } };
  if (parts[2] === 'waitlist') return { status: 202, body: { position: 1 + Math.floor(upstreamRng() * 5000) } };
  if (parts[2] === 'cart') return { status: 201, body: { cartId: `c_${userId}`, items: 1 + Math.floor(upstreamRng() * 3) } };
  if (parts[2] === 'me') return { status: 200, body: { userId, plan: 'standard', tickets: Math.floor(upstreamRng() * 4) } };
  if (parts[2] === 'orders') return { status: 200, body: { orders: [], page: 1 } };
  return { status: 404, body: { error: 'not_found' } };
}

function upstreamLatencyS() {
  return 0.015 + upstreamRng() * upstreamRng() * 0.25;
}

// --- The gateway ---------------------------------------------------------------

const counters = { requests: 0, allowed: 0, limited: 0, unauthorized: 0, byClass: { auth: 0, read: 0, write: 0 } };

function sendJson(res, status, body, headers) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function rateHeaders(decision) {
  return {
    'x-ratelimit-limit': String(decision.limit),
    'x-ratelimit-remaining': String(decision.remaining),
    'x-ratelimit-reset': String(Math.ceil(decision.resetAt / 1000)),
  };
}

async function handle(req, res) {
  counters.requests++;
  const path = req.url.split('?')[0];
  if (path === '/healthz') return sendJson(res, 200, { ok: true });
  if (path.startsWith('/_gateway/limits/')) return sendJson(res, 200, limiter.usage(path.slice('/_gateway/limits/'.length)));
  const userId = verifyToken(req.headers.authorization);
  if (userId === null) {
    counters.unauthorized++;
    return sendJson(res, 401, { error: 'unauthorized' });
  }
  if (req.method !== 'GET') await readBody(req, 64 * 1024);
  const routeClass = routeClassOf(req.method, path);
  counters.byClass[routeClass]++;
  const decision = limiter.hit(userId, routeClass, nowMs());
  if (!decision.allowed) {
    counters.limited++;
    const retryAfter = Math.max(1, Math.ceil((decision.resetAt - nowMs()) / 1000));
    return sendJson(res, 429, { error: 'rate_limited', retryAfter }, { ...rateHeaders(decision), 'retry-after': String(retryAfter) });
  }
  counters.allowed++;
  await new Promise((resolve) => setTimeout(resolve, scaledMs(upstreamLatencyS())));
  const reply = upstreamReply(req.method, path, userId);
  sendJson(res, reply.status, reply.body, rateHeaders(decision));
}

const { port } = await listen((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
    else res.destroy();
  });
});

// --- Load: regular users and scrapers --------------------------------------------

const REGULAR_USERS = 4000;
const BASE_RATE = 2.5; // requests/s at speed 1
const SCRAPERS = ['u_pricewatch', 'u_scr4p3r01'];
const baseRng = rng(0xba5e);
const zipfCdf = [];
{
  let sum = 0;
  for (let i = 1; i <= REGULAR_USERS; i++) zipfCdf.push((sum += 1 / i ** 0.9));
  for (let i = 0; i < zipfCdf.length; i++) zipfCdf[i] /= sum;
}
// the users' apps hold their tokens already
const regularTokens = Array.from({ length: REGULAR_USERS }, (_, i) => issueToken(`u_${(100000 + i * 7919).toString(36)}`));

function pickRegular() {
  const u = baseRng();
  let lo = 0;
  let hi = zipfCdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (zipfCdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return regularTokens[lo];
}

const scraperTokens = SCRAPERS.map(issueToken);

function regularRequest() {
  const r = baseRng();
  if (r < 0.004) return { method: 'GET', path: '/healthz' };
  if (r < 0.2) {
    // price-watch bots: ~0.4 and ~0.1 req/s, the first more than the read limit allows
    const token = scraperTokens[r < 0.16 ? 0 : 1];
    return { method: 'GET', path: `/v1/events/${1000 + Math.floor(baseRng() * 400)}/availability`, headers: { authorization: `Bearer ${token}` } };
  }
  const headers = { authorization: `Bearer ${pickRegular()}` };
  if (r < 0.23) return { method: 'POST', path: '/v1/auth/session', headers, body: '{"device":"web"}' };
  if (r < 0.33) return { method: 'POST', path: '/v1/cart/items', headers, body: `{"eventId":${1000 + Math.floor(baseRng() * 400)},"qty":1}` };
  if (r < 0.45) return { method: 'GET', path: '/v1/me', headers };
  if (r < 0.55) return { method: 'GET', path: '/v1/orders?page=1', headers };
  const eventId = 1000 + Math.floor(baseRng() * 400);
  return { method: 'GET', path: r < 0.78 ? `/v1/events/${eventId}` : `/v1/events/${eventId}/availability`, headers };
}

const baseClient = selfRequests(port, { perSecond: BASE_RATE, next: regularRequest, maxInFlight: 64 });

// --- Load: flash crowds ------------------------------------------------------------
//
// A crowd starts every 70-100 minutes (the first at 45-70 min); its users
// arrive over `spreadS` (triangular), each signs in, then polls the event every
// ~2 minutes until it leaves (1-28 minutes after arriving). Schedule and users
// come from their own seeded stream.

const crowdRng = rng(0xf1a5c0d);
const crowds = [];
let nextCrowdAt = 2700 + crowdRng() * 1500;

function planCrowd(index, startS) {
  const size = Math.round(2000 + crowdRng() * 2500);
  const spreadS = 360 + crowdRng() * 480;
  const arrivals = new Float64Array(size);
  for (let i = 0; i < size; i++) arrivals[i] = startS + spreadS * ((crowdRng() + crowdRng()) / 2);
  arrivals.sort();
  return { index, eventId: 5000 + index, startS, size, spreadS, arrivals, next: 0 };
}

/** A crowd user as the app sees itself: created when it arrives. */
function arrive(crowd) {
  const arriveAt = crowd.arrivals[crowd.next++];
  const stayS = Math.min(1680, Math.max(60, 360 * Math.exp(0.8 * gaussian(crowdRng))));
  const userId = `u_${Math.floor(crowdRng() * 36 ** 10).toString(36).padStart(10, '0')}`;
  return { userId, token: issueToken(userId), arriveAt, leaveAt: arriveAt + stayS, nextAt: arriveAt, eventId: crowd.eventId, requests: 0 };
}

function gaussian(random) {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Min-heap of crowd users by the time of their next request. */
const due = [];
function heapPush(user) {
  due.push(user);
  let i = due.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (due[parent].nextAt <= due[i].nextAt) break;
    [due[parent], due[i]] = [due[i], due[parent]];
    i = parent;
  }
}
function heapPop() {
  const top = due[0];
  const last = due.pop();
  if (due.length > 0) {
    due[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < due.length && due[l].nextAt < due[m].nextAt) m = l;
      if (r < due.length && due[r].nextAt < due[m].nextAt) m = r;
      if (m === i) break;
      [due[m], due[i]] = [due[i], due[m]];
      i = m;
    }
  }
  return top;
}

const crowdStats = { crowds: 0, arrived: 0, left: 0, present: 0, crowdRequests: 0 };
const clientRng = rng(0xc11e47);

let arriving = null; // the crowd whose users are still arriving

every(scaledMs(5), () => {
  const t = programSeconds();
  if (t >= nextCrowdAt) {
    arriving = planCrowd(crowds.length + 1, nextCrowdAt);
    crowds.push({ index: arriving.index, startS: Math.round(arriving.startS), size: arriving.size, spreadS: Math.round(arriving.spreadS) });
    crowdStats.crowds++;
    nextCrowdAt += 4200 + crowdRng() * 1800;
  }
  if (arriving === null) return;
  while (arriving.next < arriving.size && arriving.arrivals[arriving.next] <= t + 5) heapPush(arrive(arriving));
  if (arriving.next === arriving.size) arriving = null;
});

function crowdRequest() {
  if (due.length === 0 || due[0].nextAt > programSeconds()) return null;
  const user = heapPop();
  crowdStats.crowdRequests++;
  const first = user.requests++ === 0;
  if (first) {
    crowdStats.arrived++;
    crowdStats.present++;
  }
  user.nextAt += 20 - 120 * Math.log(1 - clientRng());
  if (user.nextAt < user.leaveAt) heapPush(user);
  else {
    crowdStats.left++;
    crowdStats.present--;
  }
  const headers = { authorization: `Bearer ${user.token}` };
  if (first) return { method: 'POST', path: '/v1/auth/session', headers, body: '{"device":"app","campaign":"onsale"}' };
  const r = clientRng();
  if (r < 0.14) return { method: 'POST', path: '/v1/waitlist', headers, body: `{"eventId":${user.eventId}}` };
  if (r < 0.3) return { method: 'GET', path: `/v1/events/${user.eventId}`, headers };
  return { method: 'GET', path: `/v1/events/${user.eventId}/availability`, headers };
}

const crowdClient = selfRequests(port, {
  perSecond: () => (due.length === 0 ? 0 : 4 + due.length / 40),
  next: crowdRequest,
  maxInFlight: 128,
});

const ballastMb = buildBallast();
ready(`api gateway with per-user sliding-window rate limiter on 127.0.0.1:${port}, flash crowds${ballastMb ? `, ballast ${ballastMb} MB` : ''}`);

reportStats(() => ({
  retained: limiter.windows.size,
  stamps: limiter.stampCount(),
  swept: limiter.swept,
  crowd: crowdStats.crowds,
  crowdPresent: crowdStats.present,
  crowdArrived: crowdStats.arrived,
  crowdQueued: due.length,
  crowds,
  requests: counters.requests,
  allowed: counters.allowed,
  limited: counters.limited,
  unauthorized: counters.unauthorized,
  byClass: counters.byClass,
  sent: baseClient.sent + crowdClient.sent,
  failed: baseClient.failed + crowdClient.failed,
}));
