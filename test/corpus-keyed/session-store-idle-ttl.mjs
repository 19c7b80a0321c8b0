// Session service of a web shop's account platform. The edge gateway creates a
// session on every login (POST /v1/sessions), reports which sessions it saw
// traffic for every 5 s in one batch (POST /v1/sessions/touch), validates a
// session on a local-cache miss (GET /v1/sessions/:sid) and deletes it on logout
// (DELETE). Sessions live in the module-level Map `sessions` with a 30-minute
// idle TTL; sweepExpiredSessions() runs every minute. Logins follow a daily
// traffic curve (SCENARIO_CLOCK_H: hour of the day at start, default 10).
// Healthy: the map tracks logins x (activity + 30 min) and stays there.
import { randomBytes } from 'node:crypto';
import {
  buildBallast, envNumber, every, listen, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const IDLE_TTL_MS = 30 * 60 * 1000;
const SWEEP_EVERY_S = 60;
const TOUCH_BATCH_EVERY_S = 5;
const PEAK_LOGINS_PER_S = 6.5;
const MEAN_ACTIVE_S = 20 * 60;       // how long a user keeps clicking after logging in
const MEAN_CLICK_GAP_S = 60;         // one page view or API call a minute while active
const LOGOUT_SHARE = 0.2;            // the rest just walk away and idle out
const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 10, (v) => v >= 0 && v < 24);
const EPOCH_MS = Date.UTC(2024, 4, 14) + CLOCK_H * 3_600_000;
// Share of the peak login rate for each hour of the day (linear in between).
const DAILY_CURVE = [0.12, 0.08, 0.06, 0.05, 0.06, 0.1, 0.2, 0.4, 0.65, 0.85, 0.95, 1.0,
  0.97, 0.98, 1.0, 0.97, 0.9, 0.8, 0.7, 0.65, 0.6, 0.5, 0.35, 0.2];
const LOCALES = ['en-GB', 'de-DE', 'fr-FR', 'nl-NL', 'es-ES', 'it-IT', 'pl-PL', 'sv-SE'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  'ShopApp/7.3.0 (iOS 17.4; iPhone15,2)',
];

/** Production wall clock in ms (a fixed date at CLOCK_H plus program time). */
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);
const hourOfDay = () => (CLOCK_H + programSeconds() / 3600) % 24;

function trafficShare(hour) {
  const h = Math.floor(hour);
  const f = hour - h;
  return DAILY_CURVE[h] * (1 - f) + DAILY_CURVE[(h + 1) % 24] * f;
}

// --- the store --------------------------------------------------------------
class Session {
  constructor(id, userId, ip, userAgent, locale, now) {
    this.id = id;
    this.userId = userId;
    this.createdAt = now;
    this.lastSeenAt = now;
    this.ip = ip;
    this.userAgent = userAgent;
    this.csrfToken = randomBytes(16).toString('hex');
    this.roles = userId % 97 === 0 ? ['customer', 'support'] : ['customer'];
    this.data = { locale, currency: locale === 'en-GB' ? 'GBP' : 'EUR', cartId: null, mfa: userId % 5 === 0 };
  }
}

const sessions = new Map();
const metrics = { logins: 0, logouts: 0, expired: 0, touched: 0, unknownTouches: 0, sweeps: 0 };

const newSessionId = () => randomBytes(18).toString('base64url');

function createSession({ userId, ip, userAgent, locale }, now) {
  const session = new Session(newSessionId(), userId, ip, userAgent, locale, now);
  sessions.set(session.id, session);
  metrics.logins++;
  return session;
}

/** The session if it exists and has not idled out; refreshes its idle timer. */
function touchSession(sid, now) {
  const session = sessions.get(sid);
  if (session === undefined || now - session.lastSeenAt > IDLE_TTL_MS) return null;
  session.lastSeenAt = now;
  return session;
}

function sweepExpiredSessions() {
  const cutoff = nowMs() - IDLE_TTL_MS;
  for (const [sid, session] of sessions) {
    if (session.lastSeenAt < cutoff) {
      sessions.delete(sid);
      metrics.expired++;
    }
  }
  metrics.sweeps++;
}

