// Live-update fan-out hub of a logistics dashboard (websocket-style push over
// Server-Sent Events): dispatchers' browsers hold a stream open (GET
// /v1/stream), the tracking pipeline publishes vehicle positions, ETA changes
// and incident notices (POST /v1/publish), and the module-level `hub` (class
// FanoutHub) appends every broadcast, as a frame with the connection's own
// sequence number (encodeFrame), to each connection's OutgoingBuffer in the
// Map `hub.connections`. A flusher writes every connection's pending frames to
// its socket every 100 ms. A browser that leaves cleanly says goodbye (POST
// /v1/connections/:id/goodbye) and its buffer is removed.
//
// The leak: a connection that drops without a goodbye (a laptop lid closed,
// a train tunnel, a killed tab) stays in hub.connections: its buffer is kept
// so that a reconnect with Last-Event-ID can resume (the resume-window expiry
// was never written), the flusher skips it because its socket is gone, and
// broadcast() keeps appending every new frame to it. ~2 % of the ~160
// connections closed per hour drop that way from the start, and each dropped
// buffer grows by ~3 frames a second for good, so the growth speeds up as
// they pile up.
import http from 'node:http';
import { buildBallast, every, listen, MiB, onShutdown, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0xfa9007);
const FLUSH_MS = 100;
const CONNECTED_DISPATCHERS = 80;
const MEAN_SESSION_SECONDS = 1800;
const DROP_PROBABILITY = 0.02;

// --- the hub --------------------------------------------------------------------------------------

class OutgoingBuffer {
  constructor(id, user, topics, res) {
    this.id = id;
    this.user = user;
    this.topics = topics;
    this.res = res;
    this.frames = [];
    this.seq = 0;
    this.bytesQueued = 0;
    this.openedAt = Math.round(programSeconds());
    this.lastFlushAt = 0;
  }
}

/** One SSE frame for one connection: its own sequence number (for Last-Event-ID) and the shared payload. */
function encodeFrame(conn, event, data) {
  conn.seq++;
  return { id: `${conn.id}:${conn.seq}`, event, data, queuedAt: Date.now() };
}

class FanoutHub {
  constructor() {
    this.connections = new Map();
    this.broadcasts = 0;
    this.framesWritten = 0;
    this.goodbyes = 0;
  }

  open(id, user, topics, res) {
    const conn = new OutgoingBuffer(id, user, topics, res);
    this.connections.set(id, conn);
    return conn;
  }

  goodbye(id) {
    const conn = this.connections.get(id);
    if (conn === undefined) return false;
    this.connections.delete(id);
    if (!conn.res.writableEnded) conn.res.end();
    this.goodbyes++;
    return true;
  }

  broadcast(topic, event, data) {
    this.broadcasts++;
    for (const conn of this.connections.values()) {
      if (!conn.topics.includes(topic)) continue;
      const frame = encodeFrame(conn, event, data);
      conn.frames.push(frame);
      conn.bytesQueued += data.length;
    }
  }

  /** Writes the pending frames of every connection whose socket is still there. */
  flush() {
    const now = programSeconds();
    for (const conn of this.connections.values()) {
      if (conn.frames.length === 0) continue;
      if (conn.res.destroyed || conn.res.writableEnded) continue; // kept for resume
      let out = '';
      for (const frame of conn.frames) out += `id: ${frame.id}\nevent: ${frame.event}\ndata: ${frame.data}\n\n`;
      conn.res.write(out);
      this.framesWritten += conn.frames.length;
      conn.frames = [];
      conn.bytesQueued = 0;
      conn.lastFlushAt = now;
    }
  }
}

const hub = new FanoutHub();

// --- HTTP ---------------------------------------------------------------------------------------------

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://hub.local');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/stream') {
      const id = url.searchParams.get('conn');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(': connected\n\n');
      hub.open(id, url.searchParams.get('user'), (url.searchParams.get('topics') ?? '').split(','), res);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/publish') {
      const message = JSON.parse((await readBody(req, 1 * MiB)).toString('utf8'));
      hub.broadcast(message.topic, message.event, JSON.stringify(message.payload));
      res.writeHead(202).end();
      return;
    }
    const bye = /^\/v1\/connections\/([\w-]+)\/goodbye$/.exec(url.pathname);
    if (req.method === 'POST' && bye) {
      res.writeHead(hub.goodbye(bye[1]) ? 204 : 404).end();
      return;
    }
    if (req.method === 'GET' && url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, connections: hub.connections.size }));
      return;
    }
    res.writeHead(404).end();
  } catch (error) {
    if (!res.headersSent) res.writeHead(400).end(String(error.message ?? error));
  }
}

