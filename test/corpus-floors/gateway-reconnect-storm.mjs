// Chat gateway (healthy): connection registry that balloons during a
// reconnect storm ~1 h after start and is back to normal ~17 min later.
//
// The realtime layer is simulated in-process (clients are objects, "sockets"
// are method calls); a real node:http server beside it serves presence
// (GET /v1/rooms/:id/presence, 1 req/s at speed 1) and server-side
// announcements (POST /v1/rooms/:id/messages, 0.5 req/s).
//
// ~1 500 app clients are online at speed 1 (the deploy at start reconnects
// them over the first 2 min; then ~1 new client/s, sessions ~25 min on
// average). Each session (class `Session`: handshake headers, room list,
// counters) is in the module-level `registry` (class `ConnectionRegistry`,
// a Map id -> Session, plus a resume-token index). 15 chat messages/s at
// speed 1 are fanned out to the rooms' members. A session whose connection is
// lost abnormally is kept 12 min (RESUME_WINDOW) as "detached", buffering up
// to 100 missed messages, so that the client can resume it with its token;
// the sweep (every 30 s) drops detached sessions older than that.
//
// The storm: at 3600 s the upstream load balancer starts flapping and drops
// every connection three times (3600, 3720, 3840 s). The clients come back
// within a minute each time, but the token service is overloaded
// (3600-3960 s) and refuses ~90 % of resumes, so most clients get a fresh
// session while the old one waits out its resume window in the registry:
// ~1 500 -> ~5 500 sessions, most of them detached with full buffers. From
// 3960 s resumes work again; the last detached sessions (3840 s + 12 min)
// are swept by ~4 590 s and the registry is back to ~1 500.
//
// Stats: retained = sessions in the registry; open, detached, buffered
// missed messages, resumes ok/refused, messages fanned out.
import {
  buildBallast,
  every,
  listen,
  paced,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const INITIAL_CLIENTS = 1500;
const NEW_CLIENTS_PER_SECOND = 1; // speed 1
const MEAN_SESSION_SECONDS = 1500;
const ABNORMAL_CLOSE_SHARE = 0.1;
const MESSAGES_PER_SECOND = 15; // speed 1
const ROOMS = 400;
const RESUME_WINDOW_SECONDS = 720;
const MAX_MISSED = 100;
const SWEEP_EVERY_SECONDS = 30;
const HANDSHAKE_TIMEOUT_SECONDS = 20;
const FLAPS_AT = [3600, 3720, 3840];
const TOKEN_SERVICE_OVERLOADED = [3600, 3960];

const PLATFORMS = ['ios', 'android', 'web', 'desktop'];
const AGENTS = {
  ios: 'ChatApp/5.12.1 (iPhone15,3; iOS 17.5.1) CFNetwork/1496.0.7 Darwin/23.5.0',
  android: 'ChatApp/5.12.0 (Linux; Android 14; Pixel 8 Build/AP2A.240605.024) okhttp/4.12.0',
  web: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  desktop: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) ChatApp-Desktop/3.4.2 Electron/30.1.0',
};
const PHRASES = ['on my way', 'sounds good', 'can you review the PR?', 'lunch at 12?', 'deploy is green', 'who has the keys', 'see you tomorrow', 'thanks!', 'meeting moved to 3pm', 'ok'];

const random = rng(31337);
const now = () => programSeconds();

// --- the gateway -------------------------------------------------------------

let sessionSeq = 0;

class Session {
  constructor(client, handshake) {
    this.id = `s_${(++sessionSeq).toString(36)}_${Math.floor(random() * 1e9).toString(36)}`;
    this.userId = client.userId;
    this.client = client;
    this.resumeToken = `${this.id}.${Math.floor(random() * 2 ** 48).toString(36)}${Math.floor(random() * 2 ** 48).toString(36)}`;
    this.handshake = handshake;
    this.state = 'handshaking';
    this.openedAt = now();
    this.detachedAt = 0;
    this.rooms = [];
    this.missed = [];
    this.framesOut = 0;
    this.bytesOut = 0;
    this.framesIn = 0;
  }

  deliver(seq, roomId, frame) {
    if (this.state === 'open') {
      this.framesOut++;
      this.bytesOut += frame.length;
    } else if (this.state === 'detached') {
      this.missed.push({ seq, roomId, frame, at: now() });
      if (this.missed.length > MAX_MISSED) this.missed.shift();
    }
  }
}

class ConnectionRegistry {
  constructor() {
    this.sessions = new Map();
    this.byResumeToken = new Map();
    this.rooms = new Map();
    this.resumed = 0;
    this.resumeRefused = 0;
    this.swept = 0;
    this.fannedOut = 0;
    this.seq = 0;
  }

  register(session) {
    this.sessions.set(session.id, session);
  }

