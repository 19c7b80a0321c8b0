// Chat gateway over a business day (healthy, follows its connections).
//
// The gateway keeps one Connection per connected device: the user's profile
// and contact list loaded at connect, a 16 KiB socket send buffer, the last 64
// frames (for resume after a short drop) and the frames not yet acknowledged.
// Messages posted to a room are encoded once and fanned out to every member
// connection. HTTP stands in for the websocket protocol: devices connect
// (POST /v1/connections), post messages, sync (acknowledging what they got)
// and disconnect (DELETE). The simulated day starts at night with ~140
// devices, ramps up over ~3 hours to ~900 and goes back down to the night
// level by 6 h; each device stays ~25 minutes. Memory follows the number of
// connections up and down; nothing is kept after a device disconnects.
import {
  buildBallast,
  every,
  KiB,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const NIGHT_CONNECTIONS = 140;
const PEAK_CONNECTIONS = 900;
const DAY_SECONDS = 6 * 3600; // night -> peak at 3 h -> night at 6 h
const MEAN_STAY_SECONDS = 25 * 60;
const MESSAGE_EVERY_SECONDS = 8 * 60; // per connected user, on average
const SYNC_EVERY_SECONDS = 4 * 60;
const SEND_BUFFER_BYTES = 16 * KiB;
const HISTORY_FRAMES = 64;
const MAX_PENDING_ACKS = 500;
const ROOM_COUNT = 400;
const USER_POPULATION = 50_000;

const random = rng(0xc4a7);

// --- Gateway state ---------------------------------------------------------------

const FIRST = ['Sam', 'Alex', 'Robin', 'Kim', 'Jo', 'Charlie', 'Noa', 'Mika', 'Luca', 'Eli', 'Ari', 'Sasha'];
const LOCALES = ['en-GB', 'de-DE', 'fr-FR', 'es-ES', 'it-IT', 'nl-NL', 'pl-PL', 'sv-SE'];

function loadProfile(userId) {
  // stand-in for the user-service call made at connect time
  const contacts = [];
  const contactCount = 40 + (userId % 120);
  for (let i = 0; i < contactCount; i++) contacts.push(`u${(userId * 31 + i * 977) % USER_POPULATION}`);
  return {
    userId: `u${userId}`,
    displayName: `${FIRST[userId % FIRST.length]} ${String.fromCharCode(65 + (userId % 26))}.`,
    avatarUrl: `https://avatars.chat.example/${userId.toString(16)}/96.png`,
    locale: LOCALES[userId % LOCALES.length],
    settings: { notifications: userId % 3 !== 0, theme: userId % 2 === 0 ? 'dark' : 'light', readReceipts: true, compactMode: userId % 5 === 0 },
    contacts,
  };
}

class Connection {
  constructor(id, userId, device, now) {
    this.id = id;
    this.userId = userId;
    this.device = device;
    this.connectedAt = now;
    this.lastSeen = now;
    this.profile = loadProfile(userId);
    this.rooms = new Set();
    this.sendBuffer = Buffer.alloc(SEND_BUFFER_BYTES);
    this.sendOffset = 0;
    this.flushes = 0;
    this.history = [];
    this.pendingAcks = new Map(); // seq -> frame
    this.seq = 0;
    this.stats = { framesOut: 0, bytesOut: 0, framesIn: 0, dropped: 0 };
  }

  deliver(frame, encoded) {
    const seq = ++this.seq;
    if (this.sendOffset + encoded.length + 4 > this.sendBuffer.length) this.flush();
    this.sendBuffer.writeUInt32BE(encoded.length, this.sendOffset);
    encoded.copy(this.sendBuffer, this.sendOffset + 4);
    this.sendOffset += encoded.length + 4;
    this.history.push(frame);
    if (this.history.length > HISTORY_FRAMES) this.history.shift();
    this.pendingAcks.set(seq, frame);
    if (this.pendingAcks.size > MAX_PENDING_ACKS) {
      this.pendingAcks.delete(this.pendingAcks.keys().next().value);
      this.stats.dropped++;
    }
    this.stats.framesOut++;
    this.stats.bytesOut += encoded.length;
  }

  flush() {
    // the socket write; the kernel has the bytes now
    this.flushes++;
    this.sendOffset = 0;
  }

  ack(upTo) {
    for (const seq of this.pendingAcks.keys()) {
      if (seq > upTo) break;
      this.pendingAcks.delete(seq);
    }
  }
}

const connections = new Map(); // connectionId -> Connection
const roomMembers = new Map(); // roomId -> Set<Connection>
let nextConnectionId = 1;
let nextFrameId = 1;
const gatewayCounters = { connects: 0, disconnects: 0, messages: 0, frames: 0, syncs: 0 };

function encodeFrame(frame) {
  return Buffer.from(JSON.stringify(frame), 'utf8');
}

function fanOut(roomId, frame, except) {
  const members = roomMembers.get(roomId);
  if (members === undefined) return;
  const encoded = encodeFrame(frame);
  for (const conn of members) {
    if (conn === except) continue;
    conn.deliver(frame, encoded);
    gatewayCounters.frames++;
  }
}

function joinRoom(conn, roomId) {
  let members = roomMembers.get(roomId);
  if (members === undefined) roomMembers.set(roomId, (members = new Set()));
  members.add(conn);
  conn.rooms.add(roomId);
  fanOut(roomId, { id: nextFrameId++, type: 'presence', room: roomId, user: conn.profile.userId, status: 'online', at: programSeconds() }, conn);
}

function leaveAll(conn) {
  for (const roomId of conn.rooms) {
    const members = roomMembers.get(roomId);
    if (members === undefined) continue;
    members.delete(conn);
    if (members.size === 0) roomMembers.delete(roomId);
    else fanOut(roomId, { id: nextFrameId++, type: 'presence', room: roomId, user: conn.profile.userId, status: 'offline', at: programSeconds() }, conn);
  }
  conn.rooms.clear();
}

// --- HTTP ------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://gateway.internal');
  const parts = url.pathname.split('/'); // ['', 'v1', 'connections', id, 'sync']
  const now = programSeconds();
  if (req.method === 'POST' && url.pathname === '/v1/connections') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    const conn = new Connection(`c${nextConnectionId++}`, body.userId, body.device, now);
    connections.set(conn.id, conn);
    for (const roomId of body.rooms) joinRoom(conn, roomId);
    gatewayCounters.connects++;
    return sendJson(res, 201, { connectionId: conn.id, rooms: [...conn.rooms], heartbeatSeconds: 30 });
  }
  if (parts[2] === 'connections' && parts[3] !== undefined) {
    const conn = connections.get(parts[3]);
    if (conn === undefined) return sendJson(res, 404, { error: 'unknown connection' });
    conn.lastSeen = now;
    if (req.method === 'DELETE') {
      leaveAll(conn);
      connections.delete(conn.id);
      gatewayCounters.disconnects++;
      return sendJson(res, 200, { closed: conn.id, framesOut: conn.stats.framesOut });
    }
    if (parts[4] === 'sync') {
      const ackUpTo = Number(url.searchParams.get('ack') ?? 0);
      conn.ack(ackUpTo);
      gatewayCounters.syncs++;
      const frames = [];
      for (const [seq, frame] of conn.pendingAcks) {
        frames.push({ seq, id: frame.id, type: frame.type, room: frame.room });
        if (frames.length >= 100) break;
      }
      return sendJson(res, 200, { lastSeq: conn.seq, frames });
    }
  }
  if (req.method === 'POST' && parts[2] === 'rooms' && parts[4] === 'messages') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    const conn = connections.get(body.connectionId);
    if (conn === undefined) return sendJson(res, 404, { error: 'unknown connection' });
    const roomId = Number(parts[3]);
    if (!conn.rooms.has(roomId)) return sendJson(res, 403, { error: 'not a member' });
    conn.stats.framesIn++;
    const frame = { id: nextFrameId++, type: 'message', room: roomId, from: conn.profile.userId, name: conn.profile.displayName, text: body.text, sentAt: now };
    gatewayCounters.messages++;
    fanOut(roomId, frame, conn);
    return sendJson(res, 202, { id: frame.id });
  }
  if (url.pathname === '/internal/gateway') {
    return sendJson(res, 200, { connections: connections.size, rooms: roomMembers.size, ...gatewayCounters });
  }
  sendJson(res, 404, { error: 'no route' });
}

