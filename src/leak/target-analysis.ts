/**
 * The leak analysis of one target: turns each poll's readings into floor
 * series (post-GC heap; RSS and external memory as a lower envelope of
 * per-window minima), keeps them at two resolutions (the fast window, and
 * downsampled over a day for the slow path), evaluates a verdict per signal,
 * projects the time to the limits, and runs the allocation-site attribution on
 * an overhead budget.
 *
 * When the heap floor rises but major GCs are too rare to judge it (they get
 * rare exactly when a heap leak is fast), it buys a floor: a forced major GC,
 * charged to the attribution budget and counted.
 *
 * It plugs into the target monitor as a poll extension; everything but the
 * profiler step and the bought floors is pure computation on what the poll
 * already read.
 */
import { RingSeries, BucketSeries, EnvelopeFloor, WindowMinimum, medianGap } from '../analysis/series.js'
import { risingLately } from '../analysis/rising.js'
import {
  INITIAL_VERDICT,
  unjudged,
  estimateOnset,
  evaluateSignal,
  nextVerdict,
  secondsUntil,
  type LoadLevel,
  type SignalEvidence,
  type SignalName,
  type VerdictState,
} from '../analysis/verdict.js'
import { scriptUrlsOf } from '../attribution/kept-profile.js'
import { ProfilerController, type ProfileFetch } from '../attribution/profiler.js'
import { aggregateSitesSteps } from '../attribution/sites.js'
import { runInSlices } from '../attribution/slices.js'
import { SiteTracker, type RankedSite } from '../attribution/tracker.js'
import { scalarValue, type Sample } from '../core/metrics.js'
import type { PollContext, PollExtension } from '../monitor/monitor.js'
import type { AnalysisConfig, AttributionConfig, HoldersConfig } from '../config/types.js'
import { attributionSamples, signalSamples } from './analysis-samples.js'
import { HolderScheduler, type HolderRequestOutcome, type HoldersView } from './holder-scheduler.js'
import { LOAD_HISTORY_POINTS, LoadTracker } from './load-tracker.js'
import { explainedByParts, recoveredLevel, residualPoints, residualSeries } from './residual.js'
import { BusyShares, heapStarved } from './starved.js'
import type { TargetSession } from '../inspector/session.js'

export const SIGNALS: readonly SignalName[] = ['heap', 'rss', 'external']
const EVALUATION_ORDER: readonly SignalName[] = ['heap', 'external', 'rss']

/** Floor points kept per signal at the fast resolution: hours of history at a one-minute floor window. */
const HISTORY_POINTS = 1440
/** Floor points returned by the API per signal. */
const API_POINTS = 240
/** The slow series: this many buckets per slow window, kept for at least a day. */
const SLOW_BUCKETS_PER_WINDOW = 36
const SLOW_HISTORY_MS = 36 * 3_600_000

/** During the start's warm-up, a rise is raised only when the limit is this share of the urgent horizon away. */
const IMMINENT_SHARE = 0.25

/** RSS and external floors: the lowest of at least this many window minima. */
const MIN_ENVELOPE_WINDOWS = 3

/** Where a heap floor came from (the evidence says how many of each). */
export type FloorSource = 'gc' | 'profile' | 'forced-gc'

interface SignalTrack {
  readonly floor: EnvelopeFloor | WindowMinimum
  readonly fast: RingSeries
  readonly loads: RingSeries
  readonly slow: BucketSeries
  evaluatedLastTime: number | undefined
  evidence: SignalEvidence | undefined
  /**
   * The floor itself grows (a path was positive before other signals explained it): reason
   * enough to look closer (buy a heap floor, read profiles), though not a verdict.
   */
  grows: boolean
  /** The downsampled floor rose over the last holder max-interval (../analysis/rising.ts): a holder search may measure. */
  risingLately: boolean
  verdict: VerdictState
  /** The floor has been seen not rising since the start: a rise from now on is not the start's warm-up. */
  settled: boolean
  readonly sources: Record<FloorSource, number>
}