  join(session, roomId) {
    let members = this.rooms.get(roomId);
    if (members === undefined) {
      members = new Set();
      this.rooms.set(roomId, members);
    }
    members.add(session);
    session.rooms.push(roomId);
  }

  remove(session) {
    this.sessions.delete(session.id);
    this.byResumeToken.delete(session.resumeToken);
    for (const roomId of session.rooms) {
      const members = this.rooms.get(roomId);
      if (members === undefined) continue;
      members.delete(session);
      if (members.size === 0) this.rooms.delete(roomId);
    }
    session.state = 'closed';
    session.missed = [];
  }

  detach(session) {
    if (session.state !== 'open') return;
    session.state = 'detached';
    session.detachedAt = now();
    this.byResumeToken.set(session.resumeToken, session);
  }

  resume(token) {
    const session = this.byResumeToken.get(token);
    if (session === undefined || session.state !== 'detached') return null;
    this.byResumeToken.delete(token);
    session.state = 'open';
    for (const message of session.missed) session.deliver(message.seq, message.roomId, message.frame);
    session.missed = [];
    this.resumed++;
    return session;
  }

  publish(roomId, from, text) {
    const members = this.rooms.get(roomId);
    if (members === undefined) return;
    const seq = ++this.seq;
    const frame = JSON.stringify({ t: 'msg', seq, room: roomId, from, text, ts: Date.now() });
    for (const session of members) session.deliver(seq, roomId, frame);
    this.fannedOut += members.size;
  }

  sweep() {
    const t = now();
    for (const session of this.sessions.values()) {
      if (session.state === 'detached' && t - session.detachedAt > RESUME_WINDOW_SECONDS) {
        this.remove(session);
        this.swept++;
      } else if (session.state === 'handshaking' && t - session.openedAt > HANDSHAKE_TIMEOUT_SECONDS) {
        this.remove(session);
      }
    }
  }

  counts() {
    let open = 0;
    let detached = 0;
    let missed = 0;
    for (const session of this.sessions.values()) {
      if (session.state === 'open') open++;
      else if (session.state === 'detached') {
        detached++;
        missed += session.missed.length;
      }
    }
    return { open, detached, missed };
  }
}

const registry = new ConnectionRegistry();

// The token service is another process; while it is overloaded most resume
// checks time out and the gateway falls back to a fresh session.
async function verifyResumeToken(token) {
  await new Promise((resolve) => setImmediate(resolve));
  const t = now();
  const overloaded = t >= TOKEN_SERVICE_OVERLOADED[0] && t < TOKEN_SERVICE_OVERLOADED[1];
  if (overloaded && random() < 0.9) return false;
  return typeof token === 'string' && token.includes('.');
}

function buildHandshake(client) {
  return {
    ip: client.ip,
    userAgent: AGENTS[client.platform],
    origin: client.platform === 'web' ? 'https://chat.example.com' : `app://${client.platform}`,
    acceptLanguage: 'en-GB,en;q=0.8,de;q=0.6',
    protocol: 'chat.v3',
    query: { v: '5.12', platform: client.platform, device: client.deviceId },
    authorization: `Bearer ${client.userId}.${Math.floor(random() * 2 ** 52).toString(36)}.${Math.floor(random() * 2 ** 52).toString(36)}`,
  };
}

async function openConnection(client) {
  if (client.resumeToken !== null) {
    const token = client.resumeToken;
    client.resumeToken = null;
    if (await verifyResumeToken(token)) {
      const session = registry.resume(token);
      if (session !== null) return session;
    } else {
      registry.resumeRefused++;
    }
  }
  const session = new Session(client, buildHandshake(client));
  registry.register(session);
  await new Promise((resolve) => setImmediate(resolve)); // auth + subscribe round trip
  if (session.state !== 'handshaking') return null;
  for (const roomId of client.rooms) registry.join(session, roomId);
  session.state = 'open';
  return session;
}

// --- the clients (the apps out there) -------------------------------------------

let flaps = 0;
const online = new Set();

function pickRoom() {
  const x = random();
  return `room-${Math.floor(x * x * ROOMS)}`;
}

function newClient() {
  const platform = PLATFORMS[Math.floor(random() * PLATFORMS.length)];
  const rooms = new Set();
  const roomCount = 2 + Math.floor(random() * 4);
  while (rooms.size < roomCount) rooms.add(pickRoom());
  return {
    userId: `u${Math.floor(random() * 50_000)}`,
    platform,
    deviceId: Math.floor(random() * 2 ** 40).toString(16),
    ip: `100.${Math.floor(random() * 64) + 64}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`,
    rooms: [...rooms],
    leavesAt: 0,
    session: null,
    visit: 0,
    leaveTimer: undefined,
    resumeToken: null,
    connecting: false,
  };
}

function exponential(mean) {
  return -Math.log(1 - random()) * mean;
}