// --- HTTP API ---------------------------------------------------------------
function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const now = nowMs();
  const path = req.url.split('?', 1)[0];
  if (req.method === 'POST' && path === '/v1/sessions') {
    const login = JSON.parse((await readBody(req)).toString('utf8'));
    const session = createSession(login, now);
    return sendJson(res, 201, { sid: session.id, csrf: session.csrfToken, expiresAt: now + IDLE_TTL_MS });
  }
  if (req.method === 'POST' && path === '/v1/sessions/touch') {
    const { ids } = JSON.parse((await readBody(req)).toString('utf8'));
    let live = 0;
    for (const sid of ids) if (touchSession(sid, now) !== null) live++;
    metrics.touched += live;
    metrics.unknownTouches += ids.length - live;
    return sendJson(res, 200, { live, unknown: ids.length - live });
  }
  if (path.startsWith('/v1/sessions/')) {
    const sid = path.slice('/v1/sessions/'.length);
    if (req.method === 'DELETE') {
      if (sessions.delete(sid)) metrics.logouts++;
      res.writeHead(204).end();
      return;
    }
    const session = touchSession(sid, now);
    if (session === null) return sendJson(res, 404, { error: 'no such session' });
    return sendJson(res, 200, { userId: session.userId, roles: session.roles, csrf: session.csrfToken, locale: session.data.locale });
  }
  if (path === '/healthz') return sendJson(res, 200, { ok: true, sessions: sessions.size });
  sendJson(res, 404, { error: 'not found' });
}

// --- the gateway (in-process client) ------------------------------------------
const random = rng(20240514);
const exponential = (mean) => -Math.log(1 - random()) * mean;
const activeUsers = []; // { sid, activeUntil } for users still clicking (production seconds)
const pendingLogouts = [];
let lastBatchAt = 0;

function randomIp() {
  return `${[81, 86, 92, 109, 145, 178, 185, 212][Math.floor(random() * 8)]}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`;
}

function nextLogin() {
  const userId = 100_000 + Math.floor(random() * 2_400_000);
  const login = { userId, ip: randomIp(), userAgent: AGENTS[Math.floor(random() * AGENTS.length)], locale: LOCALES[userId % LOCALES.length] };
  return { method: 'POST', path: '/v1/sessions', headers: { 'content-type': 'application/json' }, body: JSON.stringify(login) };
}

function onLogin(status, text) {
  if (status !== 201) return;
  activeUsers.push({ sid: JSON.parse(text).sid, activeUntil: programSeconds() + exponential(MEAN_ACTIVE_S) });
}

/** The sessions the gateway saw requests for since the last batch; drops users who stopped clicking. */
function nextTouchBatch() {
  const t = programSeconds();
  const clickChance = Math.min(1, (t - lastBatchAt) / MEAN_CLICK_GAP_S);
  lastBatchAt = t;
  const ids = [];
  for (let i = activeUsers.length - 1; i >= 0; i--) {
    const user = activeUsers[i];
    if (user.activeUntil <= t) {
      if (random() < LOGOUT_SHARE) pendingLogouts.push(user.sid);
      activeUsers[i] = activeUsers[activeUsers.length - 1];
      activeUsers.pop();
    } else if (random() < clickChance) ids.push(user.sid);
  }
  return { method: 'POST', path: '/v1/sessions/touch', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids }) };
}

function nextValidation() {
  if (activeUsers.length === 0) return { method: 'GET', path: '/healthz' };
  return { method: 'GET', path: `/v1/sessions/${activeUsers[Math.floor(random() * activeUsers.length)].sid}` };
}

const nextLogout = () => (pendingLogouts.length === 0 ? null : { method: 'DELETE', path: `/v1/sessions/${pendingLogouts.pop()}` });

// --- main -------------------------------------------------------------------
const ballastMb = buildBallast();
const { server, port } = await listen((req, res) => {
  handle(req, res).catch((error) => sendJson(res, 400, { error: error.message }));
});
server.keepAliveTimeout = 65_000; // longer than the load balancer's idle timeout
server.headersTimeout = 66_000;
const logins = selfRequests(port, { perSecond: () => PEAK_LOGINS_PER_S * trafficShare(hourOfDay()), next: nextLogin, onResponse: onLogin });
const touches = selfRequests(port, { perSecond: 1 / TOUCH_BATCH_EVERY_S, next: nextTouchBatch, maxInFlight: 2 });
const others = selfRequests(port, { perSecond: 1, next: nextValidation, maxInFlight: 8 });
const logouts = selfRequests(port, { perSecond: 4, next: nextLogout, maxInFlight: 8 });
every((SWEEP_EVERY_S * 1000) / speed, sweepExpiredSessions);

ready(`session store: Map of sessions, 30 min idle TTL swept every minute, peak ${PEAK_LOGINS_PER_S} logins/s on a daily curve from ${CLOCK_H}:00; port ${port}; ballast ${ballastMb} MB`);
reportStats(() => ({
  retained: sessions.size,
  activeUsers: activeUsers.length,
  hour: Math.round(hourOfDay() * 100) / 100,
  ...metrics,
  failed: logins.failed + touches.failed + others.failed + logouts.failed,
}));
