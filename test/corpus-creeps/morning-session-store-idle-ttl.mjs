// Web shop front-end API with an in-memory session store. A visitor's first
// request creates a session (POST /v1/session: an id cookie, a CSRF token, the
// locale, the campaign they came from, an empty cart); every page they load
// (GET /v1/pages/...) and every cart change (POST /v1/cart) touches it. The
// store (class SessionStore, Map `sessions`) expires a session after 4 hours
// without a request: a sweep every 5 minutes deletes the idle ones, and an
// expired session found on a request is replaced by a fresh one.
//
// The program starts at 07:00. Traffic ramps up linearly over the first two
// hours of the morning (from a tenth of the day rate to the full rate of ~0.3
// new visitors/s) and then stays flat. A visit lasts a few minutes; some
// visitors come back later in the day with the same cookie. The store fills
// for as long as the 4-hour TTL window still contains the lighter early
// morning (until ~6 h10 min of program time) and then holds steady: sessions
// expire as fast as new ones arrive. Healthy.
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
import { createHash } from 'node:crypto';

const random = rng(0x5e551);
const EPOCH_MS = Date.UTC(2024, 5, 3, 7, 0, 0);
const IDLE_TTL_MS = 4 * 3600 * 1000;
const RAMP_S = 2 * 3600;
/** New visitors per second at full (daytime) traffic. */
const DAY_ARRIVALS_PER_S = 0.3;

function clockMs() {
  return EPOCH_MS + Math.round(programSeconds() * 1000);
}

function randomToken(bytes) {
  let out = '';
  for (let i = 0; i < bytes; i += 4) out += Math.floor(random() * 4294967296).toString(16).padStart(8, '0');
  return out.slice(0, bytes * 2);
}

// --- sessions --------------------------------------------------------------------------

class SessionStore {
  constructor(idleTtlMs) {
    this.idleTtlMs = idleTtlMs;
    /** session id -> session. */
    this.sessions = new Map();
    this.created = 0;
    this.expired = 0;
  }

  create(meta) {
    const now = clockMs();
    const session = {
      id: randomToken(24),
      csrf: randomToken(16),
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.idleTtlMs,
      locale: meta.locale,
      campaign: meta.campaign,
      userAgentHash: createHash('sha1').update(meta.userAgent).digest('base64'),
      customerId: null,
      cart: { lines: [], currency: 'EUR', updatedAt: now },
      recentlyViewed: [],
      pages: 0,
    };
    this.sessions.set(session.id, session);
    this.created++;
    return session;
  }

  /** The live session for `id` (touched), or undefined if unknown or expired. */
  get(id) {
    const session = this.sessions.get(id);
    if (session === undefined) return undefined;
    const now = clockMs();
    if (session.expiresAt <= now) {
      this.sessions.delete(id);
      this.expired++;
      return undefined;
    }
    session.lastSeenAt = now;
    session.expiresAt = now + this.idleTtlMs;
    return session;
  }

  sweep() {
    const now = clockMs();
    for (const [id, session] of this.sessions) {
      if (session.expiresAt <= now) {
        this.sessions.delete(id);
        this.expired++;
      }
    }
  }
}

const store = new SessionStore(IDLE_TTL_MS);
// Sweep every 5 production minutes.
let lastSweep = 0;

function maybeSweep() {
  const t = programSeconds();
  if (t - lastSweep >= 300) {
    lastSweep = t;
    store.sweep();
  }
}

// --- HTTP ------------------------------------------------------------------------------------

function sendJson(res, status, value, headers) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sessionIdOf(req) {
  const cookie = req.headers.cookie;
  if (cookie === undefined) return undefined;
  const match = /(?:^|;\s*)sid=([0-9a-f]+)/.exec(cookie);
  return match === null ? undefined : match[1];
}

