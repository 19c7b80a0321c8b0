// Offer aggregator of a price-comparison site: GET /v1/offers?product=...
// asks three partner shops' APIs for their offer and merges the answers.
// Outbound calls go through the service's own small HTTP/1.1 client
// (class UpstreamClient): one connection pool per upstream host (class
// HostPool, in the module-level Map `pools`), each pool an array `idle` of
// keep-alive connections (class PooledConnection over a net.Socket) plus a
// count of busy ones; at most 8 connections per host, 4 kept idle, an idle
// connection closed after 60 s unused. Partners are found through the
// service registry (a stand-in polled every 5 minutes): 12 at start, 6 more
// per poll as partners are onboarded, 72 after ~55 minutes, then the set is
// stable. Pools are created on first use and live as long as the host is
// registered; connections come and go at a constant pool size.
//
// The partners' API servers are real node:http servers on 127.0.0.1 (six of
// them, each serving twelve partner host names), answering with
// production-time latencies scaled by the speed.
import http from 'node:http';
import net from 'node:net';
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

const random = rng(0x9001);
const wallMs = (seconds) => (seconds * 1000) / speed;

// --- the outbound HTTP client ---------------------------------------------------------------

const MAX_SOCKETS_PER_HOST = 8;
const MAX_IDLE_PER_HOST = 4;
const IDLE_TIMEOUT_S = 60;
const REQUEST_TIMEOUT_S = 10;

const clientStats = { requests: 0, connectionsOpened: 0, connectionsClosed: 0, reused: 0, errors: 0, timeouts: 0 };

