// API of a news-reader mobile app (1.2 M registered readers plus sign-ups).
// Each app open authenticates with a bearer token and loads the profile, the
// feed and maybe an article or two (GET /v1/me, /v1/feed, /v1/articles/:id).
// The "online now" feature shows friends' presence (GET /v1/users/:id/presence);
// its middleware recordLastSeen() writes lastSeen[userId] = { at, ip, agent }
// into the module-level plain object `lastSeen` on every authenticated request.
// Nothing ever removes a user from it. The feature flag is switched on by the
// config service at SCENARIO_ONSET (default 1 h); from then on every reader who
// opens the app adds an entry, and with a user base this size almost every
// reader in a day is a new key.
import { createHmac } from 'node:crypto';
import {
  buildBallast, listen, onsetMs, onsetSeconds, programSeconds, ready, reportStats, rng, selfRequests,
} from '../corpus/lib/corpus.mjs';

const PRESENCE_FROM_S = onsetSeconds(3600);
const TOKEN_SECRET = 'ns-api-token-key-2024-02';
const ONLINE_WINDOW_MS = 5 * 60_000;
const REGISTERED_USERS = 1_200_000;
const APP_OPENS_PER_S = 1.2;
const SIGNUPS_PER_S = 0.02;
const EPOCH_MS = Date.UTC(2024, 2, 18, 6);
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);
const AGENTS = [
  'NewsReader/6.14.2 (iPhone15,3; iOS 17.4.1; Scale/3.00)', 'NewsReader/6.14.2 (iPhone13,2; iOS 17.3; Scale/3.00)',
  'NewsReader/6.14.1 (iPad13,18; iPadOS 17.4; Scale/2.00)', 'NewsReader/6.13.0 (iPhone12,1; iOS 16.7.6; Scale/2.00)',
  'NewsReader/6.14.2 (Android 14; Pixel 8; okhttp/4.12.0)', 'NewsReader/6.14.2 (Android 13; SM-A536B; okhttp/4.12.0)',
  'NewsReader/6.12.4 (Android 12; moto g(60); okhttp/4.11.0)', 'NewsReader/6.14.0 (Android 14; 23049PCD8G; okhttp/4.12.0)',
];
const SECTIONS = ['world', 'politics', 'business', 'tech', 'science', 'sport', 'culture', 'travel'];

// --- feature flags (pushed by the config service) ---------------------------
const features = { presence: false, longReads: true };

// --- presence ---------------------------------------------------------------
const lastSeen = {}; // userId -> { at, ip, agent }
let trackedUsers = 0;
const metrics = { requests: 0, presenceWrites: 0, unauthorized: 0, appOpens: 0 };

function clientIp(req) {
  const forwarded = req.headers['x-forwarded-for'];
  return forwarded === undefined ? req.socket.remoteAddress : forwarded.split(',', 1)[0].trim();
}

function recordLastSeen(userId, req) {
  if (!features.presence) return;
  if (lastSeen[userId] === undefined) trackedUsers++;
  lastSeen[userId] = { at: nowMs(), ip: clientIp(req), agent: req.headers['user-agent'] ?? 'unknown' };
  metrics.presenceWrites++;
}

function presenceOf(userId) {
  const seen = lastSeen[userId];
  if (seen === undefined) return { online: false, lastSeenAt: null };
  return { online: nowMs() - seen.at < ONLINE_WINDOW_MS, lastSeenAt: new Date(seen.at).toISOString() };
}

// --- auth -------------------------------------------------------------------
const tokenSignature = (userId) => createHmac('sha256', TOKEN_SECRET).update(userId).digest('base64url').slice(0, 32);
const issueToken = (userId) => `${userId}.${tokenSignature(userId)}`;

/** The user id of a valid bearer token, or null. */
function authenticate(req) {
  const header = req.headers.authorization;
  if (header === undefined || !header.startsWith('Bearer ')) return null;
  const token = header.slice(7);
  const dot = token.indexOf('.');
  const userId = token.slice(0, dot);
  return dot > 0 && token.slice(dot + 1) === tokenSignature(userId) ? userId : null;
}

// --- HTTP API ---------------------------------------------------------------
function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function feedFor(userId, section) {
  const seed = Number(userId.slice(1)) % 1000;
  const items = [];
  for (let i = 0; i < 20; i++) {
    const id = 880_000 + ((seed * 31 + i * 7) % 4000);
    items.push({ id, section, title: `${section[0].toUpperCase()}${section.slice(1)} story ${id}`, minutes: 2 + (id % 9) });
  }
  return { section, items };
}

