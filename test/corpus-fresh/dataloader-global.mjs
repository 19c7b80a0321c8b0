// dataloader-global — feed API whose DataLoader cache outlives the request.
//
// GET /v1/feed?user=… on 127.0.0.1, 3 req/s at speed 1 from an in-process
// keep-alive client. Each request resolves 20 posts and their authors through
// DataLoader-style batching loaders (BatchLoader: collects the keys asked for in
// one tick, fetches them in one query, caches the promise per key). The author
// loader is created per request, as intended; the post loader was hoisted to
// module level ("it's the same function anyway"), so its per-key cache
// (`postLoader.cache`, post id → Promise of the post row) lives for the whole
// process. Posts are published all day (5/s site-wide), feeds show the newest
// ones (5 new ids/s) and profile pages older ones (~9 ids/s drawn from a
// million-post archive), so new ids keep arriving: ~14 new cache entries/s,
// each a Map entry, a promise and a ~0.7 KB post row: ~37 MB/h at speed 1.
//
// Cap: the loader was given `maxCacheSize: 180 000` (stops caching new keys
// when full, ~137 MB); reached after ~3.9 h at speed 1 (~3.9 min at
// SCENARIO_SPEED=60).
//
// `retained` = entries in postLoader.cache.
import {
  buildBallast,
  listen,
  paced,
  ready,
  reportStats,
  rng,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 3;
const POSTS_PUBLISHED_PER_SECOND = 5;
const FEED_SIZE = 20;
const RECENT_WINDOW = 600; // newest posts a feed draws from
const ARCHIVE_SHARE = 0.15; // profile pages, links to older posts

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- a small DataLoader -------------------------------------------------------

class BatchLoader {
  constructor(batchFn, { maxBatchSize = 100, maxCacheSize = Infinity } = {}) {
    this.batchFn = batchFn;
    this.maxBatchSize = maxBatchSize;
    this.maxCacheSize = maxCacheSize;
    this.cache = new Map();
    this.pending = [];
    this.scheduled = false;
  }

  load(key) {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const promise = new Promise((resolve, reject) => {
      this.pending.push({ key, resolve, reject });
    });
    if (this.cache.size < this.maxCacheSize) this.cache.set(key, promise);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => this.dispatch());
    }
    return promise;
  }

  loadMany(keys) {
    return Promise.all(keys.map((key) => this.load(key)));
  }

  clear(key) {
    this.cache.delete(key);
    return this;
  }

  dispatch() {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    for (let i = 0; i < pending.length; i += this.maxBatchSize) {
      this.runBatch(pending.slice(i, i + this.maxBatchSize));
    }
  }

  async runBatch(batch) {
    try {
      const values = await this.batchFn(batch.map((entry) => entry.key));
      for (let i = 0; i < batch.length; i++) {
        const value = values[i];
        if (value instanceof Error) {
          this.cache.delete(batch[i].key);
          batch[i].reject(value);
        } else {
          batch[i].resolve(value);
        }
      }
    } catch (err) {
      for (const entry of batch) {
        this.cache.delete(entry.key);
        entry.reject(err);
      }
    }
  }
}

// --- the database (simulated: rows are derived from the id) ---------------------

const WORDS = (
  'the a release team update new feature fix weekend photo trip coffee build deploy ' +
  'launch review meeting notes garden recipe bike city rain summer project ship ' +
  'design data model query cache service latency metric incident retro plan'
).split(' ');
const TAGS = ['news', 'dev', 'travel', 'food', 'photo', 'ops', 'music', 'sport', 'books', 'diy'];

const db = {
  latestPostId: 4_000_000,
  queries: 0,
};

