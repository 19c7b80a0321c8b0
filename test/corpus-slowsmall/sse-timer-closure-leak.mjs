// sse-timer-closure-leak: the events endpoint of an ops dashboard (an HTTP
// stand-in for SSE: connect, read the stream by polling, disconnect). Every
// connected client has its own rendered frames (`id:` carries the client's own
// sequence) in `client.buffer`, the last 20, for Last-Event-ID replay.
//
// At SCENARIO_ONSET (default 1 h) the "reconnect backoff" feature ships: when a
// client disconnects, scheduleReconnect() parks a retry record holding the
// client's last buffer in the module-level `pendingRetries` registry and arms a
// backoff timer (5 s, 10 s, 20 s, 40 s, 80 s) so a client that comes back with
// Last-Event-ID can be replayed. A client that does come back is resumed and
// its record removed. But when the backoff runs out, expireRetry() deletes
// `pendingRetries.delete(record.id)` -- records are keyed by clientId and have
// no `id` -- so every client that never comes back leaves its record (and its
// buffer) in the registry for good.
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
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const ONSET_S = onsetSeconds(3600);
const TABS_ONLINE = 25;
const POLL_EVERY_S = 8;
const MEAN_SESSION_S = 300;
const PUBLISH_EVERY_S = 1.5;
const BUFFER_FRAMES = 20;
const IDLE_REAP_S = 60;
const BACKOFF_S = [5, 10, 20, 40, 80];
const TOPICS = ['orders', 'inventory', 'alerts', 'deploys', 'payments', 'support'];

// --- Server state ---------------------------------------------------------------

/** clientId -> Client (connected clients). */
const clients = new Map();
/** clientId -> retry record, parked at disconnect while the client may come back. */
const pendingRetries = new Map();
const features = { reconnectBackoff: false };
const counters = { connects: 0, resumes: 0, disconnects: 0, reaped: 0, published: 0, framesRendered: 0, retriesExpired: 0 };
let eventSeq = 0;

class Client {
  constructor(id, userId, topics, lastEventId) {
    this.id = id;
    this.userId = userId;
    this.topics = new Set(topics);
    this.seq = 0;
    this.cursor = 0;
    this.buffer = [];
    this.lastEventId = lastEventId;
    this.connectedAt = Date.now();
    this.lastSeenAt = Date.now();
  }
}

function renderEvent(client, event) {
  client.seq++;
  const data = JSON.stringify({ ...event.payload, user: client.userId, topic: event.topic, at: event.at });
  return `id: ${client.id}:${client.seq}\nevent: ${event.type}\ndata: ${data}\nretry: 5000\n\n`;
}

function deliver(client, event) {
  client.buffer.push(renderEvent(client, event));
  counters.framesRendered++;
  if (client.buffer.length > BUFFER_FRAMES) {
    client.buffer.shift();
    if (client.cursor > 0) client.cursor--;
  }
}

function publish(event) {
  counters.published++;
  for (const client of clients.values()) {
    if (client.topics.has(event.topic)) deliver(client, event);
  }
}

function scheduleReconnect(client) {
  const record = {
    clientId: client.id,
    userId: client.userId,
    lastEventId: `${client.id}:${client.seq}`,
    attempts: 0,
    buffer: client.buffer,
    timer: null,
    createdAt: Date.now(),
    state: 'waiting',
  };
  record.timer = setTimeout(() => expireRetry(record), scaledMs(BACKOFF_S[0]));
  pendingRetries.set(client.id, record);
}

function expireRetry(record) {
  record.attempts++;
  if (record.attempts < BACKOFF_S.length) {
    record.timer = setTimeout(() => expireRetry(record), scaledMs(BACKOFF_S[record.attempts]));
    return;
  }
  record.state = 'expired';
  counters.retriesExpired++;
  pendingRetries.delete(record.id);
}

function resume(record, client) {
  clearTimeout(record.timer);
  pendingRetries.delete(record.clientId);
  const [, seqText] = String(client.lastEventId).split(':');
  const after = Number(seqText) || 0;
  const missed = record.buffer.filter((frame) => Number(frame.slice(frame.indexOf(':', 4) + 1, frame.indexOf('\n'))) > after);
  client.buffer = missed;
  client.seq = after + missed.length;
  counters.resumes++;
}

function closeClient(client) {
  clients.delete(client.id);
  if (features.reconnectBackoff) scheduleReconnect(client);
}

// --- HTTP ---------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url, 'http://events.internal');
  const parts = url.pathname.split('/').filter(Boolean); // v1 stream [id]
  if (parts[0] !== 'v1' || parts[1] !== 'stream') return sendJson(res, 404, { error: 'no route' });
  if (req.method === 'POST' && parts.length === 2) {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    const client = new Client(body.clientId, body.userId, body.topics, req.headers['last-event-id'] ?? null);
    const parked = pendingRetries.get(client.id);
    if (parked !== undefined && client.lastEventId !== null) resume(parked, client);
    clients.set(client.id, client);
    counters.connects++;
    return sendJson(res, 201, { clientId: client.id, retry: 5000 });
  }
  const client = clients.get(parts[2]);
  if (client === undefined) return sendJson(res, 404, { error: 'unknown client' });
  if (req.method === 'GET') {
    client.lastSeenAt = Date.now();
    const frames = client.buffer.slice(client.cursor);
    client.cursor = client.buffer.length;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    return res.end(frames.join(''));
  }
  if (req.method === 'DELETE') {
    counters.disconnects++;
    closeClient(client);
    res.writeHead(204);
    return res.end();
  }
  sendJson(res, 405, { error: 'method not allowed' });
}

