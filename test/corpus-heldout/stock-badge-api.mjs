// Product-availability API for the shop's product pages.
//
// GET /v2/products/:sku/availability returns stock per warehouse. Clients with
// the "live stock badge" (?watch=1) also hold the request open for a moment
// and get the first stock change for that SKU; for that the handler registers
// a subscription in the module-level Set `subscriptions`, which the stock
// feed walks on every change batch. When the request finishes the handler
// calls unsubscribe(sub.id), which deletes the *id* from a Set that holds
// subscription *objects*, so every watch stays behind.
//
// The live badge is rolled out by a config reload at the onset (default 30 min
// of production time; SCENARIO_ONSET in speed-1 seconds): before that no
// request subscribes and the heap is flat.
//
// Speed 1: 4.2 req/s, each subscription ~2.6 KB (a warehouse snapshot to diff
// against) → ~40 MB/h after the onset.
// Cap: at 60 000 watchers (~155 MB, ~3.8 h after the onset at speed 1) new
// watches are refused and the badge falls back to polling.
// stats: retained = subscriptions.size.
import { buildBallast, every, listen, onsetMs, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 4.2;
const ONSET_DEFAULT_SECONDS = 1800;
const MAX_WATCHERS = 60_000;
const HOLD_SECONDS = 1.5;
const WAREHOUSES = ['BER-1', 'BER-2', 'HAM-1', 'MUC-1', 'FRA-1', 'FRA-2', 'CGN-1', 'LEJ-1', 'VIE-1', 'ZRH-1', 'AMS-1', 'WAW-1'];
const SKUS = 20_000;

const features = { liveStockBadge: false };
const subscriptions = new Set();
let subSeq = 0;
let refused = 0;
let pushed = 0;

// --- stock levels: the inventory snapshot, loaded at boot -------------------
const stock = new Map();
for (let sku = 0; sku < SKUS; sku++) stock.set(sku, WAREHOUSES.map((code, i) => ({ code, onHand: (sku * (i + 7)) % 140, reserved: (sku + i) % 9 })));
function stockFor(sku) {
  return stock.get(sku);
}

// --- subscriptions -------------------------------------------------------------
function subscribe(sku, userId, onChange) {
  if (subscriptions.size >= MAX_WATCHERS) {
    refused++;
    return null;
  }
  const now = Date.now();
  const sub = {
    id: `w-${(++subSeq).toString(36)}`,
    sku,
    userId,
    channel: `stock:${sku}`,
    createdAt: now,
    expiresAt: now + 120_000,
    snapshot: stockFor(sku).map((w) => ({ code: w.code, onHand: w.onHand, reserved: w.reserved, seenAt: now })),
    threshold: 5,
    deliveries: 0,
    onChange,
  };
  subscriptions.add(sub);
  return sub;
}

function unsubscribe(id) {
  subscriptions.delete(id);
}

// The stock feed: every 5 s (speed 1) a batch of changed SKUs; watchers of
// those SKUs get called.
const feedRandom = rng(33);
every(scaledMs(5), () => {
  const changed = new Set();
  for (let i = 0; i < 40; i++) {
    const sku = Math.floor(feedRandom() * SKUS);
    const levels = stockFor(sku);
    levels[i % levels.length].onHand = Math.max(0, levels[i % levels.length].onHand - 1);
    changed.add(sku);
  }
  for (const sub of subscriptions) {
    if (changed.has(sub.sku)) {
      sub.deliveries++;
      pushed++;
      sub.onChange(stockFor(sub.sku));
    }
  }
});

function availabilityBody(sku, levels) {
  let total = 0;
  for (const w of levels) total += w.onHand - w.reserved;
  return JSON.stringify({ sku, available: Math.max(0, total), warehouses: levels });
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://api');
  const match = /^\/v2\/products\/(\d+)\/availability$/.exec(url.pathname);
  if (match === null) return res.writeHead(404).end();
  const sku = Number(match[1]);
  const levels = stockFor(sku);
  if (!features.liveStockBadge || url.searchParams.get('watch') !== '1') {
    return res.writeHead(200, { 'content-type': 'application/json' }).end(availabilityBody(sku, levels));
  }
  let sub = null;
  const changed = await new Promise((resolve) => {
    const timer = setTimeout(resolve, scaledMs(HOLD_SECONDS), null);
    sub = subscribe(sku, req.headers['x-user-id'], (latest) => {
      clearTimeout(timer);
      resolve(latest);
    });
  });
  if (sub !== null) unsubscribe(sub.id);
  res.writeHead(200, { 'content-type': 'application/json' }).end(availabilityBody(sku, changed ?? levels));
}

const ballastMB = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch(() => res.writeHead(500).end());
});

// The config reload that switches the live badge on.
const onset = onsetMs(ONSET_DEFAULT_SECONDS);
setTimeout(() => (features.liveStockBadge = true), onset).unref();

const random = rng(34);
selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  maxInFlight: 32,
  next: () => ({ method: 'GET', path: `/v2/products/${Math.floor(random() * SKUS)}/availability?watch=1`, headers: { 'x-user-id': `u-${Math.floor(random() * 250_000)}` } }),
});

reportStats(() => ({ retained: subscriptions.size, leaking: features.liveStockBadge, capped: subscriptions.size >= MAX_WATCHERS, refused, pushed, ballastMB }));
ready(`stock-badge-api: ${REQUESTS_PER_SECOND} req/s (speed 1); live badge (watch subscriptions) from ${onset / 1000} s (wall)`);
