/**
 * Sidecar cost benchmark: what leakwatch itself costs, per watched process, and
 * how long each poll's collectors take.
 *
 *   npm run bench:cost                          # 1, 10, 50 targets x 1 s, 15 s x attribution off, always (~8 min)
 *   npm run bench:cost -- --quick               # smoke run: 1 and 10 targets, short windows
 *   npm run bench:cost -- --json                # JSON on stdout; progress and tables on stderr
 *   npm run bench:cost -- --targets 1,10,50 --intervals 1s,15s --attribution off,always
 *
 * What it measures. Tiny idle targets (`node --inspect=127.0.0.1:0 -e <setInterval that
 * allocates a little>`) are spawned once and reused; for each configuration (number of
 * targets x poll interval x attribution mode, everything else at its default) a fresh
 * sidecar child (`node dist/cli.js --config ...`) watches the first N of them:
 *   - after every target has been polled once and a settle time (10 s), a window (20 s at a
 *     1 s interval, 30 s at 15 s) with no HTTP request to the sidecar but the two /metrics
 *     scrapes that open and close it: its RSS
 *     (/proc/<pid>/status, sampled each second: mean), its CPU (process CPU seconds
 *     from its /metrics, read at both ends), polls done and skipped (/api/targets);
 *     the scrape that ends the window also gives its size and latency, the sidecar's
 *     heap used and its event-loop delay p99 over the window (prom-client's, measured
 *     with a 10 ms timer, which is included);
 *   - at the 1 s interval only, a poll-cost phase (10 s): /api/targets sampled twice a
 *     second, every new poll's collectors[].durationMs (for the agent's parts: the part's
 *     time inside the target plus its parse, the round trip being shared by all of them in
 *     one evaluation; for heap: its own Runtime.getHeapUsage round trip and parse) and
 *     lastPollDurationMs (the whole poll, including the analysis step and any profile
 *     fetch) are collected; p50 / p99 per collector.
 *     The collectors are the same at 15 s; only their schedule differs.
 * "per target" is total / N; "marginal" is (value at N - value at 1 target) / (N - 1).
 *
 * Linux only (/proc). The machine's load average is printed: other work running at the
 * same time inflates CPU and latency numbers.
 */
import { parseArgs } from 'node:util'
import {
  checkBuild,
  loadAverage,
  rssBytes,
  sleep,
  spawnInspected,
  startSidecar,
  waitForPolls,
  type ApiTarget,
  type InspectedChild,
  type SidecarChild,
} from './lib/processes.js'
import { fmt, mean, median, mib, parsePrometheus, promSum, promValue, quantile, table } from './lib/report.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    targets: { type: 'string' },
    intervals: { type: 'string', default: '1s,15s' },
    attribution: { type: 'string', default: 'off,always' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write('Usage: bench/cost-benchmark.ts [--quick] [--json] [--targets 1,10,50] [--intervals 1s,15s] [--attribution off,always]\n')
  process.exit(0)
}
const quick = values.quick
const targetCounts = (values.targets ?? (quick ? '1,10' : '1,10,50')).split(',').map(Number)
const intervals = values.intervals.split(',')
const modes = values.attribution.split(',') as Array<'off' | 'always' | 'on-suspicion'>
const intervalSeconds = (text: string): number => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text)
  if (!match) throw new Error(`bad interval ${text} (use e.g. 1s, 500ms, 15s)`)
  const n = Number(match[1])
  return match[2] === 'ms' ? n / 1000 : match[2] === 'm' ? n * 60 : n
}
if (!targetCounts.every((n) => Number.isInteger(n) && n > 0) || !modes.every((m) => ['off', 'always', 'on-suspicion'].includes(m))) {
  process.stderr.write('bad arguments (see --help)\n')
  process.exit(2)
}
for (const interval of intervals) intervalSeconds(interval)
const log = values.json ? process.stderr : process.stdout

/** The idle target: a timer that keeps a little bounded garbage around. */
const IDLE_TARGET = `
const keep = []
setInterval(() => {
  keep.push({ at: Date.now(), data: new Array(64).fill(Math.random()) })
  if (keep.length > 200) keep.shift()
}, 100)
`

// ---------------------------------------------------------------------------

interface ConfigResult {
  targets: number
  interval: string
  attribution: string
  windowS: number
  rssBytes: number
  rssMaxBytes: number
  heapUsedBytes: number
  cpuMsPerS: number
  polls: number
  pollsSkipped: number
  fetches: number
  metricsBytes: number
  metricsMs: number
  eventLoopP99Ms: number
  /** Poll-cost samples (ms) per collector name, plus "(whole poll)". */
  pollCost: Record<string, number[]> | null
}

const WHOLE_POLL = '(whole poll)'

