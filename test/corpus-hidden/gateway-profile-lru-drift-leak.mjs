// Profile enrichment in front of an API gateway: every authenticated call
// asks this service for the caller's profile (GET /v1/profiles/:userId),
// which it loads from the user service (an in-process stand-in with a few ms
// of latency) and keeps in a hand-written LRU cache of 6 000 profiles: a
// doubly linked list of LruNode {key, value, prev, next, storedAt} from most
// to least recently used, a private Map #index from user id to node, and a
// private #size counter that decides when to evict the tail.
//
// At the onset (default 1.75 h) the user service's outbox publisher is
// switched on and starts posting `profile.updated` events for every user of
// the platform (POST /v1/events/profile-updated), so the cache can drop
// stale profiles. invalidate() was added for that, and it decrements #size
// even when the user was not cached at all, which is most of the time. Each
// such event leaves #size one lower than the real count; set() only evicts
// while #size > maxEntries, so from the onset the list and #index grow by
// one profile per event about an uncached user, for good.
import {
  buildBallast,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x7a11ed);
const ONSET_S = onsetSeconds(6300);

// --- the LRU cache --------------------------------------------------------------------

class LruNode {
  constructor(key, value) {
    this.key = key;
    this.value = value;
    this.prev = null;
    this.next = null;
    this.storedAt = programSeconds();
  }
}

class LruCache {
  #index = new Map();
  #head = null; // most recently used
  #tail = null; // least recently used
  #size = 0;
  #maxEntries;
  stats = { hits: 0, misses: 0, evictions: 0, invalidations: 0 };

  constructor(maxEntries) {
    this.#maxEntries = maxEntries;
  }

  get size() {
    return this.#size;
  }

  get indexed() {
    return this.#index.size;
  }

  #unlink(node) {
    if (node.prev !== null) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next !== null) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = null;
    node.next = null;
  }

  #pushFront(node) {
    node.next = this.#head;
    if (this.#head !== null) this.#head.prev = node;
    this.#head = node;
    if (this.#tail === null) this.#tail = node;
  }

  get(key) {
    const node = this.#index.get(key);
    if (node === undefined) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    if (node !== this.#head) {
      this.#unlink(node);
      this.#pushFront(node);
    }
    return node.value;
  }

  set(key, value) {
    let node = this.#index.get(key);
    if (node !== undefined) {
      node.value = value;
      node.storedAt = programSeconds();
      this.#unlink(node);
      this.#pushFront(node);
      return;
    }
    node = new LruNode(key, value);
    this.#index.set(key, node);
    this.#pushFront(node);
    this.#size++;
    if (this.#size > this.#maxEntries) this.#evictTail();
  }

  #evictTail() {
    const node = this.#tail;
    if (node === null) return;
    this.#unlink(node);
    this.#index.delete(node.key);
    this.#size--;
    this.stats.evictions++;
  }

  /** Drops a stale entry (profile.updated events). */
  invalidate(key) {
    const node = this.#index.get(key);
    if (node !== undefined) {
      this.#unlink(node);
      this.#index.delete(key);
    }
    this.#size--;
    this.stats.invalidations++;
  }
}

const profileCache = new LruCache(6_000);

// --- the user service stand-in --------------------------------------------------------------

const USER_COUNT = 400_000;
const FIRST = ['Aiko', 'Bruno', 'Camila', 'Dmitri', 'Esther', 'Felix', 'Giulia', 'Hamza', 'Ingrid', 'Jamal', 'Keiko', 'Lucas', 'Maja', 'Nikhil'];
const LAST = ['Andersen', 'Barros', 'Chen', 'Dubois', 'Eriksen', 'Fischer', 'García', 'Horvat', 'Ivanova', 'Kowalski', 'Lindqvist', 'Moreau'];
const PLANS = ['free', 'team', 'business', 'enterprise'];
const LOCALES = ['en-GB', 'en-US', 'de-DE', 'fr-FR', 'es-ES', 'pl-PL', 'nl-NL'];
const ZONES = ['Europe/London', 'Europe/Berlin', 'Europe/Paris', 'America/New_York', 'Asia/Singapore', 'Europe/Warsaw'];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const userService = { calls: 0 };

