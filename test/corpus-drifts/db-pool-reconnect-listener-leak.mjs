// Account service of a SaaS product behind a home-grown database client
// wrapper: class DbPool keeps 16-20 connections to Postgres (through a
// connection proxy that resets connections idle for more than ~2 minutes)
// and hands out the most recently used idle one, so under the service's
// ~3 req/s most of the pool sits idle and gets reset, and the pool reopens
// them to keep its warm minimum: a few reconnects a minute. The wrapper's
// openConnection() builds a small ConnectionState (the server's parameters,
// the type-parser table it loads per connection, a prepared-statement cache,
// a latency ring, counters) and, so that a
// connection follows a primary failover, subscribes it to the module-level
// EventEmitter `clusterEvents` (the topology watcher's bus, shared by the
// whole process) with a closure over the state. When the proxy resets the
// connection the pool drops it and opens a new one, but the 'failover'
// listener is never removed, so every reset leaves a listener behind and the
// listener keeps the dead connection's state. The listener array of
// `clusterEvents` grows by a few entries a minute, forever.
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

const random = rng(0xdb9001);

// --- the topology watcher's bus (long-lived, process-wide) --------------------------------------

const clusterEvents = new EventEmitter();
clusterEvents.setMaxListeners(100); // the pool, the cache client, the job runner and the health checker all subscribe
const topology = { primary: 'pg-main-1.internal:5432', failovers: 0 };

// --- the database stand-in (behind the proxy) --------------------------------------------------------

const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});

/** Runs fn after `ms` of production time (a few ms of database latency is under a wall ms at high speeds). */
function later(ms, fn) {
  if (ms / speed < 1) {
    setImmediate(fn);
    return;
  }
  const timer = setTimeout(() => {
    pendingTimers.delete(timer);
    fn();
  }, ms / speed);
  pendingTimers.add(timer);
}

const SERVER_PARAMETERS = {
  server_version: '15.6',
  server_encoding: 'UTF8',
  client_encoding: 'UTF8',
  DateStyle: 'ISO, MDY',
  TimeZone: 'UTC',
  integer_datetimes: 'on',
  standard_conforming_strings: 'on',
  application_name: 'account-service',
  IntervalStyle: 'postgres',
  is_superuser: 'off',
  default_transaction_read_only: 'off',
  in_hot_standby: 'off',
};

const STATEMENTS = {
  accountById: 'SELECT id, name, plan, seats, owner_id, created_at, updated_at, settings FROM accounts WHERE id = $1',
  membersOfAccount: 'SELECT u.id, u.email, u.name, m.role, m.joined_at FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 ORDER BY m.joined_at LIMIT 200',
  invoicesOfAccount: 'SELECT id, number, total_cents, currency, status, issued_at FROM invoices WHERE account_id = $1 ORDER BY issued_at DESC LIMIT 24',
  touchSession: 'UPDATE sessions SET last_seen_at = now() WHERE id = $1 RETURNING user_id',
  auditInsert: 'INSERT INTO audit_events (account_id, actor_id, kind, payload) VALUES ($1, $2, $3, $4)',
  featureFlags: 'SELECT key, enabled, rollout FROM feature_flags WHERE account_id = $1 OR account_id IS NULL',
};

/** oid -> type name, as the wrapper loads it from pg_type on every new connection. */
const TYPE_OIDS = [
  [16, 'bool'], [17, 'bytea'], [18, 'char'], [19, 'name'], [20, 'int8'], [21, 'int2'], [23, 'int4'], [25, 'text'], [26, 'oid'],
  [114, 'json'], [142, 'xml'], [600, 'point'], [700, 'float4'], [701, 'float8'], [790, 'money'], [829, 'macaddr'], [869, 'inet'],
  [1000, '_bool'], [1005, '_int2'], [1007, '_int4'], [1009, '_text'], [1016, '_int8'], [1021, '_float4'], [1022, '_float8'],
  [1042, 'bpchar'], [1043, 'varchar'], [1082, 'date'], [1083, 'time'], [1114, 'timestamp'], [1115, '_timestamp'],
  [1184, 'timestamptz'], [1185, '_timestamptz'], [1186, 'interval'], [1266, 'timetz'], [1700, 'numeric'], [2950, 'uuid'],
  [2951, '_uuid'], [3802, 'jsonb'], [3807, '_jsonb'], [3904, 'int4range'], [3926, 'int8range'], [4089, 'regnamespace'],
].map(([oid, name]) => [oid, { name, binary: oid < 1000 }]);

