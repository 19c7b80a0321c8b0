/**
 * The detection benchmark on real programs: every scenario of
 * test/scenarios/manifest.json runs as a real `node --inspect` process watched
 * by a real sidecar, time-compressed 60× (a 15 s poll becomes 250 ms, a 30 min
 * window 30 s). Side by side on the same RSS samples: leakwatch's verdict, and
 * the PromQL practice users would otherwise alert with (compressed alike):
 *
 *   deriv(rss[30m]) > 0, for: 30m                      → deriv over 30 s, for 30 s
 *   predict_linear(rss[1h], 4h) > limit, for: 15m      → range 60 s, horizon 240 s, for 15 s
 *
 * evaluated every 1 s (a 1 min evaluation interval, compressed). For leaky
 * scenarios it also reports the rank of the leaking function among the
 * allocation sites.
 *
 *   npm run bench:detection [-- --only NAME] [--concurrency N] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { AnalysisConfig, AttributionConfig, Config } from '../src/config/types.js'
import { DEFAULTS } from '../src/sidecar-config.js'
import { Sidecar } from '../src/sidecar.js'
import { AlertRule, deriv, predictLinear, type PromSample } from './promql.js'

const COMPRESSION = 60
const SCENARIOS = new URL('../test/scenarios/', import.meta.url)

interface Scenario {
  readonly name: string
  readonly file: string
  readonly leaky: boolean
  readonly signal: 'heap' | 'external' | null
  readonly leakingFunction: string | null
  readonly onsetSeconds: number | null
  readonly restartEverySeconds: number | null
  readonly env: Readonly<Record<string, string>>
}

/** Production analysis defaults, every duration and rate compressed 60×. */
export const COMPRESSED_ANALYSIS: AnalysisConfig = {
  ...DEFAULTS.analysis,
  windowMs: DEFAULTS.analysis.windowMs / COMPRESSION,
  floorWindowMs: DEFAULTS.analysis.floorWindowMs / COMPRESSION,
  warmupMs: DEFAULTS.analysis.warmupMs / COMPRESSION,
  minSlopeBytesPerSecond: DEFAULTS.analysis.minSlopeBytesPerSecond * COMPRESSION,
  minRelativePerHour: DEFAULTS.analysis.minRelativePerHour * COMPRESSION,
  memoryLimitBytes: 512 * 1024 * 1024,
}

/**
 * Attribution on suspicion as in production, but the budget is not compressed
 * 60× (that would be 12 % of wall time): reads at most every second, within
 * 5 % of wall time. The ranking, not the overhead, is measured here.
 */
export const BENCH_ATTRIBUTION: AttributionConfig = {
  ...DEFAULTS.attribution,
  samplingIntervalBytes: 64 * 1024,
  budget: 0.05,
  suspicionBudget: 0.05,
  minFetchIntervalMs: 1000,
}

const POLL_MS = 15_000 / COMPRESSION
const EVALUATION_MS = 60_000 / COMPRESSION
const DERIV = { rangeMs: 30 * 60_000 / COMPRESSION, forMs: 30 * 60_000 / COMPRESSION }
const PREDICT = { rangeMs: 3_600_000 / COMPRESSION, horizonS: (4 * 3600) / COMPRESSION, forMs: 15 * 60_000 / COMPRESSION }
/** How long a scenario is watched after its onset (or after start, for healthy ones). */
const WATCH_MS = 60_000

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Start a scenario with its inspector on 127.0.0.1:port; resolves once it printed `ready`. */
function startScenario(scenario: Scenario, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [`--inspect=127.0.0.1:${port}`, fileURLToPath(new URL(scenario.file, SCENARIOS))], {
    env: { ...process.env, NODE_OPTIONS: '', ...scenario.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${scenario.name} did not get ready:\n${out}`)), 15_000)
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      if (/^ready\b/m.test(out)) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stdout?.resume()
        child.stderr?.resume()
        resolve(child)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${scenario.name} exited (${code}) before ready:\n${out}`))
    })
  })
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

