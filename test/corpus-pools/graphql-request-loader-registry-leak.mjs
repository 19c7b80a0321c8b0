// Customer-support console API, GraphQL-style: POST /graphql with a persisted
// operation name and variables (OrderDetails, CustomerOrders, ProductsById).
// Every request gets its own DataLoaders (orders, customers, products) so
// rows are batched and de-duplicated within the request, the usual pattern.
// For the /metrics endpoint (batch sizes, cache hit ratio), the DataLoader
// constructor registers each loader in the module-level Set `loaderRegistry`;
// the `dispose()` that would remove it is never called at the end of a
// request, so every loader stays registered with its cache of loaded rows
// (and its batch function's closure over the request context).
import {
  buildBallast,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x6a4f1);

// --- the database stand-in: rows stored as JSON text, decoded per query -------

const WORDS = ['oak', 'linen', 'copper', 'harbor', 'slate', 'meadow', 'ember', 'north', 'velvet', 'cobalt', 'quartz', 'maple', 'summit', 'delta'];
const word = (r) => WORDS[Math.floor(r() * WORDS.length)];
const seedRandom = rng(0xdb);
const CUSTOMERS = 50_000;
const PRODUCTS = 8_000;
const ORDERS = 200_000;

function customerText(id) {
  const r = rng(id * 7 + 1);
  return JSON.stringify({
    id: `C${id}`,
    name: `${word(r)} ${word(r)}`,
    email: `${word(r)}.${id}@example.com`,
    phone: `+49 30 ${1000000 + Math.floor(r() * 8999999)}`,
    tier: ['standard', 'plus', 'business'][id % 3],
    address: { street: `${Math.floor(r() * 200)} ${word(r)} street`, city: word(r), postcode: String(10000 + Math.floor(r() * 89999)), country: 'DE' },
    createdAt: new Date(1_600_000_000_000 + id * 3_600_000).toISOString(),
    marketingOptIn: r() < 0.4,
  });
}

function productText(id) {
  const r = rng(id * 13 + 5);
  return JSON.stringify({
    id: `P${id}`,
    sku: `SKU-${(100000 + id).toString(36).toUpperCase()}`,
    title: `${word(r)} ${word(r)} ${word(r)} ${['lamp', 'chair', 'table', 'rug', 'shelf'][id % 5]}`,
    description: Array.from({ length: 20 + Math.floor(r() * 30) }, () => word(r)).join(' '),
    priceCents: 999 + Math.floor(r() * 50_000),
    currency: 'EUR',
    stock: Math.floor(r() * 300),
    images: Array.from({ length: 1 + Math.floor(r() * 4) }, (_, k) => `https://img.example.com/p/${id}/${k}.jpg`),
  });
}

function orderText(id) {
  const r = rng(id * 31 + 9);
  const lines = Array.from({ length: 1 + Math.floor(r() ** 2 * 8) }, (_, k) => ({ line: k + 1, productId: `P${Math.floor(PRODUCTS * r() ** 1.5)}`, quantity: 1 + Math.floor(r() * 3) }));
  return JSON.stringify({
    id: `O${id}`,
    customerId: `C${id % CUSTOMERS}`,
    status: ['placed', 'paid', 'shipped', 'delivered', 'returned'][Math.floor(r() * 5)],
    placedAt: new Date(1_690_000_000_000 + id * 120_000).toISOString(),
    totalCents: 0,
    lines,
    shipment: { carrier: ['DHL', 'DPD', 'UPS'][id % 3], tracking: `JD${Math.floor(r() * 1e12)}` },
  });
}

/** The stand-in database: JSON text rows as a driver would hand them over, a few ms per query. */
const db = {
  queries: 0,
  tables: {
    customers: (key) => customerText(Number(key.slice(1))),
    products: (key) => productText(Number(key.slice(1))),
    orders: (key) => orderText(Number(key.slice(1))),
  },
  query(table, keys) {
    this.queries++;
    const encode = this.tables[table];
    const texts = keys.map((key) => encode(key));
    return new Promise((resolve) => setTimeout(() => resolve(texts), 2 + seedRandom() * 6));
  },
};

// --- DataLoader -------------------------------------------------------------------

/** Every loader ever created, for /metrics. */
const loaderRegistry = new Set();

class DataLoader {
  constructor(name, batchFn) {
    this.name = name;
    this.batchFn = batchFn;
    this.cache = new Map();
    this.queue = [];
    this.stats = { loads: 0, hits: 0, batches: 0, keys: 0 };
    loaderRegistry.add(this);
  }

  load(key) {
    this.stats.loads++;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.stats.hits++;
      return cached;
    }
    const promise = new Promise((resolve, reject) => this.queue.push({ key, resolve, reject }));
    this.cache.set(key, promise);
    if (this.queue.length === 1) process.nextTick(() => this.dispatch());
    return promise;
  }

  loadMany(keys) {
    return Promise.all(keys.map((key) => this.load(key)));
  }

  async dispatch() {
    const batch = this.queue;
    this.queue = [];
    this.stats.batches++;
    this.stats.keys += batch.length;
    try {
      const rows = await this.batchFn(batch.map((item) => item.key));
      batch.forEach((item, i) => item.resolve(rows[i]));
    } catch (error) {
      batch.forEach((item) => item.reject(error));
    }
  }

  dispose() {
    loaderRegistry.delete(this);
  }
}

