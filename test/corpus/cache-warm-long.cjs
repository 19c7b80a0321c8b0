// Healthy, very slow warm-up: a storefront that caches rendered product pages
// in a module-level Map with no eviction. The catalogue is finite (15 000
// products), so the cache fills over ~2.5 hours of traffic and then plateaus:
// every page is cached and nothing new is added.
//
// GET /p/:productId renders the page on the first request (HTML around 6 KB)
// and serves it from `pageCache` afterwards. Requests spread over the whole
// catalogue (shoppers plus a sitemap crawler), so the number of cached pages
// follows 1 − e^(−t/τ) with τ ≈ 33 min: 95 % after ~1.6 h, 99 % after 2.5 h.
//
// Speed 1: 7.7 req/s; ~6 KB per page → plateau ~90 MB after ~2.5 h (~2.5 min
// at SCENARIO_SPEED=60); flat afterwards.
// stats: retained = pages in pageCache.
'use strict';

const PRODUCTS = 15_000;
const REQUESTS_PER_SECOND = 7.7;

const pageCache = new Map();
const counters = { hits: 0, renders: 0 };
const CATEGORIES = ['Garden', 'Kitchen', 'Outdoor', 'Office', 'Lighting', 'Tools', 'Audio', 'Bath'];

function productFor(id) {
  return {
    id,
    name: `${CATEGORIES[id % CATEGORIES.length]} product ${id}`,
    priceCents: 499 + ((id * 7919) % 60_000),
    rating: 3 + (id % 20) / 10,
    bullets: [`Durable ${CATEGORIES[id % 8].toLowerCase()} design`, `${1 + (id % 5)} year warranty`, `Ships in ${1 + (id % 3)} days`, 'Free returns within 30 days'],
  };
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

function renderProductPage(id) {
  const product = productFor(id);
  const parts = ['<!doctype html><html lang="de"><head><meta charset="utf-8">'];
  parts.push(`<title>${escapeHtml(product.name)} | Example Shop</title><link rel="canonical" href="https://shop.example/p/${id}">`);
  parts.push('<link rel="stylesheet" href="/static/app.4f9a1c.css"></head><body><header class="site-header"><nav>');
  for (const category of CATEGORIES) parts.push(`<a href="/c/${category.toLowerCase()}">${category}</a>`);
  parts.push(`</nav></header><main><h1>${escapeHtml(product.name)}</h1>`);
  parts.push(`<p class="price">${(product.priceCents / 100).toFixed(2)} €</p><p class="rating">${product.rating.toFixed(1)} / 5</p><ul>`);
  for (const bullet of product.bullets) parts.push(`<li>${escapeHtml(bullet)}</li>`);
  parts.push('</ul><section class="related"><h2>Customers also bought</h2>');
  for (let i = 1; i <= 12; i++) {
    const related = productFor((id + i * 37) % PRODUCTS);
    parts.push(`<article><a href="/p/${related.id}"><img src="/img/${related.id}.webp" alt="${escapeHtml(related.name)}" loading="lazy"><span>${escapeHtml(related.name)}</span><b>${(related.priceCents / 100).toFixed(2)} €</b></a></article>`);
  }
  parts.push(`</section></main><footer>© Example Shop · <a href="/impressum">Impressum</a></footer><script type="application/ld+json">${JSON.stringify({ '@type': 'Product', sku: id, name: product.name, offers: { price: product.priceCents / 100, priceCurrency: 'EUR' } })}</script></body></html>`);
  return parts.join('\n');
}

function productPage(id) {
  const cached = pageCache.get(id);
  if (cached !== undefined) {
    counters.hits++;
    return cached;
  }
  const html = renderProductPage(id);
  pageCache.set(id, html);
  counters.renders++;
  return html;
}

async function main() {
  const lib = await import('./lib/corpus.mjs');
  const ballastMB = lib.buildBallast();
  const { port } = await lib.listen((req, res) => {
    const match = /^\/p\/(\d+)$/.exec(req.url);
    if (match === null || Number(match[1]) >= PRODUCTS) return res.writeHead(404).end();
    const html = productPage(Number(match[1]));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  const random = lib.rng(12);
  lib.selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: () => ({ method: 'GET', path: `/p/${Math.floor(random() * PRODUCTS)}` }) });
  lib.reportStats(() => ({ retained: pageCache.size, hits: counters.hits, ballastMB }));
  lib.ready(`cache-warm-long: ${PRODUCTS} product pages cached without eviction, full after ~2.5 h (speed 1)`);
}

main();
