// Ordering API of a food-delivery platform (menus, baskets, order placement,
// order tracking). A small middleware chain runs before every handler:
// authenticate() resolves the customer from the bearer token, locale() picks
// the language and currency, and both store what they found as per-request
// metadata in a module-level WeakMap keyed by the request object
// (`requestMeta`), the way frameworks attach request-scoped state without
// touching the IncomingMessage. Handlers and the access log read it back.
// Nothing deletes entries: the WeakMap lets each entry go when its request is
// garbage, which is the point.
//
// Traffic follows the day: quiet in the morning, a lunch peak around 12:15
// (about 7x the morning rate), back down by mid-afternoon. SCENARIO_CLOCK_H is
// the hour of the simulated day at start (default 9). Handlers wait on the
// restaurant-menu and order stores (in-process stand-ins with production
// latencies, scaled by the speed), so the requests in flight, and their
// metadata, follow the load.
import {
  buildBallast,
  envNumber,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xf00d);
const START_HOUR = envNumber('SCENARIO_CLOCK_H', 9, (v) => v >= 0 && v < 24);

const requestMeta = new WeakMap();
const counters = { requests: 0, inFlight: 0, maxInFlight: 0, ordersPlaced: 0, unauthorised: 0 };

function hourOfDay() {
  return (START_HOUR + programSeconds() / 3600) % 24;
}

/** Requests per second at speed 1 for the hour of the day: 0.5 at night/morning, ~3.7 at the lunch peak. */
function trafficRate() {
  const h = hourOfDay();
  return 0.5 + 3.2 * Math.exp(-(((h - 12.25) / 1.1) ** 2)) + 1.2 * Math.exp(-(((h - 19) / 1.3) ** 2));
}

// --- middleware ----------------------------------------------------------------------------

const TOKENS = new Map();
for (let i = 0; i < 5000; i++) TOKENS.set(`tok_${(i * 2654435761 >>> 0).toString(36)}`, { customerId: `c${i}`, tier: i % 11 === 0 ? 'plus' : 'standard', city: ['AMS', 'RTM', 'UTR', 'EIN'][i % 4] });

function authenticate(req) {
  const header = req.headers.authorization ?? '';
  const account = TOKENS.get(header.slice(7));
  if (account === undefined) return false;
  requestMeta.set(req, {
    requestId: req.headers['x-request-id'] ?? `r${counters.requests}`,
    customerId: account.customerId,
    tier: account.tier,
    city: account.city,
    startedAt: performance.now(),
    locale: 'nl-NL',
    currency: 'EUR',
    flags: { newCheckout: account.customerId.length % 2 === 0, surgeFees: hourOfDay() > 11.5 && hourOfDay() < 13.5 },
    timings: { authMs: 0, storeMs: 0 },
  });
  return true;
}

function locale(req) {
  const meta = requestMeta.get(req);
  const accept = req.headers['accept-language'] ?? '';
  if (accept.startsWith('en')) meta.locale = 'en-GB';
  meta.timings.authMs = performance.now() - meta.startedAt;
}

// --- stores (stand-ins) ----------------------------------------------------------------------

function store(medianS, build) {
  return new Promise((resolve) => setTimeout(() => resolve(build()), scaledMs(medianS * Math.exp((random() - 0.5) * 1.4))));
}

const DISHES = ['Pad thai', 'Margherita', 'Poke bowl', 'Falafel wrap', 'Ramen', 'Burrito', 'Caesar salad', 'Bibimbap', 'Shawarma', 'Sushi box'];

function menu(restaurantId, meta) {
  const n = Number(restaurantId.slice(1));
  return Array.from({ length: 12 + (n % 20) }, (_, i) => ({
    id: `${restaurantId}-d${i}`,
    name: DISHES[(n + i) % DISHES.length],
    price: (650 + ((n * 31 + i * 97) % 1400)) * (meta.flags.surgeFees ? 1.05 : 1),
    available: (n + i) % 13 !== 0,
  }));
}

// --- handlers --------------------------------------------------------------------------------------

function send(req, res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res, url) {
  const meta = requestMeta.get(req);
  if (req.method === 'GET' && url.pathname.startsWith('/v1/restaurants/')) {
    const id = url.pathname.split('/')[3];
    const t0 = performance.now();
    const dishes = await store(0.08, () => menu(id, meta));
    meta.timings.storeMs = performance.now() - t0;
    return send(req, res, 200, { restaurant: id, currency: meta.currency, dishes });
  }
  if (req.method === 'POST' && url.pathname === '/v1/orders') {
    const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    const order = await store(0.25, () => ({ id: `o${++counters.ordersPlaced}`, customerId: meta.customerId, items: body.items, status: 'accepted', eta: 25 + Math.floor(random() * 20) }));
    return send(req, res, 201, order);
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/orders/')) {
    const status = await store(0.03, () => ({ id: url.pathname.split('/')[3], status: ['preparing', 'on the way', 'delivered'][Math.floor(random() * 3)] }));
    return send(req, res, 200, status);
  }
  return send(req, res, 404, { error: 'not found' });
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://orders.local');
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-length': 2 });
    return res.end('ok');
  }
  counters.requests++;
  if (!authenticate(req)) {
    counters.unauthorised++;
    return send(req, res, 401, { error: 'unauthorised' });
  }
  locale(req);
  counters.inFlight++;
  if (counters.inFlight > counters.maxInFlight) counters.maxInFlight = counters.inFlight;
  try {
    await handle(req, res, url);
  } catch {
    if (!res.headersSent) send(req, res, 500, { error: 'internal' });
  } finally {
    counters.inFlight--;
  }
}

// --- clients ---------------------------------------------------------------------------------------

const tokenList = [...TOKENS.keys()];

function customerRequest() {
  const token = random() < 0.01 ? 'tok_expired' : tokenList[Math.floor(random() * tokenList.length)];
  const headers = { authorization: `Bearer ${token}`, 'accept-language': random() < 0.3 ? 'en-GB,en;q=0.9' : 'nl-NL,nl;q=0.9', 'x-request-id': `rq${Math.floor(random() * 1e12).toString(36)}` };
  const r = random();
  if (r < 0.6) return { method: 'GET', path: `/v1/restaurants/r${Math.floor(random() ** 2 * 800)}/menu`, headers };
  if (r < 0.75) {
    const items = Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({ dish: `d${Math.floor(random() * 30)}`, qty: 1 + Math.floor(random() * 2) }));
    return { method: 'POST', path: '/v1/orders', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ items }) };
  }
  return { method: 'GET', path: `/v1/orders/o${Math.floor(random() * 1e6)}`, headers };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const customers = selfRequests(port, { perSecond: trafficRate, maxInFlight: 64, next: customerRequest });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => {
  const peak = counters.maxInFlight;
  counters.maxInFlight = counters.inFlight;
  return {
    retained: counters.inFlight,
    maxInFlight: peak,
    hour: Math.round(hourOfDay() * 100) / 100,
    ratePerSecond: Math.round(trafficRate() * 100) / 100,
    requests: counters.requests,
    ordersPlaced: counters.ordersPlaced,
    requestsFailed: customers.failed + probes.failed,
  };
});

ready(
  `food-order-api-request-meta-weakmap: ordering API, per-request metadata in a WeakMap keyed by the request, 0.5 -> 3.7 req/s lunch peak -> back down (speed ${speed}, clock ${START_HOUR} h, ballast ${ballastMb} MB, port ${port})`,
);
