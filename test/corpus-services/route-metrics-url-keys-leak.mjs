// Storefront API with a home-made per-route metrics middleware (leak, JS heap).
//
// Every request goes through metricsMiddleware(), which times it and, when
// the response finishes, calls recordRequest(routeKey(req), ...). The small
// hot helper routeKey() was meant to give "GET /v1/search" but builds the key
// from req.url, i.e. the full URL with its query string. The per-key
// statistics live in the module-level Map `routeStats`, which nothing ever
// prunes. Product pages repeat (a bounded set of ids), but search queries,
// the web client's cache-busting `_=` parameter on recommendations and the
// tracking pixel's session ids make new keys all day: the Map grows by a few
// thousand keys an hour, from the start. /metrics (scraped every minute)
// renders the top routes and the series count.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 4; // storefront API behind the CDN
const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000];
const SESSION_SECONDS = 10 * 60;
const ACTIVE_SESSIONS = 150;
const CART_IDLE_SECONDS = 30 * 60;
const SCRAPE_EVERY_SECONDS = 60;

const random = rng(0x40e7);

// --- Metrics middleware ----------------------------------------------------------

const routeStats = new Map(); // key -> { route, count, errors, totalMs, maxMs, bytesOut, buckets, firstSeen, lastSeen }
const startedAt = process.hrtime.bigint();

function routeKey(req) {
  return `${req.method} ${req.url}`;
}

function bucketIndex(ms) {
  let i = 0;
  while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
  return i;
}

function recordRequest(key, status, ms, bytes) {
  let stats = routeStats.get(key);
  if (stats === undefined) {
    stats = {
      route: key,
      count: 0,
      errors: 0,
      totalMs: 0,
      maxMs: 0,
      bytesOut: 0,
      buckets: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0),
      firstSeen: programSeconds(),
      lastSeen: 0,
    };
    routeStats.set(key, stats);
  }
  stats.count++;
  if (status >= 500) stats.errors++;
  stats.totalMs += ms;
  if (ms > stats.maxMs) stats.maxMs = ms;
  stats.bytesOut += bytes;
  stats.buckets[bucketIndex(ms)]++;
  stats.lastSeen = programSeconds();
}

function metricsMiddleware(req, res, next) {
  const start = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    recordRequest(routeKey(req), res.statusCode, ms, Number(res.getHeader('content-length') ?? 0));
  });
  return next(req, res);
}

function renderMetrics() {
  const top = [...routeStats.values()].sort((a, b) => b.count - a.count).slice(0, 50);
  let out = '# TYPE http_requests_total counter\n';
  for (const s of top) out += `http_requests_total{route=${JSON.stringify(s.route)}} ${s.count}\n`;
  out += '# TYPE http_request_duration_ms_sum counter\n';
  for (const s of top) out += `http_request_duration_ms_sum{route=${JSON.stringify(s.route)}} ${s.totalMs.toFixed(1)}\n`;
  out += `# TYPE http_route_series gauge\nhttp_route_series ${routeStats.size}\n`;
  out += `process_uptime_seconds ${(Number(process.hrtime.bigint() - startedAt) / 1e9).toFixed(0)}\n`;
  return out;
}

// --- Storefront --------------------------------------------------------------------

const CATEGORIES = ['shoes', 'jackets', 'bags', 'watches', 'hats', 'shirts', 'trousers', 'socks'];
const WORDS = ['running', 'leather', 'waterproof', 'summer', 'winter', 'slim', 'classic', 'kids', 'sale', 'wool', 'linen', 'black', 'white', 'blue', 'red', 'trail', 'city', 'travel'];
const PRODUCT_COUNT = 4_000;
const products = new Map();
for (let i = 0; i < PRODUCT_COUNT; i++) {
  const category = CATEGORIES[i % CATEGORIES.length];
  products.set(String(50_000 + i), {
    id: String(50_000 + i),
    title: `${WORDS[i % WORDS.length]} ${WORDS[(i * 7) % WORDS.length]} ${category.slice(0, -1)}`,
    category,
    priceCents: 990 + ((i * 7919) % 25_000),
    stock: (i * 13) % 60,
    rating: 3 + ((i * 31) % 20) / 10,
  });
}
const productList = [...products.values()];
const carts = new Map(); // cartId -> { items, updatedAt }

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function search(q, page, sort) {
  const words = q.toLowerCase().split(' ');
  const hits = productList.filter((p) => words.every((w) => p.title.includes(w) || p.category.startsWith(w)));
  if (sort === 'price') hits.sort((a, b) => a.priceCents - b.priceCents);
  else if (sort === 'rating') hits.sort((a, b) => b.rating - a.rating);
  return { total: hits.length, page, items: hits.slice((page - 1) * 24, page * 24).map((p) => ({ id: p.id, title: p.title, priceCents: p.priceCents })) };
}

