// broadcaster-closed-clients — live price ticker whose hub keeps closed clients.
//
// A websocket-style hub (the transport is simulated in-process: connections
// are EventEmitters that receive 'message' and 'close'). Viewers connect at
// 4/s at speed 1 (mobile clients reconnect a lot) and stay ~2.5 min on
// average, so ~600 are online; the hub broadcasts 2 ticks/s to the
// subscribers of each channel. On 'close' the handler first marks the user
// offline in the presence table (`presence.leave(client.user.id)`) and then
// removes the client from the hub's Set (`hub.clients`). Anonymous viewers
// (35 %: the public ticker page) have `user === null`, the handler throws a
// TypeError before the delete, the transport catches and logs it, and the
// closed client stays in the Set with its connection, handshake headers,
// subscriptions and listener closures: ~1.4 closed clients/s, ~1.1 KB each,
// ~5.5 MB/h at speed 1. Broadcasts skip closed connections, so nothing visible
// breaks (they just iterate a longer Set).
//
// Cap: the hub refuses new connections (close code 1013, "try again later")
// once it holds MAX_CLIENTS (50 000, ~57 MB), reached after ~10 h at speed 1
// (~10 min at SCENARIO_SPEED=60).
//
// `retained` = clients in hub.clients (open + closed).
import { EventEmitter } from 'node:events';
import {
  buildBallast,
  paced,
  ready,
  reportStats,
  rng,
  scaledMs,
} from '../corpus/lib/corpus.mjs';

const CONNECTS_PER_SECOND = 4;
const MEAN_SESSION_S = 150;
const ANONYMOUS_SHARE = 0.35;
const TICKS_PER_SECOND = 2;
const MAX_CLIENTS = 50_000;
const CHANNELS = ['BTC-EUR', 'ETH-EUR', 'SOL-EUR', 'AAPL', 'MSFT', 'NVDA', 'EURUSD', 'GOLD'];

const random = rng(0xb0ad);
const log = {
  errors: 0,
  error(msg, err) {
    this.errors++;
    this.last = `${msg}: ${err && err.message}`;
  },
};

// --- transport (what the websocket library gives us) -------------------------

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

const transport = { framesSent: 0, bytesSent: 0, open: 0 };

class Connection extends EventEmitter {
  constructor(id, handshake) {
    super();
    this.id = id;
    this.handshake = handshake;
    this.readyState = CONNECTING;
    this.bufferedAmount = 0;
  }

  send(frame) {
    if (this.readyState !== OPEN) return false;
    transport.framesSent++;
    transport.bytesSent += frame.length;
    return true;
  }

  close(code, reason) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    transport.open--;
    this.emit('close', code, reason);
  }
}

// --- the hub -------------------------------------------------------------------

class Hub {
  constructor(maxClients) {
    this.maxClients = maxClients;
    this.clients = new Set();
    this.refused = 0;
  }

  get full() {
    return this.clients.size >= this.maxClients;
  }

  add(client) {
    this.clients.add(client);
  }

  remove(client) {
    this.clients.delete(client);
  }

  broadcast(channel, payload) {
    const frame = JSON.stringify({ type: 'tick', channel, ...payload });
    let delivered = 0;
    for (const client of this.clients) {
      if (!client.subscriptions.has(channel)) continue;
      if (client.conn.send(frame)) {
        client.stats.messagesOut++;
        delivered++;
      }
    }
    return delivered;
  }
}

const hub = new Hub(MAX_CLIENTS);

// user id → { since, connections }
const presence = {
  online: new Map(),
  join(userId) {
    const entry = this.online.get(userId);
    if (entry) entry.connections++;
    else this.online.set(userId, { since: Date.now(), connections: 1 });
  },
  leave(userId) {
    const entry = this.online.get(userId);
    if (entry && --entry.connections === 0) this.online.delete(userId);
  },
};

function authenticate(handshake) {
  const cookie = handshake.headers.cookie;
  if (cookie === undefined) return null;
  const userId = Number(cookie.slice(cookie.indexOf('=') + 1));
  return { id: userId, plan: userId % 7 === 0 ? 'pro' : 'free' };
}

