// notify-hub-ghost-subscribers: LEAKY (heap), from the start.
//
// A notification hub for an operations dashboard. Browser tabs hold a
// WebSocket-like session through plain HTTP stand-ins on 127.0.0.1:
//   POST /v1/connect            open a session, subscribe to 2-4 channels
//   GET  /v1/poll?client=ID     drain the session's outbox (every ~10 s)
//   POST /v1/disconnect?client=ID   tab closed (sent by ~80 % of the tabs)
//   POST /v1/publish            internal producers (deploy bot, billing,
//                               incident tooling ...) broadcast an event
// Rates at speed 1: ~50 tabs online (35-66; arrivals ~0.1/s, sessions ~8 min
// on average, exponential), each polling every ~10 s (~4.5 polls/s), one
// publish every 2 s on 12 channels (skewed; every tab is on `system`). Tabs
// that vanish without a disconnect (~20 %) are reaped after 60 s without a
// poll.
//
// Every session's Subscriber (class Subscriber: channels, client info, a
// per-session sequence and an `outbox` of rendered frames, capped at 20 with
// drop-oldest) is added to the module-level NotificationHub `hub`, whose
// `subscribers` Set every publish() walks, rendering a personalised frame
// (renderFrame: the session's own seq, locale and timestamps, JSON) for each
// subscriber on the event's channel. THE LEAK: closeSession() (used by the
// disconnect route and by the idle reaper) deletes the session from
// `sessions` but never calls hub.unsubscribe(), so every closed tab stays in
// `hub.subscribers` for ever, keeps receiving every broadcast on its channels
// and keeps a full outbox (20 frames) nobody drains: ~365 ghosts an hour
// (~300 disconnects + ~70 reaped), ~9 KB each, ~3.2 MB/h; each publish does
// more work as they pile up (~2 200 ghosts and ~44 000 stale frames after
// 6 h). Held by `hub.subscribers` (Set of Subscriber); the frames are
// allocated by renderFrame (inlined by V8 into publish), the subscriber by
// openSession. No cap: the hub never sheds subscribers.
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

const OUTBOX_LIMIT = 20; // frames kept for a slow tab; older ones dropped
const IDLE_REAP_S = 60; // a session without a poll for this long is closed
const CHANNELS = ['system', 'deploys', 'incidents', 'billing', 'orders', 'support', 'security', 'releases', 'reports', 'team:eu', 'team:us', 'team:apac'];
const CHANNEL_WEIGHTS = [3, 4, 2, 2, 6, 4, 1, 2, 1, 2, 2, 1];
const LOCALES = ['en-GB', 'en-US', 'de-DE', 'fr-FR', 'nl-NL', 'es-ES'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Edg/124.0',
];

// --- hub --------------------------------------------------------------------

class Subscriber {
  constructor(clientId, userId, channels, locale, client) {
    this.clientId = clientId;
    this.userId = userId;
    this.channels = new Set(channels);
    this.locale = locale;
    this.client = client;
    this.connectedAt = Date.now();
    this.seq = 0;
    this.outbox = [];
    this.dropped = 0;
  }

  wants(channel) {
    return this.channels.has(channel);
  }

  enqueue(frame) {
    this.outbox.push(frame);
    if (this.outbox.length > OUTBOX_LIMIT) {
      this.outbox.shift();
      this.dropped++;
    }
  }

  drain() {
    const frames = this.outbox;
    this.outbox = [];
    return frames;
  }
}

const timeFormats = new Map(); // locale -> Intl.DateTimeFormat

function formatTime(locale, at) {
  let format = timeFormats.get(locale);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(locale, { dateStyle: 'short', timeStyle: 'medium', timeZone: 'UTC' });
    timeFormats.set(locale, format);
  }
  return format.format(at);
}

function renderFrame(sub, event) {
  sub.seq++;
  return JSON.stringify({
    seq: sub.seq,
    id: event.id,
    channel: event.channel,
    severity: event.severity,
    title: event.title,
    link: event.link,
    at: event.at,
    receivedAt: formatTime(sub.locale, event.at),
    unreadHint: sub.outbox.length + 1,
  });
}

class NotificationHub {
  constructor() {
    this.subscribers = new Set();
    this.published = 0;
    this.rendered = 0;
  }

  subscribe(sub) {
    this.subscribers.add(sub);
  }

  unsubscribe(sub) {
    this.subscribers.delete(sub);
  }

  publish(event) {
    let delivered = 0;
    for (const sub of this.subscribers) {
      if (!sub.wants(event.channel)) continue;
      sub.enqueue(renderFrame(sub, event));
      delivered++;
    }
    this.published++;
    this.rendered += delivered;
    return delivered;
  }
}

const hub = new NotificationHub();

// --- sessions ---------------------------------------------------------------

