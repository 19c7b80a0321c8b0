// Help-centre service: customers search the support articles
// (GET /v1/search?q=) and read them (GET /v1/articles/:id); the support
// writers publish new articles (POST /v1/articles) and edit existing ones
// (PUT /v1/articles/:id). Everything is served from an in-memory index built
// at start from the CMS export (~400 articles): class SearchIndex keeps the
// articles (Map `articles`) and an inverted index (Map `postings`, term ->
// Map articleId -> term frequency) scored with BM25.
//
// The day starts at 08:00. Until about 11:00 (the first ~3 production
// hours) the writers publish the articles for this week's release, ~150 an
// hour, so the index grows by a few megabytes. After that they only edit:
// an edit replaces the article's text and its postings in place, so the
// index keeps the same size for the rest of the day.
import {
  buildBallast,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x5ea4c4);
const EPOCH_MS = Date.UTC(2024, 5, 3, 8, 0, 0);
/** Writers publish new articles until 11:00, then only edit. */
const PUBLISHING_UNTIL_S = 3 * 3600;

function clockMs() {
  return EPOCH_MS + Math.round(programSeconds() * 1000);
}

// --- text analysis --------------------------------------------------------------------

const STOPWORDS = new Set(['the', 'a', 'an', 'and', 'or', 'to', 'of', 'in', 'on', 'for', 'is', 'it', 'you', 'your', 'with', 'can', 'be', 'this', 'that', 'if', 'from', 'at', 'by', 'as', 'are', 'will', 'not']);

function normalise(token) {
  let t = token.toLowerCase();
  if (t.length > 4 && t.endsWith('ing')) t = t.slice(0, -3);
  else if (t.length > 3 && t.endsWith('s') && !t.endsWith('ss')) t = t.slice(0, -1);
  return t;
}

/** Term frequencies of a text. */
function termCounts(text) {
  const counts = new Map();
  for (const raw of text.split(/[^A-Za-z0-9]+/)) {
    if (raw.length < 2) continue;
    const term = normalise(raw);
    if (STOPWORDS.has(term)) continue;
    counts.set(term, (counts.get(term) ?? 0) + 1);
  }
  return counts;
}

// --- the index ------------------------------------------------------------------------

class SearchIndex {
  constructor() {
    /** id -> article (title, body, tags, metadata, term list for removal). */
    this.articles = new Map();
    /** term -> Map(articleId -> frequency). */
    this.postings = new Map();
    this.totalLength = 0;
  }

  upsert(article) {
    const existing = this.articles.get(article.id);
    if (existing !== undefined) this.removePostings(existing);
    const counts = termCounts(`${article.title} ${article.title} ${article.tags.join(' ')} ${article.body}`);
    let length = 0;
    for (const [term, tf] of counts) {
      let list = this.postings.get(term);
      if (list === undefined) {
        list = new Map();
        this.postings.set(term, list);
      }
      list.set(article.id, tf);
      length += tf;
    }
    const doc = { ...article, terms: [...counts.keys()], length, indexedAt: clockMs() };
    this.articles.set(article.id, doc);
    this.totalLength += length;
    return doc;
  }

  removePostings(doc) {
    for (const term of doc.terms) {
      const list = this.postings.get(term);
      if (list === undefined) continue;
      list.delete(doc.id);
      if (list.size === 0) this.postings.delete(term);
    }
    this.totalLength -= doc.length;
  }

  search(query, limit = 10) {
    const n = this.articles.size;
    const avg = this.totalLength / Math.max(1, n);
    const scores = new Map();
    for (const term of termCounts(query).keys()) {
      const list = this.postings.get(term);
      if (list === undefined) continue;
      const idf = Math.log(1 + (n - list.size + 0.5) / (list.size + 0.5));
      for (const [id, tf] of list) {
        const doc = this.articles.get(id);
        const score = (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * doc.length) / avg));
        scores.set(id, (scores.get(id) ?? 0) + score);
      }
    }
    return [...scores].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([id, score]) => {
      const doc = this.articles.get(id);
      return { id, title: doc.title, score: Math.round(score * 1000) / 1000, snippet: doc.body.slice(0, 160) };
    });
  }
}

const index = new SearchIndex();

// --- article text (the CMS export and the writers) ------------------------------------------

const TOPICS = ['billing', 'invoice', 'refund', 'password', 'login', 'account', 'subscription', 'delivery', 'shipping', 'return', 'warranty', 'payment', 'card', 'export', 'import', 'integration', 'notification', 'privacy', 'security', 'team', 'permission', 'report', 'dashboard', 'mobile', 'calendar', 'sync', 'api', 'webhook', 'plan', 'trial'];
const VERBS = ['open', 'select', 'change', 'update', 'remove', 'add', 'enable', 'disable', 'check', 'confirm', 'download', 'upload', 'contact', 'reset', 'connect', 'cancel', 'renew', 'verify', 'review', 'save'];
const NOUNS = ['settings', 'page', 'button', 'menu', 'email', 'address', 'profile', 'order', 'customer', 'admin', 'browser', 'app', 'file', 'link', 'code', 'message', 'field', 'option', 'tab', 'list', 'device', 'number', 'date', 'status', 'amount', 'currency', 'tax', 'country', 'language', 'role'];
/** The long tail: product names, error codes, feature names (a few thousand words). */
const TAIL = Array.from({ length: 2400 }, (_, i) => `${['flex', 'pro', 'sync', 'hub', 'desk', 'pay', 'doc', 'cal'][i % 8]}${(i * 7919).toString(36)}`);

