// Push gateway of a live-sports app: backend services POST score and match
// events to /v1/publish, and the gateway fans each event out to the topic's
// subscribed app connections as binary frames (header + JSON payload). A frame
// has to stay intact until the client acknowledges it (the protocol resends
// unacknowledged frames after a reconnect), so frames are written into
// buffers taken from a slab allocator instead of a fresh Buffer each:
// class FramePool allocates 256 KiB slabs (Buffer.allocUnsafeSlow) cut into
// 16 KiB chunks, hands chunks out from a free list and takes them back on ACK.
// It adds a slab whenever the free list is empty, up to 12 slabs (3 MiB);
// beyond that a frame gets an unpooled Buffer. Slabs are never given back:
// the pool is sized by the busiest moment of the day and kept.
//
// Traffic follows a match day: quiet in the morning, a midday peak around
// 12:30 (the lunchtime fixtures) with ~8x the morning rate, quieter again
// after 14:00. SCENARIO_CLOCK_H is the hour at start (default 9). Clients ACK
// after a log-normal delay (median 6 s of production time: mobile radios
// waking up), so the chunks in use follow the load; the pool reaches its 12
// slabs during the peak and keeps them afterwards.
import {
  buildBallast,
  envNumber,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x5ab5);
const START_HOUR = envNumber('SCENARIO_CLOCK_H', 9, (v) => v >= 0 && v < 24);

// --- the slab pool -------------------------------------------------------------------------

class FramePool {
  constructor({ slabSize, chunkSize, maxSlabs }) {
    this.slabSize = slabSize;
    this.chunkSize = chunkSize;
    this.maxSlabs = maxSlabs;
    this.slabs = [];
    this.free = [];
    this.inUse = 0;
    this.unpooled = 0;
  }

  grow() {
    const slab = Buffer.allocUnsafeSlow(this.slabSize);
    this.slabs.push(slab);
    for (let offset = 0; offset + this.chunkSize <= this.slabSize; offset += this.chunkSize) {
      this.free.push(slab.subarray(offset, offset + this.chunkSize));
    }
  }

  acquire(length) {
    if (length > this.chunkSize) return this.fallback(length);
    if (this.free.length === 0) {
      if (this.slabs.length >= this.maxSlabs) return this.fallback(length);
      this.grow();
    }
    this.inUse++;
    return this.free.pop();
  }

  fallback(length) {
    this.unpooled++;
    return Buffer.allocUnsafe(length);
  }

  release(chunk) {
    if (chunk.length !== this.chunkSize || chunk.buffer.byteLength !== this.slabSize) return; // unpooled: left to GC
    this.inUse--;
    this.free.push(chunk);
  }
}

const framePool = new FramePool({ slabSize: 256 * 1024, chunkSize: 16 * 1024, maxSlabs: 12 });

// --- frames ----------------------------------------------------------------------------------

const HEADER = 16;
let frameSeq = 0;

function encodeFrame(type, topicId, subscriberId, payload) {
  const length = HEADER + Buffer.byteLength(payload);
  const chunk = framePool.acquire(length);
  chunk.writeUInt8(1, 0); // protocol version
  chunk.writeUInt8(type, 1);
  chunk.writeUInt16BE(topicId, 2);
  chunk.writeUInt32BE(++frameSeq >>> 0, 4);
  chunk.writeUInt32BE(subscriberId, 8);
  chunk.writeUInt32BE(length - HEADER, 12);
  chunk.write(payload, HEADER, 'utf8');
  return { chunk, length };
}

// --- connections (stand-ins for the app's sockets) ------------------------------------------------

const TOPICS = 300;
const subscribers = new Map(); // topic id -> array of subscriber ids
for (let t = 0; t < TOPICS; t++) {
  const count = 3 + Math.floor(random() ** 2 * 14);
  subscribers.set(t, Array.from({ length: count }, () => Math.floor(random() * 20000)));
}

const delivery = { frames: 0, bytes: 0, acked: 0, pending: 0, maxPending: 0 };

function ackDelayS() {
  // log-normal: median 6 s, sigma 0.8
  const u = Math.max(1e-9, random());
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.min(120, 6 * Math.exp(0.8 * z));
}

