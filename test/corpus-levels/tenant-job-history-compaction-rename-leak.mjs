// Job-history service of a multi-tenant background-job platform. Workers
// report every finished job (POST /v1/tenants/:tenant/jobs/:job/result) and
// export coordinators report the partition tasks of a tenant's data export in
// pages (POST /v1/tenants/:tenant/exports/:export/tasks); each report becomes
// a history entry in the tenant's TenantHistory (module-level Map
// `historyByTenant`), which the tenant dashboards read.
//
// An hourly compaction job folds each tenant's detail entries older than the
// tenant's retention policy into hourly rollups and drops them. Policies come
// from the retention config (pushed by the config service, polled every
// minute) and are looked up by the tenant's slug, taken from the tenant
// directory cached at boot. Compaction never touches a tenant it has no
// policy for ("we don't delete what we don't have a rule for").
//
// The bug: config v42 (published at the onset) renames the largest tenant's
// key from `northwind-logistics` to `northwind` after its rebrand, but the
// cached directory still says `northwind-logistics`. From the next compaction
// on, that tenant is skipped, and its history, which grows by a lump of
// entries every time its warehouse export runs (several times an hour), is
// never compacted again.
import {
  buildBallast,
  every,
  listen,
  MiB,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x10b5_7a11);
const ONSET_S = onsetSeconds(5400);
const EPOCH_MS = Date.UTC(2024, 9, 14, 5, 40);
const nowMs = () => EPOCH_MS + Math.round(programSeconds() * 1000);

