// Image-thumbnail-like service: clients upload a raw bitmap-ish payload
// (POST /v1/thumbnails, 16-64 KB), the service packs it into a compressed
// tile with a node:zlib gzip stream, decompresses that again with a gunzip
// stream to verify the round trip (the CDN rejects corrupt tiles), keeps
// the most recent 300 tiles in a small LRU for repeat GETs, and answers
// with the tile. Every stream goes through stream.pipeline(), which ends
// and closes it (and destroys it on error), so each request's native zlib
// state lives only while the request is in flight.
//
// Load: 0.5 uploads/s at night, rising linearly from 0.5 h to a 3 uploads/s
// peak at 2.5 h (a product launch), back down to 0.5 uploads/s by 4.5 h.
// Memory rises with the uploads in flight and comes back with them.
import { createGunzip, createGzip } from 'node:zlib';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  buildBallast,
  KiB,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7a11);

// --- codec ----------------------------------------------------------------------------------

/** Collects a stream's output into one Buffer. */
function collector() {
  const chunks = [];
  let length = 0;
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(chunk);
      length += chunk.length;
      callback();
    },
  });
  sink.result = () => Buffer.concat(chunks, length);
  return sink;
}

async function compressTile(pixels) {
  const sink = collector();
  await pipeline(Readable.from([pixels]), createGzip({ level: 6 }), sink);
  return sink.result();
}

async function verifyTile(tile, expectedLength) {
  const sink = collector();
  await pipeline(Readable.from([tile]), createGunzip(), sink);
  return sink.result().length === expectedLength;
}

// --- tiles ------------------------------------------------------------------------------------

class TileCache {
  constructor(capacity) {
    this.capacity = capacity;
    this.entries = new Map();
  }

  get(id) {
    const tile = this.entries.get(id);
    if (tile !== undefined) {
      this.entries.delete(id);
      this.entries.set(id, tile);
    }
    return tile;
  }

  set(id, tile) {
    this.entries.delete(id);
    this.entries.set(id, tile);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value);
  }
}

const tiles = new TileCache(300);
const stats = { uploads: 0, inFlight: 0, maxInFlight: 0, rawBytes: 0, tileBytes: 0, verifyFailures: 0, hits: 0 };
const recentIds = [];

async function makeThumbnail(id, pixels) {
  stats.uploads++;
  stats.inFlight++;
  if (stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight;
  try {
    const tile = await compressTile(pixels);
    if (!(await verifyTile(tile, pixels.length))) {
      stats.verifyFailures++;
      return null;
    }
    stats.rawBytes += pixels.length;
    stats.tileBytes += tile.length;
    tiles.set(id, { tile, width: pixels.readUInt16BE(0), height: pixels.readUInt16BE(2), createdAt: programSeconds() });
    return tile;
  } finally {
    stats.inFlight--;
  }
}

// --- HTTP --------------------------------------------------------------------------------------

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://thumbs.local');
  const parts = url.pathname.split('/');
  if (req.method === 'POST' && url.pathname === '/v1/thumbnails') {
    const id = url.searchParams.get('id') ?? `img_${stats.uploads}`;
    const tile = await makeThumbnail(id, await readBody(req));
    if (tile === null) {
      res.writeHead(422).end();
      return;
    }
    res.writeHead(201, { 'content-type': 'application/gzip', 'content-length': tile.length, location: `/v1/thumbnails/${id}` });
    res.end(tile);
    return;
  }
  if (req.method === 'GET' && parts[2] === 'thumbnails' && parts[3]) {
    const entry = tiles.get(parts[3]);
    if (entry === undefined) {
      res.writeHead(404).end();
      return;
    }
    stats.hits++;
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': entry.tile.length });
    res.end(entry.tile);
    return;
  }
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    return;
  }
  res.writeHead(404).end();
}

// --- clients ----------------------------------------------------------------------------------

/** A synthetic bitmap: a header, smooth gradients with some noise (compresses ~2-4x). */
function bitmap(size) {
  const pixels = Buffer.allocUnsafe(size);
  const width = 64 + Math.floor(random() * 448);
  pixels.writeUInt16BE(width, 0);
  pixels.writeUInt16BE(Math.ceil(size / 3 / width), 2);
  const base = Math.floor(random() * 200);
  for (let i = 4; i < size; i++) pixels[i] = (base + ((i % (width * 3)) >> 3) + (random() < 0.2 ? Math.floor(random() * 32) : 0)) & 0xff;
  return pixels;
}

/** Uploads per second at speed 1, by production hour. */
function uploadRate() {
  const h = programSeconds() / 3600;
  const night = 0.5;
  const peak = 3;
  if (h < 0.5 || h >= 4.5) return night;
  if (h < 2.5) return night + ((peak - night) * (h - 0.5)) / 2;
  return peak - ((peak - night) * (h - 2.5)) / 2;
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

let nextId = 1;
const uploaders = selfRequests(port, {
  perSecond: uploadRate,
  maxInFlight: 32,
  next: () => {
    const id = `img_${(nextId++).toString(36)}`;
    recentIds.push(id);
    if (recentIds.length > 500) recentIds.shift();
    return { method: 'POST', path: `/v1/thumbnails?id=${id}`, headers: { 'content-type': 'application/octet-stream' }, body: bitmap((16 + Math.floor(random() * 48)) * KiB) };
  },
});
// Page views of recent thumbnails and health checks: proportional to the uploads.
const viewers = selfRequests(port, {
  perSecond: () => uploadRate() * 0.8,
  maxInFlight: 16,
  next: () => (random() < 0.1 || recentIds.length === 0 ? { method: 'GET', path: '/healthz' } : { method: 'GET', path: `/v1/thumbnails/${recentIds[recentIds.length - 1 - Math.floor(random() * Math.min(400, recentIds.length))]}` }),
});

reportStats(() => ({
  retained: stats.inFlight,
  uploadRate: Math.round(uploadRate() * 100) / 100,
  uploads: stats.uploads,
  cachedTiles: tiles.entries.size,
  maxInFlight: stats.maxInFlight,
  compressionRatio: stats.tileBytes === 0 ? null : Math.round((stats.rawBytes / stats.tileBytes) * 100) / 100,
  verifyFailures: stats.verifyFailures,
  hits: stats.hits,
  requestsFailed: uploaders.failed + viewers.failed,
}));

ready(`thumbnail-zlib-stream-service: gzip + gunzip stream per upload via pipeline(), 0.5 -> 3 -> 0.5 uploads/s over 0.5-4.5 h (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
