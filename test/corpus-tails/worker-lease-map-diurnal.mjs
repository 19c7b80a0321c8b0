// Lease coordinator for a fleet of job runners. A runner that picks up a job
// takes a lease on the job's resource (POST /v1/leases), keeps it alive with
// its host agent's batched heartbeat (POST /v1/leases/renew, one request per
// host every 20 s for all the leases the host holds) and releases it when the
// job is done (DELETE /v1/leases/:id). Leases whose holder died expire after
// their TTL and are swept every 10 s. The coordinator keeps the leases in
// `leases` (lease id -> lease) with the index `leaseByResource`.
//
// The work follows the business day: a handful of jobs at night, a morning
// ramp from 07:00 to 10:00 to a few hundred concurrent leases, a dip at lunch,
// and the evening fall from 17:00 to 21:00. The simulated day starts at
// SCENARIO_CLOCK_H (default 6.0) and runs at the corpus speed (24 h of
// production time = 24 wall minutes at SCENARIO_SPEED=60). Nothing is kept
// after a lease ends: the map grows and shrinks with the load.
import { createHash, randomBytes } from 'node:crypto';
import {
  buildBallast,
  envNumber,
  KiB,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const EPOCH_MS = 1_717_000_000_000;
const CLOCK_START_H = envNumber('SCENARIO_CLOCK_H', 6, (v) => v >= 0 && v < 24);
const random = rng(0x1ea5e);
const DEFAULT_TTL_S = 60;
const HEARTBEAT_EVERY_S = 20;

// --- the coordinator ---------------------------------------------------------

/** lease id -> lease */
const leases = new Map();
/** resource -> lease id */
const leaseByResource = new Map();
let fencingToken = 1_000;
const counters = { granted: 0, conflicts: 0, renewed: 0, renewMisses: 0, released: 0, expired: 0 };

function grantLease(request, now) {
  const id = `ls_${randomBytes(9).toString('base64url')}`;
  const lease = {
    id,
    resource: request.resource,
    holder: request.holder,
    host: request.host,
    fencingToken: ++fencingToken,
    ttlSeconds: request.ttlSeconds ?? DEFAULT_TTL_S,
    grantedAt: now,
    expiresAt: now + (request.ttlSeconds ?? DEFAULT_TTL_S),
    renewals: 0,
    job: { id: request.jobId, kind: request.kind, queue: request.queue, attempt: request.attempt, priority: request.priority },
    capabilities: request.capabilities,
    heartbeats: [],
  };
  leases.set(id, lease);
  leaseByResource.set(lease.resource, id);
  counters.granted++;
  return lease;
}

function endLease(lease) {
  leases.delete(lease.id);
  if (leaseByResource.get(lease.resource) === lease.id) leaseByResource.delete(lease.resource);
}

function renew(lease, now, lagMs) {
  lease.expiresAt = now + lease.ttlSeconds;
  lease.renewals++;
  lease.heartbeats.push({ at: now, lagMs });
  if (lease.heartbeats.length > 6) lease.heartbeats.shift();
  counters.renewed++;
}

function sweepExpired() {
  const now = programSeconds();
  for (const lease of leases.values()) {
    if (lease.expiresAt <= now) {
      endLease(lease);
      counters.expired++;
    }
  }
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    const now = programSeconds();
    if (req.method === 'POST' && url === '/v1/leases') {
      const request = JSON.parse((await readBody(req, 16 * KiB)).toString('utf8'));
      const current = leaseByResource.get(request.resource);
      if (current !== undefined) {
        const held = leases.get(current);
        if (held !== undefined && held.expiresAt > now) {
          counters.conflicts++;
          return sendJson(res, 409, { error: 'held', holder: held.holder, expiresAt: held.expiresAt });
        }
        if (held !== undefined) endLease(held);
      }
      const lease = grantLease(request, now);
      return sendJson(res, 201, { id: lease.id, fencingToken: lease.fencingToken, expiresAt: lease.expiresAt });
    }
    if (req.method === 'POST' && url === '/v1/leases/renew') {
      const body = JSON.parse((await readBody(req, 256 * KiB)).toString('utf8'));
      const lost = [];
      for (const id of body.leases) {
        const lease = leases.get(id);
        if (lease === undefined || lease.host !== body.host) {
          counters.renewMisses++;
          lost.push(id);
        } else renew(lease, now, body.lagMs);
      }
      return sendJson(res, 200, { renewed: body.leases.length - lost.length, lost });
    }
    if (req.method === 'DELETE' && url.startsWith('/v1/leases/')) {
      const lease = leases.get(url.slice('/v1/leases/'.length));
      if (lease === undefined) return sendJson(res, 404, { error: 'unknown lease' });
      endLease(lease);
      counters.released++;
      return sendJson(res, 200, { released: lease.id, heldSeconds: Math.round(now - lease.grantedAt) });
    }
    if (req.method === 'GET' && url === '/v1/leases/summary') {
      const byQueue = {};
      for (const lease of leases.values()) byQueue[lease.job.queue] = (byQueue[lease.job.queue] ?? 0) + 1;
      return sendJson(res, 200, { leases: leases.size, byQueue });
    }
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, error instanceof SyntaxError ? 400 : 500, { error: String(error.message ?? error) });
  }
}

// --- the runner fleet (the load) ---------------------------------------------

