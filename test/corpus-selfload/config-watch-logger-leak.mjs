// config-watch-logger-leak: LEAKY (heap), from 30 min (SCENARIO_ONSET, default 1 800 s).
//
// Store-inventory API on 127.0.0.1 with an in-process keep-alive client,
// ~1 req/s at speed 1 (GET /v1/stock/:sku 60 %, GET /v1/stores/:id/stock
// 25 %, POST /v1/reservations 15 %), answered from module-level Maps
// (`inventory`: 6 000 SKUs x 40 stores, `reservations`: expire after 15 min).
//
// `configWatcher` (class ConfigWatcher extends EventEmitter, process-wide)
// polls the remote config every 30 s and emits 'change' when a new version
// appears, every 3-8 minutes; the rate limiter, the inventory cache and the
// log sink subscribe once at start. Every request gets a RequestLogger
// (createRequestLogger: request id, route, tenant, client, a fields object
// and its buffered lines). THE LEAK: the 2.14 rollout, pushed through the
// same config at SCENARIO_ONSET (30 min), turns on the `dynamicLogLevels`
// flag, with which createRequestLogger subscribes
// `configWatcher.on('change', (config) => logger.applyConfig(config))` so a
// request's log level follows config changes; nothing ever removes it. From
// then on one listener per request (~3 600 an hour) stays in the watcher's
// 'change' listener array, each closing over its RequestLogger (the logger's
// strings, fields object and flushed-line array), and every 'change' calls
// all of them. Held by `configWatcher` ('change' listeners); allocated by
// createRequestLogger. No cap (the watcher has setMaxListeners(0) because
// "several modules listen").
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
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const ONSET_S = onsetSeconds(1800);
const SERVICE = { service: 'inventory-api', version: '2.13.4', region: 'eu-west-1', pod: 'inventory-api-7c9f6d-x2k4q' };

// --- config watcher -----------------------------------------------------------

class ConfigWatcher extends EventEmitter {
  constructor(initial) {
    super();
    this.setMaxListeners(0); // rate limiter, cache, log sink, ... all listen
    this.config = initial;
    this.version = 1;
    this.checks = 0;
    this.nextChangeAt = 0;
  }

  // Called by the poller: `remote` is what the config service returned.
  apply(remote) {
    this.checks++;
    if (remote.version === this.version) return false;
    const previous = this.config;
    this.config = remote.config;
    this.version = remote.version;
    this.emit('change', this.config, previous);
    return true;
  }
}

function baseConfig() {
  return {
    logLevel: 'info',
    routeLogLevels: { stock: 'info', storeStock: 'info', reservations: 'debug' },
    rateLimit: { perTenantPerMinute: 600, burst: 60 },
    cacheTtlSeconds: 30,
    reservationMinutes: 15,
    flags: { dynamicLogLevels: false, strictSkuCheck: true, storeFallback: true },
  };
}

const configWatcher = new ConfigWatcher(baseConfig());

// The "remote" config service: an operator or a rollout changes something
// every 3-8 minutes; the 2.14 rollout flips dynamicLogLevels at the onset.
const remoteRandom = rng(0xc0f1);
const remote = { version: 1, config: configWatcher.config };
let rolledOut = false;
function remoteConfig() {
  const now = programSeconds();
  if (!rolledOut && now >= ONSET_S) {
    rolledOut = true;
    SERVICE.version = '2.14.0';
    remote.version++;
    remote.config = { ...remote.config, flags: { ...remote.config.flags, dynamicLogLevels: true } };
  } else if (now >= configWatcher.nextChangeAt && configWatcher.nextChangeAt > 0) {
    const levels = ['info', 'debug', 'warn'];
    remote.version++;
    remote.config = {
      ...remote.config,
      logLevel: remoteRandom() < 0.8 ? 'info' : 'debug',
      routeLogLevels: { ...remote.config.routeLogLevels, reservations: levels[Math.floor(remoteRandom() * 3)] },
      rateLimit: { ...remote.config.rateLimit, perTenantPerMinute: 500 + Math.floor(remoteRandom() * 4) * 100 },
      cacheTtlSeconds: 20 + Math.floor(remoteRandom() * 3) * 10,
    };
  }
  if (configWatcher.nextChangeAt <= now) configWatcher.nextChangeAt = now + 180 + remoteRandom() * 300;
  return remote;
}

every(scaledMs(30), () => configWatcher.apply(remoteConfig()));

