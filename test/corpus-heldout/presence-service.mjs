// Presence service for the team-chat app: clients hold a realtime connection
// (WebSocket-like; HTTP stand-ins on 127.0.0.1 here) and the service keeps
// who is online, their status and what they are subscribed to. Each
// connection gets a heartbeat (every 60 s at speed 1) that pings the client,
// counts missed pongs and refreshes the presence entry.
//
//   POST /presence/connect?user=…   handshake → { sid }
//   POST /presence/:sid/status      status change ("in a meeting")
//   POST /presence/:sid/disconnect  close frame
//
// startHeartbeat() starts a setInterval whose callback closes over the
// connection's session state (~1.5 KB). disconnect() deletes the session from
// `sessions` and marks it closed, but never calls clearInterval(): every ended
// connection's timer stays in Node's timer list and keeps its session alive
// (the callback returns early for closed sessions).
// Speed 1: 2.8 connections/s, each online ~4 min (~670 online) → ~15 MB/h of
// JS heap from the first disconnects (~4 min).
// Cap: the service refuses handshakes after 60 000 heartbeats started
// (~90 MB, ~6 h at speed 1, ~6 min at SCENARIO_SPEED=60).
// stats: retained = heartbeats started − sessions online (leaked timers).
import { buildBallast, listen, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const CONNECTS_PER_SECOND = 2.8;
const ONLINE_SECONDS = 240;
const HEARTBEAT_SECONDS = 60;
const MAX_HEARTBEATS = 60_000;

const sessions = new Map();
const counters = { connected: 0, disconnected: 0, heartbeats: 0, pings: 0, refused: 0 };

const CHANNELS = ['general', 'random', 'eng', 'eng-backend', 'eng-frontend', 'design', 'sales', 'support', 'ops', 'incidents', 'releases', 'hiring', 'marketing', 'finance', 'legal', 'product'];

function openSession(sid, userId, headers) {
  const now = Date.now();
  const channels = [];
  for (let i = 0; i < 12; i++) channels.push(`${CHANNELS[(userId + i * 5) % CHANNELS.length]}:${(userId + i) % 7}`);
  return {
    sid,
    userId,
    displayName: `User ${userId}`,
    device: headers['x-device'] ?? 'web',
    userAgent: headers['user-agent'],
    remoteAddress: headers['x-forwarded-for'] ?? '127.0.0.1',
    status: 'online',
    statusText: '',
    channels,
    connectedAt: now,
    lastPongAt: now,
    missedPongs: 0,
    pingSeq: 0,
    closed: false,
    lastFrame: '',
    typingIn: null,
  };
}

function pingFrame(session) {
  return `{"op":"ping","sid":"${session.sid}","seq":${session.pingSeq},"ts":${Date.now()}}`;
}

function startHeartbeat(session) {
  counters.heartbeats++;
  session.timer = setInterval(() => {
    if (session.closed) return;
    counters.pings++;
    session.pingSeq++;
    if (Date.now() - session.lastPongAt > scaledMs(HEARTBEAT_SECONDS * 3)) session.missedPongs++;
    session.lastFrame = pingFrame(session);
  }, scaledMs(HEARTBEAT_SECONDS));
}

function connect(sid, userId, headers) {
  if (counters.heartbeats >= MAX_HEARTBEATS) {
    counters.refused++;
    return null;
  }
  const session = openSession(sid, userId, headers);
  sessions.set(sid, session);
  startHeartbeat(session);
  counters.connected++;
  return session;
}

function disconnect(sid) {
  const session = sessions.get(sid);
  if (session === undefined) return false;
  session.closed = true;
  session.status = 'offline';
  sessions.delete(sid);
  counters.disconnected++;
  return true;
}

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  const url = new URL(req.url, 'http://presence');
  const parts = url.pathname.split('/');
  if (req.method !== 'POST' || parts[1] !== 'presence') return res.writeHead(404).end();
  if (parts[2] === 'connect') {
    const userId = Number(url.searchParams.get('user'));
    const session = connect(url.searchParams.get('sid'), userId, req.headers);
    if (session === null) return res.writeHead(503, { 'retry-after': '60' }).end();
    return res.writeHead(200, { 'content-type': 'application/json' }).end(`{"sid":"${session.sid}","channels":${session.channels.length}}`);
  }
  const session = sessions.get(parts[2]);
  if (parts[3] === 'status') {
    const body = JSON.parse(await readBody(req));
    if (session === undefined) return res.writeHead(410).end();
    session.status = body.status;
    session.statusText = body.text;
    session.lastPongAt = Date.now();
    return res.writeHead(204).end();
  }
  if (parts[3] === 'disconnect') {
    await readBody(req);
    return res.writeHead(disconnect(parts[2]) ? 204 : 410).end();
  }
  res.writeHead(404).end();
});

// Client n connects; client n − ONLINE/2 changes its status; client n − ONLINE leaves.
const random = rng(202);
const LAG = Math.round(CONNECTS_PER_SECOND * ONLINE_SECONDS);
const STATUSES = [['busy', 'In a meeting'], ['away', 'Lunch'], ['online', ''], ['dnd', 'Focus time — back at 3']];
const sid = (n) => `p${n.toString(36)}-${(n * 2654435761 >>> 0).toString(16)}`;
let client = 0;
let step = 0;
function nextRequest() {
  const phase = step++ % 3;
  if (phase === 0) {
    client++;
    const userId = Math.floor(random() * 40_000);
    return { method: 'POST', path: `/presence/connect?sid=${sid(client)}&user=${userId}`, headers: { 'user-agent': `TeamChat/5.${client % 9} (Electron 29; Windows NT 10.0)`, 'x-device': client % 3 === 0 ? 'mobile' : 'desktop' } };
  }
  if (phase === 1) {
    if (client <= LAG / 2) return null;
    const [status, text] = STATUSES[Math.floor(random() * STATUSES.length)];
    return { method: 'POST', path: `/presence/${sid(client - LAG / 2)}/status`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status, text }) };
  }
  if (client <= LAG) return null;
  return { method: 'POST', path: `/presence/${sid(client - LAG)}/disconnect`, body: '' };
}
selfRequests(port, { perSecond: CONNECTS_PER_SECOND * 3, next: nextRequest, maxInFlight: 16 });

reportStats(() => ({ retained: counters.heartbeats - sessions.size, online: sessions.size, ...counters, capped: counters.heartbeats >= MAX_HEARTBEATS, ballastMB }));
ready(`presence-service: ${CONNECTS_PER_SECOND} connections/s (speed 1), ~${LAG} online, heartbeat every ${HEARTBEAT_SECONDS} s`);
