// Leaky (external memory): a replay journal keeps every binary frame.
//
// A gateway receives binary frames from an upstream feed and appends each one
// to a replay journal, so reconnecting clients can catch up. The journal is
// supposed to be trimmed when clients acknowledge frames, but the ack handler
// was never wired up, so it keeps everything. Frames are copied into 256 KB
// segments allocated with Buffer.alloc in retainFrame: the growth is in
// external / arrayBuffers memory (and RSS), while the JS heap holds only one
// small Buffer object per segment and its floor stays flat.
//
// Leak at speed 1: 8 frames/s × 16 KB = 128 KB/s of external memory (plus
// ~100 B/s of JS heap for the segment objects). Capped at 1 000 segments
// (250 MB, ~33 min at speed 1); past the cap frames are no longer journaled.
// stats: retained = bytes held by the journal.
import { paced, ready, reportStats } from './lib/scenario.mjs';

const FRAMES_PER_SECOND = 8;
const FRAME_BYTES = 16 * 1024;
const SEGMENT_BYTES = 256 * 1024;
const MAX_SEGMENTS = 1_000;

const journal = { segments: [], current: null, offset: 0, frames: 0, bytes: 0 };
let received = 0;

// Appends a copy of `frame` to the journal, opening a new segment when the
// current one is full. The segments are allocated here and never released.
function retainFrame(frame) {
  if (journal.current === null || journal.offset + frame.length > SEGMENT_BYTES) {
    if (journal.segments.length >= MAX_SEGMENTS) return false;
    journal.current = Buffer.alloc(SEGMENT_BYTES);
    journal.segments.push(journal.current);
    journal.offset = 0;
  }
  frame.copy(journal.current, journal.offset);
  journal.offset += frame.length;
  journal.frames++;
  journal.bytes += frame.length;
  return true;
}

// The upstream feed: each frame is a fresh buffer (short-lived external
// memory) with a small header and a payload of little-endian int32 samples.
function receiveFrame() {
  received++;
  const frame = Buffer.alloc(FRAME_BYTES);
  frame.writeUInt32LE(received, 0);
  frame.writeUInt32LE(Date.now() % 0xffffffff, 4);
  for (let offset = 8; offset + 4 <= FRAME_BYTES; offset += 4) frame.writeInt32LE((received * offset) % 65_536, offset);
  return frame;
}

// Decoding into plain objects and arrays is the JS-heap churn of the gateway.
function decodeFrame(frame) {
  const samples = new Array((FRAME_BYTES - 8) / 4);
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    samples[i] = frame.readInt32LE(8 + i * 4);
    sum += samples[i];
  }
  return { seq: frame.readUInt32LE(0), sentAt: frame.readUInt32LE(4), mean: sum / samples.length, samples };
}

let lastSummary = '';
paced(FRAMES_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) {
    const frame = receiveFrame();
    const decoded = decodeFrame(frame);
    lastSummary = JSON.stringify({ seq: decoded.seq, mean: decoded.mean, head: decoded.samples.slice(0, 16) });
    retainFrame(frame);
  }
});
reportStats(() => ({ retained: journal.bytes, segments: journal.segments.length, summaryBytes: lastSummary.length }));
ready('buffer-leak: every frame is journaled in Buffer.alloc segments');
