// Log shipper sidecar of a Kubernetes node: the pods' log agents POST their
// lines in small JSON batches (POST /v1/logs); each line is parsed into a
// record (timestamp, level, service, pod, message, trace id, structured
// fields) and queued in the module-level `shipper` (class LogShipper), which
// ships the queue to the log store's bulk API every 3 s (or at 2 000 lines).
// The bulk API answers per item; a small steady fraction of items is rejected
// (429 es_rejected_execution on a busy shard, 400 mapper_parsing_exception
// when a field changes type). Rejected lines are wrapped by toRetryEntry() and
// pushed to `shipper.retryQueue`, to be re-sent by replayRetries() once the
// store has recovered, but replayRetries() is only wired to the bulk client's
// 'recovered' event, which fires after a full outage, and the store never has
// one: the item-level rejects just pile up. Nothing caps the list.
//
// Leak (JS heap) from the start: ~1.8 % of ~110 lines/s, ~7 000 retry
// entries an hour, each with its parsed record and strings.
import { EventEmitter } from 'node:events';
import { buildBallast, every, listen, MiB, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0x106c0de);
const FLUSH_SECONDS = 3;
const MAX_BATCH = 2000;

// --- log store bulk API stand-in ----------------------------------------------------------

class BulkClient extends EventEmitter {
  constructor() {
    super();
    this.requests = 0;
    this.itemsOk = 0;
    this.itemsRejected = 0;
    this.down = false;
  }

  /** Sends one bulk request; resolves with one status per item (the body is built and dropped). */
  async bulk(index, records) {
    let body = '';
    for (const record of records) body += `{"index":{"_index":"${index}"}}\n${JSON.stringify(record)}\n`;
    await new Promise((resolve) => setTimeout(resolve, 3 + random() * 8));
    this.requests++;
    const items = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const roll = random();
      if (roll < 0.011) items[i] = { status: 429, error: { type: 'es_rejected_execution_exception', reason: `rejected execution of coordinating operation [shard ${i % 12}, queue capacity 200]` } };
      else if (roll < 0.018) items[i] = { status: 400, error: { type: 'mapper_parsing_exception', reason: `failed to parse field [fields.duration] of type [long] in document with id '${records[i].traceId}'` } };
      else items[i] = { status: 201 };
    }
    for (const item of items) item.status === 201 ? this.itemsOk++ : this.itemsRejected++;
    if (this.down) {
      this.down = false;
      this.emit('recovered');
    }
    return { took: body.length >> 10, errors: this.itemsRejected > 0, items };
  }
}

// --- the shipper ------------------------------------------------------------------------------

/** A line the store rejected, kept to be re-sent. */
function toRetryEntry(record, item, batchId, now) {
  return {
    record,
    error: `${item.status} ${item.error.type}: ${item.error.reason}`,
    attempts: 1,
    batchId,
    firstFailedAt: now,
    nextAttemptAt: now + 30,
  };
}

class LogShipper {
  constructor(client) {
    this.client = client;
    this.queue = [];
    this.retryQueue = [];
    this.batchSeq = 0;
    this.shipped = 0;
    this.flushing = false;
    client.on('recovered', () => this.replayRetries());
  }

  enqueue(record) {
    this.queue.push(record);
    if (this.queue.length >= MAX_BATCH) this.flush();
  }

  async flush() {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    const batchId = ++this.batchSeq;
    const day = new Date(Date.UTC(2024, 5, 3) + programSeconds() * 1000).toISOString().slice(0, 10);
    const result = await this.client.bulk(`logs-${day}`, batch);
    const now = Math.round(programSeconds());
    for (let i = 0; i < batch.length; i++) {
      const item = result.items[i];
      if (item.status === 201) this.shipped++;
      else this.retryQueue.push(toRetryEntry(batch[i], item, batchId, now));
    }
  }

  /** Re-sends what was rejected (only after an outage: see the header). */
  async replayRetries() {
    const due = this.retryQueue.splice(0, this.retryQueue.length);
    for (const entry of due) this.queue.push(entry.record);
  }
}

const shipper = new LogShipper(new BulkClient());

// --- parsing ------------------------------------------------------------------------------------

const LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

