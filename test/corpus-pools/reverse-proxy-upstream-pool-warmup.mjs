// Reverse proxy in front of three upstream app servers (two catalogue
// instances and one accounts instance). The proxy speaks HTTP/1.1 to each
// upstream over its own keep-alive connection pool (class UpstreamPool, at
// most 12 connections per upstream): a request takes an idle connection, or
// opens a new one while the pool is below its maximum, or waits in line.
// Connections are never closed for being idle; they are handed out round-robin
// (oldest idle first) and one that errors (the upstream resets it, or sends
// `connection: close`) is dropped and replaced by a fresh one. Traffic ramps
// up over the first ~45 minutes of the morning, so the pools grow to their
// maximum during the first hour and then stay at that size.
//
// The upstreams are node:http servers in this process (127.0.0.1) with
// production latencies scaled by the speed; the proxy itself is the lib's
// listen() server, driven by the lib's keep-alive client.
import http from 'node:http';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  buildBallast,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x9e7a1);
const upstreamRandom = rng(0x55aa);

// --- upstream app servers (stand-ins) -------------------------------------------------

const WORDS = ['oak', 'linen', 'copper', 'harbor', 'slate', 'meadow', 'ember', 'north', 'velvet', 'cobalt', 'quartz', 'maple'];

/** Log-normal production latency in seconds (median `median`, sigma `sigma`). */
function latencySeconds(median, sigma) {
  const u = Math.max(1e-9, upstreamRandom());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * upstreamRandom());
  return median * Math.exp(sigma * z);
}

function productJson(id) {
  const r = rng(id);
  return {
    id,
    title: `${WORDS[id % 12]} ${WORDS[(id >> 3) % 12]} ${['lamp', 'chair', 'rug', 'shelf'][id % 4]}`,
    priceCents: 999 + (id % 400) * 50,
    stock: Math.floor(r() * 200),
    description: Array.from({ length: 30 + (id % 40) }, () => WORDS[Math.floor(r() * 12)]).join(' '),
    images: Array.from({ length: 1 + (id % 5) }, (_, k) => `https://img.example.com/${id}/${k}.jpg`),
  };
}

function appResponse(name, req, body) {
  const url = new URL(req.url, 'http://upstream');
  if (url.pathname.startsWith('/products/')) return { status: 200, latency: latencySeconds(0.08, 0.6), value: productJson(Number(url.pathname.slice(10)) || 1) };
  if (url.pathname === '/search') {
    const n = 10 + Math.floor(upstreamRandom() * 30);
    return { status: 200, latency: latencySeconds(0.35, 0.7), value: { query: url.searchParams.get('q'), hits: Array.from({ length: n }, (_, k) => ({ id: k * 37 + 1, title: productJson(k * 37 + 1).title })) } };
  }
  if (url.pathname === '/account/orders') return { status: 200, latency: latencySeconds(0.25, 0.8), value: { orders: Array.from({ length: 1 + Math.floor(upstreamRandom() * 12) }, (_, k) => ({ id: `o-${k}`, totalCents: k * 1234, status: 'shipped' })) } };
  if (url.pathname === '/account/cart' && req.method === 'POST') return { status: 200, latency: latencySeconds(0.12, 0.5), value: { ok: true, lines: JSON.parse(body || '{"lines":[]}').lines?.length ?? 0 } };
  return { status: 404, latency: 0.005, value: { error: 'not found', server: name } };
}

function createUpstream(name) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const { status, latency, value } = appResponse(name, req, Buffer.concat(chunks).toString('utf8'));
      setTimeout(() => {
        // Now and then the app resets a connection (a deploy draining, a crashed worker).
        if (upstreamRandom() < 0.0015) return req.socket.destroy();
        const text = JSON.stringify(value);
        const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-served-by': name };
        // ... and asks to close the connection after a response now and then.
        if (upstreamRandom() < 0.0005) headers.connection = 'close';
        res.writeHead(status, headers);
        res.end(text);
      }, (latency * 1000) / speed);
    });
  });
  server.keepAliveTimeout = 0; // upstreams keep connections open as long as the proxy wants
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ name, server, port: server.address().port })));
}

