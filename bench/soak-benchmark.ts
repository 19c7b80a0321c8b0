/**
 * Self-soak: does the sidecar leak, or stall, while the processes it watches keep
 * restarting? Judged with leakwatch's own trend analysis, applied to leakwatch.
 *
 *   npm run bench:soak                          # 3 minutes, 6 targets restarting every ~10 s
 *   npm run bench:soak -- --minutes 10          # longer: a smaller slope becomes detectable
 *   npm run bench:soak -- --quick               # 1 minute smoke run
 *   npm run bench:soak -- --json                # JSON on stdout; progress and result on stderr
 *   npm run bench:soak -- --targets 6 --restart-every 10 --interval 1s
 *
 * What it does. N targets (half of them leaking ~200 KB/s, half with bounded churn) are
 * started with --inspect=127.0.0.1:0; each is killed (SIGKILL and SIGTERM alternately)
 * and respawned on the SAME inspector port every --restart-every seconds (+-20 %
 * jitter, phases staggered), so the sidecar sees a new pid and a new websocket id each
 * time. One sidecar child (`node dist/cli.js`) watches them all with a stress
 * configuration: 1 s poll interval, attribution `always` at a 5 % budget with a 1 s
 * minimum fetch interval (heap profiles parsed about every second per target), and a
 * 1 minute analysis window with no warm-up (verdicts computed on every poll).
 *
 * Every second the driver scrapes the sidecar's /metrics (as Prometheus would) and
 * records its own process metrics: leakwatch_process_resident_memory_bytes,
 * leakwatch_nodejs_heap_size_used_bytes and leakwatch_nodejs_eventloop_lag_p99_seconds
 * (prom-client resets that histogram at each scrape: it is the p99 of the last second,
 * measured with a 10 ms timer, so ~10 ms means no delay), plus the scrape latency.
 *
 * Then the project's own analysis runs on the sidecar's memory, after a warm-up (a
 * quarter of the run, at most 60 s: module loading, JIT, heap sizing). The RSS floor is
 * the minimum over fixed windows (WindowMinimum; about 20 windows after the warm-up,
 * 6.75 s each in a 3 minute run) collected in a RingSeries. The heap floor is the heap
 * used at the first scrape after each of the sidecar's major GCs (seen in its
 * nodejs_gc_duration_seconds{kind="major"} count; a windowed minimum would follow the
 * slow sawtooth between major GCs). evaluateSignal() (Mann-Kendall + Theil-Sen + the
 * default minimum effect sizes, 1 KiB/s and 5 %/h, + growth sustained over both halves)
 * says whether each floor trends up. The line `PASS: flat RSS floor` / `FAIL: ...` is
 * the verdict on RSS (`INCONCLUSIVE` when the run is too short for 8 floor points). The
 * exit code is 0 either way (it is a benchmark). A 3 minute run can only flag fast
 * growth; run longer for a tighter bound (the thresholds are tested on the slope's
 * lower confidence bound, printed).
 */
import { parseArgs } from 'node:util'
import { RingSeries, WindowMinimum } from '../src/analysis/series.js'
import { evaluateFast, type FastEvidence } from '../src/analysis/verdict.js'
import { DEFAULTS } from '../src/sidecar-config.js'
import { checkBuild, loadAverage, rssBytes, sleep, spawnNode, startSidecar, waitForPolls, type Child } from './lib/processes.js'
import { fmt, median, mib, parsePrometheus, promSum, promValue, quantile, table } from './lib/report.js'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    targets: { type: 'string', default: '6' },
    'restart-every': { type: 'string', default: '10' },
    interval: { type: 'string', default: '1s' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write('Usage: bench/soak-benchmark.ts [--minutes 3] [--quick] [--json] [--targets 6] [--restart-every 10] [--interval 1s]\n')
  process.exit(0)
}
const minutes = Number(values.minutes ?? (values.quick ? 1 : 3))
const targetCount = Number(values.targets)
const restartEveryS = Number(values['restart-every'])
if (![minutes, targetCount, restartEveryS].every((n) => Number.isFinite(n) && n > 0) || !Number.isInteger(targetCount)) {
  process.stderr.write('bad arguments (see --help)\n')
  process.exit(2)
}
const log = values.json ? process.stderr : process.stdout
const runMs = minutes * 60_000
const warmupMs = Math.min(60_000, runMs / 4)
/** About 20 floor points after the warm-up (at least 2 s, at most 1 min per floor). */
const FLOOR_WINDOW_MS = Math.round(Math.min(60_000, Math.max(2_000, (runMs - warmupMs) / 20)))

