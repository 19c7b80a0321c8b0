// Search service: the storefront's search box calls GET /v1/suggest?q=&locale=
// as the shopper types (debounced: every 1-3 keystrokes). Suggestions come
// from an in-memory query index (the ~9 500 queries shoppers actually search
// for, with popularity scores): whole-query prefix matches plus matches on a
// later word, ranked by popularity, top 8, each with a highlighted label and
// a localised search URL. Computing them scans the index, so the results are
// kept in class SuggestionCache (module-level `suggestionCache`: a Map from
// `${locale}:${normalisedPrefix}` to the suggestion list), an LRU capped at
// 11 000 prefixes. Real traffic keeps hitting new prefixes for hours (the
// long tail of what people type), so the cache fills over about three hours;
// then every new prefix evicts the least recently used one and the cache
// stays at its size. Healthy.
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

const random = rng(0x5ea2c4);

// --- the query index -------------------------------------------------------------

const MODIFIERS = ['wireless', 'usb', 'leather', 'organic', 'stainless', 'kids', 'vintage', 'portable', 'smart', 'waterproof', 'bamboo', 'ceramic', 'led', 'cotton', 'gaming', 'travel', 'mini', 'heavy duty', 'solar', 'foldable'];
const PRODUCTS = ['headphones', 'charger', 'backpack', 'coffee', 'water bottle', 'lamp', 'desk', 'keyboard', 'mouse', 'jacket', 'boots', 'tent', 'blender', 'kettle', 'speaker', 'camera', 'watch', 'sofa', 'pillow', 'rug', 'drill', 'bike', 'helmet', 'mug', 'notebook', 'printer', 'router', 'monitor', 'chair', 'shelf'];
const QUALIFIERS = ['', 'for men', 'for women', 'black', 'white', 'set', 'xl', 'pro', '2024', 'with case', 'replacement', 'refill', 'large', 'small', 'bundle'];
const CATEGORY_OF = Object.fromEntries(PRODUCTS.map((p, i) => [p, ['electronics', 'outdoor', 'home', 'kitchen', 'fashion', 'office'][i % 6]]));
const LOCALES = ['en', 'de', 'fr'];
const SEARCH_PATH = { en: '/search', de: '/de/suche', fr: '/fr/recherche' };

/** All queries the index knows, in popularity order (index 0 = most searched). */
const queries = [];
for (const m of MODIFIERS) for (const p of PRODUCTS) for (const q of QUALIFIERS) queries.push({ text: `${m} ${p}${q ? ` ${q}` : ''}`, category: CATEGORY_OF[p] });
for (const p of PRODUCTS) for (const q of QUALIFIERS) queries.push({ text: `${p}${q ? ` ${q}` : ''}`, category: CATEGORY_OF[p] });
for (let i = queries.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [queries[i], queries[j]] = [queries[j], queries[i]];
}
queries.forEach((query, rank) => {
  query.rank = rank;
  query.score = Math.round(1_000_000 / (1 + rank) ** 0.8);
});

/** Queries sorted by text, for whole-prefix lookups. */
const byText = [...queries].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
/** First two letters of any later word -> queries containing such a word. */
const byWordStart = new Map();
for (const query of queries) {
  const words = query.text.split(' ');
  for (let w = 1; w < words.length; w++) {
    const key = words[w].slice(0, 2);
    let list = byWordStart.get(key);
    if (list === undefined) byWordStart.set(key, (list = []));
    list.push(query);
  }
}

function normalise(q) {
  return q.toLowerCase().replace(/\s+/g, ' ').trimStart();
}

function lowerBound(prefix) {
  let lo = 0;
  let hi = byText.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byText[mid].text < prefix) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function highlight(text, start, length) {
  return `${text.slice(0, start)}<b>${text.slice(start, start + length)}</b>${text.slice(start + length)}`;
}

function toSuggestion(query, locale, start, length) {
  return {
    text: query.text,
    label: highlight(query.text, start, length),
    category: query.category,
    score: query.score,
    url: `${SEARCH_PATH[locale]}?q=${encodeURIComponent(query.text)}&src=ac`,
  };
}

