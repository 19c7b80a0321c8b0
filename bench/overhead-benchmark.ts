/**
 * Overhead benchmark: what watching a process costs the process being watched.
 *
 *   npm run bench:overhead                      # full run (~30 min: 6 conditions x 5 reps x ~55 s, longer on a busy machine)
 *   npm run bench:overhead -- --quick           # smoke run: 2 reps, short windows (~2 min)
 *   npm run bench:overhead -- --json            # JSON on stdout; progress and tables on stderr
 *   npm run bench:overhead -- --reps 7 --rate 1500 --window 30 --warmup 20 --heap-mb 32
 *   npm run bench:overhead -- --conditions baseline,core-1s
 *
 * What it measures. A small plain node:http JSON service (bench/lib/target-server.mjs,
 * started with --inspect=127.0.0.1:0, ~32 MB of long-lived data plus a 2000-entry LRU)
 * runs under a FIXED request rate (default 2000 req/s) from autocannon in another
 * process (its CLI with -R / --overallRate, 10 connections). Per run:
 *   1. a fresh target; 2. warm-up load for --warmup s, while the sidecar (a child
 *   process, `node dist/cli.js --config ...`, so its CPU is not the target's nor the
 *   driver's) attaches and polls; 3. a measured window of --window s of load.
 * Per window: the target's CPU time (process.cpuUsage() of all its threads, read
 * over GET /__stats just before and after) per 1000 requests, autocannon's p99 and
 * p99.9 latency (1 ms resolution, corrected for coordinated omission), the
 * sidecar's own CPU (/proc), heap profile fetches and their pause from the
 * sidecar's /metrics, and the CPU used by anything else on the machine
 * (/proc/stat minus target, sidecar, autocannon and this driver) as a noise gauge.
 *
 * Conditions (interleaved, the order rotated each rep: A B C D E F, B C D E F A, ...;
 * medians over reps; the ratio is median(condition) / median(baseline)):
 *   baseline     inspector open, no sidecar
 *   core-15s     core signals only, default 15 s interval (2 polls per 30 s window)
 *   core-1s      core signals only, 1 s interval: the same work 15x as often (magnifies it)
 *   core-idle    (only when named in --conditions) the agent installed and a session open,
 *                but no polls in the window (1 h interval): the fixed cost alone (GC
 *                observer, event-loop timer), without any poll
 *   core-250ms   (only when named in --conditions) 60x magnified, to resolve the cost of
 *                one poll when it is below the run-to-run noise
 *   attr-default attribution `always` with every other setting default (15 s interval,
 *                budget 0.2 %, minFetchInterval 30 s). The first fetch comes 30 s after
 *                sampling starts, inside the window; later ones come cost / budget apart
 *                (~75 s for a fetch that costs 150 ms), so this row shows one fetch per
 *                30 s window, more than the steady state (which the budget bounds).
 *   attr-1pct    attribution `always`, budget 1 %, minFetchInterval 1 s, 1 s interval
 *   attr-5pct    attribution `always`, budget 5 %, minFetchInterval 1 s, 1 s interval
 * The last three give the cost curve of the attribution budget.
 *
 * Linux only (/proc). Use an otherwise idle machine: the "other CPU" column says how
 * idle it was.
 */
import { parseArgs } from 'node:util'
import {
  AUTOCANNON_PATH,
  TARGET_SERVER_PATH,
  checkBuild,
  cpuMs,
  loadAverage,
  machineBusyMs,
  sleep,
  spawnInspected,
  spawnNode,
  startSidecar,
  waitForPolls,
  type ApiTarget,
  type SidecarChild,
  type SidecarSpec,
} from './lib/processes.js'
import { fmt, median, parsePrometheus, promSum, quantile, table } from './lib/report.js'

interface Condition {
  readonly id: string
  readonly description: string
  readonly sidecar: Omit<SidecarSpec, 'targets'> | undefined
  /** Stated attribution budget (share of wall time a fetch may cost: pause or target CPU), for comparison. */
  readonly budget?: number
  /** Run only when named in --conditions. */
  readonly optional?: boolean
}

