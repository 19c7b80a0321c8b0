// Login/session service of a ticketing site. It mostly waits: a login
// creates the session record, then waits for the identity provider to check
// the credentials (~0.8 s median when the IdP is quiet). Traffic is 0.8
// logins/s with three 45-minute on-sale peaks at x3 (0.75-1.5 h, 2.5-3.25 h,
// 4.25-5 h). Under peak load the IdP slows down and some logins hit the
// 4-second timeout.
//
// Sessions live in the module-level Map `sessions`. beginLogin() registers
// the session as 'pending' before the IdP call (so a double-submitted form
// finds it); a successful login makes it 'active', and the sweeper expires
// active sessions after 15 minutes without activity. The bug: when the IdP
// call times out, the handler answers 504 but never deletes the pending
// session, and the sweeper only looks at active sessions. Outside the peaks
// a timeout is rare; every peak leaves several hundred pending sessions
// behind for good, so memory steps up at each peak and never comes back.
import {
  buildBallast,
  every,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';
import { randomBytes } from 'node:crypto';

const random = rng(0x5e55);

const PEAKS = [
  [2700, 5400],
  [9000, 11700],
  [15300, 18000],
];
function trafficFactor() {
  const s = programSeconds();
  for (const [from, to] of PEAKS) {
    if (s >= from - 300 && s < from) return 1 + 2 * ((s - (from - 300)) / 300);
    if (s >= from && s <= to) return 3;
    if (s > to && s <= to + 300) return 1 + 2 * ((to + 300 - s) / 300);
  }
  return 1;
}

function logNormal(median, sigma) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

// --- the identity provider: slower under load ---------------------------------------------

const IDP_TIMEOUT_MS = 4000;
const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});

function idpLatencyMs() {
  return logNormal(800 * (1 + 0.8 * (trafficFactor() - 1)), 0.6);
}

function verifyCredentials(userId) {
  const latency = idpLatencyMs();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      if (latency > IDP_TIMEOUT_MS) reject(new Error(`IdP timeout after ${IDP_TIMEOUT_MS} ms`));
      else resolve({ sub: userId, email: `${userId}@mail.example`, name: `Fan ${userId.slice(2)}`, roles: ['customer', random() < 0.1 ? 'presale' : 'standard'], amr: ['pwd'] });
    }, Math.min(latency, IDP_TIMEOUT_MS) / speed);
    pendingTimers.add(timer);
  });
}

// --- sessions -----------------------------------------------------------------------------------

const FLAG_NAMES = Array.from({ length: 60 }, (_, i) => `feature.${['checkout', 'seatmap', 'queue', 'wallet', 'resale', 'presale'][i % 6]}.v${i}`);
const sessions = new Map();

function featureSnapshot(userId) {
  const flags = {};
  for (let i = 0; i < FLAG_NAMES.length; i++) flags[FLAG_NAMES[i]] = (userId.length * 31 + i * 7) % 3 === 0 ? 'on' : `variant-${i % 4}`;
  return flags;
}

function beginLogin(userId, form) {
  const session = {
    id: randomBytes(16).toString('hex'),
    userId,
    state: 'pending',
    csrfToken: randomBytes(24).toString('base64url'),
    createdAt: programSeconds(),
    lastSeenAt: programSeconds(),
    device: { userAgent: form.userAgent, ip: form.ip, fingerprint: randomBytes(12).toString('hex') },
    returnTo: form.returnTo,
    flags: featureSnapshot(userId),
    profile: null,
  };
  sessions.set(session.id, session);
  return session;
}

// The sweeper: expire active sessions idle for 15 minutes.
const SESSION_IDLE_S = 900;
every(60_000 / speed, () => {
  const now = programSeconds();
  for (const [id, session] of sessions) {
    if (session.state !== 'active') continue;
    if (now - session.lastSeenAt > SESSION_IDLE_S) sessions.delete(id);
  }
});

// --- HTTP ---------------------------------------------------------------------------------------

const counts = { logins: 0, timeouts: 0, touches: 0 };
const recentSessionIds = [];

function sendJson(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function login(req, res) {
  const form = JSON.parse((await readBody(req)).toString('utf8'));
  const session = beginLogin(form.userId, form);
  let profile;
  try {
    profile = await verifyCredentials(form.userId);
  } catch (error) {
    counts.timeouts++;
    return sendJson(res, 504, JSON.stringify({ error: String(error.message) }));
  }
  session.profile = profile;
  session.state = 'active';
  session.lastSeenAt = programSeconds();
  counts.logins++;
  sendJson(res, 200, JSON.stringify({ sessionId: session.id, csrfToken: session.csrfToken }));
}

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://auth.local');
  if (req.method === 'POST' && url.pathname === '/v1/login') {
    return login(req, res).catch((error) => {
      if (!res.headersSent) sendJson(res, 400, JSON.stringify({ error: String(error) }));
    });
  }
  req.resume();
  if (url.pathname === '/v1/session') {
    const session = sessions.get(url.searchParams.get('sid') ?? '');
    if (session === undefined || session.state !== 'active') return sendJson(res, 401, '{"error":"no session"}');
    session.lastSeenAt = programSeconds();
    counts.touches++;
    return sendJson(res, 200, JSON.stringify({ userId: session.userId, roles: session.profile.roles }));
  }
  if (url.pathname === '/healthz') return sendJson(res, 200, '{"ok":true}');
  sendJson(res, 404, '{"error":"not found"}');
}

const AGENTS = ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36', 'TicketApp/5.12 (Android 14; Pixel 8)'];

const ballastMb = buildBallast();
const { port } = await listen(handler);

const fans = selfRequests(port, {
  perSecond: () => 0.8 * trafficFactor(),
  maxInFlight: 256,
  next: () => ({
    method: 'POST',
    path: '/v1/login',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: `u-${Math.floor(random() * 2e6)}`, password: 'hunter2-but-longer', userAgent: AGENTS[Math.floor(random() * AGENTS.length)], ip: `10.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`, returnTo: `/events/${Math.floor(random() * 900)}/seats` }),
  }),
  onResponse: (status, text) => {
    if (status !== 200) return;
    recentSessionIds.push(JSON.parse(text).sessionId);
    if (recentSessionIds.length > 300) recentSessionIds.shift();
  },
});
// Logged-in fans browsing: touch one of the recent sessions.
const browsing = selfRequests(port, {
  perSecond: () => 1.5 * trafficFactor(),
  maxInFlight: 64,
  next: () => (recentSessionIds.length === 0 ? null : { method: 'GET', path: `/v1/session?sid=${recentSessionIds[Math.floor(random() * recentSessionIds.length)]}` }),
});

reportStats(() => {
  let pending = 0;
  for (const session of sessions.values()) if (session.state === 'pending') pending++;
  return {
    retained: sessions.size,
    pending,
    trafficFactor: Math.round(trafficFactor() * 100) / 100,
    logins: counts.logins,
    timeouts: counts.timeouts,
    requestsFailed: fans.failed + browsing.failed,
  };
});

ready(`peak-session-residue-leak: login service waiting on the IdP, 0.8 logins/s (x3 in three on-sale peaks), timed-out logins leave pending sessions in sessions forever (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
