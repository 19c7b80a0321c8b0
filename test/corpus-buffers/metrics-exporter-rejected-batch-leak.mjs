// Metrics gateway: the services of a shop POST their metric points to
// /v1/write (JSON); the gateway aggregates them per series and every 10 s of
// production time the exporter serializes the window into InfluxDB line
// protocol, cuts it into batches of 5 lines and POSTs each batch to the
// remote time-series store (RemoteWriteEndpoint, an in-process stand-in with
// a few ms of real latency). Each batch body is one small Buffer
// (Buffer.from of the text, ~700 B, so from Node's shared 8 KiB pool).
//
// Failed batches go onto the exporter's `retryQueue` and are retried with
// backoff; a batch that failed maxAttempts times on a server error is
// dropped. Client errors (4xx) were meant to be rare ("the store refused
// this batch, keep it until the config is fixed and retry it later") and do
// not count as attempts. From the onset the store's write token is rotated
// and the gateway keeps sending the old one: every write gets 401, every
// batch stays in retryQueue forever, retried every 5 minutes.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  every,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x6d657472);
const ONSET_S = onsetSeconds(4500);
const FLUSH_EVERY_S = 10;
const RETRY_TICK_S = 5;
const LINES_PER_BATCH = 5;

// --- the remote time-series store (stand-in) --------------------------------

class RemoteWriteEndpoint {
  constructor(rand) {
    this.rand = rand;
    this.acceptedToken = 'tsdb-write-2024-q1';
    this.rotated = false;
    this.writes = 0;
    this.lines = 0;
    this.rejected = 0;
  }

  /** Rotates the write token (the gateway's copy is never refreshed). */
  rotateToken(now) {
    this.rotated = true;
    this.acceptedToken = `tsdb-write-${Math.floor(now)}`;
  }

  write(token, body) {
    const latency = 2 + this.rand() * 4;
    return new Promise((resolve) => {
      setTimeout(() => {
        this.writes++;
        if (token !== this.acceptedToken) {
          this.rejected++;
          return resolve({ status: 401, message: 'invalid write token' });
        }
        if (this.rand() < 0.004) return resolve({ status: 503, message: 'ingester unavailable' });
        let lines = 1;
        for (let i = 0; i < body.length; i++) if (body[i] === 0x0a) lines++;
        this.lines += lines;
        resolve({ status: 204 });
      }, latency);
    });
  }
}

const remote = new RemoteWriteEndpoint(rng(0x75d8));

// --- aggregation ---------------------------------------------------------------

/** series key -> aggregate of the current window (the series set is bounded by the fleet). */
const windowSeries = new Map();
const counters = { pointsIn: 0, invalid: 0, flushes: 0, batches: 0, exported: 0, dropped: 0, retries: 0 };

function seriesKey(point) {
  let key = point.name;
  for (const name of Object.keys(point.labels).sort()) key += `,${name}=${point.labels[name]}`;
  return key;
}

function aggregate(point) {
  const key = seriesKey(point);
  let series = windowSeries.get(key);
  if (series === undefined) {
    series = { key, kind: point.kind, count: 0, sum: 0, min: Infinity, max: -Infinity, last: 0 };
    windowSeries.set(key, series);
  }
  series.count++;
  series.sum += point.value;
  if (point.value < series.min) series.min = point.value;
  if (point.value > series.max) series.max = point.value;
  series.last = point.value;
}

function escapeTag(value) {
  return String(value).replace(/[ ,=]/g, '\\$&');
}

/** One line of line protocol for a window aggregate. */
function toLine(series, timestampNs) {
  const [name, ...tags] = series.key.split(',');
  const tagText = tags.map((t) => {
    const at = t.indexOf('=');
    return `${t.slice(0, at)}=${escapeTag(t.slice(at + 1))}`;
  });
  const fields =
    series.kind === 'gauge'
      ? `value=${series.last},min=${series.min},max=${series.max}`
      : `count=${series.count}i,sum=${series.sum.toFixed(3)},min=${series.min.toFixed(3)},max=${series.max.toFixed(3)}`;
  return `${[name, ...tagText].join(',')} ${fields} ${timestampNs}`;
}