// --- the client wrapper ------------------------------------------------------------------------------

class ConnectionState {
  constructor(id, host) {
    this.id = id;
    this.host = host;
    this.processId = 10_000 + Math.floor(random() * 50_000);
    this.secretKey = Math.floor(random() * 2 ** 31);
    this.openedAt = programSeconds();
    this.lastUsedAt = this.openedAt;
    this.parameters = { ...SERVER_PARAMETERS };
    this.preparedStatements = new Map();
    this.typeParsers = new Map(TYPE_OIDS); // loaded from pg_type at startup
    this.latencies = new Array(64).fill(0); // ring of the last 64 query times (ms)
    this.queries = 0;
    this.closed = false;
  }

  recordLatency(ms) {
    this.latencies[this.queries % this.latencies.length] = ms;
    this.queries++;
  }
}

class DbPool {
  constructor({ min, max, idleResetSeconds }) {
    this.min = min;
    this.max = max;
    this.idleResetSeconds = idleResetSeconds;
    this.idle = []; // most recently used at the end
    this.busy = new Set();
    this.waiting = [];
    this.opened = 0;
    this.resets = 0;
    this.seq = 0;
  }

  /** Opens a connection, follows failovers. */
  openConnection() {
    const state = new ConnectionState(`conn-${++this.seq}`, topology.primary);
    clusterEvents.on('failover', (primary) => {
      if (state.closed) return;
      state.host = primary;
      state.preparedStatements.clear();
    });
    this.opened++;
    return state;
  }

