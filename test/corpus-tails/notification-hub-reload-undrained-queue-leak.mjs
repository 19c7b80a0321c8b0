// Notification hub: the web app and the desktop client hold a long-lived
// stream (GET /v1/stream, WebSocket-style newline-delimited JSON frames over a
// chunked HTTP response) and backend services POST notifications to
// /v1/publish, addressed either to one user ("user:<id>") or to a shared
// channel (a team, an incident room, the status page).
//
// Every connection gets its own outbound queue (`conn.outbound`) with a drain
// loop that writes queued frames as the socket accepts them, sends heartbeats,
// and owns the connection's lifecycle: it is the drain loop that removes a
// connection from the hub when its socket closes.
//
// The hub reloads its config at the onset (the ops team turns on handshake v2:
// resume tokens and a negotiated frame format). Connections accepted after
// that go through openConnectionV2(), which was written next to
// openConnection() and forgot to call conn.startDrain(): their queues are
// never written out, the client hears nothing, and when the client gives up
// and closes the socket nothing removes the connection from `connections`.
// publish() skips sockets that are already destroyed, so a dead connection's
// queue stops growing when its client leaves, but it stays, with every frame
// queued while it was open. Connections accepted before the reload keep their
// drain loops and stay drained.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import {
  buildBallast,
  KiB,
  listen,
  onShutdown,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const DEFAULT_ONSET_S = 65 * 60;
const random = rng(0x4b5a11);
const EPOCH_MS = 1_717_000_000_000;

// --- config ------------------------------------------------------------------

const bootConfig = {
  version: 41,
  handshake: 'v1',
  heartbeatSeconds: 25,
  maxQueuedFrames: 5_000,
  maxTopicsPerConnection: 8,
};

let config = bootConfig;

/** The config watcher's reload: handshake v2 (resume tokens, frame format negotiation). */
function reloadConfig() {
  config = { ...config, version: config.version + 1, handshake: 'v2', resumeWindowSeconds: 120, formats: ['json', 'json+seq'] };
  counters.reloads++;
  counters.reloadedAt = programSeconds();
}

// --- the hub -----------------------------------------------------------------

/** connection id -> Connection */
const connections = new Map();
/** topic -> Set<Connection> */
const subscribers = new Map();
const counters = { accepted: 0, acceptedV2: 0, closed: 0, published: 0, framesQueued: 0, framesWritten: 0, bytesWritten: 0, dropped: 0, reloads: 0, reloadedAt: null };

class Connection {
  constructor(id, userId, topics, req, res, handshake) {
    this.id = id;
    this.userId = userId;
    this.topics = topics;
    this.req = req;
    this.res = res;
    this.handshake = handshake;
    this.openedAt = programSeconds();
    this.outbound = [];
    this.seq = 0;
    this.draining = false;
    this.closed = false;
    this.wake = null;
    this.heartbeat = null;
    this.format = 'json';
    this.resumeToken = null;
    this.written = 0;
  }

  enqueue(event, data) {
    if (this.closed || this.res.destroyed) return false;
    if (this.outbound.length >= config.maxQueuedFrames) {
      this.outbound.shift();
      counters.dropped++;
    }
    this.outbound.push(toFrame(this, event, data));
    counters.framesQueued++;
    if (this.wake !== null) {
      const wake = this.wake;
      this.wake = null;
      wake();
    }
    return true;
  }

  /** Starts the drain loop and the heartbeat; the loop removes the connection when its socket closes. */
  startDrain() {
    if (this.draining) return;
    this.draining = true;
    this.res.on('close', () => this.close());
    this.heartbeat = setInterval(() => this.enqueue('heartbeat', '{}'), scaledMs(config.heartbeatSeconds));
    void this.drainLoop();
  }