/** Serializes one batch: the request body sent to the store. */
function encodeBatch(lines) {
  return Buffer.from(lines.join('\n'), 'utf8');
}

// --- the exporter --------------------------------------------------------------

class Exporter {
  constructor(endpoint, options) {
    this.endpoint = endpoint;
    this.options = options;
    this.token = 'tsdb-write-2024-q1'; // read once at start-up
    this.retryQueue = [];
    this.queuedBytes = 0;
    this.seq = 0;
    this.retrying = false;
  }

  async flush(now) {
    if (windowSeries.size === 0) return;
    const timestampNs = `${Math.floor(1_700_000_000 + now)}000000000`;
    const lines = [];
    for (const series of windowSeries.values()) lines.push(toLine(series, timestampNs));
    windowSeries.clear();
    counters.flushes++;
    const sends = [];
    for (let i = 0; i < lines.length; i += LINES_PER_BATCH) {
      const body = encodeBatch(lines.slice(i, i + LINES_PER_BATCH));
      const batch = { id: `b${(++this.seq).toString(36)}`, body, lines: Math.min(LINES_PER_BATCH, lines.length - i), attempts: 0, firstFailedAt: 0, nextAttemptAt: 0, lastStatus: 0 };
      counters.batches++;
      sends.push(this.send(batch, now));
    }
    await Promise.all(sends);
  }

  async send(batch, now) {
    const response = await this.endpoint.write(this.token, batch.body);
    batch.lastStatus = response.status;
    if (response.status < 300) {
      counters.exported += batch.lines;
      return true;
    }
    this.enqueue(batch, now, response.status);
    return false;
  }

  enqueue(batch, now, status) {
    if (batch.attempts === 0 && batch.firstFailedAt === 0) {
      batch.firstFailedAt = now;
      this.retryQueue.push(batch);
      this.queuedBytes += batch.body.length;
    }
    if (status >= 500) {
      batch.attempts++;
      batch.nextAttemptAt = now + Math.min(300, 5 * 2 ** batch.attempts);
    } else {
      // the store refused the batch itself (4xx): not its fault, keep it
      // until the configuration is fixed and try again later.
      batch.nextAttemptAt = now + 300;
    }
  }

  async retryDue(now) {
    if (this.retrying) return;
    this.retrying = true;
    try {
      let budget = 50;
      for (let i = 0; i < this.retryQueue.length && budget > 0; ) {
        const batch = this.retryQueue[i];
        if (batch.nextAttemptAt > now) {
          i++;
          continue;
        }
        budget--;
        counters.retries++;
        const response = await this.endpoint.write(this.token, batch.body);
        batch.lastStatus = response.status;
        if (response.status < 300 || batch.attempts >= this.options.maxAttempts) {
          if (response.status < 300) counters.exported += batch.lines;
          else counters.dropped++;
          this.retryQueue.splice(i, 1);
          this.queuedBytes -= batch.body.length;
          continue;
        }
        this.enqueue(batch, now, response.status);
        i++;
      }
    } finally {
      this.retrying = false;
    }
  }
}

