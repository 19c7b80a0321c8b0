// Market-data fan-out broker (leak, JS heap, from the reconnect storm on).
//
// An upstream feed publishes price ticks on 60 topics to the module-level
// EventEmitter `bus` (one event per topic). Each client session subscribes to
// its topics with subscribe(), which adds one listener per topic: a closure
// over the session that queues the tick into the session's inbox (the last
// 50 ticks; clients poll them over HTTP). Clean disconnects (DELETE) call
// session.close(), which removes the listeners. The resume path, used when a
// client reconnects after a dropped connection (POST /v1/sessions/resume),
// builds a new subscription, hands over the unacknowledged ticks and forgets
// the old session, but never removes the old session's listeners: the bus
// keeps the closures, and through them the old sessions, for good.
// Before SCENARIO_ONSET (default 2 700 s) clients only disconnect cleanly;
// then a load-balancer change starts cutting idle connections: a reconnect
// storm (most clients resume within two minutes), and from then on every
// client resumes every few minutes.
import { EventEmitter } from 'node:events';
import {
  buildBallast,
  every,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const ONSET_SECONDS = onsetSeconds(2700);
const CLIENTS = 120;
const TOPIC_COUNT = 60;
const TICKS_PER_SECOND = 4;
const INBOX_LIMIT = 50;
const POLL_EVERY_SECONDS = 30;
const CLEAN_RECONNECT_EVERY_SECONDS = 2 * 3600; // per client, before and after the onset
const FLAP_EVERY_SECONDS = 6 * 60; // per client, after the onset
const STORM_SHARE = 0.7;
const STORM_SECONDS = 120;

const random = rng(0xb40c3);

// --- Broker ------------------------------------------------------------------------

const bus = new EventEmitter();
bus.setMaxListeners(0); // one listener per subscribed client and topic; the warning was noise

const SYMBOLS = [];
for (let i = 0; i < TOPIC_COUNT; i++) SYMBOLS.push(`${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + ((i * 7) % 26))}${String.fromCharCode(65 + ((i * 11) % 26))}.${['XNAS', 'XNYS', 'XLON', 'XETR'][i % 4]}`);

class Session {
  constructor(id, clientId, topics, meta, now) {
    this.id = id;
    this.clientId = clientId;
    this.topics = new Set(topics);
    this.inbox = [];
    this.lastSeq = 0;
    this.acked = 0;
    this.dropped = 0;
    this.connectedAt = now;
    this.lastPollAt = now;
    this.remoteAddress = meta.remoteAddress;
    this.userAgent = meta.userAgent;
    this.claims = { sub: meta.account, scopes: ['marketdata:read', `tier:${meta.tier}`], exp: Math.floor(now) + 3600 * 8 };
    this.listeners = [];
  }

  enqueue(tick) {
    this.inbox.push(tick);
    this.lastSeq = tick.seq;
    if (this.inbox.length > INBOX_LIMIT) {
      this.inbox.shift();
      this.dropped++;
    }
  }

  drain(ackSeq) {
    this.acked = ackSeq;
    let i = 0;
    while (i < this.inbox.length && this.inbox[i].seq <= ackSeq) i++;
    if (i > 0) this.inbox.splice(0, i);
    return this.inbox.slice();
  }

  close() {
    for (const [event, listener] of this.listeners) bus.removeListener(event, listener);
    this.listeners.length = 0;
  }
}

const sessions = new Map(); // sessionId -> Session
const sessionsByClient = new Map(); // clientId -> Session
let nextSessionId = 1;
let tickSeq = 0;
const brokerCounters = { subscribes: 0, resumes: 0, closes: 0, ticks: 0, deliveries: 0 };

function topicEvent(topic) {
  return `tick:${topic}`;
}

function subscribe(clientId, topics, meta, now) {
  const session = new Session(`s${(nextSessionId++).toString(36)}-${clientId}`, clientId, topics, meta, now);
  for (const topic of topics) {
    const event = topicEvent(topic);
    const onTick = (tick) => {
      session.enqueue(tick);
      brokerCounters.deliveries++;
    };
    bus.on(event, onTick);
    session.listeners.push([event, onTick]);
  }
  sessions.set(session.id, session);
  sessionsByClient.set(clientId, session);
  brokerCounters.subscribes++;
  return session;
}

function resume(clientId, lastSeq, meta, now) {
  const previous = sessionsByClient.get(clientId);
  const topics = previous !== undefined ? [...previous.topics] : meta.topics;
  const session = subscribe(clientId, topics, meta, now);
  if (previous !== undefined) {
    // hand over what the client has not seen yet
    for (const tick of previous.inbox) if (tick.seq > lastSeq) session.inbox.push(tick);
    sessions.delete(previous.id);
  }
  brokerCounters.resumes++;
  return session;
}

function closeSession(session) {
  session.close();
  sessions.delete(session.id);
  if (sessionsByClient.get(session.clientId) === session) sessionsByClient.delete(session.clientId);
  brokerCounters.closes++;
}

// --- Upstream feed -------------------------------------------------------------------

const lastPrice = SYMBOLS.map((_, i) => 20 + ((i * 37) % 300));

function publishTick(now) {
  const topic = Math.floor(Math.exp(random() * Math.log(TOPIC_COUNT + 1))) - 1;
  const mid = (lastPrice[topic] *= 1 + (random() - 0.5) * 0.002);
  const tick = {
    seq: ++tickSeq,
    topic,
    symbol: SYMBOLS[topic],
    bid: Math.round((mid - 0.01) * 100) / 100,
    ask: Math.round((mid + 0.01) * 100) / 100,
    size: 100 * (1 + Math.floor(random() * 20)),
    ts: Math.round(1_767_225_600_000 + now * 1000),
  };
  brokerCounters.ticks++;
  bus.emit(topicEvent(topic), tick);
}

// --- HTTP ----------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://broker.internal');
  const now = programSeconds();
  if (req.method === 'POST' && (url.pathname === '/v1/sessions' || url.pathname === '/v1/sessions/resume')) {
    const body = JSON.parse((await readBody(req)).toString('utf8'));
    const meta = { remoteAddress: req.socket.remoteAddress, userAgent: req.headers['user-agent'] ?? '', account: body.account, tier: body.tier, topics: body.topics };
    let session;
    if (url.pathname === '/v1/sessions') {
      const previous = sessionsByClient.get(body.clientId);
      if (previous !== undefined) closeSession(previous);
      session = subscribe(body.clientId, body.topics, meta, now);
    } else {
      session = resume(body.clientId, body.lastSeq, meta, now);
    }
    return sendJson(res, 201, { sessionId: session.id, topics: [...session.topics], lastSeq: tickSeq });
  }
  if (url.pathname.startsWith('/v1/sessions/')) {
    const session = sessions.get(url.pathname.slice('/v1/sessions/'.length).split('/')[0]);
    if (session === undefined) return sendJson(res, 404, { error: 'unknown session' });
    if (req.method === 'DELETE') {
      closeSession(session);
      return sendJson(res, 200, { closed: session.id });
    }
    session.lastPollAt = now;
    const ticks = session.drain(Number(url.searchParams.get('ack') ?? 0));
    return sendJson(res, 200, { ticks });
  }
  if (url.pathname === '/internal/broker') {
    return sendJson(res, 200, { sessions: sessions.size, listeners: listenerCount(), ...brokerCounters });
  }
  sendJson(res, 404, { error: 'no route' });
}