function remember(session, path) {
  session.pages++;
  session.recentlyViewed.push(path);
  if (session.recentlyViewed.length > 10) session.recentlyViewed.shift();
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://shop.local');
  maybeSweep();
  try {
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, sessions: store.sessions.size });
    let session = store.get(sessionIdOf(req));
    let cookie;
    if (session === undefined) {
      session = store.create({ locale: req.headers['accept-language'] ?? 'en', campaign: url.searchParams.get('utm_campaign'), userAgent: req.headers['user-agent'] ?? '' });
      cookie = { 'set-cookie': `sid=${session.id}; HttpOnly; Secure; SameSite=Lax; Path=/` };
    }
    if (req.method === 'POST' && url.pathname === '/v1/session') return sendJson(res, 200, { sid: session.id, csrf: session.csrf }, cookie);
    if (req.method === 'GET' && url.pathname.startsWith('/v1/pages/')) {
      remember(session, url.pathname);
      return sendJson(res, 200, { page: url.pathname.slice(10), cartItems: session.cart.lines.length, sid: session.id }, cookie);
    }
    if (req.method === 'POST' && url.pathname === '/v1/cart') {
      const line = JSON.parse((await readBody(req)).toString('utf8'));
      if (session.cart.lines.length < 20) session.cart.lines.push({ sku: line.sku, quantity: line.quantity, addedAt: clockMs() });
      session.cart.updatedAt = clockMs();
      return sendJson(res, 200, { cartItems: session.cart.lines.length, sid: session.id }, cookie);
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- visitors (the load) -----------------------------------------------------------------------

const LOCALES = ['de-DE', 'de-DE', 'nl-NL', 'en-GB', 'fr-FR'];
const CAMPAIGNS = [null, null, null, 'newsletter-w23', 'summer-sale', 'retargeting'];
const AGENTS = ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/125.0', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15', 'Mozilla/5.0 (Linux; Android 14) Chrome/125.0 Mobile'];
const PAGES = ['home', 'category/shoes', 'category/jackets', 'search', 'product/p-', 'product/p-', 'product/p-', 'cart'];

/** Visitor arrivals per second at program time t (production seconds). */
function arrivalsPerSecond(t) {
  return DAY_ARRIVALS_PER_S * (0.1 + 0.9 * Math.min(1, t / RAMP_S));
}

/** Visits in progress: the next request's due time and what is left. */
const visits = [];
/** Cookies of recent visitors who may come back later in the day (most recent 3 000). */
const returning = [];
let nextArrivalAt = 0;

function startVisit(t) {
  const comeback = returning.length > 0 && random() < 0.2;
  const visit = {
    sid: comeback ? returning[Math.floor(random() * returning.length)] : null,
    locale: LOCALES[Math.floor(random() * LOCALES.length)],
    agent: AGENTS[Math.floor(random() * AGENTS.length)],
    campaign: CAMPAIGNS[Math.floor(random() * CAMPAIGNS.length)],
    pagesLeft: 2 + Math.floor(random() * random() * 14),
    dueAt: t,
  };
  visits.push(visit);
}

function onResponse(status, text, request) {
  if (status !== 200 || request.visit === undefined) return;
  const { sid } = JSON.parse(text);
  if (request.visit.sid !== sid) {
    request.visit.sid = sid;
    returning.push(sid);
    if (returning.length > 3000) returning.shift();
  }
}

function nextRequest() {
  const t = programSeconds();
  while (nextArrivalAt <= t) {
    startVisit(nextArrivalAt);
    nextArrivalAt += -Math.log(Math.max(1e-9, random())) / arrivalsPerSecond(nextArrivalAt);
  }
  if (random() < 0.01) return { method: 'GET', path: '/healthz' };
  let due = -1;
  for (let i = 0; i < visits.length; i++) if (visits[i].dueAt <= t && (due === -1 || visits[i].dueAt < visits[due].dueAt)) due = i;
  if (due === -1) return null;
  const visit = visits[due];
  const headers = { 'user-agent': visit.agent, 'accept-language': visit.locale };
  if (visit.sid !== null) headers.cookie = `sid=${visit.sid}; consent=1`;
  let request;
  if (visit.sid === null) {
    request = { method: 'POST', path: `/v1/session${visit.campaign === null ? '' : `?utm_campaign=${visit.campaign}`}`, headers, visit };
  } else if (random() < 0.12) {
    request = { method: 'POST', path: '/v1/cart', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ sku: `p-${Math.floor(random() * 50_000)}`, quantity: 1 }), visit };
  } else {
    const page = PAGES[Math.floor(random() * PAGES.length)];
    request = { method: 'GET', path: `/v1/pages/${page}${page.endsWith('-') ? Math.floor(random() * 50_000) : ''}`, headers, visit };
  }
  if (--visit.pagesLeft <= 0) visits.splice(due, 1);
  // Think time between pages: 10-60 s.
  else visit.dueAt = t + 10 + random() * 50;
  return request;
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Polled 4 times a production second; requests go out when a visitor's next page is due (~2 req/s at full traffic).
const visitors = selfRequests(port, { perSecond: 4, maxInFlight: 16, next: nextRequest, onResponse });

reportStats(() => ({
  retained: store.sessions.size,
  created: store.created,
  expired: store.expired,
  visitsInProgress: visits.length,
  arrivalsPerSecond: Math.round(arrivalsPerSecond(programSeconds()) * 1000) / 1000,
  requestsFailed: visitors.failed,
}));

ready(
  `morning-session-store-idle-ttl: shop session store with a 4 h idle TTL; visitor traffic ramps up over 2 h then stays flat, so the store fills until the TTL window is all daytime traffic (~6.2 h) and then holds (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
