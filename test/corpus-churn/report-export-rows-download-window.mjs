// Report-export service of a B2B commerce platform.
//
// A user asks for an export (orders, order lines, refunds, payouts, for a
// date range); the service pages the rows out of the warehouse (a stand-in,
// 0.5-2 s of production time per page), maps every record to a row object and
// keeps the export job, rows and all, in the module-level Map `exportJobs`
// while the client downloads it as CSV parts (GET /v1/exports/:id/parts/:n,
// 5 000 rows each; BI tools and browsers fetch the parts over a few minutes,
// some twice). The download link is valid for 5-30 minutes after the export
// is ready (the tenant's setting); a sweeper deletes expired jobs every
// minute. Tens of thousands of rows per export, ~18 exports an hour, so a
// handful of jobs are held at a time; nothing stays.
import {
  buildBallast,
  envNumber,
  every,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xe4907);

/** Runs `fn` every `seconds` of production time. */
function everyProduction(seconds, fn) {
  return every((seconds * 1000) / speed, fn);
}

const PAGE_ROWS = 2000;
const PART_ROWS = 5000;

// --- the warehouse stand-in ---------------------------------------------------------------------------

const CUSTOMERS = Array.from({ length: 400 }, (_, i) => ({ id: `C${String(10_000 + i * 37)}`, name: `${['Nordic', 'Alpine', 'Coastal', 'Urban', 'Prime', 'Metro'][i % 6]} ${['Supply', 'Retail', 'Foods', 'Hardware', 'Office', 'Pharma', 'Textiles'][i % 7]} ${['GmbH', 'Ltd', 'BV', 'SAS', 'AB'][i % 5]}` }));
const SKUS = Array.from({ length: 2000 }, (_, i) => `SKU-${(40_000 + i * 13).toString(36).toUpperCase()}`);
const REGIONS = ['DE', 'FR', 'NL', 'SE', 'UK', 'ES', 'IT', 'PL'];
const STATUSES = ['paid', 'paid', 'paid', 'shipped', 'shipped', 'delivered', 'refunded', 'cancelled'];
const CURRENCIES = { DE: 'EUR', FR: 'EUR', NL: 'EUR', SE: 'SEK', UK: 'GBP', ES: 'EUR', IT: 'EUR', PL: 'PLN' };

/** One page of warehouse records (arrays, as the warehouse driver returns them). */
function queryWarehouse(job, page) {
  return new Promise((resolve) => {
    setTimeout(() => {
      const first = page * PAGE_ROWS;
      const count = Math.min(PAGE_ROWS, job.rowCount - first);
      const records = new Array(count);
      const base = job.seed * 1_000_003;
      for (let i = 0; i < count; i++) {
        const n = base + first + i;
        const region = REGIONS[n % REGIONS.length];
        records[i] = [n, job.fromMs + (first + i) * 47_000, CUSTOMERS[(n * 7) % CUSTOMERS.length], SKUS[(n * 31) % SKUS.length], 1 + (n % 12), 199 + ((n * 7919) % 45_000), region, STATUSES[(n * 3) % STATUSES.length]];
      }
      resolve(records);
    }, ((0.5 + random() * 1.5) * 1000) / speed); // 0.5-2 s of production time per page
  });
}

// --- exports ------------------------------------------------------------------------------------------

class ExportJob {
  constructor(id, request, now) {
    this.id = id;
    this.tenant = request.tenant;
    this.report = request.report;
    this.from = request.from;
    this.to = request.to;
    this.fromMs = Date.parse(request.from);
    this.seed = Math.floor(random() * 1e6);
    this.rowCount = request.estimatedRows;
    this.rows = [];
    this.status = 'running';
    this.createdAt = now;
    this.readyAt = null;
    this.expiresAt = null;
    this.linkTtlS = request.linkTtlS;
    this.downloads = 0;
  }
}

/** Export jobs by id, from request until the download link expires. */
const exportJobs = new Map();
const counters = { requested: 0, ready: 0, expired: 0, partsServed: 0, bytesServed: 0, rowsGenerated: 0 };
let exportSeq = 0;

function toRow(record) {
  const quantity = record[4];
  const unitCents = record[5];
  return {
    orderId: `SO-${record[0].toString(36).toUpperCase()}`,
    placedAt: record[1],
    customerId: record[2].id,
    customerName: record[2].name,
    sku: record[3],
    quantity,
    unitPriceCents: unitCents,
    totalCents: quantity * unitCents,
    region: record[6],
    currency: CURRENCIES[record[6]],
    status: record[7],
  };
}