// --- connections and pools --------------------------------------------------------------

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/** One keep-alive HTTP/1.1 connection to an upstream; one request at a time. */
class UpstreamConnection {
  constructor(pool, id) {
    this.pool = pool;
    this.id = id;
    this.requests = 0;
    this.pending = null; // { resolve, reject }
    this.buffer = Buffer.alloc(0);
    this.closed = false;
    this.socket = net.connect(pool.port, pool.host);
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('upstream closed the connection')));
  }

  send(method, path, headers, body) {
    this.requests++;
    let head = `${method} ${path} HTTP/1.1\r\n`;
    for (const [key, value] of Object.entries(headers)) head += `${key}: ${value}\r\n`;
    head += `content-length: ${body.length}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(head);
      if (body.length > 0) this.socket.write(body);
    });
  }

  onData(chunk) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (this.buffer.length < end + 4 + length) return;
    const body = this.buffer.subarray(end + 4, end + 4 + length);
    this.buffer = Buffer.alloc(0);
    const pending = this.pending;
    this.pending = null;
    pending?.resolve({ status, headers, body });
    if (headers.connection === 'close') this.fail(new Error('upstream asked to close'));
    else this.pool.release(this);
  }

  fail(error) {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const pending = this.pending;
    this.pending = null;
    pending?.reject(error);
    this.pool.discard(this, error);
  }
}

class UpstreamPool {
  constructor(name, host, port, max) {
    this.name = name;
    this.host = host;
    this.port = port;
    this.max = max;
    this.idle = [];
    this.busy = new Set();
    this.waiting = [];
    this.opened = 0;
    this.replaced = 0;
    this.errors = 0;
    this.peakWaiting = 0;
  }

  get size() {
    return this.idle.length + this.busy.size;
  }

  acquire() {
    const connection = this.idle.shift();
    if (connection !== undefined) {
      this.busy.add(connection);
      return Promise.resolve(connection);
    }
    if (this.size < this.max) {
      const fresh = this.open();
      this.busy.add(fresh);
      return Promise.resolve(fresh);
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.waiting.length > this.peakWaiting) this.peakWaiting = this.waiting.length;
    });
  }

  open() {
    this.opened++;
    return new UpstreamConnection(this, `${this.name}#${this.opened}`);
  }

  release(connection) {
    const next = this.waiting.shift();
    if (next !== undefined) return next(connection);
    this.busy.delete(connection);
    this.idle.push(connection);
  }

  /** A broken connection leaves the pool and a fresh one takes its place. */
  discard(connection, error) {
    this.errors++;
    this.busy.delete(connection);
    const i = this.idle.indexOf(connection);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.stopped) return;
    this.replaced++;
    const replacement = this.open();
    this.busy.add(replacement);
    this.release(replacement);
    lastErrors.push(`${this.name}: ${error.message}`);
    if (lastErrors.length > 20) lastErrors.shift();
  }

  close() {
    this.stopped = true;
    for (const connection of [...this.idle, ...this.busy]) connection.socket.destroy();
  }
}

const lastErrors = [];

// --- the proxy ------------------------------------------------------------------------------

const upstreams = await Promise.all(['catalog-a', 'catalog-b', 'accounts-1'].map(createUpstream));
onShutdown(() => upstreams.forEach((u) => u.server.close()));
const pools = upstreams.map((u) => new UpstreamPool(u.name, '127.0.0.1', u.port, 12));
onShutdown(() => pools.forEach((p) => p.close()));
const routes = [
  { prefix: '/api/catalog/', strip: '/api/catalog', pools: [pools[0], pools[1]], next: 0 },
  { prefix: '/api/account/', strip: '/api', pools: [pools[2]], next: 0 },
];

/** Access log: the last 1 000 requests (for /_proxy/recent). */
const accessLog = [];
const routeStats = new Map(routes.map((r) => [r.prefix, { requests: 0, errors: 0, buckets: new Array(12).fill(0) }]));
const counters = { proxied: 0, badGateway: 0 };

function pickPool(route) {
  const pool = route.pools[route.next % route.pools.length];
  route.next++;
  return pool;
}

function forwardHeaders(req, requestId) {
  const headers = { host: 'app.internal', 'x-request-id': requestId, 'x-forwarded-for': req.socket.remoteAddress ?? '', 'x-forwarded-proto': 'https' };
  for (const [key, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(key) && key !== 'host' && key !== 'content-length') headers[key] = value;
  }
  return headers;
}

