// Image thumbnail service: GET /v1/thumbs/:imageId?w=&h= fetches the
// original from the media store (a stand-in), decodes it into a full-size
// RGBA scratch Buffer (3-12 MB), box-filters it down into a small RGBA
// thumbnail, deflates that (zlib) and answers. Decoding runs in bands with a
// setImmediate between them so a 12 MB image does not block the event loop;
// a few requests' scratch Buffers are alive at any time, each for a few ms.
// Heavy allocation (~2 MB/s of scratch at speed 1), nothing kept: only the
// most requested thumbnails stay, in a small LRU of 200 encoded thumbnails.
import { deflateSync } from 'node:zlib';
import { setImmediate as nextTick } from 'node:timers/promises';
import {
  buildBallast,
  KiB,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7407b5);
const CACHE_ENTRIES = 200;
const BANDS = 4;

// --- the media store (stand-in) ----------------------------------------------

const IMAGE_COUNT = 20_000;
const ORIGINAL_CONTENT = Buffer.allocUnsafe(1024 * KiB);
for (let j = 0; j < ORIGINAL_CONTENT.length; j += 4) ORIGINAL_CONTENT.writeUInt32LE(Math.imul(j + 11, 0xc2b2ae35) >>> 0, j);

function imageInfo(imageId) {
  const n = Number.parseInt(imageId.slice(4), 36);
  if (!Number.isFinite(n) || n < 0 || n >= IMAGE_COUNT) return null;
  const scale = 1 + ((n * 7919) % 1000) / 1000; // 1.0-2.0
  const width = Math.round(1024 * scale);
  const height = Math.round(768 * scale);
  return { id: imageId, width, height, bytes: Math.round(width * height * 0.18), n };
}

const store = {
  reads: 0,
  /** Resolves with the compressed original (a view of the store's page cache, no copy). */
  fetch(info) {
    this.reads++;
    return new Promise((resolve) => setTimeout(() => resolve(ORIGINAL_CONTENT.subarray(0, Math.min(ORIGINAL_CONTENT.length, info.bytes))), 2 + random() * 4));
  },
};

// --- the thumbnail cache -------------------------------------------------------

const thumbCache = new Map(); // key -> {body, etag, hits}, least recently used first
const counters = { requests: 0, hits: 0, rendered: 0, scratchBytes: 0, bytesOut: 0 };

function cacheGet(key) {
  const entry = thumbCache.get(key);
  if (entry === undefined) return undefined;
  thumbCache.delete(key);
  thumbCache.set(key, entry);
  entry.hits++;
  return entry;
}

function cacheSet(key, entry) {
  thumbCache.set(key, entry);
  if (thumbCache.size > CACHE_ENTRIES) thumbCache.delete(thumbCache.keys().next().value);
}

// --- rendering -------------------------------------------------------------------

/** "Decodes" the compressed original into a full-size RGBA scratch buffer, band by band. */
async function decode(info, compressed) {
  const scratch = Buffer.allocUnsafe(info.width * info.height * 4);
  counters.scratchBytes += scratch.length;
  const bandBytes = Math.ceil(info.height / BANDS) * info.width * 4;
  for (let band = 0; band < BANDS; band++) {
    const start = band * bandBytes;
    const end = Math.min(scratch.length, start + bandBytes);
    scratch.fill(compressed, start, end);
    // a row of "pixels" per 16 rows from the image's own seed (so thumbnails differ)
    for (let row = start; row < end; row += info.width * 64) scratch.writeUInt32LE((info.n * 2654435761 + row) >>> 0, row);
    if (band < BANDS - 1) await nextTick();
  }
  return scratch;
}

/** Box-filters the RGBA image down to w x h. */
function downscale(scratch, info, w, h) {
  const thumb = Buffer.allocUnsafe(w * h * 4);
  const sx = info.width / w;
  const sy = info.height / h;
  const acc = new Float32Array(4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      acc.fill(0);
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const src = (Math.floor((y + dy * 0.5) * sy) * info.width + Math.floor((x + dx * 0.5) * sx)) * 4;
          acc[0] += scratch[src];
          acc[1] += scratch[src + 1];
          acc[2] += scratch[src + 2];
          acc[3] += scratch[src + 3];
        }
      }
      const dst = (y * w + x) * 4;
      thumb[dst] = acc[0] / 4;
      thumb[dst + 1] = acc[1] / 4;
      thumb[dst + 2] = acc[2] / 4;
      thumb[dst + 3] = 255;
    }
  }
  return thumb;
}

async function renderThumbnail(info, w, h) {
  const compressed = await store.fetch(info);
  const scratch = await decode(info, compressed);
  const thumb = downscale(scratch, info, w, h);
  const body = deflateSync(thumb, { level: 4 });
  counters.rendered++;
  return { body, etag: `"${info.n.toString(36)}-${w}x${h}-${body.length.toString(36)}"`, hits: 0 };
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const SIZES = new Set(['96x72', '160x120', '320x240']);

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://thumbs.local');
  try {
    const match = /^\/v1\/thumbs\/(img-[0-9a-z]+)$/.exec(url.pathname);
    if (req.method === 'GET' && match !== null) {
      const size = `${url.searchParams.get('w') ?? '160'}x${url.searchParams.get('h') ?? '120'}`;
      if (!SIZES.has(size)) return sendJson(res, 400, { error: `unsupported size ${size}` });
      const info = imageInfo(match[1]);
      if (info === null) return sendJson(res, 404, { error: 'no such image' });
      counters.requests++;
      const key = `${info.id}:${size}`;
      let entry = cacheGet(key);
      if (entry !== undefined) counters.hits++;
      else {
        const [w, h] = size.split('x').map(Number);
        entry = await renderThumbnail(info, w, h);
        cacheSet(key, entry);
      }
      counters.bytesOut += entry.body.length;
      res.writeHead(200, { 'content-type': 'application/x-rgba-deflate', 'content-length': entry.body.length, etag: entry.etag, 'cache-control': 'public, max-age=86400' });
      return res.end(entry.body);
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, cached: thumbCache.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the web pages embedding thumbnails (the load) -----------------------------

const SIZE_LIST = [...SIZES];

function nextThumb() {
  // a few hundred images are on every landing page; the rest is a long tail
  const n = random() < 0.55 ? Math.floor(150 * random() ** 1.5) : Math.floor(IMAGE_COUNT * random());
  const [w, h] = SIZE_LIST[n % 7 === 0 ? 2 : n % 3 === 0 ? 0 : 1].split('x');
  return { method: 'GET', path: `/v1/thumbs/img-${n.toString(36)}?w=${w}&h=${h}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const browsers = selfRequests(port, { perSecond: 0.35, maxInFlight: 16, next: nextThumb });
const probes = selfRequests(port, { perSecond: 0.05, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

function cachedBytes() {
  let bytes = 0;
  for (const entry of thumbCache.values()) bytes += entry.body.length;
  return bytes;
}

reportStats(() => ({
  retained: thumbCache.size,
  cachedBytes: cachedBytes(),
  requests: counters.requests,
  hits: counters.hits,
  rendered: counters.rendered,
  scratchMB: Math.round(counters.scratchBytes / 1e6),
  clock: Math.round(programSeconds()),
  requestsFailed: browsers.failed + probes.failed,
}));

ready(
  `thumbnail-service-scratch-buffers: ~0.35 thumbnails/s, each miss decoding into a 3-12 MB scratch Buffer that is dropped at once; 200-entry LRU of encoded thumbnails (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
