/**
 * The leak analysis of one target: turns each poll's readings into floor
 * series (post-GC heap, per-window minimum of RSS and external memory),
 * evaluates a verdict per signal, projects the time to the limits, and runs
 * the allocation-site attribution on an overhead budget.
 *
 * It plugs into the target monitor as a poll extension; everything but the
 * profiler step is pure computation on what the poll already read.
 */
import { RingSeries, WindowMinimum } from '../analysis/series.js'
import {
  INITIAL_VERDICT,
  estimateOnset,
  evaluateSignal,
  nextVerdict,
  secondsUntil,
  type SignalEvidence,
  type SignalName,
  type VerdictState,
} from '../analysis/verdict.js'
import { ProfilerController, type ProfileFetch } from '../attribution/profiler.js'
import { aggregateSites } from '../attribution/sites.js'
import { SiteTracker, type RankedSite } from '../attribution/tracker.js'
import { scalarValue, type Sample } from '../core/metrics.js'
import type { PollContext, PollExtension } from '../monitor/monitor.js'
import type { AnalysisConfig, AttributionConfig } from '../config/types.js'
import type { TargetSession } from '../inspector/session.js'

export const SIGNALS: readonly SignalName[] = ['heap', 'rss', 'external']

/** Floor points kept per signal: hours of history at a one-minute floor window. */
const HISTORY_POINTS = 1440
/** Floor points returned by the API per signal. */
const API_POINTS = 240

interface SignalTrack {
  readonly window: WindowMinimum
  readonly series: RingSeries
  evaluatedLastTime: number | undefined
  evidence: SignalEvidence | undefined
  verdict: VerdictState
}

export interface SignalView {
  readonly signal: SignalName
  readonly floors: ReadonlyArray<{ readonly time: string; readonly bytes: number }>
  readonly evidence: SignalEvidence | null
  readonly suspected: boolean
  readonly raisedAt: string | null
  readonly onset: string | null
  /** Seconds until the limit at the current slope (heap: heap_size_limit; rss: memory limit). */
  readonly secondsToLimit: number | null
}

export interface AnalysisOptions {
  readonly analysis: AnalysisConfig
  readonly attribution: AttributionConfig
  readonly timeoutMs: number
  /** The target's poll interval: profile fetches, which happen at polls, are rounded to it. */
  readonly pollIntervalMs?: number
  /** Limit of the target's container when not configured: e.g. read from its cgroup. */
  readonly discoverMemoryLimit?: (pid: number) => number | undefined
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString())

export class TargetAnalysis implements PollExtension {
  private readonly options: AnalysisOptions
  private readonly tracks = new Map<SignalName, SignalTrack>()
  private readonly tracker: SiteTracker
  private readonly profiler: ProfilerController
  private heapLimitBytes: number | undefined
  private discoveredMemoryLimit: number | undefined
  private processStartMs: number | undefined
  private latest: ProfileFetch | undefined
  private profileIssues = 0

  constructor(options: AnalysisOptions) {
    this.options = options
    this.tracker = new SiteTracker({ maxSites: options.attribution.maxSites, topSites: options.attribution.topSites })
    this.profiler = new ProfilerController(options.attribution, options.timeoutMs, options.pollIntervalMs ?? 0)
    this.resetTracks()
  }

  get memoryLimitBytes(): number | undefined {
    return this.options.analysis.memoryLimitBytes ?? this.discoveredMemoryLimit
  }

