// Storefront account service: customers log in (POST /v1/login) and get a
// session cookie; every authenticated request (product pages, cart, /me)
// touches the session, which expires 3 hours after its last use. Sessions
// live in the module-level Map `sessions` (token -> session built by
// createSession: user, device, CSRF token, cart, recently viewed); a sweeper
// removes expired ones every 5 minutes, and a logout removes one at once.
//
// Customers arrive steadily from the start (the process starts empty, e.g.
// after a deploy with an in-memory store), browse for a few minutes, and
// leave; some come back later with their cookie. So the store fills roughly
// linearly for about three hours (arrivals, nothing old enough to expire),
// and then expiry matches arrivals and the store stays at the same size.
import { createHash, randomBytes } from 'node:crypto';
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

const random = rng(0x5e55_1011);
const EPOCH_MS = Date.UTC(2024, 2, 11, 9, 0);
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);

const SESSION_IDLE_MS = 3 * 3_600_000;
const SWEEP_EVERY_S = 300;
const CART_LIMIT = 50;
const RECENTLY_VIEWED = 12;

// --- identity provider stand-in -------------------------------------------------------

const FIRST = ['Ava', 'Ben', 'Chloe', 'Daan', 'Eva', 'Finn', 'Grace', 'Hugo', 'Isla', 'Jules', 'Kai', 'Lena', 'Milan', 'Noor', 'Oscar', 'Puck'];
const LAST = ['de Vries', 'Jansen', 'Bakker', 'Visser', 'Smit', 'Meijer', 'Mulder', 'Bos', 'Vos', 'Peters'];
const LOCALES = ['nl-NL', 'nl-NL', 'nl-NL', 'en-GB', 'de-DE', 'fr-BE'];

function userRecord(userNo) {
  return {
    id: `usr_${userNo.toString(36).padStart(7, '0')}`,
    email: `customer${userNo}@mail.example.net`,
    displayName: `${FIRST[userNo % FIRST.length]} ${LAST[(userNo >> 4) % LAST.length]}`,
    locale: LOCALES[userNo % LOCALES.length],
    roles: userNo % 50 === 0 ? ['customer', 'business'] : ['customer'],
    betaCheckout: userNo % 10 === 0,
  };
}

const passwordHash = (email, password) => createHash('sha256').update(`pepper:${email}:${password}`).digest('hex');

/** Looks the user up and checks the password (the stand-in knows every customer's password). */
function authenticate(email, password) {
  const match = /^customer(\d+)@mail\.example\.net$/.exec(email);
  if (match === null) return null;
  const userNo = Number(match[1]);
  if (passwordHash(email, password) !== passwordHash(email, `pw-${userNo}`)) return null;
  return userRecord(userNo);
}

// --- session store -----------------------------------------------------------------------

/** token -> session */
const sessions = new Map();
const sessionStats = { created: 0, expired: 0, loggedOut: 0, rejected: 0, touches: 0 };

function createSession(user, meta, now) {
  return {
    id: randomBytes(24).toString('base64url'),
    userId: user.id,
    email: user.email,
    displayName: user.displayName,
    locale: user.locale,
    roles: user.roles,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + SESSION_IDLE_MS,
    ip: meta.ip,
    userAgent: meta.userAgent,
    csrfToken: randomBytes(16).toString('hex'),
    cart: { items: [], updatedAt: now },
    recentlyViewed: [],
    flags: { betaCheckout: user.betaCheckout },
  };
}

function touch(session, now) {
  session.lastSeenAt = now;
  session.expiresAt = now + SESSION_IDLE_MS;
  sessionStats.touches++;
}

function sessionFrom(req, now) {
  const cookie = req.headers.cookie ?? '';
  const at = cookie.indexOf('sid=');
  if (at === -1) return null;
  const end = cookie.indexOf(';', at);
  const session = sessions.get(cookie.slice(at + 4, end === -1 ? undefined : end));
  if (session === undefined) return null;
  if (session.expiresAt <= now) {
    sessions.delete(session.id);
    sessionStats.expired++;
    return null;
  }
  touch(session, now);
  return session;
}

