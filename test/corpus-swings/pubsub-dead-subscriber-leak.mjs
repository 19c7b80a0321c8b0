// Pub/sub hub of a live-sports app: the web and mobile clients subscribe to
// topics (a match's score, a market's odds, a team's news) over a
// server-sent-events stream, and change their subscriptions all the time as
// users move between screens. Publishers (the odds and scores services) post
// batches of events; the hub fans each event out to the topic's subscribers.
//
// A client whose stream drops is kept, with its subscriptions, so it can
// resume: while it is away, each subscription keeps the deliveries of the
// last five minutes (at most 100). A client that quits says goodbye
// (DELETE /v1/clients/:id) and is removed with all its subscriptions.
// Clients up to SDK 4.9 send the goodbye even when their connection dies
// (from the page-unload beacon / the app's termination hook). SDK 5.0,
// released at the onset, sends it over the stream's own close, which never
// arrives when the connection dies: a killed app's or a frozen tab's client
// and subscriptions are never removed, and their backlogs keep taking
// deliveries.
import http from 'node:http';
import {
  buildBallast,
  every,
  listen,
  onShutdown,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const RESUME_WINDOW_SECONDS = 300;
const MAX_BACKLOG = 100;
const HEARTBEAT_SECONDS = 25;
const SDK5_RELEASE_AT = onsetSeconds(7200);

// --- Hub state ------------------------------------------------------------------

class Client {
  constructor(id, { userId, platform, sdkVersion }) {
    this.id = id;
    this.userId = userId;
    this.platform = platform;
    this.sdkVersion = sdkVersion;
    this.connectedAt = programSeconds();
    this.lastSeenAt = this.connectedAt;
    this.stream = null;
    this.disconnectedAt = null;
    this.subscriptions = new Set();
    this.resumes = 0;
  }
}

class Subscription {
  constructor(id, client, topic, filter) {
    this.id = id;
    this.clientId = client.id;
    this.topic = topic;
    this.filter = filter;
    this.createdAt = programSeconds();
    this.seq = 0;
    this.delivered = 0;
    this.lastDeliveryAt = 0;
    this.backlog = [];
  }
}

export const clients = new Map(); // client id -> Client
export const subscriptions = new Map(); // subscription id -> Subscription
const topicSubscribers = new Map(); // topic -> Set of Subscription
let clientSeq = 0;
let subscriptionSeq = 0;
let published = 0;
let deliveries = 0;
let backlogged = 0;
let resumes = 0;
let goodbyes = 0;
let streamsClosed = 0;

function compileFilter(filter) {
  if (filter == null || !Array.isArray(filter.types) || filter.types.length === 0) return null;
  return { types: new Set(filter.types) };
}

function matches(filter, event) {
  return filter === null || filter.types.has(event.type);
}

function subscribe(client, topic, filter) {
  const sub = new Subscription(`s${(++subscriptionSeq).toString(36)}`, client, topic, compileFilter(filter));
  subscriptions.set(sub.id, sub);
  client.subscriptions.add(sub);
  let set = topicSubscribers.get(topic);
  if (set === undefined) {
    set = new Set();
    topicSubscribers.set(topic, set);
  }
  set.add(sub);
  return sub;
}

function unsubscribe(sub) {
  subscriptions.delete(sub.id);
  clients.get(sub.clientId)?.subscriptions.delete(sub);
  const set = topicSubscribers.get(sub.topic);
  if (set !== undefined) {
    set.delete(sub);
    if (set.size === 0) topicSubscribers.delete(sub.topic);
  }
}

function dropClient(client) {
  for (const sub of [...client.subscriptions]) unsubscribe(sub);
  const stream = client.stream;
  client.stream = null;
  stream?.end();
  clients.delete(client.id);
}

/** One subscriber's copy of an event: its own sequence number and SSE frame. */
function toDelivery(sub, message) {
  const seq = ++sub.seq;
  const data = JSON.stringify({ sub: sub.id, seq, topic: message.topic, publishedAt: message.publishedAt, event: message.event });
  return { seq, topic: message.topic, frame: `id: ${sub.id}.${seq}\nevent: ${message.event.type}\ndata: ${data}\n\n`, queuedAt: programSeconds() };
}

function trimBacklog(sub, now) {
  const backlog = sub.backlog;
  let drop = 0;
  while (drop < backlog.length && (backlog.length - drop > MAX_BACKLOG || now - backlog[drop].queuedAt > RESUME_WINDOW_SECONDS)) drop++;
  if (drop > 0) backlog.splice(0, drop);
}

function publish(topic, event) {
  const message = { topic, event, publishedAt: programSeconds() };
  published++;
  const set = topicSubscribers.get(topic);
  if (set === undefined) return 0;
  let fannedOut = 0;
  for (const sub of set) {
    if (!matches(sub.filter, event)) continue;
    const delivery = toDelivery(sub, message);
    const client = clients.get(sub.clientId);
    fannedOut++;
    if (client?.stream != null) {
      client.stream.write(delivery.frame);
      sub.delivered++;
      sub.lastDeliveryAt = message.publishedAt;
      deliveries++;
    } else {
      sub.backlog.push(delivery);
      trimBacklog(sub, message.publishedAt);
      backlogged++;
    }
  }
  return fannedOut;
}

function attachStream(client, res, resume) {
  if (client.stream !== null) client.stream.end();
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(`retry: 3000\nevent: hello\ndata: {"client":"${client.id}"}\n\n`);
  client.stream = res;
  client.disconnectedAt = null;
  client.lastSeenAt = programSeconds();
  if (resume) {
    client.resumes++;
    resumes++;
    for (const sub of client.subscriptions) {
      for (const delivery of sub.backlog) res.write(delivery.frame);
      sub.delivered += sub.backlog.length;
      sub.backlog = [];
    }
  }
  res.on('close', () => {
    if (client.stream === res && !res.writableFinished) detachStream(client);
  });
}

/** The stream is gone but the client may come back: keep it and its subscriptions. */
function detachStream(client) {
  client.stream = null;
  client.disconnectedAt = programSeconds();
  streamsClosed++;
}

every(scaledMs(HEARTBEAT_SECONDS), () => {
  for (const client of clients.values()) if (client.stream !== null) client.stream.write(': hb\n\n');
});

// --- HTTP ----------------------------------------------------------------------------

const CLIENT_PATH = /^\/v1\/clients\/(c[0-9a-z]+)(\/stream|\/subscriptions)?(\?resume=1)?$/;
const SUBSCRIPTION_PATH = /^\/v1\/subscriptions\/(s[0-9a-z]+)$/;

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  return JSON.parse((await readBody(req)).toString('utf8'));
}

