// Realtime gateway (websocket-style, over streamed HTTP responses): ~200
// devices keep a GET /v1/stream open and receive server-sent frames for the
// channels they subscribe to; backend services POST /v1/publish. Each
// connection (class Connection, module-level Map `connections`) keeps a
// replay buffer of the frames written to it, so that a device that drops off
// the network can reconnect with ?resume=&since= and get what it missed. The
// buffer is meant to hold the last 100 frames: Connection.ack(), called when
// the device acknowledges a sequence number (POST /v1/ack, about once a
// minute), cuts it back.
//
// The release at the onset adds protocol gw.3, whose devices ack implicitly
// (the gateway counts a frame as delivered once written, no POST /v1/ack),
// so Connection.ack() and its trim never run for them. Devices pick up the
// app update gradually after the release and reconnect as gw.3; from then on
// their replay buffers keep every frame.
import http from 'node:http';
import { createHash } from 'node:crypto';
import {
  buildBallast,
  every,
  listen,
  onShutdown,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x9a7e3);
const ONSET_SECONDS = onsetSeconds(5400); // the release goes out 90 min in
const REPLAY_KEEP = 100;
const RESUME_WINDOW_SECONDS = 120;
const HEARTBEAT_SECONDS = 30;

// --- protocols -----------------------------------------------------------------------

const PROTOCOLS = {
  'gw.1': { version: 1, ackMode: 'explicit', heartbeat: true, compression: null },
  'gw.2': { version: 2, ackMode: 'explicit', heartbeat: true, compression: null },
};

/** The release: gw.3 batches frames on the device side and acks implicitly. */
function releaseProtocolV3() {
  PROTOCOLS['gw.3'] = { version: 3, ackMode: 'implicit', heartbeat: true, compression: 'none' };
  release.at = Math.round(programSeconds());
}

const release = { at: null };
setTimeout(releaseProtocolV3, onsetMs(5400));

// --- connections ---------------------------------------------------------------------

class Connection {
  constructor(id, deviceId, protocol, channels) {
    this.id = id;
    this.deviceId = deviceId;
    this.protocol = protocol;
    this.channels = channels;
    this.seq = 0;
    this.ackedSeq = 0;
    this.replay = [];
    this.res = null;
    this.detachedAt = null;
    this.lastWriteAt = 0;
  }

  attach(res) {
    this.res = res;
    this.detachedAt = null;
  }

  detach() {
    this.res = null;
    this.detachedAt = programSeconds();
  }

  write(text) {
    this.lastWriteAt = programSeconds();
    this.res.write(text);
  }

  /** The device has everything up to `seq`: keep the last REPLAY_KEEP frames for resumes. */
  ack(seq) {
    if (seq > this.ackedSeq) this.ackedSeq = Math.min(seq, this.seq);
    if (this.replay.length > REPLAY_KEEP) this.replay.splice(0, this.replay.length - REPLAY_KEEP);
  }

  framesSince(seq) {
    return this.replay.filter((frame) => frame.seq > seq);
  }
}

/** connectionId -> Connection (attached, or detached within the resume window) */
const connections = new Map();
/** channel -> Set of Connection */
const subscribers = new Map();
const counters = { published: 0, delivered: 0, acks: 0, resumed: 0, opened: 0, closed: 0, replayed: 0 };

function subscribe(conn) {
  for (const channel of conn.channels) {
    let set = subscribers.get(channel);
    if (set === undefined) subscribers.set(channel, (set = new Set()));
    set.add(conn);
  }
}

function unsubscribe(conn) {
  for (const channel of conn.channels) subscribers.get(channel)?.delete(conn);
}

/** The frame written to one connection (and kept for its replays). */
function toFrame(conn, message) {
  const seq = ++conn.seq;
  return {
    seq,
    channel: message.channel,
    type: message.type,
    wire: `id: ${seq}\nevent: ${message.type}\ndata: {"ch":"${message.channel}","seq":${seq},"at":${message.at},"payload":${message.json}}\n\n`,
    sentAt: message.at,
  };
}

function deliver(conn, message) {
  const frame = toFrame(conn, message);
  conn.replay.push(frame);
  if (conn.res !== null) {
    conn.write(frame.wire);
    counters.delivered++;
  }
}

function publish(message) {
  counters.published++;
  for (const conn of subscribers.get(message.channel) ?? []) deliver(conn, message);
}

