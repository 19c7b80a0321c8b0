// leakwatch demo target: a tiny plain node:http service that drives its own
// traffic and, after a delay, starts leaking the way a real incident did:
//
//   "a pub/sub consumer task dies before it unsubscribes, leaving an
//    unbounded queue"
//
// A Broker fans every published message out to one queue per subscriber and a
// consumer task per subscriber drains its queue. After DEMO_LEAK_AFTER seconds
// one consumer crashes, but its subscription stays registered, so the broker
// keeps enqueueing into a queue nobody reads. The retained objects are
// allocated in Broker#enqueueMessage, so a sampling heap profile points there.
//
// Run it with the inspector enabled from the outside, e.g.
//   node --inspect=127.0.0.1:9229 deploy/demo/app.mjs
// (the app itself never opens the inspector).
//
// Env (defaults): DEMO_PORT=3000 (0 = ephemeral), DEMO_HOST=127.0.0.1,
// DEMO_RPS=50, DEMO_LEAK_AFTER=20 (seconds), DEMO_LEAK_BYTES_PER_MESSAGE=2048,
// DEMO_LEAK=1 (0 = healthy twin that never leaks).

import http from 'node:http';

const env = process.env;
const PORT = intEnv('DEMO_PORT', 3000);
const HOST = env.DEMO_HOST || '127.0.0.1';
const RPS = Math.max(1, intEnv('DEMO_RPS', 50));
const LEAK_AFTER_S = Math.max(0, numEnv('DEMO_LEAK_AFTER', 20));
const BYTES_PER_MESSAGE = Math.max(64, intEnv('DEMO_LEAK_BYTES_PER_MESSAGE', 2048));
const LEAK = env.DEMO_LEAK !== '0';

const CONSUMER_INTERVAL_MS = 50; // healthy consumers drain their queue this often
const TRAFFIC_TICK_MS = 20; // client loop granularity; requests per tick = RPS * tick
const MAX_IN_FLIGHT = 64; // never pile up requests if the server gets slow

function intEnv(name, fallback) {
  const n = Number.parseInt(env[name] ?? '', 10);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}
function numEnv(name, fallback) {
  const n = Number.parseFloat(env[name] ?? '');
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

// ---------------------------------------------------------------------------
// Broker: fan-out of messages to per-subscriber queues.

class Broker {
  /** @type {Map<string, {queue: object[], processed: number, consumerAlive: boolean}>} */
  subscribers = new Map();
  published = 0;

  subscribe(name) {
    const sub = { queue: [], processed: 0, consumerAlive: true };
    this.subscribers.set(name, sub);
    return sub;
  }

  // Forgetting to call this when a consumer dies is the bug this demo models.
  unsubscribe(name) {
    this.subscribers.delete(name);
  }

  publish(topic, body) {
    this.published++;
    const raw = JSON.stringify({ id: this.published, topic, body, publishedAt: Date.now() });
    for (const sub of this.subscribers.values()) enqueueMessage(sub, raw);
  }
}

// Each subscriber gets its own decoded copy of the message (as real client
// libraries do). JSON.parse allocates a fresh object graph and a fresh ~N-byte
// string per subscriber right here, so when a queue stops draining this
// function is where the heap profile attributes the retained memory.
function enqueueMessage(sub, raw) {
  const envelope = JSON.parse(raw);
  envelope.receivedAt = Date.now();
  sub.queue.push(envelope);
}

// A consumer task: periodically drains its subscriber's queue. `handle` may
// throw; a real consumer would unsubscribe in a finally block — this one
// does not, which is the incident.
function startConsumer(broker, name, handle) {
  const sub = broker.subscribe(name);
  const timer = setInterval(() => {
    try {
      while (sub.queue.length > 0) {
        handle(sub.queue.shift());
        sub.processed++;
      }
    } catch (err) {
      clearInterval(timer); // the task is gone...
      sub.consumerAlive = false; // ...but the subscription (and its queue) stays.
      console.log(`leak started: consumer "${name}" died (${err.message}) without unsubscribing; its queue now grows without bound`);
    }
  }, CONSUMER_INTERVAL_MS);
  return () => clearInterval(timer);
}

const broker = new Broker();
const startedAt = Date.now();
const emailOutageAt = LEAK ? startedAt + LEAK_AFTER_S * 1000 : Infinity;

const stopConsumers = [
  startConsumer(broker, 'search-indexer', (msg) => String(msg.body?.text ?? '').length),
  startConsumer(broker, 'audit-log', (msg) => msg.id),
  // The email notifier's SMTP client starts failing at the onset time and the
  // exception kills the consumer task.
  startConsumer(broker, 'email-notifier', (msg) => {
    if (Date.now() >= emailOutageAt) throw new Error('SMTP connection reset');
    return msg.topic;
  }),
];

// ---------------------------------------------------------------------------
// HTTP service.

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/') {
      return send(res, 200, { hello: 'leakwatch demo', pid: process.pid, leak: LEAK });
    }
    if (req.method === 'POST' && req.url === '/publish') {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        return send(res, 400, { error: 'invalid JSON' });
      }
      broker.publish(body.topic ?? 'orders', body);
      return send(res, 202, { accepted: true, id: broker.published });
    }
    if (req.method === 'GET' && req.url === '/stats') {
      return send(res, 200, stats());
    }
    send(res, 404, { error: 'not found' });
  });
});

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function stats() {
  const subscribers = [...broker.subscribers].map(([name, s]) => ({
    name,
    queueLength: s.queue.length,
    processed: s.processed,
    consumerAlive: s.consumerAlive,
  }));
  return {
    uptimeSeconds: (Date.now() - startedAt) / 1000,
    leakEnabled: LEAK,
    leakAfterSeconds: LEAK_AFTER_S,
    published: broker.published,
    maxQueueLength: Math.max(0, ...subscribers.map((s) => s.queueLength)),
    subscribers,
  };
}