const CONDITIONS: readonly Condition[] = [
  { id: 'baseline', description: 'inspector open, no sidecar', sidecar: undefined },
  { id: 'core-15s', description: 'core signals, 15 s interval (default)', sidecar: { interval: '15s', attribution: { mode: 'off' } } },
  { id: 'core-1s', description: 'core signals, 1 s interval (15x magnified)', sidecar: { interval: '1s', attribution: { mode: 'off' } } },
  {
    id: 'core-idle',
    description: 'agent installed, one poll at connect, then none (fixed cost; only with --conditions)',
    sidecar: { interval: '1h', attribution: { mode: 'off' } },
    optional: true,
  },
  {
    id: 'core-250ms',
    description: 'core signals, 250 ms interval (60x magnified; only with --conditions)',
    sidecar: { interval: '250ms', attribution: { mode: 'off' } },
    optional: true,
  },
  {
    id: 'attr-default',
    description: 'attribution always, defaults (15 s, budget 0.2 %, min 30 s)',
    sidecar: { interval: '15s', attribution: { mode: 'always' } },
    budget: 0.002,
  },
  {
    id: 'attr-1pct',
    description: 'attribution always, budget 1 %, min 1 s, 1 s interval',
    sidecar: { interval: '1s', attribution: { mode: 'always', budget: 0.01, minFetchInterval: '1s' } },
    budget: 0.01,
  },
  {
    id: 'attr-5pct',
    description: 'attribution always, budget 5 %, min 1 s, 1 s interval',
    sidecar: { interval: '1s', attribution: { mode: 'always', budget: 0.05, minFetchInterval: '1s' } },
    budget: 0.05,
  },
]

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    reps: { type: 'string' },
    rate: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '10' },
    window: { type: 'string' },
    warmup: { type: 'string' },
    'heap-mb': { type: 'string', default: '32' },
    conditions: { type: 'string' },
    'max-other': { type: 'string', default: '30' },
    retries: { type: 'string', default: '2' },
    'quiet-wait': { type: 'string', default: '300' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write(
    'Usage: bench/overhead-benchmark.ts [--quick] [--json] [--reps N] [--rate RPS] [--connections N]\n' +
      `       [--window S] [--warmup S] [--heap-mb N] [--conditions ${CONDITIONS.map((c) => c.id).join(',')}]\n` +
      '       [--max-other PCT] [--retries N]   repeat a run (up to N times) when other processes used more than\n' +
      '                                         PCT % of a core during its window (default 30, 2)\n' +
      '       [--quiet-wait S]                  before each run, wait up to S s for the machine to be that quiet (default 300)\n',
  )
  process.exit(0)
}
const reps = Number(values.reps ?? (values.quick ? 2 : 5))
const rate = Number(values.rate)
const connections = Number(values.connections)
const windowS = Number(values.window ?? (values.quick ? 6 : 30))
const warmupS = Number(values.warmup ?? (values.quick ? 4 : 20))
const heapMb = Number(values['heap-mb'])
const maxOtherPct = Number(values['max-other'])
const retries = Number(values.retries)
const quietWaitS = Number(values['quiet-wait'])
const selected = values.conditions === undefined ? CONDITIONS.filter((c) => c.optional !== true) : CONDITIONS.filter((c) => values.conditions!.split(',').includes(c.id))
if (
  selected.length === 0 ||
  ![reps, rate, connections, windowS, warmupS, heapMb, maxOtherPct].every((n) => Number.isFinite(n) && n > 0) ||
  !(Number.isInteger(retries) && retries >= 0)
) {
  process.stderr.write('bad arguments (see --help)\n')
  process.exit(2)
}
if (selected[0]?.id !== 'baseline') process.stderr.write('note: no baseline condition selected: ratios are n/a\n')
const log = values.json ? process.stderr : process.stdout

// ---------------------------------------------------------------------------

interface LoadResult {
  requests: number
  errors: number
  non2xx: number
  p50: number
  p99: number
  p999: number
  max: number
  cpuMs: number
}

/** Runs autocannon's CLI in its own process at a fixed overall rate; samples its CPU until it exits. */
async function runLoad(url: string, seconds: number): Promise<LoadResult> {
  const child = spawnNode([AUTOCANNON_PATH, '-R', String(rate), '-c', String(connections), '-d', String(seconds), '-j', '-n', url])
  const start = cpuMs(child.pid)
  let last = start
  const sampler = setInterval(() => {
    const now = cpuMs(child.pid)
    if (Number.isFinite(now)) last = now
  }, 200)
  const { code } = await child.exited
  clearInterval(sampler)
  if (code !== 0) throw new Error(`autocannon exited with ${code}: ${child.stderr().slice(-1000)}`)
  const line = child.stdout().trim().split('\n').filter((l) => l.startsWith('{')).pop()
  if (line === undefined) throw new Error(`no JSON from autocannon: ${child.stdout().slice(-500)} ${child.stderr().slice(-500)}`)
  const result = JSON.parse(line) as {
    requests: { total: number }
    latency: { p50: number; p99: number; p99_9: number; max: number }
    errors: number
    timeouts: number
    non2xx: number
  }
  return {
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    max: result.latency.max,
    cpuMs: Number.isFinite(start) ? last - start : Number.NaN,
  }
}

