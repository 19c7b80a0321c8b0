// Realtime gateway of a delivery-fleet platform: dispatchers' and drivers'
// apps keep a long-lived HTTP stream open (GET /v1/stream, server-sent
// events) and receive vehicle and order updates for their depot. A new
// stream is registered at once in the module-level Map `connections` (class
// Connection, with its own `queue` of frames waiting to be sent) and in the
// topic subscriber sets; frames for a connection that has not authenticated
// yet wait in its queue (at most 200, oldest dropped) and are flushed when
// the app authenticates (POST /v1/connections/:id/auth with its token).
//
// When a stream closes, onStreamClosed() unregisters the connection, except
// while its authentication is in flight: then it leaves the cleanup to
// authenticate(), which, when it sees the stream has gone, answers 410 and
// returns without unregistering. Token verification used to be a local JWT
// check that finishes before any close can be seen; at the onset
// (SCENARIO_ONSET, default 80 min) the gateway switches to token
// introspection at the identity provider (median ~1.5 s, long tail), the
// mobile apps give up after 4 s and close the stream, and every stream closed
// while its token was being checked stays in `connections`, subscribed to its
// topics, its queue filling with frames up to the 200 cap.
import http from 'node:http';
import {
  buildBallast,
  every,
  listen,
  onShutdown,
  onsetMs,
  onsetSeconds,
  paced,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x9a7e);
const INTROSPECTION_FROM_S = onsetSeconds(4800);

const wallMs = (seconds) => (seconds * 1000) / speed;
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, wallMs(seconds)));

// --- connections --------------------------------------------------------------------

const MAX_QUEUED_FRAMES = 200;
const AUTH_DEADLINE_S = 15;
const HEARTBEAT_S = 25;

/** Registered connections by id. */
const connections = new Map();
/** topic -> Set of connections subscribed to it. */
const subscribers = new Map();

const counters = { opened: 0, authenticated: 0, closed: 0, authAbandoned: 0, published: 0, framesQueued: 0, framesWritten: 0, framesDropped: 0 };
let connectionSeq = 0;
const config = { authMode: 'jwt' };

class Connection {
  constructor(res, topics, client, now) {
    this.id = `c_${(++connectionSeq).toString(36)}_${Math.floor(random() * 1e6).toString(36)}`;
    this.res = res;
    this.topics = topics;
    this.client = client;
    this.state = 'pending-auth';
    this.userId = null;
    this.queue = [];
    this.seq = 0;
    this.openedAt = now;
    this.closed = false;
    this.authTimer = null;
  }

  enqueue(frame) {
    this.queue.push(frame);
    counters.framesQueued++;
    if (this.queue.length > MAX_QUEUED_FRAMES) {
      this.queue.shift();
      counters.framesDropped++;
    }
  }

  flush() {
    while (this.queue.length > 0) {
      const frame = this.queue.shift();
      counters.framesWritten++;
      if (!this.res.write(`id: ${frame.seq}\nevent: ${frame.event}\ndata: ${frame.data}\n\n`)) {
        this.res.once('drain', () => this.flush());
        return;
      }
    }
  }
}

/** A frame for one connection: the payload with the connection's own sequence number, so the app can acknowledge and resume. */
function toFrame(conn, message) {
  const seq = ++conn.seq;
  return {
    seq,
    topic: message.topic,
    event: message.event,
    data: JSON.stringify({ seq, topic: message.topic, publishedAt: message.publishedAt, payload: message.payload }),
    queuedAt: programSeconds(),
  };
}

function register(conn) {
  connections.set(conn.id, conn);
  for (const topic of conn.topics) {
    let set = subscribers.get(topic);
    if (set === undefined) subscribers.set(topic, (set = new Set()));
    set.add(conn);
  }
}

function unregister(conn) {
  connections.delete(conn.id);
  for (const topic of conn.topics) subscribers.get(topic)?.delete(conn);
  clearTimeout(conn.authTimer);
}

function publish(message) {
  counters.published++;
  const set = subscribers.get(message.topic);
  if (set === undefined) return 0;
  for (const conn of set) {
    conn.enqueue(toFrame(conn, message));
    if (conn.state === 'open') conn.flush();
  }
  return set.size;
}

function onStreamClosed(conn) {
  conn.closed = true;
  counters.closed++;
  // authenticate() is still waiting for the token check: it cleans up when it resumes.
  if (conn.state === 'authenticating') return;
  unregister(conn);
}

// --- tokens ----------------------------------------------------------------------------

function decodeJwt(token) {
  const [, body] = token.split('.');
  return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
}

