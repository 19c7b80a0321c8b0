// Live-transcoding service: a broadcaster's encoder opens a stream
// (POST /v1/streams), pushes 6-second segments (POST /v1/streams/:id/segments)
// and closes it (DELETE /v1/streams/:id). Each segment is decoded into a raw
// NV12 keyframe (~0.8-1.4 MB), kept in the stream's `frames` window (the last
// five: previews, scene-cut detection and re-encode references) and transcoded
// to the ladder's renditions, which go to the CDN stand-in.
//
// Per-stream state lives in the module-level Map `activeStreams`. closeStream()
// empties it; but when an encoder just vanishes, the watchdog only marks the
// stream 'stalled' and releases its encoder session ("kept for a reconnect to
// resume it"), and nothing ever removes a stalled stream. From the onset
// (default 105 min) a new version of the mobile broadcaster app (half of the
// broadcasts) drops off without closing two times in three: a few abandoned
// streams an hour, each keeping its five decoded frames for good.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  every,
  KiB,
  listen,
  onsetSeconds,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x57ea3);
const ONSET = onsetSeconds(6300);

const config = {
  referenceFrames: 5,
  segmentSeconds: 6,
  stallAfterSeconds: 45,
  watchdogSeconds: 15,
  maxSegmentBytes: 2 * 1024 * KiB,
};

const RENDITIONS = {
  '540p': { width: 960, height: 540 },
  '720p': { width: 1280, height: 720 },
  '576p': { width: 1024, height: 576 },
};
const LADDER = [
  { name: '360p', width: 640, height: 360, kbps: 800 },
  { name: '240p', width: 426, height: 240, kbps: 400 },
  { name: 'audio', width: 0, height: 0, kbps: 96 },
];

// --- CDN stand-in -------------------------------------------------------------------

const cdn = {
  segments: 0,
  bytes: 0,
  publish(path, body) {
    this.segments++;
    this.bytes += body.length;
    return new Promise((resolve) => setTimeout(resolve, 1 + random() * 3));
  },
};

// --- streams ------------------------------------------------------------------------

/** streamId -> per-stream state. */
const activeStreams = new Map();
const counters = { opened: 0, closed: 0, stalled: 0, segments: 0, decodedBytes: 0 };
let streamSeq = 0;

class EncoderSession {
  constructor(streamId, ladder) {
    this.streamId = streamId;
    this.ladder = ladder;
    this.sequence = 0;
    this.open = true;
  }

  release() {
    this.open = false;
  }
}

function openStream(channel, rendition) {
  streamSeq++;
  const id = `st_${streamSeq.toString(36)}_${Math.floor(random() * 1e8).toString(36)}`;
  const state = {
    id,
    channel,
    rendition,
    frames: [],
    status: 'live',
    openedAt: programSeconds(),
    lastSegmentAt: programSeconds(),
    segments: 0,
    encoder: new EncoderSession(id, LADDER),
    bytesIn: 0,
  };
  activeStreams.set(id, state);
  counters.opened++;
  return state;
}

function closeStream(state) {
  state.status = 'closed';
  state.encoder?.release();
  state.encoder = null;
  state.frames.length = 0;
  activeStreams.delete(state.id);
  counters.closed++;
}

/** Decodes a segment's keyframe into a raw NV12 frame buffer. */
function decodeSegment(state, segment) {
  const { width, height } = RENDITIONS[state.rendition];
  const frame = Buffer.allocUnsafe(width * height * 1.5);
  frame.fill(segment.subarray(64, 64 + 4 * KiB)); // stands in for the decoder's output
  return frame;
}

/** Cheap scene-cut score: mean absolute difference of sampled luma bytes. */
function sceneChange(previous, frame) {
  if (previous === undefined) return 1;
  let diff = 0;
  const step = 4099;
  let n = 0;
  for (let i = 0; i < frame.length; i += step, n++) diff += Math.abs(frame[i] - previous[i]);
  return diff / (n * 255);
}

/** Transcodes one segment into the ladder's renditions (sized like real output). */
function transcode(state, frame, segment) {
  const outputs = [];
  for (const rung of state.encoder.ladder) {
    const size = Math.max(2 * KiB, Math.round((rung.kbps * 1000 * config.segmentSeconds) / 8 / 4));
    const out = Buffer.allocUnsafe(size);
    frame.copy(out, 0, 0, Math.min(size, frame.length));
    outputs.push({ name: rung.name, body: out });
  }
  state.encoder.sequence++;
  return outputs;
}

async function ingestSegment(state, segment) {
  const frame = decodeSegment(state, segment);
  const score = sceneChange(state.frames.at(-1), frame);
  state.frames.push(frame);
  if (state.frames.length > config.referenceFrames) state.frames.shift();
  state.segments++;
  state.bytesIn += segment.length;
  state.lastSegmentAt = programSeconds();
  counters.segments++;
  counters.decodedBytes += frame.length;
  const outputs = transcode(state, frame, segment);
  await Promise.all(outputs.map((o) => cdn.publish(`/live/${state.channel}/${o.name}/${state.encoder?.sequence ?? 0}.ts`, o.body)));
  return { sequence: state.segments, sceneChange: score > 0.2 };
}

/** Marks streams whose encoder went quiet; a reconnect with the same id resumes them. */
function watchdog() {
  const now = programSeconds();
  for (const state of activeStreams.values()) {
    if (state.status !== 'live' || now - state.lastSegmentAt < config.stallAfterSeconds) continue;
    state.status = 'stalled';
    state.encoder?.release();
    state.encoder = null;
    counters.stalled++;
  }
}