function record(route, requestId, req, status, started) {
  const ms = performance.now() - started;
  const stats = routeStats.get(route.prefix);
  stats.requests++;
  if (status >= 500) stats.errors++;
  stats.buckets[Math.min(11, Math.floor(Math.log2(1 + ms * speed)))]++;
  accessLog.push({ requestId, method: req.method, path: req.url, status, ms: Math.round(ms * speed), at: Math.round(programSeconds()) });
  if (accessLog.length > 1000) accessLog.shift();
}

async function proxy(route, req, res) {
  const started = performance.now();
  const requestId = req.headers['x-request-id'] ?? randomUUID();
  const body = req.method === 'GET' ? Buffer.alloc(0) : await readBody(req, 1024 * 1024);
  const path = req.url.slice(route.strip.length);
  const headers = forwardHeaders(req, requestId);
  for (let attempt = 0; attempt < 2; attempt++) {
    const pool = pickPool(route);
    const connection = await pool.acquire();
    try {
      const response = await connection.send(req.method, path, headers, body);
      const out = { 'content-length': response.body.length, 'x-request-id': requestId };
      for (const [key, value] of Object.entries(response.headers)) if (!HOP_BY_HOP.has(key) && key !== 'content-length') out[key] = value;
      res.writeHead(response.status, out);
      res.end(response.body);
      counters.proxied++;
      return record(route, requestId, req, response.status, started);
    } catch {
      // the connection was reset: idempotent requests are retried once on another connection
      if (req.method !== 'GET') break;
    }
  }
  counters.badGateway++;
  res.writeHead(502, { 'content-type': 'application/json' });
  res.end('{"error":"bad gateway"}');
  record(route, requestId, req, 502, started);
}

async function handler(req, res) {
  try {
    const url = req.url ?? '/';
    if (url === '/_proxy/health') {
      const text = JSON.stringify({ ok: true, pools: pools.map((p) => ({ name: p.name, size: p.size, idle: p.idle.length, waiting: p.waiting.length })) });
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(text);
    }
    const route = routes.find((r) => url.startsWith(r.prefix));
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end('{"error":"no route"}');
    }
    await proxy(route, req, res);
  } catch (error) {
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(error.message ?? error) }));
    }
  }
}

// --- the morning's traffic (load) ----------------------------------------------------------

/** Requests per second at speed 1: 2 at opening, ramping to 8 by ~45 min, then steady with a slow wobble. */
function trafficRate() {
  const t = programSeconds();
  const ramp = Math.min(1, 0.25 + (0.75 * t) / 2700);
  return 8 * ramp * (1 + 0.1 * Math.sin(t / 900));
}

function nextRequest() {
  const roll = random();
  if (roll < 0.55) return { method: 'GET', path: `/api/catalog/products/${1 + Math.floor(50_000 * random() ** 2)}` };
  if (roll < 0.8) return { method: 'GET', path: `/api/catalog/search?q=${WORDS[Math.floor(random() * 12)]}+${WORDS[Math.floor(random() * 12)]}` };
  if (roll < 0.93) return { method: 'GET', path: '/api/account/orders', headers: { authorization: `Bearer ${Math.floor(random() * 1e12).toString(36)}` } };
  if (roll < 0.99) {
    const lines = Array.from({ length: 1 + Math.floor(random() * 5) }, () => ({ id: Math.floor(random() * 50_000), qty: 1 }));
    return { method: 'POST', path: '/api/account/cart', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lines }) };
  }
  return { method: 'GET', path: '/_proxy/health' };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const clients = selfRequests(port, { perSecond: trafficRate, maxInFlight: 64, next: nextRequest });

reportStats(() => ({
  retained: pools.reduce((n, p) => n + p.size, 0),
  poolSizes: pools.map((p) => p.size),
  opened: pools.reduce((n, p) => n + p.opened, 0),
  replaced: pools.reduce((n, p) => n + p.replaced, 0),
  waiting: pools.reduce((n, p) => n + p.waiting.length, 0),
  proxied: counters.proxied,
  badGateway: counters.badGateway,
  requestsFailed: clients.failed,
}));

ready(
  `reverse-proxy-upstream-pool-warmup: proxies 2 -> 8 req/s (ramp over 45 min) to 3 upstreams through keep-alive pools of at most 12 connections, recycled, replaced on error (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
