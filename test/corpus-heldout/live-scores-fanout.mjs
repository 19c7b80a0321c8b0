// Live-scores fan-out (healthy): browsers and apps hold a realtime connection
// (HTTP stand-ins on 127.0.0.1 for the handshake and the close) subscribed to
// a few matches; score events from the data feed are framed once and queued
// on every subscriber's send buffer by a ConnectionManager
// (./connection-manager.mjs; the instance `manager` lives here), and a flush
// every 250 ms (speed 1) drains all buffers to the sockets.
//
// Speed 1: 2 connections/s, each open ~5 min (~600 open), 6 score events/s
// across 24 matches (~125 subscribers per match). Buffers never hold more
// than one flush interval of frames; closed connections leave the Map and
// the topic index. Heap flat after ~5 min (a few MB).
// stats: retained = open connections, buffered = frames waiting in buffers.
import { ConnectionManager } from './connection-manager.mjs';
import { buildBallast, every, listen, paced, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const CONNECTS_PER_SECOND = 2;
const OPEN_SECONDS = 300;
const EVENTS_PER_SECOND = 6;
const MATCHES = 24;
const FLUSH_SECONDS = 0.25;

const manager = new ConnectionManager({ maxBuffered: 512 });

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  const url = new URL(req.url, 'http://fanout');
  const parts = url.pathname.split('/');
  if (req.method !== 'POST' || parts[1] !== 'live') return res.writeHead(404).end();
  if (parts[2] === 'connect') {
    const { id, matches, client } = JSON.parse(await readBody(req));
    manager.open(id, matches.map((m) => `match:${m}`), { client, userAgent: req.headers['user-agent'], remoteAddress: req.socket.remoteAddress });
    return res.writeHead(101, 'Switching Protocols').end();
  }
  if (parts[3] === 'close') {
    await readBody(req);
    return res.writeHead(manager.close(parts[2]) ? 204 : 410).end();
  }
  res.writeHead(404).end();
});

every(Math.max(10, scaledMs(FLUSH_SECONDS)), () => manager.flush());

// --- the data feed -----------------------------------------------------------------------
const feedRandom = rng(606);
const KINDS = ['goal', 'shot', 'corner', 'card', 'substitution', 'possession', 'foul'];
const score = new Array(MATCHES).fill(0).map(() => [0, 0]);
let eventSeq = 0;
function scoreFrame(match) {
  const kind = KINDS[Math.floor(feedRandom() * KINDS.length)];
  if (kind === 'goal') score[match][Math.floor(feedRandom() * 2)]++;
  return JSON.stringify({ type: 'event', seq: ++eventSeq, match: `m${match}`, kind, minute: 1 + (eventSeq % 90), score: score[match], text: `${kind} — ${['home', 'away'][eventSeq % 2]} side, player #${1 + Math.floor(feedRandom() * 23)}` });
}
let published = 0;
paced(EVENTS_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) {
    const match = Math.floor(feedRandom() * MATCHES);
    published += manager.publish(`match:${match}`, scoreFrame(match));
  }
});

// --- clients: client n connects, client n − LAG disconnects ------------------------------
const random = rng(607);
const LAG = CONNECTS_PER_SECOND * OPEN_SECONDS;
const connId = (n) => `c${n.toString(36)}-${(n * 2654435761 >>> 0).toString(16)}`;
let client = 0;
let step = 0;
function nextRequest() {
  if (step++ % 2 === 0) {
    client++;
    const matches = [];
    for (let i = 0; i < 1 + Math.floor(random() * 10); i++) matches.push(Math.floor(random() * MATCHES));
    return { method: 'POST', path: '/live/connect', headers: { 'content-type': 'application/json', 'user-agent': 'ScoresApp/11.2 (iPhone; iOS 17.4)' }, body: JSON.stringify({ id: connId(client), matches: [...new Set(matches)], client: client % 4 === 0 ? 'web' : 'ios' }) };
  }
  if (client <= LAG) return null;
  return { method: 'POST', path: `/live/${connId(client - LAG)}/close`, body: '' };
}
selfRequests(port, { perSecond: CONNECTS_PER_SECOND * 2, next: nextRequest, maxInFlight: 16 });

reportStats(() => ({ retained: manager.connections.size, buffered: manager.buffered(), published, ...manager.stats, ballastMB }));
ready(`live-scores-fanout: ${CONNECTS_PER_SECOND} connections/s (speed 1), ~${LAG} open, ${EVENTS_PER_SECOND} events/s`);
