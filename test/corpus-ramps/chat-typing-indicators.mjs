// Typing-indicator service of a business chat. The WebSocket gateways forward
// users' typing pings (clients send one every 3 s while typing) in batches
// (POST /internal/typing); noteKeystroke() keeps them in the module-level plain
// object `typingByConversation`, keyed by conversation id, and an entry (and
// each typist in it) expires 5 s after the last keystroke. The number of
// conversations with someone typing rises through the business morning
// (08:00 -> 12:00, ~5x), dips over lunch and comes back in the afternoon.
// Healthy: every entry expires.
import {
  buildBallast, envNumber, listen, onShutdown, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 8, (v) => v >= 0 && v < 24);
const TYPING_TTL_MS = 5000; // production ms after the last keystroke
const rand = rng(0x7e11);

function hourOfDay() {
  return (CLOCK_H + programSeconds() / 3600) % 24;
}

/** Typing sessions started per second at speed 1 for an hour of the day. */
function typingStartsPerSecond(h) {
  if (h < 7) return 0.15;
  if (h < 8) return 0.15 + (2 - 0.15) * (h - 7);
  if (h < 12) return 2 + (10 - 2) * (h - 8) / 4; // the business morning
  if (h < 13) return 6; // lunch
  if (h < 17) return 8;
  if (h < 20) return 8 - (8 - 0.5) * (h - 17) / 3;
  return 0.5;
}

const nowMs = () => programSeconds() * 1000;

// --- Typing state ----------------------------------------------------------
const typingByConversation = {}; // conversation id -> { conversationId, typists, lastKeystrokeAt, expiresAt }
let activeConversations = 0;
const totals = { pings: 0, started: 0, expired: 0, reads: 0 };

function noteKeystroke(conversationId, userId, displayName, now) {
  let entry = typingByConversation[conversationId];
  if (entry === undefined) {
    entry = { conversationId, typists: {}, lastKeystrokeAt: now, expiresAt: 0 };
    typingByConversation[conversationId] = entry;
    activeConversations++;
    totals.started++;
  }
  const typist = entry.typists[userId];
  if (typist === undefined) entry.typists[userId] = { userId, displayName, since: now, lastKeystrokeAt: now };
  else typist.lastKeystrokeAt = now;
  entry.lastKeystrokeAt = now;
  entry.expiresAt = now + TYPING_TTL_MS;
  totals.pings++;
}

function whoIsTyping(conversationId, now) {
  const entry = typingByConversation[conversationId];
  if (entry === undefined || entry.expiresAt <= now) return [];
  const names = [];
  for (const userId in entry.typists) if (entry.typists[userId].lastKeystrokeAt + TYPING_TTL_MS > now) names.push(entry.typists[userId].displayName);
  return names;
}

function sweepExpired() {
  const now = nowMs();
  for (const conversationId in typingByConversation) {
    const entry = typingByConversation[conversationId];
    if (entry.expiresAt <= now) {
      delete typingByConversation[conversationId];
      activeConversations--;
      totals.expired++;
      continue;
    }
    for (const userId in entry.typists) if (entry.typists[userId].lastKeystrokeAt + TYPING_TTL_MS <= now) delete entry.typists[userId];
  }
}
const sweeper = setInterval(sweepExpired, 1000 / speed); // every production second
onShutdown(() => clearInterval(sweeper));

// --- HTTP ---------------------------------------------------------------
function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url, 'http://typing.local');
  if (req.method === 'POST' && url.pathname === '/internal/typing') {
    const { gateway, events } = JSON.parse((await readBody(req)).toString('utf8'));
    const now = nowMs();
    for (const event of events) noteKeystroke(event.conversationId, event.userId, event.displayName, now);
    return send(res, 200, { gateway, accepted: events.length });
  }
  if (req.method === 'GET' && url.pathname === '/v1/typing') {
    totals.reads++;
    const now = nowMs();
    const result = {};
    for (const id of (url.searchParams.get('conversations') ?? '').split(',')) if (id !== '') result[id] = whoIsTyping(id, now);
    return send(res, 200, result);
  }
  if (url.pathname === '/healthz') return send(res, 200, { ok: true, active: activeConversations });
  send(res, 404, { error: 'not found' });
}

// --- Gateway stand-in: users typing in conversations, pings every 3 s ------
const FIRST = ['Ana', 'Bram', 'Chloé', 'Dev', 'Emre', 'Fatima', 'Guus', 'Hana', 'Ivo', 'Jun', 'Kofi', 'Lena'];

class GatewaySim {
  constructor(name) {
    this.name = name;
    this.sessions = []; // { conversationId, userId, displayName, nextPingAt, endsAt }
    this.lastAt = programSeconds();
    this.carry = 0;
  }
  startSessions(now) {
    this.carry += (typingStartsPerSecond(hourOfDay()) / 2) * (now - this.lastAt); // two gateways share the users
    this.lastAt = now;
    while (this.carry >= 1) {
      this.carry -= 1;
      const conversation = Math.floor(60_000 * rand() ** 2.5); // busy team channels get most of it
      const user = Math.floor(rand() * 30_000);
      const length = Math.min(90, 7 * Math.exp(0.8 * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())));
      const at = now - rand() * 1; // somewhere in the last second
      this.sessions.push({ conversationId: `c${conversation.toString(36)}`, userId: `u${user}`, displayName: `${FIRST[user % 12]} ${String.fromCharCode(65 + (user % 26))}.`, nextPingAt: at, endsAt: at + length });
    }
  }
  duePings(now) {
    this.startSessions(now);
    const events = [];
    let kept = 0;
    for (const s of this.sessions) {
      while (s.nextPingAt <= now && s.nextPingAt <= s.endsAt) {
        events.push({ conversationId: s.conversationId, userId: s.userId, displayName: s.displayName });
        s.nextPingAt += 3; // clients throttle typing pings to one per 3 s
      }
      if (s.nextPingAt <= s.endsAt) this.sessions[kept++] = s;
    }
    this.sessions.length = kept;
    return events;
  }
}
const gateways = [new GatewaySim('gw-a'), new GatewaySim('gw-b')];

const { port } = await listen(handler);
let turn = 0;
const forwarders = selfRequests(port, {
  perSecond: 2, // each gateway flushes once per second
  maxInFlight: 2,
  next: () => {
    const gateway = gateways[turn++ % gateways.length];
    const events = gateway.duePings(programSeconds());
    if (events.length === 0) return null;
    return { method: 'POST', path: '/internal/typing', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ gateway: gateway.name, events }) };
  },
});
const readers = selfRequests(port, {
  perSecond: 0.5, // gateways resyncing a reconnecting client's open conversations
  maxInFlight: 4,
  next: () => {
    if (rand() < 0.2) return { path: '/healthz' };
    const ids = Array.from({ length: 3 + Math.floor(rand() * 8) }, () => `c${Math.floor(60_000 * rand() ** 2.5).toString(36)}`);
    return { path: `/v1/typing?conversations=${ids.join(',')}` };
  },
});

const ballastMb = buildBallast();
reportStats(() => ({
  retained: activeConversations,
  clock: Math.round(hourOfDay() * 100) / 100,
  startsPerMinute: Math.round(typingStartsPerSecond(hourOfDay()) * 60),
  typingSessions: gateways.reduce((sum, g) => sum + g.sessions.length, 0),
  pings: totals.pings,
  expired: totals.expired,
  failed: forwarders.failed + readers.failed,
}));
ready(`chat-typing-indicators: typing entries in object typingByConversation (5 s TTL), day starts ${CLOCK_H}:00, speed ${speed}, ballast ${ballastMb} MB`);
