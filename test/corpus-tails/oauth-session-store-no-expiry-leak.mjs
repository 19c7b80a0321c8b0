// Storefront account service: the in-process session store `sessions`
// (session id -> session) behind the shop's web app. Password logins go
// through issueSession(), which sets a sliding 30-minute idle expiry that
// touchSession() pushes forward on every request; the sweeper deletes expired
// sessions every minute. Logging out deletes the session at once.
//
// At the onset "Sign in with Google" is enabled (the provider is added to
// OAUTH_PROVIDERS by a config push). Its callback, completeOAuthLogin(), was
// written as a copy of the password path that also keeps the provider's
// tokens and profile, and builds the session itself with
// createOAuthSession(), which never sets `expiresAt`. touchSession() only
// slides an expiry that exists, and the sweeper's `expiresAt < now` is false
// for undefined, so OAuth sessions live until their user clicks "log out",
// which most never do. Password sessions keep expiring normally.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import {
  buildBallast,
  KiB,
  listen,
  onShutdown,
  onsetMs,
  onsetSeconds,
  paced,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const DEFAULT_ONSET_S = 100 * 60;
const EPOCH_MS = 1_717_000_000_000;
const IDLE_TTL_S = 30 * 60;
const random = rng(0x5e551);

/** provider -> config; Google is added at the onset. */
const OAUTH_PROVIDERS = new Map();

// --- users (stand-in for the accounts table) ----------------------------------

const USER_COUNT = 60_000;
const FIRST = ['anna', 'ben', 'carla', 'david', 'eva', 'felix', 'greta', 'hugo', 'ines', 'jonas', 'katja', 'leon', 'mia', 'noah', 'olga', 'paul'];
const LAST = ['schmidt', 'martin', 'jansen', 'dubois', 'rossi', 'novak', 'berg', 'lindqvist', 'moreau', 'visser', 'keller', 'costa'];

function userRecord(userId) {
  const n = Number(userId.slice(1));
  return {
    id: userId,
    email: `${FIRST[n % FIRST.length]}.${LAST[(n >> 4) % LAST.length]}${n}@example.com`,
    name: `${FIRST[n % FIRST.length]} ${LAST[(n >> 4) % LAST.length]}`,
    roles: n % 97 === 0 ? ['customer', 'b2b-buyer'] : ['customer'],
    locale: ['de-DE', 'en-GB', 'fr-FR', 'nl-NL'][n % 4],
    passwordHash: createHash('sha256').update(`pw:${userId}`).digest('hex'),
  };
}

// --- the session store -------------------------------------------------------

/** session id -> session */
const sessions = new Map();
const counters = { passwordLogins: 0, oauthLogins: 0, logouts: 0, expired: 0, requests: 0, unauthorized: 0, sweeps: 0 };

function nowS() {
  return programSeconds();
}

function newSessionId() {
  return randomBytes(18).toString('base64url');
}

function baseSession(user) {
  const now = nowS();
  return {
    id: newSessionId(),
    userId: user.id,
    email: user.email,
    name: user.name,
    roles: user.roles,
    locale: user.locale,
    csrfToken: randomBytes(16).toString('hex'),
    createdAt: now,
    lastSeenAt: now,
    cart: { items: [], currency: 'EUR', updatedAt: now },
    recentlyViewed: [],
  };
}

function issueSession(user) {
  const session = baseSession(user);
  session.provider = 'password';
  session.expiresAt = session.createdAt + IDLE_TTL_S;
  sessions.set(session.id, session);
  return session;
}

function createOAuthSession(user, provider, tokens, profile) {
  const now = nowS();
  const session = {
    id: newSessionId(),
    userId: user.id,
    email: profile.email,
    name: profile.name,
    roles: user.roles,
    locale: profile.locale ?? user.locale,
    csrfToken: randomBytes(16).toString('hex'),
    createdAt: now,
    lastSeenAt: now,
    cart: { items: [], currency: 'EUR', updatedAt: now },
    recentlyViewed: [],
    provider,
    oauth: {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      idToken: tokens.id_token,
      scope: tokens.scope,
      tokenExpiresAt: now + tokens.expires_in,
      subject: profile.sub,
      picture: profile.picture,
    },
  };
  sessions.set(session.id, session);
  return session;
}

function touchSession(session) {
  session.lastSeenAt = nowS();
  if (session.expiresAt) session.expiresAt = session.lastSeenAt + IDLE_TTL_S;
}

function sweepExpired() {
  const now = nowS();
  counters.sweeps++;
  for (const [id, session] of sessions) {
    if (session.expiresAt < now) {
      sessions.delete(id);
      counters.expired++;
    }
  }
}