export interface SignalView {
  readonly signal: SignalName
  readonly floors: ReadonlyArray<{ readonly time: string; readonly bytes: number }>
  readonly evidence: SignalEvidence | null
  readonly suspected: boolean
  /** The path that raised the leak: fast (urgent), slow (over hours), or null. */
  readonly path: string | null
  readonly raisedAt: string | null
  readonly onset: string | null
  /** Seconds until the limit at the current slope (heap: the lower of heap_size_limit and the memory limit; rss, external: memory limit). */
  readonly secondsToLimit: number | null
  /** Heap floors by source: the GC observer, profile reads, GCs forced to buy a floor. */
  readonly floorSources: Readonly<Record<FloorSource, number>>
}

export interface AnalysisOptions {
  readonly analysis: AnalysisConfig
  readonly attribution: AttributionConfig
  readonly timeoutMs: number
  /** The target's poll interval: profile fetches, which happen at polls, are rounded to it. */
  readonly pollIntervalMs?: number
  /** Limit of the target's container when not configured: e.g. read from its cgroup. */
  readonly discoverMemoryLimit?: (pid: number) => number | undefined
  /** The holder search; off when not given. */
  readonly holders?: HoldersConfig
}

const HOLDERS_OFF: HoldersConfig = { mode: 'off', intervalMs: 60_000, maxIntervalMs: 60_000, topHolders: 1, minGrowthBytesPerSecond: 0 }

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString())

export class TargetAnalysis implements PollExtension {
  private readonly options: AnalysisOptions
  private readonly tracks = new Map<SignalName, SignalTrack>()
  private readonly tracker: SiteTracker
  private readonly profiler: ProfilerController
  private readonly holders: HolderScheduler
  /** The application's load (utilization less GC; HTTP requests), to attach to floor points and judge growth by. */
  private readonly load = new LoadTracker()
  /**
   * V8's committed heap (Runtime.getHeapUsage totalSize) at every poll: what the heap holds of
   * RSS, used or not. RSS growth that is only V8 committing more pages (slack, fragmentation)
   * while the heap floor is flat is the heap's, not a native leak.
   */
  private readonly heapCommitted = new RingSeries(LOAD_HISTORY_POINTS)
  /** V8's heap used at each poll (garbage included): an upper bound of the floor between major GCs. */
  private readonly heapUsed = new RingSeries(HISTORY_POINTS)
  private firstHeapUsed: { readonly timeMs: number; readonly value: number } | undefined
  /** When the latest exact heap floor was read (its floor window may still be open). */
  private lastHeapReadingMs: number | undefined
  /** What the load leaves out of the event loop's utilization: GC pauses. */
  private readonly busy = new BusyShares()
  /** A profile read or a bought floor ran after this poll's reading: the next reading includes it. */
  private ownWorkAfterPoll = false
  private previousPollMs: number | undefined
  /** Times of recent major GCs, for the envelope's span. */
  private readonly majorGcTimes: number[] = []
  private heapLimitBytes: number | undefined
  private discoveredMemoryLimit: number | undefined
  private processStartMs: number | undefined
  private latest: ProfileFetch | undefined
  private profileIssues = 0
  private readonly floorWindowMs: number
  private readonly slowBucketMs: number
  /** Counts restarts: a poll that awaited across one drops what it read. */
  private generation = 0

