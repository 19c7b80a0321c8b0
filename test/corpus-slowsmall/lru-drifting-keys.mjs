// lru-drifting-keys: the listing-detail API of a classifieds marketplace. New
// listings are posted all the time and views go mostly to fresh ones, so the
// set of popular keys drifts steadily towards the newest listings; a tenth of
// the views are deep links into the older backlog. Listing details come from a
// slow listings database (tens of ms per read, concurrent reads of the same id
// coalesced) and are kept in an LRU capped at 4 800 entries. At steady traffic
// the LRU takes about 90 minutes to fill and then stays full, evicting the
// least recently viewed listing for each new one. Healthy.
import {
  buildBallast,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 3; // speed 1
const LRU_MAX_ENTRIES = 4800;
const NEW_LISTINGS_PER_SECOND = 0.4; // speed 1
const BACKLOG_LISTINGS = 120_000; // listings already live when the process starts
const MEAN_VIEW_AGE_S = 1200; // views go to listings ~20 min old on average
const DEEP_LINK_SHARE = 0.1;

// --- LRU ----------------------------------------------------------------------------

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
    this.map.delete(key);
    this.map.set(key, value);
    this.hits++;
    return value;
  }

  set(key, value) {
    if (this.map.has(key)) this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.maxEntries) {
      this.map.delete(this.map.keys().next().value);
      this.evictions++;
    }
  }
}

const listingCache = new LruCache(LRU_MAX_ENTRIES);

// --- Listings database (slow backend) -------------------------------------------------------

const CATEGORIES = ['bikes', 'furniture', 'phones', 'cars', 'books', 'garden', 'baby', 'tools', 'fashion', 'gaming'];
const CITIES = ['Leeds', 'Bristol', 'Glasgow', 'Cardiff', 'Belfast', 'Norwich', 'York', 'Brighton', 'Exeter', 'Dundee'];
const ADJECTIVES = ['barely used', 'vintage', 'like new', 'boxed', 'spares or repair', 'collection only', 'great condition', 'must go'];

/** Reads one listing from the database; the row is generated from its id. */
function fetchListing(id) {
  return new Promise((resolve) => {
    setTimeout(() => resolve(loadListingRow(id)), 25 + Math.random() * 90);
  });
}

function loadListingRow(id) {
  const r = rng(id);
  const category = CATEGORIES[id % CATEGORIES.length];
  const adjective = ADJECTIVES[Math.floor(r() * ADJECTIVES.length)];
  const photos = [];
  for (let i = 0, n = 1 + Math.floor(r() * 6); i < n; i++) photos.push(`https://img.example-market.co.uk/l/${id}/${i}_${Math.floor(r() * 1e8).toString(36)}.jpg`);
  return {
    id,
    title: `${adjective} ${category} item #${id}`,
    description: `Selling my ${category} item, ${adjective}. ${('Collection from ' + CITIES[id % CITIES.length] + ' or can post. ').repeat(1 + Math.floor(r() * 4))}Reference ${id.toString(36)}.`,
    priceCents: 500 + Math.floor(r() * 50_000),
    currency: 'GBP',
    category,
    location: { city: CITIES[id % CITIES.length], postcodeArea: `${String.fromCharCode(65 + (id % 26))}${1 + (id % 20)}` },
    seller: { id: `s${Math.floor(r() * 400_000)}`, name: `seller${Math.floor(r() * 9999)}`, rating: Math.round(r() * 50) / 10, memberSince: 2010 + Math.floor(r() * 15) },
    photos,
    postedAt: new Date(Date.now() - Math.floor(r() * 3.6e6)).toISOString(),
    views: Math.floor(r() * 900),
  };
}

/** id -> pending read, so concurrent views of one listing share a database read. */
const inflight = new Map();

async function getListing(id) {
  const cached = listingCache.get(id);
  if (cached !== undefined) return cached;
  let pending = inflight.get(id);
  if (pending === undefined) {
    pending = fetchListing(id).then((listing) => {
      inflight.delete(id);
      listingCache.set(id, listing);
      return listing;
    });
    inflight.set(id, pending);
  }
  return pending;
}

// --- HTTP -------------------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function newestListingId() {
  return BACKLOG_LISTINGS + Math.floor(programSeconds() * NEW_LISTINGS_PER_SECOND);
}

async function handler(req, res) {
  const match = /^\/v1\/listings\/(\d+)$/.exec(req.url);
  if (req.method !== 'GET' || match === null) return sendJson(res, 404, { error: 'no route' });
  const id = Number(match[1]);
  if (id < 1 || id > newestListingId()) return sendJson(res, 404, { error: 'no such listing' });
  const listing = await getListing(id);
  sendJson(res, 200, listing);
}

// --- Shoppers (simulated clients) ----------------------------------------------------------------

const random = rng(0x11a7);

function pickListing() {
  const newest = newestListingId();
  if (random() < DEEP_LINK_SHARE) return 1 + Math.floor(random() * newest);
  const ageSeconds = -Math.log(1 - random()) * MEAN_VIEW_AGE_S;
  return Math.max(1, newest - Math.floor(ageSeconds * NEW_LISTINGS_PER_SECOND));
}

// --- Start ----------------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);
const client = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: () => ({ method: 'GET', path: `/v1/listings/${pickListing()}` }) });

reportStats(() => ({
  retained: listingCache.map.size,
  cacheEntries: listingCache.map.size,
  hits: listingCache.hits,
  misses: listingCache.misses,
  evictions: listingCache.evictions,
  inflight: inflight.size,
  newestListing: newestListingId(),
  requests: client.completed,
  failed: client.failed,
}));

ready(`lru-drifting-keys: classifieds listing API, ${REQUESTS_PER_SECOND} req/s, views drift to new listings; LRU of ${LRU_MAX_ENTRIES} listings fills in ~90 min, then evicts; ballast ${ballastMb} MB`);
