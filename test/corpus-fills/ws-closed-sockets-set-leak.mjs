// Push server of a trading dashboard: browsers open a WebSocket-style
// connection (GET /v1/stream with `Upgrade: push.v1`, answered 101, then
// newline-delimited JSON frames on the raw socket), subscribe to a few
// instruments' channels and receive quote updates and a heartbeat. Clients
// come and go all the time (tabs closed, laptops asleep, mobile networks).
//
// Every connection gets a ClientSession, added to the module-level Set
// `sessions` (used by the heartbeat and the admin endpoint) and to the
// channels' subscriber sets. On disconnect the session is removed from its
// channels and marked closed, but nobody deletes it from `sessions`: every
// session, with its closed socket, its subscription list and its counters,
// stays in memory from the first connection on.
//
// Clients: 0.5 new connections/s, each staying connected for a log-normal
// time (median ~90 s, mean ~2.7 min); ~80 connected at any moment. Quote updates every 5 s
// per channel, heartbeat every 30 s.
import http from 'node:http';
import { buildBallast, every, listen, onShutdown, paced, programSeconds, ready, reportStats, rng, scaledMs, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0x5e55);

const CHANNELS = ['EURUSD', 'GBPUSD', 'USDJPY', 'USDCHF', 'AUDUSD', 'XAUUSD', 'BTCUSD', 'ETHUSD', 'DAX40', 'FTSE100', 'SPX500', 'NDX100', 'BRENT', 'WTI', 'NATGAS', 'COPPER', 'EURGBP', 'EURJPY', 'US10Y', 'BUND'];

/** All client sessions (meant: the connected ones). */
const sessions = new Set();
/** channel -> sessions subscribed to it */
const subscribers = new Map(CHANNELS.map((c) => [c, new Set()]));
const counters = { connected: 0, disconnected: 0, framesSent: 0, bytesSent: 0 };

class ClientSession {
  constructor(id, socket, req) {
    this.id = id;
    this.socket = socket;
    this.userId = req.headers['x-user-id'] ?? null;
    this.userAgent = req.headers['user-agent'] ?? '';
    this.remoteAddress = socket.remoteAddress;
    this.channels = [];
    this.connectedAt = programSeconds();
    this.disconnectedAt = null;
    this.lastPongAt = this.connectedAt;
    this.framesSent = 0;
    this.bytesSent = 0;
    this.state = 'open';
    this.inbox = '';
  }

  send(frame) {
    if (this.state !== 'open' || !this.socket.writable) return false;
    const line = `${JSON.stringify(frame)}\n`;
    this.socket.write(line);
    this.framesSent++;
    this.bytesSent += line.length;
    counters.framesSent++;
    counters.bytesSent += line.length;
    return true;
  }
}

let sessionSeq = 0;

function createSession(socket, req) {
  const session = new ClientSession(`ws-${++sessionSeq}`, socket, req);
  sessions.add(session);
  counters.connected++;
  return session;
}

function subscribe(session, channel) {
  const set = subscribers.get(channel);
  if (set === undefined || session.channels.includes(channel)) return;
  set.add(session);
  session.channels.push(channel);
  session.send({ type: 'subscribed', channel, at: programSeconds() });
}

function onMessage(session, message) {
  if (message.type === 'subscribe') for (const channel of message.channels) subscribe(session, channel);
  else if (message.type === 'pong') session.lastPongAt = programSeconds();
}

function onDisconnect(session) {
  if (session.state === 'closed') return;
  session.state = 'closed';
  session.disconnectedAt = programSeconds();
  for (const channel of session.channels) subscribers.get(channel).delete(session);
  counters.disconnected++;
  // (missing: sessions.delete(session))
}

