// Product-recommendation service ("customers who viewed this also viewed",
// re-ranked for the shopper's segment). The co-view graph (40 000 products x
// 24 neighbours, typed arrays) is loaded once at start from the nightly model
// export. Computing one recommendation list means scoring the neighbours and
// their neighbours for the segment, so results are memoised per
// (segment, product) in a module-level LRU (class MemoCache over a Map) of
// 26 000 entries.
//
// Product pages ask for recommendations at 4 req/s. With 16 segments x 40 000
// products the key space is far larger than the cache, so the memo fills
// steadily (most requests are misses at first) for about two hours of
// production time, then stays at its bound, evicting the least recently used.
import {
  buildBallast,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7ec0);

const PRODUCTS = 40_000;
const NEIGHBOURS = 24;
const SEGMENTS = ['new', 'bargain', 'premium', 'parents', 'outdoor', 'gamers', 'home-office', 'students', 'gardeners', 'cooks', 'runners', 'makers', 'pet-owners', 'travellers', 'b2b', 'returning'];
const CATEGORIES = 48;
const MEMO_ENTRIES = 26_000;
const LIST_LENGTH = 12;

// --- the model (loaded once) -------------------------------------------------------------

const model = {
  neighbour: new Int32Array(PRODUCTS * NEIGHBOURS),
  weight: new Float32Array(PRODUCTS * NEIGHBOURS),
  category: new Uint8Array(PRODUCTS),
  popularity: new Float32Array(PRODUCTS),
  /** segment x category affinity */
  affinity: new Float32Array(SEGMENTS.length * CATEGORIES),
};

function loadModel() {
  const r = rng(0x5eed);
  for (let p = 0; p < PRODUCTS; p++) {
    model.category[p] = Math.floor(r() * CATEGORIES);
    model.popularity[p] = 1 / (1 + p / 2000);
    for (let k = 0; k < NEIGHBOURS; k++) {
      // neighbours are mostly nearby ids (same range of the catalogue), some far away
      const near = r() < 0.7;
      const q = near ? (p + 1 + Math.floor(r() * 400)) % PRODUCTS : Math.floor(r() * PRODUCTS);
      model.neighbour[p * NEIGHBOURS + k] = q;
      model.weight[p * NEIGHBOURS + k] = (1 - k / NEIGHBOURS) * (0.5 + r());
    }
  }
  for (let i = 0; i < model.affinity.length; i++) model.affinity[i] = 0.6 + r() * 0.8;
}

// --- memo ---------------------------------------------------------------------------------

class MemoCache {
  constructor(maxEntries) {
    this.maxEntries = maxEntries;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  get size() {
    return this.entries.size;
  }

  get(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  set(key, entry) {
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value);
      this.evictions++;
    }
  }
}

const memo = new MemoCache(MEMO_ENTRIES);

// --- scoring ------------------------------------------------------------------------------

function segmentBoost(segment, product) {
  return model.affinity[segment * CATEGORIES + model.category[product]];
}

function addCandidate(scores, product, score) {
  scores.set(product, (scores.get(product) ?? 0) + score);
}

/** Scores first- and second-degree neighbours of `product` for `segment`; the top 12. */
function recommend(segment, product) {
  const scores = new Map();
  const base = product * NEIGHBOURS;
  for (let k = 0; k < NEIGHBOURS; k++) {
    const q = model.neighbour[base + k];
    const w = model.weight[base + k];
    addCandidate(scores, q, w * segmentBoost(segment, q));
    const base2 = q * NEIGHBOURS;
    for (let j = 0; j < 6; j++) {
      const q2 = model.neighbour[base2 + j];
      if (q2 !== product) addCandidate(scores, q2, 0.35 * w * model.weight[base2 + j] * segmentBoost(segment, q2));
    }
  }
  const ranked = [...scores].sort((a, b) => b[1] - a[1]).slice(0, LIST_LENGTH);
  return ranked.map(([id, score], rank) => ({
    productId: `P${id}`,
    score: Math.round(score * 1000) / 1000,
    reason: rank < 3 ? 'also-viewed' : model.category[id] === model.category[product] ? 'similar' : 'complements',
  }));
}

function recommendationsFor(segment, product) {
  const key = `${SEGMENTS[segment]}:${product}`;
  let entry = memo.get(key);
  if (entry === undefined) {
    entry = { items: recommend(segment, product), computedAt: programSeconds(), modelVersion: '2024-03-01' };
    memo.set(key, entry);
  }
  return entry;
}

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function segmentOf(userId) {
  let h = 2166136261;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 16777619);
  return (h >>> 0) % SEGMENTS.length;
}

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://recs.local');
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, memo: memo.size });
  if (url.pathname !== '/v1/recommendations') return sendJson(res, 404, { error: 'not found' });
  const product = Number(url.searchParams.get('product'));
  const user = url.searchParams.get('user') ?? 'anonymous';
  if (!Number.isInteger(product) || product < 0 || product >= PRODUCTS) return sendJson(res, 400, { error: 'bad product' });
  const limit = Math.min(LIST_LENGTH, Number(url.searchParams.get('limit') ?? 8));
  const entry = recommendationsFor(segmentOf(user), product);
  sendJson(res, 200, { product: `P${product}`, items: entry.items.slice(0, limit), computedAt: entry.computedAt });
}

// --- clients: product pages ---------------------------------------------------------------

function pageRequest() {
  if (random() < 0.03) return { method: 'GET', path: '/healthz' };
  // product views: long tail with a mild head (popular products are seen more)
  const product = Math.floor(PRODUCTS * random() ** 1.6);
  const user = `u${Math.floor(random() * 2_000_000)}`;
  return { method: 'GET', path: `/v1/recommendations?product=${product}&user=${user}&limit=8` };
}

loadModel();
const ballastMb = buildBallast();
const { port } = await listen(handler);

const pages = selfRequests(port, { perSecond: 4, maxInFlight: 32, next: pageRequest });

reportStats(() => ({
  retained: memo.size,
  hits: memo.hits,
  misses: memo.misses,
  evictions: memo.evictions,
  requests: pages.completed,
  requestsFailed: pages.failed,
}));

ready(
  `recommendation-memo-cache: recommendations at 4 req/s, memoised per (segment, product) in an LRU of ${MEMO_ENTRIES} entries that fills over ~2 h (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
