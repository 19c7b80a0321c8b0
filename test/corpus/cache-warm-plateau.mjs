// Healthy, slow warm-up: a profile API in front of a slow user store, with a
// bounded LRU cache (40 000 profiles) that takes ~40 minutes to fill and then
// stays at capacity, evicting the least recently used profile on each miss.
//
// GET /v1/users/:id/profile: on a miss the profile is loaded from the
// (simulated) store and cached. User ids are spread over 2 million accounts,
// so almost every request is a miss while the cache warms; once full, the
// heap floor is flat (entries replaced one for one).
//
// Speed 1: 21 req/s, ~1.45 KB per profile → fills to ~58 MB over ~36 min
// (~36 s at SCENARIO_SPEED=60). The Map's hash table grows once more after
// ~25 000 evictions (deleted slots count against its capacity; ~1.7 MB at
// ~55 min); flat from ~1 h on.
// stats: retained = profiles in the LRU.
import { buildBallast, listen, ready, reportStats, rng, selfRequests } from './lib/corpus.mjs';

const REQUESTS_PER_SECOND = 21;
const CAPACITY = 40_000;
const ACCOUNTS = 2_000_000;

class LruCache {
  constructor(capacity) {
    this.capacity = capacity;
    this.entries = new Map();
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
    if (this.entries.has(key)) this.entries.delete(key);
    else if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value);
      this.evictions++;
    }
    this.entries.set(key, value);
  }

  get size() {
    return this.entries.size;
  }
}

const profiles = new LruCache(CAPACITY);
const COUNTRIES = ['DE', 'AT', 'CH', 'FR', 'NL', 'PL', 'SE', 'IT'];

async function loadProfile(userId) {
  await new Promise((resolve) => setImmediate(resolve)); // the user store round trip
  const addresses = [];
  for (let i = 0; i < 2; i++) {
    addresses.push({ kind: i === 0 ? 'billing' : 'shipping', street: `Hauptstraße ${(userId % 200) + i}`, city: `City ${userId % 500}`, zip: String(10000 + (userId % 89999)), country: COUNTRIES[userId % COUNTRIES.length] });
  }
  const recentOrders = [];
  for (let i = 0; i < 6; i++) recentOrders.push({ orderId: `o-${userId}-${i}`, totalCents: 1000 + ((userId * (i + 3)) % 50_000), status: i === 0 ? 'shipped' : 'delivered' });
  return {
    userId,
    displayName: `User ${userId}`,
    email: `user${userId}@example.test`,
    locale: userId % 3 === 0 ? 'en-GB' : 'de-DE',
    tier: userId % 10 === 0 ? 'gold' : 'standard',
    createdAt: 1_500_000_000_000 + userId * 1000,
    preferences: { newsletter: userId % 2 === 0, smsAlerts: userId % 5 === 0, theme: 'system', currency: 'EUR' },
    addresses,
    recentOrders,
    loyaltyPoints: userId % 12_000,
  };
}

async function getProfile(userId) {
  let profile = profiles.get(userId);
  if (profile === undefined) {
    profile = await loadProfile(userId);
    profiles.set(userId, profile);
  }
  return profile;
}

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  const match = /^\/v1\/users\/(\d+)\/profile$/.exec(req.url);
  if (match === null) return res.writeHead(404).end();
  const profile = await getProfile(Number(match[1]));
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(profile));
});

const random = rng(11);
selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: () => ({ method: 'GET', path: `/v1/users/${Math.floor(random() * ACCOUNTS)}/profile` }) });

reportStats(() => ({ retained: profiles.size, hits: profiles.hits, misses: profiles.misses, evictions: profiles.evictions, ballastMB }));
ready(`cache-warm-plateau: LRU of ${CAPACITY} profiles, fills over ~40 min (speed 1), then flat`);
