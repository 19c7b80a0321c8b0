// Event-day chat: each talk track of a one-day conference has a chat room.
// Attendees join a room (POST /v1/rooms/:room/join, which answers with a
// session and the room's recent messages), post messages, poll for new ones
// and leave; a room is opened by its first member and closed, with its
// history, when its last member leaves. Each room keeps only its last 150
// messages (class ChatRoom, array `history`). The day compressed into the 6
// simulated hours: doors open at 0 with nobody online, the rooms fill over the
// morning (~2.5 h), stay busy for an hour, and empty over the afternoon; by
// ~5.75 h everyone has left and every room is closed.
import { randomBytes } from 'node:crypto';
import {
  buildBallast,
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
const HISTORY_LIMIT = 150;
const ROOMS = ['keynote', 'frontend', 'backend', 'databases', 'security', 'devops', 'ml', 'mobile', 'design', 'career', 'hallway', 'sponsors',
  'workshop-a', 'workshop-b', 'workshop-c', 'lightning', 'rust', 'go', 'node', 'python', 'cloud', 'testing', 'accessibility', 'jobs'];

// --- rooms and sessions --------------------------------------------------------------

class ChatRoom {
  constructor(id) {
    this.id = id;
    this.openedAt = programSeconds();
    this.members = new Map(); // sessionId -> session
    this.history = [];
    this.seq = 0;
  }

  post(session, text) {
    const message = {
      seq: ++this.seq,
      id: `${this.id}-${this.seq}`,
      roomId: this.id,
      userId: session.userId,
      displayName: session.displayName,
      text,
      mentions: extractMentions(text),
      sentAt: new Date(1_700_000_000_000 + programSeconds() * 1000).toISOString(),
      reactions: {},
    };
    this.history.push(message);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    return message;
  }

  since(seq, limit = 50) {
    const out = [];
    for (let i = this.history.length - 1; i >= 0 && out.length < limit; i--) {
      if (this.history[i].seq <= seq) break;
      out.push(this.history[i]);
    }
    return out.reverse();
  }
}

/** roomId -> ChatRoom (open rooms only). */
const rooms = new Map();
/** sessionId -> { sessionId, userId, displayName, roomId, joinedAt, lastSeenAt } */
const sessions = new Map();
const counters = { joins: 0, leaves: 0, messages: 0, polls: 0, roomsOpened: 0, roomsClosed: 0 };

function extractMentions(text) {
  const mentions = [];
  for (const word of text.split(' ')) if (word.startsWith('@') && word.length > 1) mentions.push(word.slice(1));
  return mentions;
}

function join(roomId, userId, displayName) {
  let room = rooms.get(roomId);
  if (room === undefined) {
    room = new ChatRoom(roomId);
    rooms.set(roomId, room);
    counters.roomsOpened++;
  }
  const session = { sessionId: randomBytes(12).toString('base64url'), userId, displayName, roomId, joinedAt: programSeconds(), lastSeenAt: programSeconds() };
  sessions.set(session.sessionId, session);
  room.members.set(session.sessionId, session);
  counters.joins++;
  return { session, room };
}

function leave(session) {
  sessions.delete(session.sessionId);
  const room = rooms.get(session.roomId);
  counters.leaves++;
  if (room === undefined) return;
  room.members.delete(session.sessionId);
  if (room.members.size === 0) {
    rooms.delete(room.id);
    counters.roomsClosed++;
  }
}

// --- HTTP -----------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://chat.internal');
  const parts = url.pathname.split('/');
  try {
    if (req.method === 'POST' && parts[2] === 'rooms' && parts[4] === 'join') {
      const { userId, displayName } = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
      if (!ROOMS.includes(parts[3])) return sendJson(res, 404, { error: 'no such room' });
      const { session, room } = join(parts[3], userId, displayName);
      return sendJson(res, 200, { sessionId: session.sessionId, room: room.id, members: room.members.size, recent: room.since(0, 20), lastSeq: room.seq });
    }
    if (req.method === 'POST' && parts[2] === 'rooms' && parts[4] === 'messages') {
      const { sessionId, text } = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
      const session = sessions.get(sessionId);
      if (session === undefined || session.roomId !== parts[3]) return sendJson(res, 403, { error: 'not in room' });
      session.lastSeenAt = programSeconds();
      counters.messages++;
      const message = rooms.get(session.roomId).post(session, text);
      return sendJson(res, 201, { seq: message.seq, id: message.id });
    }
    if (req.method === 'GET' && parts[2] === 'rooms' && parts[4] === 'messages') {
      const session = sessions.get(url.searchParams.get('session') ?? '');
      if (session === undefined) return sendJson(res, 403, { error: 'no session' });
      session.lastSeenAt = programSeconds();
      counters.polls++;
      const room = rooms.get(session.roomId);
      return sendJson(res, 200, { messages: room.since(Number(url.searchParams.get('since') ?? 0)), members: room.members.size });
    }
    if (req.method === 'POST' && parts[2] === 'sessions' && parts[4] === 'leave') {
      const session = sessions.get(parts[3]);
      if (session !== undefined) leave(session);
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === 'GET' && url.pathname === '/v1/rooms') {
      return sendJson(res, 200, { rooms: [...rooms.values()].map((r) => ({ id: r.id, members: r.members.size, messages: r.seq })) });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the attendees (load) ---------------------------------------------------------------------

const PEAK_ONLINE = 240;
const FIRST = ['ana', 'ben', 'chen', 'dara', 'eli', 'fatima', 'gus', 'hana', 'ivan', 'jo', 'kai', 'lena', 'mo', 'nia', 'omar', 'pia'];
const PHRASES = ['great talk', 'slides link?', 'is the mic on', 'agree with that', 'how does this scale', 'we tried this at work and', 'anyone going to the workshop later',
  'the demo gods were kind', 'what about backwards compatibility', 'coffee is in the hall', '+1', 'source code is on the repo', 'nice benchmark numbers', 'questions at the end?'];

function smoothstep(x) {
  const c = Math.min(1, Math.max(0, x));
  return c * c * (3 - 2 * c);
}

/** Attendees online: 0 at doors open, full by 2.5 h, busy until 3.5 h, empty by 5.75 h. */
function targetOnline() {
  const h = programSeconds() / 3600;
  return Math.round(PEAK_ONLINE * (h < 3.5 ? smoothstep(h / 2.5) : 1 - smoothstep((h - 3.5) / 2.25)) * (1 + 0.05 * Math.sin(h * 7)));
}

const online = []; // attendees with a session: { userId, displayName, roomId, sessionId, lastSeq }
let joining = 0;
let attendeeSeq = 0;

function pickRoom() {
  return ROOMS[Math.floor(ROOMS.length * random() ** 1.7)];
}

function joinRequest() {
  attendeeSeq++;
  const displayName = `${FIRST[attendeeSeq % FIRST.length]}_${attendeeSeq.toString(36)}`;
  const attendee = { userId: `att-${attendeeSeq}`, displayName, roomId: pickRoom(), sessionId: null, lastSeq: 0 };
  joining++;
  return { method: 'POST', path: `/v1/rooms/${attendee.roomId}/join`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: attendee.userId, displayName }), attendee };
}

function leaveRequest(index) {
  const [attendee] = online.splice(index, 1);
  return { method: 'POST', path: `/v1/sessions/${attendee.sessionId}/leave` };
}

/** Joins and leaves track the day's curve; people also drift between rooms (leave, later join again). */
function nextMembershipChange() {
  const target = targetOnline();
  const current = online.length + joining;
  if (current < target) return joinRequest();
  if (online.length > 0 && (current > target || random() < 0.05)) return leaveRequest(Math.floor(random() * online.length));
  return null;
}

function anyone() {
  return online.length === 0 ? null : online[Math.floor(random() * online.length)];
}

function nextMessage() {
  const a = anyone();
  if (a === null) return null;
  let text = PHRASES[Math.floor(random() * PHRASES.length)];
  if (random() < 0.4) text += ` ${PHRASES[Math.floor(random() * PHRASES.length)]}`;
  if (random() < 0.15) text = `@${online[Math.floor(random() * online.length)].displayName} ${text}`;
  return { method: 'POST', path: `/v1/rooms/${a.roomId}/messages`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sessionId: a.sessionId, text }) };
}

