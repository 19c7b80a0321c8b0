// Presence service of a chat product (healthy).
//
// Each room keeps the Set of member ids currently present in it (class Room,
// one per room, in the module-level Map `rooms`); `memberRooms` maps a user to
// the Set of rooms the user is in, so a disconnect can leave them all. The
// websocket gateway reports joins and leaves over HTTP (POST and DELETE
// /v1/rooms/:room/members) and the room header reads GET
// /v1/rooms/:room/presence. A room that becomes empty is dropped and is
// created again by its next join.
//
// Traffic: users arrive at ~1.25 per second all day and stay ~20 minutes
// (exponential, at least 1 minute) in one of 400 rooms (a few busy rooms, a
// long tail); one in five also joins a second room a few minutes in. So
// ~1 500 users are present at once, in ~300-350 non-empty rooms, after the
// first hour or so. ~4 requests per second in all.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const EPOCH = Date.parse('2026-12-07T06:00:00Z');
const clock = () => EPOCH + Math.round(programSeconds() * 1000);

class Room {
  constructor(id, now) {
    this.id = id;
    this.members = new Set();
    this.createdAt = now;
    this.lastChangeAt = now;
    this.joins = 0;
    this.peak = 0;
  }

  add(userId, now) {
    if (this.members.has(userId)) return false;
    this.members.add(userId);
    this.joins++;
    this.lastChangeAt = now;
    if (this.members.size > this.peak) this.peak = this.members.size;
    return true;
  }

  remove(userId, now) {
    const removed = this.members.delete(userId);
    if (removed) this.lastChangeAt = now;
    return removed;
  }
}

/** roomId → Room */
const rooms = new Map();
/** userId → Set of roomIds */
const memberRooms = new Map();
const totals = { joins: 0, leaves: 0, roomsCreated: 0, roomsDropped: 0 };

function roomFor(roomId, now) {
  let room = rooms.get(roomId);
  if (room === undefined) {
    room = new Room(roomId, now);
    rooms.set(roomId, room);
    totals.roomsCreated++;
  }
  return room;
}

function join(roomId, userId) {
  const now = clock();
  if (!roomFor(roomId, now).add(userId, now)) return false;
  let joined = memberRooms.get(userId);
  if (joined === undefined) {
    joined = new Set();
    memberRooms.set(userId, joined);
  }
  joined.add(roomId);
  totals.joins++;
  return true;
}

function leave(roomId, userId) {
  const room = rooms.get(roomId);
  if (room === undefined || !room.remove(userId, clock())) return false;
  if (room.members.size === 0) {
    rooms.delete(roomId);
    totals.roomsDropped++;
  }
  const joined = memberRooms.get(userId);
  if (joined !== undefined) {
    joined.delete(roomId);
    if (joined.size === 0) memberRooms.delete(userId);
  }
  totals.leaves++;
  return true;
}

