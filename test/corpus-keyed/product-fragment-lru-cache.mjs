// Fragment service of an online shop: the storefront's page renderer asks it
// for the HTML of product tiles (category listings and search results, 24 tiles
// a page: GET /v1/fragments/tiles?ids=...) and of the product-detail summary
// box (GET /v1/fragments/detail/:id). Rendered fragments are kept in class
// FragmentCache, an LRU over a Map (module-level `fragmentCache`, 20 000
// entries); the catalogue service invalidates fragments of products whose price
// or stock changed (POST /v1/fragments/invalidate). Healthy: the cache is full
// within minutes of a cold start and evicts from then on.
import {
  buildBallast, listen, programSeconds, readBody, ready, reportStats, rng, selfRequests,
} from '../corpus/lib/corpus.mjs';

const CACHE_ENTRIES = 20_000;
const PRODUCTS = 120_000;
const CATEGORIES = 500;                 // 240 products, 10 listing pages each
const PAGE_SIZE = 24;
const BRANDS = ['Nordvik', 'Altura', 'Brightline', 'Casa Verde', 'Kettleby', 'Lumo', 'Pinecrest', 'Solano', 'Tidewell', 'Urbanist'];
const NOUNS = ['desk lamp', 'garden chair', 'chef knife', 'wool throw', 'kettle', 'rain jacket', 'backpack', 'side table', 'planter', 'headphones'];
const COLOURS = ['graphite', 'sand', 'forest', 'oat', 'navy', 'terracotta', 'white', 'black'];
const EPOCH_MS = Date.UTC(2024, 10, 22, 8);
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);

// --- the cache --------------------------------------------------------------
class FragmentCache {
  constructor(capacity) {
    this.capacity = capacity;
    this.entries = new Map(); // key -> { html, etag, renderedAt }
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
    this.entries.delete(key); // move to the most-recently-used end
    this.entries.set(key, entry);
    this.hits++;
    return entry;
  }

  set(key, entry) {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value);
      this.evictions++;
    }
  }

  delete(key) {
    return this.entries.delete(key);
  }
}

const fragmentCache = new FragmentCache(CACHE_ENTRIES);
const metrics = { tileRequests: 0, detailRequests: 0, rendered: 0, invalidated: 0 };

// --- product data (stand-in for the catalogue read model) --------------------
const priceChanges = new Map(); // id -> cents, the few products repriced since start

function loadProduct(id) {
  const brand = BRANDS[id % BRANDS.length];
  const noun = NOUNS[(id >> 3) % NOUNS.length];
  const base = 990 + ((id * 7919) % 24_000);
  return {
    id, brand, slug: `${brand.toLowerCase().replace(' ', '-')}-${noun.replace(' ', '-')}-${id}`,
    title: `${brand} ${noun} ${COLOURS[id % COLOURS.length]}, model ${(id % 900) + 100}`,
    priceCents: priceChanges.get(id) ?? base, listCents: id % 4 === 0 ? Math.round(base * 1.25) : null,
    rating: 3 + ((id * 13) % 20) / 10, reviews: (id * 31) % 1400, stock: (id * 17) % 60,
    colours: COLOURS.slice(id % 5, (id % 5) + 1 + (id % 3)),
  };
}

const money = (cents) => `€${Math.floor(cents / 100)},${String(cents % 100).padStart(2, '0')}`;

function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16);
}

function renderTile(p) {
  const img = `https://img.example-shop.eu/p/${p.id}/${p.slug}`;
  return `<article class="tile" data-sku="${p.id}"><a href="/p/${p.slug}"><picture>` +
    `<source type="image/avif" srcset="${img}-240.avif 240w, ${img}-360.avif 360w, ${img}-480.avif 480w">` +
    `<img src="${img}-360.jpg" srcset="${img}-240.jpg 240w, ${img}-360.jpg 360w, ${img}-480.jpg 480w" sizes="(max-width: 600px) 50vw, 240px" alt="${p.title}" loading="lazy"></picture>` +
    `<h3 class="tile__title">${p.title}</h3></a><p class="tile__brand">${p.brand}</p>` +
    `<p class="tile__price">${p.listCents ? `<s>${money(p.listCents)}</s> ` : ''}<strong>${money(p.priceCents)}</strong></p>` +
    `<p class="tile__rating" aria-label="${p.rating.toFixed(1)} out of 5">${'★'.repeat(Math.round(p.rating))} (${p.reviews})</p>` +
    `<ul class="tile__colours">${p.colours.map((c) => `<li class="swatch swatch--${c}" title="${c}"></li>`).join('')}</ul>` +
    `<p class="tile__stock">${p.stock > 5 ? 'In stock' : p.stock > 0 ? `Only ${p.stock} left` : 'Back soon'}</p>` +
    `<button class="tile__add" data-sku="${p.id}" ${p.stock === 0 ? 'disabled' : ''}>Add to basket</button></article>`;
}