class PooledConnection {
  constructor(pool) {
    this.pool = pool;
    this.socket = net.connect({ host: pool.address, port: pool.port });
    this.socket.setNoDelay(true);
    this.createdAt = programSeconds();
    this.lastUsedAt = this.createdAt;
    this.requests = 0;
    this.current = null;
    this.chunks = [];
    this.closed = false;
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('socket closed')));
    clientStats.connectionsOpened++;
  }

  send(method, path, headers) {
    return new Promise((resolve, reject) => {
      this.current = { resolve, reject, timer: setTimeout(() => this.fail(new Error('upstream timeout'), true), wallMs(REQUEST_TIMEOUT_S)) };
      this.chunks = [];
      this.requests++;
      let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.pool.host}\r\nconnection: keep-alive\r\ncontent-length: 0\r\n`;
      for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
      this.socket.write(`${head}\r\n`);
    });
  }

  onData(chunk) {
    if (this.current === null) return;
    this.chunks.push(chunk);
    const data = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    const end = data.indexOf('\r\n\r\n');
    if (end === -1) return;
    const head = data.subarray(0, end).toString('latin1');
    const lengthMatch = /\r\ncontent-length: *(\d+)/i.exec(head);
    const length = lengthMatch === null ? 0 : Number(lengthMatch[1]);
    if (data.length < end + 4 + length) {
      this.chunks = [data];
      return;
    }
    const status = Number(head.slice(9, 12));
    const body = data.subarray(end + 4, end + 4 + length).toString('utf8');
    const keepAlive = !/\r\nconnection: *close/i.test(head);
    const { resolve, timer } = this.current;
    clearTimeout(timer);
    this.current = null;
    this.chunks = [];
    this.lastUsedAt = programSeconds();
    resolve({ status, body, keepAlive });
  }

  fail(error, timeout = false) {
    if (this.current !== null) {
      const { reject, timer } = this.current;
      clearTimeout(timer);
      this.current = null;
      if (timeout) clientStats.timeouts++;
      else clientStats.errors++;
      reject(error);
    }
    this.close();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.pool.forget(this);
    clientStats.connectionsClosed++;
  }
}

class HostPool {
  constructor(host, address, port) {
    this.host = host;
    this.address = address;
    this.port = port;
    this.idle = [];
    this.busy = 0;
    this.waiting = [];
    this.requests = 0;
    this.latencyBuckets = new Array(12).fill(0);
  }

  acquire() {
    while (this.idle.length > 0) {
      const conn = this.idle.pop();
      if (!conn.closed) {
        this.busy++;
        clientStats.reused++;
        return Promise.resolve(conn);
      }
    }
    if (this.busy < MAX_SOCKETS_PER_HOST) {
      this.busy++;
      return Promise.resolve(new PooledConnection(this));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** A request on `conn` is over: hand the connection to a waiting request, keep it idle, or close it. */
  done(conn, reusable) {
    this.busy--;
    if (!reusable) conn.close();
    const next = this.waiting.shift();
    if (next !== undefined) {
      this.busy++;
      next(reusable ? conn : new PooledConnection(this));
      return;
    }
    if (!reusable) return;
    if (this.idle.length < MAX_IDLE_PER_HOST) this.idle.push(conn);
    else conn.close();
  }

  forget(conn) {
    const index = this.idle.indexOf(conn);
    if (index !== -1) this.idle.splice(index, 1);
  }

  closeIdle(now) {
    for (const conn of [...this.idle]) if (now - conn.lastUsedAt > IDLE_TIMEOUT_S) conn.close();
  }

  observe(seconds) {
    this.requests++;
    this.latencyBuckets[Math.min(11, Math.floor(Math.log2(1 + seconds * 1000)))]++;
  }
}

/** One pool per upstream host, created on first use. */
const pools = new Map();
/** The service registry's view: host name -> { address, port }. */
const directory = new Map();

async function upstreamGet(host, path) {
  let pool = pools.get(host);
  if (pool === undefined) {
    const target = directory.get(host);
    if (target === undefined) throw new Error(`unknown upstream ${host}`);
    pool = new HostPool(host, target.address, target.port);
    pools.set(host, pool);
  }
  const started = programSeconds();
  const conn = await pool.acquire();
  clientStats.requests++;
  let response;
  try {
    response = await conn.send('GET', path, { accept: 'application/json', 'user-agent': 'offer-aggregator/3.8' });
  } catch (error) {
    pool.done(conn, false);
    throw error;
  }
  pool.observe(programSeconds() - started);
  pool.done(conn, response.keepAlive && !conn.closed);
  return response;
}

function closeIdleConnections() {
  const now = programSeconds();
  for (const pool of pools.values()) pool.closeIdle(now);
}

// --- the partners' APIs (six servers, twelve host names each) -------------------------------------

const upstreamServers = [];

function partnerHandler(req, res) {
  const host = req.headers.host ?? 'unknown';
  const url = new URL(req.url ?? '/', `http://${host}`);
  const product = url.searchParams.get('product') ?? '0';
  const latencyS = 0.03 + random() * random() * 0.4;
  setTimeout(() => {
    const offers = [];
    const count = 1 + Math.floor(random() * 3);
    for (let i = 0; i < count; i++) {
      offers.push({ partner: host, product, condition: i === 0 ? 'new' : 'refurbished', priceMinor: 1000 + Math.floor(random() * 90000), shippingMinor: Math.floor(random() * 800), deliveryDays: 1 + Math.floor(random() * 6), url: `https://${host.replace('api.', 'www.')}/p/${product}?ref=compare` });
    }
    const text = JSON.stringify({ offers });
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
    if (random() < 0.002) headers.connection = 'close';
    res.writeHead(200, headers);
    res.end(text);
  }, wallMs(latencyS));
}

async function startPartners() {
  for (let i = 0; i < 6; i++) {
    const server = http.createServer({ keepAliveTimeout: wallMs(75) }, partnerHandler);
    server.keepAliveTimeout = wallMs(75);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    upstreamServers.push(server);
  }
  onShutdown(() => {
    for (const server of upstreamServers) server.closeAllConnections?.();
  });
}

/** Partner host names in onboarding order. */
const PARTNER_HOSTS = Array.from({ length: 72 }, (_, i) => `api.partner-${String(i + 1).padStart(2, '0')}.shops.example`);
let registryVersion = 0;

/** The service registry poll: 12 partners at start, 6 more per poll until all 72 are listed. */
function pollRegistry() {
  registryVersion++;
  const listed = Math.min(PARTNER_HOSTS.length, 6 + 6 * registryVersion);
  for (let i = 0; i < listed; i++) {
    const host = PARTNER_HOSTS[i];
    if (!directory.has(host)) directory.set(host, { address: '127.0.0.1', port: upstreamServers[i % upstreamServers.length].address().port });
  }
}

// --- the aggregator's API ---------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The three partners asked for a product: a stable pick among the registered ones. */
function partnersFor(product) {
  const hosts = [...directory.keys()];
  const picked = new Set();
  let h = product * 2654435761;
  while (picked.size < Math.min(3, hosts.length)) {
    h = (h * 48271 + 11) % 2147483647;
    picked.add(hosts[h % hosts.length]);
  }
  return [...picked];
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://aggregator.local');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/offers') {
      const product = Number(url.searchParams.get('product') ?? 0);
      const results = await Promise.allSettled(partnersFor(product).map((host) => upstreamGet(host, `/v2/offers?product=${product}`)));
      const offers = [];
      let failed = 0;
      for (const result of results) {
        if (result.status === 'fulfilled' && result.value.status === 200) offers.push(...JSON.parse(result.value.body).offers);
        else failed++;
      }
      offers.sort((a, b) => a.priceMinor + a.shippingMinor - (b.priceMinor + b.shippingMinor));
      return sendJson(res, 200, { product, offers, partnersFailed: failed });
    }
    if (req.method === 'GET' && url.pathname === '/v1/upstreams') {
      const out = [];
      for (const pool of pools.values()) out.push({ host: pool.host, idle: pool.idle.length, busy: pool.busy, requests: pool.requests });
      return sendJson(res, 200, { registryVersion, hosts: directory.size, pools: out, ...clientStats });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- wiring ---------------------------------------------------------------------------------------------

const ballastMb = buildBallast();
await startPartners();
pollRegistry();
const { port } = await listen(handler);

every(wallMs(300), pollRegistry);
every(wallMs(10), closeIdleConnections);

// Shoppers comparing prices: 3 product pages/s; ops: one look at the pools a minute.
const shoppers = selfRequests(port, {
  perSecond: 3,
  maxInFlight: 32,
  next: () => {
    const r = random();
    return { method: 'GET', path: `/v1/offers?product=${Math.floor(200_000 * r * r)}` };
  },
});
const ops = selfRequests(port, { perSecond: 1 / 60, maxInFlight: 1, next: () => ({ method: 'GET', path: '/v1/upstreams' }) });

reportStats(() => {
  let idle = 0;
  let busy = 0;
  for (const pool of pools.values()) {
    idle += pool.idle.length;
    busy += pool.busy;
  }
  return {
    retained: idle,
    pools: pools.size,
    busy,
    hosts: directory.size,
    upstreamRequests: clientStats.requests,
    connectionsOpened: clientStats.connectionsOpened,
    connectionsClosed: clientStats.connectionsClosed,
    upstreamErrors: clientStats.errors + clientStats.timeouts,
    requestsFailed: shoppers.failed + ops.failed,
  };
});

ready(
  `http-client-host-pool-discovery: offer aggregator with one pool of keep-alive connections per partner host in pools; 12 -> 72 hosts discovered over ~55 min, then stable (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