/**
 * Waits (up to --quiet-wait s) until the rest of the machine uses less than
 * --max-other % of a core over 2 s, so a run does not start in the middle of
 * someone's test suite. Returns the seconds waited.
 */
async function waitForQuiet(): Promise<number> {
  const started = performance.now()
  let announced = false
  for (;;) {
    const busyBefore = machineBusyMs()
    const selfBefore = process.cpuUsage()
    await sleep(2000)
    const self = process.cpuUsage(selfBefore)
    const otherPct = ((machineBusyMs() - busyBefore - (self.user + self.system) / 1000) / 2000) * 100
    const waited = (performance.now() - started) / 1000
    if (otherPct <= maxOtherPct || waited >= quietWaitS) {
      if (announced) log.write(`  ... ${otherPct <= maxOtherPct ? 'quiet' : 'still busy, going on'} after ${fmt(waited, 0)} s\n`)
      return waited
    }
    if (!announced) log.write(`  machine busy (other processes ${fmt(otherPct, 0)} % of a core): waiting for it to quiet down\n`)
    announced = true
  }
}

interface TargetStats {
  served: number
  cpuUserMicros: number
  cpuSystemMicros: number
}

async function targetStats(port: number): Promise<TargetStats> {
  const response = await fetch(`http://127.0.0.1:${port}/__stats`)
  return (await response.json()) as TargetStats
}

interface ProfilerCounters {
  fetches: number
  pauseMs: number
  /** The target's CPU during fetches, as the sidecar measured it (what the budget is charged). */
  fetchCpuMs: number
}

async function profilerCounters(sidecar: SidecarChild | undefined): Promise<ProfilerCounters> {
  if (sidecar === undefined) return { fetches: 0, pauseMs: 0, fetchCpuMs: 0 }
  const samples = parsePrometheus(await sidecar.getText('/metrics'))
  return {
    fetches: promSum(samples, 'leakwatch_profiler_fetches_total'),
    pauseMs: promSum(samples, 'leakwatch_profiler_pause_seconds_total') * 1000,
    fetchCpuMs: promSum(samples, 'leakwatch_profiler_target_cpu_seconds_total') * 1000,
  }
}

async function pollCount(sidecar: SidecarChild | undefined): Promise<number> {
  if (sidecar === undefined) return 0
  const { targets } = await sidecar.getJson<{ targets: ApiTarget[] }>('/api/targets')
  return targets.reduce((sum, t) => sum + t.polls, 0)
}

interface RunResult {
  condition: string
  rep: number
  requests: number
  errors: number
  targetCpuMs: number
  targetCpuMsPer1k: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  sidecarCpuMsPerS: number
  sidecarPolls: number
  fetches: number
  pauseMs: number
  /** Pause share of the window's wall time. */
  pauseShare: number
  fetchCpuMs: number
  /** What the budget bounds: the larger of pause and target CPU during fetches, per wall time. */
  chargedShare: number
  loadgenCpuMs: number
  /** CPU share (of one core) used by everything else on the machine during the window. */
  otherCpuPct: number
  loadAverage: string
  /** Earlier attempts of this run discarded because other processes used the CPU. */
  retried: number
}

