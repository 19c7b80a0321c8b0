// cyclic-traffic-listener-leak (leak, heap, from start): store availability API.
//
// GET /v1/availability?store=…&skus=… answers which products are in stock in
// a store. Traffic follows a ~2 h busy/quiet cycle (1.2 → 6.8 → 1.2 req/s at
// speed 1, mean 4 req/s). While a lookup waits for the stock service it
// listens on the module-level `catalogEvents` emitter for 'invalidate' events
// (a store's stock changed) so it can re-read instead of answering stale.
// openLookup() registers the listener and hands back release(); the normal
// path releases it in a `finally`, but a conditional request whose ETag still
// matches returns 304 before the try block, so ~40 % of the requests leave
// their listener, a closure over the lookup (request headers, SKU list),
// on `catalogEvents` for good. The leak rate follows the traffic.
import { EventEmitter } from 'node:events';
import { createHash, randomUUID } from 'node:crypto';
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

const MEAN_RPS = 4;
const CYCLE_S = 7200;
const SWING = 0.7; // rate = mean × (1 − 0.7 cos(2πt / cycle))
const STORES = 800;
const CATALOGUE_SKUS = 30_000;
const STOCK_CHANGE_EVERY_S = 30;
const MAX_WATCHERS = 60_000;

const trafficRate = (t) => MEAN_RPS * (1 - SWING * Math.cos((2 * Math.PI * t) / CYCLE_S));

// --- catalogue events -------------------------------------------------------------------------

/** Process-wide stock/catalogue change notifications. */
export const catalogEvents = new EventEmitter();
catalogEvents.setMaxListeners(0); // every in-flight lookup listens; silenced the warning long ago

const storeVersions = new Uint32Array(STORES + 1);
const watchStats = { opened: 0, released: 0, refused: 0, restarts: 0 };

/** Starts a lookup and watches its store for stock changes until release(). */
function openLookup(req, url) {
  const lookup = {
    id: req.headers['x-request-id'] ?? randomUUID(),
    store: Number(url.searchParams.get('store')),
    skus: (url.searchParams.get('skus') ?? '').split(','),
    channel: url.searchParams.get('channel') ?? 'app',
    client: {
      userAgent: req.headers['user-agent'],
      language: req.headers['accept-language'],
      appVersion: req.headers['x-app-version'],
      deviceId: req.headers['x-device-id'],
    },
    startedAt: Date.now(),
    version: 0,
    stale: false,
  };
  if (catalogEvents.listenerCount('invalidate') >= MAX_WATCHERS) {
    watchStats.refused++; // too many watchers: fall back to a plain read
    lookup.release = () => {};
    return lookup;
  }
  const onInvalidate = (event) => {
    if (event.store === lookup.store) lookup.stale = true;
  };
  catalogEvents.on('invalidate', onInvalidate);
  watchStats.opened++;
  lookup.release = () => {
    catalogEvents.removeListener('invalidate', onInvalidate);
    watchStats.released++;
  };
  return lookup;
}

// --- stock service (simulated) ----------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function stockLevel(store, sku, version) {
  let h = 2166136261 ^ store ^ (version << 16);
  for (let i = 0; i < sku.length; i++) h = Math.imul(h ^ sku.charCodeAt(i), 16777619);
  return (h >>> 0) % 40;
}

async function fetchStock(lookup) {
  await sleep(3 + (lookup.skus.length % 6)); // stock service round trip (real ms)
  lookup.version = storeVersions[lookup.store];
  return lookup.skus.map((sku) => ({ sku, quantity: stockLevel(lookup.store, sku, lookup.version) }));
}

const etagFor = (store, skusParam) =>
  `W/"${createHash('sha1').update(`${store}:${storeVersions[store]}:${skusParam}`).digest('base64url').slice(0, 20)}"`;

// --- HTTP ---------------------------------------------------------------------------------------------

const counts = { requests: 0, ok: 0, notModified: 0 };