function onUpgrade(req, socket) {
  if (req.url !== '/v1/stream' || req.headers.upgrade !== 'push.v1') {
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    return;
  }
  socket.setNoDelay(true);
  socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: push.v1\r\nconnection: Upgrade\r\n\r\n');
  const session = createSession(socket, req);
  socket.on('data', (chunk) => {
    session.inbox += chunk.toString('utf8');
    let newline;
    while ((newline = session.inbox.indexOf('\n')) >= 0) {
      const line = session.inbox.slice(0, newline);
      session.inbox = session.inbox.slice(newline + 1);
      try {
        onMessage(session, JSON.parse(line));
      } catch {
        session.send({ type: 'error', message: 'bad frame' });
      }
    }
  });
  socket.on('error', () => onDisconnect(session));
  socket.on('close', () => onDisconnect(session));
  session.send({ type: 'welcome', sessionId: session.id, heartbeatS: 30 });
}

// --- quotes and heartbeat ------------------------------------------------------------------------

const mid = new Map(CHANNELS.map((c, i) => [c, 1 + i * 3.7]));

every(scaledMs(5), () => {
  const at = programSeconds();
  for (const channel of CHANNELS) {
    const price = mid.get(channel) * (1 + (random() - 0.5) * 0.002);
    mid.set(channel, price);
    const frame = { type: 'quote', channel, bid: +(price * 0.9999).toFixed(5), ask: +(price * 1.0001).toFixed(5), at };
    for (const session of subscribers.get(channel)) session.send(frame);
  }
});

every(scaledMs(30), () => {
  const at = programSeconds();
  for (const session of sessions) {
    if (session.state !== 'open') continue;
    if (at - session.lastPongAt > 90) session.socket.destroy();
    else session.send({ type: 'ping', at });
  }
});

// --- HTTP (admin) ------------------------------------------------------------------------------------

function handler(req, res) {
  const text = JSON.stringify(req.url === '/healthz' ? { ok: true } : { error: 'not found' });
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(text);
}

// --- simulated browsers ----------------------------------------------------------------------------

const openClients = new Set();
const clientStats = { opened: 0, failed: 0 };
const BROWSERS = ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/17.4', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148'];

function sessionLengthS() {
  // log-normal, median 90 s
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(4 * 3600, 90 * Math.exp(1.1 * z));
}

function openClient(port) {
  const req = http.request({
    host: '127.0.0.1',
    port,
    path: '/v1/stream',
    agent: false,
    headers: { connection: 'Upgrade', upgrade: 'push.v1', 'x-user-id': `trader-${Math.floor(random() * 5000)}`, 'user-agent': BROWSERS[Math.floor(random() * BROWSERS.length)] },
  });
  const lifetime = sessionLengthS();
  req.on('upgrade', (res, socket) => {
    clientStats.opened++;
    openClients.add(socket);
    socket.setEncoding('utf8');
    const channels = [];
    for (let k = 0; k < 1 + Math.floor(random() * 4); k++) channels.push(CHANNELS[Math.floor(random() ** 1.5 * CHANNELS.length)]);
    socket.write(`${JSON.stringify({ type: 'subscribe', channels })}\n`);
    socket.on('data', (chunk) => {
      if (chunk.includes('"type":"ping"')) socket.write(`${JSON.stringify({ type: 'pong' })}\n`);
    });
    socket.on('error', () => {});
    socket.on('close', () => openClients.delete(socket));
    setTimeout(() => socket.end(), scaledMs(lifetime));
  });
  req.on('error', () => clientStats.failed++);
  req.end();
}

const ballastMb = buildBallast();
const { server, port } = await listen(handler);
server.on('upgrade', onUpgrade);
paced(0.5, (due) => {
  for (let i = 0; i < due; i++) openClient(port);
});
onShutdown(() => {
  for (const socket of openClients) socket.destroy();
});

reportStats(() => {
  let open = 0;
  for (const session of sessions) if (session.state === 'open') open++;
  return { retained: sessions.size, open, ...counters, clientsFailed: clientStats.failed };
});

ready(`ws-closed-sockets-set-leak: push server keeping every ClientSession (and its closed socket) in a module-level Set, 0.5 connections/s, median session 90 s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
