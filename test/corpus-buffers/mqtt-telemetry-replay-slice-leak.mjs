// MQTT-style telemetry ingest. Field gateways forward each device's socket
// traffic as it arrives: one POST /v1/ingest per socket chunk, carrying the
// device's MQTT 5 PUBLISH packets (QoS 1, vibration sample blocks) back to
// back, with the client id and session id of the device's MQTT connection in
// headers. The broker parses the chunk in place and keeps, per device, the
// recent raw packets (Buffer.subarray slices of the chunk, no copy) so that a
// resuming session can be replayed its unacknowledged messages and the
// dashboards can show the last raw frames.
//
// ReplayLog.trim() keeps the last 48 packets, but only for logs owned by the
// device's current session: a log inherited from a previous session may still
// hold QoS 1 messages the broker has to redeliver on resume, and resume()
// hands the log over to the new session once the redelivery is done. That is
// only true for persistent sessions (clean start = 0, same session id). From
// the onset an OTA rollout puts 40 % of the fleet on firmware 4.3.0, which
// reconnects with clean start and a NEW session id: nothing ever hands the
// old log over, trim() skips it, and every packet of that device stays, each
// slice pinning the whole socket chunk it was cut from.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x4d515454);
const ONSET_S = onsetSeconds(5400);
const REPLAY_PACKETS = 48;

// --- MQTT 5 packet parsing (PUBLISH only; the gateway strips the rest) -------

const PUBLISH = 3;

/** Variable byte integer at `offset`: [value, bytesUsed]. */
function readVarInt(buf, offset) {
  let value = 0;
  let multiplier = 1;
  let used = 0;
  let byte;
  do {
    if (offset + used >= buf.length) throw new Error('truncated variable byte integer');
    byte = buf[offset + used++];
    value += (byte & 0x7f) * multiplier;
    multiplier *= 128;
  } while ((byte & 0x80) !== 0 && used < 4);
  return [value, used];
}

/** Parses one PUBLISH at `offset` of the socket chunk; the raw packet is a slice of it. */
function parsePublish(chunk, offset) {
  const first = chunk[offset];
  if (first >> 4 !== PUBLISH) throw new Error(`unexpected packet type ${first >> 4}`);
  const qos = (first >> 1) & 3;
  const [remaining, lenBytes] = readVarInt(chunk, offset + 1);
  const start = offset + 1 + lenBytes;
  const end = start + remaining;
  if (end > chunk.length) throw new Error('truncated packet');
  const topicLength = chunk.readUInt16BE(start);
  const topic = chunk.toString('utf8', start + 2, start + 2 + topicLength);
  let pos = start + 2 + topicLength;
  const packetId = qos > 0 ? chunk.readUInt16BE(pos) : 0;
  if (qos > 0) pos += 2;
  const [propsLength, propsBytes] = readVarInt(chunk, pos);
  pos += propsBytes + propsLength;
  return { topic, qos, packetId, payloadOffset: pos - offset, raw: chunk.subarray(offset, end), next: end };
}

function parseChunk(chunk) {
  const packets = [];
  let offset = 0;
  while (offset < chunk.length) {
    const packet = parsePublish(chunk, offset);
    packets.push(packet);
    offset = packet.next;
  }
  return packets;
}

// --- per-device state ----------------------------------------------------------

class ReplayLog {
  constructor(clientId, sessionId) {
    this.clientId = clientId;
    this.sessionId = sessionId;
    this.packets = [];
    this.bytes = 0;
    this.lastPacketId = 0;
  }

  append(raw, packetId) {
    this.packets.push(raw);
    this.bytes += raw.length;
    this.lastPacketId = packetId;
  }

  /** Keeps the most recent `max` packets. */
  trim(max) {
    const excess = this.packets.length - max;
    if (excess <= 0) return 0;
    for (let i = 0; i < excess; i++) this.bytes -= this.packets[i].length;
    this.packets.splice(0, excess);
    return excess;
  }
}

/** clientId -> current session {id, connectedAt, cleanStart, firmware}. */
const sessions = new Map();
/** clientId -> ReplayLog: the recent raw packets of each device. */
const replayLogs = new Map();
const stats = { chunks: 0, packets: 0, bytesIn: 0, reconnects: 0, resumed: 0, malformed: 0, samples: 0 };
/** Latest reading summary per device (for the dashboard). */
const latest = new Map();