async function handleAvailability(req, res, url) {
  const lookup = openLookup(req, url);
  const etag = etagFor(lookup.store, url.searchParams.get('skus'));
  if (req.headers['if-none-match'] === etag) {
    counts.notModified++;
    res.writeHead(304, { etag, 'cache-control': 'private, max-age=0' });
    res.end();
    return;
  }
  try {
    let items = await fetchStock(lookup);
    if (lookup.stale) {
      watchStats.restarts++; // stock moved while we were reading: read again
      items = await fetchStock(lookup);
    }
    counts.ok++;
    const freshEtag = etagFor(lookup.store, url.searchParams.get('skus'));
    const body = JSON.stringify({ store: lookup.store, version: lookup.version, etag: freshEtag, items });
    res.writeHead(200, { 'content-type': 'application/json', etag: freshEtag });
    res.end(body);
  } finally {
    lookup.release();
  }
}

function handleRequest(req, res) {
  counts.requests++;
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/v1/availability') {
    handleAvailability(req, res, url).catch(() => res.writeHead(500).end());
  } else {
    res.writeHead(404).end();
  }
}

// Stock changes in one store every 30 s (deliveries, sales); listeners are told.
const changes = rng(99);
every((STOCK_CHANGE_EVERY_S * 1000) / speed, () => {
  const store = 1 + Math.floor(changes() * STORES);
  storeVersions[store]++;
  catalogEvents.emit('invalidate', { store, version: storeVersions[store], at: Date.now() });
});

// --- mobile app traffic --------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handleRequest);

const next = rng(31337);
const LANGUAGES = ['de-DE,de;q=0.9,en;q=0.8', 'en-GB,en;q=0.9', 'fr-FR,fr;q=0.9,en;q=0.7', 'nl-NL,nl;q=0.9,en;q=0.8'];
const AGENTS = ['ShopApp/5.12.1 (iPhone15,2; iOS 17.4.1; Scale/3.00)', 'ShopApp/5.12.0 (Android 14; Pixel 8 Pro; Build/UQ1A.240205.004)'];

function skuList() {
  const count = 8 + Math.floor(next() * 18);
  const skus = [];
  for (let i = 0; i < count; i++) skus.push(`SKU-${String(100000 + Math.floor(next() * CATALOGUE_SKUS)).padStart(8, '0')}`);
  return skus.join(',');
}

/** The apps' HTTP caches: recently fetched URLs with their ETags (bounded ring). */
const recentlyFetched = new Array(256).fill(null);
let ringPos = 0;

const client = selfRequests(port, {
  perSecond: () => trafficRate(programSeconds()),
  maxInFlight: 32,
  next() {
    const device = Math.floor(next() * 50_000);
    const headers = {
      'x-request-id': randomUUID(),
      'user-agent': AGENTS[device % AGENTS.length],
      'accept-language': LANGUAGES[device % LANGUAGES.length],
      'x-app-version': device % 3 === 0 ? '5.12.0' : '5.12.1',
      'x-device-id': `dev-${device.toString(36)}-${(device * 2654435761 >>> 0).toString(16)}`,
    };
    const cached = recentlyFetched[Math.floor(next() * recentlyFetched.length)];
    if (cached !== null && next() < 0.4) {
      // Screen re-opened: revalidate what the app already shows.
      headers['if-none-match'] = cached.etag;
      return { method: 'GET', path: cached.path, headers };
    }
    const store = 1 + Math.floor(next() * STORES);
    const path = `/v1/availability?store=${store}&skus=${skuList()}&channel=app`;
    return { method: 'GET', path, headers };
  },
  onResponse(status, text, request) {
    if (status !== 200) return;
    const { etag } = JSON.parse(text);
    recentlyFetched[ringPos] = { path: request.path, etag };
    ringPos = (ringPos + 1) % recentlyFetched.length;
  },
});

let lastRequests = 0;
let lastT = 0;
reportStats(() => {
  const t = programSeconds();
  const rps = (counts.requests - lastRequests) / Math.max(1e-9, t - lastT);
  lastRequests = counts.requests;
  lastT = t;
  return {
    retained: catalogEvents.listenerCount('invalidate'),
    rps: Math.round(rps * 10) / 10,
    targetRps: Math.round(trafficRate(t) * 100) / 100,
    notModified: counts.notModified,
    ok: counts.ok,
    opened: watchStats.opened,
    released: watchStats.released,
    refused: watchStats.refused,
    restarts: watchStats.restarts,
    failed: client.failed,
    ballastMb,
  };
});

ready(`cyclic-traffic-listener-leak: availability API on 127.0.0.1:${port}, ${MEAN_RPS} req/s mean (speed 1) on a ${CYCLE_S} s busy/quiet cycle; 304 path never releases its catalogEvents listener`);