interface MethodResult {
  /** Seconds from the onset to the first alarm after it; null when none. */
  readonly delaySeconds: number | null
  /** An alarm on a healthy scenario, or before the onset of a leaky one. */
  readonly falseAlarm: boolean
}

export interface ScenarioResult {
  readonly name: string
  readonly leaky: boolean
  readonly expectedSignal: string | null
  readonly leakwatch: MethodResult & { readonly signals: readonly string[] }
  readonly deriv: MethodResult
  readonly predictLinear: MethodResult
  /** 1-based rank of the leaking function among the growing sites at the end; null when absent. */
  readonly leakingFunctionRank: number | null
  readonly topSite: string | null
  readonly restarts: number
}

class Outcome {
  firstAfterOnsetMs: number | null = null
  falseAlarm = false
  constructor(private readonly onsetMs: number | null) {}
  observe(timeMs: number, alarm: boolean): void {
    if (!alarm) return
    if (this.onsetMs === null || timeMs < this.onsetMs) this.falseAlarm = true
    else if (this.firstAfterOnsetMs === null) this.firstAfterOnsetMs = timeMs
  }
  result(): MethodResult {
    return {
      delaySeconds: this.firstAfterOnsetMs === null || this.onsetMs === null ? null : (this.firstAfterOnsetMs - this.onsetMs) / 1000,
      falseAlarm: this.falseAlarm,
    }
  }
}

export async function runScenario(scenario: Scenario, log: (line: string) => void): Promise<ScenarioResult> {
  const port = await freePort()
  let child = await startScenario(scenario, port)
  const startedMs = Date.now()
  const onsetMs = scenario.leaky ? startedMs + (scenario.onsetSeconds ?? 0) * 1000 : null
  const config: Config = {
    ...DEFAULTS,
    targets: [{ name: scenario.name, host: '127.0.0.1', port, intervalMs: POLL_MS, timeoutMs: 2000, disabledCollectors: [] }],
    listen: { host: '127.0.0.1', port: 0 },
    intervalMs: POLL_MS,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    logLevel: 'silent',
    analysis: COMPRESSED_ANALYSIS,
    attribution: BENCH_ATTRIBUTION,
  }
  const sidecar = new Sidecar(config, { logger: false })
  await sidecar.start()
  const monitor = sidecar.monitors[0]
  if (monitor === undefined) throw new Error('no monitor')
  const leakwatch = new Outcome(onsetMs)
  const derivOutcome = new Outcome(onsetMs)
  const predictOutcome = new Outcome(onsetMs)
  const derivRule = new AlertRule(DERIV.forMs)
  const predictRule = new AlertRule(PREDICT.forMs)
  const rss: PromSample[] = []
  const signals = new Set<string>()
  const endMs = (onsetMs ?? startedMs) + WATCH_MS
  let nextEvaluationMs = startedMs + EVALUATION_MS
  let nextRestartMs = scenario.restartEverySeconds === null ? Number.POSITIVE_INFINITY : startedMs + scenario.restartEverySeconds * 1000
  let restarts = 0
  try {
    while (Date.now() < endMs) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      const now = Date.now()
      if (now >= nextRestartMs) {
        await stop(child)
        child = await startScenario(scenario, port)
        restarts += 1
        nextRestartMs += (scenario.restartEverySeconds ?? 0) * 1000
      }
      const samples = monitor.samples()
      const suspected = samples.filter((s) => s.key === 'leakSuspected' && 'value' in s && s.value === 1)
      for (const s of suspected) signals.add(s.labels?.['signal'] ?? '?')
      leakwatch.observe(now, suspected.length > 0)
      const value = samples.find((s) => s.key === 'rss' && 'value' in s)
      if (value !== undefined && 'value' in value) rss.push({ t: now, v: value.value })
      if (now >= nextEvaluationMs) {
        nextEvaluationMs += EVALUATION_MS
        derivOutcome.observe(now, derivRule.evaluate(now, (deriv(rss, now, DERIV.rangeMs) ?? 0) > 0) === 'firing')
        const projected = predictLinear(rss, now, PREDICT.rangeMs, PREDICT.horizonS)
        const limit = COMPRESSED_ANALYSIS.memoryLimitBytes ?? Number.POSITIVE_INFINITY
        predictOutcome.observe(now, predictRule.evaluate(now, projected !== undefined && projected > limit) === 'firing')
      }
    }
    const entry = sidecar.monitors[0]
    const sites = entry === undefined ? [] : (await sidecar.app.inject({ url: `/api/targets/${scenario.name}/sites?limit=1000` })).json<{
      sites: Array<{ label: string; slopeBytesPerSecond: number }>
    }>().sites
    const growing = sites.filter((site) => site.slopeBytesPerSecond > 0)
    const rankIndex = scenario.leakingFunction === null ? -1 : growing.findIndex((site) => site.label.startsWith(`${scenario.leakingFunction} (`))
    const result: ScenarioResult = {
      name: scenario.name,
      leaky: scenario.leaky,
      expectedSignal: scenario.signal,
      leakwatch: { ...leakwatch.result(), signals: [...signals] },
      deriv: derivOutcome.result(),
      predictLinear: predictOutcome.result(),
      leakingFunctionRank: rankIndex >= 0 ? rankIndex + 1 : null,
      topSite: growing[0]?.label ?? null,
      restarts,
    }
    log(`  ${scenario.name}: leakwatch ${describe(result.leakwatch, scenario.leaky)} [${result.leakwatch.signals.join(',')}], top site ${result.topSite ?? '-'}`)
    return result
  } finally {
    await sidecar.stop()
    await stop(child)
  }
}

