// longpoll-fanout-rampup: HEALTHY (subscribers ramp up for an hour after the deploy, then hold).
//
// Long-poll pub/sub gateway of a field-service app (technicians' tablets
// follow their depots' job boards) on 127.0.0.1, with in-process keep-alive
// clients standing in for the tablets:
//   POST   /v1/subscriptions              subscribe to `broadcast` + 2-3 depots
//   GET    /v1/subscriptions/:id/poll     long poll: answered at once when
//                                        something is new past the cursors,
//                                        else parked for up to 55 s (204)
//   DELETE /v1/subscriptions/:id          tablet signs off
//   POST   /v1/publish                    the dispatch system, ~0.5 msg/s at
//                                        speed 1 on 40 depot channels, plus a
//                                        broadcast every ~5 min
// This process IS the deploy: at start no tablet is connected, and the 300
// tablets come back gradually over the first hour (their reconnect backoff
// spreads them uniformly over 0-60 min), after which the count holds at
// ~290-300 (a tablet now and then goes to the background for 1-10 min, its
// subscription expires 2 min after its last poll and it re-subscribes when
// it comes back; ~10 % of those sign off with DELETE).
//
// State: module-level `subscriptions` (Map id -> Subscription: channels,
// per-channel cursors, counters, the parked poll), `waiting` (Map channel ->
// Set of subscriptions with a parked poll) and `channels` (Map name ->
// Channel: seq and the last 200 messages, shared by all subscribers). Each
// connected tablet also holds an open keep-alive socket on both sides (its
// parked request). Everything a subscription holds is released when it is
// answered, deleted or swept (sweepIdle, every 30 s): the floor grows with
// the subscriber count for ~1 hour and then stays flat. Healthy.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const POLL_HOLD_S = 55;
const IDLE_EXPIRY_S = 120;
const CHANNEL_HISTORY = 200; // messages kept per channel for catch-up ...
const CHANNEL_RETENTION_S = 600; // ... and for at most 10 min
const DEPOTS = 40;
const TABLETS = 300;
const RECONNECT_WINDOW_S = 3600;

// --- channels -------------------------------------------------------------------

class Channel {
  constructor(name) {
    this.name = name;
    this.seq = 0;
    this.recent = [];
  }

  append(message) {
    message.seq = ++this.seq;
    this.recent.push(message);
    if (this.recent.length > CHANNEL_HISTORY) this.recent.shift();
  }

  prune(now) {
    while (this.recent.length > 0 && now - this.recent[0].publishedAt > CHANNEL_RETENTION_S) this.recent.shift();
  }

  since(cursor, out) {
    if (cursor >= this.seq) return;
    for (const message of this.recent) if (message.seq > cursor) out.push(message);
  }
}

const channels = new Map();
channels.set('broadcast', new Channel('broadcast'));
for (let d = 1; d <= DEPOTS; d++) channels.set(`depot:${d}`, new Channel(`depot:${d}`));

// --- subscriptions --------------------------------------------------------------

class Subscription {
  constructor(id, clientId, userId, names) {
    this.id = id;
    this.clientId = clientId;
    this.userId = userId;
    this.channels = names;
    this.cursors = new Map();
    for (const name of names) this.cursors.set(name, channels.get(name).seq);
    this.createdAt = Date.now();
    this.lastPollAt = programSeconds();
    this.polls = 0;
    this.delivered = 0;
    this.parked = null; // { res, timer }
  }

  pending() {
    const out = [];
    for (const name of this.channels) channels.get(name).since(this.cursors.get(name), out);
    return out;
  }
}

const subscriptions = new Map();
const waiting = new Map(); // channel name -> Set<Subscription> with a parked poll
for (const name of channels.keys()) waiting.set(name, new Set());
let nextSubscription = 1;
const counters = { subscribed: 0, deleted: 0, expired: 0, polls: 0, answered: 0, timedOut: 0, published: 0 };

