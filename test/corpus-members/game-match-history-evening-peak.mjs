// Match server of an online tactics game. A match (class Match, in the
// module-level Map `matches`) holds its players and the full `moves` history
// (clients sync their moves in batches every 15 s; spectators and
// reconnecting players replay the history from any sequence number). Matches
// last 5 to 40 minutes depending on the mode; when a match ends its result is
// reported to the ladder service (a stand-in that keeps aggregates), a
// summary goes to the `recentResults` ring and the match is removed. A reaper
// ends matches nobody has synced for 5 minutes (abandoned).
//
// Nothing is kept beyond the matches in progress: the memory follows the
// number of live matches, which follows the players' day with an evening
// peak (~0.5 match starts a minute at night, ~3.2 at 20:30-22:00). The
// simulated day starts at SCENARIO_CLOCK_H (default 17.0, i.e. 17:00).
import {
  buildBallast,
  envNumber,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x6a3e);
const clockStartH = envNumber('SCENARIO_CLOCK_H', 17.0, (v) => v >= 0 && v < 24);

const wallMs = (seconds) => (seconds * 1000) / speed;
const hourOfDay = () => (clockStartH + programSeconds() / 3600) % 24;

// --- matches --------------------------------------------------------------------------

const MODES = {
  blitz: { minMinutes: 5, maxMinutes: 10, players: 2 },
  ranked: { minMinutes: 15, maxMinutes: 30, players: 2 },
  squad: { minMinutes: 20, maxMinutes: 35, players: 4 },
  campaign: { minMinutes: 25, maxMinutes: 40, players: 3 },
};
const ABANDON_AFTER_S = 300;

/** Matches in progress by id. */
const matches = new Map();
/** The last 500 finished matches. */
const recentResults = [];
const ladder = { reported: 0, abandoned: 0, byMode: new Map() };
let matchSeq = 0;
let movesAccepted = 0;

class Match {
  constructor(mode, players, map, now) {
    this.id = `m_${(++matchSeq).toString(36)}`;
    this.mode = mode;
    this.players = players.map((id, slot) => ({ id, slot, score: 0, units: 12, connected: true }));
    this.map = map;
    this.moves = [];
    this.turn = 0;
    this.state = 'running';
    this.startedAt = now;
    this.lastSyncAt = now;
  }

  apply(move) {
    this.moves.push(move);
    this.turn = Math.max(this.turn, move.turn);
    const player = this.players[move.slot];
    if (player !== undefined && move.action === 'attack') player.score += move.effects.length;
  }

  since(seq) {
    return this.moves.slice(Math.max(0, seq));
  }
}

/** A move as recorded in the match history, with its server sequence number. */
function recordMove(match, raw, now) {
  return {
    seq: match.moves.length + 1,
    turn: raw.turn,
    slot: raw.slot,
    action: raw.action,
    unitId: raw.unitId,
    from: raw.from,
    to: raw.to,
    effects: raw.effects,
    clientTs: raw.clientTs,
    serverTs: now,
  };
}

function endMatch(match, reason, now) {
  matches.delete(match.id);
  match.state = reason;
  const winner = match.players.reduce((best, p) => (p.score > best.score ? p : best), match.players[0]);
  const summary = { id: match.id, mode: match.mode, reason, minutes: Math.round((now - match.startedAt) / 60), moves: match.moves.length, winner: winner.id };
  recentResults.push(summary);
  if (recentResults.length > 500) recentResults.shift();
  ladder.reported++;
  if (reason === 'abandoned') ladder.abandoned++;
  const perMode = ladder.byMode.get(match.mode) ?? { matches: 0, moves: 0 };
  perMode.matches++;
  perMode.moves += match.moves.length;
  ladder.byMode.set(match.mode, perMode);
  return summary;
}

