// Leaky (heap), slow: an account service whose logout deletes sessions by the
// wrong key, so every session ever created stays in the store.
//
// The store is in ./session-store.cjs (the leaking Map is `sessions` there).
// Users log in (POST /login), browse their cart for ~10 minutes (GET
// /api/cart every ~40 s, 15 requests each) and log out (POST /logout). Logout deletes by user id
// while the map is keyed by token: nothing is removed. Ordinary request churn
// (JSON bodies, response objects) sits on top.
//
// Speed 1: 0.5 logins/s, ~300 visitors online, ~7.5 cart reads/s, ~1.1 KB per session → ~2 MB/h of
// JS heap from the start. Cap: 150 000 sessions (~165 MB, after ~83 h at
// speed 1, ~83 min at SCENARIO_SPEED=60); further logins get 503.
// stats: retained = sessions in the store.
'use strict';
const { sessions, counters, createSession, getSession, destroySession, MAX_SESSIONS } = require('./session-store.cjs');

const LOGINS_PER_SECOND = 0.5;
const READ_EVERY_SECONDS = 40; // per visitor: ~300 visitors online, ~7.5 reads/s
const READS_PER_VISIT = 15;
const SESSION_TTL_SECONDS = 30 * 60;
const LOCALES = ['de-DE', 'en-GB', 'fr-FR', 'nl-NL'];
const AGENTS = ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148', 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0', 'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36'];

function userFor(id) {
  return {
    id,
    tenant: `shop-${id % 12}`,
    roles: id % 50 === 0 ? ['customer', 'support'] : ['customer'],
    locale: LOCALES[id % LOCALES.length],
    timezone: 'Europe/Berlin',
  };
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function bearer(req) {
  const header = req.headers.authorization ?? '';
  return header.startsWith('Bearer ') ? header.slice(7) : '';
}

async function main() {
  const lib = await import('./lib/corpus.mjs');
  const ttlMs = lib.scaledMs(SESSION_TTL_SECONDS);
  const ballastMB = lib.buildBallast();

  async function handle(req, res) {
    if (req.method === 'POST' && req.url === '/login') {
      const { userId } = JSON.parse((await lib.readBody(req)).toString('utf8'));
      const session = createSession(userFor(userId), { ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] }, ttlMs);
      if (session === null) return sendJson(res, 503, { error: 'too many sessions' });
      return sendJson(res, 200, { token: session.token, csrf: session.csrfToken });
    }
    const session = getSession(bearer(req), ttlMs);
    if (session === null) return sendJson(res, 401, { error: 'not logged in' });
    if (req.method === 'POST' && req.url === '/logout') {
      destroySession(session);
      return sendJson(res, 204, {});
    }
    if (req.method === 'GET' && req.url === '/api/cart') {
      const items = session.cart.items.map((item) => ({ ...item, lineTotal: item.qty * item.priceCents }));
      return sendJson(res, 200, { user: session.userId, currency: session.cart.currency, items, prefs: session.prefs });
    }
    return sendJson(res, 404, { error: 'no route' });
  }

  const { port } = await lib.listen((req, res) => {
    handle(req, res).catch(() => sendJson(res, 500, { error: 'internal' }));
  });

  // Client side: visitors log in, read their cart READS_PER_VISIT times, log out.
  const visitors = [];
  let nextUser = 0;
  const random = lib.rng(2);
  lib.selfRequests(port, {
    perSecond: LOGINS_PER_SECOND,
    next: () => ({ method: 'POST', path: '/login', headers: { 'content-type': 'application/json', 'user-agent': AGENTS[nextUser % AGENTS.length] }, body: JSON.stringify({ userId: ++nextUser % 200_000 }) }),
    onResponse: (status, text) => {
      if (status === 200) visitors.push({ token: JSON.parse(text).token, reads: 0 });
    },
  });
  lib.selfRequests(port, {
    perSecond: () => visitors.length / READ_EVERY_SECONDS,
    next: () => {
      if (visitors.length === 0) return null;
      const index = Math.floor(random() * visitors.length);
      const visitor = visitors[index];
      const headers = { authorization: `Bearer ${visitor.token}` };
      if (++visitor.reads < READS_PER_VISIT) return { method: 'GET', path: '/api/cart', headers };
      visitors[index] = visitors[visitors.length - 1];
      visitors.pop();
      return { method: 'POST', path: '/logout', headers };
    },
  });

  lib.reportStats(() => ({
    retained: sessions.size,
    capped: sessions.size >= MAX_SESSIONS,
    visitors: visitors.length,
    loggedOut: counters.loggedOut,
    ballastMB,
  }));
  lib.ready('slow-leak-2mb-h: logout deletes sessions by the wrong key (~2 MB/h at speed 1)');
}

main();
