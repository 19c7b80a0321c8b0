// Profile API in front of a 16-shard key-value store (leaky, heap, from start).
//
// GET /v1/profiles?ids=... reads 1-6 profiles, each from the shard its key
// hashes to; PUT /v1/profiles/:id writes one. Every shard has a client (class
// ShardClient, in the module-level Map `shards`) with a Map `inflight` of
// the calls it is waiting on: request id → { id, op, key, startedAt,
// deadline, timer, resolve, reject }. The completion callback takes the call
// out of the Map, clears its timeout and settles the promise; the timeout
// does the same with an error.
//
// The bug: shard 11 was moved to the new storage node that answers in
// pipelined batches, and its client (class PipelinedShardClient) got its own
// completion callback, completeBatch(), which clears the timer and settles the
// promise but lost the `inflight.delete`. Every call to shard 11 stays in its
// Map for good (with the promise, which holds the profile it resolved to); the
// other 15 shards stay at a handful of in-flight calls.
import {
  buildBallast,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const SHARD_COUNT = 16;
const PIPELINED_SHARD = 11;
const CALL_TIMEOUT_MS = 2_000;
const EPOCH = Date.parse('2026-12-07T06:00:00Z');
const clock = () => EPOCH + Math.round(programSeconds() * 1000);

// --- The storage nodes (in-process stand-ins with real network latency) -------

const PLANS = ['free', 'plus', 'team', 'enterprise'];
const LOCALES = ['en-GB', 'de-DE', 'fr-FR', 'nl-NL', 'es-ES', 'pl-PL'];

/** What a storage node sends back for a key: the stored profile, decoded. */
function decodeProfile(key, version) {
  const n = Number.parseInt(key.slice(4), 36);
  return {
    id: key,
    handle: `member${n}`,
    displayName: `Member ${n % 9973} ${String.fromCharCode(65 + (n % 26))}.`,
    email: `member${n}@mail.example.org`,
    plan: PLANS[n % PLANS.length],
    locale: LOCALES[n % LOCALES.length],
    avatarUrl: `https://cdn.example.org/avatars/${key}/${version}.webp`,
    createdAt: new Date(EPOCH - (n % 1000) * 86_400_000).toISOString(),
    updatedAt: new Date(clock() - (n % 3600) * 1000).toISOString(),
    prefs: { theme: n % 3 === 0 ? 'dark' : 'light', digest: n % 2 === 0 ? 'weekly' : 'off', timezone: 'Europe/Berlin' },
    version,
  };
}

class StorageNode {
  constructor(index) {
    this.index = index;
    this.writes = 0;
  }

  latencyMs() {
    return 1 + Math.random() * 5;
  }

  handle(message) {
    if (message.op === 'set') {
      this.writes++;
      return { ok: true };
    }
    return decodeProfile(message.key, 1 + (Math.floor(programSeconds() / 3600) % 40));
  }

  send(message, callback) {
    setTimeout(() => callback(null, this.handle(message)), this.latencyMs());
  }
}

/** The new node type: requests are pipelined and answered in batches every few ms. */
class PipelinedStorageNode extends StorageNode {
  constructor(index) {
    super(index);
    this.queue = [];
    this.flushTimer = null;
    this.onReplies = () => {};
  }

  enqueue(message) {
    this.queue.push(message);
    if (this.flushTimer === null) this.flushTimer = setTimeout(() => this.flush(), this.latencyMs());
  }

  flush() {
    this.flushTimer = null;
    const batch = this.queue;
    this.queue = [];
    this.onReplies(batch.map((message) => ({ id: message.id, value: this.handle(message) })));
  }
}

// --- Shard clients ------------------------------------------------------------

class ShardClient {
  constructor(index, node) {
    this.index = index;
    this.node = node;
    this.inflight = new Map();
    this.nextId = 1;
    this.calls = 0;
    this.timeouts = 0;
  }

  request(op, key, value) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const startedAt = performance.now();
      const call = { id, op, key, startedAt, deadline: startedAt + CALL_TIMEOUT_MS, timer: null, resolve, reject };
      call.timer = setTimeout(() => this.expire(id), CALL_TIMEOUT_MS);
      this.inflight.set(id, call);
      this.calls++;
      this.transmit({ id, op, key, value });
    });
  }

  transmit(message) {
    this.node.send(message, (error, reply) => this.complete(message.id, error, reply));
  }

  complete(id, error, reply) {
    const call = this.inflight.get(id);
    if (call === undefined) return;
    this.inflight.delete(id);
    clearTimeout(call.timer);
    if (error) call.reject(error);
    else call.resolve(reply);
  }

  expire(id) {
    const call = this.inflight.get(id);
    if (call === undefined) return;
    this.inflight.delete(id);
    this.timeouts++;
    call.reject(new Error(`shard ${this.index}: ${call.op} ${call.key} timed out`));
  }
}

