// Global per-client rate limiter of a public API's gateway fleet. Six gateway
// nodes count requests per client IP locally and push their counts every 2 s
// (POST /v1/hits); the limiter adds them to a sliding one-minute window per IP
// in the plain object `clients` (IP -> counters) and answers with the IPs that
// are over their limit, which the nodes then reject locally until told
// otherwise. Support looks single IPs up (GET /v1/clients/:ip). Clients idle for
// 10 minutes are pruned every minute by pruneIdleClients(). Healthy: a few
// thousand IPs are tracked at any time and the object stays that size.
import {
  buildBallast, every, listen, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const WINDOW_MS = 60_000;
const LIMIT_PER_MINUTE = 300;
const BLOCK_MS = 5 * 60_000;
const IDLE_PRUNE_MS = 10 * 60_000;
const PRUNE_EVERY_S = 60;
const NODES = ['gw-1a', 'gw-1b', 'gw-1c', 'gw-2a', 'gw-2b', 'gw-2c'];
const SYNC_EVERY_S = 2;
const NEW_CLIENTS_PER_S = 5;        // browsers, mobile apps and integrations turning up
const MEAN_VISIT_S = 240;
const REQUESTS_PER_CLIENT_S = 0.2;  // an SPA polling plus page loads
const EPOCH_MS = Date.UTC(2024, 8, 3, 9);
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);

// --- the limiter ------------------------------------------------------------
const clients = {}; // ip -> { windowStart, current, previous, lastSeen, blockedUntil, total }
let clientCount = 0;
const metrics = { syncs: 0, hits: 0, blocks: 0, pruned: 0, prunes: 0 };

function windowStartOf(now) {
  return now - (now % WINDOW_MS);
}

/** Requests in the last minute, weighting the previous fixed window by its remaining overlap. */
function slidingCount(entry, now) {
  const overlap = 1 - (now - entry.windowStart) / WINDOW_MS;
  return entry.current + entry.previous * Math.max(0, overlap);
}

function recordHits(ip, count, now) {
  let entry = clients[ip];
  if (entry === undefined) {
    entry = { windowStart: windowStartOf(now), current: 0, previous: 0, lastSeen: now, blockedUntil: 0, total: 0 };
    clients[ip] = entry;
    clientCount++;
  }
  const start = windowStartOf(now);
  if (start !== entry.windowStart) {
    entry.previous = start - entry.windowStart === WINDOW_MS ? entry.current : 0;
    entry.current = 0;
    entry.windowStart = start;
  }
  entry.current += count;
  entry.total += count;
  entry.lastSeen = now;
  if (entry.blockedUntil < now && slidingCount(entry, now) > LIMIT_PER_MINUTE) {
    entry.blockedUntil = now + BLOCK_MS;
    metrics.blocks++;
  }
  return entry;
}

function pruneIdleClients() {
  const cutoff = nowMs() - IDLE_PRUNE_MS;
  for (const ip in clients) {
    if (clients[ip].lastSeen < cutoff && clients[ip].blockedUntil < cutoff) {
      delete clients[ip];
      clientCount--;
      metrics.pruned++;
    }
  }
  metrics.prunes++;
}

// --- HTTP API ---------------------------------------------------------------
function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const now = nowMs();
  if (req.method === 'POST' && req.url === '/v1/hits') {
    const { hits } = JSON.parse((await readBody(req)).toString('utf8'));
    const blocked = [];
    for (const ip in hits) {
      const entry = recordHits(ip, hits[ip], now);
      if (entry.blockedUntil > now) blocked.push({ ip, until: entry.blockedUntil });
    }
    metrics.syncs++;
    return sendJson(res, 200, { blocked });
  }
  if (req.method === 'GET' && req.url.startsWith('/v1/clients/')) {
    const entry = clients[decodeURIComponent(req.url.slice('/v1/clients/'.length))];
    if (entry === undefined) return sendJson(res, 404, { error: 'unknown client' });
    return sendJson(res, 200, { ...entry, perMinute: Math.round(slidingCount(entry, now)) });
  }
  if (req.url === '/healthz') return sendJson(res, 200, { ok: true, clients: clientCount });
  sendJson(res, 404, { error: 'not found' });
}

