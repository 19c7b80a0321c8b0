// User-preferences service (healthy, small heap, little traffic).
//
// GET /v1/users/:id/preferences (85 %) and PATCH of the same (15 %), ~0.8
// req/s at speed 1 from the web and mobile apps, users drawn with a skew from
// a population of 60 000 (some users come back many times, most once or
// twice). Preferences are loaded from the database (another process: here
// `loadPreferences` synthesizes the row after one turn of the loop) and kept
// in the module-level `profileCache` (class `ProfileCache` over a Map) for 30
// minutes from the load (no sliding: a profile is reloaded at most every 30
// min), swept every minute. The cache therefore fills over the first ~30 min
// after start and then holds the distinct users of the last 30 min: flat.
// A PATCH writes through (database write + cache entry replaced).
//
// Stats: retained = cached profiles; hits, misses, expired, rps.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 0.8; // speed 1
const POPULATION = 60_000;
const TTL_SECONDS = 30 * 60; // speed-1 seconds
const SWEEP_EVERY_SECONDS = 60;

const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES', 'pt-BR', 'ja-JP', 'nl-NL', 'it-IT', 'pl-PL'];
const ZONES = ['Europe/Berlin', 'Europe/London', 'America/New_York', 'America/Sao_Paulo', 'Asia/Tokyo', 'Europe/Paris', 'America/Chicago', 'Australia/Sydney'];
const WIDGETS = ['inbox', 'calendar', 'tasks', 'reports', 'team', 'notes', 'files', 'activity', 'goals', 'weather'];
const CHANNELS = ['email', 'push', 'sms', 'in-app'];
const TOPICS = ['mentions', 'comments', 'assignments', 'reminders', 'digest', 'security', 'billing', 'product-news'];

// --- cache --------------------------------------------------------------------

class ProfileCache {
  constructor(ttlSeconds) {
    this.ttlSeconds = ttlSeconds;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
    this.expired = 0;
  }

