// Market-data gateway for the retail trading app: terminals and apps open a
// streaming session (HTTP stand-ins on 127.0.0.1 for the handshake and the
// close) with a watchlist; the feed handler publishes every price tick on an
// in-process pub/sub (PriceBus, ./price-bus.mjs; the instance `bus` lives
// here), and each session subscribes handlers (since the per-symbol routing
// rollout, one per watched symbol) that keep its symbols' last quotes and
// frame their ticks into the session's outbox and its replay buffer. A flush every 250 ms (speed 1) writes the outboxes out.
//
//   POST /stream/connect?sid=…&user=…   handshake, body { watchlist }
//   POST /stream/:sid/close             the close frame
//
// Per-symbol routing was rolled out by a config reload at the onset (default
// 20 min of production time; SCENARIO_ONSET in speed-1 seconds). Before it a
// session subscribes one handler for its whole watchlist, and disconnect()
// releases it (session.unsubscribe). From the onset connect() subscribes one
// handler per watched symbol (watch(); ids in session.subscriptionIds), and
// disconnect(), which marks the session closed, empties its outbox and drops
// it from `sessions`, still only calls session.unsubscribe, which the new
// path never sets (only the admin kick releases subscriptionIds): every
// session that ends leaves its 5–12 handlers on `bus.subscribers`, each
// closing over the session (~20 KB with its entitlements, last quotes and
// the 64-frame replay buffer). The handlers return early for closed
// sessions, but the bus still calls every one of them for every tick, so the
// CPU spent per tick grows with the leak (stats: dispatchUs, the bus time per
// tick).
//
// Speed 1: 0.4 sessions/s, each streaming for 1–6 min (~85 online); 3 ticks/s
// over 60 symbols. Flat heap before the onset; from the onset (the first
// per-symbol sessions end a minute or more later) ~1 440 sessions/h leak
// (~12 500 handlers/h), ~29 MB/h of JS heap.
// Cap: the bus refuses subscriptions beyond 45 000 (handshakes get 503),
// ~105 MB of leaked sessions, ~3.6 h after the onset at speed 1 (~3.6 min
// after it at SCENARIO_SPEED=60).
// stats: retained = bus.subscribers.length (live + leaked handlers).
import { PriceBus } from './price-bus.mjs';
import { buildBallast, every, listen, onsetMs, paced, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const SESSIONS_PER_SECOND = 0.4;
const MIN_SESSION_SECONDS = 60;
const MAX_SESSION_SECONDS = 360;
const TOKEN_SECONDS = 15 * 60;
const ONSET_DEFAULT_SECONDS = 1200;
const TICKS_PER_SECOND = 3;
const FLUSH_SECONDS = 0.25;
const REPLAY_FRAMES = 64;
const MAX_SUBSCRIBERS = 45_000;

const SYMBOLS = ['SAP', 'SIE', 'ALV', 'DTE', 'MBG', 'BMW', 'BAS', 'BAYN', 'MUV2', 'IFX', 'DBK', 'CBK', 'ADS', 'VOW3', 'RWE', 'EOAN', 'DPW', 'HEN3', 'FRE', 'MRK', 'AIR', 'MTX', 'RHM', 'ZAL', 'PUM', 'LHA', 'HNR1', 'SY1', 'BEI', 'CON', 'AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'NFLX', 'AMD', 'INTC', 'ASML', 'NESN', 'NOVN', 'ROG', 'MC', 'OR', 'TTE', 'SAN', 'BNP', 'ENEL', 'ISP', 'UCG', 'INGA', 'PHIA', 'ABI', 'NOKIA', 'ERIC-B', 'VOLV-B', 'NOVO-B', 'EQNR'];
const VENUES = ['XETR', 'XFRA', 'GETTEX', 'TRADEGATE', 'LSX'];

const bus = new PriceBus({ maxSubscribers: MAX_SUBSCRIBERS });
const features = { perSymbolRouting: false }; // switched on by the config reload at the onset
const sessions = new Map();
const counters = { connected: 0, disconnected: 0, refused: 0, framesOut: 0, bytesOut: 0 };

// --- sessions ----------------------------------------------------------------------
function entitlementsFor(userId, tier) {
  const list = [];
  for (const venue of VENUES) list.push(`md:${venue}:level1:${tier}`, `md:${venue}:trades:${tier}`, `md:${venue}:delayed-15m`, `md:${venue}:news:${userId % 3 === 0 ? 'pro' : 'basic'}`);
  return list;
}

function openSession(sid, userId, watchlist, headers) {
  const now = Date.now();
  const tier = userId % 5 === 0 ? 'realtime' : 'retail';
  return {
    sid,
    userId,
    account: `DE8937040044${String(userId).padStart(10, '0')}`,
    displayName: `Trader ${userId}`,
    tier,
    entitlements: entitlementsFor(userId, tier),
    watchlist,
    lastQuotes: new Map(),
    outbox: [],
    replay: [],
    seq: 0,
    unsubscribe: null,
    subscriptionIds: [],
    connectedAt: now,
    expiresAt: now + TOKEN_SECONDS * 1000,
    remoteAddress: headers['x-forwarded-for'] ?? '127.0.0.1',
    userAgent: headers['user-agent'],
    closed: false,
  };
}

function quoteFrame(session, tick) {
  session.seq++;
  return JSON.stringify({ t: 'q', seq: session.seq, s: tick.symbol, v: tick.venue, b: tick.bid, a: tick.ask, l: tick.last, sz: tick.size, ts: tick.ts });
}

function onQuote(session, tick) {
  if (session.closed) return;
  session.lastQuotes.set(tick.symbol, { bid: tick.bid, ask: tick.ask, last: tick.last, at: tick.ts });
  const frame = quoteFrame(session, tick);
  session.outbox.push(frame);
  session.replay.push(frame);
  if (session.replay.length > REPLAY_FRAMES) session.replay.shift();
}

// v1: one handler for the whole watchlist, released by disconnect().
function subscribeWatchlist(session) {
  const id = bus.subscribe('quotes', session.sid, (tick) => {
    if (session.watchlist.includes(tick.symbol)) onQuote(session, tick);
  });
  session.unsubscribe = () => bus.unsubscribe(id);
}

// v2 (per-symbol routing, behind a flag): one handler per watched symbol, so
// that symbols can be added and removed one by one from the app.
function watch(session, symbol) {
  const id = bus.subscribe('quotes', session.sid, (tick) => {
    if (tick.symbol === symbol) onQuote(session, tick);
  });
  session.subscriptionIds.push(id);
}

function unsubscribeAll(session) {
  session.unsubscribe?.();
  for (const id of session.subscriptionIds) bus.unsubscribe(id);
  session.subscriptionIds.length = 0;
}

function connect(sid, userId, watchlist, headers) {
  const session = openSession(sid, userId, watchlist, headers);
  try {
    if (features.perSymbolRouting) for (const symbol of watchlist) watch(session, symbol);
    else subscribeWatchlist(session);
  } catch (error) {
    if (error.code !== 'BUS_FULL') throw error;
    unsubscribeAll(session);
    counters.refused++;
    return null;
  }
  sessions.set(sid, session);
  counters.connected++;
  return session;
}

function disconnect(sid) {
  const session = sessions.get(sid);
  if (session === undefined) return false;
  session.closed = true;
  session.outbox.length = 0;
  session.unsubscribe?.();
  sessions.delete(sid);
  counters.disconnected++;
  return true;
}

// Admin endpoint: throw a session out (the only caller of unsubscribeAll).
function kick(sid) {
  const session = sessions.get(sid);
  if (session === undefined) return false;
  unsubscribeAll(session);
  return disconnect(sid);
}

function flush() {
  for (const session of sessions.values()) {
    if (session.outbox.length === 0) continue;
    for (const frame of session.outbox) counters.bytesOut += frame.length + 2;
    counters.framesOut += session.outbox.length;
    session.outbox.length = 0;
  }
}

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  const url = new URL(req.url, 'http://md-gateway');
  const parts = url.pathname.split('/');
  if (req.method !== 'POST' || parts[1] !== 'stream') return res.writeHead(404).end();
  const body = await readBody(req);
  if (parts[2] === 'connect') {
    const { watchlist } = JSON.parse(body);
    const session = connect(url.searchParams.get('sid'), Number(url.searchParams.get('user')), watchlist, req.headers);
    if (session === null) return res.writeHead(503, { 'retry-after': '30' }).end();
    return res.writeHead(200, { 'content-type': 'application/json' }).end(`{"sid":"${session.sid}","symbols":${session.watchlist.length},"expiresAt":${session.expiresAt}}`);
  }
  if (parts[2] === 'admin' && parts[3] === 'kick') return res.writeHead(kick(url.searchParams.get('sid')) ? 204 : 404).end();
  if (parts[3] === 'close') return res.writeHead(disconnect(parts[2]) ? 204 : 410).end();
  res.writeHead(404).end();
});