const { port } = await listen((req, res) => {
  handle(req, res).catch((error) => sendJson(res, 400, { error: String(error.message) }));
});

// --- Devices (the in-process client) ----------------------------------------------

const DEVICES = ['web', 'ios', 'android', 'desktop'];
const PHRASES = [
  'ok, on it', 'can you review the PR when you have a minute?', 'lunch?', 'the deploy is green',
  'meeting moved to 3pm', 'thanks!', 'who owns the billing alerts this week?', 'see the doc I shared',
  'running 5 min late', 'ship it', 'let me check and get back to you', 'that ticket is a duplicate of the other one',
];

function expSample(mean) {
  return -Math.log(1 - random()) * mean;
}

function zipfRoom() {
  return Math.floor(Math.exp(random() * Math.log(ROOM_COUNT + 1))) - 1;
}

function targetConnections(t) {
  if (t >= DAY_SECONDS) return NIGHT_CONNECTIONS;
  const s = Math.sin((Math.PI * t) / DAY_SECONDS);
  return NIGHT_CONNECTIONS + (PEAK_CONNECTIONS - NIGHT_CONNECTIONS) * s * s;
}

function arrivalRate(t) {
  // arrivals that keep the expected connection count on the curve
  const slope = t >= DAY_SECONDS ? 0 : ((PEAK_CONNECTIONS - NIGHT_CONNECTIONS) * Math.PI * Math.sin((2 * Math.PI * t) / DAY_SECONDS)) / DAY_SECONDS;
  return Math.max(0, slope + targetConnections(t) / MEAN_STAY_SECONDS);
}