async function storefront(req, res) {
  const url = new URL(req.url, 'http://shop.internal');
  const path = url.pathname;
  if (path.startsWith('/v1/products/')) {
    const product = products.get(path.slice('/v1/products/'.length));
    return product === undefined ? sendJson(res, 404, { error: 'not found' }) : sendJson(res, 200, product);
  }
  if (path === '/v1/search') {
    const page = Number(url.searchParams.get('page') ?? 1) || 1;
    return sendJson(res, 200, search(url.searchParams.get('q') ?? '', page, url.searchParams.get('sort') ?? 'relevance'));
  }
  if (path === '/v1/recommendations') {
    const seed = Number(url.searchParams.get('user')?.slice(1) ?? 0);
    const items = [];
    for (let i = 0; i < 8; i++) items.push(productList[(seed * 17 + i * 101) % PRODUCT_COUNT].id);
    return sendJson(res, 200, { slot: url.searchParams.get('slot'), items });
  }
  if (path === '/v1/track/view') {
    res.writeHead(204);
    return res.end();
  }
  if (path === '/v1/cart') {
    const cartId = req.headers['x-cart-id'];
    let cart = carts.get(cartId);
    if (req.method === 'POST') {
      const body = JSON.parse((await readBody(req)).toString('utf8'));
      if (cart === undefined) carts.set(cartId, (cart = { items: [], updatedAt: 0 }));
      cart.items.push({ productId: body.productId, qty: body.qty });
      cart.updatedAt = programSeconds();
    }
    return sendJson(res, 200, cart === undefined ? { items: [] } : { items: cart.items });
  }
  if (path === '/metrics') {
    const text = renderMetrics();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
    return res.end(text);
  }
  if (path === '/health') return sendJson(res, 200, { ok: true });
  sendJson(res, 404, { error: 'no route' });
}

const { port } = await listen((req, res) =>
  metricsMiddleware(req, res, (rq, rs) => storefront(rq, rs).catch((e) => sendJson(rs, 400, { error: String(e.message) }))),
);

every(Math.max(10, 60_000 / speed), () => {
  const now = programSeconds();
  for (const [id, cart] of carts) if (now - cart.updatedAt > CART_IDLE_SECONDS) carts.delete(id);
});

// --- Shoppers (in-process client) ---------------------------------------------------

let sessionCounter = 0;
function newSession(now) {
  sessionCounter++;
  return {
    sid: `${(0x5f000000 + sessionCounter * 7919).toString(16)}${Math.floor(random() * 1e6).toString(36)}`,
    user: random() < 0.4 ? `u${Math.floor(random() * 300_000)}` : 'anon',
    cartId: `cart-${sessionCounter.toString(36)}`,
    endsAt: now + -Math.log(1 - random()) * SESSION_SECONDS,
  };
}
const sessions = [];
for (let i = 0; i < ACTIVE_SESSIONS; i++) sessions.push(newSession(0));

function zipfProduct() {
  return productList[Math.floor(Math.exp(random() * Math.log(PRODUCT_COUNT + 1))) - 1].id;
}

function searchQuery() {
  // head queries repeat, the long tail mostly does not
  const rank = Math.floor(Math.exp(random() * Math.log(500_000)));
  const words = [WORDS[rank % WORDS.length]];
  if (rank > 20) words.push(CATEGORIES[(rank >>> 3) % CATEGORIES.length]);
  if (rank > 300) words.unshift(WORDS[(rank >>> 6) % WORDS.length]);
  if (rank > 3000) words.push(String(36 + (rank % 12)));
  const page = rank > 50 && rank % 5 === 0 ? 2 + (rank % 3) : 1;
  const sort = rank % 7 === 0 ? '&sort=price' : rank % 11 === 0 ? '&sort=rating' : '';
  const typo = rank > 40_000 ? `&ref=${(rank * 2654435761 >>> 0).toString(36)}` : '';
  return `/v1/search?q=${encodeURIComponent(words.join(' '))}&page=${page}${sort}${typo}`;
}

function nextRequest() {
  const now = programSeconds();
  const slot = Math.floor(random() * sessions.length);
  if (sessions[slot].endsAt <= now) sessions[slot] = newSession(now);
  const session = sessions[slot];
  const r = random();
  if (r < 0.3) return { method: 'GET', path: `/v1/products/${zipfProduct()}` };
  if (r < 0.55) return { method: 'GET', path: searchQuery() };
  if (r < 0.7) {
    const where = ['home', 'pdp', 'cart'][Math.floor(random() * 3)];
    const busted = Math.floor(1_767_225_600_000 + now * 1000 + random() * 1000);
    return { method: 'GET', path: `/v1/recommendations?user=${session.user}&slot=${where}&_=${busted}` };
  }
  if (r < 0.82) return { method: 'GET', path: `/v1/track/view?sku=${zipfProduct()}&sid=${session.sid}&ref=${random() < 0.5 ? 'search' : 'home'}` };
  if (r < 0.92) return { method: 'GET', path: '/v1/cart', headers: { 'x-cart-id': session.cartId } };
  if (r < 0.97) {
    return {
      method: 'POST',
      path: '/v1/cart',
      headers: { 'x-cart-id': session.cartId, 'content-type': 'application/json' },
      body: JSON.stringify({ productId: zipfProduct(), qty: 1 + Math.floor(random() * 2) }),
    };
  }
  return { method: 'GET', path: '/health' };
}

const ballastMb = buildBallast();

const client = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: nextRequest, maxInFlight: 32 });
// Prometheus scrape, once a minute of production time
const scraper = selfRequests(port, { perSecond: 1 / SCRAPE_EVERY_SECONDS, next: () => ({ method: 'GET', path: '/metrics' }), maxInFlight: 1 });

reportStats(() => ({
  retained: routeStats.size,
  carts: carts.size,
  requests: client.completed,
  scrapes: scraper.completed,
  failed: client.failed + scraper.failed,
}));

ready(
  `route-metrics-url-keys-leak: storefront API on 127.0.0.1:${port} with per-route metrics keyed by the full URL, ${REQUESTS_PER_SECOND} req/s x speed ${speed}` +
    (ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''),
);