/** The identity provider's introspection endpoint (stand-in): production-time latency, log-normal, median ~1.5 s. */
async function introspect(token) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  await sleep(Math.min(30, 1.5 * Math.exp(0.8 * z)));
  const claims = decodeJwt(token);
  return { active: true, sub: claims.sub, scope: claims.scope, exp: claims.exp };
}

async function verifyToken(token) {
  if (config.authMode === 'introspect') return introspect(token);
  const claims = decodeJwt(token);
  return { active: true, sub: claims.sub, scope: claims.scope, exp: claims.exp };
}

async function authenticate(conn, token) {
  conn.state = 'authenticating';
  clearTimeout(conn.authTimer);
  const identity = await verifyToken(token);
  if (conn.closed) {
    counters.authAbandoned++;
    return { status: 410, body: { error: 'stream closed during authentication' } };
  }
  if (!identity.active) {
    conn.res.end();
    return { status: 401, body: { error: 'invalid token' } };
  }
  conn.state = 'open';
  conn.userId = identity.sub;
  counters.authenticated++;
  conn.flush();
  return { status: 200, body: { connectionId: conn.id, userId: identity.sub, queued: conn.seq } };
}

// --- HTTP -----------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function openStream(req, res, url) {
  const topics = (url.searchParams.get('topics') ?? '').split(',').filter(Boolean).slice(0, 8);
  if (topics.length === 0) return sendJson(res, 400, { error: 'topics required' });
  const conn = new Connection(res, topics, req.headers['user-agent'] ?? 'unknown', programSeconds());
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(`event: hello\ndata: {"connectionId":"${conn.id}"}\n\n`);
  register(conn);
  counters.opened++;
  conn.authTimer = setTimeout(() => {
    if (conn.state === 'pending-auth') res.end('event: error\ndata: {"error":"authentication timeout"}\n\n');
  }, wallMs(AUTH_DEADLINE_S));
  res.on('close', () => onStreamClosed(conn));
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://gateway.local');
  const parts = url.pathname.split('/');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/stream') return openStream(req, res, url);
    if (req.method === 'POST' && parts[1] === 'v1' && parts[2] === 'connections' && parts[4] === 'auth') {
      const { token } = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
      const conn = connections.get(parts[3]);
      if (conn === undefined) return sendJson(res, 404, { error: 'unknown connection' });
      const { status, body } = await authenticate(conn, token);
      return sendJson(res, status, body);
    }
    if (req.method === 'POST' && url.pathname === '/v1/publish') {
      const message = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
      message.publishedAt = programSeconds();
      const delivered = publish(message);
      return sendJson(res, 202, { delivered });
    }
    if (req.method === 'GET' && url.pathname === '/v1/connections') return sendJson(res, 200, { registered: connections.size, ...counters });
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

function heartbeat() {
  for (const conn of connections.values()) if (conn.state === 'open' && !conn.closed) conn.res.write(': ping\n\n');
}

// --- the apps (the load) -----------------------------------------------------------------------

const DEPOTS = Array.from({ length: 20 }, (_, i) => `depot-${['ber', 'ham', 'muc', 'cgn', 'fra'][i % 5]}-${Math.floor(i / 5) + 1}`);
const STATUSES = ['en-route', 'at-stop', 'loading', 'returning', 'idle', 'delayed'];

function token(sub, scope) {
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'k-2024-06' })).toString('base64url');
  const body = Buffer.from(JSON.stringify({ sub, scope, iss: 'https://id.fleet.example', exp: 1_900_000_000, iat: 1_700_000_000 })).toString('base64url');
  return `${header}.${body}.${'s'.repeat(86)}`;
}

function lognormalSeconds(median, sigma) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

const streamAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const authAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
onShutdown(() => {
  streamAgent.destroy();
  authAgent.destroy();
});

const apps = { live: 0, sessions: 0, gaveUp: 0, framesReceived: 0, errors: 0 };
let port = 0;
let appSeq = 0;

