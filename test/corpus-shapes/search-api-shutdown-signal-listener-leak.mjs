// Product-search API of a DIY retailer. Graceful shutdown is built on one
// server-lifetime AbortController (`shutdown`): on SIGTERM the process aborts
// it, and every request in flight is supposed to hear about it, cancel its
// backend query and answer 503 so the load balancer retries elsewhere.
//
// Each request builds a context (createRequestContext: request id, tenant,
// parsed query and filters, its own AbortController for the backend call,
// timings, the response object) and registers
//
//     shutdown.signal.addEventListener('abort', () => cancelRequest(ctx, ...))
//
// but the listener is never removed when the request finishes (the author
// thought `{ once: true }` did that; it only removes it after it fired). The
// signal is never aborted while the process lives, so every request's
// listener, and with it the whole request context, stays on the signal's
// listener list for the life of the process.
import {
  buildBallast,
  listen,
  onShutdown,
  programSeconds,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x5ea7c4);

const shutdown = new AbortController();
onShutdown(() => shutdown.abort(new Error('SIGTERM')));

const stats = { searches: 0, suggests: 0, listenersAdded: 0, cancelled: 0, backendCalls: 0 };

// --- the catalogue index (stand-in for the search cluster) -----------------------------

const CATEGORIES = ['paint', 'tools', 'garden', 'lighting', 'flooring', 'plumbing', 'electrical', 'storage'];
const ADJECTIVES = ['cordless', 'heavy-duty', 'matt', 'outdoor', 'compact', 'brushed', 'galvanised', 'oak', 'white', 'black', 'led', 'quick-dry'];
const NOUNS = ['drill', 'sander', 'emulsion', 'hose', 'spotlight', 'laminate', 'tap', 'socket', 'shelf', 'ladder', 'brush', 'primer', 'trimmer', 'cable'];

const index = [];
for (let i = 0; i < 3000; i++) {
  const title = `${ADJECTIVES[i % ADJECTIVES.length]} ${ADJECTIVES[(i * 7) % ADJECTIVES.length]} ${NOUNS[(i * 3) % NOUNS.length]} ${100 + (i % 900)}`;
  index.push({ id: `P${10000 + i}`, title, category: CATEGORIES[i % CATEGORIES.length], price: 199 + ((i * 7919) % 25000), rating: 1 + (i % 5), stock: (i * 13) % 80 });
}

function matches(product, terms, filters) {
  if (filters.category !== undefined && product.category !== filters.category) return false;
  if (filters.maxPrice !== undefined && product.price > filters.maxPrice) return false;
  if (filters.inStock && product.stock === 0) return false;
  for (let i = 0; i < terms.length; i++) if (!product.title.includes(terms[i])) return false;
  return true;
}

/** The search cluster: 20-140 ms of production time, honours the request's abort signal. */
function searchBackend(query, signal) {
  stats.backendCalls++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const hits = [];
      for (let i = 0; i < index.length && hits.length < query.size; i++) {
        if (matches(index[i], query.terms, query.filters)) hits.push(index[i]);
      }
      resolve({ total: hits.length, hits });
    }, scaledMs(0.02 + random() * 0.12));
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

// --- request context -------------------------------------------------------------------------

let requestSeq = 0;

function parseFilters(params) {
  const filters = {};
  const category = params.get('category');
  if (category !== null && CATEGORIES.includes(category)) filters.category = category;
  const maxPrice = params.get('maxPrice');
  if (maxPrice !== null) filters.maxPrice = Number(maxPrice);
  if (params.get('inStock') === '1') filters.inStock = true;
  return filters;
}

function createRequestContext(req, res, url) {
  const q = url.searchParams.get('q') ?? '';
  return {
    requestId: req.headers['x-request-id'] ?? `srch-${(requestSeq++).toString(36)}`,
    tenant: req.headers['x-tenant'] ?? 'web',
    session: req.headers['x-session'] ?? null,
    query: { raw: q, terms: q.toLowerCase().split(/\s+/).filter(Boolean), size: Number(url.searchParams.get('size') ?? 24), filters: parseFilters(url.searchParams) },
    startedAt: programSeconds(),
    timings: { parseMs: 0, backendMs: 0, renderMs: 0 },
    backend: new AbortController(),
    res,
    done: false,
  };
}

