// Help-centre search service. The articles live in the content database (an
// in-process stand-in that pages them out, 250 per page, ~1.5 s of production
// time per page); the service keeps an in-memory inverted index (class
// SearchIndex: term -> postings [doc, tf, doc, tf, ...], plus a small document
// table with titles and snippets) and answers GET /v1/search?q= at ~3 req/s,
// with an LRU of recent results.
//
// Every 45 minutes it rebuilds the index from the database: it pages all
// ~7 000 articles out again (editors change a few dozen an hour, add and
// retire some), builds a fresh SearchIndex beside the live one, swaps it in,
// clears the result cache and drops the old index. Memory has a short bump
// during each build (two indexes) and otherwise stays flat.
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

const random = rng(0x5ea7c4);

const REBUILD_EVERY_S = 45 * 60;
const PAGE_SIZE = 250;
const PAGE_LATENCY_S = 1.5;
const RESULT_CACHE_ENTRIES = 1000;

const sleepProduction = (seconds) => new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / speed));

// --- the content database (stand-in) -----------------------------------------------------------

const SYLLABLES = ['ac', 'count', 'bill', 'ing', 'pay', 'ment', 'ex', 'port', 'in', 'voice', 'tax', 'set', 'up', 'lo', 'gin', 'pass', 'word', 're', 'fund', 'ship', 'ping', 'track', 'or', 'der', 'can', 'cel', 'team', 'role', 'per', 'mis', 'sion', 'sync', 'api', 'key', 'web', 'hook', 'plan', 'trial', 'card', 'bank'];
const VOCABULARY = [];
for (let i = 0; VOCABULARY.length < 4000; i++) {
  const a = SYLLABLES[i % SYLLABLES.length];
  const b = SYLLABLES[Math.floor(i / SYLLABLES.length) % SYLLABLES.length];
  const c = i >= 1600 ? SYLLABLES[(i * 7) % SYLLABLES.length] : '';
  VOCABULARY.push(`${a}${b}${c}`);
}
const STOPWORDS = new Set(['the', 'a', 'to', 'and', 'of', 'in', 'your', 'you', 'is', 'for', 'on', 'with', 'can', 'how', 'this', 'it']);
const FILLERS = [...STOPWORDS];

/** Articles change over time: article id -> revision; some retired, some new. */
const content = { nextId: 7000, retired: new Set(), revisions: new Map(), edits: 0 };

function editorActivity() {
  // ~40 edits, ~4 new and ~4 retired articles per hour of production time
  if (random() < 40 / 60) {
    const id = Math.floor(random() * content.nextId);
    content.revisions.set(id, (content.revisions.get(id) ?? 0) + 1);
    content.edits++;
  }
  if (random() < 4 / 60) content.nextId++;
  if (random() < 4 / 60) content.retired.add(Math.floor(random() * content.nextId));
}

function articleText(id, revision) {
  const r = rng(id * 7919 + revision * 104729);
  const words = [];
  const length = 120 + Math.floor(r() * 180);
  const topic = Math.floor(r() * VOCABULARY.length);
  for (let i = 0; i < length; i++) {
    if (r() < 0.3) words.push(FILLERS[Math.floor(r() * FILLERS.length)]);
    else if (r() < 0.15) words.push(VOCABULARY[(topic + Math.floor(r() * 20)) % VOCABULARY.length]);
    else words.push(VOCABULARY[Math.floor(VOCABULARY.length * r() ** 2.5)]);
  }
  return { title: `${VOCABULARY[topic]} ${VOCABULARY[(topic + 3) % VOCABULARY.length]}: ${words.slice(0, 4).join(' ')}`, body: words.join(' ') };
}

/** One page of the export: articles with id > cursor, as the database returns them. */
async function fetchArticles(cursor, limit) {
  await sleepProduction(PAGE_LATENCY_S * (0.7 + random() * 0.6));
  const rows = [];
  for (let id = cursor + 1; id < content.nextId && rows.length < limit; id++) {
    if (content.retired.has(id)) continue;
    const revision = content.revisions.get(id) ?? 0;
    const { title, body } = articleText(id, revision);
    rows.push({ id, revision, slug: `kb-${id}`, locale: 'en', title, body, updatedAt: 1_700_000_000 + revision * 3600 });
  }
  return rows;
}

// --- the index ------------------------------------------------------------------------------

class SearchIndex {
  constructor(version) {
    this.version = version;
    this.docs = [];
    this.postings = new Map();
    this.builtAt = 0;
    this.postingCount = 0;
  }

