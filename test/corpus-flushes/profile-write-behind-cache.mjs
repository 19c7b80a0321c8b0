// User-profile service of a fitness app with a write-behind cache: profiles
// are read through the module-level `profiles` (class ProfileCache: a Map
// userId -> profile, LRU-capped at 6 000, loaded from the database stand-in
// on a miss). Updates (PATCH /v1/users/:id/profile: display name, units,
// goals, privacy settings, last-synced device) change the cached profile and
// add the user id to the Set `dirty`; every 30 s the flusher writes the dirty
// profiles to the database in one multi-row upsert and clears the Set. A few
// thousand active users (the app's daily regulars) read and update their
// profiles over and over; now and then someone from the long tail shows up.
//
// Healthy: the Set holds at most the ids dirtied within one 30 s interval;
// the cache fills with the active users (and a slowly growing tail of
// occasional ones) until its cap, then evicts least-recently-used entries
// (clean ones only; a dirty entry is kept until it has been written).
import { buildBallast, every, listen, MiB, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0x9f0f11e);
const FLUSH_SECONDS = 30;
const CACHE_CAPACITY = 6000;
const ACTIVE_USERS = 3500;
const ALL_USERS = 400_000;

// --- database stand-in ----------------------------------------------------------------

const FIRST = ['Lena', 'Tom', 'Sara', 'Jan', 'Ines', 'Marco', 'Aylin', 'Pieter', 'Julia', 'Omar'];
const CITIES = ['Munich', 'Vienna', 'Zurich', 'Rotterdam', 'Ghent', 'Lisbon', 'Porto', 'Turin'];

