// Presence/chat gateway (ESM, no dependencies).
//
// Clients open a session (POST /v1/sessions), then hold a server-sent-events
// stream (GET /v1/sessions/:id/stream) on which the gateway pushes every
// message of their rooms, rendered per recipient (sequence number, unread
// count, whether it mentions them) by toEnvelope() into the session's outbox.
// Clients ack what they have read every 30 s, which trims the outbox, and
// sign off with DELETE /v1/sessions/:id, which ends the stream and deletes
// the session. Most traffic arrives from the other gateway instances over the
// room bus (an in-process stand-in here); some is posted by local clients.
//
// When a stream's connection drops without a sign-off (a TCP reset: phone
// switching networks), the gateway keeps the session, detached, so the client
// can resume with its last sequence number; the outbox keeps the last 300
// messages for that. The idle sweeper only looks at attached sessions. Until
// the onset every client that resets comes back within seconds. From the
// onset (SCENARIO_ONSET, default 2 h) Android app 7.3 is released: the OS
// kills it in the background with its stream open, the connection resets and
// it never resumes (it starts a new session when opened again). Each such
// session stays in `sessions` (and its rooms) for good, still receiving its
// rooms' messages into an outbox of its last 300.
//
// Load: an in-process client on 127.0.0.1 plays the users: ~210 sessions an
// hour of 1-60 minutes (median 8), each in 2 of 10 rooms, on the lib's
// keep-alive client for the short requests and one plain connection per
// stream, which it resets with socket.resetAndDestroy() when the phone drops.
import http from 'node:http';
import {
  buildBallast,
  every,
  listen,
  onShutdown,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const ANDROID_73_RELEASE_S = onsetSeconds(7200);
const OUTBOX_LIMIT = 300; // the last messages kept for a resume
const IDLE_TIMEOUT_S = 180; // attached sessions silent this long are closed
const SWEEP_EVERY_S = 30;
const HEARTBEAT_EVERY_S = 25;
const BUS_TICK_S = 2;
const BUS_MESSAGES_PER_S = 2;
const SESSIONS_PER_HOUR = 210;
const ROOM_NAMES = ['general', 'support', 'sales', 'eng-backend', 'eng-mobile', 'design', 'ops-alerts', 'random', 'marketing', 'leadership'];

// Separate seeded streams, so the users who come (their apps, rooms, session
// lengths and how their session ends) are the same on every run whatever the
// event-loop timing.
const arrivals = rng(0xc4a7);
const random = rng(0xc4a8); // chat traffic and everything else

// --- Gateway state ----------------------------------------------------------

/** Open sessions by id. */
const sessions = new Map();
/** Room name -> Set of sessions subscribed to it. */
const rooms = new Map(ROOM_NAMES.map((name) => [name, new Set()]));
const stats = { opened: 0, signedOff: 0, idleClosed: 0, streamsDropped: 0, resumed: 0, envelopes: 0, published: 0 };

class ClientSession {
  constructor(id, hello, now) {
    this.id = id;
    this.userId = hello.userId;
    this.displayName = hello.displayName;
    this.device = hello.device;
    this.appVersion = hello.appVersion;
    this.rooms = hello.rooms;
    this.connectedAt = now;
    this.lastSeenAt = now;
    this.stream = null;
    this.detachedAt = null;
    this.nextSeq = 0;
    this.ackedSeq = 0;
    this.unread = 0;
    this.outbox = [];
  }
}

/** Renders one room message for one recipient and queues it on the session. */
function toEnvelope(session, message) {
  const seq = ++session.nextSeq;
  session.unread++;
  const data = JSON.stringify({
    seq,
    type: message.type,
    room: message.room,
    id: message.id,
    from: message.from,
    fromName: message.fromName,
    avatar: message.avatar,
    text: message.text,
    sentAt: message.sentAt,
    mentionsYou: message.mentions.includes(session.userId),
    unread: session.unread,
  });
  return { seq, room: message.room, frame: `id: ${seq}\nevent: ${message.type}\ndata: ${data}\n\n`, queuedAt: programSeconds() };
}

function deliver(message) {
  const members = rooms.get(message.room);
  for (const session of members) {
    const envelope = toEnvelope(session, message);
    stats.envelopes++;
    session.outbox.push(envelope);
    if (session.outbox.length > OUTBOX_LIMIT) session.outbox.shift();
    if (session.stream !== null) session.stream.write(envelope.frame);
  }
}

function presence(session, status) {
  for (const room of session.rooms) {
    deliver({ type: 'presence', room, id: `p${stats.envelopes}`, from: session.userId, fromName: session.displayName, avatar: null, text: status, sentAt: programSeconds(), mentions: [] });
  }
}

function attachStream(session, res, afterSeq) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(`retry: 3000\n\n`);
  for (const envelope of session.outbox) if (envelope.seq > afterSeq) res.write(envelope.frame);
  session.stream = res;
  session.detachedAt = null;
  session.lastSeenAt = programSeconds();
  res.on('close', () => {
    if (session.stream === res) detachStream(session);
  });
}

