// request-logger-map — inventory API with a request-scoped logger.
//
// A small HTTP API (GET /v1/items/:sku, POST /v1/reservations) on 127.0.0.1,
// driven by an in-process keep-alive client at 4 req/s (speed 1), the traffic
// a lightly loaded instance behind a gateway sees. Every request gets a child
// logger (pino-style: bindings serialized once into a `chindings` string) that
// is registered in the module-level Map `requestLoggers`, keyed by the request
// id, so that code deep in async call chains (DB hooks, the error reporter) can
// find the request's logger by id. The cleanup on 'finish' deletes
// `bindings.requestID` (typo: the key is `requestId`), so no entry is ever
// removed: ~1.8 KB per request (bindings, their strings, the chindings string,
// the Logger, the Map entry), ~25 MB/h at speed 1.
//
// Cap: the registry refuses to track more than MAX_TRACKED_LOGGERS (80 000,
// ~145 MB) "in-flight" requests and logs a warning once; after that the heap
// stops growing (~5.6 h at speed 1, ~5.6 min at SCENARIO_SPEED=60).
//
// `retained` = entries in requestLoggers.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import {
  buildBallast,
  listen,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 4;
const MAX_TRACKED_LOGGERS = 80_000;

// --- logger ------------------------------------------------------------------

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

/** Where log lines go; in production a pipe to the log shipper. Counts and drops. */
const sink = {
  lines: 0,
  bytes: 0,
  write(line) {
    this.lines++;
    this.bytes += line.length;
  },
};

class Logger {
  constructor(destination, level, bindings, chindings) {
    this.destination = destination;
    this.level = level;
    this.levelValue = LEVELS[level];
    this.bindings = bindings;
    this.chindings = chindings;
  }

  child(bindings) {
    let chindings = this.chindings;
    for (const key of Object.keys(bindings)) {
      chindings += `,"${key}":${JSON.stringify(bindings[key])}`;
    }
    return new Logger(this.destination, this.level, bindings, chindings);
  }

  debug(msg, extra) {
    this.write(LEVELS.debug, msg, extra);
  }

  info(msg, extra) {
    this.write(LEVELS.info, msg, extra);
  }

  warn(msg, extra) {
    this.write(LEVELS.warn, msg, extra);
  }

  write(levelValue, msg, extra) {
    if (levelValue < this.levelValue) return;
    let line = `{"level":${levelValue},"time":${Date.now()}${this.chindings},"msg":${JSON.stringify(msg)}`;
    if (extra !== undefined) line += `,"data":${JSON.stringify(extra)}`;
    this.destination.write(`${line}}\n`);
  }
}

const rootLogger = new Logger(
  sink,
  process.env.LOG_LEVEL ?? 'info',
  { service: 'inventory-api', pid: process.pid, hostname: os.hostname() },
  `,"service":"inventory-api","pid":${process.pid},"hostname":${JSON.stringify(os.hostname())}`,
);

// Request id → that request's logger, for code that only has the id.
const requestLoggers = new Map();
let registryFullWarned = false;

function routeOf(method, url) {
  if (url.startsWith('/v1/items/')) return 'GET /v1/items/:sku';
  if (url.startsWith('/v1/reservations')) return 'POST /v1/reservations';
  if (url === '/healthz') return 'GET /healthz';
  return `${method} <unmatched>`;
}

function createRequestLogger(req) {
  const requestId = req.headers['x-request-id'] ?? randomUUID();
  const bindings = {
    requestId,
    traceId: req.headers['x-trace-id'] ?? requestId.replaceAll('-', ''),
    method: req.method,
    route: routeOf(req.method, req.url),
    tenant: req.headers['x-tenant'] ?? 'public',
    ip: req.socket.remoteAddress,
    userAgent: req.headers['user-agent'] ?? '',
    startedAt: Date.now(),
  };
  const log = rootLogger.child(bindings);
  if (requestLoggers.size < MAX_TRACKED_LOGGERS) {
    requestLoggers.set(requestId, log);
  } else if (!registryFullWarned) {
    registryFullWarned = true;
    rootLogger.warn('request logger registry full; new requests are not tracked', { size: requestLoggers.size });
  }
  return log;
}