  get(userId, now) {
    const entry = this.entries.get(userId);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (entry.expiresAt <= now) {
      this.entries.delete(userId);
      this.expired++;
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry.profile;
  }

  set(userId, profile, now) {
    // delete first so the Map's insertion order stays expiry order
    this.entries.delete(userId);
    this.entries.set(userId, { profile, expiresAt: now + this.ttlSeconds });
  }

  sweep(now) {
    for (const [userId, entry] of this.entries) {
      if (entry.expiresAt > now) break; // insertion order = expiry order
      this.entries.delete(userId);
      this.expired++;
    }
  }

  get size() {
    return this.entries.size;
  }
}

const profileCache = new ProfileCache(TTL_SECONDS);
let databaseReads = 0;
let databaseWrites = 0;

// --- "database" -----------------------------------------------------------------

function userRow(userId) {
  const r = rng(userId * 2654435761);
  const widgets = [];
  const widgetCount = 3 + Math.floor(r() * 6);
  for (let i = 0; i < widgetCount; i++) {
    widgets.push({ id: WIDGETS[Math.floor(r() * WIDGETS.length)], column: i % 3, row: Math.floor(i / 3), collapsed: r() < 0.2 });
  }
  const notifications = {};
  for (const topic of TOPICS) {
    notifications[topic] = CHANNELS.filter(() => r() < 0.4);
  }
  const savedFilters = [];
  const filterCount = Math.floor(r() * 5);
  for (let i = 0; i < filterCount; i++) {
    savedFilters.push({ name: `My filter ${i + 1}`, query: `assignee:me status:${r() < 0.5 ? 'open' : 'in-progress'} label:${TOPICS[Math.floor(r() * TOPICS.length)]}`, shared: r() < 0.1 });
  }
  return {
    user_id: userId,
    locale: LOCALES[Math.floor(r() * LOCALES.length)],
    time_zone: ZONES[Math.floor(r() * ZONES.length)],
    theme: r() < 0.35 ? 'dark' : 'light',
    density: r() < 0.2 ? 'compact' : 'comfortable',
    date_format: r() < 0.5 ? 'YYYY-MM-DD' : 'DD.MM.YYYY',
    week_starts_on: r() < 0.7 ? 1 : 0,
    dashboard: JSON.stringify({ widgets }),
    notifications: JSON.stringify(notifications),
    saved_filters: JSON.stringify(savedFilters),
    recent_searches: JSON.stringify(Array.from({ length: Math.floor(r() * 8) }, (_, i) => `search term ${userId % 1000}-${i}`)),
    updated_at: new Date(1_760_000_000_000 + (userId % 86_400) * 1000).toISOString(),
  };
}

async function loadPreferences(userId) {
  databaseReads++;
  await new Promise((resolve) => setImmediate(resolve));
  return toProfile(userRow(userId));
}

async function savePreferences(userId, profile) {
  databaseWrites++;
  const row = JSON.stringify(profile); // what goes over the wire
  await new Promise((resolve) => setImmediate(resolve));
  return row.length;
}

function toProfile(row) {
  return {
    userId: row.user_id,
    locale: row.locale,
    timeZone: row.time_zone,
    theme: row.theme,
    density: row.density,
    dateFormat: row.date_format,
    weekStartsOn: row.week_starts_on,
    dashboard: JSON.parse(row.dashboard),
    notifications: JSON.parse(row.notifications),
    savedFilters: JSON.parse(row.saved_filters),
    recentSearches: JSON.parse(row.recent_searches),
    updatedAt: row.updated_at,
  };
}

async function getPreferences(userId) {
  const now = programSeconds();
  const cached = profileCache.get(userId, now);
  if (cached !== undefined) return cached;
  const profile = await loadPreferences(userId);
  profileCache.set(userId, profile, programSeconds());
  return profile;
}

function applyPatch(profile, patch) {
  const next = { ...profile, updatedAt: new Date().toISOString() };
  for (const key of ['locale', 'timeZone', 'theme', 'density', 'dateFormat', 'weekStartsOn']) {
    if (patch[key] !== undefined) next[key] = patch[key];
  }
  if (patch.notifications) next.notifications = { ...profile.notifications, ...patch.notifications };
  return next;
}

// --- HTTP ---------------------------------------------------------------------------

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handler(req, res) {
  const match = /^\/v1\/users\/(\d+)\/preferences$/.exec(req.url);
  if (match === null) {
    sendJson(res, 404, { error: 'not found' });
    return;
  }
  const userId = Number(match[1]);
  try {
    if (req.method === 'GET') {
      sendJson(res, 200, await getPreferences(userId));
    } else if (req.method === 'PATCH') {
      const patch = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      const updated = applyPatch(await getPreferences(userId), patch);
      await savePreferences(userId, updated);
      profileCache.set(userId, updated, programSeconds());
      sendJson(res, 200, updated);
    } else {
      sendJson(res, 405, { error: 'method not allowed' });
    }
  } catch (error) {
    sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- in-process clients ------------------------------------------------------------

const ballastMb = buildBallast();
const random = rng(4242);
const { port } = await listen(handler);

every(scaledMs(SWEEP_EVERY_SECONDS), () => profileCache.sweep(programSeconds()));

// Skewed user choice: a small core of daily users, a long tail of occasional ones.
function pickUser() {
  const x = random();
  return 1 + Math.floor(x * x * x * POPULATION);
}

const client = selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  maxInFlight: 8,
  next: () => {
    const userId = pickUser();
    if (random() < 0.85) return { method: 'GET', path: `/v1/users/${userId}/preferences` };
    const patch = random() < 0.5 ? { theme: random() < 0.5 ? 'dark' : 'light' } : { notifications: { digest: random() < 0.5 ? ['email'] : [] } };
    return { method: 'PATCH', path: `/v1/users/${userId}/preferences`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) };
  },
});

ready(`prefs-cache-fill: user-preferences API, ${REQUESTS_PER_SECOND} req/s at speed 1, 30-min TTL profile cache that fills over ~30 min then stays; healthy`);

let lastCompleted = 0;
let lastT = programSeconds();
reportStats(() => {
  const now = programSeconds();
  const rps = now > lastT ? (client.completed - lastCompleted) / (now - lastT) : 0;
  lastCompleted = client.completed;
  lastT = now;
  return {
    retained: profileCache.size,
    hits: profileCache.hits,
    misses: profileCache.misses,
    expired: profileCache.expired,
    databaseReads,
    databaseWrites,
    rps: Math.round(rps * 100) / 100,
    ballastMb,
  };
});
