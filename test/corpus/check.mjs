#!/usr/bin/env node
// Checks that each corpus program behaves as its manifest entry says, at
// SCENARIO_SPEED=60 (an hour of production time per wall minute).
//
//   node test/corpus/check.mjs                 # all programs, 2 at a time (~15 min)
//   node test/corpus/check.mjs fast-heap-leak  # one or more by name
//   node test/corpus/check.mjs --json out.json # also write the measurements
//
// Each program runs as `node --expose-gc <nodeArgs> <file>` with CORPUS_CHECK=1,
// so every stats line carries the heap (and external) floor right after a
// forced GC. No inspector, no detector: this only checks the ground truth.
//
// Leaky programs: the floor of the labelled signal (heap or external) must grow
// at 0.5–2× leakRatePerHourBytes (speed-1 hours) between the onset and the cap,
// and stay flat before a late onset. Healthy programs: after their warm-up
// (plateauAfterSeconds) the heap floor must stay flat (|rate| under a small
// bound), plus program-specific checks (queue drains, restarts, one-off step).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const manifest = JSON.parse(readFileSync(resolve(here, 'manifest.json'), 'utf8'));
const SPEED = 60;
const MB = 1024 * 1024;
const STATS_MS = 1000;
const PARALLEL = 2;

// Wall seconds to run and extra env per program (speed-1 seconds in env).
// Defaults: 80 s (80 min of production time).
const plans = {
  'fast-heap-leak': { seconds: 45 },
  'slow-leak-2mb-h': { seconds: 150 },
  'slow-leak-5mb-h': { seconds: 110 },
  // Onset moved from 3 h to 30 min so the check sees both sides in 100 s.
  'late-onset': { seconds: 100, env: { SCENARIO_ONSET: '1800' } },
  'hot-helper-leak': { seconds: 70 },
  'dead-consumer-queue': { seconds: 75 },
  'dependency-cache': { seconds: 80 },
  'buffer-array-leak': { seconds: 60 },
  'leak-under-sawtooth': { seconds: 110 },
  'closure-timer-leak': { seconds: 100 },
  'cache-warm-plateau': { seconds: 100 },
  'cache-warm-long': { seconds: 190 },
  'long-burst-drain': { seconds: 110 },
  // 17:00 → 19:30 of the simulated day: the evening decline from the peak.
  'diurnal-load': { seconds: 150, env: { SCENARIO_CLOCK_H: '17' } },
  'sawtooth-temporaries': { seconds: 70 },
  'restarts-often': { lifetimes: 2, seconds: 60 },
  'step-up-once': { seconds: 110 },
  'full-lru-churn': { seconds: 80 },
};

function runOnce(entry, plan) {
  return new Promise((resolveRun) => {
    const args = ['--expose-gc', ...(entry.nodeArgs ?? []), resolve(here, entry.file)];
    const env = {
      ...process.env,
      SCENARIO_SPEED: String(SPEED),
      SCENARIO_STATS_MS: String(STATS_MS),
      CORPUS_CHECK: '1',
      ...plan.env,
    };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stats = [];
    let buffered = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith('stats ')) stats.push(JSON.parse(line.slice(6)));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    let stoppedByUs = false;
    const timer = setTimeout(() => {
      stoppedByUs = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, plan.seconds * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ stats, code, signal, stoppedByUs, stderr: stderr.slice(-2000) });
    });
  });
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 3) return NaN;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

/** Growth rate of `key` over stats with simT in [from, to), in bytes per speed-1 hour. */
function ratePerHour(stats, key, from, to = Infinity) {
  const points = stats.filter((s) => s.simT >= from && s.simT < to).map((s) => [s.simT / 3600, s[key]]);
  return { rate: slope(points), points: points.length };
}

const fmtMB = (bytes) => (Number.isFinite(bytes) ? `${(bytes / MB).toFixed(1)}` : '—');