async function generateExport(job) {
  const pages = Math.ceil(job.rowCount / PAGE_ROWS);
  for (let page = 0; page < pages; page++) {
    const records = await queryWarehouse(job, page);
    for (const record of records) job.rows.push(toRow(record));
    counters.rowsGenerated += records.length;
  }
  job.status = 'ready';
  job.readyAt = programSeconds();
  job.expiresAt = job.readyAt + job.linkTtlS;
  counters.ready++;
}

function deleteExpiredExports(now) {
  for (const job of exportJobs.values()) {
    if (job.expiresAt !== null && now >= job.expiresAt) {
      exportJobs.delete(job.id);
      counters.expired++;
    }
  }
}

everyProduction(60, () => deleteExpiredExports(programSeconds()));

function csvField(value) {
  return typeof value === 'string' && (value.includes(',') || value.includes('"')) ? `"${value.replaceAll('"', '""')}"` : String(value);
}

function toCsvLine(row) {
  return `${row.orderId},${new Date(row.placedAt).toISOString()},${row.customerId},${csvField(row.customerName)},${row.sku},${row.quantity},${(row.unitPriceCents / 100).toFixed(2)},${(row.totalCents / 100).toFixed(2)},${row.currency},${row.region},${row.status}\n`;
}

const CSV_HEADER = 'order_id,placed_at,customer_id,customer_name,sku,quantity,unit_price,total,currency,region,status\n';

// --- HTTP ---------------------------------------------------------------------------------------------

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
        resolve(JSON.parse(text));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

async function handle(req, res) {
  const now = programSeconds();
  const parts = (req.url ?? '/').split('?')[0].split('/');
  if (parts[1] === 'healthz') return sendJson(res, 200, { ok: true, exports: exportJobs.size });
  if (parts[1] !== 'v1' || parts[2] !== 'exports') return sendJson(res, 404, { error: 'not found' });
  if (parts.length === 3 && req.method === 'POST') {
    const request = await readJson(req);
    exportSeq++;
    const job = new ExportJob(`exp_${exportSeq.toString(36)}_${request.tenant}`, request, now);
    exportJobs.set(job.id, job);
    counters.requested++;
    generateExport(job).catch(() => {
      job.status = 'failed';
      job.expiresAt = now;
    });
    return sendJson(res, 202, { id: job.id, status: job.status });
  }
  const job = exportJobs.get(parts[3]);
  if (job === undefined) return sendJson(res, 410, { error: 'export expired or unknown' });
  if (parts.length === 4 && req.method === 'GET') {
    return sendJson(res, 200, { id: job.id, status: job.status, rows: job.rows.length, parts: Math.ceil(job.rowCount / PART_ROWS), expiresAt: job.expiresAt });
  }
  if (parts.length === 6 && parts[4] === 'parts' && req.method === 'GET') {
    if (job.status !== 'ready') return sendJson(res, 409, { error: `export is ${job.status}` });
    const part = Number(parts[5]);
    const rows = job.rows.slice(part * PART_ROWS, (part + 1) * PART_ROWS);
    let csv = part === 0 ? CSV_HEADER : '';
    for (const row of rows) csv += toCsvLine(row);
    if (part === 0) job.downloads++;
    counters.partsServed++;
    counters.bytesServed += csv.length;
    res.writeHead(200, { 'content-type': 'text/csv', 'content-length': Buffer.byteLength(csv) });
    return res.end(csv);
  }
  sendJson(res, 405, { error: 'method not allowed' });
}

function handler(req, res) {
  handle(req, res).catch((error) => {
    if (!res.headersSent) sendJson(res, 500, { error: String(error) });
  });
}

// --- the clients: users and BI tools ----------------------------------------------------------------

/** Actions of the simulated clients ordered by production time (a binary heap). */
class Agenda {
  constructor() {
    this.items = [];
  }

  get size() {
    return this.items.length;
  }

  peekAt() {
    return this.items[0].at;
  }

  push(at, action) {
    const items = this.items;
    items.push({ at, action });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].at <= items[i].at) break;
      [items[parent], items[i]] = [items[i], items[parent]];
      i = parent;
    }
  }

  pop() {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && items[l].at < items[m].at) m = l;
        if (r < items.length && items[r].at < items[m].at) m = r;
        if (m === i) break;
        [items[m], items[i]] = [items[i], items[m]];
        i = m;
      }
    }
    return top.action;
  }
}

