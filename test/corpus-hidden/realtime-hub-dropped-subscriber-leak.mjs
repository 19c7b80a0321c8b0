// Realtime notification gateway of a team-collaboration product. Clients
// connect (POST /v1/connect), get a connection id and the channels they are
// subscribed to (their user channel, their team's channel, org-wide
// announcements), then fetch frames with the polling transport
// (GET /v1/events?conn=&cursor=) about every 30 s; a polite client says
// goodbye (DELETE /v1/connections/:id) when it goes away.
//
// Fan-out lives in class NotificationHub: a private Map #channels from
// channel name to an array of Subscriber objects. Every published event is
// rendered per subscriber (their locale, their unread badge) into an SSE-style
// frame and kept in the subscriber's replay window (the last 20 frames, for
// Last-Event-ID resumption) until the client acknowledges it with its cursor.
//
// The gateway's idle sweep drops connections that stopped polling from its
// own `connections` registry, but only the goodbye path calls
// hub.unsubscribe(): a client that vanishes without a goodbye stays in
// #channels for good, with a full replay window. Until the onset every client
// says goodbye. At the onset (default 2 h) mobile app 5.2 reaches its
// phased-rollout cohort (~35 % of new sessions): it is killed in the
// background by the OS without sending the goodbye.
import {
  buildBallast,
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

const random = rng(0x5ee5a1);
const ONSET_S = onsetSeconds(7200);
const REPLAY_WINDOW = 20;
const IDLE_TIMEOUT_S = 120;

// --- the hub ----------------------------------------------------------------------

class Subscriber {
  constructor(id, user, device, channels) {
    this.id = id;
    this.userId = user.id;
    this.teamId = user.teamId;
    this.locale = user.locale;
    this.device = device;
    this.channels = channels;
    this.connectedAt = programSeconds();
    this.lastPollAt = this.connectedAt;
    this.seq = 0;
    this.unread = user.unread;
    this.backlog = [];
  }

  push(frame) {
    this.backlog.push(frame);
    if (this.backlog.length > REPLAY_WINDOW) this.backlog.shift();
  }

  /** Frames after `cursor`; the ones the client has seen are dropped. */
  take(cursor) {
    while (this.backlog.length > 0 && this.backlog[0].seq <= cursor) this.backlog.shift();
    return this.backlog;
  }
}

class NotificationHub {
  #channels = new Map();
  published = 0;
  delivered = 0;

  subscribe(subscriber) {
    for (const channel of subscriber.channels) {
      let list = this.#channels.get(channel);
      if (list === undefined) {
        list = [];
        this.#channels.set(channel, list);
      }
      list.push(subscriber);
    }
  }

  unsubscribe(subscriber) {
    for (const channel of subscriber.channels) {
      const list = this.#channels.get(channel);
      if (list === undefined) continue;
      const index = list.indexOf(subscriber);
      if (index !== -1) list.splice(index, 1);
      if (list.length === 0) this.#channels.delete(channel);
    }
  }

  publish(channel, event) {
    this.published++;
    const list = this.#channels.get(channel);
    if (list === undefined) return 0;
    for (const subscriber of list) {
      subscriber.push(renderFrame(subscriber, event));
      this.delivered++;
    }
    return list.length;
  }

  get subscriptions() {
    let count = 0;
    for (const list of this.#channels.values()) count += list.length;
    return count;
  }

  get channelCount() {
    return this.#channels.size;
  }
}

const TITLES = {
  en: { mention: 'mentioned you', comment: 'commented on', assign: 'assigned you', status: 'changed the status of', announce: 'Announcement' },
  de: { mention: 'hat dich erwähnt', comment: 'hat kommentiert', assign: 'hat dich zugewiesen', status: 'hat den Status geändert', announce: 'Ankündigung' },
  fr: { mention: 'vous a mentionné', comment: 'a commenté', assign: 'vous a assigné', status: 'a changé le statut de', announce: 'Annonce' },
};

/** The per-subscriber SSE frame: event id, type, and the localised payload with their badge count. */
function renderFrame(subscriber, event) {
  const seq = ++subscriber.seq;
  if (event.type !== 'status') subscriber.unread++;
  const title = `${event.actorName} ${TITLES[subscriber.locale][event.type]} ${event.subject}`;
  const data = JSON.stringify({ id: event.id, type: event.type, title, url: event.url, actor: event.actorId, at: event.at, unread: subscriber.unread });
  return { seq, text: `id: ${subscriber.id}-${seq}\nevent: ${event.type}\ndata: ${data}\n\n` };
}

const hub = new NotificationHub();

// --- the gateway's connection registry -----------------------------------------------------

const connections = new Map();
let nextConnection = 1;
const gateway = { connects: 0, goodbyes: 0, swept: 0, polls: 0 };

function sweepIdle() {
  const now = programSeconds();
  for (const [id, subscriber] of connections) {
    if (now - subscriber.lastPollAt > IDLE_TIMEOUT_S) {
      connections.delete(id);
      gateway.swept++;
    }
  }
}
setInterval(sweepIdle, 30_000 / speed).unref();

// --- users and teams ---------------------------------------------------------------------

const TEAM_COUNT = 60;
const USER_COUNT = 6_000;
const LOCALES = ['en', 'en', 'en', 'de', 'fr'];
const FIRST = ['Ana', 'Ben', 'Chloé', 'Dirk', 'Emma', 'Farid', 'Greta', 'Hugo', 'Ines', 'Jonas', 'Kira', 'Lars'];
const LAST = ['Meyer', 'Dubois', 'Novak', 'Jansen', 'Rossi', 'Schmidt', 'Laurent', 'Berg'];
const user = (n) => ({ id: `u_${n}`, teamId: `t_${n % TEAM_COUNT}`, locale: LOCALES[n % LOCALES.length], unread: n % 7 });
const displayName = (n) => `${FIRST[n % FIRST.length]} ${LAST[(n >> 3) % LAST.length]}`;

// --- HTTP ------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  return JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
}

let eventSeq = 0;

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://realtime.local');
  const path = url.pathname;
  if (req.method === 'GET' && path === '/v1/events') {
    const subscriber = connections.get(url.searchParams.get('conn'));
    if (subscriber === undefined) return sendJson(res, 410, { error: 'connection expired, reconnect' });
    subscriber.lastPollAt = programSeconds();
    gateway.polls++;
    const frames = subscriber.take(Number(url.searchParams.get('cursor') ?? 0));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    return res.end(frames.map((f) => f.text).join(''));
  }
  if (req.method === 'POST' && path === '/v1/connect') {
    let body;
    try {
      body = await readJson(req);
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    const n = Number(String(body.userId).slice(2));
    if (!Number.isInteger(n) || n < 0 || n >= USER_COUNT) return sendJson(res, 404, { error: 'unknown user' });
    const u = user(n);
    const id = `c${(nextConnection++).toString(36)}`;
    const subscriber = new Subscriber(id, u, body.device, [`user:${u.id}`, `team:${u.teamId}`, 'org:announcements']);
    connections.set(id, subscriber);
    hub.subscribe(subscriber);
    gateway.connects++;
    return sendJson(res, 201, { connectionId: id, channels: subscriber.channels, pollIntervalS: 30 });
  }
  if (req.method === 'DELETE' && path.startsWith('/v1/connections/')) {
    const id = path.slice('/v1/connections/'.length);
    const subscriber = connections.get(id);
    if (subscriber === undefined) return sendJson(res, 404, { error: 'no such connection' });
    connections.delete(id);
    hub.unsubscribe(subscriber);
    gateway.goodbyes++;
    res.writeHead(204);
    return res.end();
  }
  if (req.method === 'POST' && path === '/v1/publish') {
    let body;
    try {
      body = await readJson(req);
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    const event = { id: `ev_${++eventSeq}`, type: body.type, actorId: body.actorId, actorName: body.actorName, subject: body.subject, url: body.url, at: body.at };
    const fanout = hub.publish(body.channel, event);
    return sendJson(res, 202, { id: event.id, fanout });
  }
  if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { ok: true, connections: connections.size });
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: app sessions, the activity service, the comms team ------------------------------

const APP_VERSIONS = ['web-2024.22', 'web-2024.22', 'ios-5.1.4', 'android-5.1.3'];
const sessions = [];
const pollQueue = [];
const connectQueue = [];

function deviceFor(n, droppedClient) {
  const appVersion = droppedClient ? (n % 2 ? 'ios-5.2.0' : 'android-5.2.0') : APP_VERSIONS[n % APP_VERSIONS.length];
  const mobile = !appVersion.startsWith('web');
  return {
    appVersion,
    platform: mobile ? appVersion.split('-')[0] : 'browser',
    userAgent: mobile
      ? `Teamline/${appVersion.split('-')[1]} (${appVersion.startsWith('ios') ? 'iPhone15,2; iOS 17.5' : 'Pixel 8; Android 14'}) build/${40_000 + (n % 997)}`
      : `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.${6422 + (n % 80)}.112 Safari/537.36`,
    pushToken: mobile ? `apns-${(n * 2_654_435_761 >>> 0).toString(16)}${(n * 40_503 >>> 0).toString(16)}` : null,
  };
}

function newSession() {
  const n = Math.floor(random() ** 1.5 * USER_COUNT);
  const now = programSeconds();
  const droppedClient = now >= ONSET_S && random() < 0.35;
  // log-normal session length, median 8 min
  const lengthS = Math.min(4 * 3600, 480 * Math.exp(0.9 * (random() + random() + random() - 1.5) * 1.4));
  const session = { n, userId: `u_${n}`, device: deviceFor(n, droppedClient), droppedClient, endsAt: now + lengthS, connectionId: null, cursor: 0, dueAt: 0 };
  return {
    method: 'POST',
    path: '/v1/connect',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: session.userId, device: session.device }),
    session,
  };
}

