// Image-thumbnail service. Thumbnails are rendered on demand from the
// original image (an object-store + codec stand-in here) and kept in memory
// in an LRU bounded by the total bytes of the thumbnails it holds. Sizes
// vary widely with the source and the variant: a 64 px icon of a logo is a
// few hundred bytes, a 1600 px preview of a photo close to a megabyte.
//
// Healthy: the cache fills its byte budget, then evicts the least recently
// used thumbnails to make room, so it holds a constant number of bytes.
import { randomFillSync } from 'node:crypto';
import {
  KiB,
  MiB,
  buildBallast,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const CACHE_BUDGET_BYTES = 96 * MiB;
const IMAGE_COUNT = 150_000;
const MAX_CONCURRENT_RENDERS = 6;

// Output variants: width, format and the range of encoded sizes, from a
// flat-colour source (low end) to a detailed photo (high end).
const VARIANTS = {
  icon: { width: 64, format: 'png', minBytes: 380, maxBytes: 6 * KiB },
  card: { width: 240, format: 'webp', minBytes: 3 * KiB, maxBytes: 34 * KiB },
  detail: { width: 640, format: 'webp', minBytes: 14 * KiB, maxBytes: 160 * KiB },
  preview: { width: 1600, format: 'jpeg', minBytes: 70 * KiB, maxBytes: 980 * KiB },
};
const CONTENT_TYPES = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg' };
const MAGIC = {
  png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  webp: Buffer.from('RIFF\0\0\0\0WEBPVP8 ', 'latin1'),
  jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]),
};

// --- Source images (stand-in for the media catalogue + object store) -------

/** A stable 32-bit hash of a string (FNV-1a). */
function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** How much detail an image has, 0..1: drives every encoded size of it. */
function detailOf(imageId, version) {
  const h = hash32(`${imageId}:${version}`);
  const u = (h & 0xffff) / 0xffff;
  const kind = (h >>> 16) % 10; // 0-2 logos and icons, 3-5 product shots, 6-9 photos
  if (kind < 3) return u * 0.25;
  if (kind < 6) return 0.2 + u * 0.45;
  return 0.5 + u * 0.5;
}

function encodedSize(imageId, version, variant) {
  const spec = VARIANTS[variant];
  const detail = detailOf(imageId, version);
  return Math.round(spec.minBytes + (spec.maxBytes - spec.minBytes) * detail ** 1.6);
}

const imageVersions = new Map(); // imageId -> version, only for images re-uploaded

function versionOf(imageId) {
  return imageVersions.get(imageId) ?? 1;
}

function sleepProduction(seconds) {
  return new Promise((resolve) => setTimeout(resolve, scaledMs(seconds)));
}

/** Fetches the original and encodes the thumbnail: the codec's output buffer. */
async function renderThumbnail(imageId, variant) {
  const version = versionOf(imageId);
  const spec = VARIANTS[variant];
  const size = encodedSize(imageId, version, variant);
  // Original fetch (20-120 ms) and decode/resize/encode, longer for bigger outputs.
  await sleepProduction(0.02 + (hash32(imageId) % 100) / 1000 + size / (4 * MiB));
  const body = Buffer.allocUnsafeSlow(size);
  const magic = MAGIC[spec.format];
  magic.copy(body, 0, 0, Math.min(magic.length, size));
  if (size > magic.length) randomFillSync(body, magic.length);
  return {
    imageId,
    variant,
    version,
    width: spec.width,
    height: Math.round(spec.width * (0.5 + (hash32(`${imageId}h`) % 100) / 100)),
    format: spec.format,
    body,
  };
}

// --- The cache --------------------------------------------------------------

function toCacheEntry(key, rendered) {
  return {
    key,
    imageId: rendered.imageId,
    variant: rendered.variant,
    version: rendered.version,
    width: rendered.width,
    height: rendered.height,
    contentType: CONTENT_TYPES[rendered.format],
    etag: `"${rendered.imageId}-${rendered.version}-${rendered.variant}"`,
    body: rendered.body,
    size: rendered.body.length,
    renderedAt: programSeconds(),
    lastHitAt: programSeconds(),
    hits: 0,
  };
}

/** LRU by total thumbnail bytes: the Map's insertion order is recency order. */
class ThumbnailCache {
  constructor(maxBytes) {
    this.maxBytes = maxBytes;
    this.entries = new Map();
    this.totalBytes = 0;
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
    this.evictedBytes = 0;
    this.purged = 0;
  }

  get(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.hits++;
    entry.lastHitAt = programSeconds();
    this.hits++;
    return entry;
  }

  set(key, entry) {
    this.delete(key);
    if (entry.size > this.maxBytes / 16) return; // never let one preview flush a sixteenth of the cache
    this.entries.set(key, entry);
    this.totalBytes += entry.size;
    while (this.totalBytes > this.maxBytes) this.evictOldest();
  }

  evictOldest() {
    const oldest = this.entries.keys().next().value;
    const entry = this.entries.get(oldest);
    this.entries.delete(oldest);
    this.totalBytes -= entry.size;
    this.evictions++;
    this.evictedBytes += entry.size;
  }

  delete(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.totalBytes -= entry.size;
    return true;
  }
}

export const thumbnailCache = new ThumbnailCache(CACHE_BUDGET_BYTES);
const rendering = new Map(); // key -> Promise of the entry, so concurrent misses render once
const renderWaiters = [];
let rendersRunning = 0;
let renders = 0;
let renderedBytes = 0;

async function withRenderSlot(task) {
  if (rendersRunning >= MAX_CONCURRENT_RENDERS) await new Promise((resolve) => renderWaiters.push(resolve));
  rendersRunning++;
  try {
    return await task();
  } finally {
    rendersRunning--;
    renderWaiters.shift()?.();
  }
}