const LEAKING_TARGET = `
const leaked = []
setInterval(() => { for (let i = 0; i < 10; i++) leaked.push({ at: Date.now(), payload: 'x'.repeat(1000) + Math.random() }) }, 50)
`
const HEALTHY_TARGET = `
const recent = []
setInterval(() => {
  for (let i = 0; i < 10; i++) recent.push({ at: Date.now(), payload: 'x'.repeat(1000) + Math.random() })
  if (recent.length > 2000) recent.splice(0, recent.length - 2000)
}, 50)
`

// ---------------------------------------------------------------------------
// Restarting targets

/** Either the inspector listens (group 1: its port) or it could not bind (the old process still holds the port). */
const INSPECTOR_OUTCOME = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\/|Starting inspector on [^\n]* failed/

interface RestartingTarget {
  readonly name: string
  readonly leaking: boolean
  port: number
  child: Child
  spawns: number
  spawnFailures: number
}

/** Spawns a target on `port` (0: any); retries while the port is still taken by the previous process. */
async function spawnOn(leaking: boolean, port: number): Promise<{ child: Child; port: number; failures: number }> {
  let failures = 0
  for (;;) {
    const child = spawnNode([`--inspect=127.0.0.1:${port}`, '-e', leaking ? LEAKING_TARGET : HEALTHY_TARGET])
    try {
      const match = await child.waitFor(INSPECTOR_OUTCOME, 10_000)
      if (match[1] !== undefined) return { child, port: Number(match[1]), failures }
    } catch {
      // fall through: retry
    }
    failures += 1
    await child.stop('SIGKILL')
    if (failures > 50) throw new Error(`could not respawn a target on port ${port}`)
    await sleep(100)
  }
}

let stopping = false
const restartLoops: Array<Promise<void>> = []

async function restartLoop(target: RestartingTarget, phaseMs: number): Promise<void> {
  await sleep(phaseMs)
  while (!stopping) {
    await sleep(restartEveryS * 1000 * (0.8 + Math.random() * 0.4))
    if (stopping) break
    await target.child.stop(target.spawns % 2 === 0 ? 'SIGKILL' : 'SIGTERM', 2_000)
    const next = await spawnOn(target.leaking, target.port)
    target.child = next.child
    target.spawns += 1
    target.spawnFailures += next.failures
  }
}

// ---------------------------------------------------------------------------

interface Sample {
  tMs: number
  rssBytes: number
  procRssBytes: number
  heapUsedBytes: number
  /** V8's committed heap (prom-client's nodejs_heap_size_total_bytes). */
  heapTotalBytes: number
  externalBytes: number
  eventLoopP99Ms: number
  scrapeMs: number
  restartsSeen: number
  targetsUp: number
  /** The sidecar's count of major GCs (prom-client's nodejs_gc_duration_seconds{kind="major"}). */
  majorGcs: number
}