async function handle(req, res) {
  const url = req.url ?? '/';
  if (req.method === 'POST' && url === '/v1/publish') {
    const { events } = await readJson(req);
    let fannedOut = 0;
    for (const { topic, event } of events) fannedOut += publish(topic, event);
    sendJson(res, 202, { published: events.length, fannedOut });
    return;
  }
  if (req.method === 'POST' && url === '/v1/clients') {
    const client = new Client(`c${(++clientSeq).toString(36)}`, await readJson(req));
    clients.set(client.id, client);
    sendJson(res, 201, { clientId: client.id, resumeWindowSeconds: RESUME_WINDOW_SECONDS });
    return;
  }
  let match;
  if ((match = CLIENT_PATH.exec(url)) !== null) {
    const client = clients.get(match[1]);
    if (client === undefined) {
      await readBody(req);
      sendJson(res, 404, { error: 'unknown client' });
      return;
    }
    client.lastSeenAt = programSeconds();
    if (req.method === 'GET' && match[2] === '/stream') {
      attachStream(client, res, match[3] !== undefined);
      return;
    }
    if (req.method === 'POST' && match[2] === '/subscriptions') {
      const { topic, filter } = await readJson(req);
      const sub = subscribe(client, topic, filter);
      sendJson(res, 201, { subscriptionId: sub.id, topic });
      return;
    }
    if (req.method === 'DELETE' && match[2] === undefined) {
      goodbyes++;
      dropClient(client);
      sendJson(res, 200, { bye: client.id });
      return;
    }
  }
  if (req.method === 'DELETE' && (match = SUBSCRIPTION_PATH.exec(url)) !== null) {
    const sub = subscriptions.get(match[1]);
    if (sub !== undefined) unsubscribe(sub);
    sendJson(res, sub === undefined ? 404 : 200, { unsubscribed: match[1] });
    return;
  }
  if (req.method === 'GET' && url === '/healthz') {
    sendJson(res, 200, { ok: true, clients: clients.size });
    return;
  }
  await readBody(req);
  sendJson(res, 404, { error: 'not found' });
}

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) sendJson(res, 400, { error: err.message });
    else res.destroy();
  });
});