  constructor(options: AnalysisOptions) {
    this.options = options
    // A floor window needs several readings: at least three poll intervals.
    this.floorWindowMs = Math.max(options.analysis.floorWindowMs, 3 * (options.pollIntervalMs ?? 0))
    this.slowBucketMs = Math.max(this.floorWindowMs, options.analysis.slowWindowMs / SLOW_BUCKETS_PER_WINDOW)
    this.tracker = new SiteTracker({ maxSites: options.attribution.maxSites, topSites: options.attribution.topSites })
    this.profiler = new ProfilerController(options.attribution, options.timeoutMs, options.pollIntervalMs ?? 0)
    this.holders = new HolderScheduler(options.holders ?? HOLDERS_OFF, this.profiler)
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
    const utilization = scalarValue(context.samples, 'eventLoopUtilization')
    const notLoad = this.busy.since(nowMs, context.samples)
    // Utilization since the previous poll that includes the sidecar's own work in the target (a
    // holder search's slices, a profile read, a bought floor) is not the application's load: the
    // reading is left out, and the floors of that time take their load from the readings around it.
    const ownWork = this.ownWorkAfterPoll || (this.previousPollMs !== undefined && this.holders.ranSince(this.previousPollMs))
    this.ownWorkAfterPoll = false
    this.previousPollMs = nowMs
    this.load.record(nowMs, utilization, notLoad, ownWork, scalarValue(context.samples, 'httpServerRequests'))
    for (const floor of context.floors) {
      this.majorGcTimes.push(floor.timeMs)
      if (this.majorGcTimes.length > 21) this.majorGcTimes.shift()
    }
    this.adaptEnvelopes()
    const rss = scalarValue(context.samples, 'rss')
    const heapTotal = scalarValue(context.samples, 'heapTotal')
    if (heapTotal !== undefined) this.heapCommitted.push(nowMs, heapTotal)
    const heapUsed = scalarValue(context.samples, 'heapUsed')
    if (heapUsed !== undefined) {
      this.heapUsed.push(nowMs, heapUsed)
      this.firstHeapUsed ??= { timeMs: nowMs, value: heapUsed }
    }
    const external = scalarValue(context.samples, 'external')
    if (rss !== undefined) this.addReading('rss', nowMs, rss)
    if (external !== undefined) this.addReading('external', nowMs, external)
    // The sidecar's own GCs reach the observer too: readings, counted under their own source, not V8's.
    for (const floor of context.floors) this.addReading('heap', floor.timeMs, floor.bytes, this.profiler.causedGc(floor.timeMs) ? undefined : 'gc')
    this.evaluate(nowMs)
    const verdicts = [this.track('heap').verdict, this.track('external').verdict]
    const leakRaised = verdicts.some((v) => v.suspected)
    const growthSeen = verdicts.some((v) => v.fastSinceMs !== null || v.slowSinceMs !== null) || this.track('heap').risingLately || this.track('external').risingLately
    const holderTurn = this.holders.due(nowMs, leakRaised, this.profiler.lastReadAtMs(), growthSeen)
    const generation = this.generation
    const fetch = await this.profiler.step(session, nowMs, this.suspicious(), () => this.tracker.resetSeries(), holderTurn)
    // The target restarted while this poll's step ran: what it read belongs to the old process.
    if (generation !== this.generation) return
    if (fetch !== undefined) {
      this.ownWorkAfterPoll = true
      this.latest = fetch
      // The fetch forced a full GC: the heap right after it is an exact floor.
      if (fetch.floorBytes !== undefined) this.addReading('heap', nowMs, fetch.floorBytes, 'profile')
      const aggregation = await runInSlices(aggregateSitesSteps(fetch.profile))
      if (generation !== this.generation) return
      if (aggregation.nodesRejected > 0 || fetch.kept.nodesRejected > 0) this.profileIssues += 1
      this.tracker.ingest(fetch.timeMs, aggregation.sites)
      this.tracker.rank(nowMs, this.options.analysis.windowMs, this.options.analysis.slowWindowMs)
    } else if (!holderTurn && !this.holders.ranSince(nowMs) && this.heapStarved(nowMs)) {
      // Not while a search runs: its queue and visited set would be in the floor.
      const bought = await this.profiler.buyFloor(session, nowMs)
      if (generation !== this.generation) return
      if (bought !== undefined) {
        this.ownWorkAfterPoll = true
        this.addReading('heap', nowMs, bought.bytes, 'forced-gc')
        this.evaluate(nowMs)
      }
    }
    const limit = this.memoryLimitBytes
    this.holders.tick(session, nowMs, {
      leakRaised, growthSeen,
      headroomBytes: limit !== undefined && rss !== undefined ? limit - rss : undefined,
      scriptUrls: () => scriptUrlsOf(this.latest?.profile),
      requestsPerSecond: () => this.load.trafficAt(nowMs, this.options.analysis.windowMs),
    })
  }