const HOSTS = Array.from({ length: 24 }, (_, i) => `runner-${['a', 'b', 'c'][i % 3]}-${String(i).padStart(2, '0')}.jobs.internal`);
const QUEUES = ['exports', 'imports', 'reports', 'thumbnails', 'reindex', 'emails', 'billing-runs'];
const KINDS = { exports: 'csv-export', imports: 'bulk-import', reports: 'pdf-report', thumbnails: 'thumb-batch', reindex: 'search-reindex', emails: 'digest-send', 'billing-runs': 'invoice-run' };
const MEAN_JOB_S = 20 * 60;

/** Hour of the simulated day. */
function clockHours() {
  return (CLOCK_START_H + programSeconds() / 3600) % 24;
}

function smooth(x) {
  const t = Math.min(1, Math.max(0, x));
  return t * t * (3 - 2 * t);
}

/** Target concurrent jobs by hour: ~15 at night, ~360 from 10:00, a lunch dip, back to ~15 after 21:00. */
function targetConcurrency(h) {
  const up = smooth((h - 7) / 3);
  const down = 1 - smooth((h - 17) / 4);
  const lunch = 1 - 0.15 * Math.exp(-(((h - 12.75) / 0.6) ** 2));
  return 15 + 345 * up * down * lunch;
}

/** Jobs the fleet is running: { leaseId, resource, host, endsAt, crashes } */
const running = [];
/** Requests the runners have to send (releases, heartbeats) before new acquisitions. */
const outgoing = [];
const hostNextHeartbeat = new Map(HOSTS.map((h, i) => [h, (i / HOSTS.length) * HEARTBEAT_EVERY_S]));
let jobSeq = 0;

function jobSeconds() {
  const u = Math.max(1e-9, random());
  return Math.min(4 * 3600, Math.max(30, -MEAN_JOB_S * Math.log(u)));
}

/** Every production second: jobs start (arrival rate from the target by Little's law), end, heartbeat. */
function fleetTick() {
  const now = programSeconds();
  const arrivalsPerSecond = targetConcurrency(clockHours()) / MEAN_JOB_S;
  if (random() < arrivalsPerSecond) startJob();
  for (let i = running.length - 1; i >= 0; i--) {
    const job = running[i];
    if (job.leaseId === null || job.endsAt > now) continue;
    running.splice(i, 1);
    // 2 % of runners die mid-job (OOM, spot reclaim): no release, the lease expires
    if (!job.crashes) outgoing.push({ method: 'DELETE', path: `/v1/leases/${job.leaseId}` });
  }
  for (const [host, at] of hostNextHeartbeat) {
    if (at > now) continue;
    hostNextHeartbeat.set(host, at + HEARTBEAT_EVERY_S);
    const ids = running.filter((job) => job.host === host && job.leaseId !== null && !(job.crashes && job.endsAt <= now)).map((job) => job.leaseId);
    if (ids.length > 0) {
      outgoing.push({ method: 'POST', path: '/v1/leases/renew', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host, leases: ids, lagMs: Math.round(random() * 40) }) });
    }
  }
}

function startJob() {
  jobSeq++;
  const queue = QUEUES[Math.floor(QUEUES.length * random() ** 1.4)];
  const host = HOSTS[Math.floor(random() * HOSTS.length)];
  const job = { leaseId: null, resource: `${queue}/${createHash('sha1').update(`job-${jobSeq}`).digest('hex').slice(0, 12)}`, host, endsAt: programSeconds() + jobSeconds(), crashes: random() < 0.02 };
  running.push(job);
  const body = {
    resource: job.resource,
    holder: `${host}#${Math.floor(random() * 16)}`,
    host,
    ttlSeconds: DEFAULT_TTL_S,
    jobId: `job_${jobSeq.toString(36)}`,
    kind: KINDS[queue],
    queue,
    attempt: random() < 0.05 ? 2 : 1,
    priority: random() < 0.1 ? 'high' : 'normal',
    capabilities: { cpu: 2 + Math.floor(random() * 3) * 2, memMiB: 2048 * (1 + Math.floor(random() * 4)), gpu: false, zone: `eu-central-1${'abc'[Math.floor(random() * 3)]}`, runnerVersion: '4.18.2' },
  };
  outgoing.push({ method: 'POST', path: '/v1/leases', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), job });
}

function onResponse(status, text, request) {
  if (request.job === undefined) return;
  if (status !== 201) {
    const i = running.indexOf(request.job);
    if (i >= 0) running.splice(i, 1);
    return;
  }
  request.job.leaseId = JSON.parse(text).id;
}

// --- start -------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

const sweeper = setInterval(sweepExpired, scaledMs(10));
const fleet = setInterval(fleetTick, scaledMs(1));
onShutdown(() => {
  clearInterval(sweeper);
  clearInterval(fleet);
});

// Runners' requests go out as the fleet produces them (heartbeats ~1.2/s, acquisitions and releases up to ~0.6/s at the peak).
const runners = selfRequests(port, { perSecond: 5, maxInFlight: 8, next: () => outgoing.shift() ?? null, onResponse });
const ops = selfRequests(port, { perSecond: 0.05, maxInFlight: 1, next: () => ({ method: 'GET', path: random() < 0.5 ? '/v1/leases/summary' : '/healthz' }) });

reportStats(() => ({
  retained: leases.size,
  clockH: Math.round(clockHours() * 100) / 100,
  target: Math.round(targetConcurrency(clockHours())),
  running: running.length,
  outgoing: outgoing.length,
  granted: counters.granted,
  released: counters.released,
  expired: counters.expired,
  conflicts: counters.conflicts,
  renewMisses: counters.renewMisses,
  requestsFailed: runners.failed + ops.failed,
}));

ready(
  `worker-lease-map-diurnal: job-runner leases following the business day (~15 at night, ~360 from 10:00, back down after 17:00); day starts at ${CLOCK_START_H}:00 (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
