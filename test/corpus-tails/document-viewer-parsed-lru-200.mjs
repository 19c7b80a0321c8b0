// Document viewer API of a contract-management product. Documents are stored
// as structured JSON in the blob store (sections, paragraphs of styled runs,
// clause tables, defined terms, comments; 150-450 KB each); opening one means
// fetching and parsing it and building its outline. Parsed documents are kept
// in class LruCache (`documentCache`, a Map in recency order, at most 200
// documents), since a reader who opens a document goes on to page through its
// sections, search it and look at its outline for a while.
//
// Readers open ~250 documents an hour from a long-tailed library of 5 000, so
// the cache fills over the first hour and then evicts one document for each
// new one: memory grows to ~200 parsed documents and stays there.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  listen,
  onShutdown,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xd0c5);
const LIBRARY_SIZE = 5_000;
const CACHE_DOCUMENTS = 200;

// --- the LRU -------------------------------------------------------------------

class LruCache {
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
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.lastUsedAt = programSeconds();
    this.hits++;
    return entry.value;
  }

  set(key, value) {
    this.entries.delete(key);
    this.entries.set(key, { value, storedAt: programSeconds(), lastUsedAt: programSeconds() });
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value);
      this.evictions++;
    }
  }

  get size() {
    return this.entries.size;
  }
}

const documentCache = new LruCache(CACHE_DOCUMENTS);
/** Loads in progress, so that concurrent readers of one document share a fetch. */
const loading = new Map();
const counters = { opens: 0, sectionReads: 0, searches: 0, fetched: 0, fetchedBytes: 0 };

// --- the blob store stand-in ----------------------------------------------------

const WORDS = ['agreement', 'party', 'supplier', 'customer', 'services', 'term', 'liability', 'indemnify', 'confidential', 'information', 'shall', 'termination', 'notice', 'payment', 'invoice', 'warranty', 'material', 'breach', 'reasonable', 'effort', 'including', 'without', 'limitation', 'applicable', 'law', 'data', 'processing', 'obligations', 'schedule', 'annex', 'fees', 'period'];
const STYLES = ['normal', 'normal', 'normal', 'bold', 'italic', 'defined-term', 'reference'];

function sentence(r, words) {
  const out = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(r() * WORDS.length)]);
  out[0] = out[0][0].toUpperCase() + out[0].slice(1);
  return `${out.join(' ')}.`;
}

/** The stored JSON of document `id` (deterministic per id; 150-450 KB). */
function blobText(id) {
  const r = rng(createHash('sha1').update(id).digest().readUInt32LE(0));
  const sectionCount = 12 + Math.floor(r() * 30);
  const target = 150_000 + r() * 300_000;
  const perSection = target / sectionCount;
  const sections = [];
  for (let s = 0; s < sectionCount; s++) {
    const paragraphs = [];
    let size = 0;
    for (let p = 0; size < perSection; p++) {
      const runs = [];
      for (let k = 0, n = 1 + Math.floor(r() * 5); k < n; k++) {
        const text = sentence(r, 6 + Math.floor(r() * 22));
        runs.push({ text, style: STYLES[Math.floor(r() * STYLES.length)] });
        size += text.length + 30;
      }
      paragraphs.push({ id: `p${s}.${p}`, number: `${s + 1}.${p + 1}`, runs, comments: r() < 0.05 ? [{ author: `user${Math.floor(r() * 90)}`, text: sentence(r, 10), resolved: r() < 0.5 }] : [] });
      size += 60;
    }
    const table = r() < 0.3 ? { columns: ['Item', 'Description', 'Fee', 'Period'], rows: Array.from({ length: 3 + Math.floor(r() * 12) }, (_, i) => [`${i + 1}`, sentence(r, 5), `${Math.floor(r() * 90_000)} EUR`, ['monthly', 'yearly', 'one-off'][i % 3]]) } : null;
    sections.push({ id: `s${s}`, heading: sentence(r, 3 + Math.floor(r() * 4)).slice(0, -1), level: s === 0 || r() < 0.8 ? 1 : 2, paragraphs, table });
  }
  return JSON.stringify({
    id,
    title: `${['Master Services Agreement', 'Data Processing Agreement', 'Supply Agreement', 'Non-Disclosure Agreement', 'Statement of Work'][Math.floor(r() * 5)]} ${id}`,
    version: 1 + Math.floor(r() * 9),
    parties: [{ name: `Counterparty ${Math.floor(r() * 4000)} GmbH`, role: 'supplier' }, { name: 'Example Holdings SE', role: 'customer' }],
    metadata: { language: 'en', jurisdiction: ['DE', 'UK', 'NL', 'FR'][Math.floor(r() * 4)], signedAt: `202${Math.floor(r() * 4)}-0${1 + Math.floor(r() * 9)}-1${Math.floor(r() * 9)}`, tags: [WORDS[Math.floor(r() * WORDS.length)], WORDS[Math.floor(r() * WORDS.length)]] },
    sections,
  });
}

