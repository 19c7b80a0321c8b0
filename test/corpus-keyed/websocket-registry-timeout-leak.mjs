// Notification gateway of a team-chat product: the apps keep a WebSocket open
// (GET /v1/stream, upgraded here with a minimal RFC 6455 implementation) and the
// backend publishes events to user and team channels (POST /v1/publish). Open
// connections live in the module-level Map `connections` (id -> Connection).
// A connection is removed when it closes cleanly: a close frame, or the client
// ending the TCP stream. The heartbeat pings every 30 s and terminates a
// connection that has not answered for 75 s, but that path only destroys the
// socket: nothing removes the entry. From SCENARIO_ONSET (default 1 h) a
// load-balancer change silently drops about 1 in 12 connections, which then end
// by heartbeat timeout and stay in the map with their socket, forever.
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import {
  buildBallast, every, listen, onShutdown, onsetSeconds, paced, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const DROPS_FROM_S = onsetSeconds(3600);
const HEARTBEAT_S = 30;
const PONG_TIMEOUT_S = 75;           // two missed pings and a bit
const CONNECTS_PER_S = 1.5;
const MEDIAN_SESSION_S = 150;        // log-normal, sigma 0.8: mean ~3.5 min
const DROPPED_SHARE = 1 / 12;
const PUBLISH_PER_S = 2;
const USERS = 40_000;
const TEAMS = 1_500;
const TOKEN_SECRET = 'chat-gw-2024';
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { text: 0x1, close: 0x8, ping: 0x9, pong: 0xa };
const EMPTY = Buffer.alloc(0);
const EPOCH_MS = Date.UTC(2024, 5, 10, 8);
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);
const wallMs = (productionSeconds) => (productionSeconds * 1000) / speed;

// --- RFC 6455 framing (no extensions, payloads under 64 KiB) ------------------
function encodeFrame(opcode, payload, masked) {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = (data.length < 126 ? 2 : 4) + (masked ? 4 : 0);
  const frame = Buffer.allocUnsafe(header + data.length);
  frame[0] = 0x80 | opcode;
  frame[1] = (masked ? 0x80 : 0) | (data.length < 126 ? data.length : 126);
  if (data.length >= 126) frame.writeUInt16BE(data.length, 2);
  if (!masked) {
    data.copy(frame, header);
    return frame;
  }
  const mask = randomBytes(4);
  mask.copy(frame, header - 4);
  for (let i = 0; i < data.length; i++) frame[header + i] = data[i] ^ mask[i & 3];
  return frame;
}

/** Calls onFrame(opcode, payload) for each complete frame; returns the unconsumed bytes. */
function decodeFrames(buffer, onFrame) {
  let offset = 0;
  while (buffer.length - offset >= 2) {
    const masked = (buffer[offset + 1] & 0x80) !== 0;
    let length = buffer[offset + 1] & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      if (buffer.length - offset < 4) break;
      length = buffer.readUInt16BE(start);
      start += 2;
    }
    const end = start + (masked ? 4 : 0) + length;
    if (buffer.length < end) break;
    const payload = Buffer.from(buffer.subarray(end - length, end));
    if (masked) for (let i = 0; i < length; i++) payload[i] ^= buffer[start + (i & 3)];
    onFrame(buffer[offset] & 0x0f, payload);
    offset = end;
  }
  return offset === buffer.length ? EMPTY : Buffer.from(buffer.subarray(offset));
}

const signToken = (userId) => `${userId}.${createHmac('sha256', TOKEN_SECRET).update(userId).digest('base64url')}`;

// --- the gateway --------------------------------------------------------------
class Connection {
  constructor(userId, socket, req, now) {
    this.id = randomUUID();
    this.userId = userId;
    this.socket = socket;
    this.remoteAddress = (req.headers['x-forwarded-for'] ?? socket.remoteAddress).split(',', 1)[0];
    this.userAgent = req.headers['user-agent'] ?? '';
    this.openedAt = now;
    this.lastPongAt = now;
    this.channels = new Set([`user:${userId}`]);
    this.state = 'open';
    this.pending = EMPTY;
    this.framesIn = 0;
    this.framesOut = 0;
  }

  send(opcode, payload) {
    if (this.state !== 'open') return;
    this.socket.write(encodeFrame(opcode, payload, false));
    this.framesOut++;
  }

  terminate(reason) {
    this.state = 'terminated';
    this.closeReason = reason;
    this.socket.destroy();
  }
}

const connections = new Map();
const metrics = { opened: 0, closedClean: 0, clientGone: 0, timedOut: 0, published: 0, delivered: 0 };

function unregister(conn, how) {
  if (conn.state !== 'open') return;
  conn.state = 'closed';
  connections.delete(conn.id);
  metrics[how]++;
}

function onFrame(conn, opcode, payload) {
  conn.framesIn++;
  if (opcode === OP.pong) conn.lastPongAt = nowMs();
  else if (opcode === OP.ping) conn.send(OP.pong, payload);
  else if (opcode === OP.close) {
    conn.send(OP.close, payload);
    unregister(conn, 'closedClean');
    conn.socket.end();
  } else if (opcode === OP.text) {
    const message = JSON.parse(payload.toString('utf8'));
    if (message.type === 'subscribe') for (const channel of message.channels) conn.channels.add(channel);
  }
}

