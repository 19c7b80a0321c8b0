// Chat gateway for a team-messaging app. Mobile clients connect (POST
// /v1/sessions), poll for frames with their heartbeat (GET
// /v1/sessions/:id/events) and post messages to their rooms (POST
// /v1/rooms/:room/messages). Every session registers a message handler on the
// shared `roomBus`; the handler closes over the session's context and pushes
// matching messages into its connection's outbox.
//
// Connection manager v3 (the release this build runs, from SCENARIO_ONSET,
// default 0) moved the close logic into closeSession() and forgot to take the
// handler off `roomBus`: every disconnect (clean close or idle sweep after a
// mobile network drop) leaves a handler closing over a dead session.
import { EventEmitter } from 'node:events';
import {
  buildBallast,
  every,
  listen,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const ballastMb = buildBallast();

const IDLE_TIMEOUT_S = 90; // no heartbeat for 90 s: the client is gone
const OUTBOX_LIMIT = 200; // frames a connection buffers between polls
const MAX_SUBSCRIBERS = 150_000; // per-process guard on bus subscribers

// --- The gateway ---------------------------------------------------------------

/** Message fan-out inside this gateway process: one 'message' event per chat message. */
const roomBus = new EventEmitter();
roomBus.setMaxListeners(0); // one handler per connected client

/** Live sessions by session id. */
const sessions = new Map();

let connectionManager = 'v2';
setTimeout(() => {
  connectionManager = 'v3';
}, onsetMs(0)).unref();

const counters = { connects: 0, refused: 0, closedClean: 0, closedIdle: 0, polls: 0, messages: 0, delivered: 0, dropped: 0, unknownSession: 0 };
let nextSessionSeq = 1;
let nextMessageSeq = 1;

class Connection {
  constructor(sessionId, transport) {
    this.sessionId = sessionId;
    this.transport = transport;
    this.open = true;
    this.outbox = [];
    this.bytesOut = 0;
    this.framesOut = 0;
    this.dropped = 0;
  }

  send(frame) {
    if (!this.open) {
      this.dropped++;
      counters.dropped++;
      return false;
    }
    this.outbox.push(frame);
    if (this.outbox.length > OUTBOX_LIMIT) this.outbox.shift();
    this.framesOut++;
    return true;
  }

  drain() {
    const frames = this.outbox;
    this.outbox = [];
    return frames;
  }

  close() {
    this.open = false;
    this.outbox = [];
  }
}

function newSessionId() {
  return `s_${(nextSessionSeq++).toString(36)}_${Math.floor(programSeconds()).toString(36)}`;
}

/** Builds the session context and subscribes its handler to the room bus. */
function openSession(hello, now) {
  const sessionId = newSessionId();
  const session = {
    sessionId,
    userId: hello.userId,
    tenantId: hello.tenantId,
    deviceId: hello.deviceId,
    platform: hello.platform,
    appVersion: hello.appVersion,
    locale: hello.locale,
    pushToken: hello.pushToken,
    rooms: new Set(hello.rooms),
    claims: { sub: hello.userId, tenant: hello.tenantId, scopes: ['chat:read', 'chat:write'], exp: now + 3600 },
    connectedAt: now,
    lastSeenAt: now,
    lastDeliveredSeq: 0,
    resumeFrom: hello.resumeFrom ?? 0,
    connection: new Connection(sessionId, hello.platform === 'web' ? 'sse' : 'mobile-poll'),
  };
  const onMessage = (message) => {
    if (!session.rooms.has(message.roomId) || message.senderId === session.userId) return;
    if (session.connection.send(message)) {
      session.lastDeliveredSeq = message.seq;
      counters.delivered++;
    }
  };
  session.unsubscribe = () => roomBus.off('message', onMessage);
  roomBus.on('message', onMessage);
  sessions.set(sessionId, session);
  return session;
}

function closeSession(session, reason) {
  sessions.delete(session.sessionId);
  session.connection.close();
  if (connectionManager === 'v2') session.unsubscribe();
  // v3: the handler is still on roomBus.
  if (reason === 'idle') counters.closedIdle++;
  else counters.closedClean++;
}

function toFrame(message) {
  return { seq: message.seq, roomId: message.roomId, senderId: message.senderId, text: message.text, sentAt: message.sentAt };
}

function publish(roomId, senderId, body, now) {
  const message = { seq: nextMessageSeq++, roomId, senderId, text: String(body.text ?? '').slice(0, 2000), clientMsgId: body.clientMsgId, sentAt: now };
  counters.messages++;
  roomBus.emit('message', toFrame(message));
  return message;
}

function sweepIdle() {
  const now = programSeconds();
  for (const session of sessions.values()) {
    if (now - session.lastSeenAt > IDLE_TIMEOUT_S) closeSession(session, 'idle');
  }
}
every(scaledMs(15), sweepIdle);

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const now = programSeconds();
  const url = req.url ?? '/';
  if (req.method === 'POST' && url === '/v1/sessions') {
    const hello = JSON.parse((await readBody(req)).toString('utf8'));
    if (roomBus.listenerCount('message') >= MAX_SUBSCRIBERS) {
      counters.refused++;
      return send(res, 503, { error: 'gateway full' });
    }
    const session = openSession(hello, now);
    counters.connects++;
    return send(res, 201, { sessionId: session.sessionId, heartbeatSeconds: 45, rooms: [...session.rooms] });
  }
  let match = /^\/v1\/sessions\/([\w-]+)(\/events)?$/.exec(url);
  if (match !== null) {
    const session = sessions.get(match[1]);
    if (session === undefined) {
      counters.unknownSession++;
      req.resume();
      return send(res, 410, { error: 'session closed' });
    }
    if (req.method === 'DELETE') {
      closeSession(session, 'clean');
      return send(res, 204, {});
    }
    session.lastSeenAt = now;
    counters.polls++;
    return send(res, 200, { frames: session.connection.drain(), lastSeq: session.lastDeliveredSeq });
  }
  match = /^\/v1\/rooms\/([\w-]+)\/messages$/.exec(url);
  if (match !== null && req.method === 'POST') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    const session = sessions.get(String(req.headers['x-session-id']));
    if (session === undefined) return send(res, 410, { error: 'session closed' });
    session.lastSeenAt = now;
    const message = publish(match[1], session.userId, body, now);
    return send(res, 201, { seq: message.seq });
  }
  if (url === '/healthz') return send(res, 200, { ok: true, sessions: sessions.size });
  req.resume();
  return send(res, 404, { error: 'not found' });
}

