// Support-chat gateway: browsers open a realtime connection to a support room,
// say something, and leave. Connections are kept by a Hub (./hub.mjs).
//
// Endpoints (HTTP stand-ins for the WebSocket handshake, frames and close):
//   POST /rt/connect?sid=…&room=…   handshake: registers the connection and
//                                   replays the room's recent messages to it
//   POST /rt/:sid/send              a chat frame
//   POST /rt/:sid/close             the close frame
// Load is self-generated on 127.0.0.1: each visitor connects, sends a message
// ~23 s later and closes ~23 s after that (speed 1), ~100 visitors online.
//
// Hub.disconnect() drops the connection from the id index and marks it
// closed, but never removes it from `hub.connections`: every closed
// connection (~8 KB with the 12 replayed frames) stays.
// Speed 1: 2.2 visitors/s → ~60 MB/h of JS heap from the start.
// Cap: the hub refuses handshakes at 20 000 connections (~165 MB, ~2.5 h at
// speed 1, ~2.5 min at SCENARIO_SPEED=60).
//
// stats: retained = hub.connections.length, online = open connections.
import { Hub } from './hub.mjs';
import { buildBallast, every, listen, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const VISITORS_PER_SECOND = 2.2;
const MAX_CONNECTIONS = 20_000;
const ROOMS = ['billing', 'shipping', 'returns', 'technical', 'account', 'sales', 'b2b', 'warranty'];

const hub = new Hub({ maxConnections: MAX_CONNECTIONS, backlogSize: 12 });

function claimsFor(token) {
  const n = Number(token.slice(4));
  return { sub: `u-${n}`, name: `Visitor ${n % 9973}`, scopes: ['chat:read', 'chat:write'] };
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://gateway');
  const parts = url.pathname.split('/');
  if (req.method !== 'POST' || parts[1] !== 'rt') return res.writeHead(404).end();
  if (parts[2] === 'connect') {
    const sid = url.searchParams.get('sid');
    const conn = hub.connect(sid, url.searchParams.get('room'), req.headers, claimsFor(req.headers.authorization ?? 'tok-0'));
    if (conn === null) return res.writeHead(503, { 'retry-after': '30' }).end();
    return res.writeHead(200, { 'content-type': 'application/json' }).end(`{"sid":"${sid}","replayed":${conn.outbox.length}}`);
  }
  const body = await readBody(req);
  if (parts[3] === 'send') {
    const ok = hub.receive(parts[2], body.toString('utf8'));
    return res.writeHead(ok ? 202 : 410).end();
  }
  if (parts[3] === 'close') {
    hub.disconnect(parts[2], 1000);
    return res.writeHead(204).end();
  }
  res.writeHead(404).end();
}

const ballastMB = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch(() => res.writeHead(500).end());
});

// Every heartbeat interval (30 s at speed 1) look for stale connections.
let stale = 0;
every(scaledMs(30), () => {
  stale = hub.sweep(scaledMs(90));
});

// Visitor n connects; visitor n-50 sends its message; visitor n-100 leaves.
const random = rng(21);
const PHRASES = ['my parcel has not arrived yet', 'can I change the delivery address', 'the invoice shows the wrong VAT number', 'I was charged twice for order', 'how do I return a damaged item', 'the app crashes when I open my orders', 'is there a discount for bulk purchases', 'my warranty claim was rejected'];
let visitor = 0;
let step = 0;
const sid = (n) => `s${n.toString(36)}-${(n * 2654435761 >>> 0).toString(16)}`;
function nextRequest() {
  const phase = step++ % 3;
  if (phase === 0) {
    visitor++;
    const room = ROOMS[Math.floor(random() * ROOMS.length)];
    return { method: 'POST', path: `/rt/connect?sid=${sid(visitor)}&room=${room}`, headers: { authorization: `tok-${visitor}`, 'user-agent': `Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/12${visitor % 10}.0 Safari/537.36`, 'sec-websocket-protocol': 'chat.v2' } };
  }
  if (phase === 1) {
    if (visitor <= 50) return null;
    const text = `Hi, ${PHRASES[Math.floor(random() * PHRASES.length)]} #${100000 + Math.floor(random() * 900000)}. ${'Thanks in advance for looking into it. '.repeat(1 + Math.floor(random() * 3))}`;
    return { method: 'POST', path: `/rt/${sid(visitor - 50)}/send`, body: text };
  }
  if (visitor <= 100) return null;
  return { method: 'POST', path: `/rt/${sid(visitor - 100)}/close`, body: '' };
}
selfRequests(port, { perSecond: VISITORS_PER_SECOND * 3, next: nextRequest, maxInFlight: 16 });

reportStats(() => ({ retained: hub.connections.length, online: hub.online, closed: hub.closed, refused: hub.refused, capped: hub.connections.length >= MAX_CONNECTIONS, stale, ballastMB }));
ready(`support-chat-gateway: ${VISITORS_PER_SECOND} visitors/s (speed 1), hub of up to ${MAX_CONNECTIONS} connections`);