function logNormal(median, sigma) {
  const u = Math.max(1e-12, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

// --- tenant directory (cached at boot, slugs treated as immutable) ------------

const TENANTS = [
  ['t_0001', 'acme-retail', 'growth', 2],
  ['t_0002', 'blue-harbor', 'starter', 1],
  ['t_0003', 'cobalt-health', 'enterprise', 3],
  ['t_0004', 'delta-freight', 'growth', 2],
  ['t_0005', 'elmwood-bank', 'enterprise', 3],
  ['t_0006', 'fjord-analytics', 'growth', 2],
  ['t_0007', 'northwind-logistics', 'enterprise', 6],
  ['t_0008', 'granite-insure', 'growth', 1],
  ['t_0009', 'helios-energy', 'starter', 1],
  ['t_0010', 'ivory-travel', 'growth', 2],
  ['t_0011', 'juniper-foods', 'starter', 1],
  ['t_0012', 'kestrel-media', 'growth', 2],
  ['t_0013', 'lumen-edu', 'starter', 1],
  ['t_0014', 'maple-pharma', 'enterprise', 2],
  ['t_0015', 'nimbus-saas', 'growth', 2],
  ['t_0016', 'orchid-fashion', 'starter', 1],
  ['t_0017', 'pioneer-auto', 'growth', 1],
  ['t_0018', 'quartz-legal', 'starter', 1],
  ['t_0019', 'redwood-homes', 'growth', 1],
  ['t_0020', 'sable-games', 'starter', 1],
  ['t_0021', 'tundra-outdoor', 'growth', 1],
  ['t_0022', 'umber-coffee', 'starter', 1],
  ['t_0023', 'vertex-telecom', 'enterprise', 2],
  ['t_0024', 'willow-care', 'starter', 1],
];
const tenantDirectory = new Map(TENANTS.map(([id, slug, plan, weight]) => [id, { id, slug, plan, weight }]));
const tenantIds = [...tenantDirectory.keys()];
const totalWeight = TENANTS.reduce((sum, t) => sum + t[3], 0);

function pickTenant() {
  let roll = random() * totalWeight;
  for (const tenant of tenantDirectory.values()) {
    roll -= tenant.weight;
    if (roll < 0) return tenant;
  }
  return tenantDirectory.get('t_0001');
}

// --- retention config (the config service's versions) --------------------------

function policiesV41() {
  const tenants = {};
  for (const [, slug, plan] of TENANTS) {
    tenants[slug] = { detailMinutes: 30, rollupHours: plan === 'enterprise' ? 24 * 14 : 48, keepFailed: plan === 'enterprise' };
  }
  return tenants;
}

function policiesV42() {
  const tenants = policiesV41();
  // Rebrand: the config team renamed the key with the tenant.
  tenants.northwind = tenants['northwind-logistics'];
  delete tenants['northwind-logistics'];
  // Unrelated edits shipped in the same version.
  tenants['fjord-analytics'] = { ...tenants['fjord-analytics'], detailMinutes: 45 };
  tenants['xenon-robotics'] = { detailMinutes: 30, rollupHours: 48, keepFailed: false }; // onboarding next week
  return tenants;
}

const configStore = {
  versions: [
    { version: 41, publishedAt: -86_400, text: JSON.stringify({ version: 41, tenants: policiesV41() }) },
    { version: 42, publishedAt: ONSET_S, text: JSON.stringify({ version: 42, tenants: policiesV42() }) },
  ],
  latest(now) {
    let latest = this.versions[0];
    for (const v of this.versions) if (v.publishedAt <= now) latest = v;
    return latest;
  },
};

let retentionConfig = JSON.parse(configStore.latest(0).text);
/** Config versions loaded by this process, with the program time they were loaded at. */
const configEvents = [];

function pollConfig() {
  const latest = configStore.latest(programSeconds());
  if (latest.version !== retentionConfig.version) {
    retentionConfig = JSON.parse(latest.text);
    configEvents.push({ version: retentionConfig.version, loadedAt: Math.round(programSeconds()) });
  }
}

function policyFor(tenantId) {
  const slug = tenantDirectory.get(tenantId)?.slug;
  return retentionConfig.tenants[slug];
}

// --- history store ------------------------------------------------------------

class TenantHistory {
  constructor(tenantId) {
    this.tenantId = tenantId;
    this.entries = [];
    this.rollups = [];
    this.lastCompactedAt = null;
  }

  append(entry) {
    this.entries.push(entry);
  }

  recent(limit, status) {
    const page = [];
    for (let i = this.entries.length - 1; i >= 0 && page.length < limit; i--) {
      const e = this.entries[i];
      if (status === null || e.status === status) page.push(e);
    }
    return page;
  }

  /** Folds detail entries finished before `cutoffMs` into hourly rollups. */
  compact(cutoffMs, policy, now) {
    const kept = [];
    let folded = 0;
    for (const entry of this.entries) {
      if (entry.finishedAt >= cutoffMs || (policy.keepFailed && entry.status === 'failed' && entry.finishedAt >= cutoffMs - 86_400_000)) {
        kept.push(entry);
        continue;
      }
      this.rollupFor(entry.finishedAt).add(entry);
      folded++;
    }
    this.entries = kept;
    const oldest = now - policy.rollupHours * 3_600_000;
    while (this.rollups.length > 0 && this.rollups[0].hourStart < oldest) this.rollups.shift();
    this.lastCompactedAt = now;
    return folded;
  }

  rollupFor(finishedAt) {
    const hourStart = finishedAt - (finishedAt % 3_600_000);
    for (let i = this.rollups.length - 1; i >= 0; i--) {
      if (this.rollups[i].hourStart === hourStart) return this.rollups[i];
      if (this.rollups[i].hourStart < hourStart) break;
    }
    const rollup = new HourRollup(hourStart);
    this.rollups.push(rollup);
    this.rollups.sort((a, b) => a.hourStart - b.hourStart);
    return rollup;
  }
}

class HourRollup {
  constructor(hourStart) {
    this.hourStart = hourStart;
    this.jobs = 0;
    this.failed = 0;
    this.totalDurationMs = 0;
    this.rows = 0;
    this.bytes = 0;
  }

  add(entry) {
    this.jobs++;
    if (entry.status === 'failed') this.failed++;
    this.totalDurationMs += entry.durationMs;
    if (entry.output !== null) {
      this.rows += entry.output.rows ?? 0;
      this.bytes += entry.output.bytes ?? 0;
    }
  }
}

/** tenant id -> TenantHistory */
const historyByTenant = new Map();

function historyOf(tenantId) {
  let history = historyByTenant.get(tenantId);
  if (history === undefined) {
    history = new TenantHistory(tenantId);
    historyByTenant.set(tenantId, history);
  }
  return history;
}

function toHistoryEntry(tenantId, jobId, report, now) {
  return {
    jobId,
    tenantId,
    kind: report.kind,
    status: report.status,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: report.finishedAt - report.startedAt,
    attempts: report.attempts,
    worker: report.worker,
    output: report.output ?? null,
    error: report.error ?? null,
    recordedAt: now,
  };
}

const compaction = { runs: 0, folded: 0, skipped: 0, skippedTenants: new Set(), nextAt: 1200 };

function compactHistories() {
  const now = nowMs();
  compaction.runs++;
  for (const [tenantId, history] of historyByTenant) {
    const policy = policyFor(tenantId);
    if (policy === undefined) {
      // No retention rule: leave the history alone rather than guess.
      compaction.skipped++;
      compaction.skippedTenants.add(tenantId);
      continue;
    }
    compaction.folded += history.compact(now - policy.detailMinutes * 60_000, policy, now);
  }
}

// --- HTTP -------------------------------------------------------------------------

const counters = { jobReports: 0, taskPages: 0, tasks: 0, reads: 0 };

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://history.local');
  const parts = url.pathname.split('/');
  try {
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, config: retentionConfig.version });
    if (parts[1] !== 'v1' || parts[2] !== 'tenants' || !tenantDirectory.has(parts[3])) return sendJson(res, 404, { error: 'not found' });
    const tenantId = parts[3];
    if (req.method === 'POST' && parts[4] === 'jobs' && parts[6] === 'result') {
      const report = JSON.parse((await readBody(req)).toString('utf8'));
      historyOf(tenantId).append(toHistoryEntry(tenantId, parts[5], report, nowMs()));
      counters.jobReports++;
      return sendJson(res, 202, { accepted: 1 });
    }
    if (req.method === 'POST' && parts[4] === 'exports' && parts[6] === 'tasks') {
      const page = JSON.parse((await readBody(req, 16 * MiB)).toString('utf8'));
      const history = historyOf(tenantId);
      const now = nowMs();
      for (const task of page.tasks) history.append(toHistoryEntry(tenantId, task.taskId, task, now));
      counters.taskPages++;
      counters.tasks += page.tasks.length;
      return sendJson(res, 202, { accepted: page.tasks.length });
    }
    if (req.method === 'GET' && parts[4] === 'jobs' && parts.length === 5) {
      counters.reads++;
      const limit = Math.min(100, Number(url.searchParams.get('limit') ?? 20));
      const page = historyOf(tenantId).recent(limit, url.searchParams.get('status'));
      return sendJson(res, 200, { tenantId, jobs: page });
    }
    if (req.method === 'GET' && parts[4] === 'jobs' && parts[5] === 'summary') {
      counters.reads++;
      const history = historyOf(tenantId);
      let failed = 0;
      for (const e of history.entries) if (e.status === 'failed') failed++;
      return sendJson(res, 200, { tenantId, detail: history.entries.length, failed, rollups: history.rollups, lastCompactedAt: history.lastCompactedAt });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error.message ?? error) });
  }
}

