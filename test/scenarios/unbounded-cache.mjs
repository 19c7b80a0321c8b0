// Leaky (heap): a response cache keyed by unique request ids never evicts.
//
// An HTTP quote service (driving its own traffic on 127.0.0.1) memoizes
// rendered quotes in a Map. The cache key accidentally includes the request
// id, so no entry is ever read again; entries carry a TTL, but expiry is only
// checked on read, so nothing ever removes them.
//
// Leak at speed 1: 50 requests/s × ~2.6 KB per entry ≈ 125 KB/s of JS heap,
// allocated in cacheResponse. Capped at 55 000 entries (≈ 140 MB, ~18 min at
// speed 1); past the cap responses are not cached.
// stats: retained = cache entries.
import { listen, ready, reportStats, selfLoad } from './lib/scenario.mjs';

const REQUESTS_PER_SECOND = 50;
const POINTS_PER_QUOTE = 256;
const TTL_MS = 60_000;
const MAX_ENTRIES = 55_000;
const MAX_POINTS_CACHED = 100_000; // too big to be worth caching

const responseCache = new Map();
const cacheStats = { hits: 0, misses: 0, stored: 0, skipped: 0, bytes: 0 };

function cacheKeyFor(url) {
  return `${url.pathname}?symbol=${url.searchParams.get('symbol')}&rid=${url.searchParams.get('requestId')}`;
}

function cachedResponse(key) {
  const entry = responseCache.get(key);
  if (entry === undefined) return undefined;
  if (entry.expiresAt <= Date.now()) {
    responseCache.delete(key); // the only place entries are ever removed
    return undefined;
  }
  entry.hits++;
  entry.lastReadAt = Date.now();
  return entry;
}

// Stores a copy of the rendered quote under `key`. The entry and its copy of
// the price points are allocated here, and with unique keys they are never
// read or removed: this is where the retained bytes come from.
// (Deliberately not tiny: V8 inlines functions under 460 bytes of bytecode
// into hot callers, and the sampling heap profiler then reports the caller.)
function cacheResponse(key, quote, cacheControl) {
  if (cacheControl.includes('no-store') || quote.status !== 200) {
    cacheStats.skipped++;
    return null;
  }
  if (responseCache.size >= MAX_ENTRIES || quote.points.length > MAX_POINTS_CACHED) {
    cacheStats.skipped++;
    return null;
  }
  const points = new Array(quote.points.length);
  let checksum = 0;
  for (let i = 0; i < quote.points.length; i++) {
    points[i] = quote.points[i];
    checksum = (checksum * 31 + Math.round(points[i] * 100)) | 0;
  }
  const now = Date.now();
  const maxAge = /max-age=(\d+)/.exec(cacheControl);
  const ttlMs = maxAge === null ? TTL_MS : Number(maxAge[1]) * 1000;
  const staleWhileRevalidate = /stale-while-revalidate=(\d+)/.exec(cacheControl);
  const graceMs = staleWhileRevalidate === null ? 0 : Number(staleWhileRevalidate[1]) * 1000;
  const entry = {
    key,
    status: quote.status,
    symbol: quote.symbol,
    currency: quote.currency,
    etag: `"${(checksum >>> 0).toString(16)}"`,
    storedAt: now,
    lastReadAt: now,
    expiresAt: now + ttlMs,
    staleUntil: now + ttlMs + graceMs,
    hits: 0,
    contentLength: 24 + points.length * 9,
    points,
  };
  responseCache.set(key, entry);
  cacheStats.stored++;
  cacheStats.bytes += entry.contentLength;
  return entry;
}

function renderQuote(symbol, seed) {
  const points = [];
  for (let i = 0; i < POINTS_PER_QUOTE; i++) points.push(100 + Math.sin((seed + i) / 17) * 3);
  return { status: 200, symbol, currency: 'USD', points };
}

function handle(req, res) {
  const url = new URL(req.url, 'http://quotes.local');
  const key = cacheKeyFor(url);
  let entry = cachedResponse(key);
  if (entry === undefined) {
    cacheStats.misses++;
    const quote = renderQuote(url.searchParams.get('symbol') ?? 'ACME', Number(url.searchParams.get('requestId')));
    entry = cacheResponse(key, quote, 'public, max-age=60, stale-while-revalidate=30') ?? quote;
  } else {
    cacheStats.hits++;
  }
  const body = JSON.stringify({ symbol: entry.symbol, currency: entry.currency, points: entry.points });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA', 'HOOLI'];
const { port } = await listen(handle);
const traffic = selfLoad(port, {
  perSecond: REQUESTS_PER_SECOND,
  nextPath: () => `/quote?symbol=${SYMBOLS[traffic.sent % SYMBOLS.length]}&requestId=${traffic.sent}`,
});
reportStats(() => ({ retained: responseCache.size, hits: cacheStats.hits, misses: cacheStats.misses }));
ready(`unbounded-cache: http on 127.0.0.1:${port}, cache keyed by request id`);