function pick(list) {
  return list[Math.floor(random() * list.length)];
}

function sentence() {
  const words = [pick(VERBS), 'the', pick(NOUNS), 'in', pick(TOPICS), pick(NOUNS)];
  const extra = 3 + Math.floor(random() * 8);
  for (let i = 0; i < extra; i++) {
    const r = random();
    words.push(r < 0.15 ? TAIL[Math.floor(random() * random() * TAIL.length)] : r < 0.45 ? pick(NOUNS) : r < 0.65 ? pick(VERBS) : r < 0.8 ? pick(TOPICS) : pick(['then', 'and', 'to', 'your', 'you', 'will', 'can']));
  }
  words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  return `${words.join(' ')}.`;
}

/** An article body: 8-40 sentences. */
function articleBody() {
  const sentences = 8 + Math.floor(random() * 33);
  const parts = [];
  for (let i = 0; i < sentences; i++) parts.push(sentence());
  return parts.join(' ');
}

let articleSeq = 0;

function newArticle() {
  const topic = pick(TOPICS);
  const id = `kb-${(10_000 + ++articleSeq).toString(36)}`;
  return {
    id,
    title: `How to ${pick(VERBS)} your ${topic} ${pick(NOUNS)}`,
    body: articleBody(),
    tags: [topic, pick(TOPICS)],
    locale: 'en',
    section: topic,
    author: `writer-${1 + Math.floor(random() * 7)}`,
    updatedAt: clockMs(),
    version: 1,
  };
}

// --- HTTP ------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const counters = { searches: 0, views: 0, published: 0, edits: 0 };

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://help.local');
  try {
    if (req.method === 'GET' && url.pathname === '/v1/search') {
      counters.searches++;
      return sendJson(res, 200, { results: index.search(url.searchParams.get('q') ?? '') });
    }
    if (url.pathname.startsWith('/v1/articles/')) {
      const id = url.pathname.slice('/v1/articles/'.length);
      const doc = index.articles.get(id);
      if (doc === undefined) return sendJson(res, 404, { error: 'no such article' });
      if (req.method === 'GET') {
        counters.views++;
        return sendJson(res, 200, { id: doc.id, title: doc.title, body: doc.body, tags: doc.tags, updatedAt: doc.updatedAt });
      }
      if (req.method === 'PUT') {
        const edit = JSON.parse((await readBody(req)).toString('utf8'));
        counters.edits++;
        const updated = index.upsert({ ...doc, title: edit.title ?? doc.title, body: edit.body, updatedAt: clockMs(), version: doc.version + 1, author: edit.author });
        return sendJson(res, 200, { id: updated.id, version: updated.version });
      }
    }
    if (req.method === 'POST' && url.pathname === '/v1/articles') {
      const article = JSON.parse((await readBody(req)).toString('utf8'));
      counters.published++;
      const doc = index.upsert({ ...article, updatedAt: clockMs(), version: 1 });
      return sendJson(res, 201, { id: doc.id });
    }
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, articles: index.articles.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- load: customers and writers ------------------------------------------------------------

const ballastMb = buildBallast();
// The CMS export loaded at start.
for (let i = 0; i < 400; i++) index.upsert(newArticle());
const { port } = await listen(handler);

/** A random existing article id. */
function someArticle() {
  return `kb-${(10_001 + Math.floor(random() * articleSeq)).toString(36)}`;
}

const customers = selfRequests(port, {
  perSecond: 2,
  maxInFlight: 8,
  next: () => {
    const roll = random();
    if (roll < 0.03) return { method: 'GET', path: '/healthz' };
    if (roll < 0.6) return { method: 'GET', path: `/v1/search?q=${encodeURIComponent(`${pick(VERBS)} ${pick(TOPICS)} ${random() < 0.5 ? pick(NOUNS) : ''}`)}` };
    return { method: 'GET', path: `/v1/articles/${someArticle()}` };
  },
});

// Writers: ~150 new articles an hour (plus ~30 edits) until 11:00, then ~60 edits an hour.
const writers = selfRequests(port, {
  perSecond: () => (programSeconds() < PUBLISHING_UNTIL_S ? 180 / 3600 : 60 / 3600),
  maxInFlight: 2,
  next: () => {
    const author = `writer-${1 + Math.floor(random() * 7)}`;
    if (programSeconds() < PUBLISHING_UNTIL_S && random() < 150 / 180) {
      return { method: 'POST', path: '/v1/articles', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...newArticle(), author }) };
    }
    const edit = { body: articleBody(), author };
    return { method: 'PUT', path: `/v1/articles/${someArticle()}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(edit) };
  },
});

reportStats(() => ({
  retained: index.articles.size,
  terms: index.postings.size,
  published: counters.published,
  edits: counters.edits,
  searches: counters.searches,
  requestsFailed: customers.failed + writers.failed,
}));

ready(
  `help-centre-search-index: help-centre search over an in-memory BM25 index; writers publish ~150 articles/h until 11:00 (3 h), then only edit in place (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
