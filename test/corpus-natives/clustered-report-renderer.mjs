// Reporting API of a marketplace's seller back office. Sellers download big
// reports (GET /v1/reports/:kind?format=csv|json): order lines, payouts,
// inventory movements. A report is assembled from the warehouse's query
// API page by page (a stand-in answering 5 000 rows a page with 4-8 s of
// production-time latency) into an array of row objects, then rendered to
// CSV or JSON text in one go and sent; the rows and the text go when the
// response has been written. Requests come in clusters: a seller-side
// export tool or a finance team asks for 2-5 reports within a couple of
// minutes, then nothing for half an hour to over an hour. Each report
// holds tens of MB for a minute or two.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x2e907);

const KINDS = ['order-lines', 'payouts', 'inventory-movements'];
const PAGE_ROWS = 5000;
const SKUS = ['garden-hose-25m', 'espresso-cup-set', 'led-desk-lamp', 'usb-c-hub-7', 'yoga-mat-pro', 'kids-rain-boots', 'cast-iron-pan-28'];
const STATUSES = ['delivered', 'shipped', 'returned', 'cancelled', 'refunded'];

// --- warehouse query API (stand-in) ---------------------------------------------------------

function warehouseRow(kind, seller, i) {
  const n = (seller * 2_654_435 + i * 40_503) >>> 0;
  return {
    id: `${kind.slice(0, 3)}-${seller}-${i.toString(36).padStart(6, '0')}`,
    orderId: `ORD-${(n % 9_000_000).toString(36).toUpperCase()}`,
    sku: SKUS[n % SKUS.length],
    title: `${SKUS[n % SKUS.length].replace(/-/g, ' ')} variant ${n % 13}`,
    quantity: 1 + (n % 5),
    unitPriceMinor: 199 + (n % 25_000),
    feeMinor: 20 + (n % 900),
    currency: n % 4 === 0 ? 'GBP' : 'EUR',
    status: STATUSES[n % STATUSES.length],
    createdAt: new Date(Date.UTC(2024, 4, 1) + (n % 2_600_000) * 1000).toISOString(),
    buyerCountry: ['DE', 'FR', 'NL', 'GB', 'IT', 'ES'][n % 6],
  };
}

/** One page of a report's query, after the warehouse's latency. */
function queryPage(kind, seller, page, total) {
  const latency = (4000 + random() * 4000) / speed;
  return new Promise((resolve) => {
    setTimeout(() => {
      const rows = [];
      const end = Math.min(total, (page + 1) * PAGE_ROWS);
      for (let i = page * PAGE_ROWS; i < end; i++) rows.push(warehouseRow(kind, seller, i));
      resolve(rows);
    }, latency);
  });
}

// --- reports ------------------------------------------------------------------------------

const COLUMNS = ['id', 'orderId', 'sku', 'title', 'quantity', 'unitPriceMinor', 'feeMinor', 'currency', 'status', 'createdAt', 'buyerCountry'];

function csvCell(value) {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function renderCsv(rows) {
  const lines = [COLUMNS.join(',')];
  for (const row of rows) lines.push(COLUMNS.map((c) => csvCell(row[c])).join(','));
  return lines.join('\n');
}

function renderJson(report, rows) {
  return JSON.stringify({ kind: report.kind, seller: report.seller, generatedAt: new Date().toISOString(), rowCount: rows.length, rows });
}

/** Reports being built, by id. */
const building = new Map();
const counters = { requested: 0, completed: 0, bytesSent: 0, maxBuilding: 0 };

class ReportBuild {
  constructor(kind, seller, format) {
    counters.requested++;
    this.id = `rep_${counters.requested}`;
    this.kind = kind;
    this.seller = seller;
    this.format = format;
    this.total = 40_000 + Math.floor(random() * 50_000);
    this.rows = [];
    this.startedAt = programSeconds();
  }

  async run() {
    building.set(this.id, this);
    if (building.size > counters.maxBuilding) counters.maxBuilding = building.size;
    try {
      const pages = Math.ceil(this.total / PAGE_ROWS);
      for (let page = 0; page < pages; page++) {
        for (const row of await queryPage(this.kind, this.seller, page, this.total)) this.rows.push(row);
      }
      return this.format === 'csv' ? renderCsv(this.rows) : renderJson(this, this.rows);
    } finally {
      building.delete(this.id);
    }
  }
}

// --- HTTP -------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://reports.local');
  const parts = url.pathname.split('/');
  if (parts[1] === 'v1' && parts[2] === 'reports' && KINDS.includes(parts[3])) {
    const format = url.searchParams.get('format') === 'json' ? 'json' : 'csv';
    const build = new ReportBuild(parts[3], Number(url.searchParams.get('seller') ?? 1), format);
    const body = await build.run();
    res.writeHead(200, { 'content-type': format === 'csv' ? 'text/csv' : 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    counters.completed++;
    counters.bytesSent += body.length;
    return;
  }
  if (url.pathname === '/v1/reports') return sendJson(res, 200, [...building.values()].map((b) => ({ id: b.id, kind: b.kind, rows: b.rows.length, of: b.total })));
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: clusters of report requests ---------------------------------------------------

const queue = [];
let clusters = 0;
let nextClusterAt = 15 * 60;

function clusterTick() {
  const now = programSeconds();
  if (now < nextClusterAt) return;
  clusters++;
  const seller = 1000 + Math.floor(random() * 9000);
  const count = 2 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) {
    queue.push({ method: 'GET', path: `/v1/reports/${KINDS[Math.floor(random() * KINDS.length)]}?seller=${seller}&format=${random() < 0.7 ? 'csv' : 'json'}` });
  }
  nextClusterAt = now + (30 + random() * 45) * 60;
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

every(5000 / speed, clusterTick);
// The clients of a cluster ask within a minute or two (one request per ~30 s).
const exporters = selfRequests(port, { perSecond: 1 / 30, maxInFlight: 8, next: () => queue.shift() ?? null });
const pollers = selfRequests(port, { perSecond: 0.3, maxInFlight: 4, next: () => ({ method: 'GET', path: random() < 0.6 ? '/v1/reports' : '/healthz' }) });

reportStats(() => {
  let rows = 0;
  for (const build of building.values()) rows += build.rows.length;
  return {
    retained: rows,
    building: building.size,
    queued: queue.length,
    clusters,
    reportsRequested: counters.requested,
    reportsCompleted: counters.completed,
    maxBuilding: counters.maxBuilding,
    bytesSent: counters.bytesSent,
    requestsFailed: exporters.failed + pollers.failed,
  };
});

ready(`clustered-report-renderer: clusters of 2-5 reports (40 000-90 000 rows, CSV/JSON) every 30-75 min from 15 min, each held 1-2 min (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
