// Authorization service of an internal business platform. When a user logs
// in (POST /v1/sessions), the service resolves their effective permissions
// (roles -> role grants, plus project-level grants from the user's project
// memberships, plus tenant feature flags) and caches the result per user in
// the module-level Map `permissionsCache`, with a 12-hour TTL (a working day:
// entries are refreshed at the next login after that). Every API call the
// user then makes (POST /v1/authorize) is checked against the cached entry.
//
// The run starts at the beginning of the working day: 4 200 employees log in
// over the first ~70 minutes (the morning login wave, one login a second),
// building the cache; from then on only already-cached users log in again
// (new devices, expired sessions) and make authorize calls, so the cache
// stays at 4 200 entries. The TTL sweep runs every 10 minutes and finds
// nothing expired during the run.
import { buildBallast, every, listen, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0x9e7a15);

// --- the directory (stand-in for the identity provider and project service) ------------

const USERS = 4200;
const PROJECTS = 900;
const RESOURCES = ['invoice', 'order', 'customer', 'report', 'contract', 'shipment', 'product', 'ticket', 'document', 'budget'];
const ACTIONS = ['read', 'create', 'update', 'delete', 'approve', 'export'];
const ROLES = {
  viewer: RESOURCES.map((r) => `${r}:read`),
  clerk: RESOURCES.flatMap((r) => [`${r}:read`, `${r}:create`, `${r}:update`]),
  manager: RESOURCES.flatMap((r) => [`${r}:read`, `${r}:create`, `${r}:update`, `${r}:approve`, `${r}:export`]),
  finance: ['invoice', 'budget', 'contract', 'report'].flatMap((r) => ACTIONS.map((a) => `${r}:${a}`)),
  admin: RESOURCES.flatMap((r) => ACTIONS.map((a) => `${r}:${a}`)),
};
const ROLE_NAMES = Object.keys(ROLES);

function directoryUser(userId) {
  const n = Number(userId.slice(2));
  const roles = [ROLE_NAMES[n % 3], ...(n % 11 === 0 ? ['finance'] : []), ...(n % 97 === 0 ? ['admin'] : [])];
  const memberships = [];
  for (let k = 0; k < 3 + (n % 10); k++) {
    memberships.push({ projectId: `pr-${(n * 17 + k * 131) % PROJECTS}`, role: k % 4 === 0 ? 'lead' : 'member' });
  }
  return { userId, email: `user${n}@corp.example`, displayName: `Employee ${n}`, tenant: `t-${n % 12}`, department: `dept-${n % 40}`, roles, memberships };
}

/** Effective permissions of a user: role grants plus per-project grants. */
function resolvePermissions(user, now) {
  const permissions = new Set();
  for (const role of user.roles) for (const grant of ROLES[role]) permissions.add(grant);
  const projectGrants = new Set();
  for (const { projectId, role } of user.memberships) {
    for (const resource of ['document', 'ticket', 'budget', 'report']) {
      projectGrants.add(`${projectId}:${resource}:read`);
      projectGrants.add(`${projectId}:${resource}:update`);
      if (role === 'lead') projectGrants.add(`${projectId}:${resource}:approve`);
    }
  }
  return {
    userId: user.userId,
    tenant: user.tenant,
    roles: user.roles,
    permissions,
    projectGrants,
    projects: user.memberships.map((m) => m.projectId),
    features: { exports: user.roles.includes('manager') || user.roles.includes('admin'), betaReports: user.department.endsWith('7') },
    computedAt: now,
    expiresAt: now + PERMISSIONS_TTL_S,
  };
}

// --- the cache ------------------------------------------------------------------------------

const PERMISSIONS_TTL_S = 12 * 3600;
const permissionsCache = new Map();
const stats = { logins: 0, resolved: 0, authorized: 0, denied: 0, unknown: 0, swept: 0 };

function permissionsFor(userId, now) {
  const cached = permissionsCache.get(userId);
  if (cached !== undefined && cached.expiresAt > now) return cached;
  const entry = resolvePermissions(directoryUser(userId), now);
  stats.resolved++;
  permissionsCache.set(userId, entry);
  return entry;
}

function can(entry, action, projectId) {
  if (projectId !== undefined) return entry.projectGrants.has(`${projectId}:${action}`);
  return entry.permissions.has(action);
}

every(scaledMs(600), () => {
  const now = programSeconds();
  for (const [userId, entry] of permissionsCache) {
    if (entry.expiresAt <= now) {
      permissionsCache.delete(userId);
      stats.swept++;
    }
  }
});

// --- HTTP ---------------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  if (req.url === '/healthz') return sendJson(res, 200, { ok: true, cached: permissionsCache.size });
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' });
  let body;
  try {
    body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
  } catch {
    return sendJson(res, 400, { error: 'bad body' });
  }
  const now = programSeconds();
  if (req.url === '/v1/sessions') {
    stats.logins++;
    const entry = permissionsFor(body.userId, now);
    return sendJson(res, 201, { sessionId: `s-${stats.logins}`, userId: entry.userId, tenant: entry.tenant, roles: entry.roles, features: entry.features });
  }
  if (req.url === '/v1/authorize') {
    const entry = permissionsCache.get(body.userId);
    if (entry === undefined) {
      stats.unknown++;
      return sendJson(res, 401, { allowed: false, reason: 'no session' });
    }
    const allowed = can(entry, body.action, body.projectId);
    if (allowed) stats.authorized++;
    else stats.denied++;
    return sendJson(res, 200, { allowed });
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- clients: the morning login wave and the users' API calls ------------------------------------

const LOGINS_PER_SECOND = 1; // 4 200 users in ~70 min
const wave = { loggedIn: 0 };

function nextLogin() {
  const due = Math.min(USERS, Math.floor(programSeconds() * LOGINS_PER_SECOND) + 1);
  let n;
  if (wave.loggedIn < due) n = wave.loggedIn++;
  else if (random() < 0.1) n = Math.floor(random() * wave.loggedIn); // a second device, an expired session
  else return null;
  return { method: 'POST', path: '/v1/sessions', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: `u-${n}`, device: random() < 0.3 ? 'mobile' : 'web' }) };
}

function nextApiCall() {
  if (wave.loggedIn === 0) return null;
  const n = Math.floor(random() * wave.loggedIn);
  const user = directoryUser(`u-${n}`);
  const action = `${RESOURCES[Math.floor(random() * RESOURCES.length)]}:${ACTIONS[Math.floor(random() * 3)]}`;
  const projectId = random() < 0.4 ? user.memberships[Math.floor(random() * user.memberships.length)].projectId : undefined;
  return { method: 'POST', path: '/v1/authorize', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: user.userId, action: projectId ? `document:read` : action, projectId }) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const logins = selfRequests(port, { perSecond: 1.2, maxInFlight: 4, next: nextLogin });
const apiCalls = selfRequests(port, { perSecond: 3, maxInFlight: 16, next: nextApiCall });

reportStats(() => ({
  retained: permissionsCache.size,
  usersLoggedIn: wave.loggedIn,
  ...stats,
  requestsFailed: logins.failed + apiCalls.failed,
}));

ready(`permissions-cache-morning-logins: authorization service, per-user permissions cached (TTL 12 h) as ${USERS} users log in at ${LOGINS_PER_SECOND}/s (~70 min), 3 authorize req/s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