function cancelRequest(ctx, reason) {
  stats.cancelled++;
  ctx.backend.abort(new Error(reason));
  if (!ctx.done) {
    ctx.done = true;
    ctx.res.writeHead(503, { 'retry-after': '1', connection: 'close' });
    ctx.res.end();
  }
}

function toResult(product) {
  return { id: product.id, title: product.title, price: product.price / 100, rating: product.rating, inStock: product.stock > 0 };
}

function sendJson(ctx, status, value) {
  if (ctx.done) return;
  ctx.done = true;
  const text = JSON.stringify(value);
  ctx.res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': ctx.requestId });
  ctx.res.end(text);
}

async function search(ctx) {
  stats.searches++;
  const t0 = performance.now();
  try {
    const result = await searchBackend(ctx.query, ctx.backend.signal);
    ctx.timings.backendMs = performance.now() - t0;
    sendJson(ctx, 200, { total: result.total, results: result.hits.map(toResult), tookMs: Math.round(ctx.timings.backendMs) });
  } catch (error) {
    sendJson(ctx, 502, { error: String(error.message ?? error) });
  }
}

function suggest(ctx) {
  stats.suggests++;
  const prefix = ctx.query.terms[0] ?? '';
  const words = NOUNS.filter((n) => n.startsWith(prefix)).slice(0, 8);
  sendJson(ctx, 200, { suggestions: words });
}

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://search.local');
  if (url.pathname === '/healthz') {
    res.writeHead(shutdown.signal.aborted ? 503 : 200, { 'content-length': 2 });
    return res.end('ok');
  }
  const ctx = createRequestContext(req, res, url);
  // let in-flight requests answer 503 when the instance is being drained
  shutdown.signal.addEventListener('abort', () => cancelRequest(ctx, 'server shutting down'), { once: true });
  stats.listenersAdded++;
  if (url.pathname === '/v1/search') return search(ctx);
  if (url.pathname === '/v1/suggest') return suggest(ctx);
  sendJson(ctx, 404, { error: 'not found' });
}

// --- clients ----------------------------------------------------------------------------------

function shopperRequest() {
  const headers = { 'x-tenant': random() < 0.8 ? 'web' : 'app', 'x-session': `s${Math.floor(random() * 50000).toString(36)}` };
  if (random() < 0.3) return { method: 'GET', path: `/v1/suggest?q=${NOUNS[Math.floor(random() * NOUNS.length)].slice(0, 1 + Math.floor(random() * 3))}`, headers };
  const terms = [NOUNS[Math.floor(random() * NOUNS.length)]];
  if (random() < 0.5) terms.unshift(ADJECTIVES[Math.floor(random() * ADJECTIVES.length)]);
  let path = `/v1/search?q=${encodeURIComponent(terms.join(' '))}&size=24`;
  if (random() < 0.4) path += `&category=${CATEGORIES[Math.floor(random() * CATEGORIES.length)]}`;
  if (random() < 0.2) path += `&maxPrice=${50 + Math.floor(random() * 200)}`;
  if (random() < 0.3) path += '&inStock=1';
  return { method: 'GET', path, headers };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const shoppers = selfRequests(port, { perSecond: 1.5, maxInFlight: 16, next: shopperRequest });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: stats.listenersAdded,
  searches: stats.searches,
  suggests: stats.suggests,
  backendCalls: stats.backendCalls,
  requestsFailed: shoppers.failed + probes.failed,
}));

ready(
  `search-api-shutdown-signal-listener-leak: product search at 1.5 req/s, each request adds an abort listener (capturing its context) to a server-lifetime AbortController's signal (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
