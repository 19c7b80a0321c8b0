// Timeline service of a community forum app: GET /v1/timeline returns a page
// of posts with each post's author profile (display name, avatar, badges,
// bio, counters) resolved from the profile service. Profiles are cached in a
// hand-written LRU (class ProfileLru): a Map from user id to a node of a
// doubly linked list (prev/next, head = most recent, tail = least recent);
// get() moves the node to the head, set() inserts at the head and, once the
// cache holds its 25 000 entries, unlinks and deletes the tail, one eviction
// per insert.
//
// Authors follow a heavy-tailed popularity over 400 000 accounts (a few very
// active posters, a long tail), ~0.8 timeline pages/s with ~15 authors each:
// the cache fills in roughly the first 40 minutes and from then on stays at
// its cap, evicting about as many profiles as it loads.
import {
  buildBallast,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x1ee7);
const USERS = 400_000;
const CACHE_ENTRIES = 25_000;

// --- the LRU -------------------------------------------------------------------------------

class LruNode {
  constructor(key, value) {
    this.key = key;
    this.value = value;
    this.prev = null;
    this.next = null;
  }
}

class ProfileLru {
  constructor(capacity) {
    this.capacity = capacity;
    this.map = new Map();
    this.head = null;
    this.tail = null;
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  get size() {
    return this.map.size;
  }

  unlink(node) {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = null;
    node.next = null;
  }

  pushFront(node) {
    node.next = this.head;
    if (this.head) this.head.prev = node;
    this.head = node;
    if (!this.tail) this.tail = node;
  }

  get(key) {
    const node = this.map.get(key);
    if (node === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (node !== this.head) {
      this.unlink(node);
      this.pushFront(node);
    }
    return node.value;
  }

  set(key, value) {
    const existing = this.map.get(key);
    if (existing !== undefined) {
      existing.value = value;
      if (existing !== this.head) {
        this.unlink(existing);
        this.pushFront(existing);
      }
      return;
    }
    const node = new LruNode(key, value);
    this.map.set(key, node);
    this.pushFront(node);
    if (this.map.size > this.capacity) {
      const oldest = this.tail;
      this.unlink(oldest);
      this.map.delete(oldest.key);
      this.evictions++;
    }
  }
}

const profileCache = new ProfileLru(CACHE_ENTRIES);

// --- profile service stand-in ----------------------------------------------------------------

const FIRST = ['Ana', 'Bram', 'Chloe', 'Dev', 'Elif', 'Femi', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kofi', 'Lena', 'Mateo', 'Noor'];
const TOPICS = ['woodworking', 'sourdough', 'cycling', 'retro games', 'houseplants', 'astronomy', 'knitting', 'climbing', 'jazz', 'home automation'];
const BADGES = ['early-adopter', 'helpful', 'moderator', 'top-poster', 'verified', 'photographer'];
const profileService = { calls: 0, bytes: 0 };

/** The profile service's JSON for one user (what GET /users/:id returns). */
function profileDocument(userId) {
  const n = userId * 2654435761 >>> 0;
  const name = `${FIRST[n % FIRST.length]} ${String.fromCharCode(65 + (n % 26))}.`;
  return JSON.stringify({
    id: `u${userId}`,
    handle: `${FIRST[n % FIRST.length].toLowerCase()}_${(n % 100000).toString(36)}`,
    displayName: name,
    avatar: { url: `https://img.forum.example/a/${userId}/${(n % 4096).toString(16)}.webp`, width: 96, height: 96 },
    bio: `Into ${TOPICS[n % TOPICS.length]} and ${TOPICS[(n >> 4) % TOPICS.length]}. Posting since ${2012 + (n % 12)}. ${'Opinions are my own. '.repeat(1 + (n % 3))}`,
    badges: BADGES.filter((_, i) => (n >> i) & 1).slice(0, 3),
    counters: { posts: n % 5000, followers: n % 12000, following: n % 800 },
    joinedAt: new Date(1_300_000_000_000 + (n % 400_000_000) * 1000).toISOString(),
  });
}

function fetchProfile(userId) {
  return new Promise((resolve) => {
    setTimeout(() => {
      const text = profileDocument(userId);
      profileService.calls++;
      profileService.bytes += text.length;
      resolve(text);
    }, scaledMs(0.015 + random() * 0.03));
  });
}

function toProfile(text) {
  const doc = JSON.parse(text);
  doc.badgeCount = doc.badges.length;
  doc.cachedAt = programSeconds();
  return doc;
}

async function resolveAuthor(userId) {
  const cached = profileCache.get(userId);
  if (cached !== undefined) return cached;
  const profile = toProfile(await fetchProfile(userId));
  profileCache.set(userId, profile);
  return profile;
}

// --- HTTP ------------------------------------------------------------------------------------------

function send(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function authorView(profile) {
  return { id: profile.id, name: profile.displayName, handle: profile.handle, avatar: profile.avatar.url, badges: profile.badges };
}

let postSeq = 0;

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://timeline.local');
  if (url.pathname === '/healthz') return send(res, 200, { ok: true, cached: profileCache.size });
  if (url.pathname !== '/v1/timeline') return send(res, 404, { error: 'not found' });
  const authors = (url.searchParams.get('authors') ?? '').split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n < USERS);
  const profiles = await Promise.all(authors.map(resolveAuthor));
  send(res, 200, {
    cursor: (postSeq += authors.length).toString(36),
    posts: profiles.map((p, i) => ({ id: `post-${postSeq - i}`, author: authorView(p), excerpt: `${TOPICS[i % TOPICS.length]} thread, page ${1 + (i % 4)}` })),
  });
}

// --- clients ------------------------------------------------------------------------------------------

/** A timeline page: 8-22 posts whose authors follow a heavy-tailed popularity. */
function timelineRequest() {
  const posts = 8 + Math.floor(random() * 15);
  const authors = [];
  for (let i = 0; i < posts; i++) authors.push(Math.floor(USERS * random() ** 3));
  return { method: 'GET', path: `/v1/timeline?authors=${authors.join(',')}`, headers: { 'x-client': random() < 0.6 ? 'android' : 'ios' } };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const readers = selfRequests(port, { perSecond: 0.8, maxInFlight: 16, next: timelineRequest });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: profileCache.size,
  hits: profileCache.hits,
  misses: profileCache.misses,
  evictions: profileCache.evictions,
  profileCalls: profileService.calls,
  requestsFailed: readers.failed + probes.failed,
}));

ready(
  `timeline-author-profile-lru: timeline pages at 0.8 req/s resolving ~15 authors each through a ${CACHE_ENTRIES}-entry linked-list + Map LRU (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