/** For the DB hooks and the error reporter. */
export function loggerFor(requestId) {
  return requestLoggers.get(requestId) ?? rootLogger;
}

// --- inventory ---------------------------------------------------------------

const WAREHOUSES = ['AMS-1', 'FRA-2', 'DUB-1', 'MAD-3'];
const inventory = new Map();
for (let i = 0; i < 5000; i++) {
  const sku = `SKU-${(40000 + i).toString(36).toUpperCase()}`;
  inventory.set(sku, {
    sku,
    name: `Component ${i}`,
    onHand: WAREHOUSES.map((w, j) => ({ warehouse: w, qty: (i * (j + 3)) % 250 })),
    reserved: 0,
  });
}
const skus = [...inventory.keys()];

function itemView(item) {
  let total = 0;
  for (const row of item.onHand) total += row.qty;
  return { sku: item.sku, name: item.name, available: total - item.reserved, byWarehouse: item.onHand };
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req, res) {
  const log = createRequestLogger(req);
  const started = performance.now();
  res.on('finish', () => {
    log.info('request completed', { status: res.statusCode, ms: Math.round(performance.now() - started) });
    requestLoggers.delete(log.bindings.requestID);
  });
  log.debug('request received');

  if (req.method === 'GET' && req.url.startsWith('/v1/items/')) {
    const item = inventory.get(decodeURIComponent(req.url.slice('/v1/items/'.length)));
    if (item === undefined) return sendJson(res, 404, { error: 'not found' });
    return sendJson(res, 200, itemView(item));
  }
  if (req.method === 'POST' && req.url === '/v1/reservations') {
    let order;
    try {
      order = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    } catch {
      return sendJson(res, 400, { error: 'bad json' });
    }
    const item = inventory.get(order.sku);
    if (item === undefined) return sendJson(res, 404, { error: 'unknown sku' });
    const view = itemView(item);
    if (view.available < order.qty) {
      log.info('reservation refused', { sku: order.sku, qty: order.qty });
      return sendJson(res, 409, { error: 'insufficient stock', available: view.available });
    }
    item.reserved = (item.reserved + order.qty) % 100; // reservations expire upstream
    return sendJson(res, 201, { reservationId: randomUUID(), sku: order.sku, qty: order.qty });
  }
  if (req.url === '/healthz') return sendJson(res, 200, { ok: true });
  sendJson(res, 404, { error: 'no route' });
}

// --- start -------------------------------------------------------------------

buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    rootLogger.warn('handler failed', { err: String(err) });
    if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
  });
});

const random = rng(0x1061);
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'public'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'okhttp/4.12.0',
  'shop-mobile/5.31.2 (iPhone; iOS 17.4.1)',
];
const client = selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  maxInFlight: 16,
  next() {
    const headers = {
      'x-request-id': randomUUID(),
      'x-tenant': TENANTS[Math.floor(random() * TENANTS.length)],
      'user-agent': AGENTS[Math.floor(random() * AGENTS.length)],
    };
    const sku = skus[Math.floor(random() * skus.length)];
    if (random() < 0.8) return { method: 'GET', path: `/v1/items/${sku}`, headers };
    headers['content-type'] = 'application/json';
    return { method: 'POST', path: '/v1/reservations', headers, body: JSON.stringify({ sku, qty: 1 + Math.floor(random() * 5) }) };
  },
});

reportStats(() => ({
  retained: requestLoggers.size,
  requests: client.completed,
  logLines: sink.lines,
}));
ready(`request-logger-map: inventory API on 127.0.0.1:${port}, ${REQUESTS_PER_SECOND} req/s at speed 1; every request's child logger stays in requestLoggers`);
