// Read-through proxy in front of an object store (S3-style): clients GET
// /v1/objects/:bucket/:key with a Range header (media players seeking,
// analytics readers fetching Parquet footers and row groups). The proxy
// splits each range into 64 KiB blocks and serves them from a BlockCache:
// an LRU bounded by total bytes (64 MiB) holding each block's Buffer as the
// origin returned it. Misses go to the origin (OriginStore, an in-process
// stand-in with a few ms of real latency). The working set is much larger
// than the cache, so it fills over about the first hour of production time
// and from then on evicts as many bytes as it adds.
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

const random = rng(0xb10c);
const BLOCK_SIZE = 64 * KiB;
const CACHE_BYTES = 64 * MiB;

// --- the cache -------------------------------------------------------------------

class BlockCache {
  constructor(maxBytes) {
    this.maxBytes = maxBytes;
    this.blocks = new Map(); // key -> Buffer, least recently used first
    this.bytes = 0;
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  get(key) {
    const block = this.blocks.get(key);
    if (block === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.blocks.delete(key);
    this.blocks.set(key, block);
    return block;
  }

  set(key, block) {
    const existing = this.blocks.get(key);
    if (existing !== undefined) {
      this.blocks.delete(key);
      this.bytes -= existing.length;
    }
    this.blocks.set(key, block);
    this.bytes += block.length;
    while (this.bytes > this.maxBytes) {
      const [oldestKey, oldest] = this.blocks.entries().next().value;
      this.blocks.delete(oldestKey);
      this.bytes -= oldest.length;
      this.evictions++;
    }
  }
}

const cache = new BlockCache(CACHE_BYTES);

// --- the origin (stand-in) ---------------------------------------------------

const BUCKETS = ['media-vod', 'analytics-lake', 'user-assets'];
const OBJECT_COUNT = 1500;
const objects = Array.from({ length: OBJECT_COUNT }, (_, i) => {
  const bucket = BUCKETS[i % BUCKETS.length];
  const size = Math.round(Math.exp(Math.log(64 * KiB) + random() * Math.log(64)));
  const ext = bucket === 'media-vod' ? 'mp4' : bucket === 'analytics-lake' ? 'parquet' : 'webp';
  return { bucket, key: `${bucket === 'analytics-lake' ? 'dt=2024-03-' + String(1 + (i % 28)).padStart(2, '0') + '/' : ''}obj-${(i * 2654435761 >>> 0).toString(36)}.${ext}`, size, etag: (i * 40503 + 17).toString(16) };
});
const objectIndex = new Map(objects.map((o) => [`${o.bucket}/${o.key}`, o]));

const ORIGIN_CONTENT = Buffer.allocUnsafe(256 * KiB);
for (let j = 0; j < ORIGIN_CONTENT.length; j += 4) ORIGIN_CONTENT.writeUInt32LE(Math.imul(j + 3, 0x85ebca6b) >>> 0, j);

class OriginStore {
  constructor(rand) {
    this.rand = rand;
    this.requests = 0;
    this.bytes = 0;
  }

  /** GET of one block-aligned range: resolves with a Buffer of the block's bytes. */
  fetchBlock(object, index) {
    const start = index * BLOCK_SIZE;
    const length = Math.min(BLOCK_SIZE, object.size - start);
    return new Promise((resolve) => {
      setTimeout(() => {
        this.requests++;
        this.bytes += length;
        const block = Buffer.allocUnsafe(length);
        const from = (index * 4099 + object.size) % (ORIGIN_CONTENT.length - length);
        ORIGIN_CONTENT.copy(block, 0, from, from + length);
        resolve(block);
      }, 3 + this.rand() * 7);
    });
  }
}

const origin = new OriginStore(rng(0x0419));
const inflightFetches = new Map(); // block key -> Promise (coalesces concurrent misses)

function blockKey(object, index) {
  return `${object.bucket}/${object.key}@${object.etag}#${index}`;
}

async function readBlock(object, index) {
  const key = blockKey(object, index);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  let pending = inflightFetches.get(key);
  if (pending === undefined) {
    pending = origin.fetchBlock(object, index).then((block) => {
      inflightFetches.delete(key);
      cache.set(key, block);
      return block;
    });
    inflightFetches.set(key, pending);
  }
  return pending;
}

function parseRange(header, size) {
  const match = /^bytes=(\d+)-(\d*)$/.exec(header ?? '');
  if (match === null) return { start: 0, end: size - 1 };
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(size - 1, Number(match[2]));
  return start <= end ? { start, end } : null;
}

// --- HTTP --------------------------------------------------------------------

const counters = { requests: 0, bytesOut: 0, notFound: 0 };

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    if (req.method === 'GET' && url.startsWith('/v1/objects/')) {
      const object = objectIndex.get(decodeURIComponent(url.slice('/v1/objects/'.length)));
      if (object === undefined) {
        counters.notFound++;
        return sendJson(res, 404, { error: 'NoSuchKey' });
      }
      const range = parseRange(req.headers.range, object.size);
      if (range === null) return sendJson(res, 416, { error: 'InvalidRange' });
      const first = Math.floor(range.start / BLOCK_SIZE);
      const last = Math.floor(range.end / BLOCK_SIZE);
      const blocks = [];
      for (let i = first; i <= last; i++) blocks.push(readBlock(object, i));
      const loaded = await Promise.all(blocks);
      counters.requests++;
      const length = range.end - range.start + 1;
      res.writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-length': length,
        'content-range': `bytes ${range.start}-${range.end}/${object.size}`,
        etag: `"${object.etag}"`,
      });
      for (let i = 0; i < loaded.length; i++) {
        const blockStart = (first + i) * BLOCK_SIZE;
        const from = Math.max(0, range.start - blockStart);
        const to = Math.min(loaded[i].length, range.end - blockStart + 1);
        res.write(loaded[i].subarray(from, to));
      }
      counters.bytesOut += length;
      return res.end();
    }
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { ok: true, cachedBlocks: cache.blocks.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the readers (the load) -------------------------------------------------------

function nextRead() {
  const object = objects[Math.floor(OBJECT_COUNT * random() ** 3.5)];
  const blocks = Math.ceil(object.size / BLOCK_SIZE);
  const path = `/v1/objects/${encodeURIComponent(`${object.bucket}/${object.key}`)}`;
  let start;
  let span;
  if (object.bucket === 'analytics-lake' && random() < 0.4) {
    // Parquet footer
    span = Math.min(object.size, 16 * KiB + Math.floor(random() * 48 * KiB));
    start = object.size - span;
  } else {
    // seek somewhere (biased to the beginning) and read 1-4 blocks
    const block = Math.floor(blocks * random() ** 1.5);
    start = block * BLOCK_SIZE + Math.floor(random() * 1024);
    span = Math.min(object.size - start, (1 + Math.floor(random() * 4)) * BLOCK_SIZE);
  }
  if (span <= 0) return { method: 'GET', path };
  return { method: 'GET', path, headers: { range: `bytes=${start}-${start + span - 1}` } };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const readers = selfRequests(port, { perSecond: 0.18, maxInFlight: 16, next: nextRead });
const probes = selfRequests(port, { perSecond: 0.05, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: cache.blocks.size,
  cacheBytes: cache.bytes,
  hits: cache.hits,
  misses: cache.misses,
  evictions: cache.evictions,
  originRequests: origin.requests,
  requests: counters.requests,
  requestsFailed: readers.failed + probes.failed,
}));

ready(
  `object-proxy-block-cache-lru: range reads over 1 500 objects served from 64 KiB blocks in an LRU bounded at 64 MiB that fills in ~1 h and then evicts one for one (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
