// Document-management API with an audit trail: every request is recorded by
// the audit middleware (recordAudit) as one small record appended to the
// user's trail in the module-level Map `trails` (userId -> UserTrail), and
// flushAuditTrails() ships the trails to the audit store every 30 s and
// empties them.
//
// The flush builds the storage partition from the user id and skips ids that
// do not match SAFE_USER_ID (lowercase only: the object store's keys are
// case-folded), silently, "they'll go out next time". At the onset (default
// 80 min) the SSO integration for a new enterprise tenant goes live; its user
// ids come from the customer's directory in upper case ("NWT-E10427"), so their
// trails are never flushed and grow by one record per request, for good.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  every,
  listen,
  onsetSeconds,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xa0d17);
const ONSET = onsetSeconds(4800);
const EPOCH_MS = Date.UTC(2024, 2, 11, 8, 0, 0);

const config = { flushSeconds: 30, maxBatch: 5000 };

// --- documents (the service itself) ----------------------------------------------------

const FOLDERS = ['contracts', 'invoices', 'hr', 'policies', 'projects', 'minutes', 'specs', 'reports'];
const documents = new Map();
for (let i = 0; i < 3000; i++) {
  const id = `doc_${(90_000 + i * 17).toString(36)}`;
  documents.set(id, {
    id,
    folder: FOLDERS[i % FOLDERS.length],
    title: `${FOLDERS[i % FOLDERS.length]} document ${i}`,
    version: 1 + (i % 7),
    size: 20_000 + ((i * 7919) % 900_000),
    owner: null,
    updatedAt: EPOCH_MS - (i % 400) * 3_600_000,
  });
}
const DOC_IDS = [...documents.keys()];

// --- audit trail ----------------------------------------------------------------------

const SAFE_USER_ID = /^[a-z0-9][a-z0-9._-]*$/;

class UserTrail {
  constructor(userId) {
    this.userId = userId;
    this.records = [];
    this.lastFlushedAt = 0;
    this.flushed = 0;
  }
}

/** userId -> UserTrail: records waiting for the next flush. */
const trails = new Map();
const auditStore = { batches: 0, records: 0, bytes: 0 };
const counters = { requests: 0, recorded: 0, flushed: 0, skipped: 0 };
let requestSeq = 0;

function trailFor(userId) {
  let trail = trails.get(userId);
  if (trail === undefined) {
    trail = new UserTrail(userId);
    trails.set(userId, trail);
  }
  return trail;
}

/** One audit record. */
function toAuditRecord(ctx, status, durationMs) {
  return {
    requestId: ctx.requestId,
    at: ctx.startedAt,
    action: ctx.action,
    resource: ctx.resource,
    status,
    durationMs,
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    query: ctx.query,
  };
}

function recordAudit(ctx, status, durationMs) {
  trailFor(ctx.userId).records.push(toAuditRecord(ctx, status, durationMs));
  counters.recorded++;
}

function partitionFor(userId, at) {
  const day = new Date(at).toISOString().slice(0, 10);
  return `audit/${day}/${userId.slice(0, 2)}/${userId}`;
}

/** Ships every trail to the audit store (NDJSON per user partition) and empties it. */
function flushAuditTrails() {
  const now = EPOCH_MS + programSeconds() * 1000;
  for (const trail of trails.values()) {
    if (trail.records.length === 0) continue;
    if (!SAFE_USER_ID.test(trail.userId)) {
      counters.skipped++;
      continue; // not a valid partition key; retried on the next flush
    }
    const batch = trail.records.splice(0, config.maxBatch);
    const body = batch.map((r) => JSON.stringify(r)).join('\n');
    auditStore.batches++;
    auditStore.records += batch.length;
    auditStore.bytes += body.length + partitionFor(trail.userId, now).length;
    trail.flushed += batch.length;
    trail.lastFlushedAt = now;
    counters.flushed += batch.length;
  }
}

// --- HTTP -------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      try {
        resolve(text === '' ? {} : JSON.parse(text));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function route(method, pathname) {
  if (pathname === '/v1/search') return { action: 'document.search', resource: 'search' };
  if (pathname.startsWith('/v1/documents/')) {
    const id = pathname.slice('/v1/documents/'.length);
    return { action: method === 'GET' ? 'document.read' : 'document.update', resource: id };
  }
  if (pathname === '/healthz') return null;
  return { action: 'unknown', resource: pathname };
}

