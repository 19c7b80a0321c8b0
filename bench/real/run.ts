/**
 * One real program under one real sidecar, time-compressed with `--time-scale`:
 * the sidecar is configured exactly as a user would (`loadConfig` with
 * production defaults, `--time-scale N --memory-limit 512Mi` (more with ballast)), the program runs
 * as `node --inspect=127.0.0.1:PORT`, and on the same RSS samples the PromQL
 * rules users otherwise alert with are evaluated in simulated time (every
 * simulated minute, Prometheus' default evaluation interval).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Config } from '../../src/config/types.js'
import type { SignalView } from '../../src/leak/target-analysis.js'
import { loadConfig } from '../../src/sidecar-config.js'
import { Sidecar } from '../../src/sidecar.js'
import { AlertRule, DERIV_RULE, EVALUATION_INTERVAL_MS, PERCENT_PER_HOUR_RULE, PREDICT_LINEAR_RULE, type BaselineRule, type PromSample } from '../promql.js'
import { quantile } from '../lib/report.js'
import { HolderWatch, type HolderOutcome, type HoldersApiView } from './holders.js'
import { DEFAULT_MEMORY_LIMIT_BYTES, type Program } from './programs.js'

/** The API token of the benchmark's sidecar: holder searches on request need one. */
const BENCH_TOKEN = 'leakwatch-detection-benchmark-token'
const AUTH = { authorization: `Bearer ${BENCH_TOKEN}` }
/** How often the holders API is looked at (wall ms), and searches asked for on healthy fillers (simulated s). */
const HOLDERS_LOOK_MS = 2000
const HOLDERS_ASK_EVERY_SIM_S = 1800
/** A leak whose holder is not named yet is watched up to this long after its first raise (simulated s). */
const HOLDERS_WATCH_AFTER_RAISE_SIM_S = 3600
/** Healthy fillers are judged this long after their plateau (simulated s). */
const HOLDERS_AFTER_PLATEAU_SIM_S = 600
export const BASELINES: readonly BaselineRule[] = [DERIV_RULE, PREDICT_LINEAR_RULE, PERCENT_PER_HOUR_RULE]
export const METHODS = ['leakwatch', ...BASELINES.map((rule) => rule.name)] as const

export interface MethodOutcome {
  /** Simulated seconds from the onset to the first alarm at or after it; null when none. */
  readonly delaySimS: number | null
  /** Simulated seconds from start of the first alarm on a healthy program or before a leak's onset; null when none. */
  readonly falseAlarmSimS: number | null
}

/** What leakwatch said when it first raised a signal. */
export interface FirstRaise {
  readonly signal: string
  readonly atSimS: number
  readonly path: string | null
  /** The verdict's estimate of the onset, simulated seconds from start. */
  readonly onsetSimS: number | null
  readonly floorBytes: number | null
  readonly slopeBytesPerSecond: number | null
  readonly relativePerHour: number | null
  readonly urgent: boolean
  readonly shape: string | null
}