function detachStream(session) {
  // Connection lost without a sign-off: keep the session so the client can
  // resume from its last sequence number.
  session.stream = null;
  session.detachedAt = programSeconds();
  stats.streamsDropped++;
}

function closeSession(session) {
  sessions.delete(session.id);
  for (const room of session.rooms) rooms.get(room).delete(session);
  const stream = session.stream;
  session.stream = null;
  if (stream !== null) stream.end();
  presence(session, 'offline');
}

function sweepIdle() {
  const now = programSeconds();
  for (const session of sessions.values()) {
    if (session.stream !== null && now - session.lastSeenAt > IDLE_TIMEOUT_S) {
      stats.idleClosed++;
      closeSession(session);
    }
  }
}

function heartbeat() {
  for (const session of sessions.values()) if (session.stream !== null) session.stream.write(': ping\n\n');
}

// --- HTTP API ---------------------------------------------------------------

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

let nextSessionId = 1;
let nextMessageId = 1;

async function handle(req, res) {
  req.on('error', () => {}); // streams reset by clients
  const url = new URL(req.url, 'http://gateway');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, sessions: sessions.size });
  if (parts[0] !== 'v1') return sendJson(res, 404, { error: 'not found' });
  const now = programSeconds();
  if (parts[1] === 'sessions' && req.method === 'POST' && parts.length === 2) {
    const hello = JSON.parse((await readBody(req)).toString('utf8'));
    const session = new ClientSession(`s${(nextSessionId++).toString(36)}${Math.floor(random() * 1e6).toString(36)}`, hello, now);
    sessions.set(session.id, session);
    for (const room of session.rooms) rooms.get(room).add(session);
    stats.opened++;
    presence(session, 'online');
    return sendJson(res, 201, { id: session.id, heartbeat: HEARTBEAT_EVERY_S });
  }
  if (parts[1] === 'sessions' && parts.length >= 3) {
    const session = sessions.get(parts[2]);
    if (session === undefined) return sendJson(res, 404, { error: 'no such session' });
    if (req.method === 'GET' && parts[3] === 'stream') {
      const afterSeq = Number(url.searchParams.get('lastSeq') ?? 0);
      if (session.stream !== null) {
        const old = session.stream;
        session.stream = null;
        old.end();
      }
      if (afterSeq > 0) stats.resumed++;
      return attachStream(session, res, afterSeq);
    }
    if (req.method === 'POST' && parts[3] === 'ack') {
      const { seq } = JSON.parse((await readBody(req)).toString('utf8'));
      session.lastSeenAt = now;
      if (seq > session.ackedSeq) {
        session.ackedSeq = seq;
        session.unread = 0;
        let drop = 0;
        while (drop < session.outbox.length && session.outbox[drop].seq <= seq) drop++;
        if (drop > 0) session.outbox.splice(0, drop);
      }
      return sendJson(res, 200, { acked: session.ackedSeq, pending: session.outbox.length });
    }
    if (req.method === 'DELETE' && parts.length === 3) {
      stats.signedOff++;
      closeSession(session);
      return sendJson(res, 200, { closed: session.id });
    }
  }
  if (parts[1] === 'rooms' && parts[3] === 'messages' && req.method === 'POST') {
    if (!rooms.has(parts[2])) return sendJson(res, 404, { error: 'no such room' });
    const post = JSON.parse((await readBody(req)).toString('utf8'));
    const sender = sessions.get(post.sessionId);
    if (sender !== undefined) sender.lastSeenAt = now;
    const message = { type: 'message', room: parts[2], id: `m${nextMessageId++}`, from: post.from, fromName: post.fromName, avatar: post.avatar, text: post.text, sentAt: now, mentions: post.mentions };
    stats.published++;
    deliver(message);
    return sendJson(res, 202, { id: message.id });
  }
  if (req.method === 'GET' && parts[1] === 'rooms' && parts.length === 3) {
    const members = rooms.get(parts[2]);
    if (members === undefined) return sendJson(res, 404, { error: 'no such room' });
    const online = [];
    for (const session of members) if (session.stream !== null) online.push(session.userId);
    return sendJson(res, 200, { room: parts[2], online });
  }
  return sendJson(res, 404, { error: 'not found' });
}

// --- Room bus (the other gateway instances) ---------------------------------