const database = {
  reads: 0,
  upserts: 0,
  rowsWritten: 0,
  /** Builds the stored row of a user (deterministic, as if read from the table). */
  async load(userId) {
    this.reads++;
    await new Promise((resolve) => setTimeout(resolve, 1 + random() * 3));
    const n = Number(userId.slice(2));
    return {
      userId,
      displayName: `${FIRST[n % FIRST.length]} ${String.fromCharCode(65 + (n % 26))}.`,
      email: `user${n}@mail.example`,
      city: CITIES[n % CITIES.length],
      units: n % 4 === 0 ? 'imperial' : 'metric',
      goals: { weeklyWorkouts: 2 + (n % 5), dailySteps: 6000 + (n % 9) * 500, targetWeightKg: 60 + (n % 30) },
      privacy: { profile: n % 3 === 0 ? 'friends' : 'public', activities: 'friends', location: n % 2 === 0 },
      devices: [{ kind: n % 2 === 0 ? 'watch' : 'phone', model: `model-${n % 40}`, lastSyncAt: 0 }],
      updatedAt: 0,
      version: 1,
    };
  },
  /** One multi-row upsert (the statement is built and dropped). */
  async upsertMany(rows) {
    const statement = `INSERT INTO user_profiles (user_id, doc, version) VALUES ${rows.map((_, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`).join(', ')} ON CONFLICT (user_id) DO UPDATE SET doc = EXCLUDED.doc, version = EXCLUDED.version`;
    const params = rows.flatMap((row) => [row.userId, JSON.stringify(row), row.version]);
    await new Promise((resolve) => setTimeout(resolve, 3 + random() * 10));
    this.upserts++;
    this.rowsWritten += rows.length;
    return statement.length + params.length;
  },
};

// --- the cache ------------------------------------------------------------------------------

class ProfileCache {
  constructor(capacity) {
    this.capacity = capacity;
    this.entries = new Map();
    this.dirty = new Set();
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
    this.loading = new Map();
  }

  async get(userId) {
    const cached = this.entries.get(userId);
    if (cached !== undefined) {
      this.hits++;
      this.entries.delete(userId);
      this.entries.set(userId, cached);
      return cached;
    }
    this.misses++;
    let pending = this.loading.get(userId);
    if (pending === undefined) {
      pending = database.load(userId).then((profile) => {
        this.loading.delete(userId);
        this.entries.set(userId, profile);
        this.evict();
        return profile;
      });
      this.loading.set(userId, pending);
    }
    return pending;
  }

  async update(userId, patch) {
    const profile = await this.get(userId);
    applyPatch(profile, patch);
    profile.updatedAt = Math.round(programSeconds());
    profile.version++;
    this.dirty.add(userId);
    return profile;
  }

  evict() {
    for (const [userId] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      if (this.dirty.has(userId)) continue;
      this.entries.delete(userId);
      this.evictions++;
    }
  }

  /** Writes every dirty profile in one upsert and clears the Set. */
  async flush() {
    if (this.dirty.size === 0) return 0;
    const rows = [];
    for (const userId of this.dirty) {
      const profile = this.entries.get(userId);
      if (profile !== undefined) rows.push(profile);
    }
    this.dirty.clear();
    await database.upsertMany(rows);
    return rows.length;
  }
}

function applyPatch(profile, patch) {
  if (typeof patch.displayName === 'string') profile.displayName = patch.displayName.slice(0, 40);
  if (patch.units === 'metric' || patch.units === 'imperial') profile.units = patch.units;
  if (patch.goals) Object.assign(profile.goals, patch.goals);
  if (patch.privacy) Object.assign(profile.privacy, patch.privacy);
  if (patch.device) {
    const device = profile.devices.find((d) => d.model === patch.device.model);
    if (device) device.lastSyncAt = patch.device.lastSyncAt;
    else if (profile.devices.length < 4) profile.devices.push({ kind: patch.device.kind, model: patch.device.model, lastSyncAt: patch.device.lastSyncAt });
  }
}

const profiles = new ProfileCache(CACHE_CAPACITY);
const flushes = { runs: 0, rows: 0, lastRows: 0 };

// --- HTTP ------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const match = /^\/v1\/users\/(u_\d+)\/profile$/.exec(req.url ?? '');
  try {
    if (match && req.method === 'GET') return sendJson(res, 200, await profiles.get(match[1]));
    if (match && req.method === 'PATCH') {
      const patch = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      const profile = await profiles.update(match[1], patch);
      return sendJson(res, 200, { userId: profile.userId, version: profile.version });
    }
    if (req.url === '/healthz') return sendJson(res, 200, { ok: true, cached: profiles.entries.size, dirty: profiles.dirty.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- the app (the load) -------------------------------------------------------------------------

/** 96 % of requests from the active users (skewed: some are on the app all day), 4 % from the long tail. */
function pickUser() {
  if (random() < 0.96) return `u_${Math.floor(ACTIVE_USERS * random() ** 1.6)}`;
  return `u_${ACTIVE_USERS + Math.floor(random() * (ALL_USERS - ACTIVE_USERS))}`;
}

function profilePatch() {
  const roll = random();
  if (roll < 0.55) return { device: { kind: 'watch', model: `model-${Math.floor(random() * 40)}`, lastSyncAt: Math.round(programSeconds()) } };
  if (roll < 0.8) return { goals: { dailySteps: 5000 + Math.floor(random() * 12) * 500 } };
  if (roll < 0.92) return { privacy: { activities: random() < 0.5 ? 'friends' : 'private' } };
  if (roll < 0.97) return { units: random() < 0.5 ? 'metric' : 'imperial' };
  return { displayName: `${FIRST[Math.floor(random() * FIRST.length)]} ${String.fromCharCode(65 + Math.floor(random() * 26))}.` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const updates = selfRequests(port, {
  perSecond: 2.5,
  maxInFlight: 16,
  next: () => ({ method: 'PATCH', path: `/v1/users/${pickUser()}/profile`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(profilePatch()) }),
});
const reads = selfRequests(port, {
  perSecond: 3,
  maxInFlight: 16,
  next: () => (random() < 0.03 ? { method: 'GET', path: '/healthz' } : { method: 'GET', path: `/v1/users/${pickUser()}/profile` }),
});

every(Math.max(1, (FLUSH_SECONDS * 1000) / speed), () => {
  profiles
    .flush()
    .then((rows) => {
      flushes.runs++;
      flushes.rows += rows;
      flushes.lastRows = rows;
    })
    .catch((error) => process.stderr.write(`flush failed: ${error.message}\n`));
});

reportStats(() => ({
  retained: profiles.dirty.size,
  cached: profiles.entries.size,
  hitRate: Math.round((1000 * profiles.hits) / Math.max(1, profiles.hits + profiles.misses)) / 1000,
  evictions: profiles.evictions,
  flushes: flushes.runs,
  lastFlushRows: flushes.lastRows,
  requestsFailed: updates.failed + reads.failed,
}));

ready(`profile-write-behind-cache: profile updates marked in a dirty Set and upserted every ${FLUSH_SECONDS} s; LRU of ${CACHE_CAPACITY} profiles for ~${ACTIVE_USERS} active users (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