function reapIdle() {
  const cutoff = Date.now() - scaledMs(IDLE_REAP_S);
  for (const client of clients.values()) {
    if (client.lastSeenAt < cutoff) {
      counters.reaped++;
      closeClient(client);
    }
  }
}

// --- Producers ------------------------------------------------------------------------

const producerRandom = rng(0x55e);
const EVENT_TYPES = { orders: 'order.updated', inventory: 'stock.changed', alerts: 'alert.fired', deploys: 'deploy.finished', payments: 'payment.settled', support: 'ticket.assigned' };

function produceEvent() {
  const topic = TOPICS[Math.floor(producerRandom() ** 1.5 * TOPICS.length)];
  eventSeq++;
  publish({
    topic,
    type: EVENT_TYPES[topic],
    at: new Date().toISOString(),
    payload: {
      eventId: eventSeq,
      ref: `${topic.slice(0, 3).toUpperCase()}-${100000 + Math.floor(producerRandom() * 900000)}`,
      status: ['ok', 'pending', 'failed', 'retrying'][Math.floor(producerRandom() * 4)],
      summary: `${topic} update ${eventSeq} from region eu-${1 + Math.floor(producerRandom() * 3)}`,
    },
  });
}

// --- Browser tabs (simulated clients) ---------------------------------------------------

const tabRandom = rng(0x7ab);
const outbox = [];
let tabSeq = 0;

function openTab(previous) {
  const tab = previous ?? {
    clientId: `c${(++tabSeq).toString(36)}-${Math.floor(tabRandom() * 1e9).toString(36)}`,
    userId: `u${1 + Math.floor(tabRandom() * 900)}`,
    topics: TOPICS.filter(() => tabRandom() < 0.4),
    lastEventId: null,
  };
  if (tab.topics.length === 0) tab.topics.push(TOPICS[0]);
  const headers = { 'content-type': 'application/json' };
  if (tab.lastEventId !== null) headers['last-event-id'] = tab.lastEventId;
  outbox.push({ method: 'POST', path: '/v1/stream', headers, body: JSON.stringify({ clientId: tab.clientId, userId: tab.userId, topics: tab.topics }) });
  const sessionS = Math.max(30, -Math.log(1 - tabRandom()) * MEAN_SESSION_S);
  tab.endsAt = programSeconds() + sessionS;
  tab.timer = setTimeout(() => pollTab(tab), scaledMs(POLL_EVERY_S * (0.5 + tabRandom())));
}

function pollTab(tab) {
  if (programSeconds() >= tab.endsAt) return closeTab(tab);
  outbox.push({ method: 'GET', path: `/v1/stream/${tab.clientId}` });
  tab.timer = setTimeout(() => pollTab(tab), scaledMs(POLL_EVERY_S * (0.75 + 0.5 * tabRandom())));
}

function closeTab(tab) {
  // Most tabs say goodbye; a laptop lid or a dead network does not (the reaper gets those).
  if (tabRandom() < 0.85) outbox.push({ method: 'DELETE', path: `/v1/stream/${tab.clientId}` });
  tab.lastEventId = `${tab.clientId}:0`;
  if (tabRandom() < 0.2) setTimeout(() => openTab(tab), scaledMs(2 + tabRandom() * 20)); // a flaky network: back soon
  else setTimeout(() => openTab(null), scaledMs(5 + tabRandom() * 20));
}

// --- Start ----------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

setInterval(produceEvent, scaledMs(PUBLISH_EVERY_S));
setInterval(reapIdle, scaledMs(15));
setTimeout(() => {
  features.reconnectBackoff = true;
}, onsetMs(3600));

for (let i = 0; i < TABS_ONLINE; i++) setTimeout(() => openTab(null), scaledMs(tabRandom() * 60));

const http = selfRequests(port, { perSecond: 20, next: () => outbox.shift() ?? null });

reportStats(() => {
  let parkedFrames = 0;
  for (const record of pendingRetries.values()) parkedFrames += record.buffer.length;
  return {
    retained: pendingRetries.size,
    pendingRetries: pendingRetries.size,
    parkedFrames,
    clients: clients.size,
    backoff: features.reconnectBackoff,
    ...counters,
    requests: http.completed,
    failed: http.failed,
    queued: outbox.length,
  };
});

ready(`sse-timer-closure-leak: events endpoint, ~${TABS_ONLINE} tabs polling every ${POLL_EVERY_S} s; from ${ONSET_S} s the reconnect-backoff registry pendingRetries keeps every departed client's buffer; ballast ${ballastMb} MB`);
