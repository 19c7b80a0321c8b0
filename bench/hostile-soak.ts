/**
 * Hostile-target soak (issue 12): one real sidecar (`node dist/cli.js`) watches five healthy
 * real targets and one fake inspector that cycles through every bad behaviour of the issue
 * (bench/lib/hostile-inspector.ts: frames that used to crash the sidecar, discovery and
 * redirects leading off loopback, megabytes of target text, a profile of a million nodes,
 * messages over the size limit, 40 MB replies every poll, an agent that keeps vanishing, a
 * poll that never returns, a throwing PerformanceObserver, a frozen process).
 *
 *   npm run bench:hostile                       # 10 minutes, 20 s per behaviour
 *   npm run bench:hostile -- --minutes 2        # a quick run
 *   npm run bench:hostile -- --phase-seconds 30 --interval 1s --rss-bound-mib 768
 *   npm run bench:hostile -- --minutes 1 --only profile-1M-nodes,healthy   # some behaviours only
 *
 * It reports the sidecar's resident memory over time (max and final, checked against
 * --rss-bound-mib), each healthy target's poll schedule (the gaps between its polls, seen in
 * /api/targets every 250 ms, against the interval), the latency of /metrics (scraped every
 * second, as Prometheus would) and /healthz, and what the sidecar counted about the hostile
 * target. Every 30 s it also downloads the hostile target's latest profile (pprof and
 * .heapprofile). The exit code is 0 either way (a benchmark); the lines PASS / FAIL say
 * whether the sidecar stayed up and within the bound.
 */
import { parseArgs } from 'node:util'
import { checkBuild, loadAverage, rssBytes, sleep, spawnInspected, spawnNode, startSidecar, type SidecarChild } from './lib/processes.js'
import { fmt, mib, quantile, table } from './lib/report.js'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'phase-seconds': { type: 'string', default: '20' },
    interval: { type: 'string', default: '1s' },
    'rss-bound-mib': { type: 'string', default: '768' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write('Usage: bench/hostile-soak.ts [--minutes 10] [--phase-seconds 20] [--interval 1s] [--rss-bound-mib 768] [--only BEHAVIOUR,...]\n')
  process.exit(0)
}
const runMs = Number(values.minutes) * 60_000
const phaseSeconds = Number(values['phase-seconds'])
const rssBoundBytes = Number(values['rss-bound-mib']) * 1024 * 1024
const intervalMs = /^(\d+)(ms|s)$/.exec(values.interval ?? '')
if (!(runMs > 0) || !(phaseSeconds > 0) || !(rssBoundBytes > 0) || intervalMs === null) {
  process.stderr.write('bad arguments (see --help)\n')
  process.exit(2)
}
const INTERVAL_MS = Number(intervalMs[1]) * (intervalMs[2] === 's' ? 1000 : 1)
const HEALTHY = 5
/** A small service's churn: short-lived garbage and a bounded cache. */
const HEALTHY_TARGET = `
const recent = []
setInterval(() => {
  for (let i = 0; i < 20; i++) recent.push({ at: Date.now(), payload: 'x'.repeat(200) + Math.random() })
  if (recent.length > 5000) recent.splice(0, recent.length - 5000)
}, 20)
process.stdout.write('ready\\n')
`

interface Timed {
  readonly atMs: number
  readonly ms: number
  readonly ok: boolean
}

async function timedGet(url: string): Promise<Timed & { bytes: number }> {
  const atMs = Date.now()
  const started = performance.now()
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
    const body = await response.arrayBuffer()
    return { atMs, ms: performance.now() - started, ok: response.ok, bytes: body.byteLength }
  } catch {
    return { atMs, ms: performance.now() - started, ok: false, bytes: 0 }
  }
}

interface ApiStatus {
  name: string
  up: boolean
  polls: number
  pollsSkipped: number
  lastPollAt: string | null
  connects: number
  connectFailures: number
  protocolErrors: number
  agentInstalls: number
  lastError: { code: string; message: string } | null
}

checkBuild()
process.stdout.write(`hostile soak: ${values.minutes} min, ${phaseSeconds} s per behaviour, poll interval ${INTERVAL_MS} ms; load ${loadAverage()}\n`)