const { port } = await listen((req, res) => {
  handle(req, res).catch((e) => sendJson(res, 400, { error: String(e.message) }));
});

function listenerCount() {
  let n = 0;
  for (const name of bus.eventNames()) n += bus.listenerCount(name);
  return n;
}

// --- Clients (in-process) --------------------------------------------------------------

const outbox = [];
const clients = [];
const TIERS = ['basic', 'pro', 'pro', 'institutional'];

function expSample(mean) {
  return -Math.log(1 - random()) * mean;
}

for (let i = 0; i < CLIENTS; i++) {
  const topics = new Set();
  const topicCount = 2 + Math.floor(random() * 3);
  while (topics.size < topicCount) topics.add(Math.floor(Math.exp(random() * Math.log(TOPIC_COUNT + 1))) - 1);
  clients.push({
    clientId: `terminal-${(4096 + i * 37).toString(16)}`,
    account: `acct-${1000 + (i % 45)}`,
    tier: TIERS[i % TIERS.length],
    topics: [...topics],
    sessionId: null,
    busy: true,
    busySince: 0,
    lastSeq: 0,
    nextPollAt: expSample(POLL_EVERY_SECONDS),
    nextCleanReconnectAt: expSample(CLEAN_RECONNECT_EVERY_SECONDS),
    nextFlapAt: Infinity,
    inStorm: false,
  });
}