function onConnectResponse(status, text, request) {
  if (status !== 201) return;
  const session = request.session;
  session.connectionId = JSON.parse(text).connectionId;
  session.dueAt = programSeconds() + 30 * random();
  sessions.push(session);
  pollQueue.push(session);
}

/** The next poll (or goodbye) that is due, in the order they were scheduled. */
function nextPoll() {
  const now = programSeconds();
  while (pollQueue.length > 0 && pollQueue[0].dueAt <= now) {
    const session = pollQueue.shift();
    if (now >= session.endsAt) {
      sessions.splice(sessions.indexOf(session), 1);
      if (session.droppedClient) continue; // killed in the background: no goodbye
      return { method: 'DELETE', path: `/v1/connections/${session.connectionId}` };
    }
    session.dueAt = now + 25 + 10 * random();
    pollQueue.push(session);
    return { method: 'GET', path: `/v1/events?conn=${session.connectionId}&cursor=${session.cursor}`, session };
  }
  return null;
}

function onPollResponse(status, text, request) {
  const session = request.session;
  if (session === undefined) return;
  const last = text.lastIndexOf('id: ');
  if (last !== -1) session.cursor = Number(text.slice(text.indexOf('-', last) + 1, text.indexOf('\n', last)));
}

const SUBJECTS = ['"Q3 planning"', '"Onboarding checklist"', 'INC-4411', 'the release notes', '"Pricing page copy"', 'PR #2291', 'the roadmap', '"Vendor contract"'];
const TYPES = ['comment', 'comment', 'status', 'assign', 'mention'];