/** GET /users/:id on the user service: the JSON document it answers. */
async function fetchUserDocument(n) {
  userService.calls++;
  await sleep(2 + Math.floor(random() * 6));
  const first = FIRST[n % FIRST.length];
  const last = LAST[(n >> 4) % LAST.length];
  const org = n % 9_000;
  return JSON.stringify({
    id: `usr_${n.toString(36)}`,
    name: { given: first, family: last, display: `${first} ${last}` },
    email: `${first}.${last}.${n}@customer-${org}.example`.toLowerCase(),
    locale: LOCALES[n % LOCALES.length],
    timezone: ZONES[n % ZONES.length],
    organization: { id: `org_${org}`, name: `Customer ${org} GmbH`, plan: PLANS[org % PLANS.length], seats: 5 + (org % 400) },
    roles: n % 11 === 0 ? ['member', 'admin', 'billing'] : ['member'],
    avatar: `https://cdn.example.com/avatars/${n.toString(16)}/${(n * 2_654_435_761 >>> 0).toString(16)}.png`,
    mfa: { enabled: n % 3 !== 0, methods: n % 3 !== 0 ? ['totp'] : [] },
    featureFlags: { newNavigation: n % 2 === 0, aiSummaries: org % 5 === 0, betaReports: n % 13 === 0 },
    createdAt: new Date(1_500_000_000_000 + n * 3_600_000).toISOString(),
    updatedAt: new Date(1_700_000_000_000 + n * 60_000).toISOString(),
  });
}

/** The cached view the gateway attaches to requests. */
function toProfile(doc) {
  return {
    userId: doc.id,
    displayName: doc.name.display,
    email: doc.email,
    locale: doc.locale,
    timezone: doc.timezone,
    orgId: doc.organization.id,
    orgName: doc.organization.name,
    plan: doc.organization.plan,
    roles: doc.roles,
    scopes: doc.roles.flatMap((role) => (role === 'admin' ? ['read', 'write', 'admin'] : role === 'billing' ? ['billing'] : ['read', 'write'])),
    avatarUrl: doc.avatar,
    mfa: doc.mfa.enabled,
    flags: doc.featureFlags,
    loadedAt: programSeconds(),
  };
}

async function getProfile(n) {
  const key = `usr_${n.toString(36)}`;
  let profile = profileCache.get(key);
  if (profile === undefined) {
    profile = toProfile(JSON.parse(await fetchUserDocument(n)));
    profileCache.set(key, profile);
  }
  return profile;
}

// --- HTTP ------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const events = { received: 0 };

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://profiles.local');
  if (req.method === 'GET' && url.pathname.startsWith('/v1/profiles/')) {
    const n = Number.parseInt(url.pathname.slice('/v1/profiles/usr_'.length), 36);
    if (!Number.isInteger(n) || n < 0 || n >= USER_COUNT) return sendJson(res, 404, { error: 'unknown user' });
    const profile = await getProfile(n);
    return sendJson(res, 200, { userId: profile.userId, orgId: profile.orgId, plan: profile.plan, scopes: profile.scopes, locale: profile.locale, flags: profile.flags });
  }
  if (req.method === 'POST' && url.pathname === '/v1/events/profile-updated') {
    let event;
    try {
      event = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    events.received++;
    profileCache.invalidate(event.userId);
    res.writeHead(204);
    return res.end();
  }
  if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, cached: profileCache.size });
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: the gateway, the user service's outbox publisher ---------------------------------

/** Active users make most calls: a heavy head over the 400 000 accounts. */
const activeUser = () => Math.floor(USER_COUNT * random() ** 5);

function gatewayRequest() {
  if (random() < 0.02) return { method: 'GET', path: '/healthz' };
  return { method: 'GET', path: `/v1/profiles/usr_${activeUser().toString(36)}`, headers: { 'x-request-id': (random() * 2 ** 53).toString(36) } };
}

const FIELDS = ['email', 'name', 'locale', 'timezone', 'avatar', 'roles', 'mfa', 'lastLoginAt'];

function profileUpdatedEvent() {
  if (programSeconds() < ONSET_S) return null; // the outbox publisher is not enabled yet
  // logins, settings changes and admin syncs across the whole platform: mostly users this instance never saw
  const n = random() < 0.3 ? activeUser() : Math.floor(random() * USER_COUNT);
  const body = JSON.stringify({ type: 'profile.updated', userId: `usr_${n.toString(36)}`, changed: [FIELDS[Math.floor(random() * FIELDS.length)]], at: new Date(1_717_000_000_000 + programSeconds() * 1000).toISOString(), outboxId: Math.floor(random() * 2 ** 40) });
  return { method: 'POST', path: '/v1/events/profile-updated', headers: { 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const gateway = selfRequests(port, { perSecond: 6, maxInFlight: 24, next: gatewayRequest });
const outbox = selfRequests(port, { perSecond: 1.2, maxInFlight: 4, next: profileUpdatedEvent });

reportStats(() => ({
  retained: profileCache.indexed,
  sizeCounter: profileCache.size,
  hits: profileCache.stats.hits,
  misses: profileCache.stats.misses,
  evictions: profileCache.stats.evictions,
  invalidations: profileCache.stats.invalidations,
  userServiceCalls: userService.calls,
  requestsFailed: gateway.failed + outbox.failed,
}));

ready(
  `gateway-profile-lru-drift-leak: profile API behind a gateway, 6 req/s, hand-written LRU of 6000 (list + #index); from ${ONSET_S} s profile.updated events make invalidate() drift #size down and the list grows (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