// --- HTTP -------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readSegment(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let length = 0;
    req.on('data', (part) => {
      length += part.length;
      parts.push(part);
    });
    req.on('end', () => (length > config.maxSegmentBytes ? reject(new Error('segment too large')) : resolve(Buffer.concat(parts, length))));
    req.on('error', reject);
  });
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://transcoder.internal');
  const parts = url.pathname.split('/'); // ['', 'v1', 'streams', id, 'segments']
  try {
    if (req.method === 'POST' && url.pathname === '/v1/streams') {
      const rendition = url.searchParams.get('rendition') ?? '720p';
      if (!(rendition in RENDITIONS)) return sendJson(res, 400, { error: 'unsupported rendition' });
      const state = openStream(url.searchParams.get('channel') ?? 'unknown', rendition);
      return sendJson(res, 201, { streamId: state.id, segmentSeconds: config.segmentSeconds });
    }
    if (parts[1] === 'v1' && parts[2] === 'streams' && parts[3] !== undefined) {
      const state = activeStreams.get(parts[3]);
      if (state === undefined) return sendJson(res, 404, { error: 'unknown stream' });
      if (req.method === 'POST' && parts[4] === 'segments') {
        const segment = await readSegment(req);
        if (state.status === 'stalled') {
          state.status = 'live';
          state.encoder = new EncoderSession(state.id, LADDER);
        }
        const result = await ingestSegment(state, segment);
        return sendJson(res, 200, result);
      }
      if (req.method === 'DELETE' && parts[4] === undefined) {
        closeStream(state);
        return sendJson(res, 200, { streamId: state.id, status: 'closed' });
      }
    }
    if (req.method === 'GET' && url.pathname === '/healthz') {
      return sendJson(res, 200, { ok: true, streams: activeStreams.size });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- broadcasters (the load) ------------------------------------------------------------

/** Compressed sample segments (150-400 KB) the encoders push. */
const SAMPLE_SEGMENTS = [150, 210, 260, 330, 400].map((kb, i) => {
  const segment = Buffer.allocUnsafe(kb * KiB);
  segment.fill(createHash('sha512').update(`segment-${i}`).digest());
  return segment;
});
const CHANNELS = Array.from({ length: 60 }, (_, i) => `ch-${(7100 + i * 13).toString(36)}`);
const RENDITION_NAMES = Object.keys(RENDITIONS);

/** Encoders as the client side sees them. */
const broadcasters = [];
const opening = { count: 0 };

function planBroadcast(streamId) {
  const now = programSeconds();
  const mobileApp = random() < 0.5;
  return {
    streamId,
    nextSegmentAt: now + config.segmentSeconds,
    endsAt: now + 480 + random() * 1320, // 8-30 minutes on air
    // The new mobile app (from the onset) drops off without closing two times in three.
    vanishes: now >= ONSET && mobileApp && random() < 0.65,
    closing: false,
  };
}

/** The next request any encoder owes: a due segment, or a close. */
function nextBroadcastRequest() {
  const now = programSeconds();
  for (let i = 0; i < broadcasters.length; i++) {
    const b = broadcasters[i];
    if (now >= b.endsAt) {
      broadcasters.splice(i, 1);
      if (b.vanishes) return null; // the app is gone: no close, no more segments
      return { method: 'DELETE', path: `/v1/streams/${b.streamId}` };
    }
    if (now >= b.nextSegmentAt) {
      b.nextSegmentAt += config.segmentSeconds;
      return {
        method: 'POST',
        path: `/v1/streams/${b.streamId}/segments`,
        headers: { 'content-type': 'video/mp2t' },
        body: SAMPLE_SEGMENTS[Math.floor(random() * SAMPLE_SEGMENTS.length)],
      };
    }
  }
  return null;
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
every(Math.max(20, (config.watchdogSeconds * 1000) / speed), watchdog);

// ~12 broadcasts start an hour (so ~4 on air), each pushing a segment every 6 s.
const starters = selfRequests(port, {
  perSecond: 48 / 3600, // slots; three in four are empty, so starts come at random
  maxInFlight: 2,
  next: () => {
    if (random() < 0.75) return null;
    opening.count++;
    const channel = CHANNELS[Math.floor(random() * CHANNELS.length)];
    const rendition = RENDITION_NAMES[Math.floor(random() * RENDITION_NAMES.length)];
    return { method: 'POST', path: `/v1/streams?channel=${channel}&rendition=${rendition}` };
  },
  onResponse: (status, text) => {
    opening.count--;
    if (status === 201) broadcasters.push(planBroadcast(JSON.parse(text).streamId));
  },
});
const encoders = selfRequests(port, { perSecond: 3, maxInFlight: 8, next: nextBroadcastRequest });
const monitors = selfRequests(port, { perSecond: 0.1, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => {
  let live = 0;
  let frames = 0;
  let frameBytes = 0;
  for (const state of activeStreams.values()) {
    if (state.status === 'live') live++;
    frames += state.frames.length;
    for (const frame of state.frames) frameBytes += frame.length;
  }
  return {
    retained: activeStreams.size,
    live,
    stalled: activeStreams.size - live,
    frames,
    frameBytes,
    opened: counters.opened,
    closed: counters.closed,
    segments: counters.segments,
    requestsFailed: starters.failed + encoders.failed + monitors.failed,
  };
});

ready(
  `transcoder-abandoned-stream-leak: ~12 live streams/h with 5 decoded ~1 MB frames each; from ${ONSET} s abandoned streams stay in activeStreams (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
