// Inventory API of a warehouse-management platform. Stock reads and order
// reservations go to the inventory database through a home-grown connection
// pool (class ConnectionPool): idle connections in an array, checked-out ones
// in the private Set #checkedOut, no hard limit on open connections (only
// maxIdle), because the database side is sized for far more than this
// instance ever opens.
//
// Every query runs through withConnection(), which acquires, runs the work and
// releases. It has no try/finally: when a query throws, the connection is
// never released and stays in #checkedOut for good (the handler catches the
// error and answers 409, so nobody notices).
//
// Until the onset no query fails. At the onset (default 1.5 h) the flag
// service turns on `reservations.nowait` for this region: reservations now
// take the stock row with SELECT ... FOR UPDATE NOWAIT, and when another
// order holds the row lock the database answers 55P03 lock_not_available.
// Hot SKUs are contended, so ~8 % of reservation lines fail from then on and
// each one leaves its connection checked out.
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

const random = rng(0x1b0c4a);
const ONSET_S = onsetSeconds(5400);

// --- the database stand-in -------------------------------------------------------

const SKU_COUNT = 24_000;
const WAREHOUSES = ['AMS1', 'AMS2', 'FRA1', 'MAD1', 'WAW1'];
const STATEMENTS = {
  stockBySku: 'SELECT sku, warehouse, on_hand, reserved, updated_at FROM stock WHERE sku = $1 ORDER BY warehouse',
  lockStock: 'SELECT on_hand, reserved FROM stock WHERE sku = $1 AND warehouse = $2 FOR UPDATE NOWAIT',
  lockStockWait: 'SELECT on_hand, reserved FROM stock WHERE sku = $1 AND warehouse = $2 FOR UPDATE',
  reserve: 'UPDATE stock SET reserved = reserved + $3, updated_at = now() WHERE sku = $1 AND warehouse = $2',
  insertReservation: 'INSERT INTO reservations (order_id, sku, warehouse, quantity, expires_at) VALUES ($1, $2, $3, $4, $5)',
};
const COLUMNS = {
  stockBySku: ['sku', 'warehouse', 'on_hand', 'reserved', 'updated_at'],
  lockStock: ['on_hand', 'reserved'],
  lockStockWait: ['on_hand', 'reserved'],
  reserve: [],
  insertReservation: [],
};

