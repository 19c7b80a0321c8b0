// cache-hour-plateau — product-card renderer behind a bounded LRU (healthy).
//
// A widget service renders product cards (an HTML fragment plus metadata) for
// the recommendation slots on partner sites: 12 render requests/s at speed 1.
// 30 % of them are for ~2 000 best-sellers, the rest for the long tail of a
// 3-million-item catalogue, so almost every long-tail request is a miss. Rendered
// cards go into a class-based LRU (`cardCache`, a Map in recency order) with
// maxEntries 32 000: ~2 000 hot cards within minutes, then ~8.4 new cards/s,
// so the cache fills in about an hour (~3 600 s at speed 1) to ~54 MB and from
// then on evicts the least recently used card for every new one: the heap
// floor is flat after ~1 h.
//
// `retained` = entries in the LRU.
import { buildBallast, paced, ready, reportStats, rng } from '../corpus/lib/corpus.mjs';

const RENDERS_PER_SECOND = 12;
const HOT_SHARE = 0.3;
const HOT_ITEMS = 2_000;
const CATALOGUE_SIZE = 3_000_000;
const MAX_CARDS = 32_000;

class LruCache {
  constructor(maxEntries) {
    this.maxEntries = maxEntries;
    this.map = new Map();
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  get(key) {
    const value = this.map.get(key);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key, value) {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.maxEntries) {
      this.map.delete(this.map.keys().next().value);
      this.evictions++;
    }
    this.map.set(key, value);
  }

  get size() {
    return this.map.size;
  }
}

const cardCache = new LruCache(MAX_CARDS);

// --- rendering -------------------------------------------------------------------

const BRANDS = ['Nordlys', 'Kettle & Co', 'Brightline', 'Oakmoor', 'Veloce', 'Quiet Fox', 'Halden'];
const NOUNS = ['lamp', 'kettle', 'backpack', 'chair', 'speaker', 'jacket', 'blender', 'tent', 'watch'];
const ADJECTIVES = ['compact', 'wireless', 'recycled', 'foldable', 'waterproof', 'classic', 'smart'];

function productFields(id) {
  let h = Math.imul(id ^ 0x27d4eb2d, 0x165667b1) >>> 0;
  const pick = (list) => {
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
    return list[h % list.length];
  };
  return {
    brand: pick(BRANDS),
    name: `${pick(ADJECTIVES)} ${pick(NOUNS)}`,
    priceCents: 999 + (h % 40_000),
    rating: 30 + (h % 21),
    reviews: h % 3_000,
  };
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}

function renderCard(id, locale) {
  const p = productFields(id);
  const price = (p.priceCents / 100).toFixed(2);
  const html = [
    `<article class="pc" data-id="${id}" data-locale="${locale}">`,
    `<a class="pc__link" href="https://shop.example.com/${locale}/p/${id}?utm_source=widget&utm_medium=reco">`,
    `<img class="pc__img" loading="lazy" src="https://img.example.com/p/${id % 1000}/${id}_320.webp"`,
    ` srcset="https://img.example.com/p/${id % 1000}/${id}_320.webp 1x, https://img.example.com/p/${id % 1000}/${id}_640.webp 2x"`,
    ` alt="${escapeHtml(p.brand)} ${escapeHtml(p.name)}" width="320" height="320">`,
    `<span class="pc__brand">${escapeHtml(p.brand)}</span>`,
    `<h3 class="pc__name">${escapeHtml(p.name)}</h3>`,
    `<span class="pc__price" itemprop="price" content="${price}">€ ${price}</span>`,
    `<span class="pc__rating" aria-label="${(p.rating / 10).toFixed(1)} of 5">${'★'.repeat(Math.round(p.rating / 10))}</span>`,
    `<span class="pc__reviews">${p.reviews} reviews</span>`,
    '</a></article>',
  ].join('');
  return {
    id,
    locale,
    html,
    etag: `W/"${id.toString(16)}-${p.priceCents.toString(16)}"`,
    renderedAt: Date.now(),
    priceCents: p.priceCents,
  };
}

const LOCALES = ['nl-NL', 'de-DE', 'en-GB'];
const counters = { served: 0, bytes: 0 };

function serveCard(id) {
  const locale = LOCALES[id % LOCALES.length];
  let card = cardCache.get(id);
  if (card === undefined) {
    card = renderCard(id, locale);
    cardCache.set(id, card);
  }
  counters.served++;
  counters.bytes += card.html.length;
  return card;
}

// --- start -------------------------------------------------------------------

buildBallast();
const random = rng(0xcac4e);
paced(RENDERS_PER_SECOND, (n) => {
  for (let i = 0; i < n; i++) {
    const id =
      random() < HOT_SHARE ? 1 + Math.floor(random() * HOT_ITEMS) : HOT_ITEMS + 1 + Math.floor(random() * CATALOGUE_SIZE);
    serveCard(id);
  }
});

reportStats(() => ({
  retained: cardCache.size,
  hits: cardCache.hits,
  misses: cardCache.misses,
  evictions: cardCache.evictions,
}));
ready(`cache-hour-plateau: ${RENDERS_PER_SECOND} renders/s at speed 1, LRU of ${MAX_CARDS} cards fills in about an hour`);