/** The batch function: one query per table per tick, rows decoded into objects. */
async function loadRows(table, keys, context) {
  const texts = await db.query(table, keys);
  return texts.map((text) => {
    const row = JSON.parse(text);
    row._loadedFor = context.requestId;
    return row;
  });
}

function createLoaders(context) {
  return {
    orders: new DataLoader('orders', (keys) => loadRows('orders', keys, context)),
    customers: new DataLoader('customers', (keys) => loadRows('customers', keys, context)),
    products: new DataLoader('products', (keys) => loadRows('products', keys, context)),
  };
}

// --- resolvers ----------------------------------------------------------------------

async function resolveOrder(orderId, loaders) {
  const order = await loaders.orders.load(orderId);
  const [customer, products] = await Promise.all([
    loaders.customers.load(order.customerId),
    loaders.products.loadMany(order.lines.map((line) => line.productId)),
  ]);
  const lines = order.lines.map((line, i) => ({ ...line, product: { id: products[i].id, title: products[i].title, priceCents: products[i].priceCents } }));
  return { id: order.id, status: order.status, placedAt: order.placedAt, customer: { id: customer.id, name: customer.name, email: customer.email }, lines, totalCents: lines.reduce((s, l) => s + l.product.priceCents * l.quantity, 0), shipment: order.shipment };
}

const operations = {
  async OrderDetails(variables, loaders) {
    return { order: await resolveOrder(variables.id, loaders) };
  },
  async CustomerOrders(variables, loaders) {
    const customer = await loaders.customers.load(variables.customerId);
    const n = Number(variables.customerId.slice(1));
    const orderIds = Array.from({ length: Math.min(variables.first ?? 10, 10) }, (_, k) => `O${n + k * CUSTOMERS}`);
    const orders = await Promise.all(orderIds.map((id) => resolveOrder(id, loaders)));
    return { customer: { id: customer.id, name: customer.name, tier: customer.tier, address: customer.address, orders } };
  },
  async ProductsById(variables, loaders) {
    const products = await loaders.products.loadMany(variables.ids);
    return { products: products.map((p) => ({ id: p.id, sku: p.sku, title: p.title, stock: p.stock, priceCents: p.priceCents })) };
  },
};

// --- HTTP ---------------------------------------------------------------------------

const counters = { requests: 0, errors: 0 };
let requestSeq = 0;

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function metrics() {
  const byName = {};
  for (const loader of loaderRegistry) {
    const m = (byName[loader.name] ??= { loaders: 0, loads: 0, hits: 0, batches: 0 });
    m.loaders++;
    m.loads += loader.stats.loads;
    m.hits += loader.stats.hits;
    m.batches += loader.stats.batches;
  }
  return byName;
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/graphql') {
      counters.requests++;
      const { operationName, variables } = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
      const operation = operations[operationName];
      if (operation === undefined) return sendJson(res, 400, { errors: [{ message: `unknown operation ${operationName}` }] });
      const context = { requestId: `req-${(++requestSeq).toString(36)}`, agent: req.headers['x-agent-id'] ?? 'anonymous', startedAt: programSeconds() };
      const loaders = createLoaders(context);
      try {
        return sendJson(res, 200, { data: await operation(variables, loaders) });
      } catch (error) {
        counters.errors++;
        return sendJson(res, 200, { data: null, errors: [{ message: String(error.message ?? error) }] });
      }
    }
    if (req.method === 'GET' && req.url === '/metrics') return sendJson(res, 200, metrics());
    if (req.method === 'GET' && req.url === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { errors: [{ message: 'not found' }] });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { errors: [{ message: String(error.message ?? error) }] });
  }
}

// --- support agents (load) ------------------------------------------------------------

function nextOperation() {
  const roll = random();
  let body;
  if (roll < 0.55) body = { operationName: 'OrderDetails', variables: { id: `O${Math.floor(random() * ORDERS)}` } };
  else if (roll < 0.8) body = { operationName: 'CustomerOrders', variables: { customerId: `C${Math.floor(random() * CUSTOMERS)}`, first: 3 + Math.floor(random() * 8) } };
  else body = { operationName: 'ProductsById', variables: { ids: Array.from({ length: 5 + Math.floor(random() * 20) }, () => `P${Math.floor(PRODUCTS * random() ** 1.5)}`) } };
  return { method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json', 'x-agent-id': `agent-${Math.floor(random() * 40)}` }, body: JSON.stringify(body) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~40 support agents: one operation every ~5 s in all; Prometheus scrapes /metrics every 30 s.
const agents = selfRequests(port, { perSecond: 0.2, maxInFlight: 16, next: nextOperation });
const scraper = selfRequests(port, { perSecond: 1 / 30, maxInFlight: 1, next: () => ({ method: 'GET', path: random() < 0.8 ? '/metrics' : '/healthz' }) });

reportStats(() => ({
  retained: loaderRegistry.size,
  requests: counters.requests,
  dbQueries: db.queries,
  errors: counters.errors,
  requestsFailed: agents.failed + scraper.failed,
}));

ready(
  `graphql-request-loader-registry-leak: support-console GraphQL API, 0.2 op/s; per-request DataLoaders stay in the module-level loaderRegistry with their row caches (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