  async afterPoll(session: TargetSession, context: PollContext): Promise<void> {
    const { nowMs } = context
    if (this.processStartMs === undefined && this.options.analysis.memoryLimitBytes === undefined) {
      this.discoveredMemoryLimit = this.options.discoverMemoryLimit?.(context.pid)
    }
    this.processStartMs = context.processStartMs
    this.heapLimitBytes = scalarValue(context.samples, 'heapLimit') ?? this.heapLimitBytes
    const rss = scalarValue(context.samples, 'rss')
    const external = scalarValue(context.samples, 'external')
    if (rss !== undefined) this.addReading('rss', nowMs, rss)
    if (external !== undefined) this.addReading('external', nowMs, external)
    for (const floor of context.floors) this.addReading('heap', floor.timeMs, floor.bytes)
    this.evaluate(nowMs)

    const fetch = await this.profiler.step(session, nowMs, this.suspicious(), () => this.tracker.resetSeries())
    if (fetch === undefined) return
    this.latest = fetch
    // The fetch forced a full GC: the heap right after it is an exact floor.
    if (fetch.floorBytes !== undefined) this.addReading('heap', nowMs, fetch.floorBytes)
    const aggregation = aggregateSites(fetch.profile)
    if (aggregation.nodesRejected > 0) this.profileIssues += 1
    this.tracker.ingest(fetch.timeMs, aggregation.sites)
    this.tracker.rank(nowMs, this.options.analysis.windowMs)
  }

  onDisconnect(): void {
    this.profiler.onDisconnect()
  }

  /** A new process: every series, verdict and site starts over. */
  onRestart(): void {
    this.resetTracks()
    this.tracker.clear()
    this.profiler.reset()
    this.latest = undefined
    this.processStartMs = undefined
    this.heapLimitBytes = undefined
    this.discoveredMemoryLimit = undefined
  }

  samples(): Sample[] {
    const out: Sample[] = []
    for (const [signal, track] of this.tracks) {
      const labels = { signal }
      const last = track.series.last()
      if (last !== undefined) out.push({ key: 'floorBytes', labels, value: last.value })
      const evidence = track.evidence
      if (evidence === undefined) continue
      out.push(
        { key: 'leakSlope', labels, value: evidence.slopeBytesPerSecond },
        { key: 'leakRelativeGrowth', labels, value: evidence.relativePerHour },
        { key: 'leakTrendConfidence', labels, value: 1 - evidence.pValue },
        { key: 'leakWindowPoints', labels, value: evidence.points },
        { key: 'leakSuspected', labels, value: track.verdict.suspected ? 1 : 0 },
      )
      if (track.verdict.suspected && track.verdict.onsetMs !== null) {
        out.push({ key: 'leakOnset', labels, value: track.verdict.onsetMs / 1000 })
      }
    }
    const heapEta = this.secondsToLimit('heap')
    if (heapEta !== undefined) out.push({ key: 'timeToHeapLimit', value: heapEta })
    const memoryEta = this.secondsToLimit('rss')
    if (memoryEta !== undefined) out.push({ key: 'timeToMemoryLimit', value: memoryEta })
    if (this.memoryLimitBytes !== undefined) out.push({ key: 'memoryLimit', value: this.memoryLimitBytes })
    if (this.options.attribution.mode !== 'off') {
      const counters = this.profiler.counters
      out.push(
        { key: 'profilerRunning', value: this.profiler.running ? 1 : 0 },
        { key: 'profilerPause', value: counters.pauseTotalMs / 1000 },
        { key: 'profilerTargetCpu', value: counters.cpuTotalMs / 1000 },
        { key: 'profilerFetches', value: counters.fetches },
        { key: 'profilerInterruptions', value: counters.interruptions },
      )
      if (counters.fetches > 0) out.push({ key: 'profilerLastFetch', value: counters.lastPauseMs / 1000 })
      for (const site of this.tracker.exported()) {
        const labels = { site: site.label }
        out.push(
          { key: 'siteLiveBytes', labels, value: site.bytes },
          { key: 'siteGrowth', labels, value: site.slopeBytesPerSecond },
        )
      }
    }
    return out
  }

