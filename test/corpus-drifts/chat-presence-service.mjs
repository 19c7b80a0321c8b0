// Presence service of a team-chat product: the mobile and web gateways tell
// it when a user's session connects (POST /v1/sessions) and disconnects
// (DELETE /v1/sessions/:id), and relay a batch of heartbeats for every live
// session every 30 s (POST /v1/heartbeats). The service keeps one Presence
// per connected user in the module-level Map `connectedUsers` and the members
// of each channel in `channelMembers`, answers presence queries
// (GET /v1/presence?users=...) and channel rosters (GET /v1/channels/:id/online),
// and a reaper drops sessions whose heartbeats stopped (app killed, network
// gone: ~5 % of sessions end without a DELETE).
//
// How many users are connected wanders over the hours: the arrival rate
// follows a target that does a random walk with a pull back to its mean
// (Ornstein-Uhlenbeck, median 2 400 users, sd ~0.3 in log terms, time constant 1.5 h) and
// sessions last ~25 min on average, so the map grows and shrinks with no
// trend. Healthy.
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

const random = rng(0xc4a7);

function gaussian() {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

// --- the service ---------------------------------------------------------------------------

const HEARTBEAT_TIMEOUT_S = 120;
const CHANNELS = Array.from({ length: 400 }, (_, i) => `C${(0x1000 + i * 37).toString(16).toUpperCase()}`);

class Presence {
  constructor(userId, sessionId, device, now) {
    this.userId = userId;
    this.sessionId = sessionId;
    this.status = 'active';
    this.device = device;
    this.connectedAt = now;
    this.lastSeenAt = now;
    this.channels = [];
    this.customStatus = null;
  }
}

/** userId -> Presence of every connected user. */
const connectedUsers = new Map();
/** sessionId -> userId. */
const sessions = new Map();
/** channelId -> Set of connected userIds. */
const channelMembers = new Map();
const counters = { connects: 0, disconnects: 0, reaped: 0, replaced: 0, heartbeats: 0, queries: 0 };

function joinChannels(presence, channels) {
  for (const channel of channels) {
    let members = channelMembers.get(channel);
    if (members === undefined) {
      members = new Set();
      channelMembers.set(channel, members);
    }
    members.add(presence.userId);
    presence.channels.push(channel);
  }
}

function leaveChannels(presence) {
  for (const channel of presence.channels) {
    const members = channelMembers.get(channel);
    if (members === undefined) continue;
    members.delete(presence.userId);
    if (members.size === 0) channelMembers.delete(channel);
  }
}

function dropPresence(presence) {
  connectedUsers.delete(presence.userId);
  sessions.delete(presence.sessionId);
  leaveChannels(presence);
}

function connect({ userId, device, channels, customStatus }) {
  const now = programSeconds();
  const previous = connectedUsers.get(userId);
  if (previous !== undefined) {
    counters.replaced++;
    dropPresence(previous);
  }
  const sessionId = `s_${userId}_${Math.floor(now).toString(36)}_${Math.floor(random() * 1e6).toString(36)}`;
  const presence = new Presence(userId, sessionId, device, now);
  presence.customStatus = customStatus ?? null;
  connectedUsers.set(userId, presence);
  sessions.set(sessionId, userId);
  joinChannels(presence, channels);
  counters.connects++;
  return presence;
}

function disconnect(sessionId) {
  const userId = sessions.get(sessionId);
  if (userId === undefined) return false;
  const presence = connectedUsers.get(userId);
  if (presence !== undefined) dropPresence(presence);
  else sessions.delete(sessionId);
  counters.disconnects++;
  return true;
}

function touch(sessionIds) {
  const now = programSeconds();
  for (const sessionId of sessionIds) {
    const userId = sessions.get(sessionId);
    if (userId === undefined) continue;
    const presence = connectedUsers.get(userId);
    if (presence === undefined) continue;
    presence.lastSeenAt = now;
    if (presence.status === 'away' && random() < 0.3) presence.status = 'active';
    else if (presence.status === 'active' && now - presence.connectedAt > 600 && random() < 0.02) presence.status = 'away';
    counters.heartbeats++;
  }
}

/** Drops sessions whose heartbeats stopped. */
function reapStale() {
  const cutoff = programSeconds() - HEARTBEAT_TIMEOUT_S;
  for (const presence of connectedUsers.values()) {
    if (presence.lastSeenAt < cutoff) {
      dropPresence(presence);
      counters.reaped++;
    }
  }
}

// --- HTTP ------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://presence.local');
  const parts = url.pathname.split('/');
  try {
    if (req.method === 'POST' && url.pathname === '/v1/sessions') {
      const presence = connect(JSON.parse((await readBody(req)).toString('utf8')));
      return sendJson(res, 201, { sessionId: presence.sessionId, online: connectedUsers.size });
    }
    if (req.method === 'DELETE' && parts[2] === 'sessions') {
      return sendJson(res, disconnect(parts[3]) ? 200 : 404, { online: connectedUsers.size });
    }
    if (req.method === 'POST' && url.pathname === '/v1/heartbeats') {
      const { sessions: ids } = JSON.parse((await readBody(req)).toString('utf8'));
      touch(ids);
      return sendJson(res, 202, { accepted: ids.length });
    }
    if (req.method === 'GET' && url.pathname === '/v1/presence') {
      counters.queries++;
      const users = (url.searchParams.get('users') ?? '').split(',');
      const result = {};
      for (const userId of users) {
        const presence = connectedUsers.get(userId);
        result[userId] = presence === undefined ? 'offline' : presence.status;
      }
      return sendJson(res, 200, result);
    }
    if (req.method === 'GET' && parts[2] === 'channels' && parts[4] === 'online') {
      counters.queries++;
      const members = channelMembers.get(parts[3]);
      return sendJson(res, 200, { channel: parts[3], online: members === undefined ? [] : [...members].slice(0, 200), count: members?.size ?? 0 });
    }
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, online: connectedUsers.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- the gateways (the load) ----------------------------------------------------------------------

const POPULATION = 60_000;
const MEAN_SESSION_S = 1_500;
const DEVICES = ['ios', 'android', 'web', 'web', 'desktop-mac', 'desktop-win'];
const STATUSES = [null, null, null, 'In a meeting', 'Commuting', 'Focusing', 'On holiday until Monday'];

/** Target number of connected users: OU process, mean 2 400, sd ~0.3 in log terms (~1 300-4 300), tau 1.5 h. */
const demand = { x: 0, target: 2400, lastT: 0 };
function stepDemand() {
  const now = programSeconds();
  const dt = Math.max(0, now - demand.lastT);
  demand.lastT = now;
  const tau = 5400;
  demand.x += (-demand.x * dt) / tau + 0.3 * Math.sqrt((2 * dt) / tau) * gaussian();
  demand.target = 2400 * Math.exp(demand.x);
}

/** The gateways' view of the sessions they hold open. */
const gatewaySessions = []; // { userId, sessionId, gateway }
const gatewayUsers = new Set();
const GATEWAYS = 4;
let heartbeatTurn = 0;
/** After a deploy the gateways re-register the sessions they already hold (~2 400), 20 a second. */
let resyncLeft = 2400;

function userId(n) {
  return `U0${(0x2f0000 + n * 7919).toString(36).toUpperCase()}`;
}

function connectRequest() {
  let id;
  for (let tries = 0; tries < 5; tries++) {
    const candidate = userId(Math.floor(random() * POPULATION));
    if (!gatewayUsers.has(candidate)) {
      id = candidate;
      break;
    }
  }
  if (id === undefined) return null;
  if (resyncLeft > 0) resyncLeft--;
  gatewayUsers.add(id);
  const channels = [];
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) channels.push(CHANNELS[Math.floor(random() ** 2 * CHANNELS.length)]);
  const body = JSON.stringify({
    userId: id,
    device: { platform: DEVICES[Math.floor(random() * DEVICES.length)], appVersion: `24.${1 + Math.floor(random() * 9)}.${Math.floor(random() * 20)}`, locale: random() < 0.6 ? 'en-US' : 'de-DE' },
    channels: [...new Set(channels)],
    customStatus: STATUSES[Math.floor(random() * STATUSES.length)],
  });
  return { method: 'POST', path: '/v1/sessions', headers: { 'content-type': 'application/json' }, body, userId: id };
}

function disconnectRequest() {
  if (gatewaySessions.length === 0) return null;
  const index = Math.floor(random() * gatewaySessions.length);
  const session = gatewaySessions[index];
  gatewaySessions[index] = gatewaySessions[gatewaySessions.length - 1];
  gatewaySessions.pop();
  gatewayUsers.delete(session.userId);
  // ~5 % of sessions just vanish (app killed, network lost): no DELETE, the heartbeats stop.
  if (random() < 0.05) return null;
  return { method: 'DELETE', path: `/v1/sessions/${session.sessionId}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Arrivals follow the target; each connected user leaves at rate 1/25 min (exponential sessions).
const arrivals = selfRequests(port, {
  perSecond: () => demand.target / MEAN_SESSION_S + (resyncLeft > 0 ? 20 : 0),
  maxInFlight: 16,
  next: connectRequest,
  onResponse: (status, text, request) => {
    if (status === 201) gatewaySessions.push({ userId: request.userId, sessionId: JSON.parse(text).sessionId, gateway: Math.floor(random() * GATEWAYS) });
    else gatewayUsers.delete(request.userId);
  },
});
const departures = selfRequests(port, { perSecond: () => gatewaySessions.length / MEAN_SESSION_S, maxInFlight: 16, next: disconnectRequest });
// Heartbeats: each of 4 gateway nodes relays its share of live sessions every 30 s.
const heartbeats = selfRequests(port, {
  perSecond: GATEWAYS / 30,
  maxInFlight: 4,
  next: () => {
    const gateway = heartbeatTurn++ % GATEWAYS;
    const ids = [];
    for (const session of gatewaySessions) if (session.gateway === gateway) ids.push(session.sessionId);
    return { method: 'POST', path: '/v1/heartbeats', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sessions: ids }) };
  },
});
// Clients asking who is online: 0.8 req/s.
const queries = selfRequests(port, {
  perSecond: 0.8,
  maxInFlight: 8,
  next: () => {
    if (random() < 0.5) return { method: 'GET', path: `/v1/channels/${CHANNELS[Math.floor(random() ** 2 * CHANNELS.length)]}/online` };
    const users = Array.from({ length: 5 + Math.floor(random() * 20) }, () => userId(Math.floor(random() * POPULATION)));
    return { method: 'GET', path: `/v1/presence?users=${users.join(',')}` };
  },
});

every(10_000 / speed, stepDemand);
every(30_000 / speed, reapStale);

reportStats(() => ({
  retained: connectedUsers.size,
  target: Math.round(demand.target),
  channels: channelMembers.size,
  connects: counters.connects,
  disconnects: counters.disconnects,
  reaped: counters.reaped,
  requestsFailed: arrivals.failed + departures.failed + heartbeats.failed + queries.failed,
}));

ready(
  `chat-presence-service: connected users wander around ~2 400 (random walk pulled to its mean, ~25 min sessions), kept in connectedUsers and dropped on disconnect or missed heartbeats (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
