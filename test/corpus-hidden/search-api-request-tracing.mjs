// Catalogue search API instrumented with the team's in-house tracing library.
//
// Tracing: every request gets a root context; each unit of work opens a
// child with ctx.child(name), whose lookup closures close over the parent
// context (ctx.get('tenant') walks up the chain), and a finished span is
// handed to the exporter, which batches them and ships them to the collector
// every 5 s (at most 2 048 queued; a full queue drops spans). A request's
// chain is at most ~8 contexts deep (request -> middleware -> handler ->
// cache / db / ranking / recommendations / render) and dies with the request.
//
// HTTP: a Koa-style pipeline of 60 small middlewares (request id, access log,
// security headers, CORS, body limits, auth, tenant, rate limit, flags,
// locale, per-route metrics and validators, deprecation headers, ...) is
// composed once at startup into a chain of closures, each calling `next`.
//
// Load: 5 req/s from the storefront (search, item pages, suggestions) and
// health checks. Nothing outlives a request except counters and the bounded
// exporter queue: healthy.
import {
  buildBallast,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7ace5);

// --- tracing ------------------------------------------------------------------------

const randomHex = (bytes) => {
  let out = '';
  for (let i = 0; i < bytes; i++) out += Math.floor(random() * 256).toString(16).padStart(2, '0');
  return out;
};

class SpanExporter {
  #queue = [];
  #maxQueue;
  exported = 0;
  dropped = 0;
  batches = 0;

  constructor(maxQueue) {
    this.#maxQueue = maxQueue;
  }

  get queued() {
    return this.#queue.length;
  }

  export(span) {
    if (this.#queue.length >= this.#maxQueue) {
      this.dropped++;
      return;
    }
    this.#queue.push(span);
  }

  /** Ships the batch to the collector (OTLP-style JSON, serialised and handed off). */
  flush() {
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    const payload = JSON.stringify({ resourceSpans: [{ resource: { 'service.name': 'catalogue-search', 'service.version': '3.18.2' }, spans: batch }] });
    collector.bytes += payload.length;
    this.exported += batch.length;
    this.batches++;
  }
}

const collector = { bytes: 0 };
const exporter = new SpanExporter(2048);
setInterval(() => exporter.flush(), 5_000 / speed).unref();

/** A tracing context: its span, its own values, lookups that fall back to the parent. */
function createContext(parent, name, values = {}) {
  const span = {
    traceId: parent === null ? randomHex(16) : parent.span.traceId,
    spanId: randomHex(8),
    parentSpanId: parent === null ? null : parent.span.spanId,
    name,
    startS: programSeconds(),
    endS: 0,
    attributes: {},
    status: 'unset',
  };
  const ctx = {
    span,
    depth: parent === null ? 1 : parent.depth + 1,
    get: (key) => (key in values ? values[key] : parent === null ? undefined : parent.get(key)),
    set: (key, value) => {
      values[key] = value;
    },
    child: (childName, childValues) => createContext(ctx, childName, childValues),
    attr: (key, value) => {
      span.attributes[key] = value;
    },
    end: (status = 'ok') => {
      span.endS = programSeconds();
      span.status = status;
      exporter.export(span);
    },
  };
  return ctx;
}

/** Runs `work` in a child span and ends it, ok or error. */
async function traced(ctx, name, work) {
  const child = ctx.child(name);
  try {
    const result = await work(child);
    child.end('ok');
    return result;
  } catch (error) {
    child.attr('error.message', error.message);
    child.end('error');
    throw error;
  }
}

// --- stand-ins for the search backend, the cache, the recommendations service ----------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const TERMS = ['lamp', 'desk', 'chair', 'sofa', 'rug', 'mirror', 'shelf', 'bed', 'vase', 'plant pot', 'curtain', 'cushion', 'kettle', 'toaster', 'knife set'];
const COLORS = ['oak', 'walnut', 'black', 'white', 'sage', 'terracotta', 'brass', 'linen'];
const hotCache = new Map(); // a tiny per-instance hot set, bounded
const HOT_MAX = 500;

