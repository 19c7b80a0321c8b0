// Team-chat server (HTTP API; the web and mobile clients post messages and
// fetch history). Each open room's message history lives in the module-level
// Map `roomHistory` (room id -> array of messages, trimmed to the newest 500
// while the room is open) and is dropped by closeRoom() when the room is
// closed.
//
// The bug: "archive instead of delete" was added later behind the feature flag
// `archiveRooms`, which the config service switches on ~40 minutes after start
// (SCENARIO_ONSET, speed-1 seconds, default 2400). archiveRoom() marks the room
// archived, writes its summary to the archive store and takes it out of the
// open rooms, but returns before the cleanup that closeRoom() does, so every
// archived room's history array stays in `roomHistory` for good. About half
// of the rooms are closed with "archive". Traffic: ~8 messages/s, ~0.2 new
// rooms/s, ~0.7 history fetches/s, from ~60 rooms open at any time.
import {
  buildBallast,
  listen,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xc4a7);

// --- config ------------------------------------------------------------------------

const features = { archiveRooms: false };
const ONSET_S = onsetSeconds(2400);
setTimeout(() => {
  features.archiveRooms = true; // the config service rolls the flag out
}, onsetMs(2400));

const MAX_OPEN_HISTORY = 500;

// --- rooms and histories ---------------------------------------------------------------

class Room {
  constructor(id, topic, members, now) {
    this.id = id;
    this.topic = topic;
    this.members = new Set(members);
    this.createdAt = now;
    this.lastActivityAt = now;
    this.messageCount = 0;
    this.state = 'open';
  }
}

/** Open rooms by id. */
const rooms = new Map();
/** Room id -> message history (Array), newest last. */
const roomHistory = new Map();
/** What the archive store was sent (counts only: the store is another service). */
const archiveStore = { rooms: 0, messages: 0 };
const counters = { opened: 0, closed: 0, archived: 0, messages: 0, gone: 0 };

let messageSeq = 0;

const MENTION = /@([a-z][a-z0-9_]{2,20})/g;

function mentionsIn(text) {
  const found = [];
  for (const match of text.matchAll(MENTION)) found.push(match[1]);
  return found;
}

function toMessage(roomId, body, now) {
  return {
    id: `m${(++messageSeq).toString(36)}`,
    roomId,
    userId: body.userId,
    clientMsgId: body.clientMsgId,
    text: body.text,
    mentions: mentionsIn(body.text),
    attachments: body.attachments ?? [],
    replyTo: body.replyTo ?? null,
    sentAt: now,
    editedAt: null,
    reactions: null,
  };
}

function openRoom(id, topic, members) {
  const now = programSeconds();
  const room = new Room(id, topic, members, now);
  rooms.set(id, room);
  roomHistory.set(id, []);
  counters.opened++;
  return room;
}

function postMessage(room, body) {
  const now = programSeconds();
  const history = roomHistory.get(room.id);
  if (history.length > 0 && history[history.length - 1].clientMsgId === body.clientMsgId) return; // client retry
  history.push(toMessage(room.id, body, now));
  if (history.length > MAX_OPEN_HISTORY) history.splice(0, history.length - MAX_OPEN_HISTORY);
  room.members.add(body.userId);
  room.lastActivityAt = now;
  room.messageCount++;
  counters.messages++;
}

function closeRoom(room) {
  room.state = 'closed';
  rooms.delete(room.id);
  const history = roomHistory.get(room.id);
  if (history !== undefined) history.length = 0;
  roomHistory.delete(room.id);
  counters.closed++;
}

function archiveRoom(room) {
  room.state = 'archived';
  const history = roomHistory.get(room.id);
  archiveStore.rooms++;
  archiveStore.messages += history.length;
  rooms.delete(room.id);
  counters.archived++;
  // (the history is "kept for the archive view"; nothing ever removes it)
}

function historyPage(roomId, before, limit) {
  const history = roomHistory.get(roomId) ?? [];
  const end = before === null ? history.length : history.findIndex((m) => m.id === before);
  const slice = history.slice(Math.max(0, (end < 0 ? history.length : end) - limit), end < 0 ? history.length : end);
  return slice.map((m) => ({ id: m.id, userId: m.userId, text: m.text, sentAt: m.sentAt }));
}

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://chat.local');
  const parts = url.pathname.split('/'); // ['', 'v1', 'rooms', id, action]
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, rooms: rooms.size });
  if (parts[1] !== 'v1' || parts[2] !== 'rooms') return sendJson(res, 404, { error: 'not found' });
  if (req.method === 'POST' && parts.length === 3) {
    const { roomId, topic, members } = JSON.parse((await readBody(req)).toString('utf8'));
    if (rooms.has(roomId)) return sendJson(res, 409, { error: 'exists' });
    const room = openRoom(roomId, topic, members);
    return sendJson(res, 201, { id: room.id, createdAt: room.createdAt });
  }
  const room = rooms.get(parts[3]);
  if (room === undefined) {
    counters.gone++;
    return sendJson(res, 410, { error: 'room is not open' });
  }
  if (req.method === 'POST' && parts[4] === 'messages') {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    if (typeof body.userId !== 'string' || typeof body.text !== 'string' || body.text.length > 4000) return sendJson(res, 400, { error: 'bad message' });
    postMessage(room, body);
    return sendJson(res, 201, { ok: true, count: room.messageCount });
  }
  if (req.method === 'GET' && parts[4] === 'messages') {
    return sendJson(res, 200, { messages: historyPage(room.id, url.searchParams.get('before'), 50) });
  }
  if (req.method === 'POST' && parts[4] === 'close') {
    const { archive } = JSON.parse((await readBody(req)).toString('utf8'));
    if (archive && features.archiveRooms) archiveRoom(room);
    else closeRoom(room);
    return sendJson(res, 200, { ok: true, state: room.state });
  }
  sendJson(res, 405, { error: 'method not allowed' });
}