  addDocument(article) {
    const doc = this.docs.length;
    const tokens = tokenize(`${article.title} ${article.title} ${article.body}`);
    const counts = new Map();
    for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
    for (const [term, tf] of counts) {
      let list = this.postings.get(term);
      if (list === undefined) {
        list = [];
        this.postings.set(term, list);
      }
      list.push(doc, tf);
      this.postingCount++;
    }
    this.docs.push({ id: article.id, title: article.title, url: `/help/${article.slug}`, snippet: article.body.slice(0, 160), length: tokens.length, updatedAt: article.updatedAt });
  }

  search(terms, limit) {
    const scores = new Map();
    const n = this.docs.length;
    for (const term of terms) {
      const list = this.postings.get(term);
      if (list === undefined) continue;
      const idf = Math.log(1 + n / (list.length / 2));
      for (let i = 0; i < list.length; i += 2) {
        const doc = list[i];
        scores.set(doc, (scores.get(doc) ?? 0) + (list[i + 1] / (list[i + 1] + 1.2)) * idf);
      }
    }
    return [...scores]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([doc, score]) => ({ ...this.docs[doc], score: Math.round(score * 1000) / 1000 }));
  }
}

const TOKEN = /[a-z0-9]+/g;

function tokenize(text) {
  const out = [];
  for (const match of text.toLowerCase().matchAll(TOKEN)) {
    const token = match[0];
    if (!STOPWORDS.has(token) && token.length > 1) out.push(token);
  }
  return out;
}

let liveIndex = null;
const rebuilds = { count: 0, building: false, lastBuildS: 0, lastDocs: 0 };

async function buildIndex() {
  const index = new SearchIndex(rebuilds.count + 1);
  let cursor = 0;
  for (;;) {
    const page = await fetchArticles(cursor, PAGE_SIZE);
    if (page.length === 0) break;
    for (const article of page) index.addDocument(article);
    cursor = page[page.length - 1].id;
  }
  index.builtAt = programSeconds();
  return index;
}

async function rebuild() {
  if (rebuilds.building) return;
  rebuilds.building = true;
  const started = programSeconds();
  const next = await buildIndex();
  liveIndex = next; // swap; the old index is dropped here
  resultCache.clear();
  rebuilds.count++;
  rebuilds.building = false;
  rebuilds.lastBuildS = Math.round(programSeconds() - started);
  rebuilds.lastDocs = next.docs.length;
}

// --- results cache ---------------------------------------------------------------------------

const resultCache = new Map();
const cacheStats = { hits: 0, misses: 0 };

function cachedSearch(q) {
  const hit = resultCache.get(q);
  if (hit !== undefined) {
    cacheStats.hits++;
    resultCache.delete(q);
    resultCache.set(q, hit);
    return hit;
  }
  cacheStats.misses++;
  const result = { version: liveIndex.version, hits: liveIndex.search(tokenize(q), 10) };
  resultCache.set(q, result);
  if (resultCache.size > RESULT_CACHE_ENTRIES) resultCache.delete(resultCache.keys().next().value);
  return result;
}

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://search.local');
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, version: liveIndex.version, docs: liveIndex.docs.length });
  if (url.pathname !== '/v1/search') return sendJson(res, 404, { error: 'not found' });
  const q = (url.searchParams.get('q') ?? '').trim().toLowerCase().slice(0, 200);
  if (q === '') return sendJson(res, 400, { error: 'q is required' });
  sendJson(res, 200, cachedSearch(q));
}

// --- clients --------------------------------------------------------------------------------

function searchRequest() {
  if (random() < 0.03) return { method: 'GET', path: '/healthz' };
  const terms = [];
  for (let i = 0, n = 1 + Math.floor(random() * 3); i < n; i++) terms.push(VOCABULARY[40 + Math.floor(1200 * random() ** 2)]);
  return { method: 'GET', path: `/v1/search?q=${encodeURIComponent(terms.join(' '))}` };
}

const ballastMb = buildBallast();
await rebuild();
const { port } = await listen(handler);

setInterval(editorActivity, (60 * 1000) / speed);
setInterval(rebuild, (REBUILD_EVERY_S * 1000) / speed);

const users = selfRequests(port, { perSecond: 3, maxInFlight: 16, next: searchRequest });

reportStats(() => ({
  retained: liveIndex.docs.length,
  postings: liveIndex.postingCount,
  terms: liveIndex.postings.size,
  version: liveIndex.version,
  building: rebuilds.building,
  lastBuildS: rebuilds.lastBuildS,
  edits: content.edits,
  cacheHits: cacheStats.hits,
  cacheMisses: cacheStats.misses,
  requestsFailed: users.failed,
}));

ready(
  `search-index-rebuild: help-centre search, ~7000 articles, inverted index rebuilt from the content database every 45 min and swapped in (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