async function searchIndex(ctx, query, page) {
  return traced(ctx, 'db.search', async (span) => {
    span.attr('db.system', 'postgresql');
    span.attr('db.statement', 'SELECT id, title, price_cents, score FROM items_fts WHERE tsv @@ plainto_tsquery($1) ORDER BY score DESC LIMIT 24 OFFSET $2');
    await sleep(2 + Math.floor(random() * 6));
    const hits = [];
    for (let i = 0; i < 24; i++) {
      const id = (query.length * 7_919 + page * 24 + i) % 120_000;
      hits.push({ id: `it_${id}`, title: `${COLORS[id % COLORS.length]} ${query} ${id % 97}`, priceCents: 999 + ((id * 31) % 40_000), score: 1 - i / 30 });
    }
    span.attr('db.rows', hits.length);
    return hits;
  });
}

async function cached(ctx, key, load) {
  const hit = await traced(ctx, 'cache.get', async (span) => {
    span.attr('cache.key', key);
    const value = hotCache.get(key);
    span.attr('cache.hit', value !== undefined);
    return value;
  });
  if (hit !== undefined) return hit;
  const value = await load(ctx);
  hotCache.set(key, value);
  if (hotCache.size > HOT_MAX) hotCache.delete(hotCache.keys().next().value);
  return value;
}

async function rank(ctx, hits) {
  return traced(ctx, 'search.rank', async (span) => {
    const boosted = await traced(span, 'search.rank.personalize', async (inner) => {
      inner.attr('user.segment', inner.get('segment'));
      return hits.map((h, i) => ({ ...h, score: h.score + ((i * 13) % 7) / 100 }));
    });
    boosted.sort((a, b) => b.score - a.score);
    span.attr('search.ranked', boosted.length);
    return boosted;
  });
}

async function recommendations(ctx, itemId) {
  return traced(ctx, 'http.client recommendations', async (span) => {
    span.attr('http.url', `http://recs.internal/v2/items/${itemId}/similar?tenant=${span.get('tenant')}`);
    span.set('traceparent', `00-${span.span.traceId}-${span.span.spanId}-01`);
    await sleep(3 + Math.floor(random() * 8));
    return traced(span, 'recommendations.decode', async () => Array.from({ length: 8 }, (_, i) => `it_${(Number(itemId.slice(3)) + i * 37) % 120_000}`));
  });
}

// --- the middleware pipeline ------------------------------------------------------------------

const metrics = { requests: 0, byRoute: new Map(), rejected: 0 };
const setHeader = (name, value) => async (ctx, next) => {
  ctx.res.setHeader(name, value);
  await next(ctx);
};
const routeMetric = (prefix) => async (ctx, next) => {
  if (ctx.url.pathname.startsWith(prefix)) metrics.byRoute.set(prefix, (metrics.byRoute.get(prefix) ?? 0) + 1);
  await next(ctx);
};
const requireParam = (prefix, param, pattern) => async (ctx, next) => {
  if (ctx.url.pathname === prefix) {
    const value = ctx.url.searchParams.get(param);
    if (value !== null && !pattern.test(value)) {
      ctx.status = 400;
      ctx.body = { error: `invalid ${param}` };
      return;
    }
  }
  await next(ctx);
};
const deprecation = (prefix, sunset) => async (ctx, next) => {
  if (ctx.url.pathname.startsWith(prefix)) ctx.res.setHeader('sunset', sunset);
  await next(ctx);
};
const spanned = (name, body) => async (ctx, next) => {
  const child = ctx.trace.child(name);
  body(ctx, child);
  child.end();
  await next(ctx);
};

const TENANTS = ['eu-shop', 'uk-shop', 'pl-shop', 'outlet'];
const rateBuckets = new Map(); // per tenant, a token bucket