const hostile = spawnNode([
  '--import',
  '@tapjs/typescript/import',
  'bench/lib/hostile-inspector.ts',
  '--phase-seconds',
  String(phaseSeconds),
  ...(values.only === undefined ? [] : ['--only', values.only]),
])
const hostilePort = Number((await hostile.waitFor(/^listening (\d+)$/m, 60_000))[1])
/** When each behaviour began, as announced by the hostile target. */
const phaseStarts: Array<{ atMs: number; name: string }> = []
let partial = ''
hostile.proc.stdout?.on('data', (chunk: string) => {
  const lines = (partial + chunk).split('\n')
  partial = lines.pop() ?? ''
  for (const line of lines) {
    const match = /^phase \d+ (\S+)$/.exec(line)
    if (match !== null) phaseStarts.push({ atMs: Date.now(), name: match[1]! })
  }
})
const behaviourAt = (atMs: number): string => {
  let name = 'healthy'
  for (const phase of phaseStarts) if (phase.atMs <= atMs) name = phase.name
  return name
}
const healthy = await Promise.all(Array.from({ length: HEALTHY }, () => spawnInspected(['-e', HEALTHY_TARGET], { ready: /^ready$/m })))
const names = healthy.map((_, i) => `healthy-${i + 1}`)
const sidecar: SidecarChild = await startSidecar({
  targets: [...healthy.map((target, i) => ({ name: names[i]!, port: target.inspectPort })), { name: 'hostile', port: hostilePort }],
  interval: values.interval!,
  attribution: { mode: 'always', budget: 0.1, minFetchInterval: '5s' },
  settings: { timeout: '2s', reconnect: { minDelay: '500ms', maxDelay: '5s' } },
  logLevel: 'error',
})

// Healthy targets up first, so the schedule is measured from their first poll on.
for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
  const { targets } = await sidecar.getJson<{ targets: ApiStatus[] }>('/api/targets')
  if (targets.filter((t) => names.includes(t.name)).every((t) => t.up && t.polls >= 2)) break
  if (Date.now() > deadline) throw new Error('the healthy targets were not polled within 60 s')
}

const started = Date.now()
const end = started + runMs
const rss: Array<{ atMs: number; bytes: number }> = []
const scrapes: Timed[] = []
const probes: Timed[] = []
const downloads: Array<Timed & { format: string; bytes: number }> = []
const pollTimes = new Map<string, Set<number>>(names.map((name) => [name, new Set()]))
let sidecarDied = false

const everySecond = (async () => {
  while (Date.now() < end && !sidecarDied) {
    const tick = Date.now()
    if (sidecar.proc.exitCode !== null || sidecar.proc.signalCode !== null) sidecarDied = true
    rss.push({ atMs: tick, bytes: rssBytes(sidecar.pid) })
    scrapes.push(await timedGet(`${sidecar.url}/metrics`))
    probes.push(await timedGet(`${sidecar.url}/healthz`))
    await sleep(Math.max(0, 1000 - (Date.now() - tick)))
  }
})()

const schedule = (async () => {
  while (Date.now() < end && !sidecarDied) {
    try {
      const { targets } = await sidecar.getJson<{ targets: ApiStatus[] }>('/api/targets')
      for (const target of targets) {
        if (target.lastPollAt !== null) pollTimes.get(target.name)?.add(Date.parse(target.lastPollAt))
      }
    } catch {
      // counted by the scrapes
    }
    await sleep(250)
  }
})()

const untilNextOrEnd = (ms: number): Promise<void> => sleep(Math.min(ms, Math.max(0, end - Date.now())))
const profileDownloads = (async () => {
  await untilNextOrEnd(30_000)
  while (Date.now() < end && !sidecarDied) {
    for (const format of ['pprof', 'heapprofile']) {
      const result = await timedGet(`${sidecar.url}/api/targets/hostile/profile?format=${format}`)
      downloads.push({ ...result, format })
    }
    await untilNextOrEnd(30_000)
  }
})()

let lastReport = started
while (Date.now() < end && !sidecarDied) {
  await sleep(1000)
  if (Date.now() - lastReport >= 60_000) {
    lastReport = Date.now()
    const recent = rss.filter((r) => r.atMs > lastReport - 60_000).map((r) => r.bytes)
    process.stdout.write(
      `  ${fmt((lastReport - started) / 60_000, 0)} min: sidecar RSS max ${mib(Math.max(...recent))} MiB, ` +
        `/metrics p99 ${fmt(quantile(scrapes.slice(-60).map((s) => s.ms), 0.99))} ms, behaviour ${behaviourAt(lastReport)}\n`,
    )
  }
}
await Promise.all([everySecond, schedule, profileDownloads])
const finalRss = rssBytes(sidecar.pid)
const alive = sidecar.proc.exitCode === null && sidecar.proc.signalCode === null
const { targets: finalTargets } = alive ? await sidecar.getJson<{ targets: ApiStatus[] }>('/api/targets') : { targets: [] as ApiStatus[] }
const hostileView = alive ? await sidecar.getJson<{ analysis?: { profiler?: Record<string, unknown> } }>('/api/targets/hostile') : undefined
const phasesSeen = phaseStarts.filter((phase) => phase.atMs < end).map((phase) => phase.name)
await sidecar.stop()
await hostile.stop()
await Promise.all(healthy.map((target) => target.stop()))