// --- Load: the apps and the publishers -----------------------------------------------

const TOPIC_COUNT = 400;
const SESSIONS_PER_HOUR = 240;
const PUBLISHED_PER_SECOND = 7;
const SDK5_SHARE = 0.45;
// Sessions that end with the connection dying rather than a sign-off: the OS
// kills most backgrounded mobile apps; browser tabs get frozen or closed.
const DIES_SHARE = { web: 0.12, ios: 0.35, android: 0.35 };
const BLIP_SHARE = 0.04;

const topics = Array.from({ length: TOPIC_COUNT }, (_, i) => {
  const kind = i % 4 === 0 ? 'team' : i % 4 === 1 ? 'market' : 'match';
  return `${kind}:${10_000 + i * 7}`;
});
const topicCdf = new Float64Array(TOPIC_COUNT);
{
  let sum = 0;
  for (let i = 0; i < TOPIC_COUNT; i++) topicCdf[i] = sum += 1 / (i + 1);
  for (let i = 0; i < TOPIC_COUNT; i++) topicCdf[i] /= sum;
}
function pickTopic(u) {
  let lo = 0;
  let hi = TOPIC_COUNT - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (topicCdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return topics[lo];
}

function exponential(random, mean) {
  return -Math.log(1 - random()) * mean;
}
function gaussian(random) {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const outgoing = [];
function send(request) {
  outgoing.push(request);
}

const client = selfRequests(port, {
  perSecond: 30,
  maxInFlight: 48,
  next: () => outgoing.shift() ?? null,
  onResponse: (status, text, request) => request.onDone?.(status, text),
});

let sessionsStarted = 0;
let sessionsDied = 0;
let sdk5Sessions = 0;
const openStreams = new Set();

function later(seconds, fn) {
  const timer = setTimeout(fn, scaledMs(seconds));
  return timer;
}

/** One user's app session, played from its pre-drawn plan. */
class AppSession {
  constructor(plan) {
    this.plan = plan;
    this.clientId = null;
    this.streamReq = null;
    this.subs = []; // subscription ids
    this.ended = false;
    this.timer = null;
  }

  start() {
    send({
      method: 'POST',
      path: '/v1/clients',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: this.plan.userId, platform: this.plan.platform, sdkVersion: this.plan.sdkVersion }),
      onDone: (status, text) => {
        if (status !== 201) return;
        this.clientId = JSON.parse(text).clientId;
        this.openStream(false);
        for (const topic of this.plan.initialTopics) this.subscribeTo(topic);
        this.timer = later(this.plan.actions[0]?.after ?? this.plan.length, () => this.step(0));
      },
    });
  }

  openStream(resume) {
    const req = http.get({ host: '127.0.0.1', port, path: `/v1/clients/${this.clientId}/stream${resume ? '?resume=1' : ''}`, agent: false });
    req.on('response', (res) => res.resume());
    req.on('error', () => {});
    req.on('close', () => openStreams.delete(req));
    openStreams.add(req);
    this.streamReq = req;
  }

  dropConnection() {
    const req = this.streamReq;
    this.streamReq = null;
    if (req?.socket) req.socket.resetAndDestroy();
    else req?.destroy();
  }

  subscribeTo(topic) {
    send({
      method: 'POST',
      path: `/v1/clients/${this.clientId}/subscriptions`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic, filter: topic.startsWith('market') ? { types: ['odds', 'suspended'] } : null }),
      onDone: (status, text) => {
        if (status === 201 && !this.ended) this.subs.push(JSON.parse(text).subscriptionId);
      },
    });
  }

  unsubscribeOne(u) {
    if (this.subs.length === 0) return;
    const [id] = this.subs.splice(Math.floor(u * this.subs.length), 1);
    send({ method: 'DELETE', path: `/v1/subscriptions/${id}` });
  }

  step(index) {
    if (this.ended) return;
    const action = this.plan.actions[index];
    if (action === undefined) {
      this.finish();
      return;
    }
    if (action.kind === 'swap') {
      this.unsubscribeOne(action.u);
      this.subscribeTo(action.topic);
    } else if (action.kind === 'add' && this.subs.length < 8) this.subscribeTo(action.topic);
    else if (action.kind === 'remove' && this.subs.length > 1) this.unsubscribeOne(action.u);
    else if (action.kind === 'blip') {
      this.dropConnection();
      later(action.awaySeconds, () => {
        if (!this.ended) this.openStream(true);
      });
    }
    const next = this.plan.actions[index + 1];
    this.timer = later(next === undefined ? this.plan.length - action.at : next.at - action.at, () => this.step(index + 1));
  }

  finish() {
    this.ended = true;
    if (this.plan.dies) {
      this.dropConnection(); // the connection dies with the app
      sessionsDied++;
      if (!this.plan.sdkVersion.startsWith('5.')) later(1, () => this.goodbye(false)); // SDK 4.9: the beacon
      return;
    }
    this.goodbye(true);
  }

  goodbye(closeStream) {
    send({
      method: 'DELETE',
      path: `/v1/clients/${this.clientId}`,
      onDone: () => {
        if (closeStream) this.streamReq?.destroy();
      },
    });
  }
}