const EXPORTS_PER_HOUR = envNumber('EXPORTS_PER_HOUR', 18, (v) => v > 0);
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'tyrell', 'soylent', 'wonka'];
const REPORTS = ['orders', 'order-lines', 'refunds', 'payouts'];
const LINK_TTLS_S = [5 * 60, 10 * 60, 15 * 60, 30 * 60];

const agenda = new Agenda();
const clientStats = { exports: 0, polls: 0, parts: 0, redownloads: 0, gone: 0 };

function newClientExport() {
  clientStats.exports++;
  const month = 1 + Math.floor(random() * 12);
  return {
    id: null,
    tenant: TENANTS[Math.floor(random() * TENANTS.length)],
    report: REPORTS[Math.floor(random() * REPORTS.length)],
    from: `2023-${String(month).padStart(2, '0')}-01T00:00:00Z`,
    to: `2023-${String(month).padStart(2, '0')}-28T23:59:59Z`,
    // tens of thousands of rows: log-uniform 10 000-80 000
    estimatedRows: Math.round(10_000 * Math.exp(random() * Math.log(8))),
    linkTtlS: LINK_TTLS_S[Math.floor(random() * LINK_TTLS_S.length)],
    parts: 0,
    part: 0,
    // the client fetches the parts this many seconds apart (a browser right away, a BI tool slowly)
    partGapS: random() < 0.5 ? 2 + random() * 5 : 20 + random() * 60,
    rounds: random() < 0.25 ? 2 : 1,
  };
}

function perform(action, now) {
  if (action.kind === 'request') {
    agenda.push(now + -Math.log(1 - random()) * (3600 / EXPORTS_PER_HOUR), { kind: 'request' });
    const e = newClientExport();
    const body = { tenant: e.tenant, report: e.report, from: e.from, to: e.to, estimatedRows: e.estimatedRows, linkTtlS: e.linkTtlS };
    return { method: 'POST', path: '/v1/exports', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), exp: e };
  }
  const e = action.exp;
  if (action.kind === 'poll') {
    clientStats.polls++;
    return { method: 'GET', path: `/v1/exports/${e.id}`, exp: e, poll: true };
  }
  clientStats.parts++;
  return { method: 'GET', path: `/v1/exports/${e.id}/parts/${e.part}`, exp: e };
}

function nextRequest() {
  const now = programSeconds();
  while (agenda.size > 0 && agenda.peekAt() <= now) {
    const request = perform(agenda.pop(), now);
    if (request !== null) return request;
  }
  return null;
}

function onResponse(status, text, request) {
  const e = request.exp;
  if (e === undefined) return;
  const now = programSeconds();
  if (request.method === 'POST') {
    if (status !== 202) return;
    e.id = JSON.parse(text).id;
    agenda.push(now + 10, { kind: 'poll', exp: e });
    return;
  }
  if (status === 410) {
    clientStats.gone++;
    return;
  }
  if (request.poll === true) {
    const view = JSON.parse(text);
    if (view.status === 'ready') {
      e.parts = view.parts;
      e.part = 0;
      agenda.push(now + 1 + random() * 30, { kind: 'part', exp: e });
    } else if (view.status === 'running') {
      agenda.push(now + 10, { kind: 'poll', exp: e });
    }
    return;
  }
  // a part arrived
  e.part++;
  if (e.part < e.parts) {
    agenda.push(now + e.partGapS * (0.5 + random()), { kind: 'part', exp: e });
  } else if (--e.rounds > 0) {
    // someone else on the team opens the same link a few minutes later
    clientStats.redownloads++;
    e.part = 0;
    agenda.push(now + 60 + random() * 240, { kind: 'part', exp: e });
  }
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

agenda.push(0, { kind: 'request' });
const clients = selfRequests(port, { perSecond: 4, maxInFlight: 16, next: nextRequest, onResponse });

reportStats(() => {
  let rowsHeld = 0;
  let generating = 0;
  for (const job of exportJobs.values()) {
    rowsHeld += job.rows.length;
    if (job.status === 'running') generating++;
  }
  return {
    retained: exportJobs.size,
    generating,
    rowsHeld,
    requested: counters.requested,
    ready: counters.ready,
    expired: counters.expired,
    partsServed: counters.partsServed,
    redownloads: clientStats.redownloads,
    gone: clientStats.gone,
    requestsFailed: clients.failed,
  };
});

ready(
  `report-export-rows-download-window: exports of 10 000-80 000 row objects held in a Map until the download link expires 5-30 min after they are ready, ~${EXPORTS_PER_HOUR}/h (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