function onClientMessage(client, text) {
  client.stats.messagesIn++;
  client.stats.lastSeenAt = Date.now();
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return;
  }
  if (message.type === 'subscribe') {
    for (const channel of message.channels) if (CHANNELS.includes(channel)) client.subscriptions.add(channel);
  } else if (message.type === 'unsubscribe') {
    for (const channel of message.channels) client.subscriptions.delete(channel);
  }
}

function acceptConnection(conn, handshake) {
  if (hub.full) {
    hub.refused++;
    conn.close(1013, 'try again later');
    return;
  }
  const user = authenticate(handshake);
  const client = {
    id: conn.id,
    conn,
    user,
    ip: handshake.remoteAddress,
    userAgent: handshake.headers['user-agent'],
    origin: handshake.headers.origin,
    locale: handshake.headers['accept-language'].split(',')[0],
    connectedAt: Date.now(),
    subscriptions: new Set(),
    stats: { messagesIn: 0, messagesOut: 0, lastSeenAt: Date.now() },
  };
  hub.add(client);
  if (user !== null) presence.join(user.id);
  conn.on('message', (text) => onClientMessage(client, text));
  conn.on('error', (err) => log.error(`connection ${client.id}`, err));
  conn.on('close', () => {
    presence.leave(client.user.id);
    hub.remove(client);
  });
}

// --- simulated viewers -----------------------------------------------------------

const AGENTS = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
];
let connectionSeq = 0;

function connectViewer() {
  const anonymous = random() < ANONYMOUS_SHARE;
  const id = `c${(++connectionSeq).toString(36)}-${Math.floor(random() * 1e9).toString(36)}`;
  const headers = {
    host: 'stream.example.com',
    origin: 'https://www.example.com',
    'user-agent': AGENTS[Math.floor(random() * AGENTS.length)],
    'accept-language': random() < 0.5 ? 'nl-NL,nl;q=0.9,en;q=0.8' : 'en-GB,en;q=0.9',
    'sec-websocket-key': Buffer.from(id.padEnd(16, '0')).toString('base64'),
    'sec-websocket-version': '13',
  };
  if (!anonymous) headers.cookie = `uid=${1 + Math.floor(random() * 90_000)}`;
  const handshake = { url: '/stream', remoteAddress: `10.${(connectionSeq >> 8) & 255}.${connectionSeq & 255}.7`, headers };
  const conn = new Connection(id, handshake);
  transport.open++;
  acceptConnection(conn, handshake);
  if (conn.readyState === CLOSED) return;
  conn.readyState = OPEN;

  const picks = [];
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count; i++) picks.push(CHANNELS[Math.floor(random() * CHANNELS.length)]);
  conn.emit('message', JSON.stringify({ type: 'subscribe', channels: picks }));

  const lifetimeS = -Math.log(1 - random()) * MEAN_SESSION_S;
  setTimeout(() => {
    try {
      conn.close(1001, 'going away');
    } catch (err) {
      // the library reports listener errors on the connection and moves on
      log.error(`close handler of ${conn.id} failed`, err);
    }
  }, scaledMs(lifetimeS));
}

// --- start -------------------------------------------------------------------

buildBallast();
paced(CONNECTS_PER_SECOND, (n) => {
  for (let i = 0; i < n; i++) connectViewer();
});

const prices = Object.fromEntries(CHANNELS.map((c, i) => [c, 100 + i * 37]));
let tickIndex = 0;
paced(TICKS_PER_SECOND, (n) => {
  for (let i = 0; i < n; i++) {
    const channel = CHANNELS[tickIndex++ % CHANNELS.length];
    prices[channel] *= 1 + (random() - 0.5) / 500;
    hub.broadcast(channel, { price: Math.round(prices[channel] * 100) / 100, at: Date.now() });
  }
});

reportStats(() => ({
  retained: hub.clients.size,
  open: transport.open,
  online: presence.online.size,
  closeErrors: log.errors,
  refused: hub.refused,
  framesSent: transport.framesSent,
}));
ready(`broadcaster-closed-clients: ${CONNECTS_PER_SECOND} connects/s at speed 1, ${ANONYMOUS_SHARE * 100} % anonymous; their close handler throws before hub.clients.delete`);