class DatabaseError extends Error {
  constructor(message, code, detail) {
    super(message);
    this.name = 'DatabaseError';
    this.code = code;
    this.detail = detail;
    this.severity = 'ERROR';
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const db = { connections: 0, queries: 0, lockConflicts: 0 };

/** Stock level of a SKU in a warehouse, derived (the table is not kept in memory). */
function stockRow(sku, warehouse, now) {
  const n = Number(sku.slice(4));
  return { sku, warehouse, on_hand: (n * 37 + warehouse.length * 11) % 900, reserved: (n * 7 + Math.floor(now / 600)) % 40, updated_at: new Date(1_717_000_000_000 + now * 1000).toISOString() };
}

/** Contention on a row lock: the popular SKUs are the ones other orders are reserving too. */
function rowLocked(sku) {
  const n = Number(sku.slice(4));
  const contention = n < 300 ? 0.25 : n < 2_000 ? 0.1 : 0.02;
  return random() < contention;
}

class PooledConnection {
  constructor(id, handshake) {
    this.id = id;
    this.database = 'inventory';
    this.user = 'inventory_api';
    this.processId = handshake.processId;
    this.secretKey = handshake.secretKey;
    this.parameters = handshake.parameters;
    this.prepared = new Map();
    this.openedAt = programSeconds();
    this.checkedOutAt = 0;
    this.lastUsedAt = 0;
    this.queries = 0;
    this.txStatus = 'I';
    this.lastQuery = null;
    this.lastError = null;
    this.closed = false;
  }

  /** Prepares (once per connection, like the driver does) and runs a named statement. */
  async query(name, params) {
    if (this.closed) throw new DatabaseError('connection is closed', '08003');
    let statement = this.prepared.get(name);
    if (statement === undefined) {
      await sleep(1);
      statement = {
        name: `s${this.id}_${this.prepared.size}`,
        text: STATEMENTS[name],
        paramTypes: params.map((p) => (typeof p === 'number' ? 23 : 25)),
        fields: COLUMNS[name].map((column, i) => ({ name: column, tableOid: 16_384 + i, columnId: i + 1, typeOid: column.endsWith('_at') ? 1184 : column === 'sku' || column === 'warehouse' ? 1043 : 23, format: 'text' })),
      };
      this.prepared.set(name, statement);
    }
    this.queries++;
    this.lastUsedAt = programSeconds();
    this.lastQuery = { statement: statement.name, params, startedAt: this.lastUsedAt };
    db.queries++;
    await sleep(1 + Math.floor(random() * 4));
    const now = programSeconds();
    if (name === 'stockBySku') return WAREHOUSES.map((w) => stockRow(params[0], w, now));
    if (name === 'lockStock' && rowLocked(params[0])) {
      db.lockConflicts++;
      const error = new DatabaseError(`could not obtain lock on row in relation "stock"`, '55P03', `Key (sku, warehouse)=(${params[0]}, ${params[1]}) is locked by another transaction.`);
      this.lastError = error;
      this.txStatus = 'E';
      throw error;
    }
    if (name === 'lockStock' || name === 'lockStockWait') return [stockRow(params[0], params[1], now)];
    return [];
  }

  close() {
    this.closed = true;
    db.connections--;
  }
}

/** Opens a session: startup, authentication, the server's ParameterStatus messages. */
async function connect(id) {
  await sleep(3 + Math.floor(random() * 6));
  db.connections++;
  const processId = 40_000 + Math.floor(random() * 20_000);
  return new PooledConnection(id, {
    processId,
    secretKey: Math.floor(random() * 2 ** 31),
    parameters: {
      server_version: '15.6',
      server_encoding: 'UTF8',
      client_encoding: 'UTF8',
      application_name: `inventory-api/${process.pid}/conn-${id}`,
      DateStyle: 'ISO, MDY',
      IntervalStyle: 'postgres',
      TimeZone: 'Etc/UTC',
      integer_datetimes: 'on',
      is_superuser: 'off',
      session_authorization: 'inventory_api',
      standard_conforming_strings: 'on',
      search_path: `"$user", public, inventory_${WAREHOUSES[id % WAREHOUSES.length].toLowerCase()}`,
      backend_pid: String(processId),
    },
  });
}

// --- the pool ---------------------------------------------------------------------------

class ConnectionPool {
  #idle = [];
  #checkedOut = new Set();
  #nextId = 1;
  #maxIdle;
  #idleTimeoutS;
  counters = { opened: 0, closed: 0, acquired: 0, released: 0 };

  constructor({ maxIdle = 10, idleTimeoutS = 300 } = {}) {
    this.#maxIdle = maxIdle;
    this.#idleTimeoutS = idleTimeoutS;
  }

  get idleCount() {
    return this.#idle.length;
  }

  get checkedOutCount() {
    return this.#checkedOut.size;
  }

  async acquire() {
    let conn = this.#idle.pop();
    if (conn === undefined) {
      conn = await connect(this.#nextId++);
      this.counters.opened++;
    }
    conn.checkedOutAt = programSeconds();
    this.#checkedOut.add(conn);
    this.counters.acquired++;
    return conn;
  }

  release(conn) {
    if (!this.#checkedOut.delete(conn)) return;
    this.counters.released++;
    conn.lastQuery = null;
    if (this.#idle.length < this.#maxIdle && !conn.closed) {
      this.#idle.push(conn);
    } else {
      conn.close();
      this.counters.closed++;
    }
  }

  /** Closes connections idle for longer than idleTimeoutS (keeps two warm). */
  reapIdle() {
    const now = programSeconds();
    while (this.#idle.length > 2 && now - this.#idle[0].lastUsedAt > this.#idleTimeoutS) {
      this.#idle.shift().close();
      this.counters.closed++;
    }
  }
}

const pool = new ConnectionPool({ maxIdle: 10, idleTimeoutS: 300 });
setInterval(() => pool.reapIdle(), 30_000 / speed).unref();

async function withConnection(work) {
  const conn = await pool.acquire();
  const result = await work(conn);
  pool.release(conn);
  return result;
}

// --- feature flags --------------------------------------------------------------------

function flagEnabled(name) {
  if (name === 'reservations.nowait') return programSeconds() >= ONSET_S;
  return false;
}

// --- HTTP -------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const SKU_PATTERN = /^SKU-\d{6}$/;
const orders = { accepted: 0, conflicts: 0, lines: 0 };

/** Reserves one order line: lock the row in the nearest warehouse, bump `reserved`, record it. */
function reserveLine(orderId, line) {
  const nowait = flagEnabled('reservations.nowait');
  return withConnection(async (conn) => {
    const [row] = await conn.query(nowait ? 'lockStock' : 'lockStockWait', [line.sku, line.warehouse]);
    if (row.on_hand - row.reserved < line.quantity) return { ...line, status: 'backordered' };
    await conn.query('reserve', [line.sku, line.warehouse, line.quantity]);
    await conn.query('insertReservation', [orderId, line.sku, line.warehouse, line.quantity, new Date(1_717_000_000_000 + (programSeconds() + 900) * 1000).toISOString()]);
    return { ...line, status: 'reserved' };
  });
}

async function handleReservation(req, res) {
  let order;
  try {
    order = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
  } catch {
    return sendJson(res, 400, { error: 'invalid JSON' });
  }
  if (typeof order.orderId !== 'string' || !Array.isArray(order.lines) || order.lines.length === 0 || order.lines.length > 50) {
    return sendJson(res, 422, { error: 'orderId and 1..50 lines required' });
  }
  const results = [];
  try {
    for (const line of order.lines) {
      if (!SKU_PATTERN.test(line.sku) || !Number.isInteger(line.quantity) || line.quantity < 1) {
        return sendJson(res, 422, { error: `bad line ${JSON.stringify(line)}` });
      }
      orders.lines++;
      results.push(await reserveLine(order.orderId, line));
    }
  } catch (error) {
    if (error instanceof DatabaseError && error.code === '55P03') {
      orders.conflicts++;
      return sendJson(res, 409, { error: 'stock row locked, retry', code: error.code, reserved: results.length });
    }
    return sendJson(res, 500, { error: 'internal error' });
  }
  orders.accepted++;
  sendJson(res, 201, { orderId: order.orderId, lines: results });
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://inventory.local');
  if (req.method === 'GET' && url.pathname.startsWith('/v1/stock/')) {
    const sku = url.pathname.slice('/v1/stock/'.length);
    if (!SKU_PATTERN.test(sku)) return sendJson(res, 400, { error: 'bad sku' });
    try {
      const rows = await withConnection((conn) => conn.query('stockBySku', [sku]));
      return sendJson(res, 200, { sku, warehouses: rows.map((r) => ({ warehouse: r.warehouse, available: r.on_hand - r.reserved })) });
    } catch {
      return sendJson(res, 500, { error: 'internal error' });
    }
  }
  if (req.method === 'POST' && url.pathname === '/v1/reservations') return handleReservation(req, res);
  if (req.method === 'GET' && url.pathname === '/healthz') {
    return sendJson(res, 200, { ok: true, pool: { idle: pool.idleCount, checkedOut: pool.checkedOutCount } });
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: storefront stock checks, the order service, the load balancer ---------------

const skuOf = (n) => `SKU-${String(n).padStart(6, '0')}`;
const popularSku = () => skuOf(Math.floor(SKU_COUNT * random() ** 3));
let orderSeq = 0;

function storefrontRequest() {
  if (random() < 0.03) return { method: 'GET', path: '/healthz' };
  return { method: 'GET', path: `/v1/stock/${popularSku()}` };
}

function orderRequest() {
  const lineCount = 1 + Math.floor(-Math.log(1 - random()) * 2.2);
  const lines = [];
  for (let i = 0; i < Math.min(lineCount, 20); i++) {
    lines.push({ sku: popularSku(), warehouse: WAREHOUSES[Math.floor(random() * WAREHOUSES.length)], quantity: 1 + Math.floor(random() ** 2 * 6) });
  }
  const body = JSON.stringify({ orderId: `ORD-${(1_000_000 + ++orderSeq).toString(36).toUpperCase()}`, channel: random() < 0.7 ? 'web' : 'app', lines });
  return { method: 'POST', path: '/v1/reservations', headers: { 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const storefront = selfRequests(port, { perSecond: 4, maxInFlight: 16, next: storefrontRequest });
const orderService = selfRequests(port, { perSecond: 2, maxInFlight: 8, next: orderRequest });

reportStats(() => ({
  retained: pool.checkedOutCount,
  idle: pool.idleCount,
  opened: pool.counters.opened,
  dbConnections: db.connections,
  queries: db.queries,
  lockConflicts: db.lockConflicts,
  orders: orders.accepted,
  conflicts: orders.conflicts,
  nowait: flagEnabled('reservations.nowait'),
  requestsFailed: storefront.failed + orderService.failed,
}));

ready(
  `inventory-db-pool-checkout-leak: inventory API, 4 stock reads/s + 2 orders/s; from ${ONSET_S} s NOWAIT reservations fail on locked rows and withConnection never releases the connection (#checkedOut grows) (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