function openStream(req, res, url) {
  const protocol = PROTOCOLS[url.searchParams.get('protocol')];
  if (protocol === undefined) {
    res.writeHead(426, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ error: 'unsupported protocol', supported: Object.keys(PROTOCOLS) }));
  }
  const deviceId = url.searchParams.get('device') ?? 'anonymous';
  const resumeId = url.searchParams.get('resume');
  let conn = resumeId !== null ? connections.get(resumeId) : undefined;
  let backlog = [];
  if (conn !== undefined && conn.deviceId === deviceId && conn.protocol === protocol && conn.res === null) {
    counters.resumed++;
    backlog = conn.framesSince(Number(url.searchParams.get('since') ?? 0));
  } else {
    const channels = (url.searchParams.get('channels') ?? '').split(',').filter(Boolean).slice(0, 8);
    const id = `cn_${createHash('sha1').update(`${deviceId}:${counters.opened}:${programSeconds()}`).digest('hex').slice(0, 16)}`;
    conn = new Connection(id, deviceId, protocol, channels);
    connections.set(id, conn);
    subscribe(conn);
    counters.opened++;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-gateway-protocol': `gw.${protocol.version}` });
  conn.attach(res);
  conn.write(`event: welcome\ndata: {"connection":"${conn.id}","seq":${conn.seq},"ack":"${protocol.ackMode}"}\n\n`);
  for (const frame of backlog) conn.write(frame.wire);
  counters.replayed += backlog.length;
  const current = conn;
  res.on('close', () => {
    if (current.res === res) current.detach();
  });
}

/** Heartbeats for quiet connections; forgets connections past the resume window. */
function sweep() {
  const now = programSeconds();
  for (const [id, conn] of connections) {
    if (conn.res === null) {
      if (now - conn.detachedAt > RESUME_WINDOW_SECONDS) {
        unsubscribe(conn);
        connections.delete(id);
        counters.closed++;
      }
    } else if (conn.protocol.heartbeat && now - conn.lastWriteAt >= HEARTBEAT_SECONDS - 5) {
      conn.write(': ping\n\n');
    }
  }
}

every((HEARTBEAT_SECONDS * 1000) / speed, sweep);

// --- HTTP --------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://gateway.local');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/stream') return openStream(req, res, url);
    if (req.method === 'POST' && url.pathname === '/v1/publish') {
      const body = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
      publish({ channel: body.channel, type: body.type, at: Math.round(programSeconds() * 1000), json: JSON.stringify(body.data) });
      return sendJson(res, 202, { ok: true });
    }
    if (req.method === 'POST' && url.pathname === '/v1/ack') {
      const body = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
      const conn = connections.get(body.connection);
      if (conn === undefined) return sendJson(res, 404, { error: 'unknown connection' });
      counters.acks++;
      conn.ack(body.seq);
      return sendJson(res, 200, { acked: conn.ackedSeq });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, connections: connections.size, protocols: Object.keys(PROTOCOLS) });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error?.message ?? error) });
  }
}

// --- devices (long-lived streams) ----------------------------------------------------

const CHANNELS = Array.from({ length: 40 }, (_, i) => `site-${(i + 1).toString().padStart(2, '0')}/${['telemetry', 'alerts', 'orders', 'presence'][i % 4]}`);
const DEVICE_COUNT = 200;
let port = 0;
let shuttingDown = false;

function exponential(mean) {
  return -Math.log(1 - random()) * mean;
}

class Device {
  constructor(index) {
    this.id = `dev_${(0x1000 + index * 7).toString(16)}`;
    this.protocol = index % 3 === 0 ? 'gw.1' : 'gw.2';
    const channels = new Set();
    while (channels.size < 3) channels.add(CHANNELS[Math.floor(CHANNELS.length * random() ** 1.5)]);
    this.channels = [...channels];
    this.connectionId = null;
    this.lastSeq = 0;
    this.req = null;
    this.connected = false;
    this.pending = '';
    // After the release, 85 % of the devices get the app update (mean 100 min later).
    this.updatesAt = random() < 0.85 ? ONSET_SECONDS + exponential(6000) : Infinity;
    this.dropAt = programSeconds() + exponential(4 * 3600);
  }

  url(resume) {
    const params = new URLSearchParams({ device: this.id, protocol: this.protocol, channels: this.channels.join(',') });
    if (resume && this.connectionId !== null) {
      params.set('resume', this.connectionId);
      params.set('since', String(this.lastSeq));
    }
    return `/v1/stream?${params}`;
  }