// Long-lived subscribers, registered once.
const rateLimits = { perTenantPerMinute: 600, windows: new Map() };
configWatcher.on('change', (config) => {
  rateLimits.perTenantPerMinute = config.rateLimit.perTenantPerMinute;
});
let cacheTtlSeconds = 30;
configWatcher.on('change', (config) => {
  cacheTtlSeconds = config.cacheTtlSeconds;
});
const logSink = { level: 'info', lines: [], written: 0 };
configWatcher.on('change', (config) => {
  logSink.level = config.logLevel;
});
const BASE_LISTENERS = configWatcher.listenerCount('change');

// --- request logging ----------------------------------------------------------

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };
const LOG_SINK_LINES = 500;

class RequestLogger {
  constructor(requestId, route, method, tenant, client) {
    this.requestId = requestId;
    this.route = route;
    this.method = method;
    this.tenant = tenant;
    this.client = client;
    this.level = levelFor(configWatcher.config, route);
    this.startedAt = Date.now();
    this.fields = { ...SERVICE, requestId, route, tenant };
    this.lines = [];
  }

  applyConfig(config) {
    this.level = levelFor(config, this.route);
  }

  log(level, message, extra) {
    if (LEVELS[level] < LEVELS[this.level]) return;
    this.lines.push(formatLine(this, level, message, extra));
  }

  finish(status) {
    this.log('info', 'request finished', { status, ms: Date.now() - this.startedAt });
    for (const line of this.lines) writeLine(line);
    this.lines = [];
  }
}

function levelFor(config, route) {
  return config.routeLogLevels[route] ?? config.logLevel;
}

function formatLine(logger, level, message, extra) {
  return JSON.stringify({ ts: new Date().toISOString(), level, msg: message, ...logger.fields, ...extra });
}

function writeLine(line) {
  logSink.lines.push(line);
  if (logSink.lines.length > LOG_SINK_LINES) logSink.lines.shift();
  logSink.written++;
}

function createRequestLogger(req, route, tenant) {
  const requestId = req.headers['x-request-id'] ?? `req-${(nextRequest++).toString(36)}`;
  const client = { ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] ?? '-', app: req.headers['x-client-app'] ?? '-' };
  const logger = new RequestLogger(requestId, route, req.method, tenant, client);
  loggersCreated++;
  if (configWatcher.config.flags.dynamicLogLevels) {
    configWatcher.on('change', (config) => logger.applyConfig(config));
  }
  return logger;
}

let nextRequest = 1;
let loggersCreated = 0;

// --- inventory ------------------------------------------------------------------

const STORES = 40;
const inventory = new Map(); // sku -> { sku, name, perStore: Int32Array, reserved: Int32Array, updatedAt }
const reservations = new Map(); // id -> { sku, store, qty, expiresAt }
{
  const r = rng(0x1ee7);
  for (let i = 0; i < 6000; i++) {
    const sku = `SKU-${(200000 + i * 7).toString(36).toUpperCase()}`;
    const perStore = new Int32Array(STORES);
    for (let s = 0; s < STORES; s++) perStore[s] = Math.floor(r() * 60);
    inventory.set(sku, { sku, name: `Item ${i} ${['shelf', 'lamp', 'chair', 'rug', 'vase'][i % 5]}`, perStore, reserved: new Int32Array(STORES), updatedAt: Date.now() });
  }
}
const SKUS = [...inventory.keys()];

function available(item, store) {
  return Math.max(0, item.perStore[store] - item.reserved[store]);
}

function stockSummary(item) {
  let total = 0;
  let stores = 0;
  for (let s = 0; s < STORES; s++) {
    const n = available(item, s);
    total += n;
    if (n > 0) stores++;
  }
  return { sku: item.sku, name: item.name, total, stores };
}

let nextReservation = 1;
every(scaledMs(60), () => {
  const now = programSeconds();
  for (const [id, r] of reservations) {
    if (r.expiresAt <= now) {
      inventory.get(r.sku).reserved[r.store] -= r.qty;
      reservations.delete(id);
    }
  }
});

// --- HTTP ---------------------------------------------------------------------------

