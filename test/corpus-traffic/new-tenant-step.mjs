// new-tenant-step (healthy): multi-tenant project-tracking API.
//
// Users log in (POST /v1/login) and browse (GET /v1/projects, GET
// /v1/projects/:id) with a session cookie. Sessions live in an in-memory
// store with a 30-minute idle timeout (sliding: each request extends it) and
// a sweep every minute. At speed 1 there are 0.4 logins/s and 2 page
// requests/s from the existing tenants; each user stays 3–12 min and then
// just leaves, so their session expires 30 min later. At 1.5 h a big customer
// (tenant "globex") is onboarded: its users add the same load again and
// traffic stays doubled. The session store steps from ~870 to ~1 750
// sessions and stays there.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const LOGINS_PER_S = 0.4;
const PAGES_PER_LOGIN = 5; // page requests/s = 5 × login rate
const ONBOARD_AT_S = 5400;
const SESSION_IDLE_S = 1800;
const SWEEP_EVERY_S = 60;
const VISIT_MIN_S = 180;
const VISIT_MAX_S = 720;

const nowMs = () => programSeconds() * 1000;
const trafficFactor = (t) => (t >= ONBOARD_AT_S ? 2 : 1);

// --- tenants and their directory -------------------------------------------------

const EXISTING_TENANTS = ['acme', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'tyrell', 'cyberdyne'];
const NEW_TENANT = 'globex';

const PERMISSION_AREAS = ['projects', 'issues', 'boards', 'reports', 'wiki', 'billing', 'members', 'integrations', 'webhooks', 'audit'];
const PERMISSION_VERBS = ['read', 'write', 'admin'];

/** Per-tenant settings, loaded on the tenant's first login and kept. */
const tenantSettings = new Map();

function settingsFor(tenant) {
  let settings = tenantSettings.get(tenant);
  if (settings === undefined) {
    settings = {
      tenant,
      plan: tenant === NEW_TENANT ? 'enterprise' : 'business',
      sso: tenant === NEW_TENANT,
      locale: 'en-GB',
      features: { timeline: true, aiSummaries: tenant === NEW_TENANT, sprintReports: true, guestAccess: false },
      teams: Array.from({ length: 12 }, (_, i) => `${tenant}-team-${i}`),
    };
    tenantSettings.set(tenant, settings);
  }
  return settings;
}

function permissionsFor(tenant, userNo) {
  const teams = settingsFor(tenant).teams;
  const permissions = [];
  for (const area of PERMISSION_AREAS) {
    const verb = PERMISSION_VERBS[(userNo + area.length) % PERMISSION_VERBS.length];
    permissions.push(`${area}:${verb}`);
    permissions.push(`${area}:${verb}:${teams[userNo % teams.length]}`);
    if (userNo % 5 === 0) permissions.push(`${area}:read:${teams[(userNo + 3) % teams.length]}`);
  }
  return permissions;
}

// --- session store ------------------------------------------------------------------------

class SessionStore {
  constructor(idleMs) {
    this.idleMs = idleMs;
    this.sessions = new Map();
    this.created = 0;
    this.expired = 0;
  }

  get size() {
    return this.sessions.size;
  }

  create(data, now) {
    const id = randomBytes(18).toString('base64url');
    const session = { id, ...data, createdAt: now, lastSeenAt: now, expiresAt: now + this.idleMs };
    this.sessions.set(id, session);
    this.created++;
    return session;
  }

  touch(id, now) {
    const session = this.sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= now) {
      this.sessions.delete(id);
      this.expired++;
      return undefined;
    }
    session.lastSeenAt = now;
    session.expiresAt = now + this.idleMs;
    return session;
  }

  sweep(now) {
    for (const [id, session] of this.sessions) {
      if (session.expiresAt <= now) {
        this.sessions.delete(id);
        this.expired++;
      }
    }
  }
}

const sessionStore = new SessionStore(SESSION_IDLE_S * 1000);

function newSession(tenant, userNo, req) {
  const settings = settingsFor(tenant);
  return sessionStore.create(
    {
      userId: `${tenant}-u${userNo}`,
      tenant,
      email: `user${userNo}@${tenant}.example.com`,
      displayName: `User ${userNo} (${tenant})`,
      roles: userNo % 20 === 0 ? ['member', 'admin'] : ['member'],
      permissions: permissionsFor(tenant, userNo),
      csrfToken: randomBytes(24).toString('hex'),
      ip: req.headers['x-forwarded-for'] ?? '127.0.0.1',
      userAgent: req.headers['user-agent'] ?? '',
      locale: settings.locale,
      features: { ...settings.features },
      recentProjects: [],
      flash: null,
    },
    nowMs(),
  );
}

// --- HTTP API ---------------------------------------------------------------------------------

const counts = { logins: 0, pages: 0, unauthorized: 0 };

function sessionIdFrom(req) {
  const cookie = req.headers.cookie;
  if (cookie === undefined) return undefined;
  const match = /(?:^|;\s*)sid=([^;]+)/.exec(cookie);
  return match === null ? undefined : match[1];
}