class PipelinedShardClient extends ShardClient {
  constructor(index, node) {
    super(index, node);
    node.onReplies = (replies) => this.completeBatch(replies);
  }

  transmit(message) {
    this.node.enqueue(message);
  }

  completeBatch(replies) {
    for (const reply of replies) {
      const call = this.inflight.get(reply.id);
      if (call === undefined) continue;
      clearTimeout(call.timer);
      if (reply.error) call.reject(new Error(reply.error));
      else call.resolve(reply.value);
    }
  }
}

/** shard index → its client */
const shards = new Map();
for (let i = 0; i < SHARD_COUNT; i++) {
  shards.set(i, i === PIPELINED_SHARD ? new PipelinedShardClient(i, new PipelinedStorageNode(i)) : new ShardClient(i, new StorageNode(i)));
}

function shardFor(key) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return shards.get((hash >>> 0) % SHARD_COUNT);
}

const getProfile = (key) => shardFor(key).request('get', key);
const putProfile = (key, fields) => shardFor(key).request('set', key, fields);

// --- HTTP ---------------------------------------------------------------------

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handler(req, res) {
  try {
    const url = new URL(req.url, 'http://profiles.internal');
    if (req.method === 'GET' && url.pathname === '/v1/profiles') {
      const ids = (url.searchParams.get('ids') ?? '').split(',').filter(Boolean).slice(0, 20);
      const profiles = await Promise.all(ids.map(getProfile));
      sendJson(res, 200, { profiles: profiles.map(({ id, handle, displayName, avatarUrl, plan }) => ({ id, handle, displayName, avatarUrl, plan })) });
    } else if (req.method === 'PUT' && url.pathname.startsWith('/v1/profiles/')) {
      const fields = JSON.parse((await readBody(req)).toString('utf8'));
      await putProfile(url.pathname.slice('/v1/profiles/'.length), fields);
      res.writeHead(204);
      res.end();
    } else if (req.method === 'GET' && url.pathname === '/internal/shards') {
      sendJson(res, 200, Array.from(shards.values(), (s) => ({ shard: s.index, inflight: s.inflight.size, calls: s.calls, timeouts: s.timeouts })));
    } else {
      sendJson(res, 404, { error: 'not found' });
    }
  } catch (error) {
    sendJson(res, 502, { error: String(error.message ?? error) });
  }
}

// --- Clients: the web app's feed and profile pages -------------------------------

const random = rng(1616);
const POPULATION = 200_000;
const memberKey = () => `usr_${Math.floor(random() * POPULATION).toString(36)}`;
let requestCount = 0;

function nextRequest() {
  requestCount++;
  if (requestCount % 120 === 0) return { method: 'GET', path: '/internal/shards' };
  if (requestCount % 9 === 0) {
    return { method: 'PUT', path: `/v1/profiles/${memberKey()}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ displayName: 'Updated Name', prefs: { digest: 'off' } }) };
  }
  const ids = [];
  for (let n = 1 + Math.floor(random() * 6); n > 0; n--) ids.push(memberKey());
  return { method: 'GET', path: `/v1/profiles?ids=${ids.join(',')}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const traffic = selfRequests(port, { perSecond: 2.5, next: nextRequest });

reportStats(() => {
  let otherInflight = 0;
  let calls = 0;
  let timeouts = 0;
  for (const shard of shards.values()) {
    if (shard.index !== PIPELINED_SHARD) otherInflight += shard.inflight.size;
    calls += shard.calls;
    timeouts += shard.timeouts;
  }
  return {
    retained: shards.get(PIPELINED_SHARD).inflight.size,
    otherInflight,
    calls,
    timeouts,
    requests: traffic.completed,
  };
});
ready(`shard-inflight-delete-leak: per-shard in-flight call Maps, 16 shards, shard 11's batch completion never deletes, ~2.5 req/s; ballast ${ballastMb} MB`);