// Every session's plan comes from one seeded stream, in arrival order, so the
// sessions (and which of them die after the release) are the same every run.
const sessionRandom = rng(0x5e55);
function planSession(startAt) {
  const r = sessionRandom;
  const platformU = r();
  const platform = platformU < 0.45 ? 'web' : platformU < 0.7 ? 'ios' : 'android';
  const onSdk5 = startAt >= SDK5_RELEASE_AT && r() < SDK5_SHARE;
  const sdkVersion = onSdk5 ? '5.0.0' : platform === 'web' ? '4.9.3' : '4.9.1';
  const length = Math.min(5400, Math.max(60, 540 * Math.exp(0.9 * gaussian(r))));
  const initialTopics = Array.from({ length: 2 + Math.floor(r() * 4) }, () => pickTopic(r()));
  const dies = r() < DIES_SHARE[platform];
  const blipAt = r() < BLIP_SHARE ? r() * length : -1;
  const actions = [];
  for (let at = exponential(r, 75); at < length; at += exponential(r, 75)) {
    const u = r();
    actions.push({ at, after: at, kind: u < 0.45 ? 'swap' : u < 0.75 ? 'add' : 'remove', topic: pickTopic(r()), u: r() });
  }
  if (blipAt >= 0) {
    actions.push({ at: blipAt, kind: 'blip', awaySeconds: 5 + r() * 25 });
    actions.sort((a, b) => a.at - b.at);
  }
  return { userId: `u${Math.floor(r() * 2_000_000)}`, platform, sdkVersion, length, initialTopics, dies, actions };
}