function handle(req, res) {
  metrics.requests++;
  const url = new URL(req.url, 'http://api.internal');
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
  const userId = authenticate(req);
  if (userId === null) {
    metrics.unauthorized++;
    return sendJson(res, 401, { error: 'invalid token' });
  }
  recordLastSeen(userId, req);
  if (url.pathname === '/v1/me') {
    metrics.appOpens++;
    return sendJson(res, 200, { id: userId, sections: SECTIONS.slice(0, 3 + (userId.length % 5)), features });
  }
  if (url.pathname === '/v1/feed') return sendJson(res, 200, feedFor(userId, url.searchParams.get('section') ?? 'world'));
  if (url.pathname.startsWith('/v1/articles/')) {
    const id = url.pathname.slice('/v1/articles/'.length);
    return sendJson(res, 200, { id, body: `Article ${id}. `.repeat(40), related: [Number(id) + 1, Number(id) + 2] });
  }
  const presence = /^\/v1\/users\/(u\d+)\/presence$/.exec(url.pathname);
  if (presence !== null) return sendJson(res, 200, presenceOf(presence[1]));
  sendJson(res, 404, { error: 'not found' });
}

// --- the apps (in-process client) --------------------------------------------
const random = rng(1803);
const queue = []; // requests of app opens in progress
let nextNewUser = REGISTERED_USERS;
let openCredit = 0;
let signupCredit = 0;
let lastPlannedAt = 0;

function randomIp() {
  if (random() < 0.35) return `2a01:${(random() * 0xffff) | 0}:${(random() * 0xffff) | 0}:${((random() * 0xffff) | 0).toString(16)}::1`;
  return `${[31, 62, 77, 84, 91, 176, 188, 213][Math.floor(random() * 8)]}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`;
}

function planAppOpen(userId) {
  const headers = { authorization: `Bearer ${issueToken(userId)}`, 'user-agent': AGENTS[Math.floor(random() * AGENTS.length)], 'x-forwarded-for': `${randomIp()}, 10.40.3.17` };
  queue.push({ method: 'GET', path: '/v1/me', headers });
  queue.push({ method: 'GET', path: `/v1/feed?section=${SECTIONS[Math.floor(random() * SECTIONS.length)]}`, headers });
  for (let n = Math.floor(random() * 3); n > 0; n--) queue.push({ method: 'GET', path: `/v1/articles/${880_000 + Math.floor(random() * 4000)}`, headers });
  if (random() < 0.3) queue.push({ method: 'GET', path: `/v1/users/u${Math.floor(random() * REGISTERED_USERS)}/presence`, headers });
}

function nextRequest() {
  const t = programSeconds();
  openCredit += (t - lastPlannedAt) * APP_OPENS_PER_S;
  signupCredit += (t - lastPlannedAt) * SIGNUPS_PER_S;
  lastPlannedAt = t;
  for (; signupCredit >= 1; signupCredit--) planAppOpen(`u${nextNewUser++}`);
  for (; openCredit >= 1; openCredit--) planAppOpen(`u${Math.floor(random() * REGISTERED_USERS)}`);
  return queue.length === 0 ? null : queue.shift();
}

// --- main -------------------------------------------------------------------
const ballastMb = buildBallast();
const { server, port } = await listen(handle);
server.keepAliveTimeout = 65_000; // longer than the load balancer's idle timeout
server.headersTimeout = 66_000;
const apps = selfRequests(port, { perSecond: 5, next: nextRequest, maxInFlight: 16 });
const probes = selfRequests(port, { perSecond: 0.2, next: () => ({ method: 'GET', path: '/healthz' }), maxInFlight: 1 });
setTimeout(() => {
  features.presence = true; // the config service rolls "online now" out
}, onsetMs(3600));

ready(`news app API: last-seen dictionary (plain object userId -> {at, ip, agent}) never pruned, presence on from ${PRESENCE_FROM_S} s, ${APP_OPENS_PER_S} app opens/s; port ${port}; ballast ${ballastMb} MB`);
reportStats(() => ({
  retained: trackedUsers,
  presence: features.presence,
  queued: queue.length,
  ...metrics,
  failed: apps.failed + probes.failed,
}));
