// Collaborative-whiteboard room server.
//
// Each meeting opens a room; its participants draw (strokes, sticky notes,
// pasted screenshots), the room keeps the pending ops and every two minutes
// compacts them into a new binary snapshot of the whole board, keeping the
// last three (late joiners download the newest one, "restore version" uses
// the older ones). A room is archived and deleted when its last participant
// leaves.
//
// The bug: desktop client 5.0, released at the onset (default 1.5 h, the
// lib's SCENARIO_ONSET), no longer sends POST /leave when the window is
// closed; its participants just stop sending heartbeats. The presence
// sweeper removes timed-out participants from their room but, unlike the
// /leave handler, never checks whether the room is now empty, so a room whose
// last participant was on 5.0 stays in `rooms` for good, with its three
// snapshot Buffers (a few hundred KB each). It also stays when a 5.0 client
// closed its window less than the presence timeout before the last 4.x
// participant left: /leave then finds the room not yet empty. Meetings arrive
// ~12 an hour, 25 % of participants joining after the onset are on 5.0: a few
// rooms an hour stay, almost all of it external memory (ArrayBuffers).
import {
  buildBallast,
  envNumber,
  every,
  KiB,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7b0a2d);
const onset = onsetSeconds(5400);

/** Runs `fn` every `seconds` of production time. */
function everyProduction(seconds, fn) {
  return every((seconds * 1000) / speed, fn);
}

const MAX_SNAPSHOTS = 3;
const COMPACT_EVERY_S = 120;
const PRESENCE_TIMEOUT_S = 120;
const SWEEP_EVERY_S = 30;

// --- board encoding ---------------------------------------------------------------------------------
//
// A snapshot is the whole board: a 16-byte header (magic, version, length, op count) followed by
// the background of the room's template and then every op record in order.

const MAGIC = 0x57424431; // "WBD1"
const OP_STROKE = 1;
const OP_NOTE = 2;
const OP_IMAGE = 3;

function encodeStroke(op) {
  const points = op.points;
  const record = Buffer.allocUnsafe(12 + points.length * 2);
  record.writeUInt8(OP_STROKE, 0);
  record.writeUInt8(op.tool, 1);
  record.writeUInt16LE(op.width, 2);
  record.writeUInt32LE(op.color, 4);
  record.writeUInt32LE(points.length, 8);
  for (let i = 0; i < points.length; i++) record.writeInt16LE(points[i], 12 + i * 2);
  return record;
}

function encodeNote(op) {
  const text = Buffer.from(op.text, 'utf8');
  const record = Buffer.allocUnsafe(12 + text.length);
  record.writeUInt8(OP_NOTE, 0);
  record.writeUInt8(op.color & 0xff, 1);
  record.writeInt16LE(op.x, 2);
  record.writeInt16LE(op.y, 4);
  record.writeUInt16LE(0, 6);
  record.writeUInt32LE(text.length, 8);
  text.copy(record, 12);
  return record;
}

function encodeImage(op) {
  const pixels = Buffer.from(op.data, 'base64');
  const record = Buffer.allocUnsafe(12 + pixels.length);
  record.writeUInt8(OP_IMAGE, 0);
  record.writeUInt8(0, 1);
  record.writeInt16LE(op.x, 2);
  record.writeInt16LE(op.y, 4);
  record.writeUInt16LE(op.w, 6);
  record.writeUInt32LE(pixels.length, 8);
  pixels.copy(record, 12);
  return record;
}

function encodeOp(op) {
  if (op.type === 'stroke') return encodeStroke(op);
  if (op.type === 'note') return encodeNote(op);
  if (op.type === 'image') return encodeImage(op);
  return null;
}

/** A new snapshot: the previous board followed by the pending op records. */
function encodeSnapshot(previous, records, version, opCount) {
  let length = previous.length;
  for (const record of records) length += record.length;
  const snapshot = Buffer.allocUnsafe(length);
  previous.copy(snapshot, 0);
  let offset = previous.length;
  for (const record of records) {
    record.copy(snapshot, offset);
    offset += record.length;
  }
  snapshot.writeUInt32LE(version, 4);
  snapshot.writeUInt32LE(length, 8);
  snapshot.writeUInt32LE(opCount, 12);
  return snapshot;
}

/** Template boards (background art, frames, imported pages), built once at start. */
function templateBoard(kind, backgroundBytes) {
  const board = Buffer.alloc(16 + backgroundBytes);
  board.writeUInt32LE(MAGIC, 0);
  board.writeUInt32LE(board.length, 8);
  let seed = kind.length * 7919;
  for (let i = 16; i + 4 <= board.length; i += 4) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    board.writeUInt32LE(seed, i);
  }
  return board;
}