// --- clients ------------------------------------------------------------------------------

const PHRASES = [
  'can someone look at the deploy for', 'the dashboard for', 'I pushed a fix to', 'who owns', 'let us move the sync about',
  'customer reports a timeout on', 'LGTM, merging', 'is the incident on', 'rolling back', 'benchmarks look fine for',
  'does anyone know why', 'meeting notes for', 'reminder: review', 'blocked on', 'thanks! closing the ticket for',
];
const THINGS = ['billing-api', 'the search page', 'checkout', 'PR 4812', 'the mobile release', 'eu-west nodes', 'invoices', 'the cron job', 'ticket OPS-2231'];
const USERS = [];
for (let i = 0; i < 400; i++) USERS.push(`user_${i.toString(36)}${i % 7}`);

function chatText() {
  let text = `${PHRASES[Math.floor(random() * PHRASES.length)]} ${THINGS[Math.floor(random() * THINGS.length)]}`;
  if (random() < 0.2) text = `@${USERS[Math.floor(random() * USERS.length)]} ${text}`;
  if (random() < 0.3) text += ` (see https://wiki.example/${Math.floor(random() * 90000)})`;
  if (random() < 0.25) text += '. It started after the last config change and only some users see it, can we check the logs?';
  return text;
}

/** Client-side picture of the open rooms: id, members, messages still to come. */
const live = [];
let roomSeq = 0;

function lognormalInt(median, sigma, min, max) {
  const u = Math.max(random(), 1e-9);
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.min(max, Math.max(min, Math.round(median * Math.exp(sigma * z))));
}

function clientRequest() {
  // keep ~60 rooms going; new ones replace the ones that wind down
  if (live.length < 60 || random() < 0.002) {
    const members = [];
    for (let i = 0, n = 2 + Math.floor(random() * 6); i < n; i++) members.push(USERS[Math.floor(random() * USERS.length)]);
    const room = { id: `r-${(++roomSeq).toString(36)}-${Math.floor(random() * 1e6)}`, members, left: lognormalInt(30, 0.6, 3, 200), sent: 0 };
    live.push(room);
    return { method: 'POST', path: '/v1/rooms', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roomId: room.id, topic: THINGS[roomSeq % THINGS.length], members }) };
  }
  const index = Math.floor(random() * live.length);
  const room = live[index];
  if (room.left <= 0) {
    live[index] = live[live.length - 1];
    live.pop();
    return { method: 'POST', path: `/v1/rooms/${room.id}/close`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ archive: random() < 0.5 }) };
  }
  if (random() < 0.08) return { method: 'GET', path: `/v1/rooms/${room.id}/messages` };
  room.left--;
  const userId = room.members[Math.floor(random() * room.members.length)];
  const message = { userId, clientMsgId: `${userId}-${Date.now().toString(36)}-${Math.floor(random() * 1e9).toString(36)}`, text: chatText() };
  if (random() < 0.1) message.attachments = [{ name: `screenshot-${Math.floor(random() * 1e5)}.png`, size: 20_000 + Math.floor(random() * 900_000), url: `https://files.chat.example/${room.id}/${Math.floor(random() * 1e9).toString(36)}` }];
  if (random() < 0.15 && room.sent > 0) message.replyTo = `m${Math.floor(random() * 1e6).toString(36)}`;
  room.sent++;
  return { method: 'POST', path: `/v1/rooms/${room.id}/messages`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const clients = selfRequests(port, { perSecond: 9, maxInFlight: 64, next: clientRequest });

reportStats(() => ({
  retained: roomHistory.size,
  openRooms: rooms.size,
  archivedRooms: counters.archived,
  closedRooms: counters.closed,
  messages: counters.messages,
  sent: clients.sent,
  archivingOn: features.archiveRooms,
  requestsFailed: clients.failed,
}));

ready(
  `chat-archived-room-history-leak: team chat, ~8 msg/s, archived rooms (flag on at ${ONSET_S} s) keep their history arrays in Map roomHistory (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