function checkLeaky(entry, stats) {
  const key = entry.signal === 'external' ? 'externalAfterGc' : 'heapAfterGc';
  const onset = entry.onsetEffective ?? entry.onsetSeconds ?? 0;
  const firstCapped = stats.find((s) => s.capped === true);
  const to = firstCapped ? firstCapped.simT : Infinity;
  // Skip the first production minutes after the onset (and after start-up).
  const from = Math.max(onset, 0) + 300;
  const { rate, points } = ratePerHour(stats, key, from, to);
  const label = entry.leakRatePerHourBytes;
  const ratio = rate / label;
  const problems = [];
  if (points < 10) problems.push(`only ${points} samples in the leak window`);
  if (!(ratio >= 0.5 && ratio <= 2)) problems.push(`rate ${fmtMB(rate)} MB/h is ${ratio.toFixed(2)}× the label`);
  let before = NaN;
  if (onset >= 1200) {
    before = ratePerHour(stats, key, 600, onset).rate;
    if (!(Math.abs(before) < 0.2 * label)) problems.push(`before the onset the floor moved ${fmtMB(before)} MB/h`);
  }
  let heapRate = NaN;
  if (entry.signal === 'external') {
    heapRate = ratePerHour(stats, 'heapAfterGc', from, to).rate;
    if (!(Math.abs(heapRate) < 0.1 * label)) problems.push(`heap floor moved ${fmtMB(heapRate)} MB/h`);
  }
  const extra = [
    Number.isFinite(before) ? `before onset ${fmtMB(before)} MB/h` : '',
    Number.isFinite(heapRate) ? `heap ${fmtMB(heapRate)} MB/h` : '',
    firstCapped ? `capped at simT ${firstCapped.simT} s` : '',
  ].filter(Boolean);
  return { measured: rate, problems, extra };
}

/**
 * Flat after warm-up: the fitted floor moves less than `maxRateMB` per hour,
 * or less than 1 MB over the whole window (short windows: a lifetime).
 */
function checkFlat(entry, stats, from, { maxRateMB = 1.5, key = 'heapAfterGc' } = {}) {
  const window = stats.filter((s) => s.simT >= from);
  const { rate, points } = ratePerHour(stats, key, from);
  const values = window.map((s) => s[key]);
  const range = Math.max(...values) - Math.min(...values);
  const hours = window.length > 1 ? (window.at(-1).simT - window[0].simT) / 3600 : 0;
  const problems = [];
  if (points < 10) problems.push(`only ${points} samples after warm-up`);
  if (!(Math.abs(rate) < maxRateMB * MB || Math.abs(rate * hours) < 1 * MB)) {
    problems.push(`floor moves ${fmtMB(rate)} MB/h after warm-up`);
  }
  return { measured: rate, problems, extra: [`floor range ${fmtMB(range)} MB`] };
}

const special = {
  'long-burst-drain'(entry, stats) {
    const result = checkFlat(entry, stats, 0, { maxRateMB: Infinity });
    const peak = stats.reduce((best, s) => (s.retained > best.retained ? s : best), stats[0]);
    const drained = stats.find((s) => s.simT > peak.simT && s.retained <= 50);
    const baseline = stats.find((s) => s.simT >= 300);
    if (peak.retained < 10_000) result.problems.push(`queue only peaked at ${peak.retained}`);
    if (drained === undefined) result.problems.push('queue did not drain');
    else {
      const diff = drained.heapAfterGc - baseline.heapAfterGc;
      if (diff > 3 * MB) result.problems.push(`floor after draining is ${fmtMB(diff)} MB above the start`);
      result.extra.push(`queue peak ${peak.retained} at simT ${peak.simT}, drained at ${drained.simT}, floor Δ ${fmtMB(diff)} MB`);
    }
    result.measured = NaN;
    return result;
  },
  'diurnal-load'(entry, stats) {
    const result = checkFlat(entry, stats, 0, { maxRateMB: Infinity });
    const first = stats.filter((s) => s.simT < 900);
    const last = stats.slice(-10);
    const startFloor = Math.max(...first.map((s) => s.heapAfterGc));
    const endFloor = Math.min(...last.map((s) => s.heapAfterGc));
    if (!(endFloor < startFloor)) result.problems.push('floor did not come down with the load');
    result.extra.push(`floor ${fmtMB(startFloor)} → ${fmtMB(endFloor)} MB as load falls`);
    result.measured = NaN;
    return result;
  },
  'step-up-once'(entry, stats) {
    const step = 3600;
    const before = stats.filter((s) => s.simT > 1200 && s.simT < step - 60).map((s) => s.heapAfterGc);
    const result = checkFlat(entry, stats, step + 600);
    const after = stats.filter((s) => s.simT > step + 600).map((s) => s.heapAfterGc);
    const rise = Math.min(...after) - Math.min(...before);
    if (!(rise > 10 * MB)) result.problems.push(`no step (${fmtMB(rise)} MB)`);
    result.extra.push(`step ${fmtMB(rise)} MB at ~1 h`);
    return result;
  },
};