  async drainLoop() {
    while (!this.closed) {
      if (this.outbound.length === 0) {
        await new Promise((resolve) => (this.wake = resolve));
        continue;
      }
      const frame = this.outbound.shift();
      const text = encodeFrame(frame, this.format);
      this.written += text.length;
      counters.framesWritten++;
      counters.bytesWritten += text.length;
      if (!this.res.write(text)) await new Promise((resolve) => this.res.once('drain', resolve));
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (this.wake !== null) this.wake();
    hub.remove(this);
    counters.closed++;
  }
}

const hub = {
  add(conn) {
    connections.set(conn.id, conn);
    for (const topic of conn.topics) {
      let set = subscribers.get(topic);
      if (set === undefined) subscribers.set(topic, (set = new Set()));
      set.add(conn);
    }
  },
  remove(conn) {
    connections.delete(conn.id);
    for (const topic of conn.topics) {
      const set = subscribers.get(topic);
      if (set === undefined) continue;
      set.delete(conn);
      if (set.size === 0) subscribers.delete(topic);
    }
  },
};

/** One queued frame for one connection: its own sequence number, the shared encoded payload. */
function toFrame(conn, event, data) {
  return { seq: ++conn.seq, event, data, queuedAt: programSeconds() };
}

function encodeFrame(frame, format) {
  if (format === 'json+seq') return `${frame.seq}\t{"event":"${frame.event}","data":${frame.data}}\n`;
  return `{"seq":${frame.seq},"event":"${frame.event}","data":${frame.data}}\n`;
}

function publish(notification) {
  const set = subscribers.get(notification.topic);
  counters.published++;
  if (set === undefined) return 0;
  const data = JSON.stringify(notification);
  let delivered = 0;
  for (const conn of set) if (conn.enqueue('notification', data)) delivered++;
  return delivered;
}

function parseTopics(raw, userId) {
  const topics = [`user:${userId}`];
  for (const t of (raw ?? '').split(',')) {
    if (t.length > 0 && t.length < 64 && topics.length < config.maxTopicsPerConnection && !topics.includes(t)) topics.push(t);
  }
  return topics;
}

function openConnection(req, res, userId, topics) {
  const conn = new Connection(`c${(++counters.accepted).toString(36)}`, userId, topics, req, res, 'v1');
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-hub-config': String(config.version) });
  res.write(`{"event":"hello","data":{"connection":"${conn.id}","heartbeat":${config.heartbeatSeconds}}}\n`);
  hub.add(conn);
  conn.startDrain();
  return conn;
}

/** Handshake v2: resume token and frame format negotiation (config.handshake === 'v2'). */
function openConnectionV2(req, res, userId, topics) {
  const conn = new Connection(`c${(++counters.accepted).toString(36)}`, userId, topics, req, res, 'v2');
  counters.acceptedV2++;
  const wanted = (req.headers['x-frame-formats'] ?? 'json').split(',').map((s) => s.trim());
  conn.format = config.formats.find((f) => wanted.includes(f)) ?? 'json';
  conn.resumeToken = randomBytes(12).toString('base64url');
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-hub-config': String(config.version), 'x-resume-token': conn.resumeToken });
  res.write(`{"event":"hello","data":{"connection":"${conn.id}","heartbeat":${config.heartbeatSeconds},"format":"${conn.format}","resumeWindow":${config.resumeWindowSeconds}}}\n`);
  hub.add(conn);
  return conn;
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function validNotification(n) {
  return (
    typeof n === 'object' &&
    n !== null &&
    typeof n.topic === 'string' &&
    typeof n.kind === 'string' &&
    typeof n.title === 'string' &&
    n.title.length <= 200 &&
    (n.body === undefined || typeof n.body === 'string')
  );
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://hub.local');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/stream') {
      const userId = url.searchParams.get('user');
      if (userId === null || !/^u\d+$/.test(userId)) return sendJson(res, 400, { error: 'user required' });
      const topics = parseTopics(url.searchParams.get('topics'), userId);
      if (config.handshake === 'v2') openConnectionV2(req, res, userId, topics);
      else openConnection(req, res, userId, topics);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/publish') {
      let notification;
      try {
        notification = JSON.parse((await readBody(req, 64 * KiB)).toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: 'invalid JSON' });
      }
      if (!validNotification(notification)) return sendJson(res, 422, { error: 'invalid notification' });
      notification.id = `ntf_${createHash('sha1').update(`${notification.topic}:${counters.published}`).digest('hex').slice(0, 16)}`;
      notification.publishedAt = new Date(EPOCH_MS + programSeconds() * 1000).toISOString();
      const delivered = publish(notification);
      return sendJson(res, 202, { id: notification.id, delivered });
    }
    if (req.method === 'GET' && url.pathname === '/v1/hub/stats') {
      return sendJson(res, 200, { connections: connections.size, topics: subscribers.size, config: config.version, ...counters });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- clients: browsers and desktop apps holding streams ---------------------

const USERS = 3_000;
const CHANNELS = [
  ...Array.from({ length: 24 }, (_, i) => `team:${(0x1a0 + i * 7).toString(16)}`),
  ...Array.from({ length: 10 }, (_, i) => `project:${1000 + i * 13}`),
  'incident:active',
  'status:platform',
  'billing:announcements',
  'release:notes',
  'ops:oncall',
  'security:advisories',
];
const TARGET_CLIENTS = 160;
const WORDS = ['deploy', 'invoice', 'review', 'comment', 'mention', 'build', 'merge', 'alert', 'backup', 'export', 'quota', 'payment', 'ticket', 'release'];

function word() {
  return WORDS[Math.floor(random() * WORDS.length)];
}

/** Log-normal session length in production seconds: median 20 min, clamped to 1 min .. 4 h. */
function clientLifetimeSeconds() {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(4 * 3600, Math.max(60, 1200 * Math.exp(0.8 * z)));
}

const clients = new Set();
const connectedUsers = [];
const clientCounters = { opened: 0, ended: 0, bytes: 0, errors: 0 };
let port = 0;
let stopping = false;

function openClient() {
  if (stopping) return;
  const userId = `u${Math.floor(USERS * random() ** 1.3)}`;
  const topics = [];
  const n = 1 + Math.floor(random() * 3);
  while (topics.length < n) {
    const c = CHANNELS[Math.floor(CHANNELS.length * random() ** 1.5)];
    if (!topics.includes(c)) topics.push(c);
  }
  const client = { userId, req: null, timer: null };
  clients.add(client);
  connectedUsers.push(userId);
  clientCounters.opened++;
  const req = http.get({
    host: '127.0.0.1',
    port,
    path: `/v1/stream?user=${userId}&topics=${encodeURIComponent(topics.join(','))}`,
    headers: { 'x-frame-formats': random() < 0.6 ? 'json+seq,json' : 'json', 'user-agent': random() < 0.7 ? 'web/5.12' : 'desktop/3.4' },
    agent: false,
  });
  client.req = req;
  req.on('response', (res) => {
    res.on('data', (chunk) => (clientCounters.bytes += chunk.length));
    res.on('error', () => {});
  });
  req.on('error', () => {
    if (!stopping) clientCounters.errors++;
  });
  client.timer = setTimeout(() => endClient(client), scaledMs(clientLifetimeSeconds()));
}

function endClient(client) {
  clients.delete(client);
  const i = connectedUsers.indexOf(client.userId);
  if (i >= 0) connectedUsers.splice(i, 1);
  client.req.destroy();
  clientCounters.ended++;
  // someone else opens the app a little later
  setTimeout(openClient, scaledMs(5 + random() * 60));
}

onShutdown(() => {
  stopping = true;
  for (const client of clients) {
    clearTimeout(client.timer);
    client.req.destroy();
  }
});

function nextNotification() {
  const toUser = random() < 0.5;
  const topic = toUser
    ? `user:${connectedUsers.length > 0 && random() < 0.6 ? connectedUsers[Math.floor(random() * connectedUsers.length)] : `u${Math.floor(random() * USERS)}`}`
    : CHANNELS[Math.floor(CHANNELS.length * random() ** 1.5)];
  const kind = toUser ? ['mention', 'assignment', 'reply', 'approval'][Math.floor(random() * 4)] : ['build', 'incident', 'announcement', 'deploy'][Math.floor(random() * 4)];
  const notification = {
    topic,
    kind,
    title: `${word()} ${word()}: ${word()} #${Math.floor(random() * 90_000 + 10_000)}`,
    body: `${word()} ${word()} ${word()} ${word()} ${word()} ${word()} by ${word()}.${word()}@example.com, ${word()} ${word()} ${word()} ${word()} ${word()}`,
    link: `https://app.example.com/${word()}/${Math.floor(random() * 1e7).toString(36)}`,
    actor: { id: `u${Math.floor(random() * USERS)}`, name: `${word()} ${word()}`, avatar: `https://cdn.example.com/a/${Math.floor(random() * 1e8).toString(36)}.png` },
    priority: random() < 0.1 ? 'high' : 'normal',
  };
  return { method: 'POST', path: '/v1/publish', headers: { 'content-type': 'application/json' }, body: JSON.stringify(notification) };
}

// --- start -------------------------------------------------------------------

const ballastMb = buildBallast();
({ port } = await listen(handler));

const reloadTimer = setTimeout(reloadConfig, onsetMs(DEFAULT_ONSET_S));
onShutdown(() => clearTimeout(reloadTimer));

// The fleet opens its streams over the first couple of minutes (a deploy just restarted the hub).
for (let i = 0; i < TARGET_CLIENTS; i++) setTimeout(openClient, scaledMs(random() * 120));

const publishers = selfRequests(port, { perSecond: 1.5, next: nextNotification });
const dashboards = selfRequests(port, {
  perSecond: 0.1,
  maxInFlight: 4,
  next: () => ({ method: 'GET', path: random() < 0.5 ? '/healthz' : '/v1/hub/stats' }),
});

reportStats(() => {
  let queued = 0;
  let undrained = 0;
  let dead = 0;
  for (const conn of connections.values()) {
    queued += conn.outbound.length;
    if (!conn.draining) undrained++;
    if (conn.res.destroyed) dead++;
  }
  return {
    retained: queued,
    connections: connections.size,
    undrained,
    deadInHub: dead,
    clients: clients.size,
    configVersion: config.version,
    published: counters.published,
    framesQueued: counters.framesQueued,
    framesWritten: counters.framesWritten,
    requestsFailed: publishers.failed + dashboards.failed,
    streamErrors: clientCounters.errors,
  };
});

ready(
  `notification-hub-reload-undrained-queue-leak: ~${TARGET_CLIENTS} streams, 1.5 notifications/s; after the config reload at ${onsetSeconds(DEFAULT_ONSET_S)} s new connections get a queue whose drain loop never starts (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