// ---------------------------------------------------------------------------
// Self-generated traffic, so the demo needs no load generator. Request bodies
// and responses are short-lived garbage, which gives a visible GC sawtooth.

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
let inFlight = 0;
let sent = 0;
let owed = 0; // fractional requests carried between ticks (for low RPS)

function fire(port) {
  inFlight++;
  sent++;
  const isPublish = sent % 10 !== 0; // 90% publishes, 10% hellos
  const payload = isPublish
    ? JSON.stringify({ topic: 'orders', text: randomText(BYTES_PER_MESSAGE), seq: sent })
    : undefined;
  const req = http.request(
    {
      host: '127.0.0.1',
      port,
      agent,
      method: isPublish ? 'POST' : 'GET',
      path: isPublish ? '/publish' : '/',
      headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
    },
    (res) => {
      res.resume();
      res.on('end', () => inFlight--);
    },
  );
  req.on('error', () => inFlight--); // e.g. during shutdown; traffic is best-effort
  req.end(payload);
}

// Distinct text per message so every queued copy really costs ~BYTES bytes.
function randomText(bytes) {
  const parts = [];
  for (let n = 0; n < bytes; n += 16) parts.push(Math.random().toString(36).slice(2, 18).padEnd(16, '0'));
  return parts.join('').slice(0, bytes);
}

let trafficTimer;
function startTraffic(port) {
  trafficTimer = setInterval(() => {
    owed += (RPS * TRAFFIC_TICK_MS) / 1000;
    while (owed >= 1 && inFlight < MAX_IN_FLIGHT) {
      owed--;
      fire(port);
    }
    owed = Math.min(owed, RPS); // don't build an unbounded backlog
  }, TRAFFIC_TICK_MS);
}

// ---------------------------------------------------------------------------
// Start / stop.

server.listen(PORT, HOST, () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  const hostForUrl = HOST.includes(':') ? `[${HOST}]` : HOST;
  const onset = LEAK ? `leak starts after ${LEAK_AFTER_S}s` : 'leak disabled';
  console.log(`demo app listening on http://${hostForUrl}:${port} (${onset})`);
  startTraffic(port);
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`received ${signal}, shutting down`);
  clearInterval(trafficTimer);
  for (const stop of stopConsumers) stop();
  agent.destroy();
  server.close();
  server.closeAllConnections();
  // Nothing else keeps the loop alive, so the process now exits on its own
  // (exit code 0). Note: while an inspector client is attached, Node waits for
  // it to disconnect ("Waiting for the debugger to disconnect...") — the client
  // is expected to detach on Runtime.executionContextDestroyed.
  setTimeout(() => process.exit(1), 5000).unref(); // last resort if something lingers
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