/** Ranks the index's matches for a prefix: the top 8 suggestions. */
function computeSuggestions(prefix, locale) {
  const found = new Map(); // query -> match start
  for (let i = lowerBound(prefix); i < byText.length && byText[i].text.startsWith(prefix) && found.size < 400; i++) found.set(byText[i], 0);
  const lastSpace = prefix.lastIndexOf(' ');
  const word = prefix.slice(lastSpace + 1);
  if (word.length >= 2 && found.size < 8) {
    for (const query of byWordStart.get(word.slice(0, 2)) ?? []) {
      const at = query.text.indexOf(` ${word}`);
      if (at >= 0 && !found.has(query)) found.set(query, at + 1);
      if (found.size >= 400) break;
    }
  }
  const ranked = [...found.keys()].sort((a, b) => b.score - a.score).slice(0, 8);
  return ranked.map((query) => {
    const start = found.get(query);
    return toSuggestion(query, locale, start, start === 0 ? prefix.length : word.length);
  });
}

// --- the cache ---------------------------------------------------------------------

class SuggestionCache {
  constructor(maxEntries) {
    this.maxEntries = maxEntries;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
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
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value);
      this.evictions++;
    }
  }

  get size() {
    return this.entries.size;
  }
}

const suggestionCache = new SuggestionCache(11_000);
let fullAt = null;

function suggest(rawQuery, locale) {
  const prefix = normalise(rawQuery);
  const key = `${locale}:${prefix}`;
  let entry = suggestionCache.get(key);
  if (entry === undefined) {
    entry = { prefix, locale, suggestions: computeSuggestions(prefix, locale), computedAt: Math.round(programSeconds()) };
    suggestionCache.set(key, entry);
    if (fullAt === null && suggestionCache.size >= suggestionCache.maxEntries) fullAt = Math.round(programSeconds());
  }
  return entry;
}

// --- HTTP --------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'private, max-age=60' });
  res.end(text);
}

const counters = { suggests: 0, empty: 0 };

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://search.local');
  if (req.method === 'GET' && url.pathname === '/v1/suggest') {
    const q = url.searchParams.get('q') ?? '';
    const locale = LOCALES.includes(url.searchParams.get('locale')) ? url.searchParams.get('locale') : 'en';
    if (q.trim().length < 2) return sendJson(res, 400, { error: 'q must be at least 2 characters' });
    counters.suggests++;
    const entry = suggest(q, locale);
    if (entry.suggestions.length === 0) counters.empty++;
    return sendJson(res, 200, { q: entry.prefix, suggestions: entry.suggestions });
  }
  if (req.method === 'GET' && url.pathname === '/healthz') {
    return sendJson(res, 200, { ok: true, cached: suggestionCache.size, hits: suggestionCache.hits, misses: suggestionCache.misses });
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- shoppers typing (the load) -----------------------------------------------------

/** Pending keystroke requests of the shoppers currently typing. */
const typing = [];

function startTyping() {
  const query = queries[Math.floor(queries.length * random() ** 2.2)];
  const locale = LOCALES[Math.floor(random() ** 2 * LOCALES.length)];
  const stopAt = Math.min(query.text.length, 3 + Math.floor(random() * query.text.length));
  const typo = random() < 0.1;
  for (let n = 2; n <= stopAt; n += 1 + Math.floor(random() * 3)) {
    let typed = query.text.slice(0, n);
    if (random() < 0.15) typed = typed[0].toUpperCase() + typed.slice(1); // autocapitalised on mobile
    if (typo && n > 4) typed = `${typed.slice(0, -1)}${'etaoinsr'[Math.floor(random() * 8)]}`;
    typing.push({ typed, locale });
  }
}

function nextKeystroke() {
  if (random() < 0.02) return { method: 'GET', path: '/healthz' };
  if (typing.length === 0) startTyping();
  const { typed, locale } = typing.shift();
  return { method: 'GET', path: `/v1/suggest?q=${encodeURIComponent(typed)}&locale=${locale}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const shoppers = selfRequests(port, { perSecond: 3, next: nextKeystroke });

reportStats(() => ({
  retained: suggestionCache.size,
  hits: suggestionCache.hits,
  misses: suggestionCache.misses,
  evictions: suggestionCache.evictions,
  fullAt,
  suggests: counters.suggests,
  requestsFailed: shoppers.failed,
}));

ready(
  `search-autocomplete-suggestion-cache: 3 autocomplete req/s from typing shoppers, suggestions kept in an LRU of 11 000 prefixes that fills over ~3 h, then evicts (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