function connect(client) {
  client.connecting = true;
  openConnection(client).then((session) => {
    client.connecting = false;
    if (session === null) return;
    client.session = session;
    online.add(client);
    const visit = ++client.visit;
    const remaining = client.leavesAt - now();
    clearTimeout(client.leaveTimer);
    client.leaveTimer = setTimeout(() => leave(client, visit), scaledMs(Math.max(1, remaining)));
  });
}

function reconnectLater(client, minSeconds, maxSeconds) {
  const delay = minSeconds + random() * (maxSeconds - minSeconds);
  setTimeout(() => connect(client), scaledMs(delay));
}

function leave(client, visit) {
  const session = client.session;
  if (client.visit !== visit || session === null || session.state !== 'open') return; // dropped meanwhile
  online.delete(client);
  client.session = null;
  if (random() < ABNORMAL_CLOSE_SHARE) {
    // lost network (tunnel, lift, app killed): the client may come back
    registry.detach(session);
    if (random() < 0.7) {
      client.resumeToken = session.resumeToken;
      client.leavesAt = now() + exponential(MEAN_SESSION_SECONDS / 3);
      reconnectLater(client, 2, 15);
    }
  } else {
    registry.remove(session);
  }
}

function arrive() {
  const client = newClient();
  client.leavesAt = now() + exponential(MEAN_SESSION_SECONDS);
  connect(client);
}

// The load balancer drops every connection at once.
function loadBalancerFlap() {
  flaps++;
  for (const client of online) {
    const session = client.session;
    online.delete(client);
    client.session = null;
    if (session === null || session.state !== 'open') continue;
    registry.detach(session);
    client.resumeToken = session.resumeToken;
    reconnectLater(client, 1, 60);
  }
}

// --- HTTP: presence and announcements ---------------------------------------------

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handler(req, res) {
  const match = /^\/v1\/rooms\/(room-\d+)\/(presence|messages)$/.exec(req.url);
  if (match === null) {
    sendJson(res, 404, { error: 'not found' });
    return;
  }
  const [, roomId, action] = match;
  if (action === 'presence') {
    const members = registry.rooms.get(roomId) ?? new Set();
    const users = [];
    for (const session of members) {
      if (session.state === 'open' && users.length < 50) users.push(session.userId);
    }
    sendJson(res, 200, { room: roomId, online: users.length, users });
    return;
  }
  try {
    const { text } = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
    registry.publish(roomId, 'system', String(text).slice(0, 500));
    sendJson(res, 202, { ok: true });
  } catch (error) {
    sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- start -----------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

// The deploy: the previous instance's clients reconnect over the first 2 min.
for (let i = 0; i < INITIAL_CLIENTS; i++) {
  const client = newClient();
  client.leavesAt = exponential(MEAN_SESSION_SECONDS) + 120;
  setTimeout(() => connect(client), scaledMs(random() * 120));
}
paced(NEW_CLIENTS_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) arrive();
});
paced(MESSAGES_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) {
    const roomId = pickRoom();
    const members = registry.rooms.get(roomId);
    if (members === undefined) continue;
    // the sender: one of the first few members online
    let from = null;
    let skip = Math.floor(random() * Math.min(members.size, 8));
    for (const session of members) {
      if (session.state !== 'open') continue;
      from = session;
      if (skip-- <= 0) break;
    }
    if (from === null) continue;
    from.framesIn++;
    registry.publish(roomId, from.userId, `${PHRASES[Math.floor(random() * PHRASES.length)]} (${from.userId}/${registry.seq})`);
  }
});
every(scaledMs(SWEEP_EVERY_SECONDS), () => registry.sweep());
for (const at of FLAPS_AT) setTimeout(loadBalancerFlap, scaledMs(at));

selfRequests(port, {
  perSecond: 1,
  maxInFlight: 4,
  next: () => ({ path: `/v1/rooms/${pickRoom()}/presence` }),
});
selfRequests(port, {
  perSecond: 0.5,
  maxInFlight: 4,
  next: () => ({ method: 'POST', path: `/v1/rooms/${pickRoom()}/messages`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `Reminder: maintenance window tonight at ${20 + Math.floor(random() * 3)}:00 UTC` }) }),
});

ready(`gateway-reconnect-storm: chat gateway, ~${INITIAL_CLIENTS} clients, ${MESSAGES_PER_SECOND} msg/s at speed 1; load balancer flaps at ${FLAPS_AT.join('/')} s, sessions kept ${RESUME_WINDOW_SECONDS} s for resume; healthy`);

reportStats(() => {
  const { open, detached, missed } = registry.counts();
  return {
    retained: registry.sessions.size,
    open,
    detached,
    missed,
    clientsOnline: online.size,
    rooms: registry.rooms.size,
    resumed: registry.resumed,
    resumeRefused: registry.resumeRefused,
    swept: registry.swept,
    flaps,
    fannedOut: registry.fannedOut,
    ballastMb,
  };
});