// --- the platform's workers and export coordinators (the load) --------------------

const JOB_KINDS = ['invoice.render', 'webhook.replay', 'report.build', 'crm.sync', 'image.thumbnail', 'email.digest', 'search.reindex'];
const REGIONS = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c', 'eu-central-1a'];
const ERRORS = ['upstream timeout after 30000 ms', 'rate limited by provider (429)', 'validation failed: missing customer email', 'worker lost heartbeat'];
let jobSeq = 0;

function workerName() {
  return `worker-${REGIONS[Math.floor(random() * REGIONS.length)]}-${Math.floor(random() * 0xffff).toString(16).padStart(4, '0')}`;
}

function jobReport(finishedAt) {
  const kind = JOB_KINDS[Math.floor(random() * JOB_KINDS.length)];
  const durationMs = Math.round(logNormal(2_400, 1.1));
  const failed = random() < 0.03;
  return {
    kind,
    status: failed ? 'failed' : 'succeeded',
    startedAt: finishedAt - durationMs,
    finishedAt,
    attempts: failed ? 3 : random() < 0.05 ? 2 : 1,
    worker: workerName(),
    output: failed ? null : { rows: Math.floor(logNormal(300, 1.5)), bytes: Math.floor(logNormal(40_000, 1.2)), location: `jobs/${kind}/${(++jobSeq).toString(36)}.json` },
    error: failed ? ERRORS[Math.floor(random() * ERRORS.length)] : null,
  };
}