  /** The holder search: what it found, for `GET /api/targets/:target/holders`. */
  holdersView(): HoldersView {
    return this.holders.view(this.tracker.ranked())
  }

  /** Ask for a holder search at the next poll (`POST /api/targets/:target/holders`). */
  requestHolderSearch(): HolderRequestOutcome {
    return this.holders.request()
  }

  /** Resolves when no holder search is running. */
  holderSearchIdle(): Promise<void> {
    return this.holders.idle()
  }

  onDisconnect(): void {
    this.profiler.onDisconnect()
  }

  /** A new process: every series, verdict and site starts over. */
  onRestart(): void {
    this.generation += 1
    this.resetTracks()
    this.tracker.clear()
    this.profiler.reset()
    this.holders.reset()
    this.load.clear()
    this.heapCommitted.clear()
    this.heapUsed.clear()
    this.firstHeapUsed = undefined
    this.lastHeapReadingMs = undefined
    this.busy.reset()
    this.ownWorkAfterPoll = false
    this.previousPollMs = undefined
    this.majorGcTimes.length = 0
    this.latest = undefined
    this.processStartMs = undefined
    this.heapLimitBytes = undefined
    this.discoveredMemoryLimit = undefined
  }

  samples(): Sample[] {
    const out: Sample[] = []
    for (const [signal, track] of this.tracks) out.push(...signalSamples(signal, track.fast.last()?.value, track.evidence, track.verdict))
    const heapEta = this.secondsToLimit('heap')
    if (heapEta !== undefined) out.push({ key: 'timeToHeapLimit', value: heapEta })
    const memoryEta = this.secondsToLimit('rss')
    if (memoryEta !== undefined) out.push({ key: 'timeToMemoryLimit', value: memoryEta })
    if (this.memoryLimitBytes !== undefined) out.push({ key: 'memoryLimit', value: this.memoryLimitBytes })
    const attributionOn = this.options.attribution.mode !== 'off'
    out.push(...attributionSamples(this.profiler, attributionOn, attributionOn ? this.tracker.exported() : []))
    out.push(...this.holders.samples())
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
        const { times, values } = track.fast.all()
        const from = Math.max(0, times.length - API_POINTS)
        return {
          signal,
          floors: times.slice(from).map((time, i) => ({ time: new Date(time).toISOString(), bytes: values[from + i] as number })),
          evidence: track.evidence ?? null,
          suspected: track.verdict.suspected,
          path: track.verdict.path,
          raisedAt: iso(track.verdict.raisedAtMs),
          onset: iso(track.verdict.onsetMs),
          secondsToLimit: this.secondsToLimit(signal) ?? null,
          floorSources: { ...track.sources },
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
      if (track.verdict.suspected || track.grows) return true
    }
    return false
  }

  private warmupUntilMs(): number | undefined {
    return this.processStartMs === undefined ? undefined : this.processStartMs + this.options.analysis.warmupMs
  }

  private secondsToLimit(signal: SignalName): number | undefined {
    const { evidence, verdict } = this.track(signal)
    if (evidence === undefined || !(verdict.suspected || evidence.fast.positive)) return undefined
    return secondsUntil(this.limitOf(signal), evidence.floorBytes, evidence.fast.slopeBytesPerSecond)
  }

  /** The heap cannot outgrow the memory limit either: the container is killed first. */
  private limitOf(signal: SignalName): number | undefined {
    if (signal !== 'heap') return this.memoryLimitBytes
    const limits = [this.heapLimitBytes, this.memoryLimitBytes].filter((limit): limit is number => limit !== undefined)
    return limits.length === 0 ? undefined : Math.min(...limits)
  }

