// Live video segment relay (low-latency HLS/CMAF style): the packagers of 4
// live channels POST each 6-second segment (150-300 KB) to
// /v1/ingest/:channel/:seq. The relay keeps the last 5 segments per channel
// in a SegmentRing: 5 preallocated 384 KiB slot Buffers, overwritten in turn
// (never reallocated), for late joiners and playlist requests. Each segment
// is also framed once (framePayload: a chunk header + the bytes, one Buffer
// shared by every viewer of the channel) and put on each viewer's write
// queue; ViewerConnection stand-ins drain their queues at their bandwidth.
// Now and then the CDN edge is congested: a share of a channel's viewers
// stop draining for 30-120 s, their queues fill (bounded: beyond 16 segments
// the oldest is skipped, as live players do), then drain again. Viewers come
// and go; a joiner is primed with copies of the last 2 ring slots.
import {
  buildBallast,
  every,
  KiB,
  listen,
  MiB,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x5e6e47);
const RING_SLOTS = 5;
const SLOT_CAPACITY = 384 * KiB;
const SEGMENT_SECONDS = 6;
const VIEWERS_PER_CHANNEL = 30;
const MAX_QUEUED_SEGMENTS = 16;
const CHANNELS = ['news-24', 'sports-1', 'kids', 'docs'];

// --- the ring of recent segments ----------------------------------------------

class SegmentRing {
  constructor(slots, capacity) {
    this.capacity = capacity;
    this.slots = Array.from({ length: slots }, () => ({ seq: -1, length: 0, buf: null, receivedAt: 0 }));
    this.next = 0;
    this.lastSeq = -1;
  }

  /** Copies the segment into the next slot (overwriting the oldest). */
  put(seq, segment, now) {
    const slot = this.slots[this.next];
    if (slot.buf === null) slot.buf = Buffer.allocUnsafe(this.capacity);
    const length = segment.copy(slot.buf, 0, 0, Math.min(segment.length, this.capacity));
    slot.seq = seq;
    slot.length = length;
    slot.receivedAt = now;
    this.next = (this.next + 1) % this.slots.length;
    this.lastSeq = seq;
    return slot;
  }

  /** The last `n` segments, oldest first. */
  recent(n) {
    const out = [];
    for (let i = n; i >= 1; i--) {
      const slot = this.slots[(this.next - i + this.slots.length * 2) % this.slots.length];
      if (slot.seq >= 0) out.push(slot);
    }
    return out;
  }
}

// --- viewers -------------------------------------------------------------------

let viewerSeq = 0;

class ViewerConnection {
  constructor(channel, now) {
    this.id = `v${(++viewerSeq).toString(36)}`;
    this.channel = channel;
    this.queue = [];
    this.queuedBytes = 0;
    this.headOffset = 0;
    this.bandwidth = (1.3 + random() * 1.5) * (225 * KiB / SEGMENT_SECONDS); // bytes per production second
    this.stalledUntil = 0;
    this.joinedAt = now;
    this.sent = 0;
    this.skipped = 0;
  }

  enqueue(payload) {
    this.queue.push(payload);
    this.queuedBytes += payload.length;
    while (this.queue.length > MAX_QUEUED_SEGMENTS) {
      const dropped = this.queue.shift();
      this.queuedBytes -= dropped.length - this.headOffset;
      this.headOffset = 0;
      this.skipped++;
    }
  }

  /** Writes what the socket accepts in `seconds` of production time. */
  drain(seconds, now) {
    if (now < this.stalledUntil) return;
    let budget = this.bandwidth * seconds;
    while (budget > 0 && this.queue.length > 0) {
      const head = this.queue[0];
      const left = head.length - this.headOffset;
      if (left <= budget) {
        budget -= left;
        this.queuedBytes -= left;
        this.sent += left;
        this.queue.shift();
        this.headOffset = 0;
      } else {
        this.headOffset += budget;
        this.queuedBytes -= budget;
        this.sent += budget;
        budget = 0;
      }
    }
  }
}

/** Frames a segment for the viewers' chunked responses: one Buffer shared by all viewers. */
function framePayload(channel, seq, segment) {
  const header = `${segment.length.toString(16)}\r\nx-seq: ${seq}; channel=${channel}\r\n`;
  const payload = Buffer.allocUnsafe(Buffer.byteLength(header) + segment.length + 2);
  let pos = payload.write(header, 0, 'latin1');
  pos += segment.copy(payload, pos);
  payload.write('\r\n', pos, 'latin1');
  return payload;
}

const channels = new Map(
  CHANNELS.map((name) => [name, { name, ring: new SegmentRing(RING_SLOTS, SLOT_CAPACITY), viewers: new Set(), segments: 0, bytes: 0 }]),
);
const counters = { segments: 0, outOfOrder: 0, joins: 0, leaves: 0, bursts: 0 };

function join(channel, now) {
  const viewer = new ViewerConnection(channel.name, now);
  for (const slot of channel.ring.recent(2)) viewer.enqueue(Buffer.from(slot.buf.subarray(0, slot.length)));
  channel.viewers.add(viewer);
  counters.joins++;
}

function ingestSegment(channel, seq, segment, now) {
  if (seq <= channel.ring.lastSeq) {
    counters.outOfOrder++;
    return false;
  }
  channel.ring.put(seq, segment, now);
  const payload = framePayload(channel.name, seq, segment);
  for (const viewer of channel.viewers) viewer.enqueue(payload);
  channel.segments++;
  channel.bytes += segment.length;
  counters.segments++;
  return true;
}