function nextJobResult() {
  const tenant = pickTenant();
  const id = `job_${(++jobSeq).toString(36).padStart(8, '0')}`;
  return {
    method: 'POST',
    path: `/v1/tenants/${tenant.id}/jobs/${id}/result`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(jobReport(nowMs())),
  };
}

/** Tenants with scheduled warehouse exports: interval (min) range and size (partitions). */
const EXPORTERS = [
  { tenantId: 't_0007', every: [10, 22], median: 1_400, sigma: 0.55, min: 300, max: 3_600, dataset: 'shipments' },
  { tenantId: 't_0003', every: [45, 75], median: 180, sigma: 0.4, min: 80, max: 400, dataset: 'claims' },
  { tenantId: 't_0005', every: [45, 75], median: 220, sigma: 0.4, min: 80, max: 400, dataset: 'ledger' },
  { tenantId: 't_0014', every: [50, 80], median: 120, sigma: 0.4, min: 80, max: 400, dataset: 'batches' },
];
for (const exporter of EXPORTERS) exporter.nextAt = 60 * (exporter.every[0] + random() * (exporter.every[1] - exporter.every[0]));

const runningExports = [];
let exportSeq = 0;
let exportsStarted = 0;
const exportLog = [];

function startDueExports(now) {
  for (const exporter of EXPORTERS) {
    if (now < exporter.nextAt) continue;
    const total = Math.round(Math.min(exporter.max, Math.max(exporter.min, logNormal(exporter.median, exporter.sigma))));
    const run = { exporter, id: `exp_${(++exportSeq).toString(36).padStart(6, '0')}`, total, reported: 0, startedAt: now, seconds: 60 + total * 0.25 };
    runningExports.push(run);
    exportsStarted++;
    exportLog.push({ tenantId: exporter.tenantId, id: run.id, total, at: Math.round(now) });
    if (exportLog.length > 100) exportLog.shift();
    exporter.nextAt = now + 60 * (exporter.every[0] + random() * (exporter.every[1] - exporter.every[0]));
  }
}

function taskResult(run, partition, finishedAt) {
  const durationMs = Math.round(logNormal(8_000, 0.6));
  const rows = Math.floor(logNormal(40_000, 0.7));
  return {
    taskId: `${run.id}-p${String(partition).padStart(5, '0')}`,
    kind: 'export.partition',
    status: 'succeeded',
    startedAt: finishedAt - durationMs,
    finishedAt,
    attempts: random() < 0.02 ? 2 : 1,
    worker: workerName(),
    output: {
      rows,
      bytes: rows * 180,
      location: `s3://tenant-exports-${run.exporter.tenantId}/${run.exporter.dataset}/${run.id}/part-${String(partition).padStart(5, '0')}.parquet`,
      checksum: Math.floor(random() * 2 ** 52).toString(16).padStart(13, '0') + Math.floor(random() * 2 ** 52).toString(16).padStart(13, '0'),
    },
  };
}

const PAGE = 250;

function nextTaskPage() {
  const now = programSeconds();
  for (let i = 0; i < runningExports.length; i++) {
    const run = runningExports[i];
    const finished = Math.min(run.total, Math.floor((run.total * (now - run.startedAt)) / run.seconds));
    const due = finished - run.reported;
    if (due < PAGE && finished < run.total) continue;
    if (due <= 0) {
      runningExports.splice(i, 1);
      i--;
      continue;
    }
    const count = Math.min(PAGE, due);
    const tasks = new Array(count);
    const finishedAt = nowMs();
    for (let k = 0; k < count; k++) tasks[k] = taskResult(run, run.reported + k, finishedAt - Math.floor(random() * 30_000));
    run.reported += count;
    if (run.reported >= run.total) runningExports.splice(i, 1);
    return {
      method: 'POST',
      path: `/v1/tenants/${run.exporter.tenantId}/exports/${run.id}/tasks`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ exportId: run.id, tasks }),
    };
  }
  return null;
}