const devices = new Set();
const outbox = [];

function connectDevice(now) {
  const userId = Math.floor(random() * USER_POPULATION);
  const rooms = new Set();
  const roomCount = 1 + Math.floor(random() * 4);
  while (rooms.size < roomCount) rooms.add(zipfRoom());
  const device = {
    userId,
    kind: DEVICES[userId % DEVICES.length],
    rooms: [...rooms],
    connectionId: null,
    leaveAt: now + expSample(MEAN_STAY_SECONDS),
    nextMessageAt: now + expSample(MESSAGE_EVERY_SECONDS),
    nextSyncAt: now + expSample(SYNC_EVERY_SECONDS),
    lastSeq: 0,
  };
  devices.add(device);
  outbox.push({
    method: 'POST',
    path: '/v1/connections',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId, device: device.kind, rooms: device.rooms }),
    device,
  });
}

function stepDevices(now) {
  for (const device of devices) {
    if (device.connectionId === null) continue;
    if (now >= device.leaveAt) {
      devices.delete(device);
      outbox.push({ method: 'DELETE', path: `/v1/connections/${device.connectionId}`, device });
      continue;
    }
    if (now >= device.nextMessageAt) {
      device.nextMessageAt = now + expSample(MESSAGE_EVERY_SECONDS);
      const room = device.rooms[Math.floor(random() * device.rooms.length)];
      outbox.push({
        method: 'POST',
        path: `/v1/rooms/${room}/messages`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ connectionId: device.connectionId, text: PHRASES[Math.floor(random() * PHRASES.length)] }),
        device,
      });
    }
    if (now >= device.nextSyncAt) {
      device.nextSyncAt = now + expSample(SYNC_EVERY_SECONDS);
      outbox.push({ method: 'GET', path: `/v1/connections/${device.connectionId}/sync?ack=${device.lastSeq}`, device });
    }
  }
}

function onResponse(status, text, request) {
  const device = request.device;
  if (device === undefined || status >= 300) return;
  if (request.method === 'POST' && request.path === '/v1/connections') {
    device.connectionId = JSON.parse(text).connectionId;
  } else if (request.path.includes('/sync')) {
    device.lastSeq = JSON.parse(text).lastSeq;
  }
}

const ballastMb = buildBallast();

const client = selfRequests(port, { perSecond: 40, next: () => outbox.shift() ?? null, maxInFlight: 32, onResponse });

for (let i = 0; i < NIGHT_CONNECTIONS; i++) connectDevice(0);
let arrivalsDue = 0;
let lastStep = programSeconds();

every(Math.max(10, 1000 / speed), () => {
  const now = programSeconds();
  const dt = now - lastStep;
  lastStep = now;
  arrivalsDue += arrivalRate(now) * dt;
  while (arrivalsDue >= 1) {
    // Poisson arrivals: the next gap is exponential, so spend a random share
    arrivalsDue -= expSample(1);
    connectDevice(now);
  }
  stepDevices(now);
});

function framesHeld() {
  let held = 0;
  for (const conn of connections.values()) held += conn.pendingAcks.size;
  return held;
}

reportStats(() => ({
  retained: connections.size,
  rooms: roomMembers.size,
  pendingFrames: framesHeld(),
  target: Math.round(targetConnections(programSeconds())),
  ...gatewayCounters,
  requests: client.completed,
  failed: client.failed,
}));

ready(
  `chat-gateway-business-day: chat gateway on 127.0.0.1:${port}, ${NIGHT_CONNECTIONS} -> ${PEAK_CONNECTIONS} -> ${NIGHT_CONNECTIONS} connections over ${DAY_SECONDS} s, stays ~${MEAN_STAY_SECONDS} s, speed ${speed}` +
    (ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''),
);