function scheduleArrivals(at) {
  const gap = exponential(sessionRandom, 3600 / SESSIONS_PER_HOUR);
  const startAt = at + gap;
  later(startAt - programSeconds(), () => {
    const plan = planSession(startAt);
    sessionsStarted++;
    if (plan.sdkVersion.startsWith('5.')) sdk5Sessions++;
    new AppSession(plan).start();
    scheduleArrivals(startAt);
  });
}
scheduleArrivals(0);

// Publishers: the odds and scores feeds post a batch every second.
const EVENT_TYPES = { match: ['score', 'card', 'substitution', 'clock', 'stats'], market: ['odds', 'odds', 'odds', 'suspended', 'settled'], team: ['news', 'lineup'] };
const publishRandom = rng(0x9b11);
function sampleEvent(topic) {
  const kind = topic.slice(0, topic.indexOf(':'));
  const types = EVENT_TYPES[kind];
  const type = types[Math.floor(publishRandom() * types.length)];
  if (type === 'odds') {
    const selections = Array.from({ length: 2 + Math.floor(publishRandom() * 6) }, (_, i) => ({
      id: `${topic}:sel${i}`,
      name: `Selection ${i + 1}`,
      price: Math.round((1.05 + publishRandom() * 12) * 100) / 100,
      trend: publishRandom() < 0.5 ? 'up' : 'down',
    }));
    return { type, market: topic, selections, inPlay: publishRandom() < 0.6 };
  }
  if (type === 'news' || type === 'lineup') {
    return { type, headline: `Update ${Math.floor(publishRandom() * 1e6)} for ${topic}`, body: 'x'.repeat(120 + Math.floor(publishRandom() * 400)) };
  }
  return { type, match: topic, minute: Math.floor(publishRandom() * 95), home: Math.floor(publishRandom() * 4), away: Math.floor(publishRandom() * 4), detail: `${type} event` };
}
every(scaledMs(1), () => {
  // Poisson number of events in the second
  let n = 0;
  for (let p = Math.exp(-PUBLISHED_PER_SECOND) , s = publishRandom(); s > p; s *= publishRandom()) n++;
  if (n === 0) return;
  const events = Array.from({ length: n }, () => {
    const topic = pickTopic(publishRandom());
    return { topic, event: sampleEvent(topic) };
  });
  send({ method: 'POST', path: '/v1/publish', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
});
every(scaledMs(10), () => send({ method: 'GET', path: '/healthz' }));

onShutdown(() => {
  for (const req of openStreams) req.destroy();
});

reportStats(() => {
  let attached = 0;
  let detached = 0;
  let detachedSubscriptions = 0;
  let backlogDeliveries = 0;
  for (const c of clients.values()) {
    if (c.stream !== null) attached++;
    else if (c.disconnectedAt !== null) {
      detached++;
      detachedSubscriptions += c.subscriptions.size;
    }
    for (const sub of c.subscriptions) backlogDeliveries += sub.backlog.length;
  }
  return {
    retained: subscriptions.size,
    clients: clients.size,
    attached,
    detached,
    detachedSubscriptions,
    backlogDeliveries,
    topics: topicSubscribers.size,
    published,
    deliveries,
    backlogged,
    resumes,
    goodbyes,
    streamsClosed,
    sessionsStarted,
    sdk5Sessions,
    sessionsDied,
    sent: client.sent,
    failed: client.failed,
  };
});

ready(
  `pubsub-dead-subscriber-leak: ${SESSIONS_PER_HOUR} app sessions/h subscribing to ${TOPIC_COUNT} topics, ${PUBLISHED_PER_SECOND} events/s published, ` +
    `SDK 5.0 from ${SDK5_RELEASE_AT} s at speed 1 on port ${port}${ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''}`,
);