const { port } = await listen((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) send(res, 400, { error: 'bad request' });
  });
});

// --- Clients (the load): mobile and web apps of 6 000 users --------------------

const random = rng(20240611);
const USERS = 6000;
const ROOMS = 900; // team and project rooms; each user is in 2-5
const ARRIVALS_PER_S = 0.36; // (re)connects per second
const WORDS = ['ok', 'thanks', 'shipping', 'the', 'build', 'is', 'green', 'can', 'you', 'review', 'my', 'PR', 'lunch', 'meeting', 'moved', 'to', '3pm', 'deploy', 'looks', 'good', 'rollback', 'customer', 'ticket', 'escalated', 'on', 'it'];
const PLATFORMS = ['ios', 'ios', 'android', 'android', 'android', 'web'];
const VERSIONS = { ios: ['6.14.2', '6.15.0', '6.15.1'], android: ['6.14.0', '6.15.0', '6.15.2'], web: ['2024.06.3'] };

function roomsOf(userId) {
  const n = 2 + (userId % 4);
  const rooms = [];
  for (let i = 0; i < n; i++) rooms.push(`r${(userId * 7 + i * 131) % ROOMS}`);
  return rooms;
}

function logNormal(median, sigma) {
  const u = Math.max(1e-9, random());
  const v = random();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

function sentence() {
  const n = 3 + Math.floor(random() * 14);
  const words = [];
  for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(random() * WORDS.length)]);
  return words.join(' ');
}