const TEMPLATE_SIZES = {
  blank: 24 * KiB,
  kanban: 60 * KiB,
  retro: 90 * KiB,
  wireframe: 140 * KiB,
  architecture: 180 * KiB,
  slides: 320 * KiB,
};
const templates = new Map(Object.entries(TEMPLATE_SIZES).map(([kind, bytes]) => [kind, templateBoard(kind, bytes)]));

// --- rooms ------------------------------------------------------------------------------------------

class Room {
  constructor(id, title, template) {
    this.id = id;
    this.title = title;
    this.template = template;
    this.createdAt = programSeconds();
    this.participants = new Map();
    this.snapshots = [encodeSnapshot(templates.get(template) ?? templates.get('blank'), [], 0, 0)];
    this.pendingOps = [];
    this.version = 0;
    this.opCount = 0;
    this.lastEditAt = this.createdAt;
  }

  latest() {
    return this.snapshots[this.snapshots.length - 1];
  }

  applyOps(ops, now) {
    for (const op of ops) {
      const record = encodeOp(op);
      if (record !== null) this.pendingOps.push(record);
    }
    this.lastEditAt = now;
  }

  compact() {
    if (this.pendingOps.length === 0) return false;
    this.version++;
    this.opCount += this.pendingOps.length;
    this.snapshots.push(encodeSnapshot(this.latest(), this.pendingOps, this.version, this.opCount));
    if (this.snapshots.length > MAX_SNAPSHOTS) this.snapshots.shift();
    this.pendingOps = [];
    return true;
  }

  snapshotBytes() {
    let bytes = 0;
    for (const snapshot of this.snapshots) bytes += snapshot.length;
    return bytes;
  }
}

/** Open rooms by meeting id. */
const rooms = new Map();
const counters = { opened: 0, archived: 0, archivedBytes: 0, leaves: 0, timeouts: 0, compactions: 0, ops: 0, joins: 0 };

function openRoom(id, title, template) {
  const room = new Room(id, title, template);
  rooms.set(id, room);
  counters.opened++;
  return room;
}

/** Stand-in for the board archive (object storage): keeps a checksum and the size, not the board. */
function archiveBoard(room) {
  room.compact();
  const board = room.latest();
  let checksum = 0;
  for (let i = 0; i < board.length; i += 1024) checksum = (checksum * 31 + board[i]) >>> 0;
  counters.archived++;
  counters.archivedBytes += board.length;
  return checksum;
}

function closeRoom(room) {
  archiveBoard(room);
  rooms.delete(room.id);
}

function touch(participant, now) {
  participant.lastSeenAt = now;
}

/** Presence sweeper: drops participants whose heartbeats stopped. */
function expireIdleParticipants(now) {
  for (const room of rooms.values()) {
    for (const [pid, participant] of room.participants) {
      if (now - participant.lastSeenAt > PRESENCE_TIMEOUT_S) {
        room.participants.delete(pid);
        counters.timeouts++;
      }
    }
  }
}

everyProduction(SWEEP_EVERY_S, () => expireIdleParticipants(programSeconds()));
everyProduction(COMPACT_EVERY_S, () => {
  for (const room of rooms.values()) if (room.compact()) counters.compactions++;
});

// --- HTTP -------------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function roomRoute(req, res, roomId, action) {
  const now = programSeconds();
  if (req.method === 'GET' && action === 'snapshot') {
    const room = rooms.get(roomId);
    if (room === undefined) return sendJson(res, 404, { error: 'no such room' });
    const snapshot = room.latest();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': snapshot.length, 'x-board-version': room.version });
    return res.end(snapshot);
  }
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' });
  const body = JSON.parse((await readBody(req)).toString('utf8'));
  if (action === 'join') {
    const room = rooms.get(roomId) ?? openRoom(roomId, body.title, body.template);
    room.participants.set(body.pid, { pid: body.pid, name: body.name, clientVersion: body.clientVersion, joinedAt: now, lastSeenAt: now });
    counters.joins++;
    return sendJson(res, 200, { room: roomId, version: room.version, participants: room.participants.size, boardBytes: room.latest().length });
  }
  const room = rooms.get(roomId);
  const participant = room?.participants.get(body.pid);
  if (participant === undefined) return sendJson(res, 404, { error: 'not in room' });
  if (action === 'heartbeat') {
    touch(participant, now);
    return sendJson(res, 200, { version: room.version });
  }
  if (action === 'ops') {
    touch(participant, now);
    room.applyOps(body.ops, now);
    counters.ops += body.ops.length;
    return sendJson(res, 200, { accepted: body.ops.length, pending: room.pendingOps.length });
  }
  if (action === 'leave') {
    room.participants.delete(body.pid);
    counters.leaves++;
    if (room.participants.size === 0) closeRoom(room);
    return sendJson(res, 200, { left: true });
  }
  return sendJson(res, 404, { error: 'unknown action' });
}