function sweepExpired() {
  const now = nowMs();
  for (const [token, session] of sessions) {
    if (session.expiresAt <= now) {
      sessions.delete(token);
      sessionStats.expired++;
    }
  }
}

// --- HTTP ------------------------------------------------------------------------------------

function sendJson(res, status, value, headers = {}) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const PRODUCTS = 12_000;

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://shop.local');
  const now = nowMs();
  try {
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    if (req.method === 'POST' && url.pathname === '/v1/login') {
      const { email, password } = JSON.parse((await readBody(req)).toString('utf8'));
      const user = authenticate(email, password);
      if (user === null) {
        sessionStats.rejected++;
        return sendJson(res, 401, { error: 'invalid credentials' });
      }
      const session = createSession(user, { ip: req.headers['x-forwarded-for'] ?? req.socket.remoteAddress, userAgent: req.headers['user-agent'] ?? '' }, now);
      sessions.set(session.id, session);
      sessionStats.created++;
      return sendJson(res, 200, { token: session.id, csrfToken: session.csrfToken, expiresAt: session.expiresAt }, {
        'set-cookie': `sid=${session.id}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=${SESSION_IDLE_MS / 1000}`,
      });
    }
    const session = sessionFrom(req, now);
    if (session === null) return sendJson(res, 401, { error: 'login required' });
    if (req.method === 'GET' && url.pathname === '/v1/me') {
      return sendJson(res, 200, { userId: session.userId, displayName: session.displayName, cartItems: session.cart.items.length });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/products/')) {
      const productId = url.pathname.slice('/v1/products/'.length);
      const viewed = session.recentlyViewed;
      if (viewed[0] !== productId) {
        viewed.unshift(productId);
        if (viewed.length > RECENTLY_VIEWED) viewed.pop();
      }
      const n = Number(productId.slice(2));
      return sendJson(res, 200, { id: productId, title: `Product ${n}`, priceCents: 999 + ((n * 7919) % 20_000), recentlyViewed: viewed.length });
    }
    if (req.method === 'POST' && url.pathname === '/v1/cart/items') {
      const item = JSON.parse((await readBody(req)).toString('utf8'));
      if (session.cart.items.length < CART_LIMIT) session.cart.items.push({ productId: item.productId, quantity: item.quantity, addedAt: now });
      session.cart.updatedAt = now;
      return sendJson(res, 200, { items: session.cart.items.length });
    }
    if (req.method === 'POST' && url.pathname === '/v1/logout') {
      sessions.delete(session.id);
      sessionStats.loggedOut++;
      return sendJson(res, 200, { ok: true }, { 'set-cookie': 'sid=; Path=/; Max-Age=0' });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- customers (the load) ---------------------------------------------------------------

const USER_AGENTS = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15',
];
const CUSTOMERS = 400_000;

/** Visitors browsing right now: {token, pagesLeft, ua, ip}. */
const browsing = [];
/** Tokens of visitors who left without logging out (the browser keeps the cookie), most recent last. */
const cookieJar = [];
/** Returning customers whose cookie had expired: they log in again. */
const pendingLogins = [];
const visits = { arrivals: 0, returning: 0, resumed: 0, pages: 0, left: 0, loggedOut: 0 };

function visitPages() {
  const u = Math.max(1e-12, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.max(1, Math.min(60, Math.round(6 * Math.exp(0.8 * z))));
}

function newVisitor() {
  const userNo = 1 + Math.floor(random() * CUSTOMERS);
  return { userNo, token: null, pagesLeft: visitPages(), ua: USER_AGENTS[userNo % USER_AGENTS.length], ip: `10.${(userNo >> 16) & 255}.${(userNo >> 8) & 255}.${userNo & 255}` };
}

function loginRequest(visitor) {
  return {
    method: 'POST',
    path: '/v1/login',
    headers: { 'content-type': 'application/json', 'user-agent': visitor.ua, 'x-forwarded-for': visitor.ip },
    body: JSON.stringify({ email: `customer${visitor.userNo}@mail.example.net`, password: random() < 0.02 ? 'hunter2' : `pw-${visitor.userNo}` }),
    visitor,
  };
}

/** An arrival: mostly a login; sometimes a returning customer whose browser still has a cookie. */
function nextArrival() {
  visits.arrivals++;
  if (cookieJar.length > 0 && random() < 0.15) {
    const past = cookieJar.splice(Math.floor(random() * cookieJar.length), 1)[0];
    visits.returning++;
    const visitor = { ...past, pagesLeft: visitPages() };
    return { method: 'GET', path: '/v1/me', headers: { cookie: `sid=${visitor.token}`, 'user-agent': visitor.ua }, visitor };
  }
  return loginRequest(newVisitor());
}

function onArrival(status, text, request) {
  const visitor = request.visitor;
  if (request.path === '/v1/login') {
    if (status !== 200) return; // wrong password: they give up
    visitor.token = JSON.parse(text).token;
    browsing.push(visitor);
    return;
  }
  if (status === 200) {
    visits.resumed++;
    browsing.push(visitor);
  } else {
    pendingLogins.push(visitor); // cookie expired: log in again
  }
}

function nextPage() {
  if (pendingLogins.length > 0) return loginRequest(pendingLogins.shift());
  if (browsing.length === 0) return null;
  const index = Math.floor(random() * browsing.length);
  const visitor = browsing[index];
  visitor.pagesLeft--;
  visits.pages++;
  const headers = { cookie: `sid=${visitor.token}`, 'user-agent': visitor.ua };
  if (visitor.pagesLeft <= 0) {
    browsing[index] = browsing[browsing.length - 1];
    browsing.pop();
    visits.left++;
    if (random() < 0.12) {
      visits.loggedOut++;
      return { method: 'POST', path: '/v1/logout', headers, visitor };
    }
    cookieJar.push(visitor);
    if (cookieJar.length > 1_500) cookieJar.shift();
  }
  const roll = random();
  if (roll < 0.12) {
    return { method: 'POST', path: '/v1/cart/items', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ productId: `p-${Math.floor(random() * PRODUCTS)}`, quantity: 1 + Math.floor(random() * 3) }), visitor };
  }
  if (roll < 0.2) return { method: 'GET', path: '/v1/me', headers, visitor };
  return { method: 'GET', path: `/v1/products/p-${Math.floor(random() * random() * PRODUCTS)}`, headers, visitor };
}

function onPage(status, text, request) {
  if (request.path === '/v1/login') onArrival(status, text, request);
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

every((SWEEP_EVERY_S * 1000) / speed, sweepExpired);

// Customers arrive steadily: 0.6 a second.
const arrivals = selfRequests(port, { perSecond: 0.6, maxInFlight: 8, next: nextArrival, onResponse: onArrival });
// Each browsing customer requests a page every ~75 s.
const pages = selfRequests(port, { perSecond: () => browsing.length / 75, maxInFlight: 16, next: nextPage, onResponse: onPage });
// Load balancer health checks.
const health = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: sessions.size,
  created: sessionStats.created,
  expired: sessionStats.expired,
  loggedOut: sessionStats.loggedOut,
  browsing: browsing.length,
  returning: visits.returning,
  resumed: visits.resumed,
  requestsFailed: arrivals.failed + pages.failed + health.failed,
}));

ready(
  `storefront-session-store-3h-sliding-expiry: 0.6 customers/s log in; sessions expire 3 h after last use, swept every 5 min, so the store fills for ~3 h and then holds (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