function park(sub, res) {
  const timer = setTimeout(() => {
    if (sub.parked === null || sub.parked.res !== res) return;
    unpark(sub);
    counters.timedOut++;
    res.writeHead(204).end();
  }, scaledMs(POLL_HOLD_S));
  sub.parked = { res, timer };
  for (const name of sub.channels) waiting.get(name).add(sub);
  res.on('close', () => {
    if (sub.parked !== null && sub.parked.res === res) unpark(sub);
  });
}

function unpark(sub) {
  if (sub.parked === null) return null;
  const { res, timer } = sub.parked;
  clearTimeout(timer);
  sub.parked = null;
  for (const name of sub.channels) waiting.get(name).delete(sub);
  return res;
}

function answer(sub, res, messages) {
  for (const m of messages) {
    const cursor = sub.cursors.get(m.channel);
    if (m.seq > cursor) sub.cursors.set(m.channel, m.seq);
  }
  sub.delivered += messages.length;
  counters.answered++;
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ subscription: sub.id, messages }));
}

function removeSubscription(sub) {
  const res = unpark(sub);
  if (res !== null) res.writeHead(410).end();
  subscriptions.delete(sub.id);
}

function sweepIdle() {
  const now = programSeconds();
  for (const sub of subscriptions.values()) {
    if (sub.parked === null && now - sub.lastPollAt > IDLE_EXPIRY_S) {
      removeSubscription(sub);
      counters.expired++;
    }
  }
}
every(scaledMs(30), () => {
  sweepIdle();
  const now = programSeconds();
  for (const channel of channels.values()) channel.prune(now);
});

function publish(name, message) {
  const channel = channels.get(name);
  channel.append(message);
  counters.published++;
  let woken = 0;
  for (const sub of waiting.get(name)) {
    const res = unpark(sub);
    answer(sub, res, sub.pending());
    woken++;
  }
  return woken;
}

// --- HTTP -----------------------------------------------------------------------

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

async function handle(req, res) {
  const parts = req.url.split('?')[0].split('/');
  if (parts[1] !== 'v1') return json(res, 404, '{"error":"not found"}');
  if (parts[2] === 'subscriptions' && parts[4] === 'poll' && req.method === 'GET') {
    const sub = subscriptions.get(parts[3]);
    if (sub === undefined) return json(res, 404, '{"error":"unknown subscription"}');
    sub.lastPollAt = programSeconds();
    sub.polls++;
    counters.polls++;
    if (sub.parked !== null) unpark(sub).writeHead(409).end(); // a newer poll replaces the old one
    const messages = sub.pending();
    if (messages.length > 0) return answer(sub, res, messages);
    return park(sub, res);
  }
  if (parts[2] === 'subscriptions' && parts.length === 3 && req.method === 'POST') {
    const body = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
    const names = ['broadcast', ...body.depots.filter((d) => channels.has(`depot:${d}`)).map((d) => `depot:${d}`)];
    const sub = new Subscription(`s-${(nextSubscription++).toString(36)}`, body.clientId, body.userId, names);
    subscriptions.set(sub.id, sub);
    counters.subscribed++;
    return json(res, 201, JSON.stringify({ id: sub.id, channels: names, holdSeconds: POLL_HOLD_S }));
  }
  if (parts[2] === 'subscriptions' && parts.length === 4 && req.method === 'DELETE') {
    const sub = subscriptions.get(parts[3]);
    if (sub !== undefined) {
      removeSubscription(sub);
      counters.deleted++;
    }
    return json(res, 200, '{"ok":true}');
  }
  if (parts[2] === 'publish' && req.method === 'POST') {
    const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    if (!channels.has(body.channel)) return json(res, 400, '{"error":"unknown channel"}');
    const woken = publish(body.channel, { channel: body.channel, seq: 0, type: body.type, job: body.job, at: Date.now(), publishedAt: programSeconds() });
    return json(res, 202, `{"woken":${woken}}`);
  }
  json(res, 404, '{"error":"not found"}');
}

const ballastMB = buildBallast();
const { port } = await listen(handle);

// --- the tablets ------------------------------------------------------------------

const random = rng(0x7ab1e7);
const queue = []; // requests the tablets want to send now

