// Large-object tier of an edge cache node: GET /assets/:key serves media
// objects (100 KB-2 MB: product videos' posters, PDFs, hi-res images) from
// memory, fetching misses from the origin stand-in. The objects are held in
// class ByteBudgetLru (module-level `objectCache`): a Map in recency order
// bounded by the total bytes of the bodies (128 MiB), evicting the least
// recently used objects until a new one fits. Popularity is Zipf-like over a
// catalogue of 6 000 objects, so the cache fills during the first hour or so
// and then evicts about as many bytes as it adds.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  KiB,
  listen,
  MiB,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xed6e);

const config = { budgetBytes: 128 * MiB, maxObjectBytes: 4 * MiB, catalogue: 6000, zipf: 1.05 };

// --- the cache ----------------------------------------------------------------------------

class ByteBudgetLru {
  constructor(budgetBytes) {
    this.budgetBytes = budgetBytes;
    this.entries = new Map(); // key -> { body, contentType, etag, storedAt, hits }
    this.bytes = 0;
    this.evictions = 0;
    this.evictedBytes = 0;
  }

  get(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.hits++;
    return entry;
  }

  set(key, entry) {
    if (entry.body.length > this.budgetBytes) return false;
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.entries.delete(key);
      this.bytes -= previous.body.length;
    }
    while (this.bytes + entry.body.length > this.budgetBytes) this.evictOldest();
    this.entries.set(key, entry);
    this.bytes += entry.body.length;
    return true;
  }

  evictOldest() {
    const [key, entry] = this.entries.entries().next().value;
    this.entries.delete(key);
    this.bytes -= entry.body.length;
    this.evictions++;
    this.evictedBytes += entry.body.length;
  }

  get size() {
    return this.entries.size;
  }
}

const objectCache = new ByteBudgetLru(config.budgetBytes);
const inflight = new Map(); // key -> Promise of the origin response (request coalescing)
const counters = { requests: 0, hits: 0, misses: 0, originBytes: 0, servedBytes: 0 };

// --- origin stand-in ----------------------------------------------------------------------

const CONTENT_TYPES = { jpg: 'image/jpeg', png: 'image/png', pdf: 'application/pdf', webp: 'image/webp', mp4: 'video/mp4' };
const EXTS = Object.keys(CONTENT_TYPES);

/** The object's size is a property of the catalogue: 100 KB-2 MB, log-uniform. */
function objectSize(index) {
  const u = ((Math.imul(index + 1, 2654435761) >>> 0) % 100_000) / 100_000;
  return Math.round(100 * KiB * 20 ** u);
}

function objectKey(index) {
  return `media/${(index % 97).toString().padStart(2, '0')}/${(0x10000 + index * 7).toString(36)}.${EXTS[index % EXTS.length]}`;
}

const indexByKey = new Map(Array.from({ length: config.catalogue }, (_, i) => [objectKey(i), i]));

/** Fetches an object from origin: its body as one Buffer, after a few ms. */
function fetchFromOrigin(key) {
  const index = indexByKey.get(key);
  return new Promise((resolve) =>
    setTimeout(() => {
      if (index === undefined) return resolve(null);
      const body = Buffer.allocUnsafe(objectSize(index));
      body.fill(createHash('sha256').update(key).digest());
      resolve({ body, contentType: CONTENT_TYPES[key.slice(key.lastIndexOf('.') + 1)], etag: `"${index.toString(16)}-${body.length.toString(16)}"` });
    }, 5 + random() * 25),
  );
}

async function lookup(key) {
  const cached = objectCache.get(key);
  if (cached !== undefined) {
    counters.hits++;
    return cached;
  }
  counters.misses++;
  let pending = inflight.get(key);
  if (pending === undefined) {
    pending = fetchFromOrigin(key).then((response) => {
      inflight.delete(key);
      if (response === null) return null;
      counters.originBytes += response.body.length;
      const entry = { body: response.body, contentType: response.contentType, etag: response.etag, storedAt: programSeconds(), hits: 0 };
      if (response.body.length <= config.maxObjectBytes) objectCache.set(key, entry);
      return entry;
    });
    inflight.set(key, pending);
  }
  return pending;
}

// --- HTTP -----------------------------------------------------------------------------------

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    if ((req.method === 'GET' || req.method === 'HEAD') && url.startsWith('/assets/')) {
      counters.requests++;
      const entry = await lookup(url.slice('/assets/'.length));
      if (entry === null) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('not found');
      }
      if (req.headers['if-none-match'] === entry.etag) {
        res.writeHead(304, { etag: entry.etag });
        return res.end();
      }
      res.writeHead(200, { 'content-type': entry.contentType, 'content-length': entry.body.length, etag: entry.etag, 'cache-control': 'public, max-age=86400' });
      counters.servedBytes += entry.body.length;
      return res.end(req.method === 'HEAD' ? undefined : entry.body);
    }
    if (req.method === 'GET' && url === '/healthz') {
      const text = JSON.stringify({ ok: true, objects: objectCache.size, bytes: objectCache.bytes });
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(text);
    }
    res.writeHead(404);
    res.end();
  } catch (error) {
    if (!res.headersSent) res.writeHead(500);
    res.end(String(error.message ?? error));
  }
}

// --- viewers (the load) -----------------------------------------------------------------------

// Zipf-like popularity over the catalogue: a cumulative table, sampled by bisection.
const cumulative = new Float64Array(config.catalogue);
{
  let sum = 0;
  for (let i = 0; i < config.catalogue; i++) cumulative[i] = sum += 1 / (i + 1) ** config.zipf;
  for (let i = 0; i < config.catalogue; i++) cumulative[i] /= sum;
}
// The popularity rank is not the catalogue order.
const rankToIndex = Array.from({ length: config.catalogue }, (_, i) => i);
for (let i = rankToIndex.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [rankToIndex[i], rankToIndex[j]] = [rankToIndex[j], rankToIndex[i]];
}

function popularObject() {
  const u = random();
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return rankToIndex[lo];
}

function nextRequest() {
  const index = popularObject();
  const headers = {};
  // Browsers revalidating what they already have.
  if (random() < 0.15) headers['if-none-match'] = `"${index.toString(16)}-${objectSize(index).toString(16)}"`;
  return { method: random() < 0.05 ? 'HEAD' : 'GET', path: `/assets/${objectKey(index)}`, headers };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const viewers = selfRequests(port, { perSecond: 0.12, maxInFlight: 8, next: nextRequest });
const balancer = selfRequests(port, { perSecond: 0.1, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: objectCache.size,
  cachedBytes: objectCache.bytes,
  hits: counters.hits,
  misses: counters.misses,
  evictions: objectCache.evictions,
  requestsFailed: viewers.failed + balancer.failed,
}));

ready(
  `edge-cache-byte-budget-lru: 100 KB-2 MB objects in an LRU bounded to ${config.budgetBytes / MiB} MiB of bodies; fills in about an hour, then evicts as it adds (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