async function handle(ctx, req, url) {
  if (ctx.action === 'document.search') {
    const q = (url.searchParams.get('q') ?? '').toLowerCase();
    const folder = url.searchParams.get('folder');
    const hits = [];
    for (const doc of documents.values()) {
      if ((folder === null || doc.folder === folder) && doc.title.includes(q)) hits.push({ id: doc.id, title: doc.title });
      if (hits.length >= 20) break;
    }
    return [200, { hits }];
  }
  const doc = documents.get(ctx.resource);
  if (doc === undefined) return [404, { error: 'no such document' }];
  if (ctx.action === 'document.read') return [200, doc];
  const patch = await readJson(req);
  if (typeof patch.title === 'string') doc.title = patch.title;
  doc.version++;
  doc.updatedAt = EPOCH_MS + programSeconds() * 1000;
  return [200, { id: doc.id, version: doc.version }];
}

async function handler(req, res) {
  const started = programSeconds();
  const url = new URL(req.url ?? '/', 'http://docs.internal');
  const target = route(req.method, url.pathname);
  if (target === null) return sendJson(res, 200, { ok: true, trails: trails.size });
  const userId = req.headers['x-user-id'];
  if (typeof userId !== 'string' || userId === '') return sendJson(res, 401, { error: 'unauthenticated' });
  counters.requests++;
  requestSeq++;
  const ctx = {
    requestId: `req_${requestSeq.toString(36)}${Math.floor(random() * 1e6).toString(36)}`,
    userId,
    startedAt: EPOCH_MS + started * 1000,
    ip: req.headers['x-forwarded-for'] ?? '127.0.0.1',
    userAgent: req.headers['user-agent'] ?? '',
    query: url.search,
    ...target,
  };
  let status = 500;
  try {
    const [code, body] = await handle(ctx, req, url);
    status = code;
    sendJson(res, code, body);
  } catch (error) {
    sendJson(res, 500, { error: String(error.message ?? error) });
  } finally {
    recordAudit(ctx, status, Math.round((programSeconds() - started) * 1e6) / 1000);
  }
}

// --- users (the load) ----------------------------------------------------------------------

function lowerId(i) {
  return `u_${createHash('sha1').update(`user-${i}`).digest('hex').slice(0, 10)}`;
}

function enterpriseId(i) {
  return `NWT-E${10_000 + i * 7}`;
}

function ipFor(i) {
  return `10.${20 + (i % 40)}.${(i * 7) % 250}.${(i * 13) % 250}`;
}

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0',
  'DocsDesktop/4.12.1 (Windows 10; x64) electron/28.2.0',
];
const staff = Array.from({ length: 480 }, (_, i) => ({ id: lowerId(i), ip: ipFor(i), agent: AGENTS[i % AGENTS.length] }));
const enterprise = Array.from({ length: 160 }, (_, i) => ({ id: enterpriseId(i), ip: ipFor(1000 + i), agent: AGENTS[(i * 3) % AGENTS.length] }));
const WORDS = ['budget', 'renewal', 'q3', 'offer', 'signed', 'draft', 'nda', 'review', 'final', 'audit'];

function nextRequest(users) {
  const user = users[Math.floor(users.length * random() ** 1.4)];
  const headers = { 'x-user-id': user.id, 'x-forwarded-for': user.ip, 'user-agent': user.agent };
  const roll = random();
  if (roll < 0.55) return { method: 'GET', path: `/v1/documents/${DOC_IDS[Math.floor(random() * DOC_IDS.length)]}`, headers };
  if (roll < 0.85) {
    const folder = FOLDERS[Math.floor(random() * FOLDERS.length)];
    return { method: 'GET', path: `/v1/search?q=${WORDS[Math.floor(random() * WORDS.length)]}&folder=${folder}&page=${1 + Math.floor(random() * 3)}`, headers };
  }
  return {
    method: 'PATCH',
    path: `/v1/documents/${DOC_IDS[Math.floor(random() * DOC_IDS.length)]}`,
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ title: `${WORDS[Math.floor(random() * WORDS.length)]} ${Math.floor(random() * 1000)}` }),
  };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
every(Math.max(20, (config.flushSeconds * 1000) / speed), flushAuditTrails);

// Staff: 2 req/s all along; the enterprise tenant's users: 1.6 req/s from the onset.
const staffClient = selfRequests(port, { perSecond: 2, maxInFlight: 16, next: () => nextRequest(staff) });
const enterpriseClient = selfRequests(port, {
  perSecond: 1.6,
  maxInFlight: 16,
  next: () => (programSeconds() >= ONSET ? nextRequest(enterprise) : null),
});
const balancer = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => {
  let pending = 0;
  for (const trail of trails.values()) pending += trail.records.length;
  return {
    retained: pending,
    trails: trails.size,
    requests: counters.requests,
    flushed: counters.flushed,
    requestsFailed: staffClient.failed + enterpriseClient.failed + balancer.failed,
  };
});

ready(
  `audit-trail-uppercase-flush-leak: ~2-3.6 req/s each appending an audit record; from ${ONSET} s the trails of upper-case SSO user ids are never flushed (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