function presence(roomId, limit) {
  const room = rooms.get(roomId);
  if (room === undefined) return { room: roomId, count: 0, members: [] };
  const members = [];
  for (const userId of room.members) {
    if (members.length >= limit) break;
    members.push(userId);
  }
  return { room: roomId, count: room.members.size, members, since: room.createdAt };
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const ROOM_PATH = /^\/v1\/rooms\/([\w-]+)\/(members|presence)(?:\/([\w-]+))?$/;

async function handler(req, res) {
  try {
    const match = ROOM_PATH.exec(req.url);
    if (match === null) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    const [, roomId, resource, userId] = match;
    if (resource === 'members' && req.method === 'POST') {
      const { user } = JSON.parse((await readBody(req)).toString('utf8'));
      sendJson(res, join(roomId, user) ? 201 : 200, { room: roomId, user });
    } else if (resource === 'members' && req.method === 'DELETE' && userId !== undefined) {
      sendJson(res, leave(roomId, userId) ? 200 : 404, { room: roomId, user: userId });
    } else if (resource === 'presence' && req.method === 'GET') {
      sendJson(res, 200, presence(roomId, 50));
    } else {
      sendJson(res, 405, { error: 'method not allowed' });
    }
  } catch (error) {
    sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- The gateway: users coming and going -------------------------------------

const random = rng(7001);
const ROOM_COUNT = 400;
const ARRIVALS_PER_S = 1.25;
const STAY_MEAN_S = 20 * 60;
const PRESENCE_READS_PER_S = 0.8;
const POPULATION = 250_000;

const exponential = (mean) => -Math.log(1 - random()) * mean;
const poisson = (mean) => {
  let k = 0;
  for (let p = Math.exp(-mean), s = p, u = random(); u > s; k++) {
    p *= mean / (k + 1);
    s += p;
  }
  return k;
};

// Room popularity: Zipf over 400 rooms (the lobby and a few team rooms are busy).
const roomWeights = [];
for (let i = 1; i <= ROOM_COUNT; i++) roomWeights.push(1 / i);
const weightSum = roomWeights.reduce((a, b) => a + b, 0);
function pickRoom() {
  let r = random() * weightSum;
  for (let i = 0; i < ROOM_COUNT; i++) {
    r -= roomWeights[i];
    if (r <= 0) return `room-${i.toString().padStart(3, '0')}`;
  }
  return `room-${ROOM_COUNT - 1}`;
}

const visits = []; // { user, rooms: [], leaveAt, secondAt }
const presentUsers = new Set();
const outbox = [];

function joinRequest(roomId, user) {
  return { method: 'POST', path: `/v1/rooms/${roomId}/members`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, via: 'ws-gateway-2' }) };
}

function arrive(t) {
  let user;
  do user = `u${Math.floor(random() * POPULATION).toString(36)}`;
  while (presentUsers.has(user));
  presentUsers.add(user);
  const first = pickRoom();
  const stay = Math.max(60, exponential(STAY_MEAN_S));
  visits.push({ user, rooms: [first], leaveAt: t + stay, secondAt: random() < 0.2 ? t + random() * Math.min(stay, 600) : Infinity });
  outbox.push(joinRequest(first, user));
}

/** One second of gateway events (production time). */
function tick() {
  const t = programSeconds();
  for (let n = poisson(ARRIVALS_PER_S); n > 0; n--) arrive(t);
  for (let i = visits.length - 1; i >= 0; i--) {
    const visit = visits[i];
    if (t >= visit.leaveAt) {
      for (const roomId of visit.rooms) outbox.push({ method: 'DELETE', path: `/v1/rooms/${roomId}/members/${visit.user}` });
      presentUsers.delete(visit.user);
      visits[i] = visits[visits.length - 1];
      visits.pop();
    } else if (t >= visit.secondAt) {
      visit.secondAt = Infinity;
      const second = pickRoom();
      if (!visit.rooms.includes(second)) {
        visit.rooms.push(second);
        outbox.push(joinRequest(second, visit.user));
      }
    }
  }
  for (let n = poisson(PRESENCE_READS_PER_S); n > 0 && visits.length > 0; n--) {
    const visit = visits[Math.floor(random() * visits.length)];
    outbox.push({ method: 'GET', path: `/v1/rooms/${visit.rooms[0]}/presence` });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
every(scaledMs(1), tick);
const traffic = selfRequests(port, { perSecond: 12, next: () => outbox.shift() ?? null });

reportStats(() => {
  let present = 0;
  let largest = 0;
  for (const room of rooms.values()) {
    present += room.members.size;
    if (room.members.size > largest) largest = room.members.size;
  }
  return {
    retained: present,
    rooms: rooms.size,
    users: memberRooms.size,
    largestRoom: largest,
    joins: totals.joins,
    leaves: totals.leaves,
    roomsDropped: totals.roomsDropped,
    requests: traffic.completed,
    queued: outbox.length,
  };
});
ready(`chat-room-presence-sets: per-room Set of present members, 400 rooms, ~1 500 users present, ~4 req/s; ballast ${ballastMb} MB`);
