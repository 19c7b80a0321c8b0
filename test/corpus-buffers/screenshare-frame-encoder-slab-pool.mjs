// Frame encoder of a screen-sharing relay for support sessions: the agent's
// browser POSTs compressed screen updates (30-250 KB) to
// /v1/sessions/:id/frames; the relay wraps each update into WebSocket binary
// frames of at most 32 KiB of payload and fans them out to the session's
// viewers (SubscriberFanout, an in-process stand-in whose delivery takes a
// few seconds of production time while the viewers' sockets drain).
//
// Frames are encoded into fixed-size 32 KiB chunks from a ChunkPool: chunks
// are cut with subarray() from 1 MiB slabs, handed out from a free list and
// returned to it once every viewer has the frame. The pool never shrinks: it
// grows to the busiest moment's concurrency and keeps those slabs for the
// next peak. Traffic follows the working day (SCENARIO_CLOCK_H, default 10,
// is the hour at start): quiet in the morning, a peak at 13:00 (3 h into the
// run), quiet again by 16:00.
import {
  buildBallast,
  envNumber,
  KiB,
  listen,
  MiB,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x5c7ee2);
const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 10);
const CHUNK_SIZE = 32 * KiB;
const SLAB_SIZE = 1 * MiB;
const FRAME_HEADER = 10; // FIN/opcode, 127, 64-bit length (unmasked, server to client)
const MAX_PAYLOAD = CHUNK_SIZE - FRAME_HEADER;

// --- the chunk pool ----------------------------------------------------------

class ChunkPool {
  constructor(chunkSize, slabSize) {
    this.chunkSize = chunkSize;
    this.slabSize = slabSize;
    this.slabs = [];
    this.free = [];
    this.inUse = 0;
    this.highWater = 0;
  }

  grow() {
    const slab = Buffer.allocUnsafeSlow(this.slabSize);
    this.slabs.push(slab);
    for (let offset = 0; offset + this.chunkSize <= this.slabSize; offset += this.chunkSize) {
      this.free.push(slab.subarray(offset, offset + this.chunkSize));
    }
  }

  acquire() {
    if (this.free.length === 0) this.grow();
    this.inUse++;
    if (this.inUse > this.highWater) this.highWater = this.inUse;
    return this.free.pop();
  }

  release(chunk) {
    this.inUse--;
    this.free.push(chunk);
  }

  get capacity() {
    return this.slabs.length * Math.floor(this.slabSize / this.chunkSize);
  }
}

const pool = new ChunkPool(CHUNK_SIZE, SLAB_SIZE);

/** Writes one unmasked binary frame (header + payload) into a pool chunk. */
function writeFrame(chunk, payload, fin, first) {
  chunk[0] = (fin ? 0x80 : 0) | (first ? 0x02 : 0x00);
  chunk[1] = 127;
  chunk.writeUInt32BE(0, 2);
  chunk.writeUInt32BE(payload.length, 6);
  payload.copy(chunk, FRAME_HEADER);
  return FRAME_HEADER + payload.length;
}

/** Encodes an update into WebSocket frames (a continuation sequence) in pool chunks. */
function encodeFrames(update) {
  const frames = [];
  for (let offset = 0; offset < update.length; offset += MAX_PAYLOAD) {
    const payload = update.subarray(offset, Math.min(update.length, offset + MAX_PAYLOAD));
    const chunk = pool.acquire();
    const length = writeFrame(chunk, payload, offset + MAX_PAYLOAD >= update.length, offset === 0);
    frames.push({ chunk, length });
  }
  return frames;
}

// --- the viewers' side (stand-in) -------------------------------------------

class SubscriberFanout {
  constructor(rand) {
    this.rand = rand;
    this.delivered = 0;
    this.bytes = 0;
  }