function renderDetail(p) {
  const bullets = [`Designed by ${p.brand}`, `Available in ${p.colours.join(', ')}`, `Free returns within 30 days`, `Ships in ${1 + (p.id % 4)} working days`];
  return `<section class="buybox" data-sku="${p.id}"><h1>${p.title}</h1><p class="buybox__brand"><a href="/b/${p.brand.toLowerCase()}">${p.brand}</a></p>` +
    `<p class="buybox__price">${money(p.priceCents)} <small>incl. VAT</small></p>` +
    `<ul class="buybox__bullets">${bullets.map((b) => `<li>${b}</li>`).join('')}</ul>` +
    `<form action="/basket" method="post"><input type="hidden" name="sku" value="${p.id}"><select name="colour">` +
    `${p.colours.map((c) => `<option value="${c}">${c}</option>`).join('')}</select><button>Add to basket</button></form>` +
    `<p class="buybox__stock">${p.stock} in stock, ${p.reviews} reviews, rated ${p.rating.toFixed(1)}</p></section>`;
}

function fragmentFor(kind, id) {
  const key = `${kind}:${id}`;
  const cached = fragmentCache.get(key);
  if (cached !== undefined) return cached;
  const product = loadProduct(id);
  const html = kind === 'tile' ? renderTile(product) : renderDetail(product);
  const entry = { html, etag: `"${fnv1a(html)}"`, renderedAt: nowMs() };
  fragmentCache.set(key, entry);
  metrics.rendered++;
  return entry;
}

// --- HTTP API ---------------------------------------------------------------
async function handle(req, res) {
  const url = new URL(req.url, 'http://fragments.internal');
  if (req.method === 'GET' && url.pathname === '/v1/fragments/tiles') {
    const ids = url.searchParams.get('ids').split(',').map(Number);
    const html = ids.map((id) => fragmentFor('tile', id).html).join('\n');
    metrics.tileRequests++;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'private, max-age=60' });
    return res.end(html);
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/fragments/detail/')) {
    const entry = fragmentFor('detail', Number(url.pathname.slice('/v1/fragments/detail/'.length)));
    metrics.detailRequests++;
    if (req.headers['if-none-match'] === entry.etag) return res.writeHead(304).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', etag: entry.etag });
    return res.end(entry.html);
  }
  if (req.method === 'POST' && url.pathname === '/v1/fragments/invalidate') {
    const { changes } = JSON.parse((await readBody(req)).toString('utf8'));
    for (const { id, priceCents } of changes) {
      if (priceCents !== undefined) priceChanges.set(id, priceCents);
      if (fragmentCache.delete(`tile:${id}`)) metrics.invalidated++;
      if (fragmentCache.delete(`detail:${id}`)) metrics.invalidated++;
    }
    return res.writeHead(204).end();
  }
  if (url.pathname === '/healthz') return res.end('ok');
  res.writeHead(404).end();
}

// --- storefront renderer and catalogue service (in-process clients) ------------
const random = rng(1122);

function nextPageView() {
  const ids = [];
  if (random() < 2 / 3) { // a category listing, popular categories and first pages most
    const first = Math.floor(CATEGORIES * random() ** 2.2) * 240 + Math.floor(10 * random() ** 3) * PAGE_SIZE;
    for (let i = 0; i < PAGE_SIZE; i++) ids.push(first + i);
  } else { // search results: popular products from all over the catalogue
    for (let i = 0; i < PAGE_SIZE; i++) ids.push(Math.floor(PRODUCTS * random() ** 3));
  }
  return { method: 'GET', path: `/v1/fragments/tiles?ids=${ids.join(',')}` };
}

const nextDetailView = () => ({ method: 'GET', path: `/v1/fragments/detail/${Math.floor(PRODUCTS * random() ** 2.5)}` });

function nextCatalogueChange() {
  const changes = [];
  for (let n = 1 + Math.floor(random() * 8); n > 0; n--) {
    const id = Math.floor(PRODUCTS * random() ** 1.5);
    changes.push(random() < 0.6 ? { id, priceCents: 990 + Math.floor(random() * 24_000) } : { id });
  }
  return { method: 'POST', path: '/v1/fragments/invalidate', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ changes }) };
}

// --- main -------------------------------------------------------------------
const ballastMb = buildBallast();
const { server, port } = await listen((req, res) => {
  handle(req, res).catch(() => res.writeHead(400).end());
});
server.keepAliveTimeout = 65_000; // longer than the load balancer's idle timeout
server.headersTimeout = 66_000;
const pages = selfRequests(port, { perSecond: 3, next: nextPageView });
const details = selfRequests(port, { perSecond: 1.5, next: nextDetailView });
const catalogue = selfRequests(port, { perSecond: 0.1, next: nextCatalogueChange, maxInFlight: 2 });

ready(`product fragment cache: LRU over a Map capped at ${CACHE_ENTRIES} rendered tiles and buy boxes; port ${port}; ballast ${ballastMb} MB`);
reportStats(() => ({
  retained: fragmentCache.entries.size,
  hits: fragmentCache.hits,
  misses: fragmentCache.misses,
  evictions: fragmentCache.evictions,
  ...metrics,
  failed: pages.failed + details.failed + catalogue.failed,
}));
