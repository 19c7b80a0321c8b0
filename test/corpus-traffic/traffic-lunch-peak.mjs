// traffic-lunch-peak (healthy): menu API of a food-ordering app.
//
// GET /v1/stores/:id/menu?lang=xx returns a store's menu (~10 KB of JSON).
// Rendered responses are cached per request key (store, language, channel)
// for 5 minutes; expired entries are dropped on read and by a sweep every
// minute. Traffic is 2 req/s at speed 1 and triples at lunch: from ~1 h after
// start it ramps up over 5 min, holds ×3 and ramps down again by 2.5 h
// (about 90 min in all). The cache follows the number of distinct keys seen
// in the last 5 minutes: it grows with the lunch traffic and shrinks back
// afterwards. Nothing else is kept.
import { randomUUID } from 'node:crypto';
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

const BASE_RPS = 2;
const LUNCH_START_S = 3600;
const LUNCH_END_S = 9000;
const LUNCH_RAMP_S = 300;
const LUNCH_FACTOR = 3;
const CACHE_TTL_S = 300;
const SWEEP_EVERY_S = 60;

const STORES = 6000;
const LANGS = ['en', 'de', 'fr', 'es', 'it'];
const CHANNELS = ['app', 'web'];

// --- time -------------------------------------------------------------------

/** Production clock in ms (program time at speed 1). */
const nowMs = () => programSeconds() * 1000;

function lunchMultiplier(t) {
  if (t < LUNCH_START_S || t >= LUNCH_END_S) return 1;
  const up = Math.min(1, (t - LUNCH_START_S) / LUNCH_RAMP_S);
  const down = Math.min(1, (LUNCH_END_S - t) / LUNCH_RAMP_S);
  return 1 + (LUNCH_FACTOR - 1) * Math.min(up, down);
}

// --- response cache -----------------------------------------------------------

class ResponseCache {
  constructor(ttlMs) {
    this.ttlMs = ttlMs;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
    this.expired = 0;
  }

  get size() {
    return this.entries.size;
  }

  get(key, now) {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      this.expired++;
      this.misses++;
      return undefined;
    }
    this.hits++;
    entry.hits++;
    return entry;
  }

  set(key, body, etag, now) {
    const entry = { key, body, etag, storedAt: now, expiresAt: now + this.ttlMs, hits: 0 };
    this.entries.set(key, entry);
    return entry;
  }

  sweep(now) {
    let removed = 0;
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) {
        this.entries.delete(key);
        removed++;
      }
    }
    this.expired += removed;
    return removed;
  }

  bytes() {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.body.length;
    return total;
  }
}

const responseCache = new ResponseCache(CACHE_TTL_S * 1000);

// --- "database" ---------------------------------------------------------------