  private resetTracks(): void {
    const slowCapacity = Math.ceil(Math.max(SLOW_HISTORY_MS, 4 * this.options.analysis.slowWindowMs) / this.slowBucketMs)
    for (const signal of SIGNALS) {
      this.tracks.set(signal, {
        // Heap floors are read after a major GC: their minimum per window, at most the reading that
        // closes the window (WindowMinimum's `confirm`: one high post-GC reading does not move the
        // series; a lower envelope over windows, tried, cost urgent synthetic leaks 3.6 min of median
        // delay). RSS and external memory saw with the GC cycle: a lower envelope spanning at least
        // three windows and three GC cycles (adaptEnvelopes).
        floor: signal === 'heap' ? new WindowMinimum(this.floorWindowMs, true) : new EnvelopeFloor(this.floorWindowMs, MIN_ENVELOPE_WINDOWS),
        fast: new RingSeries(HISTORY_POINTS),
        loads: new RingSeries(HISTORY_POINTS),
        slow: new BucketSeries(this.slowBucketMs, slowCapacity),
        evaluatedLastTime: undefined,
        evidence: undefined,
        grows: false,
        risingLately: false,
        verdict: INITIAL_VERDICT,
        settled: false,
        sources: { gc: 0, profile: 0, 'forced-gc': 0 },
      })
    }
  }

  private track(signal: SignalName): SignalTrack {
    const track = this.tracks.get(signal)
    /* c8 ignore next */
    if (track === undefined) throw new Error(`no track for ${signal}`)
    return track
  }

  /**
   * The envelope spans at least three GC cycles and three windows, so a sawtooth trough falls
   * inside it even when two windows in a row held no reading near one.
   */
  private adaptEnvelopes(): void {
    const gap = medianGap(this.majorGcTimes)
    if (gap === undefined) return
    const span = 1 + Math.ceil((3 * gap) / this.floorWindowMs)
    for (const signal of ['rss', 'external'] as const) {
      const floor = this.track(signal).floor
      if (floor instanceof EnvelopeFloor) floor.setSpan(Math.max(MIN_ENVELOPE_WINDOWS, span))
    }
  }

  private addReading(signal: SignalName, timeMs: number, value: number, source?: FloorSource): void {
    const warmupUntil = this.warmupUntilMs()
    // Warm-up readings (code loading, caches filling after start) never enter the floor series.
    if (warmupUntil !== undefined && timeMs < warmupUntil) return
    const track = this.track(signal)
    if (source !== undefined) track.sources[source] += 1
    if (signal === 'heap') this.lastHeapReadingMs = Math.max(this.lastHeapReadingMs ?? timeMs, timeMs)
    const floor = track.floor.add(timeMs, value)
    if (floor === undefined) return
    const load = this.load.loadAt(floor.timeMs, this.floorWindowMs)
    track.fast.push(floor.timeMs, floor.value)
    track.loads.push(floor.timeMs, load)
    track.slow.add(floor.timeMs, floor.value, load, this.load.trafficAt(floor.timeMs, this.floorWindowMs))
  }

  /** Whether to buy a heap floor now (src/leak/starved.ts). */
  private heapStarved(nowMs: number): boolean {
    const { windowMs, minPoints, minSlopeBytesPerSecond } = this.options.analysis
    const track = this.track('heap')
    return heapStarved({
      nowMs,
      floorWindowMs: this.floorWindowMs,
      minPoints,
      minSlopeBytesPerSecond,
      windowMs,
      lastMajorGcMs: this.majorGcTimes.at(-1),
      raisedUnjudged: track.verdict.suspected && track.evidence !== undefined && unjudged(track.evidence),
      windowSlopeBytesPerSecond: track.evidence?.fast.slopeBytesPerSecond,
      rssGrows: this.track('rss').grows,
      windowFloors: track.fast.since(nowMs - windowMs).values,
      usedLately: this.heapUsed.since(nowMs - this.floorWindowMs).values,
      reference: track.fast.last() ?? this.firstHeapUsed,
      lastReadingMs: this.lastHeapReadingMs,
      slow: { floors: track.slow.all(), windowMs: this.options.analysis.slowWindowMs, bucketMs: this.slowBucketMs, minSlopeBytesPerSecond: this.options.analysis.slowMinSlopeBytesPerSecond },
    })
  }