const middlewares = [
  async (ctx, next) => {
    ctx.requestId = ctx.req.headers['x-request-id'] ?? randomHex(8);
    ctx.trace.set('requestId', ctx.requestId);
    await next(ctx);
  },
  async (ctx, next) => {
    const started = programSeconds();
    await next(ctx);
    ctx.trace.attr('http.duration_s', programSeconds() - started);
  },
  async (ctx, next) => {
    try {
      await next(ctx);
    } catch (error) {
      ctx.status = 500;
      ctx.body = { error: 'internal error', requestId: ctx.requestId };
      ctx.trace.attr('error.message', error.message);
    }
  },
  setHeader('x-content-type-options', 'nosniff'),
  setHeader('x-frame-options', 'DENY'),
  setHeader('referrer-policy', 'strict-origin-when-cross-origin'),
  setHeader('strict-transport-security', 'max-age=63072000; includeSubDomains'),
  setHeader('content-security-policy', "default-src 'none'; frame-ancestors 'none'"),
  setHeader('permissions-policy', 'geolocation=(), camera=()'),
  setHeader('cross-origin-resource-policy', 'same-site'),
  setHeader('x-served-by', `search-${process.pid}`),
  async (ctx, next) => {
    const origin = ctx.req.headers.origin;
    if (origin !== undefined && origin.endsWith('.shop.example')) ctx.res.setHeader('access-control-allow-origin', origin);
    await next(ctx);
  },
  async (ctx, next) => {
    if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') {
      ctx.status = 405;
      ctx.body = { error: 'method not allowed' };
      return;
    }
    await next(ctx);
  },
  async (ctx, next) => {
    if ((ctx.req.url ?? '').length > 2048) {
      ctx.status = 414;
      ctx.body = { error: 'uri too long' };
      return;
    }
    await next(ctx);
  },
  spanned('middleware.auth', (ctx, span) => {
    const token = ctx.req.headers.authorization ?? '';
    span.attr('auth.scheme', token.split(' ')[0] || 'anonymous');
    ctx.trace.set('customer', token.length > 7 ? token.slice(7, 19) : null);
  }),
  async (ctx, next) => {
    const tenant = ctx.req.headers['x-tenant'];
    ctx.trace.set('tenant', TENANTS.includes(tenant) ? tenant : 'eu-shop');
    await next(ctx);
  },
  async (ctx, next) => {
    const tenant = ctx.trace.get('tenant');
    const now = programSeconds();
    const bucket = rateBuckets.get(tenant) ?? { tokens: 200, at: now };
    bucket.tokens = Math.min(200, bucket.tokens + (now - bucket.at) * 50);
    bucket.at = now;
    rateBuckets.set(tenant, bucket);
    if (bucket.tokens < 1) {
      ctx.status = 429;
      ctx.body = { error: 'rate limited' };
      metrics.rejected++;
      return;
    }
    bucket.tokens--;
    await next(ctx);
  },
  spanned('middleware.flags', (ctx, span) => {
    const customer = ctx.trace.get('customer') ?? '';
    ctx.flags = { semanticRerank: customer.charCodeAt(0) % 2 === 0, newFacets: true };
    span.attr('flags.semanticRerank', ctx.flags.semanticRerank);
  }),
  async (ctx, next) => {
    const accept = String(ctx.req.headers['accept-language'] ?? 'en');
    ctx.trace.set('locale', accept.split(',')[0].trim());
    await next(ctx);
  },
  async (ctx, next) => {
    ctx.trace.set('segment', ['new', 'returning', 'loyal'][ctx.requestId.charCodeAt(0) % 3]);
    await next(ctx);
  },
  ...['/v1/search', '/v1/items/', '/v1/suggest', '/v1/facets', '/v2/search', '/v1/categories', '/v1/brands', '/v1/compare', '/healthz', '/metrics'].map(routeMetric),
  requireParam('/v1/search', 'q', /^[\p{L}\p{N} '-]{1,80}$/u),
  requireParam('/v1/search', 'page', /^\d{1,3}$/),
  requireParam('/v1/search', 'sort', /^(relevance|price-asc|price-desc|newest)$/),
  requireParam('/v1/search', 'pageSize', /^(12|24|48)$/),
  requireParam('/v1/suggest', 'prefix', /^[\p{L}\p{N} ]{1,40}$/u),
  requireParam('/v1/suggest', 'limit', /^\d{1,2}$/),
  requireParam('/v1/facets', 'category', /^[\w-]{1,40}$/),
  requireParam('/v1/compare', 'ids', /^(it_\d+,?){2,4}$/),
  requireParam('/v1/items/', 'include', /^[\w,]{1,60}$/),
  requireParam('/v1/brands', 'letter', /^[A-Z]$/),
  deprecation('/v1/facets', 'Wed, 31 Dec 2025 23:59:59 GMT'),
  deprecation('/v1/brands', 'Wed, 31 Dec 2025 23:59:59 GMT'),
  deprecation('/v1/compare', 'Tue, 30 Jun 2026 23:59:59 GMT'),
  async (ctx, next) => {
    await next(ctx);
    if (ctx.status === 200 && ctx.url.pathname.startsWith('/v1/items/')) ctx.res.setHeader('cache-control', 'public, max-age=60');
  },
  async (ctx, next) => {
    await next(ctx);
    if (ctx.status === 200 && ctx.url.pathname === '/v1/search') ctx.res.setHeader('cache-control', 'private, max-age=15');
  },
  async (ctx, next) => {
    await next(ctx);
    if (ctx.body !== undefined) ctx.res.setHeader('content-type', 'application/json; charset=utf-8');
  },
  async (ctx, next) => {
    await next(ctx);
    ctx.res.setHeader('server-timing', `app;dur=${Math.round((programSeconds() - ctx.trace.span.startS) * 1000)}`);
  },
  async (ctx, next) => {
    await next(ctx);
    ctx.res.setHeader('traceparent', `00-${ctx.trace.span.traceId}-${ctx.trace.span.spanId}-01`);
  },
  async (ctx, next) => {
    await next(ctx);
    ctx.trace.attr('http.status_code', ctx.status);
  },
  async (ctx, next) => {
    ctx.trace.attr('http.route', ctx.url.pathname.replace(/it_\d+/, ':id'));
    await next(ctx);
  },
  async (ctx, next) => {
    ctx.trace.attr('tenant', ctx.trace.get('tenant'));
    await next(ctx);
  },
  async (ctx, next) => {
    ctx.trace.attr('locale', ctx.trace.get('locale'));
    await next(ctx);
  },
  async (ctx, next) => {
    if (ctx.url.searchParams.has('debug') && ctx.trace.get('customer') === null) ctx.url.searchParams.delete('debug');
    await next(ctx);
  },
  async (ctx, next) => {
    ctx.pageSize = Number(ctx.url.searchParams.get('pageSize') ?? 24);
    await next(ctx);
  },
  async (ctx, next) => {
    ctx.page = Number(ctx.url.searchParams.get('page') ?? 0);
    await next(ctx);
  },
  async (ctx, next) => {
    ctx.sort = ctx.url.searchParams.get('sort') ?? 'relevance';
    await next(ctx);
  },
  async (ctx, next) => {
    ctx.currency = { 'uk-shop': 'GBP', 'pl-shop': 'PLN' }[ctx.trace.get('tenant')] ?? 'EUR';
    await next(ctx);
  },
  async (ctx, next) => {
    metrics.requests++;
    await next(ctx);
  },
  async (ctx, next) => {
    if (ctx.url.pathname === '/healthz') {
      ctx.body = { ok: true };
      return;
    }
    await next(ctx);
  },
  async (ctx, next) => {
    if (ctx.url.pathname === '/metrics') {
      ctx.body = { requests: metrics.requests, rejected: metrics.rejected, exported: exporter.exported, dropped: exporter.dropped };
      return;
    }
    await next(ctx);
  },
];

async function routes(ctx) {
  const path = ctx.url.pathname;
  const handlerCtx = ctx.trace.child(`GET ${path.replace(/it_\d+/, ':id')}`);
  try {
    if (path === '/v1/search') {
      const q = ctx.url.searchParams.get('q') ?? '';
      const hits = await cached(handlerCtx, `search:${q}:${ctx.page}`, (c) => searchIndex(c, q, ctx.page));
      const ranked = ctx.flags.semanticRerank ? await rank(handlerCtx, hits) : hits;
      ctx.body = await traced(handlerCtx, 'render', async () => ({ q, page: ctx.page, currency: ctx.currency, items: ranked.slice(0, ctx.pageSize) }));
    } else if (path.startsWith('/v1/items/')) {
      const id = path.slice('/v1/items/'.length);
      const [item] = await searchIndex(handlerCtx, id, 0);
      const similar = await recommendations(handlerCtx, id);
      ctx.body = await traced(handlerCtx, 'render', async () => ({ ...item, id, currency: ctx.currency, similar }));
    } else if (path === '/v1/suggest') {
      const prefix = ctx.url.searchParams.get('prefix') ?? '';
      ctx.body = await traced(handlerCtx, 'suggest.lookup', async () => ({ prefix, suggestions: TERMS.filter((t) => t.startsWith(prefix)).slice(0, 8) }));
    } else {
      ctx.status = 404;
      ctx.body = { error: 'not found' };
    }
    handlerCtx.end(ctx.status < 500 ? 'ok' : 'error');
  } catch (error) {
    handlerCtx.end('error');
    throw error;
  }
}

/** Composes the middlewares once: each layer is a closure over the next one. */
function compose(layers, last) {
  return layers.reduceRight((next, middleware) => (ctx) => middleware(ctx, next), last);
}

const pipeline = compose(middlewares, routes);

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://search.local');
  const trace = createContext(null, `HTTP ${req.method}`, { method: req.method });
  const ctx = { req, res, url, trace, status: 200, body: undefined, flags: {}, requestId: '' };
  await pipeline(ctx);
  trace.end(ctx.status < 500 ? 'ok' : 'error');
  const text = JSON.stringify(ctx.body ?? {});
  res.writeHead(ctx.status, { 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

// --- clients: the storefront and the load balancer ------------------------------------------------

function storefrontRequest() {
  const roll = random();
  const headers = { 'x-tenant': TENANTS[Math.floor(random() ** 2 * TENANTS.length)], 'accept-language': random() < 0.6 ? 'en-GB,en;q=0.9' : 'de-DE,de;q=0.8', authorization: random() < 0.4 ? `Bearer ${randomHex(20)}` : undefined };
  if (headers.authorization === undefined) delete headers.authorization;
  if (roll < 0.03) return { method: 'GET', path: '/healthz' };
  if (roll < 0.55) {
    const term = `${random() < 0.3 ? `${COLORS[Math.floor(random() * COLORS.length)]} ` : ''}${TERMS[Math.floor(random() ** 1.5 * TERMS.length)]}`;
    return { method: 'GET', path: `/v1/search?q=${encodeURIComponent(term)}&page=${Math.floor(random() ** 3 * 5)}&sort=relevance`, headers };
  }
  if (roll < 0.85) return { method: 'GET', path: `/v1/items/it_${Math.floor(random() ** 2 * 120_000)}`, headers };
  return { method: 'GET', path: `/v1/suggest?prefix=${TERMS[Math.floor(random() * TERMS.length)].slice(0, 1 + Math.floor(random() * 3))}&limit=8`, headers };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const storefront = selfRequests(port, { perSecond: 5, maxInFlight: 16, next: storefrontRequest });

reportStats(() => ({
  retained: exporter.queued,
  requests: metrics.requests,
  spansExported: exporter.exported,
  spansDropped: exporter.dropped,
  batches: exporter.batches,
  hotCache: hotCache.size,
  requestsFailed: storefront.failed,
}));

ready(
  `search-api-request-tracing: catalogue search API, 5 req/s through ${middlewares.length} composed middlewares, per-request context chains (<= 8 deep) closing over their parents, spans batched every 5 s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