function handler(req, res) {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') return sendJson(res, 200, { ok: true, rooms: rooms.size });
  const parts = path.split('/');
  // /v1/rooms/:id/:action
  if (parts.length === 5 && parts[1] === 'v1' && parts[2] === 'rooms') {
    return roomRoute(req, res, parts[3], parts[4]).catch((error) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(error) });
    });
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- the clients: meetings and their participants ----------------------------------------------------

/** Actions of the simulated clients ordered by production time (a binary heap). */
class Agenda {
  constructor() {
    this.items = [];
  }

  get size() {
    return this.items.length;
  }

  peekAt() {
    return this.items[0].at;
  }

  push(at, action) {
    const items = this.items;
    items.push({ at, action });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].at <= items[i].at) break;
      [items[parent], items[i]] = [items[i], items[parent]];
      i = parent;
    }
  }

  pop() {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && items[l].at < items[m].at) m = l;
        if (r < items.length && items[r].at < items[m].at) m = r;
        if (m === i) break;
        [items[m], items[i]] = [items[i], items[m]];
        i = m;
      }
    }
    return top.action;
  }
}

const MEETINGS_PER_HOUR = envNumber('WHITEBOARD_MEETINGS_PER_HOUR', 12, (v) => v > 0);
const V5_SHARE = 0.25; // the auto-update ring that gets 5.0 first
const TEMPLATE_WEIGHTS = [
  ['blank', 0.3],
  ['kanban', 0.15],
  ['retro', 0.2],
  ['wireframe', 0.12],
  ['architecture', 0.13],
  ['slides', 0.1],
];
const NAMES = ['Ana', 'Ben', 'Chidi', 'Dana', 'Emil', 'Fatima', 'Goran', 'Hana', 'Ivo', 'Jun', 'Kemal', 'Lea', 'Mina', 'Noor'];
const NOTES = ['ship it?', 'needs a spike', 'blocked on legal', 'owner: platform', 'what about mobile?', 'retro action item', 'v2 later'];
// Pasted screenshots (already-compressed PNG bytes, so incompressible): a few sizes.
const IMAGE_PAYLOADS = [18, 32, 55, 80, 130].map((kb) => {
  const bytes = Buffer.allocUnsafe(kb * KiB);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return { kb, data: bytes.toString('base64') };
});

function pick(weighted) {
  let r = random();
  for (const [value, weight] of weighted) {
    r -= weight;
    if (r <= 0) return value;
  }
  return weighted[weighted.length - 1][0];
}

function exponential(mean) {
  return -Math.log(1 - random()) * mean;
}

const agenda = new Agenda();
const clientStats = { meetings: 0, participants: 0, v5: 0, rejoins: 0, silentExits: 0 };
let meetingSeq = 0;

function startMeeting(now) {
  meetingSeq++;
  clientStats.meetings++;
  const id = `m${meetingSeq.toString(36)}-${Math.floor(random() * 36 ** 4).toString(36)}`;
  const template = pick(TEMPLATE_WEIGHTS);
  const size = 2 + Math.floor(random() * random() * 7); // 2-8, mostly small
  const duration = 20 * 60 + random() * 50 * 60;
  const meeting = { id, template, title: `${template} session ${meetingSeq}` };
  for (let i = 0; i < size; i++) {
    const joinAt = now + (i === 0 ? 0 : random() * 5 * 60);
    const leavesEarly = i > 0 && random() < 0.2;
    const leaveAt = leavesEarly ? joinAt + 5 * 60 + random() * (duration - 5 * 60) : now + duration + (random() - 0.5) * 6 * 60;
    const participant = {
      pid: `${id}-p${i}`,
      name: NAMES[Math.floor(random() * NAMES.length)],
      meeting,
      clientVersion: '4.12.3',
      joinAt,
      leaveAt: Math.max(joinAt + 60, leaveAt),
      drawing: 0.25 + random() * 0.6,
      joined: false,
      x: Math.floor(random() * 4000),
      y: Math.floor(random() * 3000),
    };
    agenda.push(joinAt, { kind: 'join', participant });
  }
}

function randomStroke(p) {
  const n = 20 + Math.floor(random() * random() * 140);
  const points = new Array(n * 2);
  let x = p.x;
  let y = p.y;
  for (let i = 0; i < n; i++) {
    x = Math.max(-32000, Math.min(32000, x + Math.floor((random() - 0.5) * 24)));
    y = Math.max(-32000, Math.min(32000, y + Math.floor((random() - 0.5) * 24)));
    points[2 * i] = x;
    points[2 * i + 1] = y;
  }
  p.x = x;
  p.y = y;
  return { type: 'stroke', tool: 1 + Math.floor(random() * 3), width: 1 + Math.floor(random() * 8), color: Math.floor(random() * 0xffffff), points };
}