function sendToConnection(frame) {
  delivery.frames++;
  delivery.bytes += frame.length;
  delivery.pending++;
  if (delivery.pending > delivery.maxPending) delivery.maxPending = delivery.pending;
  setTimeout(() => {
    delivery.pending--;
    delivery.acked++;
    framePool.release(frame.chunk);
  }, scaledMs(ackDelayS()));
}

function fanOut(topicId, type, payload) {
  const ids = subscribers.get(topicId);
  for (let i = 0; i < ids.length; i++) sendToConnection(encodeFrame(type, topicId, ids[i], payload));
  return ids.length;
}

// --- HTTP -------------------------------------------------------------------------------------------

const EVENT_TYPES = { score: 1, card: 2, substitution: 3, commentary: 4, stats: 5 };
const published = { events: 0, rejected: 0 };

function send(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://push.local');
  if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true, slabs: framePool.slabs.length });
  if (req.method !== 'POST' || url.pathname !== '/v1/publish') return send(res, 404, { error: 'not found' });
  const text = (await readBody(req, 64 * 1024)).toString('utf8');
  const event = JSON.parse(text);
  const type = EVENT_TYPES[event.type];
  if (type === undefined || !subscribers.has(event.topic)) {
    published.rejected++;
    return send(res, 422, { error: 'unknown type or topic' });
  }
  published.events++;
  const payload = JSON.stringify({ t: event.type, m: event.match, at: event.at, d: event.data });
  send(res, 202, { fannedOut: fanOut(event.topic, type, payload) });
}

// --- clients: the match-event producers --------------------------------------------------------------

function hourOfDay() {
  return (START_HOUR + programSeconds() / 3600) % 24;
}

/** Events published per second at speed 1: ~0.4 in the morning, ~3.2 at 12:30. */
function publishRate() {
  const h = hourOfDay();
  return 0.4 + 2.8 * Math.exp(-(((h - 12.5) / 0.9) ** 2));
}

const PLAYERS = ['Silva', 'Okafor', 'Jansen', 'Moreau', 'Kowalski', 'Haddad', 'Lindqvist', 'Rossi', 'Tanaka', 'Murphy'];

function eventRequest() {
  const topic = Math.floor(random() ** 1.5 * TOPICS);
  const r = random();
  const type = r < 0.08 ? 'score' : r < 0.15 ? 'card' : r < 0.25 ? 'substitution' : r < 0.8 ? 'commentary' : 'stats';
  let data;
  if (type === 'commentary') {
    data = { minute: Math.floor(random() * 95), text: `${PLAYERS[Math.floor(random() * PLAYERS.length)]} ${'drives forward and looks for the overlap on the left; '.repeat(1 + Math.floor(random() * 6))}`.trim() };
  } else if (type === 'stats') {
    data = { possession: [40 + Math.floor(random() * 20)], shots: Array.from({ length: 20 + Math.floor(random() * 60) }, () => ({ x: Math.round(random() * 100), y: Math.round(random() * 60), xg: Math.round(random() * 100) / 100, player: PLAYERS[Math.floor(random() * PLAYERS.length)] })) };
  } else {
    data = { minute: Math.floor(random() * 95), player: PLAYERS[Math.floor(random() * PLAYERS.length)], home: Math.floor(random() * 4), away: Math.floor(random() * 4) };
  }
  const body = JSON.stringify({ topic, type, match: `m-${topic}-${Math.floor(programSeconds() / 7200)}`, at: Math.round(programSeconds()), data });
  return { method: 'POST', path: '/v1/publish', headers: { 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const producers = selfRequests(port, { perSecond: publishRate, maxInFlight: 16, next: eventRequest });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => {
  const maxPending = delivery.maxPending;
  delivery.maxPending = delivery.pending;
  return {
    retained: framePool.slabs.length,
    chunksInUse: framePool.inUse,
    chunksFree: framePool.free.length,
    unpooledFrames: framePool.unpooled,
    pendingFrames: delivery.pending,
    maxPendingFrames: maxPending,
    framesSent: delivery.frames,
    events: published.events,
    hour: Math.round(hourOfDay() * 100) / 100,
    requestsFailed: producers.failed + probes.failed,
  };
});

ready(
  `push-gateway-frame-slab-pool: match-event fan-out, frames in a slab pool (256 KiB slabs of 16 KiB chunks, max 12) that grows with the midday peak and keeps its slabs (speed ${speed}, clock ${START_HOUR} h, ballast ${ballastMb} MB, port ${port})`,
);