interface Scrape {
  cpuSeconds: number
  metrics: ReturnType<typeof parsePrometheus>
  bytes: number
  ms: number
}

async function scrape(sidecar: SidecarChild): Promise<Scrape> {
  const started = performance.now()
  const text = await sidecar.getText('/metrics')
  const ms = performance.now() - started
  const metrics = parsePrometheus(text)
  return { cpuSeconds: promValue(metrics, 'leakwatch_process_cpu_seconds_total') ?? Number.NaN, metrics, bytes: Buffer.byteLength(text), ms }
}

async function totals(sidecar: SidecarChild): Promise<{ polls: number; skipped: number }> {
  const { targets } = await sidecar.getJson<{ targets: ApiTarget[] }>('/api/targets')
  return { polls: targets.reduce((n, t) => n + t.polls, 0), skipped: targets.reduce((n, t) => n + t.pollsSkipped, 0) }
}

async function measure(targets: readonly InspectedChild[], interval: string, mode: string): Promise<ConfigResult> {
  const seconds = intervalSeconds(interval)
  const windowS = quick ? (seconds <= 1 ? 6 : 16) : seconds <= 1 ? 20 : 30
  // A fresh sidecar compiles and sizes its heap in its first seconds.
  const settleS = quick ? 2 : 10
  const sidecar = await startSidecar({
    interval,
    attribution: { mode: mode as 'off' | 'always' },
    targets: targets.map((t, i) => ({ name: `t${i + 1}`, port: t.inspectPort })),
  })
  try {
    await waitForPolls(sidecar, 1, 60_000 + targets.length * 1_000)
    await sleep(settleS * 1000)
    // The window: no HTTP request to the sidecar between the two CPU readings but those readings.
    const before = await totals(sidecar)
    const cpuBefore = (await scrape(sidecar)).cpuSeconds
    const started = performance.now()
    const rss: number[] = []
    while (performance.now() - started < windowS * 1000) {
      await sleep(1000)
      rss.push(rssBytes(sidecar.pid))
    }
    // This scrape also gives the event-loop delay over the window (prom-client resets it at each scrape).
    const end = await scrape(sidecar)
    const wallS = (performance.now() - started) / 1000
    const after = await totals(sidecar)
    const metrics = end.metrics
    let pollCost: Record<string, number[]> | null = null
    if (seconds <= 1) {
      pollCost = {}
      const seen = new Set<string>()
      const until = performance.now() + (quick ? 4 : 10) * 1000
      while (performance.now() < until) {
        const { targets: states } = await sidecar.getJson<{ targets: ApiTarget[] }>('/api/targets')
        for (const state of states) {
          const key = `${state.name}#${state.polls}`
          if (state.polls === 0 || seen.has(key)) continue
          seen.add(key)
          for (const collector of state.collectors) {
            if (collector.durationMs === null || !collector.enabled) continue
            ;(pollCost[collector.name] ??= []).push(collector.durationMs)
          }
          if (state.lastPollDurationMs !== null) (pollCost[WHOLE_POLL] ??= []).push(state.lastPollDurationMs)
        }
        await sleep(500)
      }
    }
    return {
      targets: targets.length,
      interval,
      attribution: mode,
      windowS: wallS,
      rssBytes: mean(rss),
      rssMaxBytes: Math.max(...rss),
      heapUsedBytes: promValue(metrics, 'leakwatch_nodejs_heap_size_used_bytes') ?? Number.NaN,
      cpuMsPerS: ((end.cpuSeconds - cpuBefore) * 1000) / wallS,
      polls: after.polls - before.polls,
      pollsSkipped: after.skipped - before.skipped,
      fetches: promSum(metrics, 'leakwatch_profiler_fetches_total'),
      metricsBytes: end.bytes,
      metricsMs: end.ms,
      eventLoopP99Ms: (promValue(metrics, 'leakwatch_nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
      pollCost,
    }
  } finally {
    await sidecar.stop()
  }
}

// ---------------------------------------------------------------------------

checkBuild()
const started = Date.now()
const maxTargets = Math.max(...targetCounts)
log.write(
  `sidecar cost benchmark: ${targetCounts.join(', ')} targets x intervals ${intervals.join(', ')} x attribution ${modes.join(', ')}; ` +
    `Node ${process.version}, load average ${loadAverage()}\nspawning ${maxTargets} idle targets...\n`,
)
const targets: InspectedChild[] = []
for (let i = 0; i < maxTargets; i += 10) {
  const batch = Array.from({ length: Math.min(10, maxTargets - i) }, () => spawnInspected(['-e', IDLE_TARGET]))
  targets.push(...(await Promise.all(batch)))
}
log.write(`targets up (RSS of one: ${mib(rssBytes(targets[0]!.pid))} MiB)\n`)

const results: ConfigResult[] = []
try {
  for (const interval of intervals) {
    for (const mode of modes) {
      for (const n of targetCounts) {
        const result = await measure(targets.slice(0, n), interval, mode)
        results.push(result)
        log.write(
          `${String(n).padStart(3)} targets, ${interval.padEnd(4)} ${mode.padEnd(6)}: RSS ${mib(result.rssBytes)} MiB, heap ${mib(result.heapUsedBytes)} MiB, ` +
            `CPU ${fmt(result.cpuMsPerS, 2)} ms/s, polls ${result.polls} (skipped ${result.pollsSkipped}), fetches ${result.fetches}, ` +
            `/metrics ${fmt(result.metricsBytes / 1024, 0)} KB in ${fmt(result.metricsMs, 1)} ms, ELD p99 ${fmt(result.eventLoopP99Ms, 1)} ms (load ${loadAverage()})\n`,
        )
      }
    }
  }
} finally {
  await Promise.all(targets.map((t) => t.stop()))
}

// ---------------------------------------------------------------------------

const single = (r: ConfigResult): ConfigResult | undefined =>
  results.find((o) => o.targets === 1 && o.interval === r.interval && o.attribution === r.attribution)
const marginal = (r: ConfigResult, pick: (x: ConfigResult) => number): number => {
  const one = single(r)
  return one === undefined || r.targets === 1 ? Number.NaN : (pick(r) - pick(one)) / (r.targets - 1)
}
const costRows = results.map((r) => [
  String(r.targets),
  r.interval,
  r.attribution,
  mib(r.rssBytes),
  fmt(r.rssBytes / r.targets / 1024 / 1024, 2),
  fmt(marginal(r, (x) => x.rssBytes) / 1024, 0),
  mib(r.heapUsedBytes),
  fmt(r.cpuMsPerS / 10, 2),
  fmt(r.cpuMsPerS / r.targets, 3),
  fmt(marginal(r, (x) => x.cpuMsPerS), 3),
  fmt(r.polls / r.windowS, 1),
  String(r.pollsSkipped),
  fmt(r.metricsBytes / 1024, 0),
  fmt(r.metricsMs, 1),
  fmt(r.eventLoopP99Ms, 1),
])
const withPollCost = results.filter((r) => r.pollCost !== null)
const collectorNames = [...new Set(withPollCost.flatMap((r) => Object.keys(r.pollCost ?? {})))].sort((a, b) =>
  a === WHOLE_POLL ? 1 : b === WHOLE_POLL ? -1 : a.localeCompare(b),
)
const out = [
  '',
  `Sidecar cost (${((Date.now() - started) / 60_000).toFixed(1)} min, load average now ${loadAverage()})`,
  '',
  table(
    ['targets', 'interval', 'attribution', 'RSS MiB', 'RSS/target MiB', 'marginal KiB/target', 'heap MiB', 'CPU % core', 'CPU ms/s/target', 'marginal ms/s/target', 'polls/s', 'skipped', '/metrics KB', '/metrics ms', 'ELD p99 ms'],
    costRows,
  ),
  '',
  'RSS: mean over the window; marginal: (value at N - value at 1 target) / (N - 1), same interval and mode.',
  'CPU: the sidecar process (all threads). ELD p99: its event-loop delay p99 (includes the 10 ms timer of the monitor).',
  '',
  ...(withPollCost.length === 0
    ? []
    : [
        'Poll cost: wall time per collector per poll, p50 / p99 in ms (n = polls sampled), 1 s interval',
        table(
          ['collector', ...withPollCost.map((r) => `${r.targets} tgt ${r.attribution}`)],
          collectorNames.map((name) => [
            name,
            ...withPollCost.map((r) => {
              const samples = r.pollCost?.[name] ?? []
              return samples.length === 0 ? 'n/a' : `${fmt(median(samples), 2)} / ${fmt(quantile(samples, 0.99), 2)} (${samples.length})`
            }),
          ]),
        ),
        '',
        `${WHOLE_POLL}: the poll's wall time including the analysis step and profile fetches (attribution always,`,
        'default budget: a fetch at most every 30 s per target, so a 10 s sample may hold none).',
        '',
      ]),
].join('\n')
log.write(out)
if (values.json) {
  process.stdout.write(
    `${JSON.stringify(
      {
        settings: { targetCounts, intervals, modes, quick, node: process.version },
        results: results.map((r) => ({
          ...r,
          pollCost:
            r.pollCost === null
              ? null
              : Object.fromEntries(
                  Object.entries(r.pollCost).map(([name, s]) => [name, { n: s.length, p50: median(s), p99: quantile(s, 0.99), max: Math.max(...s) }]),
                ),
        })),
      },
      null,
      2,
    )}\n`,
  )
}
process.exit(0)