const WORDS = 'the deploy is done can you check ticket build looks green again thanks lunch meeting moved to three please review my PR ok sounds good on it shipping today customer asked about pricing see doc link rollback finished'.split(' ');
const PEOPLE = Array.from({ length: 400 }, (_, i) => ({ id: `u${5000 + i}`, name: `User ${5000 + i}`, avatar: `https://cdn.example.com/avatars/u${5000 + i}.png` }));

function chatText() {
  const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const words = Math.max(2, Math.min(110, Math.round(14 * Math.exp(0.9 * normal))));
  let text = '';
  for (let i = 0; i < words; i++) text += (i === 0 ? '' : ' ') + WORDS[Math.floor(random() * WORDS.length)];
  return text;
}

function poisson(mean) {
  let n = 0;
  let p = Math.exp(-mean);
  let s = p;
  const u = random();
  while (u > s && n < 50) {
    n++;
    p *= mean / n;
    s += p;
  }
  return n;
}

function busTick() {
  const count = poisson(BUS_MESSAGES_PER_S * BUS_TICK_S);
  for (let i = 0; i < count; i++) {
    const person = PEOPLE[Math.floor(random() * PEOPLE.length)];
    const room = ROOM_NAMES[Math.floor(random() * ROOM_NAMES.length)];
    const mentions = random() < 0.1 ? [PEOPLE[Math.floor(random() * PEOPLE.length)].id] : [];
    deliver({ type: 'message', room, id: `b${nextMessageId++}`, from: person.id, fromName: person.name, avatar: person.avatar, text: chatText(), sentAt: programSeconds(), mentions });
  }
}

// --- Users (load generator) --------------------------------------------------

/** Pending client actions on the production clock, sorted by `at`. */
const agenda = [];
function schedule(at, action) {
  let i = agenda.length;
  while (i > 0 && agenda[i - 1].at > at) i--;
  agenda.splice(i, 0, { at, ...action });
}

function exponential(mean, source = random) {
  return -Math.log(1 - source()) * mean;
}

const clients = new Map(); // user's app instance, by session id
const streamAgent = { counts: { opened: 0, resets: 0, abandoned: 0, ended: 0 } };
let nextArrival = exponential(3600 / SESSIONS_PER_HOUR, arrivals);
let port = 0;

function newClient(now) {
  const person = PEOPLE[Math.floor(arrivals() * PEOPLE.length)];
  const first = Math.floor(arrivals() * ROOM_NAMES.length);
  let second = Math.floor(arrivals() * (ROOM_NAMES.length - 1));
  if (second >= first) second++;
  const normal = Math.sqrt(-2 * Math.log(1 - arrivals())) * Math.cos(2 * Math.PI * arrivals());
  const minutes = Math.max(1, Math.min(60, 8 * Math.exp(0.8 * normal)));
  const device = arrivals() < 0.55 ? 'android' : arrivals() < 0.6 ? 'ios' : 'web';
  const released = now >= ANDROID_73_RELEASE_S;
  const appVersion = device === 'android' ? (released && arrivals() < 0.4 ? '7.3.0' : '7.2.4') : device === 'ios' ? '7.2.1' : 'web-2024.11';
  const r = arrivals();
  const blipAfter = arrivals();
  // How this app instance ends: a clean sign-off, or a network blip on the way
  // (resumed); Android 7.3 is killed in the background 8 % of the time.
  const fate = appVersion === '7.3.0' && r < 0.08 ? 'killed' : r > 0.96 ? 'blip' : 'clean';
  return {
    hello: { userId: person.id, displayName: person.name, device, appVersion, rooms: [ROOM_NAMES[first], ROOM_NAMES[second]] },
    person,
    endAt: now + minutes * 60,
    fate,
    blipAfter,
    sessionId: null,
    lastSeq: 0,
    req: null,
    gone: false,
  };
}

function openStream(client, lastSeq) {
  const path = `/v1/sessions/${client.sessionId}/stream${lastSeq > 0 ? `?lastSeq=${lastSeq}` : ''}`;
  const req = http.request({ host: '127.0.0.1', port, path, agent: false, headers: { accept: 'text/event-stream' } });
  client.req = req;
  streamAgent.counts.opened++;
  req.on('error', () => {});
  req.on('response', (res) => {
    res.setEncoding('utf8');
    res.on('error', () => {});
    res.on('data', (chunk) => {
      let at = chunk.lastIndexOf('id: ');
      if (at === -1) return;
      at += 4;
      const end = chunk.indexOf('\n', at);
      if (end === -1) return;
      const seq = Number(chunk.slice(at, end));
      if (seq > client.lastSeq) client.lastSeq = seq;
    });
    res.on('end', () => {
      streamAgent.counts.ended++;
    });
  });
  req.end();
}

function resetStream(client) {
  const req = client.req;
  client.req = null;
  if (req === null) return;
  streamAgent.counts.resets++;
  if (req.socket !== null && !req.socket.destroyed) req.socket.resetAndDestroy();
  else req.destroy();
}