  /** Evaluate each signal that has a new floor point since its last evaluation. */
  private evaluate(nowMs: number): void {
    const { analysis } = this.options
    const start = this.processStartMs ?? nowMs
    const warmupUntil = start + analysis.warmupMs
    // The load's usual level, computed at most once per evaluation and only when a verdict asks for it.
    let cached: { value: LoadLevel | undefined } | undefined
    const level = (): LoadLevel | undefined => {
      cached ??= { value: this.load.level(nowMs, analysis.windowMs, Math.max(start, warmupUntil)) }
      return cached.value
    }
    // RSS last: its verdict depends on what the heap and external memory explain.
    for (const signal of EVALUATION_ORDER) {
      const track = this.track(signal)
      const last = track.fast.last()
      if (last === undefined || last.timeMs === track.evaluatedLastTime) continue
      track.evaluatedLastTime = last.timeMs
      const series = track.fast.all()
      const fast = { ...series, loads: track.loads.all().values }
      const slow = track.slow.all()
      let evidence = evaluateSignal(signal, fast, slow, nowMs, analysis, warmupUntil, this.limitOf(signal), level)
      track.grows = evidence.fast.positive || evidence.slow.positive
      // Only the holder search reads it.
      const holders = this.options.holders
      track.risingLately =
        signal !== 'rss' &&
        holders !== undefined &&
        holders.mode !== 'off' &&
        risingLately(slow, nowMs, holders.maxIntervalMs, warmupUntil, analysis.slowMinSlopeBytesPerSecond, analysis.maxPValue)
      if (signal === 'rss' && evidence.path !== null && !this.track('heap').verdict.suspected && !this.track('external').verdict.suspected) {
        // The heap's part of RSS is what V8 has committed (at least the floor), not only what it uses.
        const parts = [this.heapCommitted.length > 0 ? this.heapCommitted.all() : this.track('heap').fast.all(), this.track('external').fast.all()]
        const unexplained = residualSeries(fast, parts)
        const residual = evaluateSignal(signal, unexplained, residualPoints(slow, parts), nowMs, analysis, warmupUntil, undefined, level)
        // Only the fast path's climb: growth the slow path finds at comparable load stands.
        const recovered =
          residual.path === 'fast' && !residual.slow.positive && residual.fast.windowStartMs !== null
            ? recoveredLevel(unexplained, residual.fast.windowStartMs, residual.fast.slopeLowerBytesPerSecond, analysis.slowWindowMs)
            : undefined
        if (residual.path === null) evidence = explainedByParts(evidence, residual.reasons[0] ?? 'no positive test')
        else if (recovered !== undefined) evidence = explainedByParts(evidence, recovered)
      }
      track.evidence = evidence
      // A floor that has risen ever since the start (a cache filling) is still warming up, up to maxWarmup.
      // Settled: flat (not rising at a rate worth raising) over at least half a window of floors after the warm-up.
      const judged = !unjudged(evidence)
      const spanned = evidence.fast.windowStartMs !== null && nowMs - evidence.fast.windowStartMs >= analysis.windowMs / 2
      if (!evidence.warmingUp && judged && spanned && evidence.fast.slopeBytesPerSecond < analysis.minSlopeBytesPerSecond) track.settled = true
      // Unless the limit is imminent: a rise since the start that may be a cache filling is let wait only while
      // waiting leaves at least a quarter of the urgent horizon before the limit (its slope falls as a cache fills).
      const toLimitS = evidence.fast.secondsToLimit
      const imminent = evidence.fast.urgentByLimit && toLimitS !== null && toLimitS * 1000 <= analysis.urgentHorizonMs * IMMINENT_SHARE
      const stillWarming = !track.settled && nowMs < start + analysis.maxWarmupMs && !imminent
      const verdict = nextVerdict(track.verdict, evidence, analysis, stillWarming)
      track.verdict = verdict.suspected ? { ...verdict, onsetMs: estimateOnset(series) ?? verdict.onsetMs } : verdict
    }
  }
}