const sessions = new Map(); // clientId -> { sub, lastPollAt (program s) }
let nextSession = 1;
const counters = { connects: 0, polls: 0, disconnects: 0, reaped: 0, gone: 0, events: 0 };

function openSession(userId, channels, locale, headers, ip) {
  const clientId = `c-${(nextSession++).toString(36)}-${Math.floor(Math.random() * 0xffffff).toString(16)}`;
  const client = { userAgent: headers['user-agent'] ?? 'unknown', ip, appVersion: headers['x-app-version'] ?? '0', tab: headers['x-tab-id'] ?? '' };
  const sub = new Subscriber(clientId, userId, channels, locale, client);
  hub.subscribe(sub);
  sessions.set(clientId, { sub, lastPollAt: programSeconds() });
  counters.connects++;
  return sub;
}

function closeSession(clientId, reason) {
  const session = sessions.get(clientId);
  if (session === undefined) return false;
  sessions.delete(clientId);
  // (the session's subscriber is left in hub.subscribers)
  if (reason === 'idle') counters.reaped++;
  else counters.disconnects++;
  return true;
}

// Tabs that stopped polling without saying goodbye.
every(scaledMs(15), () => {
  const now = programSeconds();
  for (const [clientId, session] of sessions) {
    if (now - session.lastPollAt > IDLE_REAP_S) closeSession(clientId, 'idle');
  }
});

// --- HTTP -------------------------------------------------------------------

let nextEvent = 1;

function sendJson(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://hub.local');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/poll') {
      const session = sessions.get(url.searchParams.get('client'));
      if (session === undefined) return sendJson(res, 410, '{"error":"session closed"}');
      session.lastPollAt = programSeconds();
      counters.polls++;
      const frames = session.sub.drain();
      return sendJson(res, 200, `{"clientId":"${session.sub.clientId}","dropped":${session.sub.dropped},"frames":[${frames.join(',')}]}`);
    }
    if (req.method === 'POST' && url.pathname === '/v1/connect') {
      const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      const channels = Array.isArray(body.channels) ? body.channels.filter((c) => CHANNELS.includes(c)) : [];
      if (!channels.includes('system')) channels.unshift('system');
      const sub = openSession(String(body.userId), channels, LOCALES.includes(body.locale) ? body.locale : 'en-GB', req.headers, req.socket.remoteAddress);
      return sendJson(res, 201, JSON.stringify({ clientId: sub.clientId, channels, pollEverySeconds: 10 }));
    }
    if (req.method === 'POST' && url.pathname === '/v1/disconnect') {
      await readBody(req, 1024);
      const closed = closeSession(url.searchParams.get('client'), 'client');
      return sendJson(res, closed ? 200 : 404, closed ? '{"ok":true}' : '{"error":"unknown session"}');
    }
    if (req.method === 'POST' && url.pathname === '/v1/publish') {
      const body = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
      if (!CHANNELS.includes(body.channel)) return sendJson(res, 400, '{"error":"unknown channel"}');
      const event = {
        id: `evt-${(nextEvent++).toString(36)}`,
        channel: body.channel,
        severity: body.severity ?? 'info',
        title: String(body.title).slice(0, 200),
        link: body.link ?? null,
        at: Date.now(),
      };
      counters.events++;
      const delivered = hub.publish(event);
      return sendJson(res, 202, `{"id":"${event.id}","delivered":${delivered}}`);
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, `{"sessions":${sessions.size}}`);
    sendJson(res, 404, '{"error":"not found"}');
  } catch (error) {
    sendJson(res, 400, JSON.stringify({ error: String(error.message) }));
  }
}

const ballastMB = buildBallast();
const { port } = await listen(handle);

// --- in-process traffic: browser tabs and producers --------------------------

const random = rng(0x6e07);
const pending = []; // requests the simulated tabs want to send now
const TARGET_ONLINE = 50;
const MEAN_SESSION_S = 480;
const POLL_EVERY_S = 10;
let tabs = 0;

function pickChannels() {
  const channels = ['system'];
  const extra = 1 + Math.floor(random() * 3);
  while (channels.length < extra + 1) {
    const c = CHANNELS[1 + Math.floor(random() * (CHANNELS.length - 1))];
    if (!channels.includes(c)) channels.push(c);
  }
  return channels;
}

function startTab() {
  const tab = {
    n: tabs++,
    userId: `u${1000 + Math.floor(random() * 900)}`,
    clientId: null,
    leaveAt: programSeconds() + Math.max(20, -Math.log(1 - random()) * MEAN_SESSION_S),
    polite: random() < 0.8,
    agent: AGENTS[Math.floor(random() * AGENTS.length)],
  };
  pending.push({
    method: 'POST',
    path: '/v1/connect',
    headers: { 'content-type': 'application/json', 'user-agent': tab.agent, 'x-app-version': '5.12.3', 'x-tab-id': `tab-${tab.n}` },
    body: JSON.stringify({ userId: tab.userId, channels: pickChannels(), locale: LOCALES[Math.floor(random() * LOCALES.length)] }),
    tab,
  });
}