async function runOnce(condition: Condition, rep: number): Promise<RunResult> {
  const target = await spawnInspected([TARGET_SERVER_PATH, '--heap-mb', String(heapMb)], { ready: /ready port=(\d+)/ })
  const port = Number(target.readyMatch?.[1])
  const url = `http://127.0.0.1:${port}/`
  let sidecar: SidecarChild | undefined
  try {
    const warmup = runLoad(url, warmupS)
    if (condition.sidecar !== undefined) {
      sidecar = await startSidecar({ ...condition.sidecar, targets: [{ name: 'app', port: target.inspectPort }] })
      await waitForPolls(sidecar, 1, 20_000)
    }
    await warmup
    const pollsBefore = await pollCount(sidecar)
    const before = {
      target: await targetStats(port),
      sidecarCpu: sidecar === undefined ? 0 : cpuMs(sidecar.pid),
      profiler: await profilerCounters(sidecar),
      machine: machineBusyMs(),
      self: process.cpuUsage(),
      wall: performance.now(),
    }
    const load = await runLoad(url, windowS)
    const after = {
      target: await targetStats(port),
      sidecarCpu: sidecar === undefined ? 0 : cpuMs(sidecar.pid),
      profiler: await profilerCounters(sidecar),
      machine: machineBusyMs(),
      self: process.cpuUsage(before.self),
      wall: performance.now(),
    }
    const pollsAfter = await pollCount(sidecar)
    const wallS = (after.wall - before.wall) / 1000
    const targetCpu =
      (after.target.cpuUserMicros + after.target.cpuSystemMicros - before.target.cpuUserMicros - before.target.cpuSystemMicros) / 1000
    const sidecarCpu = after.sidecarCpu - before.sidecarCpu
    const selfCpu = (after.self.user + after.self.system) / 1000
    const other = after.machine - before.machine - targetCpu - sidecarCpu - load.cpuMs - selfCpu
    const requests = after.target.served - before.target.served - 1 // minus the /__stats request
    const pauseMs = after.profiler.pauseMs - before.profiler.pauseMs
    const fetchCpuMs = after.profiler.fetchCpuMs - before.profiler.fetchCpuMs
    return {
      condition: condition.id,
      rep,
      requests,
      errors: load.errors + load.non2xx,
      targetCpuMs: targetCpu,
      targetCpuMsPer1k: targetCpu / (requests / 1000),
      p50Ms: load.p50,
      p99Ms: load.p99,
      p999Ms: load.p999,
      maxMs: load.max,
      sidecarCpuMsPerS: sidecarCpu / wallS,
      sidecarPolls: pollsAfter - pollsBefore,
      fetches: after.profiler.fetches - before.profiler.fetches,
      pauseMs,
      pauseShare: pauseMs / (wallS * 1000),
      fetchCpuMs,
      chargedShare: Math.max(pauseMs, fetchCpuMs) / (wallS * 1000),
      loadgenCpuMs: load.cpuMs,
      otherCpuPct: (other / (wallS * 1000)) * 100,
      loadAverage: loadAverage(),
      retried: 0,
    }
  } finally {
    await sidecar?.stop()
    await target.stop()
  }
}

// ---------------------------------------------------------------------------

checkBuild()
const started = Date.now()
log.write(
  `overhead benchmark: ${selected.length} conditions x ${reps} reps, ${rate} req/s (${connections} connections), ` +
    `warm-up ${warmupS} s + window ${windowS} s per run, target heap ~${heapMb} MB, Node ${process.version}, load average ${loadAverage()}\n`,
)
const runs: RunResult[] = []
for (let rep = 1; rep <= reps; rep++) {
  // Rotate the order each rep (A B C, B C A, C A B, ...): a condition that always ran first
  // (after the quiet wait, on a cooled machine) or last would carry that position's bias.
  const shift = (rep - 1) % selected.length
  const order = [...selected.slice(shift), ...selected.slice(0, shift)]
  for (const condition of order) {
    await waitForQuiet()
    let run = await runOnce(condition, rep)
    for (let attempt = 1; attempt <= retries && run.otherCpuPct > maxOtherPct; attempt++) {
      log.write(`rep ${rep}/${reps} ${condition.id}: other processes used ${fmt(run.otherCpuPct, 0)} % of a core, repeating\n`)
      await waitForQuiet()
      run = { ...(await runOnce(condition, rep)), retried: attempt }
    }
    runs.push(run)
    log.write(
      `rep ${rep}/${reps} ${condition.id.padEnd(12)} cpu ${fmt(run.targetCpuMsPer1k, 2)} ms/1k req, p99 ${run.p99Ms} ms, p99.9 ${run.p999Ms} ms, ` +
        `max ${run.maxMs} ms, polls ${run.sidecarPolls}, fetches ${run.fetches}, pause ${fmt(run.pauseMs, 0)} ms, ` +
        `sidecar ${fmt(run.sidecarCpuMsPerS, 1)} ms/s, other ${fmt(run.otherCpuPct, 1)} %, errors ${run.errors}\n`,
    )
  }
}