function parseLogLine(raw, source) {
  const { time, level, msg, trace_id: traceId, ...fields } = raw;
  return {
    timestamp: typeof time === 'number' ? new Date(time).toISOString() : String(time),
    level: LEVELS[level] ?? 'info',
    service: source.service,
    pod: source.pod,
    node: source.node,
    message: String(msg),
    traceId: traceId ?? null,
    fields,
  };
}

// --- HTTP ------------------------------------------------------------------------------------------

const intake = { requests: 0, lines: 0, malformed: 0 };

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/logs') {
      const body = JSON.parse((await readBody(req, 4 * MiB)).toString('utf8'));
      intake.requests++;
      for (const raw of body.lines) {
        if (raw === null || typeof raw !== 'object' || raw.msg === undefined) {
          intake.malformed++;
          continue;
        }
        shipper.enqueue(parseLogLine(raw, body.source));
        intake.lines++;
      }
      res.writeHead(202).end();
      return;
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, queued: shipper.queue.length, retries: shipper.retryQueue.length }));
      return;
    }
    res.writeHead(404).end();
  } catch (error) {
    if (!res.headersSent) res.writeHead(400).end(String(error.message ?? error));
  }
}

// --- the pods' log agents (the load) ---------------------------------------------------------------

const SERVICES = ['orders-api', 'billing-worker', 'search-api', 'auth-service', 'notifications', 'catalog-api'];
const MESSAGES = [
  (r) => `request completed ${r.method} ${r.path} ${r.status} in ${r.duration}ms`,
  (r) => `cache miss for key product:${r.id}:v2, loading from primary`,
  (r) => `published event order.updated id=${r.id} partition=${r.id % 24}`,
  (r) => `slow query detected (${r.duration}ms): SELECT * FROM order_lines WHERE order_id = $1`,
  (r) => `upstream responded ${r.status} for ${r.path}, retrying in 200ms (attempt 1 of 3)`,
  (r) => `user ${r.user} authenticated via oidc, session ${r.id.toString(36)} issued`,
];
const PATHS = ['/v2/orders', '/v2/orders/:id', '/v2/cart', '/v1/search', '/v1/token', '/v1/invoices/:id/pdf'];

function podBatch() {
  const s = Math.floor(random() * SERVICES.length);
  const source = { service: SERVICES[s], pod: `${SERVICES[s]}-6c8f${Math.floor(random() * 6)}-x${s}q`, node: `ip-10-0-${s}-${17 + s}.eu-west-1.compute.internal` };
  const lines = [];
  const n = 20 + Math.floor(random() * 70);
  for (let i = 0; i < n; i++) {
    const r = { method: random() < 0.7 ? 'GET' : 'POST', path: PATHS[Math.floor(random() * PATHS.length)], status: random() < 0.95 ? 200 : 502, duration: Math.round(2 + 300 * random() ** 3), id: Math.floor(random() * 1e7), user: `usr_${Math.floor(random() * 1e6)}` };
    const roll = random();
    lines.push({
      time: Date.now(),
      level: roll < 0.8 ? 30 : roll < 0.95 ? 40 : 50,
      msg: MESSAGES[Math.floor(random() * MESSAGES.length)](r),
      trace_id: Math.floor(random() * 2 ** 52).toString(16).padStart(16, '0'),
      http: { method: r.method, path: r.path, status: r.status },
      duration: r.duration,
      hostname: source.pod,
    });
  }
  return { method: 'POST', path: '/v1/logs', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source, lines }) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~2 batches/s of ~55 lines: ~110 lines/s from the node's pods.
const agents = selfRequests(port, { perSecond: 2, maxInFlight: 8, next: podBatch });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

every(Math.max(1, (FLUSH_SECONDS * 1000) / speed), () => {
  shipper.flush().catch((error) => process.stderr.write(`flush failed: ${error.message}\n`));
});

reportStats(() => ({
  retained: shipper.retryQueue.length,
  lines: intake.lines,
  shipped: shipper.shipped,
  batches: shipper.batchSeq,
  queued: shipper.queue.length,
  requestsFailed: agents.failed + probes.failed,
}));

ready(`log-shipper-failed-retry-leak: ships pods' log lines in bulk every ${FLUSH_SECONDS} s; item-level rejects go to shipper.retryQueue, which is never drained (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