/** One app session: open the stream, authenticate, stay for a while; give up after 4 s without an auth answer and retry (up to 3 times). */
function startApp(attempt = 1, identity = null) {
  const n = identity?.n ?? ++appSeq;
  const depot = identity?.depot ?? DEPOTS[Math.floor(random() * DEPOTS.length)];
  const role = identity?.role ?? (random() < 0.3 ? 'dispatcher' : 'driver');
  const stayS = lognormalSeconds(900, 0.6);
  apps.live++;
  apps.sessions++;
  let done = false;
  let authReq = null;
  let giveUp = null;
  let leave = null;
  const finish = () => {
    if (done) return;
    done = true;
    apps.live--;
    clearTimeout(giveUp);
    clearTimeout(leave);
    authReq?.destroy();
    streamReq.destroy();
  };
  const streamReq = http.get(
    { host: '127.0.0.1', port, path: `/v1/stream?topics=${depot},fleet-alerts`, agent: streamAgent, headers: { 'user-agent': `FleetApp/5.2 (${role})` } },
    (res) => {
      res.setEncoding('utf8');
      let buffered = '';
      let connectionId = null;
      res.on('data', (chunk) => {
        if (connectionId !== null) {
          apps.framesReceived += chunk.split('\n\n').length - 1;
          return;
        }
        buffered += chunk;
        const match = /"connectionId":"([^"]+)"/.exec(buffered);
        if (match === null) return;
        connectionId = match[1];
        buffered = '';
        const payload = JSON.stringify({ token: token(`user_${n}`, role) });
        authReq = http.request(
          { host: '127.0.0.1', port, method: 'POST', path: `/v1/connections/${connectionId}/auth`, agent: authAgent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
          (authRes) => {
            authRes.resume();
            if (authRes.statusCode !== 200) return finish();
            clearTimeout(giveUp);
            leave = setTimeout(finish, wallMs(stayS));
          },
        );
        authReq.on('error', () => {});
        authReq.end(payload);
        giveUp = setTimeout(() => {
          apps.gaveUp++;
          finish();
          if (attempt < 3) setTimeout(() => startApp(attempt + 1, { n, depot, role }), wallMs(10 + random() * 20));
        }, wallMs(4));
      });
      res.on('end', finish);
      res.on('error', finish);
    },
  );
  streamReq.on('error', () => {
    if (!done) apps.errors++;
    finish();
  });
}

let published = 0;
function vehicleUpdate() {
  const n = ++published;
  const depot = DEPOTS[n % DEPOTS.length];
  const alert = n % 40 === 0;
  const stops = [];
  for (let i = 0; i < 3; i++) stops.push({ orderId: `o_${(n * 31 + i).toString(36)}`, eta: Math.round(programSeconds() + 600 * (i + 1)), address: `${10 + ((n + i) % 180)} Hauptstrasse, ${depot}` });
  const payload = {
    vehicleId: `v_${n % 400}`,
    driver: `driver_${n % 400}`,
    lat: 52.4 + random() * 0.2,
    lon: 13.3 + random() * 0.2,
    speedKmh: Math.round(random() * 70),
    heading: Math.round(random() * 360),
    status: STATUSES[n % STATUSES.length],
    stops,
  };
  return {
    method: 'POST',
    path: '/v1/publish',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alert ? { topic: 'fleet-alerts', event: 'alert', payload: { level: 'warn', text: `vehicle v_${n % 400} reported a delay`, vehicle: payload } } : { topic: depot, event: 'vehicle', payload }),
  };
}

// --- wiring -------------------------------------------------------------------------------------

const ballastMb = buildBallast();
({ port } = await listen(handler));

setTimeout(() => {
  config.authMode = 'introspect';
}, onsetMs(4800));
every(wallMs(HEARTBEAT_S), heartbeat);

// ~300 app sessions an hour (drivers and dispatchers opening the app), each staying ~15 min (median).
paced(300 / 3600, (due) => {
  for (let i = 0; i < due; i++) startApp();
});
// Vehicle and order updates from the dispatch service: 2/s.
const publishers = selfRequests(port, { perSecond: 2, maxInFlight: 16, next: vehicleUpdate });
// Monitoring: one request every 10 s.
const monitoring = selfRequests(port, { perSecond: 0.1, maxInFlight: 2, next: () => ({ method: 'GET', path: '/v1/connections' }) });

function framesHeld() {
  let count = 0;
  for (const conn of connections.values()) count += conn.queue.length;
  return count;
}

reportStats(() => {
  let closedRegistered = 0;
  for (const conn of connections.values()) if (conn.closed) closedRegistered++;
  return {
    retained: framesHeld(),
    connections: connections.size,
    closedRegistered,
    appsLive: apps.live,
    opened: counters.opened,
    authenticated: counters.authenticated,
    authAbandoned: counters.authAbandoned,
    gaveUp: apps.gaveUp,
    published: counters.published,
    framesWritten: counters.framesWritten,
    framesDropped: counters.framesDropped,
    requestsFailed: publishers.failed + monitoring.failed + apps.errors,
  };
});

ready(
  `stream-gateway-auth-close-connection-leak: SSE gateway, ~300 app sessions/h, frames queued per Connection; from token introspection at ${INTROSPECTION_FROM_S} s streams closed during auth stay in connections with their queues (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