function fetchBlob(id) {
  return new Promise((resolve) => setTimeout(() => resolve(blobText(id)), 5 + random() * 25));
}

// --- documents -----------------------------------------------------------------

function buildOutline(doc) {
  return doc.sections.map((s) => ({ id: s.id, heading: s.heading, level: s.level, paragraphs: s.paragraphs.length }));
}

function definedTerms(doc) {
  const terms = new Set();
  for (const section of doc.sections) for (const p of section.paragraphs) for (const run of p.runs) if (run.style === 'defined-term') terms.add(run.text.split(' ')[0]);
  return [...terms];
}

async function loadDocument(id) {
  const cached = documentCache.get(id);
  if (cached !== undefined) return cached;
  let pending = loading.get(id);
  if (pending === undefined) {
    pending = (async () => {
      const text = await fetchBlob(id);
      counters.fetched++;
      counters.fetchedBytes += text.length;
      const doc = JSON.parse(text);
      doc.outline = buildOutline(doc);
      doc.terms = definedTerms(doc);
      doc.sourceBytes = text.length;
      documentCache.set(id, doc);
      return doc;
    })().finally(() => loading.delete(id));
    loading.set(id, pending);
  }
  return pending;
}

function searchDocument(doc, query) {
  const hits = [];
  for (const section of doc.sections) {
    for (const p of section.paragraphs) {
      for (const run of p.runs) {
        if (run.text.includes(query)) {
          hits.push({ paragraph: p.number, snippet: run.text.slice(0, 80) });
          break;
        }
      }
      if (hits.length >= 20) return hits;
    }
  }
  return hits;
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://viewer.local');
  try {
    const m = /^\/v1\/documents\/(doc_[\w]+)(?:\/(outline|sections\/(\d+)|search))?$/.exec(url.pathname);
    if (req.method === 'GET' && m !== null) {
      const doc = await loadDocument(m[1]);
      if (m[2] === undefined) {
        counters.opens++;
        return sendJson(res, 200, { id: doc.id, title: doc.title, version: doc.version, parties: doc.parties, metadata: doc.metadata, outline: doc.outline, terms: doc.terms.length });
      }
      if (m[2] === 'outline') return sendJson(res, 200, doc.outline);
      if (m[2] === 'search') {
        counters.searches++;
        return sendJson(res, 200, { hits: searchDocument(doc, url.searchParams.get('q') ?? '') });
      }
      counters.sectionReads++;
      const section = doc.sections[Number(m[3])];
      return section === undefined ? sendJson(res, 404, { error: 'no such section' }) : sendJson(res, 200, section);
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, cached: documentCache.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- readers (the load) ----------------------------------------------------------

/** Documents readers have open right now: { id, sections, until } */
const openDocuments = [];

function docId(n) {
  return `doc_${createHash('sha1').update(`library:${n}`).digest('hex').slice(0, 12)}`;
}

function nextOpen() {
  // a long-tailed library: a popular head (templates, frame agreements) and thousands read now and then
  const id = docId(Math.floor(LIBRARY_SIZE * random() ** 3));
  openDocuments.push({ id, sections: 12, until: programSeconds() + 120 + random() * 900 });
  if (openDocuments.length > 60) openDocuments.shift();
  return { method: 'GET', path: `/v1/documents/${id}` };
}

function nextRead() {
  const now = programSeconds();
  while (openDocuments.length > 0 && openDocuments[0].until < now) openDocuments.shift();
  if (openDocuments.length === 0) return { method: 'GET', path: '/healthz' };
  const doc = openDocuments[Math.floor(random() * openDocuments.length)];
  const roll = random();
  if (roll < 0.7) return { method: 'GET', path: `/v1/documents/${doc.id}/sections/${Math.floor(random() * doc.sections)}` };
  if (roll < 0.85) return { method: 'GET', path: `/v1/documents/${doc.id}/outline` };
  return { method: 'GET', path: `/v1/documents/${doc.id}/search?q=${WORDS[Math.floor(random() * WORDS.length)]}` };
}

// --- start -------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~250 opens an hour; ~0.8 section reads, outline and search requests a second on open documents.
const opens = selfRequests(port, { perSecond: 0.07, maxInFlight: 4, next: nextOpen });
const reads = selfRequests(port, { perSecond: 0.8, maxInFlight: 8, next: nextRead });
onShutdown(() => loading.clear());

reportStats(() => {
  let sourceBytes = 0;
  for (const entry of documentCache.entries.values()) sourceBytes += entry.value.sourceBytes;
  return {
    retained: documentCache.size,
    sourceBytes,
    hits: documentCache.hits,
    misses: documentCache.misses,
    evictions: documentCache.evictions,
    opens: counters.opens,
    fetched: counters.fetched,
    requestsFailed: opens.failed + reads.failed,
  };
});

ready(
  `document-viewer-parsed-lru-200: parsed 150-450 KB documents in an LRU of ${CACHE_DOCUMENTS}, ~250 opens/h from a library of ${LIBRARY_SIZE}; fills over ~1 h, then evicts (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