function describe(result: MethodResult, leaky: boolean): string {
  const parts: string[] = []
  if (leaky) parts.push(result.delaySeconds === null ? 'missed' : `detected +${result.delaySeconds.toFixed(1)} s`)
  else parts.push(result.falseAlarm ? 'FALSE ALARM' : 'quiet')
  if (leaky && result.falseAlarm) parts.push('false alarm before onset')
  return parts.join(', ')
}

export function table(results: readonly ScenarioResult[]): string {
  const rows = results.map((r) => [
    r.name,
    r.leaky ? `leak (${r.expectedSignal})` : 'healthy',
    `${describe(r.leakwatch, r.leaky)}${r.leakwatch.signals.length > 0 ? ` [${r.leakwatch.signals.join(',')}]` : ''}`,
    r.leaky ? (r.leakingFunctionRank === null ? '-' : `#${r.leakingFunctionRank}`) : '',
    describe(r.deriv, r.leaky),
    describe(r.predictLinear, r.leaky),
  ])
  const header = ['scenario', 'truth', 'leakwatch', 'leaking fn rank', 'deriv > 0 for 30m', 'predict_linear > limit']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { only: { type: 'string', multiple: true }, concurrency: { type: 'string', default: '1' }, json: { type: 'boolean' } },
  })
  const all = JSON.parse(readFileSync(new URL('manifest.json', SCENARIOS), 'utf8')) as Scenario[]
  const chosen = values.only === undefined ? all : all.filter((s) => values.only?.includes(s.name))
  const concurrency = Math.max(1, Number(values.concurrency))
  const log = (line: string): void => void process.stderr.write(`${line}\n`)
  log(`detection benchmark: ${chosen.length} scenarios, 60× compressed (poll ${POLL_MS} ms, window ${COMPRESSED_ANALYSIS.windowMs / 1000} s), concurrency ${concurrency}`)
  const results: ScenarioResult[] = []
  const queue = [...chosen]
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        log(`- ${next.name} (${next.leaky ? `leaks${next.onsetSeconds ? ` after ${next.onsetSeconds} s` : ''}` : 'healthy'})`)
        results.push(await runScenario(next, log))
      }
    }),
  )
  results.sort((a, b) => chosen.findIndex((s) => s.name === a.name) - chosen.findIndex((s) => s.name === b.name))
  if (values.json === true) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
  else process.stdout.write(`\n${table(results)}\n`)
}

/* c8 ignore next 3 */
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  })
}