function cacheKey(imageId, variant) {
  return `${imageId}/${variant}`;
}

async function thumbnailFor(imageId, variant) {
  const key = cacheKey(imageId, variant);
  const cached = thumbnailCache.get(key);
  if (cached !== undefined) return { entry: cached, hit: true };
  let pending = rendering.get(key);
  if (pending === undefined) {
    pending = withRenderSlot(() => renderThumbnail(imageId, variant)).then((rendered) => {
      const entry = toCacheEntry(key, rendered);
      renders++;
      renderedBytes += entry.size;
      if (rendered.version === versionOf(imageId)) thumbnailCache.set(key, entry);
      return entry;
    });
    pending.finally(() => rendering.delete(key)).catch(() => {});
    rendering.set(key, pending);
  }
  return { entry: await pending, hit: false };
}

function purgeImage(imageId) {
  imageVersions.set(imageId, versionOf(imageId) + 1);
  let removed = 0;
  for (const variant of Object.keys(VARIANTS)) if (thumbnailCache.delete(cacheKey(imageId, variant))) removed++;
  thumbnailCache.purged += removed;
  return removed;
}

// --- HTTP -------------------------------------------------------------------

const THUMB_PATH = /^\/t\/(icon|card|detail|preview)\/(img-[0-9a-z]+)\.img$/;
const PURGE_PATH = /^\/v1\/images\/(img-[0-9a-z]+)\/purge$/;

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const url = req.url ?? '/';
  let match;
  if (req.method === 'GET' && (match = THUMB_PATH.exec(url)) !== null) {
    const [, variant, imageId] = match;
    const { entry, hit } = await thumbnailFor(imageId, variant);
    if (req.headers['if-none-match'] === entry.etag) {
      res.writeHead(304, { etag: entry.etag });
      res.end();
      return;
    }
    res.writeHead(200, {
      'content-type': entry.contentType,
      'content-length': entry.size,
      etag: entry.etag,
      'cache-control': 'public, max-age=86400, immutable',
      'x-cache': hit ? 'HIT' : 'MISS',
      'x-thumbnail-size': `${entry.width}x${entry.height}`,
    });
    res.end(entry.body);
    return;
  }
  if (req.method === 'POST' && (match = PURGE_PATH.exec(url)) !== null) {
    await readBody(req);
    sendJson(res, 200, { imageId: match[1], removed: purgeImage(match[1]) });
    return;
  }
  if (req.method === 'GET' && url === '/healthz') {
    sendJson(res, 200, { ok: true });
    return;
  }
  if (req.method === 'GET' && url === '/_cache/stats') {
    sendJson(res, 200, {
      entries: thumbnailCache.entries.size,
      bytes: thumbnailCache.totalBytes,
      budget: thumbnailCache.maxBytes,
      hits: thumbnailCache.hits,
      misses: thumbnailCache.misses,
    });
    return;
  }
  sendJson(res, 404, { error: 'not found' });
}

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) sendJson(res, 500, { error: err.message });
    else res.destroy();
  });
});

// --- Load: storefront pages, app clients, the CMS and the load balancer ----

// Zipf popularity over the catalogue's images (s = 0.95).
const zipfCdf = new Float64Array(IMAGE_COUNT);
{
  let sum = 0;
  for (let r = 0; r < IMAGE_COUNT; r++) zipfCdf[r] = sum += 1 / (r + 1) ** 0.95;
  for (let r = 0; r < IMAGE_COUNT; r++) zipfCdf[r] /= sum;
}
function pickRank(u) {
  let lo = 0;
  let hi = IMAGE_COUNT - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (zipfCdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
function imageIdOfRank(rank) {
  // ranks are scattered over ids so popular images are not neighbours
  return `img-${((rank * 2_654_435_761) % 4_294_967_291).toString(36)}`;
}

const trafficRandom = rng(0x7b1a);
const VARIANT_MIX = [
  ['icon', 0.34],
  ['card', 0.41],
  ['detail', 0.18],
  ['preview', 0.07],
];
function pickVariant(u) {
  let acc = 0;
  for (const [variant, share] of VARIANT_MIX) if (u < (acc += share)) return variant;
  return 'card';
}

function nextRequest() {
  const u = trafficRandom();
  if (u < 0.006) {
    const imageId = imageIdOfRank(pickRank(trafficRandom()));
    return { method: 'POST', path: `/v1/images/${imageId}/purge`, body: JSON.stringify({ reason: 'source replaced' }) };
  }
  if (u < 0.03) return { method: 'GET', path: '/healthz' };
  if (u < 0.034) return { method: 'GET', path: '/_cache/stats' };
  const imageId = imageIdOfRank(pickRank(trafficRandom()));
  return { method: 'GET', path: `/t/${pickVariant(trafficRandom())}/${imageId}.img` };
}

const REQUESTS_PER_SECOND = 2.2;
const client = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: nextRequest, maxInFlight: 32 });

reportStats(() => ({
  retained: thumbnailCache.entries.size,
  cachedBytes: thumbnailCache.totalBytes,
  hits: thumbnailCache.hits,
  misses: thumbnailCache.misses,
  evictions: thumbnailCache.evictions,
  evictedBytes: thumbnailCache.evictedBytes,
  purged: thumbnailCache.purged,
  renders,
  renderedBytes,
  rendering: rendering.size,
  sent: client.sent,
  failed: client.failed,
}));
onShutdown(() => rendering.clear());

ready(
  `thumbnail-cache-byte-lru: thumbnails of ${IMAGE_COUNT} images in a ${CACHE_BUDGET_BYTES / MiB} MiB byte-budget LRU, ` +
    `${REQUESTS_PER_SECOND} req/s at speed 1 on port ${port}${ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''}`,
);