// --- the gateway fleet (in-process client) ----------------------------------
const random = rng(903);
const visiting = []; // { ip, leavesAt, rate } in production seconds
const pending = NODES.map(() => new Map()); // per node: ip -> hits since its last sync
const blockedAtEdge = new Map(); // ip -> until (ms), as the nodes learnt it
let simulatedUntil = 0;
let nextNode = 0;

function randomIp() {
  if (random() < 0.12) return `2a02:${(random() * 0xffff) | 0}:${(random() * 0xffff) | 0}::${((random() * 0xffff) | 0).toString(16)}`;
  return `${1 + Math.floor(random() * 223)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`;
}

function poisson(mean) {
  const limit = Math.exp(-mean);
  let n = -1;
  for (let p = 1; p > limit; p *= random()) n++;
  return n;
}

/** Advances the fleet's traffic to now: arrivals, departures, requests per IP per node. */
function simulateTraffic() {
  const t = programSeconds();
  const dt = Math.min(10, t - simulatedUntil);
  simulatedUntil = t;
  for (let n = poisson(NEW_CLIENTS_PER_S * dt); n > 0; n--) {
    const scraper = random() < 0.004; // the odd scraper or misbehaving integration
    visiting.push({ ip: randomIp(), leavesAt: t - Math.log(1 - random()) * MEAN_VISIT_S, rate: scraper ? 6 + random() * 10 : REQUESTS_PER_CLIENT_S * (0.3 + random() * 1.4) });
  }
  const now = nowMs();
  for (let i = visiting.length - 1; i >= 0; i--) {
    const client = visiting[i];
    if (client.leavesAt <= t) {
      visiting[i] = visiting[visiting.length - 1];
      visiting.pop();
      continue;
    }
    const count = poisson(client.rate * dt);
    if (count === 0 || (blockedAtEdge.get(client.ip) ?? 0) > now) continue;
    const node = pending[Math.floor(random() * NODES.length)];
    node.set(client.ip, (node.get(client.ip) ?? 0) + count);
  }
}

function nextSync() {
  simulateTraffic();
  const index = nextNode;
  nextNode = (nextNode + 1) % NODES.length;
  const hits = Object.fromEntries(pending[index]);
  pending[index].clear();
  metrics.hits += Object.values(hits).reduce((a, b) => a + b, 0);
  return { method: 'POST', path: '/v1/hits', headers: { 'content-type': 'application/json', 'x-node': NODES[index] }, body: JSON.stringify({ node: NODES[index], hits }) };
}

function onSyncResponse(status, text) {
  if (status !== 200) return;
  const now = nowMs();
  for (const [ip, until] of blockedAtEdge) if (until <= now) blockedAtEdge.delete(ip);
  for (const { ip, until } of JSON.parse(text).blocked) blockedAtEdge.set(ip, until);
}

function nextSupportLookup() {
  if (visiting.length === 0 || random() < 0.3) return { method: 'GET', path: '/healthz' };
  return { method: 'GET', path: `/v1/clients/${encodeURIComponent(visiting[Math.floor(random() * visiting.length)].ip)}` };
}

// --- main -------------------------------------------------------------------
const ballastMb = buildBallast();
const { server, port } = await listen((req, res) => {
  handle(req, res).catch((error) => sendJson(res, 400, { error: error.message }));
});
server.keepAliveTimeout = 65_000; // longer than the load balancer's idle timeout
server.headersTimeout = 66_000;
const syncs = selfRequests(port, { perSecond: NODES.length / SYNC_EVERY_S, next: nextSync, onResponse: onSyncResponse, maxInFlight: NODES.length });
const lookups = selfRequests(port, { perSecond: 0.2, next: nextSupportLookup, maxInFlight: 2 });
every((PRUNE_EVERY_S * 1000) / speed, pruneIdleClients);

ready(`per-IP rate limiter: plain object of counters, ${NODES.length} gateway nodes syncing every ${SYNC_EVERY_S} s, idle clients pruned after 10 min; port ${port}; ballast ${ballastMb} MB`);
reportStats(() => ({
  retained: clientCount,
  visiting: visiting.length,
  blockedAtEdge: blockedAtEdge.size,
  ...metrics,
  failed: syncs.failed + lookups.failed,
}));
