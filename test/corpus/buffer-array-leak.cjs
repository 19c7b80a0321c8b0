// Leaky (external memory): a device-telemetry gateway that keeps a copy of
// every binary frame it receives for a "replay" feature, and never trims it.
//
// Devices POST binary frames (8–64 KB: a 16-byte header, then samples) to
// /v1/frames. The gateway validates the header, acks, forwards a summary, and
// copies the frame into `replayFrames` so a downstream consumer can ask for a
// replay after an outage. The trim-on-ack step was never implemented.
//
// The frames live outside the JS heap: external / arrayBuffers / RSS grow
// while the heap floor stays nearly flat (one small Buffer object per frame).
// Speed 1: 1.6 frames/s, ~36 KB average → ~200 MB/h of external memory.
// Cap: 230 MB of frames (~69 min at speed 1, ~69 s at SCENARIO_SPEED=60); then
// the replay buffer stops taking frames.
// stats: retained = bytes held in replayFrames.
'use strict';

const FRAMES_PER_SECOND = 1.6;
const REPLAY_LIMIT_BYTES = 230 * 1024 * 1024;
const HEADER_BYTES = 16;

const replayFrames = [];
let replayBytes = 0;
const gateway = { accepted: 0, invalid: 0, samples: 0 };

function retainForReplay(frame) {
  if (replayBytes >= REPLAY_LIMIT_BYTES) return false;
  const copy = Buffer.alloc(frame.length); // don't pin the socket's memory
  frame.copy(copy);
  replayFrames.push(copy);
  replayBytes += copy.length;
  return true;
}

function parseHeader(frame) {
  if (frame.length < HEADER_BYTES || frame.readUInt16BE(0) !== 0x7e1d) return null;
  return { version: frame.readUInt8(2), type: frame.readUInt8(3), deviceId: frame.readUInt32BE(4), seq: frame.readUInt32BE(8), samples: frame.readUInt32BE(12) };
}

function summarise(frame, header) {
  let min = Infinity;
  let max = -Infinity;
  for (let offset = HEADER_BYTES; offset + 2 <= frame.length; offset += 256) {
    const value = frame.readInt16LE(offset);
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return { deviceId: header.deviceId, seq: header.seq, min, max };
}

async function main() {
  const lib = await import('./lib/corpus.mjs');
  const ballastMB = lib.buildBallast();

  const { port } = await lib.listen(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/frames') return res.writeHead(404).end();
    const frame = await lib.readBody(req);
    const header = parseHeader(frame);
    if (header === null) {
      gateway.invalid++;
      return res.writeHead(400).end();
    }
    gateway.accepted++;
    gateway.samples += header.samples;
    const summary = summarise(frame, header);
    retainForReplay(frame);
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ ack: header.seq, min: summary.min, max: summary.max }));
  });

  const random = lib.rng(8);
  let seq = 0;
  lib.selfRequests(port, {
    perSecond: FRAMES_PER_SECOND,
    maxInFlight: 8,
    next: () => {
      const length = 8 * 1024 + Math.floor(random() * 56 * 1024);
      const frame = Buffer.allocUnsafe(length);
      for (let offset = HEADER_BYTES; offset + 4 <= length; offset += 4) frame.writeInt32LE((offset * 2654435761) | 0, offset);
      frame.writeUInt16BE(0x7e1d, 0);
      frame.writeUInt8(1, 2);
      frame.writeUInt8(3, 3);
      frame.writeUInt32BE(1000 + (seq % 250), 4);
      frame.writeUInt32BE(++seq, 8);
      frame.writeUInt32BE((length - HEADER_BYTES) >> 1, 12);
      return { method: 'POST', path: '/v1/frames', headers: { 'content-type': 'application/octet-stream' }, body: frame };
    },
  });

  lib.reportStats(() => ({ retained: replayBytes, frames: replayFrames.length, capped: replayBytes >= REPLAY_LIMIT_BYTES, ballastMB }));
  lib.ready('buffer-array-leak: every received frame is copied into the replay buffer (~200 MB/h external at speed 1)');
}

main();