function reapAbandoned() {
  const now = programSeconds();
  for (const match of matches.values()) if (now - match.lastSyncAt > ABANDON_AFTER_S) endMatch(match, 'abandoned', now);
}

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://game.local');
  const parts = url.pathname.split('/');
  const now = programSeconds();
  try {
    if (req.method === 'POST' && url.pathname === '/v1/matches') {
      const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      if (MODES[body.mode] === undefined) return sendJson(res, 400, { error: 'unknown mode' });
      const match = new Match(body.mode, body.players, body.map, now);
      matches.set(match.id, match);
      return sendJson(res, 201, { matchId: match.id, players: match.players.length });
    }
    if (parts[1] === 'v1' && parts[2] === 'matches' && parts[3]) {
      const match = matches.get(parts[3]);
      if (match === undefined) return sendJson(res, 404, { error: 'no such match' });
      if (req.method === 'POST' && parts[4] === 'moves') {
        const batch = JSON.parse((await readBody(req, 512 * 1024)).toString('utf8'));
        for (const raw of batch.moves) match.apply(recordMove(match, raw, now));
        movesAccepted += batch.moves.length;
        match.lastSyncAt = now;
        return sendJson(res, 200, { seq: match.moves.length, turn: match.turn });
      }
      if (req.method === 'POST' && parts[4] === 'end') return sendJson(res, 200, endMatch(match, 'finished', now));
      if (req.method === 'GET') {
        const since = Number(url.searchParams.get('since') ?? 0);
        return sendJson(res, 200, { id: match.id, mode: match.mode, turn: match.turn, players: match.players, moves: match.since(since).slice(0, 200) });
      }
    }
    if (req.method === 'GET' && url.pathname === '/v1/lobby') {
      const byMode = {};
      for (const match of matches.values()) byMode[match.mode] = (byMode[match.mode] ?? 0) + 1;
      return sendJson(res, 200, { live: matches.size, byMode, recent: recentResults.slice(-10) });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- players (the load) ----------------------------------------------------------------------

/** Match starts per minute over the day: quiet nights, lunchtime bump, evening peak 20:30-22:00. */
const CURVE = [
  [0, 1.6],
  [1.5, 0.7],
  [4, 0.4],
  [8, 0.5],
  [12, 0.9],
  [13.5, 1.0],
  [16, 1.0],
  [18, 1.7],
  [20.5, 3.2],
  [22, 3.0],
  [23, 2.2],
  [24, 1.6],
];

function startsPerMinute(h) {
  for (let i = 1; i < CURVE.length; i++) {
    const [h1, v1] = CURVE[i];
    const [h0, v0] = CURVE[i - 1];
    if (h <= h1) return v0 + ((v1 - v0) * (h - h0)) / (h1 - h0);
  }
  return CURVE[0][1];
}

const MAPS = ['harbor', 'canyon', 'citadel', 'marsh', 'tundra', 'ruins'];
const ACTIONS = ['move', 'move', 'move', 'attack', 'fortify', 'build', 'scout'];

/** Matches on the players' side. */
const clients = [];
/** Requests waiting to go out. */
const outbox = [];
let playerSeq = 0;

function pickMode() {
  const r = random();
  if (r < 0.3) return 'blitz';
  if (r < 0.7) return 'ranked';
  if (r < 0.88) return 'squad';
  return 'campaign';
}

function newMatch() {
  const mode = pickMode();
  const spec = MODES[mode];
  const players = Array.from({ length: spec.players }, () => `p_${(++playerSeq * 7919) % 1_000_003}`);
  const client = {
    mode,
    players: players.length,
    matchId: null,
    turn: 0,
    lastSyncAt: programSeconds(),
    endsAt: programSeconds() + 60 * (spec.minMinutes + random() * (spec.maxMinutes - spec.minMinutes)),
    dropsOut: random() < 0.02,
    state: 'creating',
  };
  clients.push(client);
  return { method: 'POST', path: '/v1/matches', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode, players, map: MAPS[Math.floor(random() * MAPS.length)] }), client };
}