function nextRequest() {
  const now = programSeconds();
  while (now >= nextArrival) {
    schedule(nextArrival, { kind: 'open', client: newClient(nextArrival) });
    nextArrival += exponential(3600 / SESSIONS_PER_HOUR, arrivals);
  }
  while (agenda.length > 0 && agenda[0].at <= now) {
    const action = agenda.shift();
    const { client } = action;
    switch (action.kind) {
      case 'open':
        return { method: 'POST', path: '/v1/sessions', headers: { 'content-type': 'application/json' }, body: JSON.stringify(client.hello), action };
      case 'ack':
        if (client.gone) continue;
        if (now >= client.endAt) {
          if (client.fate === 'killed') {
            // Killed in the background: the OS tears the socket down.
            client.gone = true;
            streamAgent.counts.abandoned++;
            clients.delete(client.sessionId);
            resetStream(client);
            continue;
          }
          client.gone = true;
          clients.delete(client.sessionId);
          return { method: 'DELETE', path: `/v1/sessions/${client.sessionId}`, action };
        }
        schedule(now + 30, { kind: 'ack', client });
        return { method: 'POST', path: `/v1/sessions/${client.sessionId}/ack`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seq: client.lastSeq }), action };
      case 'say': {
        if (client.gone) continue;
        schedule(now + 60 + exponential(180), { kind: 'say', client });
        const room = client.hello.rooms[Math.floor(random() * 2)];
        const body = JSON.stringify({ sessionId: client.sessionId, from: client.person.id, fromName: client.person.name, avatar: client.person.avatar, text: chatText(), mentions: [] });
        return { method: 'POST', path: `/v1/rooms/${room}/messages`, headers: { 'content-type': 'application/json' }, body, action };
      }
      case 'blip':
        if (client.gone) continue;
        resetStream(client);
        schedule(now + 5 + random() * 25, { kind: 'resume', client });
        continue;
      case 'resume':
        if (client.gone) continue;
        openStream(client, client.lastSeq);
        continue;
      case 'roster':
        schedule(now + exponential(20), { kind: 'roster' });
        return { method: 'GET', path: `/v1/rooms/${ROOM_NAMES[Math.floor(random() * ROOM_NAMES.length)]}` };
      case 'health':
        schedule(now + 10, { kind: 'health' });
        return { method: 'GET', path: '/healthz' };
      default:
        continue;
    }
  }
  return null;
}

function onResponse(status, text, request) {
  const action = request.action;
  if (action === undefined || action.kind !== 'open' || status !== 201) return;
  const { client } = action;
  const now = programSeconds();
  client.sessionId = JSON.parse(text).id;
  clients.set(client.sessionId, client);
  openStream(client, 0);
  schedule(now + 30, { kind: 'ack', client });
  schedule(now + 20 + exponential(120), { kind: 'say', client });
  if (client.fate === 'blip') schedule(now + client.blipAfter * (client.endAt - now), { kind: 'blip', client });
}

// --- Start ------------------------------------------------------------------

const ballastMb = buildBallast();
({ port } = await listen((req, res) => {
  handle(req, res).catch((error) => {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message) });
  });
}));

onShutdown(() => {
  for (const client of clients.values()) if (client.req !== null) client.req.destroy();
});

schedule(0, { kind: 'health' });
schedule(4, { kind: 'health' });
schedule(2, { kind: 'roster' });

every((BUS_TICK_S * 1000) / speed, busTick);
every((SWEEP_EVERY_S * 1000) / speed, sweepIdle);
every((HEARTBEAT_EVERY_S * 1000) / speed, heartbeat);
const load = selfRequests(port, { perSecond: 4, next: nextRequest, onResponse, maxInFlight: 16 });

reportStats(() => {
  let attached = 0;
  let detached = 0;
  let outboxEnvelopes = 0;
  let detachedEnvelopes = 0;
  for (const session of sessions.values()) {
    outboxEnvelopes += session.outbox.length;
    if (session.stream !== null) attached++;
    else {
      detached++;
      detachedEnvelopes += session.outbox.length;
    }
  }
  return {
    retained: sessions.size,
    attached,
    detached,
    outboxEnvelopes,
    detachedEnvelopes,
    ...stats,
    streamsOpened: streamAgent.counts.opened,
    streamResets: streamAgent.counts.resets,
    appsKilled: streamAgent.counts.abandoned,
    requestsFailed: load.failed,
  };
});

ready(`chat-gateway-reset-session-leak on 127.0.0.1:${port}: chat gateway, sessions whose stream resets are kept for resume and never expire; Android 7.3 (onset ${ANDROID_73_RELEASE_S} s) never resumes${ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''}`);
