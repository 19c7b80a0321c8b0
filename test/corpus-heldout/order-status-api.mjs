// Order-status API (healthy): GET /v1/orders/:id/status for the shop's "where
// is my order" page and the B2B customers' integrations. Each request asks
// the fulfilment system (legacy ERP) for the order document, then the
// carrier's tracking API for its parcels, and renders a status summary. Both
// downstreams are slow, 1–2 s per call at speed 1 (simulated with timers as a
// stand-in for the network I/O: the answer is built when the call is made and
// handed over when the timer fires); the service itself does little CPU work,
// its event loop is idle most of the time.
//
// While a request waits it holds its context, the order document (text, then
// parsed: 30–150 lines for B2B orders) and the tracking events, ~50 KB on
// average (measured after GC). Nothing outlives the request: no cache, no
// history. So the heap above the baseline follows the requests in flight,
// i.e. the traffic:
//   3 req/s (speed 1), tripled to 9 req/s during a 90-min lunch peak every
//   6 h (the first from 40 to 130 min, with 10-min ramps), ~3 s per request
//   → ~9 requests in flight normally, ~27 during the peak, and back to ~9
//   after it.
// At SCENARIO_SPEED=60 the peak runs from 40 s to 130 s (wall) and repeats
// every 6 min. SCENARIO_CLOCK_MIN (this program only, default 0) starts the
// 6-hour cycle that many minutes in (e.g. 100: the peak is on at start and
// ends at simT 1 800).
// stats: retained = requests in flight (each holding its order and tracking data).
import { buildBallast, envNumber, listen, programSeconds, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const BASE_PER_SECOND = 3;
const PEAK_FACTOR = 3;
const PERIOD_SECONDS = 6 * 3600;
const PEAK_START_SECONDS = 40 * 60;
const PEAK_SECONDS = 90 * 60;
const RAMP_SECONDS = 10 * 60;
const DOWNSTREAM_MIN_SECONDS = 1;
const DOWNSTREAM_MAX_SECONDS = 2;
const CLOCK_OFFSET_SECONDS = envNumber('SCENARIO_CLOCK_MIN', 0) * 60;

const stats = { inFlight: 0, ok: 0, notFound: 0, failed: 0, downstreamCalls: 0 };

// --- downstreams (timers standing in for the network) -------------------------------
const latencyRandom = rng(7101);
function downstreamDelayMs() {
  return scaledMs(DOWNSTREAM_MIN_SECONDS + latencyRandom() * (DOWNSTREAM_MAX_SECONDS - DOWNSTREAM_MIN_SECONDS));
}

function callDownstream(buildAnswer) {
  stats.downstreamCalls++;
  const answer = buildAnswer();
  return new Promise((resolve) => setTimeout(resolve, downstreamDelayMs(), answer));
}

const WAREHOUSES = ['DE-LEJ', 'DE-HAM', 'DE-MUC', 'PL-POZ', 'NL-VNL', 'CZ-PRG'];
const CARRIERS = ['DHL', 'DPD', 'UPS', 'GLS', 'Hermes'];
const STATES = ['label created', 'handed over', 'in transit', 'arrived at hub', 'sorted', 'out for delivery', 'delivered'];
const PRODUCTS = ['Cordless drill 18V', 'Safety gloves (pair)', 'Hex bit set 32 pcs', 'Pallet wrap 500 m', 'Cable ties 200 pcs', 'LED work light', 'Angle grinder 125 mm', 'Ear defenders', 'Tape measure 8 m', 'Box cutter'];

function seeded(orderId) {
  let seed = 0;
  for (let i = 0; i < orderId.length; i++) seed = (seed * 31 + orderId.charCodeAt(i)) | 0;
  return rng(seed);
}

// What the ERP answers: the whole order document, as text.
function orderDocument(orderId) {
  const random = seeded(orderId);
  const lineCount = 30 + Math.floor(random() * 121);
  const lines = [];
  for (let i = 0; i < lineCount; i++) {
    lines.push({
      lineNo: i + 1,
      sku: `SKU-${Math.floor(random() * 900000 + 100000)}`,
      description: `${PRODUCTS[Math.floor(random() * PRODUCTS.length)]} — customer ref ${orderId}/${i + 1}`,
      quantity: 1 + Math.floor(random() * 40),
      unitPriceCents: 99 + Math.floor(random() * 25000),
      taxRate: 0.19,
      warehouse: WAREHOUSES[Math.floor(random() * WAREHOUSES.length)],
      status: random() < 0.8 ? 'picked' : 'backordered',
      shipmentNo: 1 + (i % 3),
      notes: random() < 0.3 ? `Deliver to gate ${1 + Math.floor(random() * 9)}, call ahead` : '',
    });
  }
  const shipments = [];
  for (let s = 1; s <= 3; s++) shipments.push({ shipmentNo: s, carrier: CARRIERS[Math.floor(random() * CARRIERS.length)], trackingNumber: `${Math.floor(random() * 1e12)}`.padStart(12, '0'), warehouse: WAREHOUSES[s % WAREHOUSES.length] });
  return JSON.stringify({
    orderId,
    customer: { id: `C-${Math.floor(random() * 50000)}`, name: `Customer ${Math.floor(random() * 50000)} GmbH`, vatId: `DE${Math.floor(random() * 1e9)}` },
    placedAt: new Date(Date.now() - Math.floor(random() * 7 * 86400_000)).toISOString(),
    billingAddress: { street: 'Industriestraße 12', zip: '04109', city: 'Leipzig', country: 'DE' },
    shippingAddress: { street: `Lagerweg ${1 + Math.floor(random() * 200)}`, zip: '20095', city: 'Hamburg', country: 'DE' },
    lines,
    shipments,
  });
}

// What the carrier answers: the scan events of each parcel, as text.
function trackingDocument(trackingNumbers) {
  const random = seeded(trackingNumbers[0]);
  const parcels = trackingNumbers.map((trackingNumber) => {
    const events = [];
    const scans = 4 + Math.floor(random() * 20);
    for (let i = 0; i < scans; i++) {
      events.push({ at: new Date(Date.now() - (scans - i) * 3_600_000).toISOString(), state: STATES[Math.min(i, STATES.length - 1)], location: `${WAREHOUSES[i % WAREHOUSES.length]} depot ${i}`, detail: `Scan ${i + 1} of parcel ${trackingNumber}` });
    }
    return { trackingNumber, events };
  });
  return JSON.stringify({ parcels });
}

function fetchOrder(orderId) {
  return callDownstream(() => orderDocument(orderId));
}

function fetchTracking(trackingNumbers) {
  return callDownstream(() => trackingDocument(trackingNumbers));
}

// --- the API ------------------------------------------------------------------------
function lineTotal(line) {
  return line.quantity * line.unitPriceCents;
}

function renderStatus(order, tracking, ctx) {
  let totalCents = 0;
  let backordered = 0;
  for (const line of order.lines) {
    totalCents += lineTotal(line);
    if (line.status === 'backordered') backordered++;
  }
  const parcels = tracking.parcels.map((p, i) => {
    const last = p.events.at(-1);
    return { shipmentNo: order.shipments[i].shipmentNo, carrier: order.shipments[i].carrier, trackingNumber: p.trackingNumber, state: last.state, lastScanAt: last.at, location: last.location };
  });
  return JSON.stringify({ orderId: order.orderId, requestId: ctx.requestId, lines: order.lines.length, backordered, totalCents, currency: 'EUR', parcels, tookMs: Math.round(performance.now() - ctx.startedAt) });
}

async function orderStatus(orderId, ctx) {
  const orderText = await fetchOrder(orderId);
  const order = JSON.parse(orderText);
  ctx.spans.push({ name: 'erp.getOrder', bytes: orderText.length, at: performance.now() });
  const trackingText = await fetchTracking(order.shipments.map((s) => s.trackingNumber));
  const tracking = JSON.parse(trackingText);
  ctx.spans.push({ name: 'carrier.track', bytes: trackingText.length, at: performance.now() });
  return renderStatus(order, tracking, ctx);
}

const ballastMB = buildBallast();
let requestSeq = 0;
const { port } = await listen(async (req, res) => {
  const match = /^\/v1\/orders\/([\w-]+)\/status$/.exec(req.url);
  if (match === null) {
    stats.notFound++;
    return res.writeHead(404).end();
  }
  const ctx = { requestId: `req-${(++requestSeq).toString(36)}`, startedAt: performance.now(), user: req.headers['x-customer'], spans: [] };
  stats.inFlight++;
  try {
    const body = await orderStatus(match[1], ctx);
    stats.ok++;
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': ctx.requestId }).end(body);
  } catch {
    stats.failed++;
    res.writeHead(502).end();
  } finally {
    stats.inFlight--;
  }
});

// --- traffic -------------------------------------------------------------------------
function peakLevel() {
  const t = (CLOCK_OFFSET_SECONDS + programSeconds()) % PERIOD_SECONDS - PEAK_START_SECONDS;
  if (t < 0 || t >= PEAK_SECONDS) return 0;
  return Math.min(1, t / RAMP_SECONDS, (PEAK_SECONDS - t) / RAMP_SECONDS);
}

function loadNow() {
  return BASE_PER_SECOND * (1 + (PEAK_FACTOR - 1) * peakLevel());
}

const random = rng(7102);
selfRequests(port, {
  perSecond: loadNow,
  maxInFlight: 128,
  next: () => ({ path: `/v1/orders/ORD-${100000 + Math.floor(random() * 800000)}/status`, headers: { 'x-customer': `C-${Math.floor(random() * 50000)}` } }),
});

reportStats(() => ({ retained: stats.inFlight, load: Math.round(loadNow() * 100) / 100, peak: peakLevel() > 0, ...stats, ballastMB }));
ready(`order-status-api: ${BASE_PER_SECOND} req/s (speed 1), x${PEAK_FACTOR} for ${PEAK_SECONDS / 60} min every ${PERIOD_SECONDS / 3600} h; downstream calls ${DOWNSTREAM_MIN_SECONDS}–${DOWNSTREAM_MAX_SECONDS} s`);