  /** Resolves when every viewer of the session has the frames (log-normal, median 20 s of production time). */
  deliver(sessionId, frames) {
    const z = Math.sqrt(-2 * Math.log(Math.max(1e-9, this.rand()))) * Math.cos(2 * Math.PI * this.rand());
    const productionMs = Math.min(120_000, 20_000 * Math.exp(0.5 * z));
    let bytes = 0;
    for (const frame of frames) bytes += frame.length;
    return new Promise((resolve) => {
      setTimeout(() => {
        this.delivered++;
        this.bytes += bytes;
        resolve(bytes);
      }, productionMs / speed);
    });
  }
}

const fanout = new SubscriberFanout(rng(0xfa40));
const sessionsSeen = new Map(); // session id -> {frames, bytes, lastAt}; bounded below
const counters = { updates: 0, frames: 0, bytesIn: 0, rejected: 0 };

function noteSession(sessionId, frames, bytes, now) {
  let session = sessionsSeen.get(sessionId);
  if (session === undefined) {
    session = { frames: 0, bytes: 0, lastAt: now };
    sessionsSeen.set(sessionId, session);
    if (sessionsSeen.size > 500) sessionsSeen.delete(sessionsSeen.keys().next().value);
  }
  session.frames += frames;
  session.bytes += bytes;
  session.lastAt = now;
}

async function relayUpdate(sessionId, update) {
  const frames = encodeFrames(update);
  try {
    const bytes = await fanout.deliver(sessionId, frames);
    noteSession(sessionId, frames.length, bytes, programSeconds());
    counters.frames += frames.length;
  } finally {
    for (const frame of frames) pool.release(frame.chunk);
  }
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    const match = /^\/v1\/sessions\/([\w-]+)\/frames$/.exec(url);
    if (req.method === 'POST' && match !== null) {
      const update = await readBody(req, 1 * MiB);
      if (update.length === 0) {
        counters.rejected++;
        return sendJson(res, 400, { error: 'empty update' });
      }
      counters.updates++;
      counters.bytesIn += update.length;
      await relayUpdate(match[1], update);
      return sendJson(res, 202, { ok: true });
    }
    if (req.method === 'GET' && url === '/healthz') {
      return sendJson(res, 200, { ok: true, poolSlabs: pool.slabs.length, inUse: pool.inUse });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the agents' browsers (the load) -----------------------------------------

/** Updates per second (speed 1) over the working day: a base plus a peak at 13:00. */
function updatesPerSecond() {
  const hour = CLOCK_H + programSeconds() / 3600;
  return 0.15 + 1.2 * Math.exp(-(((hour - 13) / 1.6) ** 2));
}

const UPDATE_CONTENT = Array.from({ length: 6 }, (_, i) => {
  const buf = Buffer.allocUnsafe(256 * KiB);
  for (let j = 0; j < buf.length; j += 4) buf.writeUInt32LE(Math.imul(j + 1, 2654435761 + i) >>> 0, j);
  return buf;
});

function nextUpdate() {
  const session = `sup-${(Math.floor(random() * 400) + 1000).toString(36)}`;
  const size = Math.round(Math.exp(Math.log(30 * KiB) + random() * Math.log(250 / 30)));
  const body = UPDATE_CONTENT[Math.floor(random() * UPDATE_CONTENT.length)].subarray(0, size);
  return { method: 'POST', path: `/v1/sessions/${session}/frames`, headers: { 'content-type': 'application/octet-stream' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const agents = selfRequests(port, { perSecond: updatesPerSecond, maxInFlight: 128, next: nextUpdate });
const probes = selfRequests(port, { perSecond: 0.1, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: pool.capacity,
  slabs: pool.slabs.length,
  inUse: pool.inUse,
  highWater: pool.highWater,
  rate: Math.round(updatesPerSecond() * 1000) / 1000,
  updates: counters.updates,
  frames: counters.frames,
  inFlight: agents.inFlight,
  requestsFailed: agents.failed + probes.failed,
}));

ready(
  `screenshare-frame-encoder-slab-pool: encodes screen updates into 32 KiB WebSocket frames from a ChunkPool of 1 MiB slabs that grows to the day's peak (13:00, clock starts ${CLOCK_H}:00) and keeps it (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