interface Summary {
  condition: string
  description: string
  reps: number
  targetCpuMsPer1k: number
  cpuRatio: number
  /** min..max of the per-rep ratios to the same rep's baseline. */
  cpuRatioRange: [number, number]
  p99Ms: number
  p99Ratio: number
  p999Ms: number
  maxMs: number
  sidecarCpuMsPerS: number
  pollsPerWindow: number
  fetchesPerWindow: number
  pauseMsPerWindow: number
  pauseShare: number
  fetchCpuMsPerWindow: number
  chargedShare: number
  budget: number | null
  otherCpuPct: number
  /** Target CPU beyond the baseline per profile fetch (ms), when the condition fetched. */
  extraCpuMsPerFetch: number | null
  /** Target CPU beyond the baseline per sidecar poll (ms), for conditions without fetches. */
  extraCpuMsPerPoll: number | null
  /** Median pause (fetch wall time) per fetch. */
  pauseMsPerFetch: number | null
  /** Reps whose window still had more than --max-other % other CPU after the retries. */
  disturbedReps: number
}

const baselineRuns = runs.filter((r) => r.condition === 'baseline')
const baselineCpu = median(baselineRuns.map((r) => r.targetCpuMsPer1k))
const baselineP99 = median(baselineRuns.map((r) => r.p99Ms))
function perFetch(mine: readonly RunResult[], cpuPer1k: number): Pick<Summary, 'extraCpuMsPerFetch' | 'pauseMsPerFetch'> {
  const fetches = median(mine.map((r) => r.fetches))
  if (!(fetches > 0)) return { extraCpuMsPerFetch: null, pauseMsPerFetch: null }
  const requests = median(mine.map((r) => r.requests))
  return {
    extraCpuMsPerFetch: ((cpuPer1k - baselineCpu) * (requests / 1000)) / fetches,
    pauseMsPerFetch: median(mine.filter((r) => r.fetches > 0).map((r) => r.pauseMs / r.fetches)),
  }
}

function perPoll(mine: readonly RunResult[], cpuPer1k: number): number | null {
  const polls = median(mine.map((r) => r.sidecarPolls))
  if (!(polls > 0) || mine.some((r) => r.fetches > 0)) return null
  return ((cpuPer1k - baselineCpu) * (median(mine.map((r) => r.requests)) / 1000)) / polls
}

const summaries: Summary[] = selected.map((condition) => {
  const mine = runs.filter((r) => r.condition === condition.id)
  const paired = mine
    .map((r) => {
      const base = baselineRuns.find((b) => b.rep === r.rep)
      return base === undefined ? Number.NaN : r.targetCpuMsPer1k / base.targetCpuMsPer1k
    })
    .filter(Number.isFinite)
  const cpu = median(mine.map((r) => r.targetCpuMsPer1k))
  const p99 = median(mine.map((r) => r.p99Ms))
  return {
    condition: condition.id,
    description: condition.description,
    reps: mine.length,
    targetCpuMsPer1k: cpu,
    cpuRatio: cpu / baselineCpu,
    cpuRatioRange: [quantile(paired, 0), quantile(paired, 1)],
    p99Ms: p99,
    p99Ratio: p99 / baselineP99,
    p999Ms: median(mine.map((r) => r.p999Ms)),
    maxMs: median(mine.map((r) => r.maxMs)),
    sidecarCpuMsPerS: median(mine.map((r) => r.sidecarCpuMsPerS)),
    pollsPerWindow: median(mine.map((r) => r.sidecarPolls)),
    fetchesPerWindow: median(mine.map((r) => r.fetches)),
    pauseMsPerWindow: median(mine.map((r) => r.pauseMs)),
    pauseShare: median(mine.map((r) => r.pauseShare)),
    fetchCpuMsPerWindow: median(mine.map((r) => r.fetchCpuMs)),
    chargedShare: median(mine.map((r) => r.chargedShare)),
    budget: condition.budget ?? null,
    otherCpuPct: median(mine.map((r) => r.otherCpuPct)),
    disturbedReps: mine.filter((r) => r.otherCpuPct > maxOtherPct).length,
    ...perFetch(mine, cpu),
    extraCpuMsPerPoll: perPoll(mine, cpu),
  }
})