  /** The JSON view for `GET /api/targets/:target`. */
  view(): {
    warmupUntil: string | null
    heapLimitBytes: number | null
    memoryLimitBytes: number | null
    signals: SignalView[]
    profiler: ReturnType<ProfilerController['status']> & { malformedProfiles: number }
  } {
    return {
      warmupUntil: iso(this.warmupUntilMs()),
      heapLimitBytes: this.heapLimitBytes ?? null,
      memoryLimitBytes: this.memoryLimitBytes ?? null,
      signals: SIGNALS.map((signal) => {
        const track = this.track(signal)
        const { times, values } = track.series.all()
        const from = Math.max(0, times.length - API_POINTS)
        return {
          signal,
          floors: times.slice(from).map((time, i) => ({ time: new Date(time).toISOString(), bytes: values[from + i] as number })),
          evidence: track.evidence ?? null,
          suspected: track.verdict.suspected,
          raisedAt: iso(track.verdict.raisedAtMs),
          onset: iso(track.verdict.onsetMs),
          secondsToLimit: this.secondsToLimit(signal) ?? null,
        }
      }),
      profiler: { ...this.profiler.status(), malformedProfiles: this.profileIssues },
    }
  }

  /** Ranked growing sites with their stacks, for `GET /api/targets/:target/sites`. */
  sites(): readonly RankedSite[] {
    return this.tracker.ranked()
  }

  latestProfile(): ProfileFetch | undefined {
    return this.latest
  }

  /** True when any floor trends up: escalates profiling (and starts it in on-suspicion mode). */
  suspicious(): boolean {
    for (const track of this.tracks.values()) {
      if (track.verdict.suspected || track.evidence?.positive === true) return true
    }
    return false
  }

  private warmupUntilMs(): number | undefined {
    return this.processStartMs === undefined ? undefined : this.processStartMs + this.options.analysis.warmupMs
  }

  private secondsToLimit(signal: SignalName): number | undefined {
    const track = this.track(signal)
    const evidence = track.evidence
    if (evidence === undefined || !(track.verdict.suspected || evidence.positive)) return undefined
    const limit = signal === 'heap' ? this.heapLimitBytes : signal === 'rss' ? this.memoryLimitBytes : undefined
    return secondsUntil(limit, evidence.floorBytes, evidence.slopeBytesPerSecond)
  }

  private resetTracks(): void {
    for (const signal of SIGNALS) {
      this.tracks.set(signal, {
        window: new WindowMinimum(this.options.analysis.floorWindowMs),
        series: new RingSeries(HISTORY_POINTS),
        evaluatedLastTime: undefined,
        evidence: undefined,
        verdict: INITIAL_VERDICT,
      })
    }
  }

  private track(signal: SignalName): SignalTrack {
    const track = this.tracks.get(signal)
    /* c8 ignore next */
    if (track === undefined) throw new Error(`no track for ${signal}`)
    return track
  }

  private addReading(signal: SignalName, timeMs: number, value: number): void {
    const warmupUntil = this.warmupUntilMs()
    // Warm-up readings (caches filling after start) never enter the floor series.
    if (warmupUntil !== undefined && timeMs < warmupUntil) return
    const track = this.track(signal)
    const floor = track.window.add(timeMs, value)
    if (floor !== undefined) track.series.push(floor.timeMs, floor.value)
  }

  /** Evaluate each signal that has a new floor point since its last evaluation. */
  private evaluate(nowMs: number): void {
    const warmupUntil = this.warmupUntilMs() ?? 0
    for (const [signal, track] of this.tracks) {
      const last = track.series.last()
      if (last === undefined || last.timeMs === track.evaluatedLastTime) continue
      track.evaluatedLastTime = last.timeMs
      const series = track.series.all()
      const evidence = evaluateSignal(signal, series, nowMs, this.options.analysis, warmupUntil)
      track.evidence = evidence
      const verdict = nextVerdict(track.verdict, evidence, this.options.analysis)
      track.verdict = verdict.suspected ? { ...verdict, onsetMs: estimateOnset(series) ?? verdict.onsetMs } : verdict
    }
  }
}