const DISHES = ['pad thai', 'margherita', 'ramen', 'burrito bowl', 'falafel wrap', 'poke', 'caesar salad', 'pho', 'tikka masala', 'bibimbap', 'club sandwich', 'gnocchi', 'shawarma plate', 'katsu curry', 'quinoa bowl', 'lasagne'];
const ADJECTIVES = ['spicy', 'classic', 'vegan', 'smoked', 'crispy', 'grilled', 'house', 'large', 'kids', 'double'];
const ALLERGENS = ['gluten', 'dairy', 'egg', 'nuts', 'soy', 'sesame', 'fish', 'celery'];
const SECTIONS = ['Lunch deals', 'Mains', 'Bowls', 'Sides', 'Drinks', 'Desserts'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function menuItem(next, storeId, i) {
  const dish = DISHES[Math.floor(next() * DISHES.length)];
  const adjective = ADJECTIVES[Math.floor(next() * ADJECTIVES.length)];
  return {
    id: `${storeId}-${i}`,
    name: `${adjective} ${dish}`,
    description: `Our ${adjective} ${dish}, made fresh every day with seasonal ingredients and served with a side of your choice.`,
    section: SECTIONS[i % SECTIONS.length],
    priceCents: 450 + Math.floor(next() * 1500),
    allergens: ALLERGENS.filter(() => next() < 0.2),
    available: next() > 0.08,
  };
}

/** Simulated menu query: a few ms of real latency, rows built per call. */
async function loadMenu(storeId) {
  await sleep(2 + (storeId % 7));
  const next = rng(storeId * 7919);
  const count = 30 + Math.floor(next() * 20);
  const items = [];
  for (let i = 0; i < count; i++) items.push(menuItem(next, storeId, i));
  return { storeId, name: `Store ${storeId}`, openUntil: '22:00', currency: 'EUR', items };
}

function localize(menu, lang) {
  if (lang === 'en') return menu;
  return { ...menu, items: menu.items.map((item) => ({ ...item, name: `${item.name} [${lang}]` })) };
}

function renderMenu(menu, lang, channel) {
  const body = JSON.stringify({ lang, channel, generatedAt: new Date().toISOString(), menu: localize(menu, lang) });
  return body;
}

const etagOf = (body) => `W/"${body.length.toString(16)}-${body.charCodeAt(body.length >> 1).toString(16)}"`;
const cacheKey = (storeId, lang, channel) => `${storeId}:${lang}:${channel}`;

// --- HTTP service -----------------------------------------------------------------

const requestCounts = { total: 0, notModified: 0, hits: 0, misses: 0, notFound: 0 };

async function handleMenu(req, res, storeId, url) {
  const lang = LANGS.includes(url.searchParams.get('lang')) ? url.searchParams.get('lang') : 'en';
  const channel = url.searchParams.get('channel') === 'web' ? 'web' : 'app';
  const key = cacheKey(storeId, lang, channel);
  const now = nowMs();
  let entry = responseCache.get(key, now);
  if (entry === undefined) {
    requestCounts.misses++;
    const menu = await loadMenu(storeId);
    const body = renderMenu(menu, lang, channel);
    entry = responseCache.set(key, body, etagOf(body), nowMs());
  } else {
    requestCounts.hits++;
  }
  if (req.headers['if-none-match'] === entry.etag) {
    requestCounts.notModified++;
    res.writeHead(304, { etag: entry.etag });
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', etag: entry.etag, 'cache-control': 'max-age=60' });
  res.end(entry.body);
}

const MENU_ROUTE = /^\/v1\/stores\/(\d+)\/menu$/;

function handleRequest(req, res) {
  requestCounts.total++;
  const url = new URL(req.url, 'http://localhost');
  const match = MENU_ROUTE.exec(url.pathname);
  if (req.method !== 'GET' || match === null) {
    requestCounts.notFound++;
    res.writeHead(404).end();
    return;
  }
  handleMenu(req, res, Number(match[1]), url).catch((err) => {
    res.writeHead(500).end(String(err));
  });
}

every((SWEEP_EVERY_S * 1000) / speed, () => responseCache.sweep(nowMs()));

// --- traffic ------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handleRequest); // node:http server on 127.0.0.1:0

const pick = rng(20240611);
function popularStore() {
  // 40 % of orders go to the 200 busiest stores, the rest spread over all.
  return pick() < 0.4 ? 1 + Math.floor(pick() * 200) : 1 + Math.floor(pick() * STORES);
}

const client = selfRequests(port, {
  perSecond: () => BASE_RPS * lunchMultiplier(programSeconds()),
  maxInFlight: 32,
  next() {
    const storeId = popularStore();
    const lang = pick() < 0.6 ? 'en' : LANGS[1 + Math.floor(pick() * (LANGS.length - 1))];
    const channel = pick() < 0.7 ? 'app' : 'web';
    const headers = { 'x-request-id': randomUUID(), 'user-agent': 'FoodApp/7.3 (iOS 17.4)' };
    return { method: 'GET', path: `/v1/stores/${storeId}/menu?lang=${lang}&channel=${channel}`, headers };
  },
});

let lastCompleted = 0;
let lastT = 0;
reportStats(() => {
  const t = programSeconds();
  const rps = (client.completed - lastCompleted) / Math.max(1e-9, t - lastT);
  lastCompleted = client.completed;
  lastT = t;
  return {
    retained: responseCache.size,
    rps: Math.round(rps * 10) / 10,
    targetRps: Math.round(BASE_RPS * lunchMultiplier(t) * 100) / 100,
    cacheBytes: responseCache.bytes(),
    hits: requestCounts.hits,
    misses: requestCounts.misses,
    notModified: requestCounts.notModified,
    failed: client.failed,
    ballastMb,
  };
});

ready(`traffic-lunch-peak: menu API on 127.0.0.1:${port}, ${BASE_RPS} req/s (speed 1), ×${LUNCH_FACTOR} from ${LUNCH_START_S} s to ${LUNCH_END_S} s, 5-min response cache`);