function projectPage(session, page) {
  const projects = [];
  for (let i = 0; i < 20; i++) {
    const n = page * 20 + i;
    projects.push({ id: `${session.tenant}-p${n}`, name: `Project ${n}`, owner: session.userId, open: 3 + (n % 40), updatedAt: new Date(1_717_000_000_000 + n * 60_000).toISOString() });
  }
  return { tenant: session.tenant, page, projects };
}

function rememberProject(session, projectId) {
  session.recentProjects.unshift(projectId);
  if (session.recentProjects.length > 10) session.recentProjects.length = 10;
}

async function handleLogin(req, res) {
  const { tenant, user } = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
  const session = newSession(tenant, user, req);
  counts.logins++;
  res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `sid=${session.id}; HttpOnly; Path=/; SameSite=Lax` });
  res.end(JSON.stringify({ userId: session.userId, csrfToken: session.csrfToken, sid: session.id }));
}

function handleRequest(req, res) {
  if (req.method === 'POST' && req.url === '/v1/login') {
    handleLogin(req, res).catch(() => res.writeHead(400).end());
    return;
  }
  const session = sessionStore.touch(sessionIdFrom(req), nowMs());
  if (session === undefined) {
    counts.unauthorized++;
    res.writeHead(401).end();
    return;
  }
  counts.pages++;
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/v1/projects') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(projectPage(session, Number(url.searchParams.get('page') ?? 0))));
  } else if (url.pathname.startsWith('/v1/projects/')) {
    const projectId = url.pathname.slice('/v1/projects/'.length);
    rememberProject(session, projectId);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: projectId, tenant: session.tenant, members: 8, issues: { open: 14, closed: 230 } }));
  } else {
    res.writeHead(404).end();
  }
}

every((SWEEP_EVERY_S * 1000) / speed, () => sessionStore.sweep(nowMs()));

// --- users ------------------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handleRequest);

const next = rng(5150);
const AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
];

/** Users currently clicking around: { sid, leavesAt } (the browser side). */
const onlineUsers = [];

function pickOnlineUser() {
  const now = programSeconds();
  while (onlineUsers.length > 0) {
    const i = Math.floor(next() * onlineUsers.length);
    const user = onlineUsers[i];
    if (user.leavesAt > now) return user;
    onlineUsers[i] = onlineUsers[onlineUsers.length - 1]; // left: closed the tab
    onlineUsers.pop();
  }
  return undefined;
}

const loginClient = selfRequests(port, {
  perSecond: () => LOGINS_PER_S * trafficFactor(programSeconds()),
  maxInFlight: 8,
  next() {
    const t = programSeconds();
    const fromNewTenant = trafficFactor(t) === 2 && next() < 0.5;
    const tenant = fromNewTenant ? NEW_TENANT : EXISTING_TENANTS[Math.floor(next() * EXISTING_TENANTS.length)];
    const user = Math.floor(next() * (fromNewTenant ? 40_000 : 25_000));
    return {
      method: 'POST',
      path: '/v1/login',
      headers: { 'content-type': 'application/json', 'user-agent': AGENTS[user % AGENTS.length], 'x-request-id': randomUUID() },
      body: JSON.stringify({ tenant, user }),
    };
  },
  onResponse(status, text) {
    if (status !== 200) return;
    const { sid } = JSON.parse(text);
    onlineUsers.push({ sid, leavesAt: programSeconds() + VISIT_MIN_S + next() * (VISIT_MAX_S - VISIT_MIN_S) });
  },
});

const pageClient = selfRequests(port, {
  perSecond: () => LOGINS_PER_S * PAGES_PER_LOGIN * trafficFactor(programSeconds()),
  maxInFlight: 32,
  next() {
    const user = pickOnlineUser();
    if (user === undefined) return null;
    const path = next() < 0.4 ? `/v1/projects?page=${Math.floor(next() * 5)}` : `/v1/projects/p${Math.floor(next() * 300)}`;
    return { method: 'GET', path, headers: { cookie: `sid=${user.sid}; theme=dark`, 'x-request-id': randomUUID() } };
  },
});

let lastDone = 0;
let lastT = 0;
reportStats(() => {
  const t = programSeconds();
  const done = counts.logins + counts.pages;
  const rps = (done - lastDone) / Math.max(1e-9, t - lastT);
  lastDone = done;
  lastT = t;
  return {
    retained: sessionStore.size,
    rps: Math.round(rps * 10) / 10,
    targetRps: Math.round(LOGINS_PER_S * (1 + PAGES_PER_LOGIN) * trafficFactor(t) * 100) / 100,
    online: onlineUsers.length,
    logins: counts.logins,
    pages: counts.pages,
    unauthorized: counts.unauthorized,
    sessionsExpired: sessionStore.expired,
    tenants: tenantSettings.size,
    failed: loginClient.failed + pageClient.failed,
    ballastMb,
  };
});

ready(`new-tenant-step: project API on 127.0.0.1:${port}, ${LOGINS_PER_S} logins/s + ${LOGINS_PER_S * PAGES_PER_LOGIN} pages/s (speed 1), doubled from ${ONBOARD_AT_S} s, sessions idle-expire after ${SESSION_IDLE_S} s`);