function sessionFrom(req) {
  const cookie = req.headers.cookie ?? '';
  const m = /(?:^|;\s*)sid=([\w-]+)/.exec(cookie);
  if (m === null) return null;
  const session = sessions.get(m[1]);
  if (session === undefined || session.expiresAt < nowS()) return null;
  return session;
}

// --- the identity provider stand-in ---------------------------------------------

function b64(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Exchanges an authorization code (the provider's token endpoint, a few ms away). */
function exchangeCode(provider, code) {
  return new Promise((resolve) => {
    setTimeout(() => {
      const userId = `u${Number.parseInt(code.split('.')[0], 36) % USER_COUNT}`;
      const user = userRecord(userId);
      const profile = { sub: createHash('sha1').update(`${provider}:${userId}`).digest('hex').slice(0, 21), email: user.email, name: user.name, locale: user.locale, picture: `https://lh3.googleusercontent.example/a/${randomBytes(24).toString('base64url')}=s96-c` };
      const header = b64({ alg: 'RS256', kid: 'a1b2c3d4e5', typ: 'JWT' });
      const claims = b64({ iss: 'https://accounts.google.example', aud: 'shop-web.apps.example', iat: Math.floor(EPOCH_MS / 1000 + nowS()), exp: Math.floor(EPOCH_MS / 1000 + nowS() + 3600), email_verified: true, ...profile });
      resolve({
        user,
        profile,
        tokens: {
          access_token: `ya29.${randomBytes(120).toString('base64url')}`,
          refresh_token: `1//${randomBytes(72).toString('base64url')}`,
          id_token: `${header}.${claims}.${randomBytes(256).toString('base64url')}`,
          scope: 'openid email profile',
          expires_in: 3599,
        },
      });
    }, 2 + random() * 6);
  });
}

async function completeOAuthLogin(providerName, code) {
  const provider = OAUTH_PROVIDERS.get(providerName);
  if (provider === undefined) return null;
  const { user, tokens, profile } = await exchangeCode(providerName, code);
  counters.oauthLogins++;
  return createOAuthSession(user, providerName, tokens, profile);
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value, headers = {}) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sessionCookie(session) {
  return { 'set-cookie': `sid=${session.id}; HttpOnly; Secure; SameSite=Lax; Path=/` };
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://shop.local');
  try {
    if (req.method === 'POST' && url.pathname === '/v1/login') {
      const body = JSON.parse((await readBody(req, 8 * KiB)).toString('utf8'));
      const user = userRecord(String(body.userId));
      if (createHash('sha256').update(`pw:${body.userId}`).digest('hex') !== user.passwordHash) return sendJson(res, 401, { error: 'invalid credentials' });
      counters.passwordLogins++;
      const session = issueSession(user);
      return sendJson(res, 200, { user: user.id, csrf: session.csrfToken }, sessionCookie(session));
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/oauth/') && url.pathname.endsWith('/callback')) {
      const provider = url.pathname.split('/')[3];
      const code = url.searchParams.get('code');
      if (code === null) return sendJson(res, 400, { error: 'code required' });
      const session = await completeOAuthLogin(provider, code);
      if (session === null) return sendJson(res, 404, { error: 'unknown provider' });
      return sendJson(res, 200, { user: session.userId, csrf: session.csrfToken }, sessionCookie(session));
    }
    if (req.method === 'GET' && url.pathname === '/v1/auth/providers') {
      return sendJson(res, 200, { providers: ['password', ...OAUTH_PROVIDERS.keys()] });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, sessions: sessions.size });

    const session = sessionFrom(req);
    counters.requests++;
    if (session === null) {
      counters.unauthorized++;
      return sendJson(res, 401, { error: 'login required' });
    }
    touchSession(session);
    if (req.method === 'GET' && url.pathname === '/v1/me') {
      return sendJson(res, 200, { id: session.userId, name: session.name, email: session.email, roles: session.roles, cart: session.cart.items.length });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/products/')) {
      const sku = url.pathname.slice('/v1/products/'.length);
      session.recentlyViewed.unshift(sku);
      if (session.recentlyViewed.length > 10) session.recentlyViewed.length = 10;
      return sendJson(res, 200, { sku, price: 1999, viewedBy: session.userId });
    }
    if (req.method === 'POST' && url.pathname === '/v1/cart/items') {
      const item = JSON.parse((await readBody(req, 8 * KiB)).toString('utf8'));
      if (session.cart.items.length < 30) session.cart.items.push({ sku: String(item.sku), quantity: Number(item.quantity) || 1, addedAt: nowS() });
      session.cart.updatedAt = nowS();
      return sendJson(res, 200, { items: session.cart.items.length });
    }
    if (req.method === 'POST' && url.pathname === '/v1/logout') {
      sessions.delete(session.id);
      counters.logouts++;
      return sendJson(res, 200, { ok: true }, { 'set-cookie': 'sid=; Max-Age=0; Path=/' });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, error instanceof SyntaxError ? 400 : 500, { error: String(error.message ?? error) });
  }
}

// --- shoppers (the load) -----------------------------------------------------

/** Shoppers currently browsing: { sid, userId, until, logsOut } (the browsers' side). */
const browsing = [];
let providers = ['password'];

/** Log-normal visit length in production seconds: median 8 min. */
function visitSeconds() {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(3 * 3600, 480 * Math.exp(0.9 * z));
}

function nextLogin() {
  const userId = `u${Math.floor(USER_COUNT * random() ** 1.5)}`;
  if (providers.includes('google') && random() < 0.45) {
    const code = `${Number(userId.slice(1)).toString(36)}.${randomBytes(12).toString('base64url')}`;
    return { method: 'GET', path: `/v1/oauth/google/callback?code=${code}&state=${randomBytes(8).toString('hex')}`, userId };
  }
  return { method: 'POST', path: '/v1/login', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId, password: 'correct horse battery staple' }), userId };
}