function buildOps(p) {
  const ops = [];
  const strokes = 1 + Math.floor(random() * 4);
  for (let i = 0; i < strokes; i++) ops.push(randomStroke(p));
  if (random() < 0.08) ops.push({ type: 'note', color: 3, x: p.x, y: p.y, text: NOTES[Math.floor(random() * NOTES.length)] });
  if (random() < 0.012) {
    const image = IMAGE_PAYLOADS[Math.floor(random() * IMAGE_PAYLOADS.length)];
    ops.push({ type: 'image', x: p.x, y: p.y, w: 400 + Math.floor(random() * 800), data: image.data });
  }
  return ops;
}

function post(p, action, body) {
  return { method: 'POST', path: `/v1/rooms/${p.meeting.id}/${action}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), participant: p };
}

function joinRequest(p, now) {
  p.joined = true;
  agenda.push(now + 1, { kind: 'snapshot', participant: p });
  agenda.push(now + 20 + random() * 10, { kind: 'tick', participant: p });
  return post(p, 'join', { pid: p.pid, name: p.name, clientVersion: p.clientVersion, title: p.meeting.title, template: p.meeting.template });
}

function perform(action, now) {
  const p = action.participant;
  if (action.kind === 'meeting') {
    startMeeting(now);
    agenda.push(now + exponential(3600 / MEETINGS_PER_HOUR), { kind: 'meeting' });
    return null;
  }
  if (action.kind === 'join') {
    // Participants who join after the release auto-updated to 5.0 with some probability.
    if (now >= onset && random() < V5_SHARE) {
      p.clientVersion = '5.0.1';
      clientStats.v5++;
    }
    clientStats.participants++;
    return joinRequest(p, now);
  }
  if (action.kind === 'snapshot') return { method: 'GET', path: `/v1/rooms/${p.meeting.id}/snapshot`, participant: p };
  // tick
  if (p.rejoin) {
    p.rejoin = false;
    clientStats.rejoins++;
    return joinRequest(p, now);
  }
  if (now >= p.leaveAt) {
    if (p.clientVersion.startsWith('5.')) {
      clientStats.silentExits++; // 5.0 closes the window without POST /leave
      return null;
    }
    return post(p, 'leave', { pid: p.pid });
  }
  agenda.push(Math.min(p.leaveAt, now + 20 + random() * 10), { kind: 'tick', participant: p });
  if (random() < p.drawing) return post(p, 'ops', { pid: p.pid, ops: buildOps(p) });
  return post(p, 'heartbeat', { pid: p.pid });
}

function nextRequest() {
  const now = programSeconds();
  while (agenda.size > 0 && agenda.peekAt() <= now) {
    const request = perform(agenda.pop(), now);
    if (request !== null) return request;
  }
  return null;
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

agenda.push(0, { kind: 'meeting' });
const clients = selfRequests(port, {
  perSecond: 8,
  maxInFlight: 32,
  next: nextRequest,
  onResponse: (status, _text, request) => {
    // A client the sweeper dropped (e.g. after a network blip) joins again on its next tick.
    if (status === 404 && request.participant !== undefined && request.method === 'POST') request.participant.rejoin = true;
  },
});

reportStats(() => {
  let participants = 0;
  let emptyRooms = 0;
  let snapshotBytes = 0;
  let emptyRoomBytes = 0;
  for (const room of rooms.values()) {
    const bytes = room.snapshotBytes();
    participants += room.participants.size;
    snapshotBytes += bytes;
    if (room.participants.size === 0) {
      emptyRooms++;
      emptyRoomBytes += bytes;
    }
  }
  return {
    retained: rooms.size,
    activeRooms: rooms.size - emptyRooms,
    emptyRooms,
    participants,
    snapshotBytes,
    emptyRoomBytes,
    opened: counters.opened,
    archived: counters.archived,
    timeouts: counters.timeouts,
    leaves: counters.leaves,
    meetings: clientStats.meetings,
    v5Participants: clientStats.v5,
    rejoins: clientStats.rejoins,
    requestsFailed: clients.failed,
  };
});

ready(
  `whiteboard-room-client-timeout-leak: whiteboard rooms (${MEETINGS_PER_HOUR} meetings/h, 3 snapshot Buffers each); from the 5.0 client release (onset ${onset} s) rooms whose last participant times out are never deleted (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
