// Recommendations service: GET /v1/recommendations?user=&seeds=a,b,c,d returns
// items similar to the ones the user just viewed. The neighbours of an item
// (top 40 by cosine similarity of the item embeddings, within its category
// plus a few cross-category picks) are computed on the item's first request
// and kept in the module-level Map `similarCache` (itemId -> entry) for the
// life of the process: the active catalogue is a fixed 5 000 items and the
// embeddings are only retrained nightly (with a restart). Shoppers' views are
// spread over the catalogue, so new items turn up rarer and rarer: the cache
// fills quickly at first, slows down over about three hours and then stops.
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

const random = rng(0x5e1f);

const config = { items: 5000, categories: 20, dims: 32, neighbours: 40, crossCategory: 200 };
const MODEL_VERSION = 'emb-2024-05-05';

// --- the catalogue and its embeddings ------------------------------------------------------------

const items = Array.from({ length: config.items }, (_, i) => ({
  id: `it_${(700_000 + i * 13).toString(36)}`,
  category: i % config.categories,
  brand: `brand-${(i * 31) % 140}`,
}));
const itemIndex = new Map(items.map((item, i) => [item.id, i]));
const byCategory = Array.from({ length: config.categories }, () => []);
for (let i = 0; i < items.length; i++) byCategory[items[i].category].push(i);

/** Unit-length embeddings, one row per item (static, ~640 KB). */
const embeddings = new Float32Array(config.items * config.dims);
{
  const r = rng(0xe4b);
  for (let i = 0; i < config.items; i++) {
    let norm = 0;
    for (let d = 0; d < config.dims; d++) {
      const v = r() * 2 - 1 + (d === items[i].category % config.dims ? 1.5 : 0);
      embeddings[i * config.dims + d] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < config.dims; d++) embeddings[i * config.dims + d] /= norm;
  }
}

function cosine(a, b) {
  let sum = 0;
  const oa = a * config.dims;
  const ob = b * config.dims;
  for (let d = 0; d < config.dims; d++) sum += embeddings[oa + d] * embeddings[ob + d];
  return sum;
}

// --- the similarity cache ---------------------------------------------------------------------

/** itemId -> { itemId, neighbours, computedAt, modelVersion }. */
const similarCache = new Map();
const counters = { requests: 0, lookups: 0, computed: 0 };

function toNeighbour(index, score) {
  return { itemId: items[index].id, score: Math.round(score * 1e5) / 1e5, reason: items[index].category === 0 ? 'popular' : 'similar' };
}

/** Top-N neighbours of an item: its category plus a random cross-category sample. */
function computeNeighbours(index) {
  const candidates = byCategory[items[index].category].slice();
  for (let k = 0; k < config.crossCategory; k++) candidates.push(Math.floor(random() * config.items));
  const scored = [];
  for (const c of candidates) if (c !== index) scored.push([c, cosine(index, c)]);
  scored.sort((x, y) => y[1] - x[1]);
  const neighbours = [];
  for (let k = 0; k < config.neighbours && k < scored.length; k++) neighbours.push(toNeighbour(scored[k][0], scored[k][1]));
  return neighbours;
}

function similarTo(itemId) {
  counters.lookups++;
  let entry = similarCache.get(itemId);
  if (entry === undefined) {
    const index = itemIndex.get(itemId);
    if (index === undefined) return null;
    entry = { itemId, neighbours: computeNeighbours(index), computedAt: programSeconds(), modelVersion: MODEL_VERSION };
    similarCache.set(itemId, entry);
    counters.computed++;
  }
  return entry;
}

/** Blends the seeds' neighbours, dropping the seeds themselves. */
function recommend(seedIds, limit) {
  const scores = new Map();
  for (const seed of seedIds) {
    const entry = similarTo(seed);
    if (entry === null) continue;
    for (const n of entry.neighbours) scores.set(n.itemId, (scores.get(n.itemId) ?? 0) + n.score);
  }
  for (const seed of seedIds) scores.delete(seed);
  return [...scores].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([itemId, score]) => ({ itemId, score: Math.round(score * 1000) / 1000 }));
}

// --- HTTP -----------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://recs.internal');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/recommendations') {
      counters.requests++;
      const seeds = (url.searchParams.get('seeds') ?? '').split(',').filter(Boolean).slice(0, 10);
      const limit = Math.min(50, Number(url.searchParams.get('limit') ?? 12));
      return sendJson(res, 200, { user: url.searchParams.get('user'), items: recommend(seeds, limit) });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, cached: similarCache.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- shoppers (the load) -----------------------------------------------------------------------------

function nextRequest() {
  // Four recently viewed items, anywhere in the catalogue (the views are spread out).
  const seeds = [];
  for (let k = 0; k < 4; k++) seeds.push(items[Math.floor(random() * items.length)].id);
  return { method: 'GET', path: `/v1/recommendations?user=u${Math.floor(random() * 40_000)}&seeds=${seeds.join(',')}&limit=12` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~0.5 recommendation requests a second (2 item lookups a second), plus health checks.
const shoppers = selfRequests(port, { perSecond: 0.5, maxInFlight: 8, next: nextRequest });
const balancer = selfRequests(port, { perSecond: 0.1, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: similarCache.size,
  requests: counters.requests,
  lookups: counters.lookups,
  computed: counters.computed,
  requestsFailed: shoppers.failed + balancer.failed,
}));

ready(
  `recs-similarity-cache-warmup: per-item neighbour lists cached for a fixed 5 000-item catalogue; new items rarer and rarer, full after ~3 h (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
