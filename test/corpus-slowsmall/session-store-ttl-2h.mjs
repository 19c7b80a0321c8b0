// session-store-ttl-2h: the session service of a shop front. Sessions live in
// the module-level SessionStore (a Map sid -> session plus a userId -> sid
// index) with a 2-hour idle TTL, swept every minute. Steady traffic: visitors
// arrive, browse a handful of pages over a few minutes (touching their
// session, adding to the cart, viewing products), leave; about a third come
// back 2-40 minutes later with their cookie and find their session. So the
// number of live sessions grows for the first ~2 h (nothing is old enough to
// expire yet) and then stays level: as many expire per minute as are created.
// Healthy.
import {
  buildBallast,
  listen,
  onShutdown,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 3; // speed 1
const IDLE_TTL_S = 2 * 3600;
const SWEEP_EVERY_S = 60;
const ACTIVE_VISITS = 20;
const RETURN_SHARE = 0.33;

// --- Session store ------------------------------------------------------------------

class SessionStore {
  constructor({ idleTtlMs, sweepEveryMs }) {
    this.idleTtlMs = idleTtlMs;
    this.sessions = new Map();
    this.byUser = new Map();
    this.stats = { created: 0, touched: 0, expired: 0, missed: 0 };
    this.timer = setInterval(() => this.sweep(), sweepEveryMs);
  }

  create(userId, meta) {
    const session = {
      sid: randomToken(24),
      userId,
      createdAt: Date.now(),
      lastSeenAt: Date.now(),
      ip: meta.ip,
      userAgent: meta.userAgent,
      csrfToken: randomToken(16),
      locale: meta.locale,
      cart: [],
      recentlyViewed: [],
      flash: null,
    };
    this.sessions.set(session.sid, session);
    this.byUser.set(userId, session.sid);
    this.stats.created++;
    return session;
  }

  get(sid) {
    const session = this.sessions.get(sid);
    if (session === undefined) return undefined;
    if (Date.now() - session.lastSeenAt > this.idleTtlMs) {
      this.destroy(session);
      this.stats.missed++;
      return undefined;
    }
    session.lastSeenAt = Date.now();
    this.stats.touched++;
    return session;
  }

  destroy(session) {
    this.sessions.delete(session.sid);
    if (this.byUser.get(session.userId) === session.sid) this.byUser.delete(session.userId);
  }

  sweep() {
    const cutoff = Date.now() - this.idleTtlMs;
    for (const session of this.sessions.values()) {
      if (session.lastSeenAt < cutoff) {
        this.destroy(session);
        this.stats.expired++;
      }
    }
  }

  close() {
    clearInterval(this.timer);
  }
}

const tokenRandom = rng(0x5e55);
const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function randomToken(length) {
  let token = '';
  for (let i = 0; i < length; i++) token += TOKEN_ALPHABET[Math.floor(tokenRandom() * 64)];
  return token;
}

const store = new SessionStore({ idleTtlMs: scaledMs(IDLE_TTL_S), sweepEveryMs: scaledMs(SWEEP_EVERY_S) });
onShutdown(() => store.close());

// --- Shop routes ----------------------------------------------------------------------------

const PRODUCTS = Array.from({ length: 3000 }, (_, i) => ({ id: `p${i}`, name: `Product ${i}`, priceCents: 199 + ((i * 3571) % 20000) }));

function parseCookie(header) {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, value] = part.trim().split('=');
    if (name === 'sid') return value;
  }
  return undefined;
}

function remember(list, item, max) {
  const at = list.indexOf(item);
  if (at >= 0) list.splice(at, 1);
  list.unshift(item);
  if (list.length > max) list.length = max;
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url, 'http://shop.internal');
  if (req.method === 'POST' && url.pathname === '/v1/sessions') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    const session = store.create(body.userId, { ip: req.headers['x-forwarded-for'], userAgent: req.headers['user-agent'], locale: body.locale });
    return sendJson(res, 201, { sid: session.sid, csrfToken: session.csrfToken }, { 'set-cookie': `sid=${session.sid}; HttpOnly; Path=/` });
  }
  const session = store.get(parseCookie(req.headers.cookie));
  if (session === undefined) return sendJson(res, 401, { error: 'session expired' });
  if (req.method === 'GET' && url.pathname.startsWith('/v1/products/')) {
    const product = PRODUCTS[Number(url.pathname.slice('/v1/products/p'.length))];
    if (product === undefined) return sendJson(res, 404, { error: 'not found' });
    remember(session.recentlyViewed, product.id, 12);
    return sendJson(res, 200, { ...product, recentlyViewed: session.recentlyViewed.length });
  }
  if (req.method === 'POST' && url.pathname === '/v1/cart') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    if (session.cart.length < 30) session.cart.push({ productId: body.productId, qty: body.qty, addedAt: new Date().toISOString() });
    session.flash = `Added ${body.productId} to your cart`;
    return sendJson(res, 200, { items: session.cart.length });
  }
  if (req.method === 'GET' && url.pathname === '/v1/me') {
    const flash = session.flash;
    session.flash = null;
    return sendJson(res, 200, { userId: session.userId, cart: session.cart.length, flash });
  }
  sendJson(res, 404, { error: 'no route' });
}