function connect(clientId, sessionId, cleanStart, firmware) {
  const previous = sessions.get(clientId);
  sessions.set(clientId, { id: sessionId, connectedAt: programSeconds(), cleanStart, firmware });
  if (previous === undefined) {
    replayLogs.set(clientId, new ReplayLog(clientId, sessionId));
    return;
  }
  stats.reconnects++;
  if (!cleanStart && previous.id === sessionId) resume(clientId, sessionId);
}

/** Persistent session resumed: redeliver what is unacknowledged, then the log belongs to this session. */
function resume(clientId, sessionId) {
  const log = replayLogs.get(clientId);
  if (log === undefined) return;
  stats.resumed++;
  log.sessionId = sessionId;
}

function summarize(clientId, raw, payloadOffset) {
  // payload: u32 sequence, u32 sample rate, then float32 LE samples
  const count = (raw.length - payloadOffset - 8) >> 2;
  let peak = 0;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const v = raw.readFloatLE(payloadOffset + 8 + i * 4);
    sum += v * v;
    if (Math.abs(v) > peak) peak = Math.abs(v);
  }
  stats.samples += count;
  latest.set(clientId, { rms: Math.sqrt(sum / Math.max(1, count)), peak, at: programSeconds() });
}

function ingest(clientId, sessionId, isConnect, cleanStart, firmware, chunk) {
  const current = sessions.get(clientId);
  if (current === undefined || current.id !== sessionId || isConnect) connect(clientId, sessionId, cleanStart, firmware);
  const session = sessions.get(clientId);
  const log = replayLogs.get(clientId);
  const packets = parseChunk(chunk);
  for (const packet of packets) {
    log.append(packet.raw, packet.packetId);
    summarize(clientId, packet.raw, packet.payloadOffset);
  }
  // A log inherited from an earlier session may still hold unacked QoS 1
  // messages to redeliver; resume() hands it over once that is done.
  if (log.sessionId === session.id) log.trim(REPLAY_PACKETS);
  stats.chunks++;
  stats.packets += packets.length;
  stats.bytesIn += chunk.length;
  return packets.length;
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
    if (req.method === 'POST' && url === '/v1/ingest') {
      const clientId = req.headers['x-mqtt-client-id'];
      const sessionId = req.headers['x-mqtt-session-id'];
      if (typeof clientId !== 'string' || typeof sessionId !== 'string') return sendJson(res, 400, { error: 'missing client or session id' });
      const chunk = await readBody(req, 256 * 1024);
      let count;
      try {
        count = ingest(clientId, sessionId, req.headers['x-mqtt-connect'] === '1', req.headers['x-mqtt-clean-start'] === '1', req.headers['x-firmware'] ?? 'unknown', chunk);
      } catch (error) {
        stats.malformed++;
        return sendJson(res, 400, { error: error.message });
      }
      return sendJson(res, 200, { accepted: count });
    }
    if (req.method === 'GET' && url.startsWith('/v1/devices/')) {
      const clientId = url.slice('/v1/devices/'.length);
      const log = replayLogs.get(clientId);
      if (log === undefined) return sendJson(res, 404, { error: 'unknown device' });
      const last = log.packets.slice(-4).map((p) => p.toString('base64'));
      return sendJson(res, 200, { clientId, session: sessions.get(clientId)?.id, packets: log.packets.length, latest: latest.get(clientId), last });
    }
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { ok: true, devices: sessions.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the device fleet behind the gateways (the load) ----------------------

const DEVICE_COUNT = 240;
const SITES = ['plant-a', 'plant-b', 'plant-c', 'depot-n', 'depot-s'];
const devices = Array.from({ length: DEVICE_COUNT }, (_, i) => {
  const clientId = `vib-${createHash('sha1').update(`device-${i}`).digest('hex').slice(0, 10)}`;
  return {
    clientId,
    site: SITES[i % SITES.length],
    sensors: 1 + (i % 4),
    otaCohort: random() < 0.4, // gets firmware 4.3.0 at the onset
    sessionId: `s-${clientId}-1`,
    sessions: 1,
    seq: 0,
    packetId: 0,
    nextReconnectAt: random() * 2400, // production seconds
  };
});
let rolledOut = false;

function firmwareOf(device) {
  return rolledOut && device.otaCohort ? '4.3.0' : '4.2.7';
}

function writeVarInt(buf, offset, value) {
  let pos = offset;
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (value > 0);
  return pos;
}

/** One PUBLISH of a block of vibration samples (QoS 1). */
function publishPacket(device, sensor) {
  const topic = `tele/${device.site}/${device.clientId}/vib/${sensor}`;
  const samples = 64 + Math.floor(random() * 65);
  const payloadLength = 8 + samples * 4;
  const topicLength = Buffer.byteLength(topic);
  const remaining = 2 + topicLength + 2 + 1 + payloadLength;
  const packet = Buffer.allocUnsafe(1 + 4 + remaining);
  packet[0] = (PUBLISH << 4) | (1 << 1);
  let pos = writeVarInt(packet, 1, remaining);
  pos = packet.writeUInt16BE(topicLength, pos);
  pos += packet.write(topic, pos, 'utf8');
  device.packetId = (device.packetId % 65535) + 1;
  pos = packet.writeUInt16BE(device.packetId, pos);
  packet[pos++] = 0; // no properties
  pos = packet.writeUInt32LE(++device.seq, pos);
  pos = packet.writeUInt32LE(3200, pos);
  const amplitude = 0.2 + random() * 2;
  const phase = random() * Math.PI * 2;
  for (let i = 0; i < samples; i++) pos = packet.writeFloatLE(amplitude * Math.sin(phase + i * 0.37) + (random() - 0.5) * 0.05, pos);
  return packet.subarray(0, pos);
}

function nextChunk() {
  const now = programSeconds();
  if (!rolledOut && now >= ONSET_S) rolledOut = true;
  const device = devices[Math.floor(random() * DEVICE_COUNT)];
  let cleanStart = false;
  let reconnected = false;
  if (now >= device.nextReconnectAt) {
    reconnected = true;
    // flaky cellular links: every device reconnects every ~20-60 min
    device.nextReconnectAt = now + 1200 + random() * 2400;
    if (firmwareOf(device) === '4.3.0') {
      device.sessions++;
      device.sessionId = `s-${device.clientId}-${device.sessions}`;
      cleanStart = true;
    }
  }
  const count = 6 + Math.floor(random() * 9);
  const packets = [];
  for (let i = 0; i < count; i++) packets.push(publishPacket(device, `ch${1 + (i % device.sensors)}`));
  return {
    method: 'POST',
    path: '/v1/ingest',
    headers: {
      'content-type': 'application/octet-stream',
      'x-mqtt-client-id': device.clientId,
      'x-mqtt-session-id': device.sessionId,
      'x-mqtt-connect': reconnected ? '1' : '0',
      'x-mqtt-clean-start': cleanStart ? '1' : '0',
      'x-firmware': firmwareOf(device),
    },
    body: Buffer.concat(packets),
  };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Gateways: ~0.8 socket chunks per second across the fleet; dashboards 0.1 req/s.
const gateways = selfRequests(port, { perSecond: 0.8, next: nextChunk });
const dashboards = selfRequests(port, {
  perSecond: 0.1,
  maxInFlight: 4,
  next: () => (random() < 0.3 ? { method: 'GET', path: '/healthz' } : { method: 'GET', path: `/v1/devices/${devices[Math.floor(random() * DEVICE_COUNT)].clientId}` }),
});

function replayTotals() {
  let packets = 0;
  let bytes = 0;
  let stale = 0;
  for (const [clientId, log] of replayLogs) {
    packets += log.packets.length;
    bytes += log.bytes;
    if (log.sessionId !== sessions.get(clientId)?.id) stale++;
  }
  return { packets, bytes, stale };
}

reportStats(() => {
  const totals = replayTotals();
  return {
    retained: totals.packets,
    replayBytes: totals.bytes,
    staleLogs: totals.stale,
    devices: sessions.size,
    chunks: stats.chunks,
    reconnects: stats.reconnects,
    resumed: stats.resumed,
    malformed: stats.malformed,
    rolledOut: rolledOut ? 1 : 0,
    requestsFailed: gateways.failed + dashboards.failed,
  };
});

ready(
  `mqtt-telemetry-replay-slice-leak: ingests ~0.8 MQTT socket chunks/s from 240 vibration sensors, keeps the last 48 raw packets per device as subarray slices; from ${ONSET_S} s devices on firmware 4.3.0 reconnect with new session ids and their logs are never trimmed (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