function nextPoll() {
  const a = anyone();
  if (a === null) return random() < 0.1 ? { method: 'GET', path: '/v1/rooms' } : null;
  return { method: 'GET', path: `/v1/rooms/${a.roomId}/messages?session=${a.sessionId}&since=${a.lastSeq}`, attendee: a };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const membership = selfRequests(port, {
  perSecond: 0.5,
  maxInFlight: 8,
  next: nextMembershipChange,
  onResponse: (status, text, request) => {
    if (request.attendee === undefined) return;
    joining--;
    if (status !== 200) return;
    const reply = JSON.parse(text);
    request.attendee.sessionId = reply.sessionId;
    request.attendee.lastSeq = reply.lastSeq;
    online.push(request.attendee);
  },
});
// Each attendee posts about once every 2 minutes and polls about once a minute (the app's slow poll while in background).
const messages = selfRequests(port, { perSecond: () => online.length / 120, maxInFlight: 32, next: nextMessage });
const polls = selfRequests(port, {
  perSecond: () => Math.max(0.05, online.length / 60),
  maxInFlight: 32,
  next: nextPoll,
  onResponse: (status, text, request) => {
    if (status !== 200 || request.attendee === undefined) return;
    const reply = JSON.parse(text);
    if (reply.messages.length > 0) request.attendee.lastSeq = reply.messages.at(-1).seq;
  },
});

function historyCount() {
  let n = 0;
  for (const room of rooms.values()) n += room.history.length;
  return n;
}

reportStats(() => ({
  retained: historyCount(),
  openRooms: rooms.size,
  sessions: sessions.size,
  target: targetOnline(),
  joins: counters.joins,
  leaves: counters.leaves,
  messages: counters.messages,
  polls: counters.polls,
  roomsClosed: counters.roomsClosed,
  requestsFailed: membership.failed + messages.failed + polls.failed,
}));

ready(
  `chat-rooms-fill-and-drain: conference-day chat, 0 -> ${PEAK_ONLINE} attendees -> 0 over 6 h across ${ROOMS.length} rooms, ${HISTORY_LIMIT}-message history per room, rooms closed when empty (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
