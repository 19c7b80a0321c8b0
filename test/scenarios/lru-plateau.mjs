// Healthy: an LRU cache that warms up, then plateaus.
//
// A product service looks products up through a 20 000-entry LRU in front of
// a (simulated) database. Keys are drawn uniformly from 200 000 products, so
// the cache starts empty, fills over ~15 s at speed 1 (≈ 1.2 MB/s of heap
// growth at first, slowing down), then stays at its capacity while evicted
// entries become garbage: a warm-up ramp a naive slope alert mistakes for a
// leak, followed by a flat floor of ~20 MB.
// stats: retained = entries in the LRU (exactly 20 000 once warm).
import { paced, ready, reportStats } from './lib/scenario.mjs';

const LOOKUPS_PER_SECOND = 1_500;
const CAPACITY = 20_000;
const PRODUCTS = 200_000;
const PRICE_HISTORY_DAYS = 100;

class LruCache {
  constructor(capacity) {
    this.capacity = capacity;
    this.entries = new Map(); // insertion order = recency order
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  get(key) {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key, value) {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value);
      this.evictions++;
    }
  }
}

const products = new LruCache(CAPACITY);

function loadProduct(id) {
  const priceHistory = new Array(PRICE_HISTORY_DAYS);
  for (let day = 0; day < PRICE_HISTORY_DAYS; day++) priceHistory[day] = 10 + ((id * 13 + day) % 500) / 10;
  return { id, name: `product ${id}`, stock: id % 50, priceHistory };
}

function getProduct(id) {
  let product = products.get(id);
  if (product === undefined) {
    product = loadProduct(id);
    products.set(id, product);
  }
  return product;
}

let checksum = 0;
paced(LOOKUPS_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) {
    const product = getProduct(Math.floor(Math.random() * PRODUCTS));
    // Rendering the product page is per-request garbage.
    const page = { id: product.id, title: product.name.toUpperCase(), recent: product.priceHistory.slice(-7) };
    checksum = (checksum + page.recent.length + page.title.length) | 0;
  }
});
reportStats(() => ({
  retained: products.entries.size,
  hits: products.hits,
  misses: products.misses,
  evictions: products.evictions,
}));
ready(`lru-plateau: LRU of ${CAPACITY} entries over ${PRODUCTS} products`);