// ---------------------------------------------------------------------------
const report: string[] = ['', `ran ${fmt((Date.now() - started) / 60_000, 1)} min; hostile behaviours cycled: ${phasesSeen.length} phases (${[...new Set(phasesSeen)].length} distinct)`]
const maxRss = Math.max(...rss.map((r) => r.bytes))
report.push(
  '',
  'Sidecar resident memory (MiB), per minute:',
  table(
    ['minute', 'min', 'max'],
    Array.from({ length: Math.ceil(runMs / 60_000) }, (_, m) => {
      const slice = rss.filter((r) => r.atMs >= started + m * 60_000 && r.atMs < started + (m + 1) * 60_000).map((r) => r.bytes)
      return [String(m + 1), mib(Math.min(...slice)), mib(Math.max(...slice))]
    }),
  ),
  `max ${mib(maxRss)} MiB, final ${mib(finalRss)} MiB (bound ${mib(rssBoundBytes)} MiB)`,
)
const gapRows = names.map((name) => {
  const times = [...(pollTimes.get(name) ?? [])].sort((a, b) => a - b).filter((time) => time >= started)
  const gaps = times.slice(1).map((time, i) => time - times[i]!)
  const api = finalTargets.find((t) => t.name === name)
  return [name, String(times.length), fmt(quantile(gaps, 0.5), 0), fmt(quantile(gaps, 0.99), 0), fmt(Math.max(...gaps), 0), String(api?.pollsSkipped ?? 'n/a')]
})
report.push('', `Healthy targets' polls (gaps in ms; interval ${INTERVAL_MS} ms):`, table(['target', 'polls seen', 'p50 gap', 'p99 gap', 'max gap', 'skipped'], gapRows))
const latencyRow = (what: string, timed: readonly Timed[]): string[] => {
  const ms = timed.map((t) => t.ms)
  return [what, String(timed.length), fmt(quantile(ms, 0.5)), fmt(quantile(ms, 0.9)), fmt(quantile(ms, 0.99)), fmt(Math.max(...ms)), String(ms.filter((v) => v >= 100).length), String(timed.filter((t) => !t.ok).length)]
}
report.push(
  '',
  'Latency (ms):',
  table(['endpoint', 'requests', 'p50', 'p90', 'p99', 'max', '>= 100 ms', 'failed'], [latencyRow('/metrics', scrapes), latencyRow('/healthz', probes)]),
)
const allGaps = names.flatMap((name) => {
  const times = [...(pollTimes.get(name) ?? [])].sort((a, b) => a - b).filter((time) => time >= started)
  return times.slice(1).map((time, i) => ({ atMs: time, gap: time - times[i]! }))
})
report.push(
  '',
  'By hostile behaviour (every window it was on):',
  table(
    ['behaviour', 'max RSS MiB', '/metrics p50', 'p99', 'max', '>= 100 ms', 'max poll gap'],
    [...new Set(phaseStarts.map((phase) => phase.name))].map((name) => {
      const during = <T extends { atMs: number }>(items: readonly T[]): T[] => items.filter((item) => behaviourAt(item.atMs) === name)
      const ms = during(scrapes).map((scrape) => scrape.ms)
      return [
        name,
        mib(Math.max(...during(rss).map((r) => r.bytes))),
        fmt(quantile(ms, 0.5)),
        fmt(quantile(ms, 0.99)),
        fmt(Math.max(...ms)),
        String(ms.filter((v) => v >= 100).length),
        fmt(Math.max(...during(allGaps).map((g) => g.gap)), 0),
      ]
    }),
  ),
)
for (const format of ['pprof', 'heapprofile']) {
  const done = downloads.filter((d) => d.format === format)
  const ok = done.filter((d) => d.ok)
  report.push(`hostile profile downloads (${format}): ${done.length}, ${ok.length} served (the others 404: no profile kept yet), slowest ${fmt(Math.max(0, ...ok.map((d) => d.ms)), 0)} ms, largest ${mib(Math.max(0, ...ok.map((d) => d.bytes)))} MiB`)
}
const hostileStatus = finalTargets.find((t) => t.name === 'hostile')
if (hostileStatus !== undefined) {
  const profiler = hostileView?.analysis?.profiler ?? {}
  report.push(
    '',
    `hostile target, as the sidecar counted it: ${hostileStatus.connects} connects, ${hostileStatus.connectFailures} failed connects, ` +
      `${hostileStatus.protocolErrors} protocol errors, ${hostileStatus.agentInstalls} agent installs, ${hostileStatus.polls} polls, ` +
      `profiles fetched ${String(profiler['fetches'])}, truncated ${String(profiler['truncatedProfiles'])}`,
  )
}
const up = !sidecarDied && alive
report.push(
  '',
  `${up ? 'PASS' : 'FAIL'}: the sidecar stayed up`,
  `${maxRss <= rssBoundBytes ? 'PASS' : 'FAIL'}: its RSS stayed under ${mib(rssBoundBytes)} MiB (max ${mib(maxRss)} MiB)`,
)
process.stdout.write(`${report.join('\n')}\n`)
