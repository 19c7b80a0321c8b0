// deploy-traffic-ramp — checkout quote API taking traffic after a deploy (healthy).
//
// POST /v1/quote on 127.0.0.1 with a cart (~1.5 KB JSON), from an in-process
// keep-alive client. Right after the deploy the load balancer shifts traffic
// onto the new instance gradually: 1 req/s at start, rising linearly to 5 req/s
// at 40 min (speed 1), then steady. Each request parses the cart, checks
// stock (a simulated 3–10 ms downstream call, real time), prices every line
// against the tax and promotion tables and answers with the quote; everything
// it allocates is garbage when the response is sent. What stays: the static
// tables, a fixed-bucket latency histogram and the keep-alive sockets (up to
// 16). The heap floor does not follow the traffic.
//
// `retained` = requests in flight.
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

const START_RPS = 1;
const STEADY_RPS = 5;
const RAMP_S = 40 * 60;

function currentRate() {
  const t = programSeconds();
  return t >= RAMP_S ? STEADY_RPS : START_RPS + ((STEADY_RPS - START_RPS) * t) / RAMP_S;
}

// --- static pricing tables --------------------------------------------------------

const VAT = { NL: 0.21, DE: 0.19, BE: 0.21, FR: 0.2, AT: 0.2, DK: 0.25 };
const REDUCED_VAT = { NL: 0.09, DE: 0.07, BE: 0.06, FR: 0.055, AT: 0.1, DK: 0.25 };
const CATEGORIES = ['books', 'food', 'electronics', 'garden', 'toys', 'clothing', 'home'];
const REDUCED = new Set(['books', 'food']);
const PROMOTIONS = [
  { code: 'SPRING10', category: 'garden', percent: 10, minQty: 1 },
  { code: 'TOYS3FOR2', category: 'toys', percent: 33, minQty: 3 },
  { code: 'HOME15', category: 'home', percent: 15, minQty: 2 },
];
const SHIPPING = { standard: 495, express: 1295, pickup: 0 };

// --- latency histogram (fixed buckets) --------------------------------------------

const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, Infinity];
const histogram = { counts: new Array(BUCKETS_MS.length).fill(0), sum: 0, count: 0 };

function observe(ms) {
  let i = 0;
  while (ms > BUCKETS_MS[i]) i++;
  histogram.counts[i]++;
  histogram.sum += ms;
  histogram.count++;
}

// --- handlers --------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const random = rng(0x5ca1e);

async function checkStock(lines) {
  await sleep(3 + random() * 7);
  return lines.map((line) => ({ sku: line.sku, available: (line.sku.charCodeAt(5) + line.qty) % 17 !== 0 }));
}

function priceLine(line, country) {
  const rate = REDUCED.has(line.category) ? REDUCED_VAT[country] : VAT[country];
  const gross = line.unitPriceCents * line.qty;
  let discount = 0;
  let promotion = null;
  for (const promo of PROMOTIONS) {
    if (promo.category === line.category && line.qty >= promo.minQty) {
      discount = Math.round((gross * promo.percent) / 100);
      promotion = promo.code;
      break;
    }
  }
  const net = gross - discount;
  return { sku: line.sku, qty: line.qty, gross, discount, promotion, vatRate: rate, vat: Math.round(net - net / (1 + rate)), net };
}

async function quote(cart) {
  const stock = await checkStock(cart.lines);
  const priced = [];
  const unavailable = [];
  for (let i = 0; i < cart.lines.length; i++) {
    if (!stock[i].available) unavailable.push(cart.lines[i].sku);
    else priced.push(priceLine(cart.lines[i], cart.country));
  }
  let total = 0;
  let vat = 0;
  for (const line of priced) {
    total += line.net;
    vat += line.vat;
  }
  const shipping = total >= 5000 ? 0 : SHIPPING[cart.shipping] ?? SHIPPING.standard;
  return {
    cartId: cart.cartId,
    currency: 'EUR',
    lines: priced,
    unavailable,
    shippingCents: shipping,
    vatCents: vat,
    totalCents: total + shipping,
    validUntil: new Date(Date.now() + 15 * 60_000).toISOString(),
  };
}

let inFlight = 0;
async function handle(req, res) {
  const started = performance.now();
  inFlight++;
  try {
    if (req.method !== 'POST' || req.url !== '/v1/quote') {
      res.writeHead(404).end();
      return;
    }
    let cart;
    try {
      cart = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const body = JSON.stringify(await quote(cart));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } finally {
    inFlight--;
    observe(performance.now() - started);
  }
}

// --- start -------------------------------------------------------------------

buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});

const COUNTRIES = Object.keys(VAT);
let cartSeq = 0;
function nextCart() {
  const lines = [];
  const count = 2 + Math.floor(random() * 9);
  for (let i = 0; i < count; i++) {
    lines.push({
      sku: `SKU-${(200000 + Math.floor(random() * 80000)).toString(36).toUpperCase()}`,
      title: `Item ${Math.floor(random() * 1e5)}`,
      category: CATEGORIES[Math.floor(random() * CATEGORIES.length)],
      qty: 1 + Math.floor(random() * 4),
      unitPriceCents: 299 + Math.floor(random() * 12000),
    });
  }
  return {
    cartId: `cart-${(++cartSeq).toString(36)}`,
    customerId: `cus_${Math.floor(random() * 1e7)}`,
    country: COUNTRIES[Math.floor(random() * COUNTRIES.length)],
    shipping: random() < 0.8 ? 'standard' : random() < 0.5 ? 'express' : 'pickup',
    coupon: random() < 0.1 ? 'WELCOME5' : null,
    lines,
  };
}

const client = selfRequests(port, {
  perSecond: currentRate,
  maxInFlight: 16,
  next: () => ({
    method: 'POST',
    path: '/v1/quote',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(nextCart()),
  }),
});

reportStats(() => ({
  retained: inFlight,
  rps: Math.round(currentRate() * 100) / 100,
  requests: client.completed,
  failed: client.failed,
  meanMs: histogram.count ? Math.round((histogram.sum / histogram.count) * 10) / 10 : 0,
}));
ready(`deploy-traffic-ramp: quote API on 127.0.0.1:${port}, ${START_RPS} → ${STEADY_RPS} req/s over ${RAMP_S} s (speed 1), then steady`);