checkBuild()
log.write(
  `self-soak: ${minutes} min, ${targetCount} targets (${Math.ceil(targetCount / 2)} leaking) restarting every ~${restartEveryS} s, ` +
    `sidecar interval ${values.interval}, attribution always at 5 %; Node ${process.version}, load average ${loadAverage()}\n`,
)
const targets: RestartingTarget[] = []
for (let i = 0; i < targetCount; i++) {
  const leaking = i % 2 === 0
  const spawned = await spawnOn(leaking, 0)
  targets.push({ name: `${leaking ? 'leaky' : 'healthy'}-${i + 1}`, leaking, port: spawned.port, child: spawned.child, spawns: 1, spawnFailures: spawned.failures })
}
const sidecar = await startSidecar({
  interval: values.interval,
  attribution: { mode: 'always', budget: 0.05, minFetchInterval: '1s' },
  analysis: { window: '1m', warmup: '0s', floorWindow: '2s', minPoints: 6 },
  targets: targets.map((t) => ({ name: t.name, port: t.port })),
})
await waitForPolls(sidecar, 1, 30_000)
for (const [i, target] of targets.entries()) restartLoops.push(restartLoop(target, (i * restartEveryS * 1000) / targetCount))

const samples: Sample[] = []
const started = performance.now()
let nextReport = 30_000
let scrapeErrors = 0
while (performance.now() - started < runMs) {
  const tickStarted = performance.now()
  try {
    const text = await sidecar.getText('/metrics')
    const scrapeMs = performance.now() - tickStarted
    const metrics = parsePrometheus(text)
    samples.push({
      tMs: tickStarted - started,
      rssBytes: promValue(metrics, 'leakwatch_process_resident_memory_bytes') ?? Number.NaN,
      procRssBytes: rssBytes(sidecar.pid),
      heapUsedBytes: promValue(metrics, 'leakwatch_nodejs_heap_size_used_bytes') ?? Number.NaN,
      heapTotalBytes: promValue(metrics, 'leakwatch_nodejs_heap_size_total_bytes') ?? Number.NaN,
      externalBytes: promValue(metrics, 'leakwatch_nodejs_external_memory_bytes') ?? Number.NaN,
      eventLoopP99Ms: (promValue(metrics, 'leakwatch_nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
      scrapeMs,
      restartsSeen: promSum(metrics, 'leakwatch_target_restarts_total'),
      targetsUp: promSum(metrics, 'leakwatch_target_up'),
      majorGcs: promValue(metrics, 'leakwatch_nodejs_gc_duration_seconds_count', { kind: 'major' }) ?? Number.NaN,
    })
  } catch (error) {
    scrapeErrors += 1
    log.write(`scrape failed: ${String(error)}\n`)
  }
  const last = samples[samples.length - 1]
  if (last !== undefined && last.tMs >= nextReport) {
    nextReport += 30_000
    log.write(
      `${fmt(last.tMs / 1000, 0).padStart(4)} s: RSS ${mib(last.rssBytes)} MiB, heap ${mib(last.heapUsedBytes)} MiB, ` +
        `ELD p99 ${fmt(last.eventLoopP99Ms, 1)} ms, /metrics ${fmt(last.scrapeMs, 1)} ms, restarts seen ${last.restartsSeen}, ` +
        `up ${last.targetsUp}/${targetCount}, load ${loadAverage()}\n`,
    )
  }
  await sleep(Math.max(0, 1000 - (performance.now() - tickStarted)))
}
stopping = true
await Promise.all(restartLoops)
const finalStatus = await sidecar.getJson<{ targets: Array<{ name: string; restarts: number; polls: number; pollsSkipped: number }> }>('/api/targets')
await sidecar.stop()
await Promise.all(targets.map((t) => t.child.stop()))

// ---------------------------------------------------------------------------
// The project's own trend analysis on the sidecar's memory

function floors(pick: (s: Sample) => number): { times: number[]; values: number[] } {
  const window = new WindowMinimum(FLOOR_WINDOW_MS)
  const series = new RingSeries(10_000)
  for (const sample of samples) {
    if (sample.tMs < warmupMs) continue
    const closed = window.add(sample.tMs, pick(sample))
    if (closed !== undefined) series.push(closed.timeMs, closed.value)
  }
  return series.all()
}

const endMs = samples[samples.length - 1]?.tMs ?? 0
/** The fast path's tests over the whole soak (one window, every floor). */
const analysisConfig = {
  ...DEFAULTS.analysis,
  windowMs: endMs + 1,
  minPoints: Math.min(DEFAULTS.analysis.minPoints, 8),
}
/** Heap used at the first scrape after each major GC of the sidecar: its post-GC heap floor. */
function heapAfterMajorGcs(): { times: number[]; values: number[] } {
  const series = new RingSeries(10_000)
  for (let i = 1; i < samples.length; i++) {
    const sample = samples[i] as Sample
    if (sample.tMs >= warmupMs && sample.majorGcs > (samples[i - 1] as Sample).majorGcs) series.push(sample.tMs, sample.heapUsedBytes)
  }
  return series.all()
}

const rssFloors = floors((s) => s.rssBytes)
const heapFloors = heapAfterMajorGcs()
// Where RSS goes: V8's committed heap, external (Buffers), and the rest (native: malloc, code,
// thread stacks). A floor that grows in "native" with the others flat points at the allocator.
const committedFloors = floors((s) => s.heapTotalBytes)
const nativeFloors = floors((s) => s.rssBytes - s.heapTotalBytes - s.externalBytes)
const rss = evaluateFast(rssFloors, endMs, analysisConfig, warmupMs, undefined)
const heap = evaluateFast(heapFloors, endMs, analysisConfig, warmupMs, undefined)
const committed = evaluateFast(committedFloors, endMs, analysisConfig, warmupMs, undefined)
const native = evaluateFast(nativeFloors, endMs, analysisConfig, warmupMs, undefined)

const half = Math.floor(rssFloors.values.length / 2)
const firstHalfMax = Math.max(...rssFloors.values.slice(0, half))
const secondHalfMax = Math.max(...rssFloors.values.slice(half))
const eld = samples.map((s) => s.eventLoopP99Ms)
const scrape = samples.map((s) => s.scrapeMs)
const respawns = targets.reduce((n, t) => n + t.spawns - 1, 0)
const restartsSeen = finalStatus.targets.reduce((n, t) => n + t.restarts, 0)
const verdictRow = (name: string, e: FastEvidence, series: { values: number[] }): string[] => [
  name,
  String(e.points),
  `${mib(series.values[0] ?? Number.NaN)} -> ${mib(series.values[series.values.length - 1] ?? Number.NaN)}`,
  fmt(e.slopeBytesPerSecond, 0),
  fmt(e.slopeLowerBytesPerSecond, 0),
  fmt(e.relativePerHour * 100, 1),
  e.pValue.toPrecision(2),
  fmt(e.tau, 2),
  e.positive ? 'TRENDS UP' : 'flat',
]
const out = [
  '',
  `Self-soak result (${minutes} min, ${samples.length} samples, warm-up ${warmupMs / 1000} s excluded, floors = min over ${fmt(FLOOR_WINDOW_MS / 1000, 2)} s)`,
  '',
  table(['signal', 'floors', 'first -> last floor MiB', 'slope B/s', 'slope lower B/s', '%/h', 'p (MK)', 'tau', 'verdict'], [
    verdictRow('RSS', rss, rssFloors),
    verdictRow('heap after major GC', heap, heapFloors),
    verdictRow('V8 committed heap', committed, committedFloors),
    verdictRow('RSS - heap - external', native, nativeFloors),
  ]),
  '',
  `thresholds (project defaults): p <= ${analysisConfig.maxPValue}, slope lower bound >= ${analysisConfig.minSlopeBytesPerSecond} B/s, ` +
    `>= ${(analysisConfig.minRelativePerHour * 100).toFixed(0)} %/h, growth sustained over both halves`,
  `RSS reasons: ${rss.reasons.join('; ') || '(all tests passed)'}`,
  `heap reasons: ${heap.reasons.join('; ') || '(all tests passed)'}`,
  `RSS floors MiB: ${rssFloors.values.map((v) => mib(v)).join(' ')}`,
  `heap after each major GC MiB: ${heapFloors.values.map((v) => mib(v)).join(' ')}`,
  `V8 committed heap floors MiB: ${committedFloors.values.map((v) => mib(v)).join(' ')}`,
  `RSS - heap - external floors MiB: ${nativeFloors.values.map((v) => mib(v)).join(' ')}`,
  `RSS /metrics vs /proc at the end: ${mib(samples[samples.length - 1]?.rssBytes ?? Number.NaN)} / ${mib(samples[samples.length - 1]?.procRssBytes ?? Number.NaN)} MiB`,
  '',
  `event-loop delay p99 per second (10 ms timer included): median ${fmt(median(eld), 1)} ms, p95 ${fmt(quantile(eld, 0.95), 1)} ms, max ${fmt(Math.max(...eld), 1)} ms`,
  `/metrics scrape latency: median ${fmt(median(scrape), 1)} ms, p99 ${fmt(quantile(scrape, 0.99), 1)} ms, max ${fmt(Math.max(...scrape), 1)} ms; failed scrapes ${scrapeErrors}`,
  `target respawns ${respawns} (port still taken: ${targets.reduce((n, t) => n + t.spawnFailures, 0)} retries); restarts seen by the sidecar ${restartsSeen}; ` +
    `polls ${finalStatus.targets.reduce((n, t) => n + t.polls, 0)}, skipped ${finalStatus.targets.reduce((n, t) => n + t.pollsSkipped, 0)}`,
  `load average now ${loadAverage()}`,
  '',
  `RSS floor highs: first half ${mib(firstHalfMax)} MiB, second half ${mib(secondHalfMax)} MiB ` +
    `(${secondHalfMax >= firstHalfMax ? '+' : ''}${fmt((secondHalfMax - firstHalfMax) / 1024, 0)} KiB): a leak keeps making new highs; ` +
    'a floor that drops and regrows to the same ceiling (memory returned to the OS, then re-used) does not',
  '',
  rss.points < analysisConfig.minPoints
    ? `INCONCLUSIVE: flat RSS floor not shown (${rss.points} of ${analysisConfig.minPoints} floor points: run longer)`
    : rss.positive
    ? `FAIL: RSS floor trends up (${fmt(rss.slopeBytesPerSecond, 0)} B/s, p=${rss.pValue.toPrecision(2)}; ` +
      `heap after major GC ${heap.positive ? 'trends up too' : 'flat'}, RSS high ${fmt((secondHalfMax - firstHalfMax) / 1024, 0)} KiB above the first half's)`
    : `PASS: flat RSS floor (no leak verdict: slope ${fmt(rss.slopeBytesPerSecond, 0)} B/s, lower bound ${fmt(rss.slopeLowerBytesPerSecond, 0)} B/s, p=${rss.pValue.toPrecision(2)})`,
  '',
].join('\n')
log.write(out)
if (values.json) {
  process.stdout.write(
    `${JSON.stringify(
      {
        settings: { minutes, targetCount, restartEveryS, interval: values.interval, warmupMs, floorWindowMs: FLOOR_WINDOW_MS, analysisConfig, node: process.version },
        pass: !rss.positive && rss.points >= analysisConfig.minPoints,
        rssFloorHighs: { firstHalfMaxBytes: firstHalfMax, secondHalfMaxBytes: secondHalfMax },
        rss: { evidence: rss, floors: rssFloors },
        heap: { evidence: heap, floors: heapFloors },
        committedHeap: { evidence: committed, floors: committedFloors },
        native: { evidence: native, floors: nativeFloors },
        eventLoopP99Ms: { median: median(eld), p95: quantile(eld, 0.95), max: Math.max(...eld) },
        scrapeMs: { median: median(scrape), p99: quantile(scrape, 0.99), max: Math.max(...scrape) },
        respawns,
        restartsSeen,
        samples,
      },
      null,
      2,
    )}\n`,
  )
}
process.exit(0)