// --- the dispatchers' browsers ---------------------------------------------------------------------------

const browsers = { opened: 0, cleanCloses: 0, drops: 0, bytesReceived: 0, live: new Set() };
let connSeq = 0;

function sessionSeconds() {
  return -Math.log(1 - random()) * MEAN_SESSION_SECONDS;
}

function openBrowser(port) {
  const id = `c-${(++connSeq).toString(36)}-${Math.floor(random() * 1e6).toString(36)}`;
  const user = `dispatcher${Math.floor(random() * 400)}`;
  const topics = random() < 0.5 ? 'vehicles,eta,incidents' : 'vehicles,incidents';
  const req = http.get({ host: '127.0.0.1', port, path: `/v1/stream?conn=${id}&user=${user}&topics=${topics}`, agent: false });
  const session = { id, req, timer: null };
  browsers.live.add(session);
  browsers.opened++;
  req.on('response', (res) => res.on('data', (chunk) => (browsers.bytesReceived += chunk.length)));
  req.on('error', () => {});
  session.timer = setTimeout(() => closeBrowser(port, session), (sessionSeconds() * 1000) / speed);
}

function closeBrowser(port, session) {
  browsers.live.delete(session);
  if (random() < DROP_PROBABILITY) {
    browsers.drops++;
    session.req.destroy(); // no goodbye: the socket just goes away
  } else {
    browsers.cleanCloses++;
    const bye = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/v1/connections/${session.id}/goodbye`, agent: false }, (res) => {
      res.resume();
      session.req.destroy();
    });
    bye.on('error', () => session.req.destroy());
    bye.end();
  }
  openBrowser(port); // another dispatcher opens the dashboard
}

// --- the tracking pipeline (publishers) ---------------------------------------------------------------------

const DEPOTS = ['Rotterdam', 'Duisburg', 'Venlo', 'Antwerp', 'Lille', 'Liege'];

function publication() {
  const roll = random();
  const vehicle = `TRK-${1000 + Math.floor(random() * 600)}`;
  if (roll < 0.8) {
    return { topic: 'vehicles', event: 'position', payload: { vehicle, lat: 51 + random() * 1.5, lon: 3.5 + random() * 3.5, speedKmh: Math.round(random() * 90), heading: Math.round(random() * 360) } };
  }
  if (roll < 0.98) return { topic: 'eta', event: 'eta-changed', payload: { vehicle, stop: `${DEPOTS[Math.floor(random() * DEPOTS.length)]}-${Math.floor(random() * 40)}`, etaMinutes: Math.round(5 + random() * 180) } };
  return { topic: 'incidents', event: 'incident', payload: { vehicle, kind: random() < 0.5 ? 'delay' : 'breakdown', note: 'Driver reported a traffic jam on the A16 near the border crossing' } };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

for (let i = 0; i < CONNECTED_DISPATCHERS; i++) openBrowser(port);
onShutdown(() => {
  for (const session of browsers.live) {
    clearTimeout(session.timer);
    session.req.destroy();
  }
  for (const conn of hub.connections.values()) conn.res.destroy();
});

// ~3 publications/s from the tracking pipeline.
const publishers = selfRequests(port, {
  perSecond: 3,
  maxInFlight: 8,
  next: () => ({ method: 'POST', path: '/v1/publish', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publication()) }),
});
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

every(Math.max(1, FLUSH_MS / speed), () => hub.flush());

function droppedFrames() {
  let frames = 0;
  for (const conn of hub.connections.values()) if (conn.res.destroyed) frames += conn.frames.length;
  return frames;
}

reportStats(() => ({
  retained: hub.connections.size,
  droppedFrames: droppedFrames(),
  drops: browsers.drops,
  cleanCloses: browsers.cleanCloses,
  broadcasts: hub.broadcasts,
  requestsFailed: publishers.failed + probes.failed,
}));

ready(`fanout-hub-dropped-connection-leak: SSE fan-out of ~3 msgs/s to ~${CONNECTED_DISPATCHERS} dashboards, flushed every ${FLUSH_MS} ms; connections dropped without a goodbye stay in hub.connections and keep buffering (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
