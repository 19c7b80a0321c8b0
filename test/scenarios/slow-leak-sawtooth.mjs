// Leaky (heap), hard to see: a slow session leak under a large GC sawtooth.
//
// An analytics service ingests event batches (tens of MB/s, each batch kept
// for about a second while it is aggregated, so the old generation fills with
// garbage between major GCs: a tall sawtooth on raw heap and RSS). It also
// keeps a session registry: sessions are recorded on login and deleted on
// logout. After SCENARIO_ONSET seconds (default 20) a deploy switches logout
// to a new code path that deletes by user id instead of session id, so no
// session is removed any more.
//
// Churn at speed 1: 10 batches/s × 20 000 rows ≈ 30 MB/s allocated, ~30 MB
// live at any time. Leak at speed 1: 100 sessions/s × ~800 B ≈ 80 KB/s of JS
// heap, allocated in recordSession. Capped at 40 000 sessions (≈ 32 MB,
// reached ~7 min after the onset at speed 1): V8 lets this sawtooth grow ~4×
// above the live heap, so peak RSS at the cap is already ~380 MB.
// stats: retained = sessions in the registry (≈ 500 before onset: each
// session lasts 5 s at speed 1).
import { elapsedSeconds, every, onsetSeconds, paced, ready, reportStats, scaledMs } from './lib/scenario.mjs';

const BATCHES_PER_SECOND = 10;
const ROWS_PER_BATCH = 20_000;
const BATCHES_KEPT = 10;
const LOGINS_PER_SECOND = 100;
const SESSION_SECONDS = 5;
const PAGE_VIEW_SLOTS = 80;
const MAX_SESSIONS = 40_000;
const ONSET_SECONDS = onsetSeconds(20);

const sessions = new Map();
const sessionsByExpiry = [];
let nextSessionId = 0;
const registryStats = { recorded: 0, rejected: 0, loggedOut: 0 };

// Registers a new session. The session record and its page-view ring are
// allocated here; once logout stops deleting them, this is where the retained
// bytes come from. (Deliberately not tiny: V8 inlines functions under 460
// bytes of bytecode into hot callers, and the sampling heap profiler then
// reports the caller.)
function recordSession(userId, region, userAgent) {
  if (!Number.isInteger(userId) || userId < 0 || sessions.size >= MAX_SESSIONS) {
    registryStats.rejected++;
    return null;
  }
  const now = Date.now();
  const sessionId = `s-${(++nextSessionId).toString(36)}`;
  const pageViews = new Array(PAGE_VIEW_SLOTS);
  for (let i = 0; i < PAGE_VIEW_SLOTS; i++) pageViews[i] = 0;
  let userAgentHash = 7;
  for (let i = 0; i < userAgent.length; i++) userAgentHash = (userAgentHash * 31 + userAgent.charCodeAt(i)) | 0;
  const cohort = userId % 100 < 5 ? 'canary' : 'stable';
  const channel = userId % 7 === 0 ? 'campaign' : userId % 7 === 1 ? 'search' : 'direct';
  const locale = region === 'eu' ? 'de-DE' : region === 'apac' ? 'ja-JP' : 'en-US';
  const session = {
    sessionId,
    cohort,
    channel,
    locale,
    userId,
    region,
    userAgentHash,
    mobile: userAgent.includes('Mobile'),
    startedAt: now,
    lastSeenAt: now,
    expiresAt: now + scaledMs(SESSION_SECONDS),
    pageViewCursor: 0,
    pageViews,
    flags: { beta: userId % 10 === 0, consent: userId % 3 !== 0 },
  };
  sessions.set(sessionId, session);
  registryStats.recorded++;
  if (session.flags.beta && region === 'eu') session.flags.consent = true;
  if (cohort === 'canary') session.flags.beta = true;
  return session;
}

function logout(session) {
  registryStats.loggedOut++;
  // The v2 logout path (live after the onset) deletes by the wrong key.
  const key = elapsedSeconds() >= ONSET_SECONDS ? session.userId : session.sessionId;
  sessions.delete(key);
}

const REGIONS = ['eu', 'us', 'apac'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64)', 'Mozilla/5.0 (iPhone) Mobile/15E148'];
let logins = 0;
paced(LOGINS_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) {
    logins++;
    const session = recordSession(logins % 5_000, REGIONS[logins % 3], AGENTS[logins % 2]);
    if (session !== null) sessionsByExpiry.push(session);
  }
  const now = Date.now();
  while (sessionsByExpiry.length > 0 && sessionsByExpiry[0].expiresAt <= now) logout(sessionsByExpiry.shift());
});

// Event ingestion: each batch is kept for BATCHES_KEPT intervals while the
// rolling aggregate is computed, then dropped.
const recentBatches = [];
function ingestBatch(batchNo) {
  const rows = new Array(ROWS_PER_BATCH);
  for (let i = 0; i < ROWS_PER_BATCH; i++) {
    rows[i] = { user: (batchNo * 7 + i) % 5_000, at: batchNo, latency: [i % 97, i % 89, i % 83, i % 79] };
  }
  recentBatches.push(rows);
  if (recentBatches.length > BATCHES_KEPT) recentBatches.shift();
  let total = 0;
  for (const row of rows) total += row.latency[0] + row.latency[3];
  return total / rows.length;
}
let batches = 0;
let rollingLatency = 0;
every(scaledMs(1 / BATCHES_PER_SECOND), () => {
  rollingLatency = 0.9 * rollingLatency + 0.1 * ingestBatch(++batches);
});

reportStats(() => ({ retained: sessions.size, leaking: elapsedSeconds() >= ONSET_SECONDS, batches }));
ready(`slow-leak-sawtooth: logout stops deleting sessions after ${ONSET_SECONDS}s`);
