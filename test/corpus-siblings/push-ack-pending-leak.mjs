// Push service of a messaging app (leaky, heap, from the deploy at ~1 h).
//
// HTTP stand-in for a websocket push service: devices open a connection
// (POST /v1/connections) and then long-poll it every ~20 s (POST
// /v1/connections/:id/poll), acknowledging in each poll the messages they got
// in the previous one. The fan-out consumer puts messages for a connection
// into its outbox; a poll hands the outbox over and moves every message that
// needs an acknowledgement to the connection's pending list (class
// Connection, one per device, in the module-level Map `connections`) until
// the device acks it. Acks are dispatched by message type (ACK_HANDLERS).
//
// The bug: the deploy at SCENARIO_ONSET (default 3 600 s) ships read
// receipts v2: receipts now go out as type 'receipt.v2', which devices ack
// with that type, but ACK_HANDLERS was not updated and processAcks() skips
// acks of a type it has no handler for. So every connection's pending list
// keeps every receipt it was sent after the deploy. Connections are
// long-lived (~80 desktop clients, a connection lasts ~3 days on average); a
// closed connection takes its pending list with it.
import {
  buildBallast,
  every,
  listen,
  onsetMs,
  onsetSeconds,
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
const IDLE_TIMEOUT_MS = 90_000;

/** Message type names on the wire; the deploy at the onset switches receipts to v2. */
const MESSAGE_TYPES = { chat: 'chat', receipt: 'receipt', notification: 'notification', typing: 'typing' };
const EPHEMERAL = new Set(['typing']);

class Connection {
  constructor(id, device, userId, now) {
    this.id = id;
    this.device = device;
    this.userId = userId;
    this.openedAt = now;
    this.lastPollAt = now;
    this.nextSeq = 1;
    this.outbox = [];
    this.pending = [];
    this.acked = 0;
  }
}

/** connectionId → Connection */
const connections = new Map();
/** userId → connectionId (one device per user here) */
const byUser = new Map();
const totals = { published: 0, delivered: 0, acked: 0, unknownAcks: 0, opened: 0, closed: 0, reaped: 0 };
let deployed = false;

function createMessage(conn, type, body, now) {
  return { seq: conn.nextSeq++, type, payload: JSON.stringify(body), createdAt: now, sentAt: 0, attempts: 0 };
}

function publish(userId, kind, body) {
  const conn = connections.get(byUser.get(userId));
  if (conn === undefined) return false;
  conn.outbox.push(createMessage(conn, MESSAGE_TYPES[kind], body, clock()));
  totals.published++;
  return true;
}

function deliver(conn, now) {
  const batch = conn.outbox;
  conn.outbox = [];
  for (const message of batch) {
    message.sentAt = now;
    message.attempts++;
    if (!EPHEMERAL.has(message.type)) conn.pending.push(message);
  }
  totals.delivered += batch.length;
  return batch;
}

function settle(conn, seq) {
  const index = conn.pending.findIndex((message) => message.seq === seq);
  if (index === -1) return false;
  conn.pending.splice(index, 1);
  conn.acked++;
  totals.acked++;
  return true;
}

const notificationStats = { delivered: 0, latencyMsTotal: 0 };
const ACK_HANDLERS = {
  chat: settle,
  receipt: settle,
  notification(conn, seq) {
    const message = conn.pending.find((m) => m.seq === seq);
    if (message !== undefined) {
      notificationStats.delivered++;
      notificationStats.latencyMsTotal += clock() - message.createdAt;
    }
    return settle(conn, seq);
  },
};

function processAcks(conn, acks) {
  for (const ack of acks) {
    const handle = ACK_HANDLERS[ack.type];
    if (handle === undefined) {
      totals.unknownAcks++;
      continue;
    }
    handle(conn, ack.seq);
  }
}

function openConnection(device, userId) {
  const now = clock();
  const id = `c-${device}-${now.toString(36)}`;
  const previous = byUser.get(userId);
  if (previous !== undefined) connections.delete(previous);
  connections.set(id, new Connection(id, device, userId, now));
  byUser.set(userId, id);
  totals.opened++;
  return id;
}

function closeConnection(conn) {
  connections.delete(conn.id);
  if (byUser.get(conn.userId) === conn.id) byUser.delete(conn.userId);
  totals.closed++;
}

function reapIdle() {
  const cutoff = clock() - IDLE_TIMEOUT_MS;
  for (const conn of connections.values()) {
    if (conn.lastPollAt < cutoff) {
      closeConnection(conn);
      totals.reaped++;
    }
  }
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const CONNECTION_PATH = /^\/v1\/connections\/([\w-]+)(\/poll)?$/;

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/connections') {
      const { device, user } = JSON.parse((await readBody(req)).toString('utf8'));
      sendJson(res, 201, { id: openConnection(device, user), heartbeatMs: 20_000 });
      return;
    }
    const match = CONNECTION_PATH.exec(req.url);
    const conn = match === null ? undefined : connections.get(match[1]);
    if (conn === undefined) {
      sendJson(res, 404, { error: 'no such connection' });
      return;
    }
    if (req.method === 'POST' && match[2] === '/poll') {
      const { acks } = JSON.parse((await readBody(req)).toString('utf8'));
      const now = clock();
      conn.lastPollAt = now;
      processAcks(conn, acks);
      const messages = deliver(conn, now).map((m) => ({ seq: m.seq, type: m.type, payload: m.payload }));
      sendJson(res, 200, { messages });
    } else if (req.method === 'DELETE' && match[2] === undefined) {
      closeConnection(conn);
      res.writeHead(204);
      res.end();
    } else {
      sendJson(res, 405, { error: 'method not allowed' });
    }
  } catch (error) {
    sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- The deploy ---------------------------------------------------------------

function applyDeploy() {
  deployed = true;
  MESSAGE_TYPES.receipt = 'receipt.v2'; // read receipts v2 (batched message ids, device list)
}

// --- Devices and the fan-out consumer ------------------------------------------

const random = rng(8080);
const DEVICES = 80;
const POLL_EVERY_S = 20;
const CONNECTION_MEAN_S = 3 * 24 * 3600;
const MESSAGES_PER_S = 6;
const CLIENT_TIMEOUT_S = 60;

const exponential = (mean) => -Math.log(1 - random()) * mean;
const poisson = (mean) => {
  let k = 0;
  for (let p = Math.exp(-mean), s = p, u = random(); u > s; k++) {
    p *= mean / (k + 1);
    s += p;
  }
  return k;
};

const devices = [];
for (let i = 0; i < DEVICES; i++) {
  devices.push({
    device: `dev${(7000 + i * 13).toString(36)}`,
    user: `user-${1000 + i}`,
    connectionId: null,
    connecting: false,
    nextPollAt: 0,
    polling: false,
    sentAt: 0,
    closeAt: exponential(CONNECTION_MEAN_S),
    acks: [],
  });
}

const outbox = [];

function onResponse(status, text, request) {
  const device = request.device;
  if (request.kind === 'open') {
    device.connecting = false;
    if (status === 201) device.connectionId = JSON.parse(text).id;
  } else if (request.kind === 'poll') {
    device.polling = false;
    if (status === 404) {
      device.connectionId = null; // reaped: reconnect
      return;
    }
    if (status !== 200) return;
    for (const message of JSON.parse(text).messages) {
      if (message.type !== 'typing') device.acks.push({ seq: message.seq, type: message.type });
    }
  }
}

const CONVERSATIONS = 400;
function messageFor(kind, to) {
  const conversationId = `conv_${Math.floor(random() * CONVERSATIONS).toString(36)}`;
  const from = `user-${1000 + Math.floor(random() * DEVICES)}`;
  switch (kind) {
    case 'chat':
      return { conversationId, from, messageId: `m_${Math.floor(random() * 1e12).toString(36)}`, preview: 'Are we still on for the review at 3? I pushed the changes to the branch', sentAt: clock() };
    case 'receipt': {
      const messageIds = [];
      for (let n = 1 + Math.floor(random() * 4); n > 0; n--) messageIds.push(`m_${Math.floor(random() * 1e12).toString(36)}`);
      return { conversationId, readBy: from, devices: [`${from}/ios`, `${from}/web`], messageIds, readAt: new Date(clock()).toISOString() };
    }
    case 'notification':
      return { category: 'mention', title: `${from} mentioned you`, body: `in #${conversationId}: can you take a look at this?`, deepLink: `app://conversations/${conversationId}`, to };
    default:
      return { conversationId, from, typing: true };
  }
}

function pickKind() {
  const r = random();
  return r < 0.4 ? 'chat' : r < 0.7 ? 'receipt' : r < 0.9 ? 'notification' : 'typing';
}

/** One second of production time: the fan-out consumer publishes, devices poll, connect and disconnect. */
function tick() {
  const t = programSeconds();
  for (let n = poisson(MESSAGES_PER_S); n > 0; n--) {
    const to = devices[Math.floor(random() * DEVICES)].user;
    const kind = pickKind();
    publish(to, kind, messageFor(kind, to));
  }
  for (const device of devices) {
    if ((device.connecting || device.polling) && t - device.sentAt > CLIENT_TIMEOUT_S) {
      device.connecting = false; // no answer (e.g. a reset socket): give up on that request
      device.polling = false;
    }
    if (device.connecting || device.polling) continue;
    if (device.connectionId === null) {
      device.connecting = true;
      device.sentAt = t;
      device.acks = [];
      outbox.push({ kind: 'open', device, method: 'POST', path: '/v1/connections', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ device: device.device, user: device.user, client: 'desktop/5.12.0 (electron 28)' }) });
      device.nextPollAt = t + 1;
    } else if (t >= device.closeAt) {
      outbox.push({ kind: 'close', device, method: 'DELETE', path: `/v1/connections/${device.connectionId}` });
      device.connectionId = null;
      device.closeAt = t + 5 + exponential(CONNECTION_MEAN_S);
    } else if (t >= device.nextPollAt) {
      device.polling = true;
      device.sentAt = t;
      device.nextPollAt = t + POLL_EVERY_S * (0.9 + random() * 0.2);
      const acks = device.acks;
      device.acks = [];
      outbox.push({ kind: 'poll', device, method: 'POST', path: `/v1/connections/${device.connectionId}/poll`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ acks }) });
    }
  }
}

const ballastMb = buildBallast();
const onset = onsetSeconds(3600);
const { port } = await listen(handler);
setTimeout(applyDeploy, onsetMs(3600));
every(scaledMs(1), tick);
every(scaledMs(30), reapIdle);
const traffic = selfRequests(port, { perSecond: 12, next: () => outbox.shift() ?? null, onResponse });

reportStats(() => {
  let pending = 0;
  let oldest = 0;
  const now = clock();
  for (const conn of connections.values()) {
    pending += conn.pending.length;
    if (conn.pending.length > 0) oldest = Math.max(oldest, now - conn.pending[0].sentAt);
  }
  return {
    retained: pending,
    connections: connections.size,
    deployed,
    oldestPendingS: Math.round(oldest / 1000),
    published: totals.published,
    acked: totals.acked,
    unknownAcks: totals.unknownAcks,
    closed: totals.closed,
    reaped: totals.reaped,
    requests: traffic.completed,
    queued: outbox.length,
  };
});
ready(`push-ack-pending-leak: per-connection pending-ack lists, 80 long-lived connections, receipts v2 acks dropped from ${onset} s; ballast ${ballastMb} MB`);