async function check(entry) {
  const plan = plans[entry.name] ?? { seconds: 80 };
  const lifetimes = plan.lifetimes ?? 1;
  const runs = [];
  for (let i = 0; i < lifetimes; i++) runs.push(await runOnce(entry, plan));
  const problems = [];
  let result;
  for (const [i, run] of runs.entries()) {
    if (run.stats.length < 5) problems.push(`run ${i + 1}: only ${run.stats.length} stats lines; stderr: ${run.stderr}`);
    if (run.code !== 0) problems.push(`run ${i + 1}: exit ${run.code ?? run.signal}`);
    if (entry.restartEverySeconds !== null && run.stoppedByUs) problems.push(`run ${i + 1}: did not exit by itself`);
  }
  const stats = runs.at(-1).stats;
  if (problems.length === 0) {
    const onsetEnv = plan.env?.SCENARIO_ONSET;
    const effective = { ...entry, onsetEffective: onsetEnv !== undefined ? Number(onsetEnv) : entry.onsetSeconds };
    if (special[entry.name]) result = special[entry.name](effective, stats);
    else if (entry.leaky) result = checkLeaky(effective, stats);
    // Two production minutes of margin after the labelled warm-up.
    else result = checkFlat(effective, stats, (entry.plateauAfterSeconds ?? 180) + 120);
    problems.push(...result.problems);
  }
  const peakRss = Math.max(...runs.flatMap((r) => r.stats.map((s) => s.rss)));
  const lastStats = stats.at(-1);
  return {
    name: entry.name,
    label: entry.leaky ? `${entry.signal} ${fmtMB(entry.leakRatePerHourBytes)} MB/h` : 'healthy',
    measured: result ? fmtMB(result.measured) : '—',
    peakRss: fmtMB(peakRss),
    simHours: lastStats ? (lastStats.simT / 3600).toFixed(2) : '—',
    ok: problems.length === 0,
    problems,
    extra: result?.extra ?? [],
  };
}

const args = process.argv.slice(2);
let jsonOut;
const jsonAt = args.indexOf('--json');
if (jsonAt >= 0) {
  jsonOut = args[jsonAt + 1];
  args.splice(jsonAt, 2);
}
const selected = args.length > 0 ? manifest.filter((e) => args.includes(e.name)) : manifest;
if (selected.length !== (args.length || manifest.length)) {
  const known = new Set(manifest.map((e) => e.name));
  process.stderr.write(`unknown program(s): ${args.filter((a) => !known.has(a)).join(', ')}\n`);
  process.exit(2);
}

const results = [];
const queue = [...selected];
await Promise.all(
  Array.from({ length: Math.min(PARALLEL, queue.length) }, async () => {
    while (queue.length > 0) {
      const entry = queue.shift();
      const started = Date.now();
      const result = await check(entry);
      results.push(result);
      const secs = ((Date.now() - started) / 1000).toFixed(0);
      process.stderr.write(`${result.ok ? 'ok  ' : 'FAIL'} ${entry.name} (${secs} s) ${[...result.extra, ...result.problems].join('; ')}\n`);
    }
  }),
);

results.sort((a, b) => manifest.findIndex((e) => e.name === a.name) - manifest.findIndex((e) => e.name === b.name));
const rows = [['program', 'label (speed 1)', 'measured MB/h', 'sim h', 'peak RSS MB', 'verdict']];
for (const r of results) rows.push([r.name, r.label, r.measured, r.simHours, r.peakRss, r.ok ? 'ok' : `FAIL: ${r.problems.join('; ')}`]);
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
for (const row of rows) console.log(row.map((cell, i) => (i === row.length - 1 ? cell : String(cell).padEnd(widths[i]))).join('  '));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
