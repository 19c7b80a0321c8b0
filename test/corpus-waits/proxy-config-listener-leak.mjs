// Small reverse proxy in front of a handful of backends. Mostly idle: a few
// clients a second, each request forwarded to a backend and then waiting on
// it (~250 ms median). The routing config lives in a config service; the
// module-level `configBus` (an EventEmitter) emits 'change' every time the
// config poller has fetched it (every 5 s), and each client connection keeps
// its own view of the routes (sticky backend, header rules) up to date by
// listening to it.
//
// The bug: handleConnection() adds a 'change' listener for every accepted
// connection and nothing removes it when the socket closes. Most clients
// (mobile apps behind carrier NATs, cron jobs) send `Connection: close`, so
// every request is a new connection and a new listener, each holding its
// ConnectionView and the closed socket. Someone silenced the
// MaxListenersExceededWarning with setMaxListeners(0). And every leaked
// listener still runs on every config tick, so the loop gets busier as the
// leak grows.
import { EventEmitter } from 'node:events';
import {
  buildBallast,
  every,
  listen,
  onShutdown,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xc0f1e);

function logNormal(median, sigma) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

// --- config ----------------------------------------------------------------------------------

const configBus = new EventEmitter();
configBus.setMaxListeners(0); // "possible EventEmitter memory leak detected" was noisy in the logs

let currentConfig = buildConfig(1);

function buildConfig(version) {
  const routes = [];
  for (let i = 0; i < 24; i++) {
    routes.push({
      prefix: `/svc${i}/`,
      backends: [`10.0.${i}.11:8080`, `10.0.${i}.12:8080`, `10.0.${i}.13:8080`].slice(0, 1 + (i % 3)),
      stickyBy: i % 4 === 0 ? 'x-user-id' : null,
      addHeaders: { 'x-proxy-route': `svc${i}`, 'x-config-version': String(version) },
      timeoutMs: 5000 + (i % 5) * 1000,
    });
  }
  return { version, routes, fetchedAt: programSeconds() };
}

/** The config poller: waits on the config service, then publishes. */
const configTicks = { count: 0, lastMs: 0 };
every(5000 / speed, () => {
  const next = random() < 0.05 ? buildConfig(currentConfig.version + 1) : { ...currentConfig, fetchedAt: programSeconds() };
  currentConfig = next;
  const started = performance.now();
  configBus.emit('change', next);
  configTicks.count++;
  configTicks.lastMs = performance.now() - started;
});

// --- connections -------------------------------------------------------------------------------

class ConnectionView {
  constructor(socket, config) {
    this.socket = socket;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.openedAt = programSeconds();
    this.requests = 0;
    this.routeIndex = new Map();
    this.applyConfig(config);
  }

  applyConfig(config) {
    if (this.version === config.version) {
      // Same routes: just refresh the timeouts we may have tightened.
      for (const route of config.routes) this.routeIndex.get(route.prefix).timeoutMs = route.timeoutMs;
      return;
    }
    this.version = config.version;
    this.routeIndex.clear();
    for (const route of config.routes) {
      this.routeIndex.set(route.prefix, { backend: route.backends[this.remote.length % route.backends.length], timeoutMs: route.timeoutMs, headers: route.addHeaders });
    }
  }

  routeFor(path) {
    const prefix = path.slice(0, path.indexOf('/', 1) + 1);
    return this.routeIndex.get(prefix);
  }
}

const connections = { accepted: 0, open: 0 };
const views = new WeakMap();

function handleConnection(socket) {
  connections.accepted++;
  connections.open++;
  const view = new ConnectionView(socket, currentConfig);
  views.set(socket, view);
  configBus.on('change', (config) => view.applyConfig(config));
  socket.on('close', () => {
    connections.open--;
  });
}

// --- backends -----------------------------------------------------------------------------------

const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});

function forward(route, req) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      resolve({ status: 200, body: JSON.stringify({ backend: route.backend, path: req.url, at: Date.now() }) });
    }, Math.min(route.timeoutMs, logNormal(250, 0.8)) / speed);
    pendingTimers.add(timer);
  });
}

const served = { proxied: 0, notFound: 0 };

function handler(req, res) {
  req.resume();
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end('{"ok":true}');
  }
  const view = views.get(req.socket);
  view.requests++;
  const route = view.routeFor(req.url ?? '/');
  if (route === undefined) {
    served.notFound++;
    res.writeHead(404);
    return res.end();
  }
  forward(route, req).then((answer) => {
    res.writeHead(answer.status, { 'content-type': 'application/json', ...route.headers });
    res.end(answer.body);
    served.proxied++;
  });
}

const ballastMb = buildBallast();
const { server, port } = await listen(handler);
server.on('connection', handleConnection);

// Clients that close their connection after each request (0.5/s), and a load balancer on keep-alive.
const clients = selfRequests(port, {
  perSecond: 0.5,
  maxInFlight: 32,
  next: () => ({ method: 'GET', path: `/svc${Math.floor(random() * 24)}/items/${Math.floor(random() * 1e5)}`, headers: { connection: 'close', 'x-user-id': `u${Math.floor(random() * 1e4)}` } }),
});
const balancer = selfRequests(port, { perSecond: 0.2, maxInFlight: 1, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: configBus.listenerCount('change'),
  openConnections: connections.open,
  accepted: connections.accepted,
  configTickMs: Math.round(configTicks.lastMs * 1000) / 1000,
  proxied: served.proxied,
  requestsFailed: clients.failed + balancer.failed,
}));

ready(`proxy-config-listener-leak: mostly idle proxy, 0.5 new connections/s each adding a never-removed configBus listener (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