function acceptConnection(req, socket, head) {
  const key = req.headers['sec-websocket-key'];
  const token = new URL(req.url, 'http://gw.internal').searchParams.get('access_token') ?? '';
  const userId = token.split('.', 1)[0];
  if (key === undefined || req.headers.upgrade?.toLowerCase() !== 'websocket' || token !== signToken(userId)) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.setNoDelay(true);
  const conn = new Connection(userId, socket, req, nowMs());
  connections.set(conn.id, conn);
  metrics.opened++;
  const onData = (chunk) => {
    const buffer = conn.pending.length === 0 ? chunk : Buffer.concat([conn.pending, chunk]);
    conn.pending = decodeFrames(buffer, (opcode, payload) => onFrame(conn, opcode, payload));
  };
  socket.on('data', onData);
  socket.on('end', () => { // the app went away without a close frame
    unregister(conn, 'clientGone');
    socket.end();
  });
  socket.on('error', (error) => (conn.closeReason = error.code));
  if (head.length > 0) onData(head);
}

function heartbeat() {
  const now = nowMs();
  const ping = String(now);
  for (const conn of connections.values()) {
    if (conn.state !== 'open') continue;
    if (now - conn.lastPongAt > PONG_TIMEOUT_S * 1000) {
      conn.terminate('heartbeat timeout');
      metrics.timedOut++;
    } else conn.send(OP.ping, ping);
  }
}

function publish(channel, event) {
  const text = JSON.stringify({ type: 'event', channel, event });
  metrics.published++;
  for (const conn of connections.values()) {
    if (conn.state === 'open' && conn.channels.has(channel)) {
      conn.send(OP.text, text);
      metrics.delivered++;
    }
  }
}

async function handle(req, res) {
  if (req.method === 'POST' && req.url === '/v1/publish') {
    const { channel, event } = JSON.parse((await readBody(req)).toString('utf8'));
    publish(channel, event);
    return res.writeHead(202).end();
  }
  if (req.url === '/healthz') return res.end(JSON.stringify({ ok: true, connections: connections.size }));
  res.writeHead(404).end();
}

// --- the apps and the backend (in-process clients) -------------------------------
const random = rng(4242);
const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
const appSockets = new Set();
const apps = { failed: 0, dropped: 0, received: 0 };
const AGENTS = ['Teamly/3.8.1 (Windows 10; Electron 29.1.0)', 'Teamly/3.8.1 (macOS 14.4; Electron 29.1.0)', 'Teamly-iOS/3.8.0 (iPhone; iOS 17.4)', 'Teamly-Android/3.8.0 (Android 14)', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Teamly-Web/3.8.1'];

function openApp(port) {
  const userId = `u${Math.floor(random() * USERS)}`;
  const team = `team:${Math.floor(TEAMS * random() ** 1.5)}`;
  const dropped = programSeconds() >= DROPS_FROM_S && random() < DROPPED_SHARE;
  const lifetime = MEDIAN_SESSION_S * Math.exp(0.8 * gauss());
  const headers = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), 'user-agent': AGENTS[Math.floor(random() * AGENTS.length)], 'x-forwarded-for': `100.${64 + Math.floor(random() * 64)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}` };
  const req = http.request({ host: '127.0.0.1', port, path: `/v1/stream?access_token=${signToken(userId)}`, headers, agent: false });
  req.on('response', (res) => { res.resume(); apps.failed++; });
  req.on('error', () => apps.failed++);
  req.on('upgrade', (res, socket) => {
    appSockets.add(socket);
    let pending = EMPTY;
    let silent = false; // dropped by the load balancer: nothing gets through any more
    socket.on('data', (chunk) => {
      if (silent) return;
      pending = decodeFrames(pending.length === 0 ? chunk : Buffer.concat([pending, chunk]), (opcode, payload) => {
        if (opcode === OP.ping) socket.write(encodeFrame(OP.pong, payload, true));
        else if (opcode === OP.text) apps.received++;
        else if (opcode === OP.close) socket.end();
      });
    });
    socket.on('error', () => {});
    socket.on('close', () => appSockets.delete(socket));
    socket.write(encodeFrame(OP.text, JSON.stringify({ type: 'subscribe', channels: [team, 'broadcast:status'] }), true));
    setTimeout(() => {
      if (dropped) {
        silent = true;
        apps.dropped++;
      } else if (random() < 0.75) socket.write(encodeFrame(OP.close, Buffer.from([0x03, 0xe8]), true)); // 1000 normal closure
      else socket.end(); // app killed or network switch: FIN without a close frame
    }, wallMs(lifetime));
  });
  req.end();
}

function nextPublish() {
  const channel = random() < 0.6 ? `user:u${Math.floor(random() * USERS)}` : random() < 0.98 ? `team:${Math.floor(TEAMS * random() ** 1.5)}` : 'broadcast:status';
  const event = { kind: channel.startsWith('user') ? 'mention' : 'message', id: randomUUID(), at: nowMs(), preview: 'New activity in your workspace' };
  return { method: 'POST', path: '/v1/publish', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel, event }) };
}

// --- main -------------------------------------------------------------------
const ballastMb = buildBallast();
const { server, port } = await listen((req, res) => {
  handle(req, res).catch(() => res.writeHead(400).end());
});
server.on('upgrade', acceptConnection);
every(wallMs(HEARTBEAT_S), heartbeat);
paced(CONNECTS_PER_S, (due) => {
  for (let i = 0; i < due; i++) openApp(port);
});
const backend = selfRequests(port, { perSecond: PUBLISH_PER_S, next: nextPublish, maxInFlight: 8 });
onShutdown(() => [...appSockets, ...[...connections.values()].map((conn) => conn.socket)].forEach((socket) => socket.destroy()));

ready(`notification gateway: WebSocket registry Map id -> Connection, ${CONNECTS_PER_S} connects/s, 1 in 12 dropped by the load balancer from ${DROPS_FROM_S} s and never removed; port ${port}; ballast ${ballastMb} MB`);
reportStats(() => ({ retained: connections.size, appsOpen: appSockets.size, ...metrics, appsDropped: apps.dropped, appsFailed: apps.failed, received: apps.received, failed: backend.failed }));
