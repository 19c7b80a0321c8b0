// Order-export worker (healthy, sawtooth).
//
// Every 2 hours the worker builds the finance team's order export: over ~20
// minutes it pages through the orders of the last period (the order database
// is an in-process stand-in that builds real row objects: customer, lines,
// shipping), keeping every row in the job's `rows` array, because the CSV
// needs totals and a sort order over the whole set. Then it renders the rows
// to CSV parts (Buffers of ~2 500 rows each), uploads them one by one to the
// object store (an HTTP endpoint on the same server, which reads and drops the
// bytes), marks the export complete and drops the job. Between exports the
// service only answers a dashboard's light API traffic. Memory climbs by tens
// of MB during each export and comes back to the same level after it.
import {
  buildBallast,
  every,
  listen,
  MiB,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const EXPORT_EVERY_SECONDS = 2 * 3600;
const FIRST_EXPORT_AT_SECONDS = 30 * 60;
const COLLECT_SECONDS = 20 * 60;
const PAGE_SIZE = 500;
const ROWS_PER_EXPORT = 60_000; // ~2 h of orders of a mid-size shop, plus refunds and edits
const PAGE_EVERY_SECONDS = COLLECT_SECONDS / (ROWS_PER_EXPORT / PAGE_SIZE);
const PART_ROWS = 2_500;
const PART_EVERY_SECONDS = 2;
const HISTORY_KEEP = 24;
const API_REQUESTS_PER_SECOND = 0.4;

const random = rng(0xe4907);

// --- Order database stand-in ----------------------------------------------------

const FIRST_NAMES = ['Ada', 'Bruno', 'Chiara', 'Dmitri', 'Elena', 'Farid', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kemal', 'Lena', 'Mateo', 'Nora', 'Oskar', 'Priya'];
const LAST_NAMES = ['Meyer', 'Rossi', 'Novak', 'Garcia', 'Jensen', 'Kowalski', 'Silva', 'Dubois', 'Larsen', 'Horvat', 'Costa', 'Berg', 'Yilmaz', 'Sato'];
const COUNTRIES = ['DE', 'FR', 'IT', 'ES', 'NL', 'PL', 'SE', 'AT', 'BE', 'DK', 'PT', 'IE'];
const STATUSES = ['paid', 'paid', 'paid', 'shipped', 'shipped', 'delivered', 'refunded', 'cancelled'];
const CHANNELS = ['web', 'ios', 'android', 'marketplace'];
const SHIPPING = ['standard', 'express', 'pickup'];

function orderRow(seq, periodStart) {
  const first = FIRST_NAMES[seq % FIRST_NAMES.length];
  const last = LAST_NAMES[(seq >>> 4) % LAST_NAMES.length];
  const customerNumber = 10_000 + Math.floor(random() * 400_000);
  const lineCount = 1 + Math.floor(random() * random() * 4);
  const lines = [];
  let subtotal = 0;
  for (let i = 0; i < lineCount; i++) {
    const unitCents = 199 + Math.floor(random() * 12_000);
    const qty = 1 + Math.floor(random() * random() * 3);
    subtotal += unitCents * qty;
    lines.push({ sku: `SKU-${(20_000 + Math.floor(random() * 9000)).toString(36).toUpperCase()}`, qty, unitCents });
  }
  const shippingMethod = SHIPPING[Math.floor(random() * SHIPPING.length)];
  const shippingCents = shippingMethod === 'pickup' ? 0 : shippingMethod === 'express' ? 990 : 490;
  const taxCents = Math.round(subtotal * 0.19);
  return {
    orderId: `ORD-${(periodStart * 10 + seq).toString(36).toUpperCase()}`,
    placedAt: new Date((1_767_225_600 + periodStart + Math.floor((seq / ROWS_PER_EXPORT) * 7200)) * 1000).toISOString(),
    status: STATUSES[Math.floor(random() * STATUSES.length)],
    channel: CHANNELS[Math.floor(random() * CHANNELS.length)],
    customer: {
      id: `C${customerNumber}`,
      name: `${first} ${last}`,
      email: `${first.toLowerCase()}.${last.toLowerCase()}${customerNumber % 1000}@mail.example`,
      country: COUNTRIES[customerNumber % COUNTRIES.length],
    },
    lines,
    subtotalCents: subtotal,
    taxCents,
    shipping: { method: shippingMethod, cents: shippingCents },
    totalCents: subtotal + taxCents + shippingCents,
    currency: 'EUR',
  };
}

const orderDb = {
  queries: 0,
  // One page of the period's orders, as the driver would hand them over.
  fetchOrders(periodStart, cursor, limit) {
    this.queries++;
    const rows = [];
    const end = Math.min(ROWS_PER_EXPORT, cursor + limit);
    for (let seq = cursor; seq < end; seq++) rows.push(orderRow(seq, periodStart));
    return { rows, nextCursor: end < ROWS_PER_EXPORT ? end : null };
  },
};

// --- Export jobs -----------------------------------------------------------------

function csvField(value) {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvLine(row) {
  return [
    row.orderId,
    row.placedAt,
    row.status,
    row.channel,
    row.customer.id,
    csvField(row.customer.name),
    row.customer.email,
    row.customer.country,
    row.lines.map((l) => `${l.sku}x${l.qty}`).join(' '),
    (row.subtotalCents / 100).toFixed(2),
    (row.taxCents / 100).toFixed(2),
    row.shipping.method,
    (row.totalCents / 100).toFixed(2),
    row.currency,
  ].join(',');
}

const CSV_HEADER = 'order_id,placed_at,status,channel,customer_id,customer_name,email,country,lines,subtotal,tax,shipping,total,currency\n';

class ExportJob {
  constructor(id, periodStart, startedAt) {
    this.id = id;
    this.periodStart = periodStart;
    this.startedAt = startedAt;
    this.state = 'collecting';
    this.rows = [];
    this.cursor = 0;
    this.nextPageAt = startedAt;
    this.parts = 0;
    this.partsAcked = 0;
    this.nextPartAt = 0;
    this.renderIndex = 0;
    this.bytes = 0;
    this.totals = { orders: 0, revenueCents: 0, refundedCents: 0 };
  }

  collectPage() {
    const page = orderDb.fetchOrders(this.periodStart, this.cursor, PAGE_SIZE);
    for (const row of page.rows) {
      this.rows.push(row);
      this.totals.orders++;
      if (row.status === 'refunded') this.totals.refundedCents += row.totalCents;
      else this.totals.revenueCents += row.totalCents;
    }
    this.cursor = page.nextCursor;
    return page.nextCursor === null;
  }

  startUpload(now) {
    // finance wants the file ordered by country, then time
    this.rows.sort((a, b) => (a.customer.country < b.customer.country ? -1 : a.customer.country > b.customer.country ? 1 : 0) || (a.placedAt < b.placedAt ? -1 : 1));
    this.state = 'uploading';
    this.nextPartAt = now;
  }

  renderPart() {
    const end = Math.min(this.rows.length, this.renderIndex + PART_ROWS);
    let text = this.renderIndex === 0 ? CSV_HEADER : '';
    for (let i = this.renderIndex; i < end; i++) text += csvLine(this.rows[i]) + '\n';
    this.renderIndex = end;
    const part = Buffer.from(text, 'utf8');
    this.bytes += part.length;
    this.parts++;
    return part;
  }
}

let currentJob = null;
let nextExportAt = FIRST_EXPORT_AT_SECONDS;
let exportsStarted = 0;
const exportHistory = []; // summaries of the last HISTORY_KEEP exports
const uploadQueue = []; // requests for the object store, sent by the HTTP client

function stepExports() {
  const now = programSeconds();
  if (currentJob === null && now >= nextExportAt) {
    exportsStarted++;
    currentJob = new ExportJob(`exp-${exportsStarted}-${Math.floor(nextExportAt)}`, Math.floor(nextExportAt) - 7200, now);
    nextExportAt += EXPORT_EVERY_SECONDS;
  }
  const job = currentJob;
  if (job === null) return;
  if (job.state === 'collecting') {
    while (job.nextPageAt <= now) {
      job.nextPageAt += PAGE_EVERY_SECONDS;
      if (job.collectPage()) {
        job.startUpload(now);
        break;
      }
    }
  }
  if (job.state === 'uploading') {
    while (job.nextPartAt <= now && job.renderIndex < job.rows.length) {
      job.nextPartAt += PART_EVERY_SECONDS;
      const body = job.renderPart();
      uploadQueue.push({
        method: 'PUT',
        path: `/internal/storage/exports/${job.id}/parts/${job.parts}`,
        headers: { 'content-type': 'text/csv' },
        body,
      });
    }
    if (job.renderIndex >= job.rows.length) job.state = 'sending';
  }
  if (job.state === 'sending' && job.partsAcked === job.parts) {
    uploadQueue.push({ method: 'POST', path: `/internal/storage/exports/${job.id}/complete`, headers: {}, body: JSON.stringify({ parts: job.parts, bytes: job.bytes }) });
    job.state = 'completing';
  }
}

function finishJob(job) {
  exportHistory.push({
    id: job.id,
    startedAt: job.startedAt,
    finishedAt: programSeconds(),
    rows: job.rows.length,
    parts: job.parts,
    bytes: job.bytes,
    totals: job.totals,
  });
  if (exportHistory.length > HISTORY_KEEP) exportHistory.shift();
  job.rows = [];
  job.state = 'done';
  currentJob = null;
}

// --- HTTP ------------------------------------------------------------------------

const storage = { parts: 0, bytes: 0, completed: 0 };

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const { port } = await listen(async (req, res) => {
  const path = req.url.split('?')[0];
  if (path.startsWith('/internal/storage/')) {
    // object store stand-in: read the bytes, checksum, drop them
    const body = await readBody(req, 64 * MiB);
    let sum = 0;
    for (let i = 0; i < body.length; i += 64) sum = (sum + body[i]) & 0xffff;
    if (path.endsWith('/complete')) storage.completed++;
    else {
      storage.parts++;
      storage.bytes += body.length;
    }
    return sendJson(res, 200, { etag: `"${sum.toString(16)}-${body.length}"` });
  }
  if (path === '/v1/exports') return sendJson(res, 200, { exports: exportHistory.slice(-10) });
  if (path === '/v1/exports/current') {
    const job = currentJob;
    return sendJson(res, 200, job === null ? { running: false, nextExportAt } : { running: true, id: job.id, state: job.state, rows: job.rows.length, parts: job.parts });
  }
  if (path === '/v1/health') return sendJson(res, 200, { ok: true, uptime: programSeconds() });
  if (path.startsWith('/v1/orders/')) {
    const seq = Number(path.slice('/v1/orders/'.length)) % ROWS_PER_EXPORT;
    return sendJson(res, 200, orderRow(seq, 0));
  }
  sendJson(res, 404, { error: 'no route' });
});

// --- Dashboard traffic and the upload client -------------------------------------

let apiDue = 0;
let lastStep = programSeconds();

function nextRequest() {
  if (uploadQueue.length > 0) return uploadQueue.shift();
  if (apiDue < 1) return null;
  apiDue--;
  const r = random();
  if (r < 0.45) return { method: 'GET', path: '/v1/exports/current' };
  if (r < 0.7) return { method: 'GET', path: '/v1/exports' };
  if (r < 0.85) return { method: 'GET', path: '/v1/health' };
  return { method: 'GET', path: `/v1/orders/${Math.floor(random() * 1e6)}` };
}

function onResponse(status, text, request) {
  const job = currentJob;
  if (job === null || !request.path.startsWith('/internal/storage/')) return;
  if (request.path.endsWith('/complete')) finishJob(job);
  else if (status === 200) job.partsAcked++;
}

const ballastMb = buildBallast();

const client = selfRequests(port, { perSecond: 20, next: nextRequest, maxInFlight: 8, onResponse });

every(Math.max(10, 1000 / speed), () => {
  const now = programSeconds();
  const dt = now - lastStep;
  lastStep = now;
  // dashboard polls: Poisson-ish, API_REQUESTS_PER_SECOND on average
  apiDue += dt * API_REQUESTS_PER_SECOND * (0.5 + random());
  stepExports();
});

reportStats(() => ({
  retained: currentJob === null ? 0 : currentJob.rows.length,
  exportState: currentJob === null ? 'idle' : currentJob.state,
  exportsStarted,
  exportsDone: exportHistory.length,
  partsStored: storage.parts,
  storedBytes: storage.bytes,
  requests: client.completed,
  failed: client.failed,
}));

ready(
  `report-export-cycles: order-export worker on 127.0.0.1:${port}, an export of ${ROWS_PER_EXPORT} rows every ${EXPORT_EVERY_SECONDS} s (first at ${FIRST_EXPORT_AT_SECONDS} s, collected over ${COLLECT_SECONDS} s), speed ${speed}` +
    (ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''),
);