every(Math.max(10, scaledMs(FLUSH_SECONDS)), flush);

// --- the feed handler ---------------------------------------------------------------------
const feedRandom = rng(9301);
const prices = SYMBOLS.map((_, i) => 20 + ((i * 7919) % 480));
let tickSeq = 0;
function nextTick() {
  // Popular symbols tick more often.
  const i = Math.floor(SYMBOLS.length * feedRandom() * feedRandom());
  prices[i] = Math.max(1, prices[i] * (1 + (feedRandom() - 0.5) * 0.002));
  const last = Math.round(prices[i] * 100) / 100;
  return { seq: ++tickSeq, symbol: SYMBOLS[i], venue: VENUES[tickSeq % VENUES.length], bid: Math.round((last - 0.01) * 100) / 100, ask: Math.round((last + 0.01) * 100) / 100, last, size: 1 + Math.floor(feedRandom() * 500), ts: Date.now() };
}

const dispatch = { ticks: 0, ms: 0 };
paced(TICKS_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) {
    const started = performance.now();
    bus.publish('quotes', nextTick());
    dispatch.ms += performance.now() - started;
    dispatch.ticks++;
  }
});

// --- terminals: open a stream, close it 1–6 min later ------------------------------------
const random = rng(9302);
const sid = (n) => `md${n.toString(36)}-${(n * 2654435761 >>> 0).toString(16)}`;
function watchlistFor() {
  const size = 5 + Math.floor(random() * 8);
  const picked = new Set();
  while (picked.size < size) picked.add(SYMBOLS[Math.floor(SYMBOLS.length * random() * random())]);
  return [...picked];
}
const openStreams = []; // { sid, closeAt } in program (speed-1) seconds
let client = 0;
function nextConnect() {
  client++;
  openStreams.push({ sid: sid(client), closeAt: programSeconds() + MIN_SESSION_SECONDS + random() * (MAX_SESSION_SECONDS - MIN_SESSION_SECONDS) });
  return { method: 'POST', path: `/stream/connect?sid=${sid(client)}&user=${Math.floor(random() * 200_000)}`, headers: { 'content-type': 'application/json', 'user-agent': client % 3 === 0 ? 'TradeApp/8.2 (iOS 17.4)' : 'TradeTerminal/4.11 (Windows NT 10.0; Win64; x64)' }, body: JSON.stringify({ watchlist: watchlistFor() }) };
}
function nextClose() {
  const now = programSeconds();
  const index = openStreams.findIndex((stream) => stream.closeAt <= now);
  if (index === -1) return null;
  const [stream] = openStreams.splice(index, 1);
  return { method: 'POST', path: `/stream/${stream.sid}/close`, body: '' };
}
selfRequests(port, { perSecond: SESSIONS_PER_SECOND, next: nextConnect, maxInFlight: 8 });
selfRequests(port, { perSecond: SESSIONS_PER_SECOND * 3, next: nextClose, maxInFlight: 8 });

// The config reload that turns per-symbol routing on.
const onset = onsetMs(ONSET_DEFAULT_SECONDS);
setTimeout(() => (features.perSymbolRouting = true), onset).unref();

let lastDispatch = { ticks: 0, ms: 0 };
reportStats(() => {
  const ticks = dispatch.ticks - lastDispatch.ticks;
  const dispatchUs = ticks === 0 ? 0 : Math.round(((dispatch.ms - lastDispatch.ms) * 1000) / ticks);
  lastDispatch = { ...dispatch };
  return { retained: bus.subscribers.length, online: sessions.size, perSymbol: features.perSymbolRouting, dispatchUs, capped: bus.subscribers.length >= MAX_SUBSCRIBERS, published: bus.published, ...counters, ballastMB };
});
ready(`market-data-bus: ${SESSIONS_PER_SECOND} sessions/s (speed 1), ${MIN_SESSION_SECONDS / 60}–${MAX_SESSION_SECONDS / 60} min each; ${TICKS_PER_SECOND} ticks/s over ${SYMBOLS.length} symbols; per-symbol handlers from ${onset / 1000} s (wall)`);