// --- congestion and churn (production clock) ---------------------------------

let nextBurstAt = 900 + random() * 900;
let lastPump = 0;

function pump() {
  const now = programSeconds();
  const dt = Math.min(5, now - lastPump);
  lastPump = now;
  if (now >= nextBurstAt) {
    // an edge congestion episode: 40-90 % of one channel's viewers stall for 30-120 s
    const channel = [...channels.values()][Math.floor(random() * channels.size)];
    const share = 0.4 + random() * 0.5;
    const until = now + 30 + random() * 90;
    for (const viewer of channel.viewers) if (random() < share) viewer.stalledUntil = until;
    counters.bursts++;
    nextBurstAt = now + 600 + random() * 1200;
  }
  for (const channel of channels.values()) {
    for (const viewer of channel.viewers) viewer.drain(dt, now);
    // churn: ~1 viewer per channel per minute leaves and another joins
    if (random() < dt / 60 && channel.viewers.size > 0) {
      const leaving = [...channel.viewers][Math.floor(random() * channel.viewers.size)];
      channel.viewers.delete(leaving);
      counters.leaves++;
    }
    while (channel.viewers.size < VIEWERS_PER_CHANNEL) join(channel, now);
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
    const ingest = /^\/v1\/ingest\/([\w-]+)\/(\d+)$/.exec(url);
    if (req.method === 'POST' && ingest !== null) {
      const channel = channels.get(ingest[1]);
      const segment = await readBody(req, 2 * MiB);
      if (channel === undefined) return sendJson(res, 404, { error: 'unknown channel' });
      if (segment.length > SLOT_CAPACITY) return sendJson(res, 413, { error: 'segment too large' });
      const ok = ingestSegment(channel, Number(ingest[2]), segment, programSeconds());
      return sendJson(res, ok ? 201 : 409, { ok });
    }
    const playlist = /^\/v1\/live\/([\w-]+)\/playlist$/.exec(url);
    if (req.method === 'GET' && playlist !== null) {
      const channel = channels.get(playlist[1]);
      if (channel === undefined) return sendJson(res, 404, { error: 'unknown channel' });
      const segments = channel.ring.recent(RING_SLOTS).map((s) => ({ seq: s.seq, bytes: s.length, at: Math.round(s.receivedAt) }));
      return sendJson(res, 200, { channel: channel.name, targetDuration: SEGMENT_SECONDS, segments });
    }
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- packagers and players (the load) ------------------------------------------

const SEGMENT_CONTENT = Array.from({ length: 4 }, (_, i) => {
  const buf = Buffer.allocUnsafe(320 * KiB);
  for (let j = 0; j < buf.length; j += 4) buf.writeUInt32LE(Math.imul(j + 7, 0x9e3779b1 + i) >>> 0, j);
  return buf;
});
const packagerSeq = new Map(CHANNELS.map((name) => [name, 0]));
let packagerTurn = 0;

function nextSegment() {
  const name = CHANNELS[packagerTurn++ % CHANNELS.length];
  const seq = packagerSeq.get(name) + 1;
  packagerSeq.set(name, seq);
  const size = Math.round(150 * KiB + random() * 150 * KiB);
  const body = SEGMENT_CONTENT[seq % SEGMENT_CONTENT.length].subarray(0, size);
  return { method: 'POST', path: `/v1/ingest/${name}/${seq}`, headers: { 'content-type': 'video/mp4' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const pumpTimer = setInterval(pump, Math.max(10, 1000 / speed));
onShutdown(() => clearInterval(pumpTimer));

// 4 channels, one segment every 6 s each; players poll playlists at ~1 req/s in all.
const packagers = selfRequests(port, { perSecond: CHANNELS.length / SEGMENT_SECONDS, maxInFlight: 4, next: nextSegment });
const players = selfRequests(port, {
  perSecond: 1,
  maxInFlight: 8,
  next: () => (random() < 0.05 ? { method: 'GET', path: '/healthz' } : { method: 'GET', path: `/v1/live/${CHANNELS[Math.floor(random() * CHANNELS.length)]}/playlist` }),
});

function queueTotals() {
  let queued = 0;
  let bytes = 0;
  let stalled = 0;
  const distinct = new Set();
  const now = programSeconds();
  for (const channel of channels.values()) {
    for (const viewer of channel.viewers) {
      queued += viewer.queue.length;
      bytes += viewer.queuedBytes;
      if (now < viewer.stalledUntil) stalled++;
      for (const payload of viewer.queue) distinct.add(payload);
    }
  }
  let distinctBytes = 0;
  for (const payload of distinct) distinctBytes += payload.length;
  return { queued, bytes, stalled, distinct: distinct.size, distinctBytes };
}

reportStats(() => {
  const q = queueTotals();
  return {
    retained: q.distinct,
    queuedSegments: q.queued,
    queuedDistinctBytes: q.distinctBytes,
    stalledViewers: q.stalled,
    segments: counters.segments,
    bursts: counters.bursts,
    joins: counters.joins,
    requestsFailed: packagers.failed + players.failed,
  };
});

ready(
  `live-segment-relay-ring-buffers: 4 live channels, 6 s segments copied into a 5-slot ring of 384 KiB Buffers and queued to 120 viewers whose queues fill during congestion bursts and drain (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