function nextRead() {
  const roll = random();
  if (roll < 0.2) return { method: 'GET', path: '/healthz' };
  const tenant = pickTenant();
  if (roll < 0.75) return { method: 'GET', path: `/v1/tenants/${tenant.id}/jobs?limit=20${roll < 0.3 ? '&status=failed' : ''}` };
  return { method: 'GET', path: `/v1/tenants/${tenant.id}/jobs/summary` };
}

// --- boot: restore the last snapshot (the previous hour of history) -------------

function restoreSnapshot() {
  const lines = [];
  const start = EPOCH_MS - 3_600_000;
  for (let i = 0; i < 0.5 * 3600; i++) {
    const tenant = pickTenant();
    lines.push(JSON.stringify({ tenantId: tenant.id, jobId: `job_${(++jobSeq).toString(36).padStart(8, '0')}`, report: jobReport(start + Math.floor((i / 1800) * 3_600_000)) }));
  }
  for (const exporter of EXPORTERS) {
    const runs = Math.round(60 / ((exporter.every[0] + exporter.every[1]) / 2));
    for (let r = 0; r < runs; r++) {
      const run = { exporter, id: `exp_${(++exportSeq).toString(36).padStart(6, '0')}` };
      const total = Math.round(Math.min(exporter.max, Math.max(exporter.min, logNormal(exporter.median, exporter.sigma))));
      const at = start + Math.floor(((r + 0.5) / runs) * 3_600_000);
      for (let p = 0; p < total; p++) {
        const task = taskResult(run, p, at + p * 250);
        lines.push(JSON.stringify({ tenantId: exporter.tenantId, jobId: task.taskId, report: task }));
      }
    }
  }
  lines.sort((a, b) => JSON.parse(a).report.finishedAt - JSON.parse(b).report.finishedAt);
  const text = lines.join('\n');
  let restored = 0;
  for (const line of text.split('\n')) {
    const { tenantId, jobId, report } = JSON.parse(line);
    historyOf(tenantId).append(toHistoryEntry(tenantId, jobId, report, report.finishedAt));
    restored++;
  }
  return restored;
}

const ballastMb = buildBallast();
for (const id of tenantIds) historyOf(id);
const restored = restoreSnapshot();
const { port } = await listen(handler);

// The platform's scheduler tick: config poll every minute, exports, hourly compaction.
let lastConfigPoll = 0;
every(10_000 / speed, () => {
  const now = programSeconds();
  if (now - lastConfigPoll >= 60) {
    lastConfigPoll = now;
    pollConfig();
  }
  startDueExports(now);
  if (now >= compaction.nextAt) {
    compaction.nextAt += 3600;
    compactHistories();
  }
});

// Workers: 0.5 job results/s across the tenants.
const jobs = selfRequests(port, { perSecond: 0.5, maxInFlight: 8, next: nextJobResult });
// Export coordinators: report finished partition tasks in pages of 250.
const exportsClient = selfRequests(port, { perSecond: 0.5, maxInFlight: 2, next: nextTaskPage });
// Tenant dashboards and the load balancer.
const reads = selfRequests(port, { perSecond: 0.3, maxInFlight: 4, next: nextRead });

const big = historyByTenant.get('t_0007');
reportStats(() => {
  let detail = 0;
  for (const history of historyByTenant.values()) detail += history.entries.length;
  return {
    retained: big.entries.length,
    detailEntries: detail,
    configVersion: retentionConfig.version,
    compactions: compaction.runs,
    skippedTenants: compaction.skippedTenants.size,
    exports: exportsStarted,
    bigTenantExports: exportLog.filter((e) => e.tenantId === 't_0007').length,
    tasks: counters.tasks,
    jobReports: counters.jobReports,
    requestsFailed: jobs.failed + exportsClient.failed + reads.failed,
  };
});

ready(
  `tenant-job-history-compaction-rename-leak: per-tenant job history compacted hourly; config v42 at ${ONSET_S} s renames northwind-logistics' retention key, so its export lumps are never compacted again (restored ${restored} entries, speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