  connect(resume) {
    if (shuttingDown) return;
    const req = http.get({ host: '127.0.0.1', port, path: this.url(resume), agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return;
      }
      this.connected = true;
      res.setEncoding('utf8');
      res.on('data', (chunk) => this.onData(chunk));
      res.on('end', () => (this.connected = false));
      res.on('error', () => (this.connected = false));
    });
    req.on('error', () => (this.connected = false));
    this.req = req;
  }

  onData(chunk) {
    const text = this.pending + chunk;
    const end = text.lastIndexOf('\n\n');
    this.pending = end < 0 ? text : text.slice(end + 2);
    if (end < 0) return;
    if (this.connectionId === null || text.startsWith('event: welcome')) {
      const at = text.indexOf('"connection":"');
      if (at >= 0) this.connectionId = text.slice(at + 14, text.indexOf('"', at + 14));
    }
    const id = text.lastIndexOf('\nid: ', end) >= 0 ? text.lastIndexOf('\nid: ', end) + 5 : text.startsWith('id: ') ? 4 : -1;
    if (id >= 0) this.lastSeq = Math.max(this.lastSeq, parseInt(text.slice(id, text.indexOf('\n', id)), 10));
  }

  disconnect() {
    this.connected = false;
    this.req?.destroy();
    this.req = null;
  }

  /** Network drops (resume within seconds) and the app update (fresh gw.3 connection). */
  tick(now) {
    if (release.at !== null && now >= this.updatesAt && this.protocol !== 'gw.3') {
      this.disconnect();
      this.protocol = 'gw.3';
      this.connectionId = null;
      this.lastSeq = 0;
      setTimeout(() => this.connect(false), (5_000 + random() * 25_000) / speed);
      return;
    }
    if (now >= this.dropAt) {
      this.dropAt = now + exponential(4 * 3600);
      this.disconnect();
      setTimeout(() => this.connect(true), (2_000 + random() * 8_000) / speed);
    }
  }
}

const devices = Array.from({ length: DEVICE_COUNT }, (_, i) => new Device(i));

every(5_000 / speed, () => {
  const now = programSeconds();
  for (const device of devices) device.tick(now);
});

onShutdown(() => {
  shuttingDown = true;
  for (const device of devices) device.disconnect();
  for (const conn of connections.values()) conn.res?.destroy();
});

// --- backend publishers and acks (the load) --------------------------------------------

const WORDS = ['pump', 'valve', 'north', 'line', 'bay', 'dock', 'zone', 'cooler', 'belt', 'gate', 'tank', 'press'];

function nextPublish() {
  const channel = CHANNELS[Math.floor(random() * CHANNELS.length)];
  const kind = channel.slice(channel.indexOf('/') + 1);
  const data = {
    source: `${WORDS[Math.floor(random() * WORDS.length)]}-${Math.floor(random() * 64)}`,
    kind,
    readings: Array.from({ length: 2 + Math.floor(random() * 5) }, (_, i) => ({ metric: `${WORDS[(i * 5) % WORDS.length]}_${i}`, value: Math.round(random() * 1e5) / 100, unit: ['C', 'bar', 'rpm', '%'][i % 4] })),
    status: random() < 0.05 ? 'degraded' : 'ok',
    traceId: Math.floor(random() * 2 ** 48).toString(16),
  };
  return { method: 'POST', path: '/v1/publish', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel, type: kind === 'alerts' ? 'alert' : 'update', data }) };
}

function ackingDevices() {
  return devices.filter((d) => d.connected && d.connectionId !== null && PROTOCOLS[d.protocol]?.ackMode === 'explicit');
}

function nextAck() {
  const candidates = ackingDevices();
  if (candidates.length === 0) return null;
  const device = candidates[Math.floor(random() * candidates.length)];
  return { method: 'POST', path: '/v1/ack', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ connection: device.connectionId, seq: device.lastSeq }) };
}

const ballastMb = buildBallast();
({ port } = await listen(handler));
for (const device of devices) setTimeout(() => device.connect(false), (random() * 60_000) / speed);

const publishers = selfRequests(port, { perSecond: 1, next: nextPublish });
// Each explicit-ack device acks about once a minute.
let ackRate = 0;
every(5_000 / speed, () => (ackRate = ackingDevices().length / 60));
const ackers = selfRequests(port, { perSecond: () => ackRate, maxInFlight: 16, next: nextAck });

function replayFrames() {
  let n = 0;
  for (const conn of connections.values()) n += conn.replay.length;
  return n;
}

reportStats(() => {
  let v3 = 0;
  for (const conn of connections.values()) if (conn.protocol.version === 3) v3++;
  return {
    retained: replayFrames(),
    connections: connections.size,
    v3Connections: v3,
    devicesConnected: devices.filter((d) => d.connected).length,
    published: counters.published,
    delivered: counters.delivered,
    acks: counters.acks,
    resumed: counters.resumed,
    requestsFailed: publishers.failed + ackers.failed,
  };
});

ready(
  `gateway-replay-buffer-protocol-v3-leak: ${DEVICE_COUNT} devices on streamed responses, 1 publish/s, per-connection replay buffers cut to ${REPLAY_KEEP} on ack; gw.3 (released at ${ONSET_SECONDS} s) acks implicitly and is never cut (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