class Tablet {
  constructor(n) {
    this.n = n;
    this.clientId = `tab-${n.toString(16).padStart(4, '0')}`;
    this.userId = `tech-${1000 + n}`;
    const home = 1 + Math.floor(random() * DEPOTS);
    this.depots = [home, 1 + (home % DEPOTS)];
    if (random() < 0.5) this.depots.push(1 + Math.floor(random() * DEPOTS));
    this.subscription = null;
    this.backgroundAt = programSeconds() + RECONNECT_WINDOW_S + random() * 7200;
  }

  subscribe() {
    queue.push({
      method: 'POST',
      path: '/v1/subscriptions',
      headers: { 'content-type': 'application/json', 'user-agent': 'FieldApp/7.3 (Android 14; Tab S9)' },
      body: JSON.stringify({ clientId: this.clientId, userId: this.userId, depots: this.depots }),
      tablet: this,
    });
  }

  poll() {
    const now = programSeconds();
    if (now >= this.backgroundAt) {
      // app goes to the background for 1-10 min; ~10 % sign off properly
      const away = 60 + random() * 540;
      this.backgroundAt = now + away + 3600 + random() * 7200;
      if (random() < 0.1) queue.push({ method: 'DELETE', path: `/v1/subscriptions/${this.subscription}`, tablet: null });
      this.subscription = null;
      setTimeout(() => this.subscribe(), scaledMs(away));
      return;
    }
    queue.push({ method: 'GET', path: `/v1/subscriptions/${this.subscription}/poll`, headers: { 'user-agent': 'FieldApp/7.3 (Android 14; Tab S9)' }, tablet: this });
  }

  onResponse(status, text, request) {
    if (request.method === 'POST') {
      if (status !== 201) return setTimeout(() => this.subscribe(), scaledMs(5));
      this.subscription = JSON.parse(text).id;
      return this.poll();
    }
    if (status === 200 || status === 204) return this.poll();
    if (status === 404 || status === 410) {
      this.subscription = null;
      return this.subscribe();
    }
    setTimeout(() => this.poll(), scaledMs(2));
  }
}

const tablets = [];
for (let i = 0; i < TABLETS; i++) {
  const tablet = new Tablet(i);
  tablets.push(tablet);
  setTimeout(() => tablet.subscribe(), scaledMs(random() * RECONNECT_WINDOW_S));
}

selfRequests(port, {
  perSecond: 50, // capacity; the tablets decide what is sent
  maxInFlight: TABLETS + 40,
  next: () => queue.shift() ?? null,
  onResponse: (status, text, request) => {
    if (request.tablet !== null && request.tablet !== undefined) request.tablet.onResponse(status, text, request);
  },
});

// The dispatch system.
const JOB_TYPES = ['job.assigned', 'job.updated', 'job.eta', 'job.completed', 'part.ready'];
let nextJob = 50000;
selfRequests(port, {
  perSecond: 0.5,
  maxInFlight: 4,
  next: () => {
    const depot = 1 + Math.floor(random() * random() * DEPOTS);
    return {
      method: 'POST',
      path: '/v1/publish',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        channel: `depot:${depot}`,
        type: JOB_TYPES[Math.floor(random() * JOB_TYPES.length)],
        job: { id: `J-${nextJob++}`, site: `Site ${Math.floor(random() * 900)}`, window: '10:00-12:00', priority: random() < 0.1 ? 'high' : 'normal' },
      }),
    };
  },
});
selfRequests(port, {
  perSecond: 1 / 300,
  maxInFlight: 1,
  next: () => ({
    method: 'POST',
    path: '/v1/publish',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'broadcast', type: 'notice', job: { id: 'notice', text: 'Van inspections due this week' } }),
  }),
});

reportStats(() => {
  let parked = 0;
  for (const sub of subscriptions.values()) if (sub.parked !== null) parked++;
  let history = 0;
  for (const channel of channels.values()) history += channel.recent.length;
  return {
    retained: subscriptions.size,
    subscriptions: subscriptions.size,
    parked,
    queued: queue.length,
    history,
    ...counters,
  };
});

ready(`long-poll gateway on 127.0.0.1:${port}: ${TABLETS} tablets reconnect over the first hour, then hold${ballastMB ? ` (ballast ${ballastMB} MB)` : ''}`);