function activityEvent() {
  const actor = Math.floor(random() * USER_COUNT);
  const type = TYPES[Math.floor(random() * TYPES.length)];
  // mentions and assignments go to a person (mostly someone active), the rest to the actor's team
  const channel = type === 'mention' || type === 'assign' ? `user:u_${Math.floor(random() ** 1.5 * USER_COUNT)}` : `team:t_${actor % TEAM_COUNT}`;
  const subject = SUBJECTS[Math.floor(random() * SUBJECTS.length)];
  return {
    method: 'POST',
    path: '/v1/publish',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel, type, actorId: `u_${actor}`, actorName: displayName(actor), subject, url: `https://app.teamline.example/w/${actor % 400}/items/${Math.floor(random() * 90_000)}`, at: new Date(1_717_000_000_000 + programSeconds() * 1000).toISOString() }),
  };
}

function announcement() {
  return {
    method: 'POST',
    path: '/v1/publish',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'org:announcements', type: 'announce', actorId: 'u_0', actorName: 'Internal Comms', subject: `: ${SUBJECTS[Math.floor(random() * SUBJECTS.length)]}`, url: 'https://app.teamline.example/news', at: new Date(1_717_000_000_000 + programSeconds() * 1000).toISOString() }),
  };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const connectClient = selfRequests(port, { perSecond: 0.25, maxInFlight: 4, next: newSession, onResponse: onConnectResponse });
const pollClient = selfRequests(port, { perSecond: 12, maxInFlight: 16, next: nextPoll, onResponse: onPollResponse });
const activity = selfRequests(port, { perSecond: 1, maxInFlight: 8, next: activityEvent });
const comms = selfRequests(port, { perSecond: 1 / 1200, maxInFlight: 1, next: announcement });

reportStats(() => ({
  retained: hub.subscriptions,
  channels: hub.channelCount,
  connections: connections.size,
  sessionsOnline: sessions.length,
  connects: gateway.connects,
  goodbyes: gateway.goodbyes,
  swept: gateway.swept,
  polls: gateway.polls,
  published: hub.published,
  delivered: hub.delivered,
  requestsFailed: connectClient.failed + pollClient.failed + activity.failed + comms.failed,
}));

ready(
  `realtime-hub-dropped-subscriber-leak: notification gateway, 0.25 connects/s, polls every ~30 s, 1 event/s; from ${ONSET_S} s 35 % of sessions vanish without goodbye and stay in NotificationHub #channels (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