export interface ProgramResult {
  readonly corpus: string
  readonly name: string
  readonly leaky: boolean
  readonly signal: string | null
  /** True onset of the leak (simulated seconds from start); null when healthy. */
  readonly onsetSimS: number | null
  readonly watchSimS: number
  readonly methods: Readonly<Record<string, MethodOutcome>>
  /** Every signal leakwatch raised at some point. */
  readonly signals: readonly string[]
  readonly firstRaise: FirstRaise | null
  /** Heap floors by source at the end (gc, profile, forced-gc). */
  readonly heapFloorSources: Readonly<Record<string, number>> | null
  /** 1-based rank of the allocating function among the growing sites at the end; null when absent. */
  readonly allocatingFunctionRank: number | null
  readonly topSite: string | null
  readonly restarts: number
  readonly peakRssBytes: number
  /** What the holder search found (see holders.ts). */
  readonly holders: HolderOutcome
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Start the program with its inspector on 127.0.0.1:port; resolves once it printed `ready`. */
function start(program: Program, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [`--inspect=127.0.0.1:${port}`, ...program.nodeArgs, program.path], {
    env: { ...process.env, NODE_OPTIONS: '', ...program.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${program.name} did not get ready in 30 s:\n${out.slice(-2000)}`))
    }, 30_000)
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      if (/^ready\b/m.test(out)) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stdout?.resume()
        child.stderr?.resume()
        child.off('exit', onEarlyExit)
        resolve(child)
      }
    }
    const onEarlyExit = (code: number | null): void => {
      clearTimeout(timer)
      reject(new Error(`${program.name} exited (${code}) before ready:\n${out.slice(-2000)}`))
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.on('exit', onEarlyExit)
  })
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/**
 * The sidecar's configuration as a user would give it, for one target; `extraArgs` (the
 * benchmark's --sidecar-arg) come last, so they override the bench's own.
 */
export function sidecarConfig(name: string, port: number, scale: number, memoryLimitBytes = DEFAULT_MEMORY_LIMIT_BYTES, extraArgs: readonly string[] = []): Config {
  const loaded = loadConfig({
    argv: [
      ...['--target', `${name}=127.0.0.1:${port}`, '--listen', '127.0.0.1:0', '--time-scale', String(scale), '--memory-limit', String(memoryLimitBytes), '--log-level', 'silent'],
      ...extraArgs,
    ],
    env: { LEAKWATCH_API_TOKEN: BENCH_TOKEN },
  })
  if (!('targets' in loaded)) throw new Error('bench: loadConfig returned help or version')
  return loaded
}

class Outcome {
  firstAfterOnsetSimS: number | null = null
  falseAlarmSimS: number | null = null
  constructor(private readonly onsetSimS: number | null) {}
  observe(simS: number, alarm: boolean): void {
    if (!alarm) return
    if (this.onsetSimS === null || simS < this.onsetSimS) this.falseAlarmSimS ??= simS
    else this.firstAfterOnsetSimS ??= simS
  }
  result(): MethodOutcome {
    return {
      delaySimS: this.firstAfterOnsetSimS === null || this.onsetSimS === null ? null : this.firstAfterOnsetSimS - this.onsetSimS,
      falseAlarmSimS: this.falseAlarmSimS,
    }
  }
}

/**
 * `traceEverySimS`: also log each signal's evidence this often (simulated seconds).
 * `askHolders`: ask for holder searches on the API from `fromSimS` on, every `everySimS`
 * (default half a simulated hour), whatever the verdict (to measure what a search finds and
 * costs on any program). `holdersLog`: a file each new search's holders are appended to, one
 * JSON line `{ program, simS, view }` (the API's view), to see why a holder was or was not named.
 */
export async function runProgram(
  program: Program,
  scale: number,
  log: (line: string) => void,
  traceEverySimS?: number,
  askHolders?: { readonly fromSimS: number; readonly everySimS?: number },
  sidecarArgs: readonly string[] = [],
  holdersLog?: string,
): Promise<ProgramResult> {
  let loggedSearch: unknown = null
  const askEverySimS = askHolders?.everySimS ?? HOLDERS_ASK_EVERY_SIM_S
  const port = await freePort()
  let child = await start(program, port)
  const startedMs = Date.now()
  const simS = (wallMs: number): number => ((wallMs - startedMs) * scale) / 1000
  const sidecar = new Sidecar(sidecarConfig(program.name, port, scale, program.memoryLimitBytes, sidecarArgs), { logger: false })
  await sidecar.start()
  const monitor = sidecar.monitors[0]
  if (monitor === undefined) throw new Error('no monitor')
  const outcomes = new Map<string, Outcome>(METHODS.map((method) => [method, new Outcome(program.onsetSimS)]))
  const rules = BASELINES.map((rule) => ({ rule, state: new AlertRule(rule.forMs) }))
  const rss: PromSample[] = []
  const signals = new Set<string>()
  let firstRaise: FirstRaise | null = null
  let peakRssBytes = 0
  let restarts = 0
  let restarting: Promise<void> | undefined
  const pollWallMs = sidecar.config.intervalMs
  const endMs = startedMs + (program.watchSimS * 1000) / scale
  let nextEvaluationSimMs = EVALUATION_INTERVAL_MS
  let nextRestartSimS = program.restart?.kind === 'every' ? program.restart.simS : Number.POSITIVE_INFINITY
  let nextProgressMs = startedMs + 60_000
  let nextTraceSimS = traceEverySimS ?? Number.POSITIVE_INFINITY
  /** Event-loop utilization of every poll since the last trace line (the load the load rules judge). */
  const utilizationSinceTrace: number[] = []
  const holders = new HolderWatch(program.holder, program.allocatingFunction)
  let raised: { simS: number; wallMs: number } | null = null
  let nextHoldersLookMs = startedMs
  let nextHoldersAskSimS =
    askHolders?.fromSimS ?? (program.leaky || program.plateauAfterSimS === null ? Number.POSITIVE_INFINITY : program.plateauAfterSimS + HOLDERS_AFTER_PLATEAU_SIM_S)
  const restart = async (): Promise<void> => {
    await stop(child)
    child = await start(program, port)
    restarts += 1
  }
  try {
    const holderDeadlineMs = (): number =>
      program.holder !== null && raised !== null && !holders.named ? raised.wallMs + (HOLDERS_WATCH_AFTER_RAISE_SIM_S * 1000) / scale : 0
    while (Date.now() < Math.max(endMs, holderDeadlineMs())) {
      await new Promise((resolve) => setTimeout(resolve, pollWallMs))
      const now = Date.now()
      const t = simS(now)
      if (restarting === undefined && ((program.restart?.kind === 'on-exit' && child.exitCode !== null) || t >= nextRestartSimS)) {
        if (program.restart?.kind === 'every') nextRestartSimS += program.restart.simS
        restarting = restart().finally(() => (restarting = undefined))
      }
      if (program.restart === null && (child.exitCode !== null || child.signalCode !== null)) {
        throw new Error(`${program.name} exited (${child.exitCode ?? child.signalCode}) while watched`)
      }
      // Past the watch (a leak whose holder is not named yet): only the holder search is judged.
      const watching = now < endMs
      const samples = monitor.samples()
      const suspected = samples.filter((s) => s.key === 'leakSuspected' && 'value' in s && s.value === 1).map((s) => s.labels?.['signal'] ?? '?')
      if (watching) for (const signal of suspected) signals.add(signal)
      if (watching) outcomes.get('leakwatch')?.observe(t, suspected.length > 0)
      if (suspected.length > 0 && firstRaise === null) firstRaise = await describeRaise(sidecar, program.name, suspected[0] as string, simS, scale)
      if (suspected.length > 0) raised ??= { simS: t, wallMs: now }
      if (t >= nextHoldersAskSimS) {
        nextHoldersAskSimS += askEverySimS
        await sidecar.app.inject({ method: 'POST', headers: AUTH, url: `/api/targets/${program.name}/holders` })
      }
      if (now >= nextHoldersLookMs) {
        nextHoldersLookMs = now + HOLDERS_LOOK_MS
        const view = (await sidecar.app.inject({ headers: AUTH, url: `/api/targets/${program.name}/holders` })).json<HoldersApiView>()
        const searchedAt = (view as { searchedAt?: unknown }).searchedAt ?? null
        if (holdersLog !== undefined && searchedAt !== null && searchedAt !== loggedSearch) {
          loggedSearch = searchedAt
          appendFileSync(holdersLog, JSON.stringify({ program: program.name, simS: Math.round(t), view }) + '\n')
        }
        const filled = program.plateauAfterSimS !== null && t >= program.plateauAfterSimS + HOLDERS_AFTER_PLATEAU_SIM_S
        const judge = program.leaky || (filled && { sinceSimS: program.plateauAfterSimS as number, scale })
        holders.observe(view, raised, { simS: t, wallMs: now }, judge)
      }
      const elu = samples.find((s) => s.key === 'eventLoopUtilization' && 'value' in s)
      if (elu !== undefined && 'value' in elu && Number.isFinite(elu.value)) utilizationSinceTrace.push(elu.value)
      const value = samples.find((s) => s.key === 'rss' && 'value' in s)
      if (watching && value !== undefined && 'value' in value) {
        rss.push({ t: t * 1000, v: value.value })
        peakRssBytes = Math.max(peakRssBytes, value.value)
      }
      while (watching && t * 1000 >= nextEvaluationSimMs) {
        for (const { rule, state } of rules) {
          const firing = state.evaluate(nextEvaluationSimMs, rule.condition(rss, nextEvaluationSimMs, program.memoryLimitBytes)) === 'firing'
          outcomes.get(rule.name)?.observe(nextEvaluationSimMs / 1000, firing)
        }
        nextEvaluationSimMs += EVALUATION_INTERVAL_MS
      }
      if (t >= nextTraceSimS) {
        nextTraceSimS += traceEverySimS ?? Number.POSITIVE_INFINITY
        await trace(sidecar, program.name, t, scale, log, utilizationSinceTrace.splice(0), simS)
      }
      if (now >= nextProgressMs) {
        nextProgressMs += 60_000
        log(`    ${program.name}: ${(t / 3600).toFixed(1)} of ${(program.watchSimS / 3600).toFixed(1)} simulated h, rss ${(rss.at(-1)?.v ?? 0) / 2 ** 20 | 0} MiB, raised [${[...signals].join(',')}]`)
      }
    }
    await restarting
    const view = (await sidecar.app.inject({ headers: AUTH, url: `/api/targets/${program.name}` })).json<{ analysis: { signals: SignalView[] } }>()
    const heap = view.analysis.signals.find((s) => s.signal === 'heap')
    const sites = (await sidecar.app.inject({ headers: AUTH, url: `/api/targets/${program.name}/sites?limit=1000` })).json<{
      sites: Array<{ label: string; slopeBytesPerSecond: number }>
    }>().sites
    const growing = sites.filter((site) => site.slopeBytesPerSecond > 0)
    const rank = program.allocatingFunction === null ? -1 : growing.findIndex((site) => site.label.startsWith(`${program.allocatingFunction} (`))
    return {
      corpus: program.corpus,
      name: program.name,
      leaky: program.leaky,
      signal: program.signal,
      onsetSimS: program.onsetSimS,
      watchSimS: program.watchSimS,
      methods: Object.fromEntries([...outcomes].map(([method, outcome]) => [method, outcome.result()])),
      signals: [...signals],
      firstRaise,
      heapFloorSources: heap?.floorSources ?? null,
      allocatingFunctionRank: rank >= 0 ? rank + 1 : null,
      topSite: growing[0]?.label ?? null,
      restarts,
      peakRssBytes,
      holders: holders.result(),
    }
  } finally {
    await sidecar.stop()
    await restarting?.catch(() => undefined)
    await stop(child)
  }
}

/** One line per signal: the verdict and why; first, the event-loop utilization since the last line (quartiles of the polls). */
async function trace(
  sidecar: Sidecar,
  name: string,
  simS: number,
  scale: number,
  log: (line: string) => void,
  utilization: readonly number[],
  simOf: (wallMs: number) => number,
): Promise<void> {
  const view = (await sidecar.app.inject({ headers: AUTH, url: `/api/targets/${name}` })).json<{ analysis: { signals: SignalView[] } }>()
  const holders = (await sidecar.app.inject({ headers: AUTH, url: `/api/targets/${name}/holders` })).json<HoldersApiView>()
  if (holders.searches.done + holders.searches.refused + holders.searches.failed > 0) {
    const growing = holders.holders.filter((h) => h.growing).map((h) => `${h.label} ${h.size} (+${(h.growthPerSecond ?? 0) / scale * 60 | 0}/min)`)
    const at = holders.searchedAt === null ? '-' : `${(simOf(Date.parse(holders.searchedAt)) / 60).toFixed(0)} min`
    log(`      ${name} ${(simS / 60).toFixed(0)} min holders: searches ${holders.searches.done} done, ${holders.searches.refused} refused, ${holders.searches.failed} failed; latest at ${at}; growing: ${growing.slice(0, 2).join('; ') || 'none'}`)
  }
  const sites = (await sidecar.app.inject({ headers: AUTH, url: `/api/targets/${name}/sites?limit=3` })).json<{
    profiledAt: string | null
    sites: Array<{ label: string; bytes: number; slopeBytesPerSecond: number; points: number }>
  }>()
  if (sites.profiledAt !== null) {
    const listed = sites.sites.map((s) => `${s.label} ${(s.bytes / 2 ** 20).toFixed(1)} MiB ${((s.slopeBytesPerSecond / scale) * 3600 / 2 ** 20).toFixed(2)} MiB/h (${s.points} pts)`)
    log(`      ${name} ${(simS / 60).toFixed(0)} min sites (read at ${(simOf(Date.parse(sites.profiledAt)) / 60).toFixed(0)} min): ${listed.join('; ') || 'none'}`)
  }
  if (utilization.length > 0) {
    const pc = (q: number): string => `${(quantile(utilization, q) * 100).toFixed(1)} %`
    log(`      ${name} ${(simS / 60).toFixed(0)} min load: utilization ${pc(0.25)} / ${pc(0.5)} / ${pc(0.75)} (quartiles of ${utilization.length} polls since the last line)`)
  }
  for (const track of view.analysis.signals) {
    const e = track.evidence
    if (e === null) continue
    const mib = (bytes: number | null): string => (bytes === null ? '-' : (bytes / 2 ** 20).toFixed(1))
    log(
      `      ${name} ${(simS / 60).toFixed(0)} min ${track.signal}: ${track.suspected ? `RAISED (${track.path})` : 'quiet'} floor ${mib(e.floorBytes)} MiB` +
        `${e.warmingUp ? ' warming-up' : ''} fast: ${e.fast.points} pts slope ${((e.fast.slopeBytesPerSecond / scale) * 3600 / 2 ** 20).toFixed(1)} MiB/h` +
        ` (lower ${((e.fast.slopeLowerBytesPerSecond / scale) * 3600 / 2 ** 20).toFixed(1)}) p ${e.fast.pValue.toExponential(1)} ${e.fast.shape.model}` +
        `${e.fast.positive ? ' POSITIVE' : ''}${e.fast.urgent ? ' urgent' : ''}${e.slow.positive ? ` SLOW-POSITIVE (at the same ${e.slow.comparedAt})` : ''}` +
        ` sources ${JSON.stringify(track.floorSources)}` +
        `${e.reasons.length > 0 ? ` | ${e.reasons.join(' | ')}` : ''}`,
    )
  }
}

/** The verdict's view when it first raised; rates converted from wall to simulated time. */
async function describeRaise(sidecar: Sidecar, name: string, signal: string, simS: (wallMs: number) => number, scale: number): Promise<FirstRaise> {
  const view = (await sidecar.app.inject({ headers: AUTH, url: `/api/targets/${name}` })).json<{ analysis: { signals: SignalView[] } }>()
  const track = view.analysis.signals.find((s) => s.signal === signal)
  const evidence = track?.evidence ?? null
  return {
    signal,
    atSimS: simS(Date.now()),
    path: track?.path ?? null,
    onsetSimS: track?.onset === null || track?.onset === undefined ? null : simS(Date.parse(track.onset)),
    floorBytes: evidence?.floorBytes ?? null,
    slopeBytesPerSecond: evidence === null ? null : evidence.fast.slopeBytesPerSecond / scale,
    relativePerHour: evidence === null ? null : (track?.path === 'slow' ? evidence.slow.relativePerHour : evidence.fast.relativePerHour) / scale,
    urgent: evidence?.fast.urgent ?? false,
    shape: evidence?.fast.shape.model ?? null,
  }
}