function reply(res, logger, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': logger.requestId });
  res.end(body);
  logger.finish(status);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://inventory.local');
  const parts = url.pathname.split('/');
  const tenant = req.headers['x-tenant'] ?? 'default';
  if (parts[1] !== 'v1') {
    res.writeHead(404).end();
    return;
  }
  if (req.method === 'GET' && parts[2] === 'stock' && parts.length === 4) {
    const logger = createRequestLogger(req, 'stock', tenant);
    const item = inventory.get(parts[3]);
    if (item === undefined) return reply(res, logger, 404, '{"error":"unknown sku"}');
    logger.log('debug', 'stock lookup', { sku: item.sku });
    return reply(res, logger, 200, JSON.stringify({ ...stockSummary(item), ttl: cacheTtlSeconds }));
  }
  if (req.method === 'GET' && parts[2] === 'stores' && parts[4] === 'stock') {
    const logger = createRequestLogger(req, 'storeStock', tenant);
    const store = Number(parts[3]);
    const skus = (url.searchParams.get('skus') ?? '').split(',').slice(0, 50);
    const rows = [];
    for (const sku of skus) {
      const item = inventory.get(sku);
      if (item !== undefined) rows.push({ sku, available: available(item, store) });
    }
    logger.log('debug', 'store stock', { store, skus: skus.length });
    return reply(res, logger, 200, JSON.stringify({ store, rows }));
  }
  if (req.method === 'POST' && parts[2] === 'reservations') {
    const logger = createRequestLogger(req, 'reservations', tenant);
    const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    const item = inventory.get(body.sku);
    const store = Number(body.store);
    if (item === undefined || !(store >= 0 && store < STORES)) return reply(res, logger, 400, '{"error":"bad reservation"}');
    if (available(item, store) < body.qty) {
      logger.log('warn', 'insufficient stock', { sku: item.sku, store, qty: body.qty });
      return reply(res, logger, 409, '{"error":"insufficient stock"}');
    }
    const id = `res-${(nextReservation++).toString(36)}`;
    item.reserved[store] += body.qty;
    reservations.set(id, { sku: item.sku, store, qty: body.qty, expiresAt: programSeconds() + configWatcher.config.reservationMinutes * 60 });
    logger.log('info', 'reserved', { id, sku: item.sku, store, qty: body.qty });
    return reply(res, logger, 201, JSON.stringify({ id, sku: item.sku, store, qty: body.qty }));
  }
  res.writeHead(404).end();
}

const ballastMB = buildBallast();
const { port } = await listen(handle);

const random = rng(0x5eed);
const TENANTS = ['acme-retail', 'globex-home', 'initech-stores', 'hooli-market'];
const APPS = ['pos-terminal/3.4.1', 'web-shop/9.12.0', 'picker-app/1.8.2', 'erp-sync/2.0.7'];
let clientRequest = 1;

selfRequests(port, {
  perSecond: 1,
  maxInFlight: 16,
  next: () => {
    const r = random();
    const sku = SKUS[Math.floor(random() * random() * SKUS.length)];
    const tenant = TENANTS[Math.floor(random() * TENANTS.length)];
    const headers = {
      'x-tenant': tenant,
      'x-request-id': `${tenant.slice(0, 3)}-${(clientRequest++).toString(16).padStart(8, '0')}`,
      'x-client-app': APPS[Math.floor(random() * APPS.length)],
      'user-agent': 'node-fetch/3 (+inventory-client)',
    };
    if (r < 0.6) return { method: 'GET', path: `/v1/stock/${sku}`, headers };
    if (r < 0.85) {
      const list = [];
      for (let i = 0; i < 12; i++) list.push(SKUS[Math.floor(random() * SKUS.length)]);
      return { method: 'GET', path: `/v1/stores/${Math.floor(random() * STORES)}/stock?skus=${list.join(',')}`, headers };
    }
    return {
      method: 'POST',
      path: '/v1/reservations',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ sku, store: Math.floor(random() * STORES), qty: 1 + Math.floor(random() * 3) }),
    };
  },
});

reportStats(() => ({
  retained: configWatcher.listenerCount('change') - BASE_LISTENERS,
  listeners: configWatcher.listenerCount('change'),
  configVersion: configWatcher.version,
  dynamicLogLevels: configWatcher.config.flags.dynamicLogLevels,
  requests: loggersCreated,
  logLines: logSink.written,
  reservations: reservations.size,
}));

ready(`inventory API on 127.0.0.1:${port}: per-request loggers subscribe to configWatcher 'change' from ${ONSET_S} s${ballastMB ? ` (ballast ${ballastMB} MB)` : ''}`);