function schedulePoll(tab) {
  const wait = POLL_EVERY_S * (0.8 + random() * 0.4);
  setTimeout(() => {
    if (programSeconds() >= tab.leaveAt) {
      if (tab.polite) pending.push({ method: 'POST', path: `/v1/disconnect?client=${tab.clientId}`, body: '', tab: null });
      return; // an impolite tab just stops polling
    }
    pending.push({ method: 'GET', path: `/v1/poll?client=${tab.clientId}`, headers: { 'user-agent': tab.agent }, tab });
  }, scaledMs(wait));
}

selfRequests(port, {
  perSecond: 20, // capacity; the tabs decide what is actually sent
  maxInFlight: 64,
  next: () => pending.shift() ?? null,
  onResponse: (status, text, request) => {
    const tab = request.tab;
    if (tab === null || tab === undefined) return;
    if (request.path === '/v1/connect') {
      if (status !== 201) return;
      tab.clientId = JSON.parse(text).clientId;
      schedulePoll(tab);
    } else if (status === 200) schedulePoll(tab);
    else counters.gone++;
  },
});

// Deploy at start: the usual tabs reconnect over the first minute; after that
// new tabs arrive at the rate that keeps ~50 online.
for (let i = 0; i < TARGET_ONLINE; i++) setTimeout(startTab, scaledMs(random() * 60));
const arrivalsPerSecond = TARGET_ONLINE / MEAN_SESSION_S;
let arrivalDebt = 0;
every(scaledMs(1), () => {
  if (programSeconds() < 60) return;
  arrivalDebt += arrivalsPerSecond * (0.5 + random());
  while (arrivalDebt >= 1) {
    arrivalDebt -= 1;
    startTab();
  }
});

const TITLES = {
  system: ['Scheduled maintenance tonight 22:00-23:00 UTC', 'Dashboard will reload to apply an update'],
  deploys: ['checkout-api v4.18.2 rolled out to eu-west-1', 'search-indexer canary at 25 %', 'payments-gw rollback completed'],
  incidents: ['INC-2291 elevated 5xx on /checkout resolved', 'INC-2292 degraded latency on search (investigating)'],
  billing: ['Invoice run for April finished: 18 211 invoices', 'Card processor retries above threshold'],
  orders: ['Order backlog in EU warehouse above 1 200', 'Same-day cutoff moved to 15:30 for DE', 'Carrier DHL API latency normal again'],
  support: ['New P1 ticket from Enterprise customer Globex', 'Queue "returns" above SLA for 10 min'],
  security: ['New admin login from unrecognised device', 'API key rotated for integration "erp-sync"'],
  releases: ['Release notes for 5.12 published', 'Feature flag "new-cart" at 50 %'],
  reports: ['Daily revenue report ready', 'Weekly churn report ready'],
  'team:eu': ['EU on-call handover in 15 minutes'],
  'team:us': ['US stand-up moved to 16:30 UTC'],
  'team:apac': ['APAC on-call: page acknowledged'],
};
const weightTotal = CHANNEL_WEIGHTS.reduce((a, b) => a + b, 0);
function pickChannel() {
  let r = random() * weightTotal;
  for (let i = 0; i < CHANNELS.length; i++) {
    r -= CHANNEL_WEIGHTS[i];
    if (r < 0) return CHANNELS[i];
  }
  return CHANNELS[0];
}

selfRequests(port, {
  perSecond: 0.5,
  maxInFlight: 4,
  next: () => {
    const channel = pickChannel();
    const titles = TITLES[channel];
    return {
      method: 'POST',
      path: '/v1/publish',
      headers: { 'content-type': 'application/json', authorization: 'Bearer producer-token' },
      body: JSON.stringify({
        channel,
        severity: random() < 0.1 ? 'warning' : 'info',
        title: titles[Math.floor(random() * titles.length)],
        link: `https://ops.example.internal/${channel}/${Math.floor(random() * 100000)}`,
      }),
    };
  },
});

reportStats(() => {
  let frames = 0;
  for (const sub of hub.subscribers) frames += sub.outbox.length;
  return {
    retained: hub.subscribers.size - sessions.size,
    subscribers: hub.subscribers.size,
    online: sessions.size,
    frames,
    published: hub.published,
    rendered: hub.rendered,
    ...counters,
    queued: pending.length,
  };
});

ready(`notification hub on 127.0.0.1:${port}: ~50 tabs polling, closed sessions never leave hub.subscribers${ballastMB ? ` (ballast ${ballastMB} MB)` : ''}`);
