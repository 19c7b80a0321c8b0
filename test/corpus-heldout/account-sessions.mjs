// Account service with server-side sessions (healthy).
//
// POST /login creates a session (~2 KB: profile claims, permissions, cart,
// preferences) in the module-level Map `sessions`, valid for 20 minutes from
// login (absolute expiry). GET /cart reads it. A sweeper runs every minute
// (speed 1) and deletes expired sessions, so with steady traffic the cache
// fills for ~20 min and then stays flat (a one-minute sawtooth of ~1/20 of it).
//
// Speed 1: 3 logins/s and 3 cart reads/s → ~3 600 live sessions (~2 KB each), ~7 MB,
// flat from ~21 min on.
// stats: retained = sessions.size.
import { randomBytes } from 'node:crypto';
import { buildBallast, every, listen, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const LOGINS_PER_SECOND = 3;
const READS_PER_SECOND = 3;
const TTL_SECONDS = 20 * 60;
const SWEEP_SECONDS = 60;

const sessions = new Map();
let expired = 0;
let sweeps = 0;

const ROLES = ['customer', 'reviewer', 'wholesale', 'support-readonly'];
function createSession(userId, ip, userAgent) {
  const now = Date.now();
  const cart = [];
  for (let i = 0; i < 1 + (userId % 8); i++) cart.push({ sku: `SKU-${(userId * 31 + i) % 90000}`, qty: 1 + (i % 3), addedAt: now - i * 60_000, priceCents: 499 + ((userId + i) * 97) % 20000 });
  return {
    token: randomBytes(24).toString('base64url'),
    userId,
    email: `user${userId}@example.test`,
    roles: [ROLES[userId % ROLES.length], 'customer'],
    permissions: ['orders:read', 'orders:write', 'cart:write', 'profile:read', 'profile:write', 'addresses:read'],
    createdAt: now,
    expiresAt: now + scaledMs(TTL_SECONDS),
    ip,
    userAgent,
    csrfToken: randomBytes(16).toString('hex'),
    preferences: { locale: 'de-DE', currency: 'EUR', theme: userId % 2 ? 'dark' : 'light', marketingOptIn: userId % 3 === 0 },
    cart,
    recentlyViewed: Array.from({ length: 12 }, (_, i) => `SKU-${(userId * 7 + i * 13) % 90000}`),
  };
}

function sweep() {
  sweeps++;
  const now = Date.now();
  for (const [token, session] of sessions) {
    if (session.expiresAt <= now) {
      sessions.delete(token);
      expired++;
    }
  }
}

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  if (req.method === 'POST' && req.url === '/login') {
    const { userId } = JSON.parse(await readBody(req));
    const session = createSession(userId, req.socket.remoteAddress, req.headers['user-agent']);
    sessions.set(session.token, session);
    return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: session.token, csrf: session.csrfToken }));
  }
  if (req.method === 'GET' && req.url === '/cart') {
    const session = sessions.get(req.headers.authorization);
    if (session === undefined || session.expiresAt <= Date.now()) return res.writeHead(401).end();
    return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(session.cart));
  }
  res.writeHead(404).end();
});

every(scaledMs(SWEEP_SECONDS), sweep);

// Visitors log in, then read their cart a few times from other tabs.
const random = rng(66);
const tokens = [];
let reads = 0;
selfRequests(port, {
  perSecond: LOGINS_PER_SECOND,
  next: () => ({ method: 'POST', path: '/login', headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15' }, body: JSON.stringify({ userId: Math.floor(random() * 500_000) }) }),
  onResponse: (status, text) => {
    if (status !== 200) return;
    tokens.push(JSON.parse(text).token);
    if (tokens.length > 200) tokens.shift();
  },
});
selfRequests(port, {
  perSecond: READS_PER_SECOND,
  next: () => {
    if (tokens.length === 0) return null;
    reads++;
    return { method: 'GET', path: '/cart', headers: { authorization: tokens[Math.floor(random() * tokens.length)] } };
  },
});

reportStats(() => ({ retained: sessions.size, expired, sweeps, reads, ballastMB }));
ready(`account-sessions: ${LOGINS_PER_SECOND} logins/s (speed 1), ${TTL_SECONDS / 60} min TTL, swept every ${SWEEP_SECONDS} s`);