function hash32(n) {
  let h = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function words(seed, count) {
  const out = [];
  let h = seed;
  for (let i = 0; i < count; i++) {
    h = hash32(h + i);
    out.push(WORDS[h % WORDS.length]);
  }
  return out.join(' ');
}

async function loadPosts(ids) {
  db.queries++;
  await sleep(2 + (ids.length >> 4)); // SELECT … WHERE id = ANY($1)
  const rows = [];
  for (const id of ids) {
    if (id > db.latestPostId) {
      rows.push(new Error(`post ${id} not found`));
      continue;
    }
    const h = hash32(id);
    const createdAt = 1_700_000_000_000 + (id - 3_000_000) * 200;
    rows.push({
      id,
      authorId: h % 25_000,
      title: words(h, 4 + (h % 5)),
      body: words(h ^ 0x5bd1e995, 30 + (h % 40)),
      tags: [TAGS[h % TAGS.length], TAGS[(h >>> 8) % TAGS.length]],
      likes: h % 500,
      comments: (h >>> 4) % 40,
      visibility: h % 11 === 0 ? 'followers' : 'public',
      createdAt: new Date(createdAt).toISOString(),
      updatedAt: new Date(createdAt + (h % 3_600_000)).toISOString(),
    });
  }
  return rows;
}

async function loadAuthors(ids) {
  db.queries++;
  await sleep(2);
  return ids.map((id) => ({
    id,
    handle: `user${id}`,
    displayName: words(id * 7919, 2),
    avatarUrl: `https://cdn.example.com/avatars/${id % 997}/${id}.jpg`,
    verified: id % 53 === 0,
  }));
}

// Loaders. postLoader is shared by every request; its cache lives as long as
// the process does.
const postLoader = new BatchLoader(loadPosts, { maxCacheSize: 180_000 });

function createLoaders() {
  return {
    posts: postLoader,
    authors: new BatchLoader(loadAuthors),
  };
}

// --- the API -------------------------------------------------------------------

function feedIds(userId, seed) {
  const ids = [];
  let h = hash32(userId * 31 + seed);
  for (let i = 0; i < FEED_SIZE; i++) {
    h = hash32(h + i);
    if (h % 1000 < ARCHIVE_SHARE * 1000) ids.push(3_000_000 + (h % (db.latestPostId - 3_000_000)));
    else ids.push(db.latestPostId - (h % RECENT_WINDOW));
  }
  return ids;
}

async function resolveFeed(userId, seed) {
  const loaders = createLoaders();
  const posts = await loaders.posts.loadMany(feedIds(userId, seed));
  const authors = await loaders.authors.loadMany(posts.map((post) => post.authorId));
  const items = [];
  for (let i = 0; i < posts.length; i++) {
    const post = posts[i];
    if (post.visibility !== 'public') continue;
    items.push({
      id: post.id,
      title: post.title,
      excerpt: post.body.slice(0, 140),
      tags: post.tags,
      likes: post.likes,
      author: { handle: authors[i].handle, name: authors[i].displayName, avatar: authors[i].avatarUrl },
      createdAt: post.createdAt,
    });
  }
  return { user: userId, items };
}

let requestSeq = 0;
async function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/v1/feed') {
    res.writeHead(404).end();
    return;
  }
  const userId = Number(url.searchParams.get('user')) || 0;
  const feed = await resolveFeed(userId, ++requestSeq);
  const body = JSON.stringify(feed);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// --- start -------------------------------------------------------------------

buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});

// Posts published elsewhere on the site.
paced(POSTS_PUBLISHED_PER_SECOND, (n) => {
  db.latestPostId += n;
});

const random = rng(0xfeed);
const client = selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  maxInFlight: 16,
  next: () => ({ method: 'GET', path: `/v1/feed?user=${1 + Math.floor(random() * 200_000)}` }),
});

reportStats(() => ({
  retained: postLoader.cache.size,
  requests: client.completed,
  queries: db.queries,
  latestPostId: db.latestPostId,
}));
ready(`dataloader-global: feed API on 127.0.0.1:${port}, ${REQUESTS_PER_SECOND} req/s at speed 1; the module-level postLoader caches every post id ever loaded`);