const clients = new Set();
const outgoing = [];
const load = { arrivals: 0, silentDrops: 0 };

function arrive(now) {
  const userId = Math.floor(random() * USERS);
  const platform = PLATFORMS[Math.floor(random() * PLATFORMS.length)];
  const versions = VERSIONS[platform];
  const client = {
    userId,
    platform,
    rooms: roomsOf(userId),
    sessionId: null,
    endsAt: now + logNormal(300, 0.8),
    nextPollAt: now + 45,
    nextSendAt: now + 60 + random() * 240,
    hello: {
      userId: `u${userId}`,
      tenantId: `t${userId % 40}`,
      deviceId: `d${userId}-${platform}`,
      platform,
      appVersion: versions[Math.floor(random() * versions.length)],
      locale: random() < 0.7 ? 'en-US' : 'de-DE',
      pushToken: platform === 'web' ? null : `${platform}:${(userId * 2654435761) >>> 0}${Math.floor(random() * 1e9).toString(16)}`,
      rooms: roomsOf(userId).map((r) => r),
      resumeFrom: nextMessageSeq - 1,
    },
  };
  load.arrivals++;
  clients.add(client);
  outgoing.push({ method: 'POST', path: '/v1/sessions', headers: { 'content-type': 'application/json' }, body: JSON.stringify(client.hello), client });
}

function clientTick() {
  const now = programSeconds();
  let due = ARRIVALS_PER_S + (random() - 0.5) * 0.1;
  while (due > 0) {
    if (random() < due) arrive(now);
    due -= 1;
  }
  for (const client of clients) {
    if (client.sessionId === null) continue;
    if (now >= client.endsAt) {
      clients.delete(client);
      if (random() < 0.55) outgoing.push({ method: 'DELETE', path: `/v1/sessions/${client.sessionId}`, client });
      else load.silentDrops++; // network gone: the gateway's idle sweep closes it
      continue;
    }
    if (now >= client.nextPollAt) {
      client.nextPollAt = now + 45;
      outgoing.push({ method: 'GET', path: `/v1/sessions/${client.sessionId}/events`, client });
    }
    if (now >= client.nextSendAt) {
      client.nextSendAt = now + 30 + random() * 330;
      const room = client.rooms[Math.floor(random() * client.rooms.length)];
      const body = JSON.stringify({ text: sentence(), clientMsgId: `${client.userId}-${Math.floor(random() * 1e9)}` });
      outgoing.push({ method: 'POST', path: `/v1/rooms/${room}/messages`, headers: { 'content-type': 'application/json', 'x-session-id': client.sessionId }, body, client });
    }
  }
}
every(scaledMs(1), clientTick);

const http = selfRequests(port, {
  perSecond: 40,
  maxInFlight: 32,
  next: () => (outgoing.length === 0 ? null : outgoing.shift()),
  onResponse: (status, text, request) => {
    if (request.method === 'POST' && request.path === '/v1/sessions' && status === 201) request.client.sessionId = JSON.parse(text).sessionId;
    else if (request.method === 'POST' && request.path === '/v1/sessions') clients.delete(request.client);
  },
});

reportStats(() => ({
  retained: roomBus.listenerCount('message'),
  sessions: sessions.size,
  clients: clients.size,
  connectionManager,
  ...counters,
  arrivals: load.arrivals,
  silentDrops: load.silentDrops,
  sent: http.sent,
  failed: http.failed,
}));

ready(
  `chat-gateway-reconnect-handler-leak on 127.0.0.1:${port}: mobile clients reconnect ~${ARRIVALS_PER_S}/s; connection manager v3 from ${onsetSeconds(0)} s leaves each closed session's handler on roomBus` +
    (ballastMb > 0 ? ` (ballast ${ballastMb} MB)` : ''),
);