function rawMove(client, slot, now) {
  const action = ACTIONS[Math.floor(random() * ACTIONS.length)];
  const x = Math.floor(random() * 64);
  const y = Math.floor(random() * 64);
  const effects = [];
  if (action === 'attack') {
    const hits = 1 + Math.floor(random() * 3);
    for (let i = 0; i < hits; i++) effects.push({ unitId: `u${(slot + 1) % client.players}-${Math.floor(random() * 12)}`, damage: 5 + Math.floor(random() * 30), killed: random() < 0.15 });
  }
  return { turn: client.turn, slot, action, unitId: `u${slot}-${Math.floor(random() * 12)}`, from: { x, y }, to: { x: x + Math.floor(random() * 5) - 2, y: y + Math.floor(random() * 5) - 2 }, effects, clientTs: Math.round(now * 1000) };
}

/** Each player issues a command every ~12 s; every 15 s the client syncs what was issued. */
function simulate() {
  const now = programSeconds();
  let keep = 0;
  for (let i = 0; i < clients.length; i++) {
    const client = clients[i];
    if (client.state === 'done') continue;
    clients[keep++] = client;
    if (client.state !== 'playing' || now - client.lastSyncAt < 15) continue;
    if (now >= client.endsAt) {
      if (!client.dropsOut) outbox.push({ method: 'POST', path: `/v1/matches/${client.matchId}/end`, headers: { 'content-type': 'application/json' }, body: '{}' });
      client.state = 'done';
      continue;
    }
    const elapsed = now - client.lastSyncAt;
    client.lastSyncAt = now;
    client.turn++;
    const moves = [];
    for (let slot = 0; slot < client.players; slot++) {
      const count = Math.floor(elapsed / 12 + random());
      for (let k = 0; k < count; k++) moves.push(rawMove(client, slot, now));
    }
    outbox.push({ method: 'POST', path: `/v1/matches/${client.matchId}/moves`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ moves }) });
  }
  clients.length = keep;
}

function onCreated(status, text, request) {
  const client = request.client;
  if (client === undefined) return;
  if (status !== 201) {
    client.state = 'done';
    return;
  }
  client.matchId = JSON.parse(text).matchId;
  client.state = 'playing';
  client.lastSyncAt = programSeconds();
}

// --- wiring --------------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

every(wallMs(1), simulate);
every(wallMs(30), reapAbandoned);

const lobby = selfRequests(port, { perSecond: () => startsPerMinute(hourOfDay()) / 60, maxInFlight: 8, next: newMatch, onResponse: onCreated });
const syncs = selfRequests(port, { perSecond: 20, maxInFlight: 16, next: () => outbox.shift() ?? null });
// Spectators and reconnecting players replay live matches; the lobby screen polls the list.
const viewers = selfRequests(port, {
  perSecond: () => 0.1 + matches.size / 200,
  maxInFlight: 8,
  next: () => {
    if (random() < 0.3 || clients.length === 0) return { method: 'GET', path: '/v1/lobby' };
    const client = clients[Math.floor(random() * clients.length)];
    if (client.matchId === null || client.state !== 'playing') return { method: 'GET', path: '/v1/lobby' };
    return { method: 'GET', path: `/v1/matches/${client.matchId}?since=${Math.floor(random() * 100)}` };
  },
});

reportStats(() => {
  let moves = 0;
  for (const match of matches.values()) moves += match.moves.length;
  return {
    retained: moves,
    matches: matches.size,
    hour: Math.round(hourOfDay() * 100) / 100,
    startsPerMinute: Math.round(startsPerMinute(hourOfDay()) * 100) / 100,
    finished: ladder.reported,
    abandoned: ladder.abandoned,
    movesAccepted,
    requestsFailed: lobby.failed + syncs.failed + viewers.failed,
  };
});

ready(
  `game-match-history-evening-peak: tactics match server, matches of 5-40 min hold their moves and are removed when they end; starts follow the day with an evening peak (clock ${clockStartH} h, speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
