// Chat fan-out service.
//
// Clients hold a (simulated) WebSocket; senders POST messages, typing
// indicators and read receipts to a room over HTTP, and the service fans each
// event out to every connection in the room. Every connection has its own
// outbound queue (class Connection, array `outbox`): frames are written to the
// socket while it is writable and wait in the outbox when the socket reports
// back-pressure, until 'drain'. The sockets are simulated: each has a link
// speed and a 16 KiB send buffer emptied by a network pump once a production
// second. Mobile clients now and then sit on a bad network (a lift, a train)
// for two to eight minutes, with a few hundred bytes per second or nothing at
// all: their outboxes swell for a while, then catch up when the link is back.
// A connection whose outbox passes 2 MiB is closed as a slow consumer.
import { EventEmitter } from 'node:events';
import {
  buildBallast,
  every,
  KiB,
  listen,
  MiB,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const SEND_BUFFER = 16 * KiB;
const MAX_OUTBOX_BYTES = 2 * MiB;
const PUMP_EVERY_S = 1;

const random = rng(0xc4a7);
const pick = (list) => list[Math.floor(random() * list.length)];

// --- simulated sockets and their links -----------------------------------------

class Link {
  constructor(mobile) {
    this.mobile = mobile;
    this.normalBps = mobile ? 20_000 + random() * 200_000 : 200_000 + random() * 2_000_000;
    this.badUntil = 0;
    this.badBps = 0;
  }

  /** Bytes per production second right now; mobile links go bad for 2-8 minutes now and then. */
  bytesPerSecond(now) {
    if (now < this.badUntil) return this.badBps;
    // A bad spell every ~20 minutes per mobile client (asked once per production second).
    if (this.mobile && random() < 1 / 1200) {
      this.badUntil = now + 120 + random() * 360;
      this.badBps = random() < 0.4 ? 0 : 100 + random() * 500;
      return this.badBps;
    }
    return this.normalBps;
  }

  isBad(now) {
    return now < this.badUntil;
  }
}

class SimulatedSocket extends EventEmitter {
  constructor(link) {
    super();
    this.link = link;
    this.buffered = 0;
    this.needDrain = false;
    this.bytesSent = 0;
    this.closed = false;
  }

  /** Like net.Socket#write: false when the send buffer is full (back-pressure). */
  write(text) {
    this.buffered += text.length;
    if (this.buffered >= SEND_BUFFER) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** The network moves `seconds` worth of bytes from the send buffer to the client. */
  transmit(now, seconds) {
    const sent = Math.min(this.buffered, this.link.bytesPerSecond(now) * seconds);
    this.buffered -= sent;
    this.bytesSent += sent;
    if (this.needDrain && this.buffered < SEND_BUFFER / 2) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  close(code, reason) {
    this.closed = true;
    this.emit('close', code, reason);
  }
}

// --- connections, rooms ------------------------------------------------------------

const connections = new Map(); // connection id -> Connection
const rooms = new Map(); // room id -> Room
const totals = { connected: 0, disconnected: 0, slowConsumersClosed: 0, frames: 0, framesQueued: 0, messages: 0 };
let nextConnection = 1;

class Connection {
  constructor(id, userId, socket) {
    this.id = id;
    this.userId = userId;
    this.socket = socket;
    this.rooms = new Set();
    this.outbox = [];
    this.outboxBytes = 0;
    this.writable = true;
    this.seq = 0;
    socket.on('drain', () => this.flush());
  }

  send(payload) {
    totals.frames++;
    if (this.writable && this.outbox.length === 0) {
      this.writable = this.socket.write(payload);
      return;
    }
    this.outbox.push({ seq: ++this.seq, payload, queuedAt: programSeconds() });
    this.outboxBytes += payload.length;
    totals.framesQueued++;
    if (this.outboxBytes > MAX_OUTBOX_BYTES) closeConnection(this, 1008, 'slow consumer');
  }

  flush() {
    this.writable = true;
    while (this.outbox.length > 0) {
      const frame = this.outbox.shift();
      this.outboxBytes -= frame.payload.length;
      if (!this.socket.write(frame.payload)) {
        this.writable = false;
        return;
      }
    }
  }
}

class Room {
  constructor(id, topic) {
    this.id = id;
    this.topic = topic;
    this.members = new Set();
    this.history = []; // last 50 messages
  }

  broadcast(payload, exceptId) {
    for (const connection of this.members) if (connection.id !== exceptId) connection.send(payload);
  }

  remember(message) {
    this.history.push(message);
    if (this.history.length > 50) this.history.shift();
  }
}

function openConnection(userId, roomIds, mobile) {
  const connection = new Connection(`c${nextConnection++}`, userId, new SimulatedSocket(new Link(mobile)));
  for (const roomId of roomIds) {
    const room = rooms.get(roomId);
    if (room === undefined) continue;
    room.members.add(connection);
    connection.rooms.add(room);
  }
  connections.set(connection.id, connection);
  totals.connected++;
  connection.send(JSON.stringify({ type: 'hello', connectionId: connection.id, rooms: roomIds, serverTime: Date.now() }));
  return connection;
}

function closeConnection(connection, code, reason) {
  if (!connections.delete(connection.id)) return;
  for (const room of connection.rooms) room.members.delete(connection);
  connection.rooms.clear();
  connection.outbox = [];
  connection.outboxBytes = 0;
  connection.socket.close(code, reason);
  totals.disconnected++;
  if (code === 1008) totals.slowConsumersClosed++;
}

function pump() {
  const now = programSeconds();
  for (const connection of connections.values()) {
    if (connection.socket.buffered > 0) connection.socket.transmit(now, PUMP_EVERY_S);
    else connection.socket.link.bytesPerSecond(now); // links go bad while idle too
  }
}

every((PUMP_EVERY_S * 1000) / speed, pump);

// --- the workspace: rooms and their users -----------------------------------------

const TOPICS = ['general', 'random', 'engineering', 'design', 'sales', 'support', 'incidents', 'marketing', 'product', 'hiring', 'ops', 'finance'];
const ROOM_COUNT = 40;
for (let i = 0; i < ROOM_COUNT; i++) {
  const id = `room_${i}`;
  rooms.set(id, new Room(id, i < TOPICS.length ? TOPICS[i] : `project-${i}`));
}
const roomIds = [...rooms.keys()];
/** Room i's share of members falls off with i: room_0 (#general) has everyone. */
function roomsFor(userIndex) {
  const joined = ['room_0'];
  for (let i = 1; i < ROOM_COUNT; i++) if (random() < 0.9 / Math.sqrt(i + 1)) joined.push(roomIds[i]);
  if (userIndex % 7 === 0) joined.push(roomIds[1 + (userIndex % (ROOM_COUNT - 1))]);
  return [...new Set(joined)];
}

const USERS = 450;
const people = Array.from({ length: USERS }, (_, i) => ({ userId: `u_${(1000 + i * 37).toString(36)}`, name: `User ${i}`, rooms: roomsFor(i), mobile: random() < 0.45 }));
// The instance takes over the connections of the workspace when it starts.
for (const person of people) if (random() < 0.8) openConnection(person.userId, person.rooms, person.mobile);

// --- HTTP -------------------------------------------------------------------------

function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

let nextMessage = 1;

function messageFrame(room, input, now) {
  const message = {
    id: `m_${(nextMessage++).toString(36)}`,
    room: room.id,
    sender: { id: input.senderId, name: input.senderName },
    text: input.text,
    mentions: input.mentions ?? [],
    attachments: input.attachments ?? [],
    threadId: input.threadId ?? null,
    sentAt: new Date(now).toISOString(),
  };
  room.remember(message);
  totals.messages++;
  return JSON.stringify({ type: 'message', message });
}

async function handler(req, res) {
  try {
    const url = new URL(req.url, 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true, connections: connections.size });
    if (parts[0] === 'v1' && parts[1] === 'rooms' && parts[2]) {
      const room = rooms.get(parts[2]);
      if (room === undefined) return send(res, 404, { error: 'unknown room' });
      if (req.method === 'GET' && parts[3] === 'messages') return send(res, 200, { room: room.id, messages: room.history.slice(-20) });
      const input = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
      if (req.method === 'POST' && parts[3] === 'messages') {
        if (typeof input.text !== 'string' || input.text.length === 0 || input.text.length > 8000) return send(res, 422, { error: 'bad text' });
        room.broadcast(messageFrame(room, input, Date.now()));
        return send(res, 201, { ok: true });
      }
      if (req.method === 'POST' && parts[3] === 'typing') {
        room.broadcast(JSON.stringify({ type: 'typing', room: room.id, userId: input.userId, until: Date.now() + 5000 }), input.connectionId);
        return send(res, 202, { ok: true });
      }
      if (req.method === 'POST' && parts[3] === 'read') {
        room.broadcast(JSON.stringify({ type: 'read', room: room.id, userId: input.userId, messageId: input.messageId, at: Date.now() }), input.connectionId);
        return send(res, 202, { ok: true });
      }
    }
    if (req.method === 'POST' && url.pathname === '/v1/connections') {
      const input = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      const connection = openConnection(input.userId, input.rooms, input.mobile === true);
      return send(res, 201, { connectionId: connection.id });
    }
    if (req.method === 'DELETE' && parts[0] === 'v1' && parts[1] === 'connections' && parts[2]) {
      const connection = connections.get(parts[2]);
      if (connection !== undefined) closeConnection(connection, 1000, 'bye');
      return send(res, 204, {});
    }
    send(res, 404, { error: 'not found' });
  } catch (error) {
    send(res, 400, { error: String(error.message ?? error) });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// --- the users --------------------------------------------------------------------

const WORDS = 'the deploy is done can someone review my PR lunch at noon? I think the build broke again thanks looks good to me let us sync tomorrow the customer asked about invoices ship it standup in five minutes'.split(' ');
function sentence() {
  const n = 4 + Math.floor(random() * 30);
  let text = '';
  for (let i = 0; i < n; i++) text += (i ? ' ' : '') + pick(WORDS);
  return text;
}

/** A room weighted by its size (busy rooms get more traffic). */
function busyRoom() {
  const i = Math.floor(Math.pow(random(), 2.2) * ROOM_COUNT);
  return roomIds[i];
}

function someConnection() {
  const ids = [...connections.keys()];
  return connections.get(ids[Math.floor(random() * ids.length)]);
}

function chatRequest() {
  const roomId = busyRoom();
  const sender = someConnection();
  const r = random();
  if (r < 0.5) {
    const attachments = random() < 0.08 ? [{ id: `f_${Math.floor(random() * 1e9).toString(36)}`, name: 'screenshot.png', size: Math.floor(random() * 2e6), mime: 'image/png' }] : [];
    const body = { senderId: sender?.userId ?? 'u_bot', senderName: `User ${Math.floor(random() * USERS)}`, text: sentence(), mentions: random() < 0.2 ? [people[Math.floor(random() * USERS)].userId] : [], attachments };
    return { method: 'POST', path: `/v1/rooms/${roomId}/messages`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  }
  if (r < 0.8) return { method: 'POST', path: `/v1/rooms/${roomId}/typing`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: sender?.userId, connectionId: sender?.id }) };
  if (r < 0.95) return { method: 'POST', path: `/v1/rooms/${roomId}/read`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: sender?.userId, connectionId: sender?.id, messageId: `m_${(nextMessage - 1).toString(36)}` }) };
  return { method: 'GET', path: `/v1/rooms/${roomId}/messages` };
}

// Messages, typing indicators and read receipts: 3 events per production second.
selfRequests(port, { perSecond: 3, maxInFlight: 16, next: chatRequest });

// People come and go: ~1 connect and ~1 disconnect every 20 s.
selfRequests(port, {
  perSecond: 0.1,
  maxInFlight: 4,
  next: () => {
    if (connections.size > 330 && random() < 0.6) return { method: 'DELETE', path: `/v1/connections/${someConnection().id}` };
    const person = people[Math.floor(random() * USERS)];
    return { method: 'POST', path: '/v1/connections', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: person.userId, rooms: person.rooms, mobile: person.mobile }) };
  },
});

function outboxTotals() {
  let frames = 0;
  let bytes = 0;
  let largest = 0;
  let swollen = 0;
  let badLinks = 0;
  const now = programSeconds();
  for (const connection of connections.values()) {
    frames += connection.outbox.length;
    bytes += connection.outboxBytes;
    if (connection.outbox.length > largest) largest = connection.outbox.length;
    if (connection.outbox.length > 0) swollen++;
    if (connection.socket.link.isBad(now)) badLinks++;
  }
  return { frames, bytes, largest, swollen, badLinks };
}

reportStats(() => {
  const o = outboxTotals();
  return {
    retained: o.frames,
    outboxBytes: o.bytes,
    largestOutbox: o.largest,
    swollenOutboxes: o.swollen,
    badLinks: o.badLinks,
    connections: connections.size,
    messages: totals.messages,
    frames: totals.frames,
    framesQueued: totals.framesQueued,
    slowConsumersClosed: totals.slowConsumersClosed,
  };
});

ready(`chat-outbox-per-connection: ${connections.size} connections in ${ROOM_COUNT} rooms, per-connection outboxes drained on 'drain' (ballast ${ballastMb} MB)`);
