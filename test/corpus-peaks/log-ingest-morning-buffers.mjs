// Log-ingest API of a hosted logging product. Agents POST batches of NDJSON
// log lines to /v1/ingest; the API parses them, buffers the lines per tenant
// (a Map tenant -> array of lines) and a flusher writes every tenant's buffer
// to storage (an in-process stand-in with a few ms of latency) every 5 s of
// production time, then drops it. Ingest traffic grows through the business
// morning, 08:00 -> 12:00, and holds in the early afternoon, so the buffered
// lines grow with it and then level off. Healthy.
import { createGzip } from 'node:zlib';
import {
  buildBallast, envNumber, every, listen, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 8);
const FLUSH_SECONDS = 5;
const random = rng(812);
const TENANTS = Array.from({ length: 36 }, (_, i) => ({ id: `t-${(4096 + i * 131).toString(16)}`, weight: 1 + ((i * 7) % 9) }));
const TENANT_WEIGHT = TENANTS.reduce((sum, t) => sum + t.weight, 0);
const SERVICES = ['api', 'web', 'worker', 'billing', 'auth', 'search', 'mailer', 'scheduler'];
const LEVELS = ['debug', 'info', 'info', 'info', 'info', 'warn', 'error'];
const MESSAGES = [
  'request completed', 'cache miss for key', 'job finished', 'user signed in', 'retrying upstream call',
  'slow query detected', 'payment webhook received', 'session refreshed', 'rate limit applied', 'template rendered',
];

function clockHour() {
  return CLOCK_H + programSeconds() / 3600;
}

/** Ingest batches per second at speed 1: 1.5/s at 08:00 rising to 6/s by 12:00, then flat. */
function ingestRate() {
  const h = clockHour();
  if (h < 8) return 1.5;
  if (h < 12) return 1.5 + 4.5 * ((h - 8) / 4) ** 1.3;
  return 6;
}

// --- per-tenant buffers ------------------------------------------------------
const tenantBuffers = new Map(); // tenantId -> array of parsed lines
const flushing = new Set(); // batches handed to storage, not yet acknowledged
const totals = { batches: 0, lines: 0, rejected: 0, flushes: 0, storedBytes: 0 };

function parseLine(text, tenantId, receivedAt) {
  const raw = JSON.parse(text);
  if (typeof raw.msg !== 'string' || typeof raw.ts !== 'string') return null;
  return {
    tenantId,
    ts: raw.ts,
    level: raw.level ?? 'info',
    service: raw.service ?? 'unknown',
    host: raw.host ?? null,
    msg: raw.msg,
    traceId: raw.traceId ?? null,
    attrs: raw.attrs ?? {},
    receivedAt,
  };
}

function bufferLines(tenantId, body) {
  const receivedAt = programSeconds();
  let buffer = tenantBuffers.get(tenantId);
  if (buffer === undefined) {
    buffer = [];
    tenantBuffers.set(tenantId, buffer);
  }
  let accepted = 0;
  for (const text of body.split('\n')) {
    if (text.length === 0) continue;
    let line = null;
    try {
      line = parseLine(text, tenantId, receivedAt);
    } catch {}
    if (line === null) totals.rejected++;
    else {
      buffer.push(line);
      accepted++;
    }
  }
  totals.lines += accepted;
  return accepted;
}

function bufferedLineCount() {
  let count = 0;
  for (const buffer of tenantBuffers.values()) count += buffer.length;
  for (const batch of flushing) count += batch.lines.length;
  return count;
}

// Storage stand-in: gzips the batch as the object store upload would, then acknowledges.
function writeToStorage(batch) {
  return new Promise((resolve) => {
    const gzip = createGzip({ level: 1 });
    let bytes = 0;
    gzip.on('data', (chunk) => (bytes += chunk.length));
    gzip.on('end', () => setTimeout(() => resolve(bytes), 5 + random() * 20));
    for (const line of batch.lines) gzip.write(`${JSON.stringify(line)}\n`);
    gzip.end();
  });
}

function flushAll() {
  totals.flushes++;
  for (const [tenantId, lines] of tenantBuffers) {
    if (lines.length === 0) continue;
    tenantBuffers.set(tenantId, []);
    const batch = { tenantId, lines, flushedAt: programSeconds() };
    flushing.add(batch);
    writeToStorage(batch).then((bytes) => {
      totals.storedBytes += bytes;
      flushing.delete(batch);
    });
  }
}
every((FLUSH_SECONDS * 1000) / speed, flushAll);

// --- HTTP ------------------------------------------------------------------
function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/ingest') {
      const tenantId = req.headers['x-tenant-id'];
      if (typeof tenantId !== 'string') return send(res, 401, { error: 'missing tenant' });
      const body = (await readBody(req, 4 * 1024 * 1024)).toString('utf8');
      totals.batches++;
      return send(res, 202, { accepted: bufferLines(tenantId, body) });
    }
    if (req.url === '/healthz') return send(res, 200, { ok: true, buffered: bufferedLineCount() });
    send(res, 404, { error: 'not found' });
  } catch (error) {
    send(res, 500, { error: String(error.message) });
  }
}

// --- agents ------------------------------------------------------------------
function pickTenant() {
  let r = random() * TENANT_WEIGHT;
  for (const tenant of TENANTS) if ((r -= tenant.weight) < 0) return tenant;
  return TENANTS[0];
}

function logLine(tenant, i) {
  const level = LEVELS[Math.floor(random() * LEVELS.length)];
  const line = {
    ts: new Date(Date.UTC(2024, 2, 12, 0, 0, Math.floor(clockHour() * 3600)) + i).toISOString(),
    level,
    service: SERVICES[Math.floor(random() * SERVICES.length)],
    host: `${tenant.id}-node-${Math.floor(random() * 12)}`,
    msg: `${MESSAGES[Math.floor(random() * MESSAGES.length)]} ${Math.floor(random() * 1e6)}`,
    traceId: random() < 0.7 ? Math.floor(random() * 2 ** 52).toString(16).padStart(16, '0') : undefined,
    attrs: { durationMs: Math.floor(random() * 900), status: level === 'error' ? 500 : 200, route: `/v2/${SERVICES[i % SERVICES.length]}/${i % 40}` },
  };
  return JSON.stringify(line);
}

function nextBatch() {
  const tenant = pickTenant();
  const count = 10 + Math.floor(random() ** 2 * 190); // agents ship 10-200 lines at a time
  const lines = [];
  for (let i = 0; i < count; i++) lines.push(logLine(tenant, i));
  return { method: 'POST', path: '/v1/ingest', headers: { 'content-type': 'application/x-ndjson', 'x-tenant-id': tenant.id }, body: lines.join('\n') };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const agents = selfRequests(port, { perSecond: ingestRate, next: nextBatch });
const probes = selfRequests(port, { perSecond: 0.2, next: () => ({ path: '/healthz' }) });
reportStats(() => ({
  retained: bufferedLineCount(),
  clock: Math.round(clockHour() * 100) / 100,
  ratePerS: Math.round(ingestRate() * 100) / 100,
  tenants: tenantBuffers.size,
  ...totals,
  failed: agents.failed + probes.failed,
}));
ready(`log-ingest API: per-tenant line buffers flushed every ${FLUSH_SECONDS} s, traffic growing 08:00-12:00 (clock ${CLOCK_H}h, ballast ${ballastMb} MB)`);