  acquire() {
    const connection = this.idle.pop();
    if (connection !== undefined) {
      this.busy.add(connection);
      return Promise.resolve(connection);
    }
    if (this.busy.size < this.max) {
      const fresh = this.openConnection();
      this.busy.add(fresh);
      return new Promise((resolve) => later(3 + random() * 4, () => resolve(fresh))); // TCP + TLS + startup
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(connection) {
    connection.lastUsedAt = programSeconds();
    const next = this.waiting.shift();
    if (next !== undefined) return next(connection);
    this.busy.delete(connection);
    this.idle.push(connection);
  }

  /** Opens the warm minimum at start. */
  warm() {
    const now = programSeconds();
    while (this.idle.length + this.busy.size < this.min) {
      const connection = this.openConnection();
      connection.lastUsedAt = now;
      this.idle.unshift(connection);
    }
  }

  /** The proxy resets connections idle for longer than its timeout; the pool reconnects to keep a warm minimum. */
  checkIdle() {
    const now = programSeconds();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const connection = this.idle[i];
      if (now - connection.lastUsedAt > this.idleResetSeconds * (0.8 + 0.4 * ((connection.processId % 10) / 10))) {
        connection.closed = true;
        this.idle.splice(i, 1);
        this.resets++;
        const replacement = this.openConnection();
        replacement.lastUsedAt = now;
        this.idle.unshift(replacement);
      }
    }
  }

  async query(name, params) {
    const connection = await this.acquire();
    try {
      if (!connection.preparedStatements.has(name)) {
        connection.preparedStatements.set(name, { text: STATEMENTS[name], paramTypes: params.map((p) => (typeof p === 'number' ? 'int8' : 'text')), preparedAt: programSeconds() });
      }
      const ms = 1 + random() * 6;
      connection.recordLatency(ms);
      return await new Promise((resolve) => later(ms, () => resolve(rowsFor(name, params))));
    } finally {
      this.release(connection);
    }
  }
}

function rowsFor(name, params) {
  const id = params[0];
  switch (name) {
    case 'accountById':
      return [{ id, name: `Account ${id}`, plan: ['team', 'business'][id.length % 2], seats: 5 + (id.charCodeAt(id.length - 1) % 40), settings: { sso: false, region: 'eu' } }];
    case 'membersOfAccount':
      return Array.from({ length: 3 + (id.charCodeAt(id.length - 1) % 12) }, (_, i) => ({ id: `usr_${i}`, email: `user${i}@example.com`, role: i === 0 ? 'owner' : 'member' }));
    case 'invoicesOfAccount':
      return Array.from({ length: 6 }, (_, i) => ({ id: `inv_${i}`, totalCents: 4900 * (i + 1), status: 'paid' }));
    case 'featureFlags':
      return [{ key: 'new-billing', enabled: true, rollout: 0.5 }];
    default:
      return [];
  }
}

const db = new DbPool({ min: 16, max: 20, idleResetSeconds: 120 });
db.warm();

// --- HTTP ---------------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://accounts.local');
  const parts = url.pathname.split('/');
  try {
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, pool: { idle: db.idle.length, busy: db.busy.size } });
    if (req.method === 'GET' && parts[2] === 'accounts' && parts[3]) {
      const id = parts[3];
      await db.query('touchSession', [req.headers['x-session'] ?? 'anon']);
      if (parts[4] === 'members') return sendJson(res, 200, await db.query('membersOfAccount', [id]));
      if (parts[4] === 'invoices') return sendJson(res, 200, await db.query('invoicesOfAccount', [id]));
      const [account, flags] = await Promise.all([db.query('accountById', [id]), db.query('featureFlags', [id])]);
      return sendJson(res, 200, { ...account[0], flags });
    }
    if (req.method === 'POST' && parts[2] === 'accounts' && parts[4] === 'events') {
      await db.query('auditInsert', [parts[3], 'usr_0', 'settings.changed', '{}']);
      return sendJson(res, 202, { ok: true });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the apps and the topology watcher (the load) ---------------------------------------------------------

function accountId() {
  return `acc_${(0x4000 + Math.floor(random() ** 1.5 * 30_000)).toString(36)}`;
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const apps = selfRequests(port, {
  perSecond: 3,
  maxInFlight: 32,
  next: () => {
    const roll = random();
    const headers = { 'x-session': `sess_${Math.floor(random() * 1e9).toString(36)}` };
    if (roll < 0.5) return { method: 'GET', path: `/v1/accounts/${accountId()}`, headers };
    if (roll < 0.7) return { method: 'GET', path: `/v1/accounts/${accountId()}/members`, headers };
    if (roll < 0.85) return { method: 'GET', path: `/v1/accounts/${accountId()}/invoices`, headers };
    if (roll < 0.95) return { method: 'POST', path: `/v1/accounts/${accountId()}/events`, headers, body: '{}' };
    return { method: 'GET', path: '/healthz' };
  },
});

// The pool's housekeeping every 10 s; the topology watcher polls every 30 s (a failover is rare).
every(10_000 / speed, () => db.checkIdle());
every(30_000 / speed, () => {
  if (random() < 0.0005) {
    topology.failovers++;
    topology.primary = topology.primary === 'pg-main-1.internal:5432' ? 'pg-main-2.internal:5432' : 'pg-main-1.internal:5432';
    clusterEvents.emit('failover', topology.primary);
  }
});

// The other subscribers of the bus (one each, for the life of the process).
clusterEvents.on('failover', () => {}); // cache client
clusterEvents.on('failover', () => {}); // health checker

reportStats(() => ({
  retained: clusterEvents.listenerCount('failover'),
  connectionsOpened: db.opened,
  resets: db.resets,
  idle: db.idle.length,
  busy: db.busy.size,
  requestsFailed: apps.failed,
}));

ready(
  `db-pool-reconnect-listener-leak: ~3 req/s over a 16-20-connection pool whose idle connections the proxy resets a few times a minute; each reconnect adds a 'failover' listener to clusterEvents holding the old ConnectionState (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
