// API gateway of a consumer app: it authenticates each request (the user id
// comes from the session token the edge has already verified), applies a
// per-user token-bucket rate limit with one bucket per scope (read, write,
// search) and forwards the request to the upstream service (an in-process
// stand-in with a few ms of latency). 429s carry Retry-After.
//
// The limiter keeps one entry per user id in the Map `limiter.buckets`,
// created on the user's first request. A real limiter would drop a bucket
// once it has refilled and sat idle (a full bucket carries no information),
// but this one never does: besides the app's regulars, who come back all
// day, there is a steady trickle of users seen once or twice (new sign-ups,
// people following a shared link, trial accounts) whose buckets stay in the
// Map for good. About one to two megabytes an hour.
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

const random = rng(0x7b0c4e7);

/** Production time in seconds (the token refill clock). */
function now() {
  return programSeconds();
}

// --- rate limiting ----------------------------------------------------------------------

const LIMITS = {
  free: { read: [60, 1], write: [20, 0.2], search: [30, 0.5] },
  plus: { read: [240, 4], write: [60, 1], search: [120, 2] },
};

function scopeOf(method, path) {
  if (path.startsWith('/api/search')) return 'search';
  return method === 'GET' ? 'read' : 'write';
}

function refill(bucket, t) {
  const elapsed = t - bucket.updatedAt;
  if (elapsed > 0) {
    bucket.tokens = Math.min(bucket.capacity, bucket.tokens + elapsed * bucket.refillPerSecond);
    bucket.updatedAt = t;
  }
}

function tryTake(bucket, t) {
  refill(bucket, t);
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

function scopeBucket([capacity, refillPerSecond], t) {
  return { tokens: capacity, capacity, refillPerSecond, updatedAt: t };
}

/** A user's limiter state: one token bucket per scope. */
function createBucket(identity, plan, t) {
  const limits = LIMITS[plan];
  return {
    identity,
    plan,
    createdAt: t,
    lastSeen: t,
    scopes: { read: scopeBucket(limits.read, t), write: scopeBucket(limits.write, t), search: scopeBucket(limits.search, t) },
    denied: 0,
  };
}

class RateLimiter {
  constructor() {
    /** user id -> its buckets. */
    this.buckets = new Map();
    this.allowed = 0;
    this.limited = 0;
  }

  check(identity, plan, scope) {
    const t = now();
    let bucket = this.buckets.get(identity);
    if (bucket === undefined) {
      bucket = createBucket(identity, plan, t);
      this.buckets.set(identity, bucket);
    }
    bucket.lastSeen = t;
    const scoped = bucket.scopes[scope];
    if (tryTake(scoped, t)) {
      this.allowed++;
      return 0;
    }
    bucket.denied++;
    this.limited++;
    return Math.ceil((1 - scoped.tokens) / scoped.refillPerSecond);
  }
}

const limiter = new RateLimiter();

// --- upstream stand-in -------------------------------------------------------------------

function upstream(method, path, body) {
  return new Promise((resolve) => {
    setTimeout(() => {
      if (path.startsWith('/api/search')) resolve({ status: 200, body: { hits: Math.floor(random() * 40), took: 12 } });
      else if (method === 'GET') resolve({ status: 200, body: { path, items: Math.floor(random() * 20), etag: Math.floor(random() * 1e9).toString(36) } });
      else resolve({ status: 201, body: { ok: true, bytes: body.length } });
    }, 2 + random() * 6);
  });
}

// --- HTTP ------------------------------------------------------------------------------------

function sendJson(res, status, value, headers) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://gateway.local');
  try {
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    const identity = req.headers['x-auth-user'];
    if (identity === undefined) return sendJson(res, 401, { error: 'unauthenticated' });
    const plan = req.headers['x-auth-plan'] === 'plus' ? 'plus' : 'free';
    const retryAfter = limiter.check(identity, plan, scopeOf(req.method, url.pathname));
    if (retryAfter > 0) return sendJson(res, 429, { error: 'rate limited' }, { 'retry-after': String(retryAfter) });
    const body = req.method === 'GET' ? '' : (await readBody(req, 1024 * 1024)).toString('utf8');
    const answer = await upstream(req.method, url.pathname, body);
    sendJson(res, answer.status, answer.body);
  } catch (error) {
    if (!res.headersSent) sendJson(res, 502, { error: String(error.message ?? error) });
  }
}

// --- the app's users (the load) -----------------------------------------------------------------

const READ_PATHS = ['/api/feed', '/api/profile', '/api/notifications', '/api/feed?page=2', '/api/settings', '/api/messages'];
/** Regular users: back several times an hour, all day. */
const regulars = Array.from({ length: 1800 }, (_, i) => ({ id: `u_${(31_000_000 + i * 104_729).toString(36)}`, plan: i % 9 === 0 ? 'plus' : 'free' }));
let newUserSeq = 0;
/** Users from outside the regulars in the middle of a short visit (their next requests). */
const visits = [];
const CONCURRENT_VISITS = 8;

function newcomer() {
  newUserSeq++;
  return {
    user: { id: `u_${(52_000_000 + newUserSeq * 37).toString(36)}${Math.floor(random() * 46656).toString(36)}`, plan: 'free' },
    left: 1 + Math.floor(random() * random() * 8),
  };
}

function requestFor(user) {
  const headers = { 'x-auth-user': user.id, 'x-auth-plan': user.plan };
  const roll = random();
  if (roll < 0.7) return { method: 'GET', path: READ_PATHS[Math.floor(random() * READ_PATHS.length)], headers };
  if (roll < 0.85) return { method: 'GET', path: `/api/search?q=${Math.floor(random() * 5000).toString(36)}`, headers };
  return { method: 'POST', path: '/api/messages', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ to: `u_${Math.floor(random() * 1e6).toString(36)}`, text: 'see you at 8?' }) };
}

function nextRequest() {
  const roll = random();
  if (roll < 0.03) return { method: 'GET', path: '/healthz' };
  if (roll < 0.53) return requestFor(regulars[Math.floor(random() * random() * regulars.length)]);
  // Users from outside the regulars: the next request of a visit in progress (a finished visit makes room for a new arrival).
  while (visits.length < CONCURRENT_VISITS) visits.push(newcomer());
  const index = Math.floor(random() * visits.length);
  const visit = visits[index];
  if (--visit.left <= 0) visits.splice(index, 1);
  return requestFor(visit.user);
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~3 requests/s through the gateway; ~0.3 first-time users/s.
const clients = selfRequests(port, { perSecond: 3, maxInFlight: 16, next: nextRequest });

reportStats(() => ({
  retained: limiter.buckets.size,
  allowed: limiter.allowed,
  limited: limiter.limited,
  newUsers: newUserSeq,
  requestsFailed: clients.failed,
}));

ready(
  `gateway-rate-limiter-bucket-leak: API gateway with a per-user token-bucket limiter; limiter.buckets gets an entry per user id and never drops idle ones, a trickle of one-off users keeps adding (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