const pct = (x: number, digits = 1): string => (Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : 'n/a')
const signedPct = (ratio: number): string => (Number.isFinite(ratio) ? `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%` : 'n/a')
const out = [
  '',
  `Target cost at ${rate} req/s, ${windowS} s windows, medians of ${reps} interleaved reps (${((Date.now() - started) / 60_000).toFixed(1)} min, load average now ${loadAverage()})`,
  '',
  table(
    ['condition', 'cpu ms/1k req', 'vs base', 'per-rep range', 'p99 ms', 'p99.9 ms', 'max ms', 'sidecar ms/s', 'polls', 'fetches', 'pause ms', 'fetch cpu ms', 'charged share', 'budget', 'other cpu', 'disturbed'],
    summaries.map((s) => [
      s.condition,
      fmt(s.targetCpuMsPer1k, 2),
      signedPct(s.cpuRatio),
      s.condition === 'baseline' ? '' : `${signedPct(s.cpuRatioRange[0])}..${signedPct(s.cpuRatioRange[1])}`,
      fmt(s.p99Ms, 0),
      fmt(s.p999Ms, 0),
      fmt(s.maxMs, 0),
      fmt(s.sidecarCpuMsPerS, 1),
      fmt(s.pollsPerWindow, 0),
      fmt(s.fetchesPerWindow, 0),
      fmt(s.pauseMsPerWindow, 0),
      fmt(s.fetchCpuMsPerWindow, 0),
      s.budget === null ? '' : pct(s.chargedShare, 2),
      s.budget === null ? '' : pct(s.budget, 1),
      `${fmt(s.otherCpuPct, 1)}%`,
      String(s.disturbedReps),
    ]),
  ),
  '',
  'cpu ms/1k req: target CPU (all threads) per 1000 requests; vs base: median / baseline median; per-rep range:',
  'ratios to the same rep\'s baseline. p99/p99.9/max: autocannon latency (1 ms resolution). sidecar ms/s: the',
  'sidecar\'s own CPU. polls/fetches/pause/fetch cpu: per window, from the sidecar (fetch cpu: the target\'s CPU',
  'while fetches ran). charged share: the larger of pause and fetch cpu / window (what the budget bounds; the',
  'first fetch comes at the minimum interval, later ones cost/budget apart). other cpu: everything else on the',
  'machine, % of one core (noise gauge);',
  `disturbed: reps still above ${maxOtherPct} % other cpu after ${retries} retries (${runs.reduce((n, r) => n + r.retried, 0)} runs were repeated).`,
  ...summaries.map((s) => `  ${s.condition.padEnd(12)} ${s.description}`),
  '',
].join('\n')
const polling = summaries.filter((s) => s.extraCpuMsPerPoll !== null)
const perPollTable =
  polling.length === 0
    ? ''
    : [
        'Cost of one core poll (all collectors), from the medians above; at the default 15 s interval it is paid every 15 s:',
        table(
          ['condition', 'polls/window', 'extra target cpu ms/poll', 'at 15 s: ms/s', 'at 15 s: % of baseline cpu'],
          polling.map((s) => {
            const perPollMs = s.extraCpuMsPerPoll ?? Number.NaN
            const baselineMsPerS = baselineCpu * (rate / 1000)
            return [s.condition, fmt(s.pollsPerWindow, 0), fmt(perPollMs, 2), fmt(perPollMs / 15, 3), `${fmt((perPollMs / 15 / baselineMsPerS) * 100, 2)}%`]
          }),
        ),
        '',
      ].join('\n')
const fetching = summaries.filter((s) => s.extraCpuMsPerFetch !== null)
const perFetchTable =
  fetching.length === 0
    ? ''
    : [
        'Cost of one heap profile fetch (forced major GC + profile serialization), from the medians above:',
        table(
          ['condition', 'fetches/window', 'pause ms/fetch', 'extra target cpu ms/fetch'],
          fetching.map((s) => [s.condition, fmt(s.fetchesPerWindow, 0), fmt(s.pauseMsPerFetch ?? Number.NaN, 1), fmt(s.extraCpuMsPerFetch ?? Number.NaN, 0)]),
        ),
        '',
      ].join('\n')
log.write(out)
log.write(perPollTable)
log.write(perFetchTable)
if (values.json) {
  process.stdout.write(
    `${JSON.stringify({ settings: { reps, rate, connections, windowS, warmupS, heapMb, maxOtherPct, retries, quietWaitS, node: process.version }, summaries, runs }, null, 2)}\n`,
  )
}
process.exit(0)