// the terminal gives up on a request after a minute (never sooner than 5 s of wall time)
const REQUEST_TIMEOUT_SECONDS = Math.max(60, 5 * speed);

function openRequest(client) {
  client.busy = true;
  client.busySince = programSeconds();
  return {
    method: 'POST',
    path: '/v1/sessions',
    headers: { 'content-type': 'application/json', 'user-agent': 'terminal/5.2.1' },
    body: JSON.stringify({ clientId: client.clientId, account: client.account, tier: client.tier, topics: client.topics }),
    client,
  };
}

function resumeRequest(client) {
  client.busy = true;
  client.busySince = programSeconds();
  return {
    method: 'POST',
    path: '/v1/sessions/resume',
    headers: { 'content-type': 'application/json', 'user-agent': 'terminal/5.2.1' },
    body: JSON.stringify({ clientId: client.clientId, account: client.account, tier: client.tier, topics: client.topics, lastSeq: client.lastSeq }),
    client,
  };
}

for (const client of clients) outbox.push(openRequest(client));

let stormStarted = false;

function stepClients(now) {
  if (!stormStarted && now >= ONSET_SECONDS) {
    stormStarted = true;
    for (const client of clients) {
      client.nextFlapAt = random() < STORM_SHARE ? now + random() * STORM_SECONDS : now + expSample(FLAP_EVERY_SECONDS);
    }
  }
  for (const client of clients) {
    if (client.busy) {
      if (now - client.busySince > REQUEST_TIMEOUT_SECONDS) outbox.push(openRequest(client));
      continue;
    }
    if (now >= client.nextFlapAt) {
      // the connection was cut: reconnect and resume where we were
      client.nextFlapAt = now + expSample(FLAP_EVERY_SECONDS);
      outbox.push(resumeRequest(client));
    } else if (now >= client.nextCleanReconnectAt) {
      // app restart: clean close, then a fresh session
      client.nextCleanReconnectAt = now + expSample(CLEAN_RECONNECT_EVERY_SECONDS);
      client.busy = true;
      client.busySince = now;
      outbox.push({ method: 'DELETE', path: `/v1/sessions/${client.sessionId}`, client, reopen: true });
    } else if (now >= client.nextPollAt) {
      client.nextPollAt = now + POLL_EVERY_SECONDS * (0.8 + 0.4 * random());
      client.busy = true;
      client.busySince = now;
      outbox.push({ method: 'GET', path: `/v1/sessions/${client.sessionId}/ticks?ack=${client.lastSeq}`, client });
    }
  }
}

function onResponse(status, text, request) {
  const client = request.client;
  if (client === undefined) return;
  client.busy = false;
  if (request.method === 'POST') {
    if (status === 201) {
      const body = JSON.parse(text);
      client.sessionId = body.sessionId;
    } else outbox.push(openRequest(client));
    return;
  }
  if (request.method === 'DELETE') {
    outbox.push(openRequest(client));
    return;
  }
  if (status === 404) {
    outbox.push(openRequest(client));
    return;
  }
  const { ticks } = JSON.parse(text);
  if (ticks.length > 0) client.lastSeq = ticks[ticks.length - 1].seq;
}

const ballastMb = buildBallast();

const http = selfRequests(port, { perSecond: 40, next: () => outbox.shift() ?? null, maxInFlight: 32, onResponse });

let ticksDue = 0;
let lastStep = programSeconds();
every(Math.max(10, 1000 / speed), () => {
  const now = programSeconds();
  ticksDue += (now - lastStep) * TICKS_PER_SECOND;
  lastStep = now;
  while (ticksDue >= 1) {
    ticksDue -= expSample(1);
    publishTick(now);
  }
  stepClients(now);
});

reportStats(() => ({
  retained: listenerCount(),
  sessions: sessions.size,
  stormStarted,
  ...brokerCounters,
  requests: http.completed,
  failed: http.failed,
}));

ready(
  `broker-listener-leak: market-data broker on 127.0.0.1:${port}, ${CLIENTS} clients on ${TOPIC_COUNT} topics, ${TICKS_PER_SECOND} ticks/s, reconnect storm from ${ONSET_SECONDS} s, speed ${speed}` +
    (ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''),
);