function onLogin(status, request, setCookie) {
  if (status !== 200) return;
  const m = /sid=([\w-]+)/.exec(setCookie);
  if (m === null) return;
  browsing.push({ sid: m[1], userId: request.userId, until: programSeconds() + visitSeconds(), logsOut: random() < 0.2 });
}

function nextBrowse() {
  const now = programSeconds();
  // shoppers whose visit is over leave; a fifth of them log out first
  for (let i = browsing.length - 1; i >= 0; i--) {
    const shopper = browsing[i];
    if (shopper.until > now) continue;
    browsing.splice(i, 1);
    if (shopper.logsOut) return { method: 'POST', path: '/v1/logout', headers: { cookie: `sid=${shopper.sid}` } };
  }
  if (browsing.length === 0) return { method: 'GET', path: '/healthz' };
  const shopper = browsing[Math.floor(random() * browsing.length)];
  const headers = { cookie: `sid=${shopper.sid}` };
  const roll = random();
  if (roll < 0.6) return { method: 'GET', path: `/v1/products/SKU-${Math.floor(random() * 40_000)}`, headers };
  if (roll < 0.8) return { method: 'GET', path: '/v1/me', headers };
  return { method: 'POST', path: '/v1/cart/items', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ sku: `SKU-${Math.floor(random() * 40_000)}`, quantity: 1 + Math.floor(random() * 2) }) };
}

// selfRequests hands onResponse the body only; the login client reads the session cookie itself.
function loginClient(port, perSecond) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const state = { sent: 0, failed: 0 };
  paced(perSecond, (due) => {
    for (let i = 0; i < due; i++) {
      const request = nextLogin();
      state.sent++;
      const headers = { ...request.headers };
      if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
      const req = http.request({ host: '127.0.0.1', port, method: request.method, path: request.path, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => onLogin(res.statusCode, request, String(res.headers['set-cookie'] ?? '')));
      });
      req.on('error', () => state.failed++);
      req.end(request.body);
    }
  });
  onShutdown(() => agent.destroy());
  return state;
}

// --- start -------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

const sweeper = setInterval(sweepExpired, scaledMs(60));
const enableGoogle = setTimeout(() => {
  OAUTH_PROVIDERS.set('google', { clientId: 'shop-web.apps.example', issuer: 'https://accounts.google.example', scopes: ['openid', 'email', 'profile'] });
  providers = ['password', 'google'];
}, onsetMs(DEFAULT_ONSET_S));
onShutdown(() => {
  clearInterval(sweeper);
  clearTimeout(enableGoogle);
});

// 0.3 logins/s; ~2.5 page/API requests/s from whoever is browsing.
const logins = loginClient(port, 0.3);
const browsers = selfRequests(port, { perSecond: 2.5, maxInFlight: 16, next: nextBrowse });

reportStats(() => {
  let oauth = 0;
  let noExpiry = 0;
  for (const session of sessions.values()) {
    if (session.provider !== 'password') oauth++;
    if (session.expiresAt === undefined) noExpiry++;
  }
  return {
    retained: sessions.size,
    oauthSessions: oauth,
    noExpiry,
    browsing: browsing.length,
    passwordLogins: counters.passwordLogins,
    oauthLogins: counters.oauthLogins,
    logouts: counters.logouts,
    expired: counters.expired,
    unauthorized: counters.unauthorized,
    requestsFailed: logins.failed + browsers.failed,
  };
});

ready(
  `oauth-session-store-no-expiry-leak: ~0.3 logins/s, 30-min idle sessions; from ${onsetSeconds(DEFAULT_ONSET_S)} s Google sign-in sessions never get expiresAt (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