const exporter = new Exporter(remote, { maxAttempts: 6 });

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function validPoint(p) {
  return p !== null && typeof p === 'object' && typeof p.name === 'string' && typeof p.value === 'number' && Number.isFinite(p.value) && typeof p.labels === 'object';
}

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    if (req.method === 'POST' && url === '/v1/write') {
      const body = await readBody(req, 1024 * 1024);
      let payload;
      try {
        payload = JSON.parse(body.toString('utf8'));
      } catch {
        counters.invalid++;
        return sendJson(res, 400, { error: 'invalid JSON' });
      }
      let accepted = 0;
      for (const point of payload.points ?? []) {
        if (!validPoint(point)) {
          counters.invalid++;
          continue;
        }
        aggregate(point);
        accepted++;
      }
      counters.pointsIn += accepted;
      return sendJson(res, 202, { accepted });
    }
    if (req.method === 'GET' && url === '/healthz') {
      return sendJson(res, 200, { ok: true, pendingBatches: exporter.retryQueue.length, lastStatus: exporter.retryQueue.at(-1)?.lastStatus ?? 204 });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the services pushing metrics (the load) -------------------------------

const SERVICES = {
  checkout: ['/v1/cart', '/v1/checkout', '/v1/payment', '/v1/shipping-options'],
  catalog: ['/v1/products', '/v1/products/:id', '/v1/search', '/v1/categories'],
  accounts: ['/v1/login', '/v1/me', '/v1/addresses', '/v1/orders'],
  inventory: ['/v1/stock', '/v1/reservations', '/v1/warehouses', '/v1/transfers'],
};
const INSTANCES = Object.keys(SERVICES).flatMap((service) =>
  [0, 1, 2].map((i) => ({ service, instance: `${service}-${createHash('md5').update(`${service}${i}`).digest('hex').slice(0, 5)}-${i}`, region: i === 2 ? 'eu-central-1' : 'eu-west-1' })),
);

function httpPoint(inst) {
  const routes = SERVICES[inst.service];
  const route = routes[Math.floor(random() ** 1.5 * routes.length)];
  const failed = random() < 0.04;
  return {
    name: 'http_server_duration_ms',
    kind: 'histogram',
    value: Math.round(Math.exp(2.5 + random() * 2) * 100) / 100,
    labels: { service: inst.service, instance: inst.instance, region: inst.region, route, method: route.includes('cart') || route.includes('login') ? 'POST' : 'GET', status_class: failed ? '5xx' : '2xx' },
  };
}

function runtimePoints(inst) {
  const labels = { service: inst.service, instance: inst.instance, region: inst.region, runtime: 'node-20' };
  return [
    { name: 'process_heap_used_bytes', kind: 'gauge', value: Math.round(60e6 + random() * 40e6), labels },
    { name: 'nodejs_eventloop_lag_p99_ms', kind: 'gauge', value: Math.round(random() * 4000) / 100, labels },
  ];
}

function nextWrite() {
  const inst = INSTANCES[Math.floor(random() * INSTANCES.length)];
  const points = [];
  const count = 12 + Math.floor(random() * 12);
  for (let i = 0; i < count; i++) points.push(httpPoint(inst));
  points.push(...runtimePoints(inst));
  return { method: 'POST', path: '/v1/write', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ points }) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

let lastFlush = 0;
let lastRetry = 0;
let rotated = false;
every(Math.max(20, 1000 / speed), () => {
  const now = programSeconds();
  if (!rotated && now >= ONSET_S) {
    rotated = true;
    remote.rotateToken(now);
  }
  if (now - lastFlush >= FLUSH_EVERY_S) {
    lastFlush = now;
    void exporter.flush(now);
  }
  if (now - lastRetry >= RETRY_TICK_S) {
    lastRetry = now;
    void exporter.retryDue(now);
  }
});

// 12 service instances push ~2 writes/s in all; a load balancer checks health every 10 s.
const writers = selfRequests(port, { perSecond: 2, next: nextWrite });
const probes = selfRequests(port, { perSecond: 0.1, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: exporter.retryQueue.length,
  queuedBytes: exporter.queuedBytes,
  batches: counters.batches,
  exportedLines: counters.exported,
  dropped: counters.dropped,
  retries: counters.retries,
  rejected: remote.rejected,
  tokenRotated: rotated ? 1 : 0,
  requestsFailed: writers.failed + probes.failed,
}));

ready(
  `metrics-exporter-rejected-batch-leak: aggregates ~2 writes/s and exports line-protocol batches (Buffer.from, ~700 B) every 10 s; from ${ONSET_S} s the store answers 401 and every batch stays in retryQueue (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