// --- Visitors (simulated browsers) ---------------------------------------------------------------

const random = rng(0xb105e);
const visits = [];
const returning = []; // { at, userId, sid } queued to come back with their cookie
let userSeq = 0;
const visitorStats = { visits: 0, returns: 0, expiredOnReturn: 0 };

function startVisit() {
  const now = Date.now();
  if (returning.length > 0 && returning[0].at <= now) {
    const back = returning.shift();
    visitorStats.returns++;
    return { userId: back.userId, sid: back.sid, pagesLeft: 2 + Math.floor(random() * 8), started: false };
  }
  visitorStats.visits++;
  userSeq++;
  return { userId: `user-${userSeq}`, sid: null, pagesLeft: 2 + Math.floor(random() * 9), started: false, ua: USER_AGENTS[userSeq % USER_AGENTS.length] };
}

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36',
];

function endVisit(visit) {
  if (visit.sid !== null && random() < RETURN_SHARE) {
    const at = Date.now() + scaledMs(120 + random() * 2280);
    const entry = { at, userId: visit.userId, sid: visit.sid };
    let i = returning.length;
    while (i > 0 && returning[i - 1].at > at) i--;
    returning.splice(i, 0, entry);
  }
}

function nextRequest() {
  while (visits.length < ACTIVE_VISITS) visits.push(startVisit());
  const slot = Math.floor(random() * visits.length);
  const visit = visits[slot];
  if (visit.sid === null) {
    visit.sid = 'pending';
    return {
      method: 'POST',
      path: '/v1/sessions',
      headers: { 'content-type': 'application/json', 'user-agent': visit.ua, 'x-forwarded-for': `10.${userSeq % 250}.${(userSeq >> 8) % 250}.${1 + (userSeq % 200)}` },
      body: JSON.stringify({ userId: visit.userId, locale: random() < 0.6 ? 'en-GB' : 'de-DE' }),
      visit,
    };
  }
  if (visit.sid === 'pending') return null; // waiting for its login response
  visit.pagesLeft--;
  if (visit.pagesLeft <= 0) {
    visits.splice(slot, 1);
    endVisit(visit);
  }
  const headers = { cookie: `sid=${visit.sid}; theme=light` };
  const roll = random();
  if (roll < 0.6) return { method: 'GET', path: `/v1/products/p${Math.floor(random() ** 2 * PRODUCTS.length)}`, headers, visit };
  if (roll < 0.8) return { method: 'POST', path: '/v1/cart', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ productId: `p${Math.floor(random() * PRODUCTS.length)}`, qty: 1 }), visit };
  return { method: 'GET', path: '/v1/me', headers, visit };
}

function onResponse(status, text, request) {
  const visit = request.visit;
  if (request.path === '/v1/sessions') {
    visit.sid = status === 201 ? JSON.parse(text).sid : null;
    return;
  }
  if (status === 401 && visit.sid !== null) {
    visitorStats.expiredOnReturn++;
    visit.sid = null; // logs in again
  }
}

// --- Start ---------------------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);
const client = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: nextRequest, onResponse });

reportStats(() => ({
  retained: store.sessions.size,
  sessions: store.sessions.size,
  users: store.byUser.size,
  ...store.stats,
  ...visitorStats,
  queuedReturns: returning.length,
  requests: client.completed,
  failed: client.failed,
}));

ready(`session-store-ttl-2h: shop session service, ${REQUESTS_PER_SECOND} req/s, sessions expire after 2 h idle, so the store fills for ~2 h and then holds level; ballast ${ballastMb} MB`);
