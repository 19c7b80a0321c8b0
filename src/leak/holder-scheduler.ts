/**
 * When to search a target for its growing holders, and what the latest search found.
 *
 * A search runs when a heap or external leak is raised (and when a user asks
 * through the API). The first search of a process only measures; growth needs
 * a second one, `intervalMs` later. So that growth is known at the raise,
 * measuring searches already run while the growth is seen but not yet held long
 * enough to raise: the process's first, a second `intervalMs` later (growth
 * known), then at most one per `maxIntervalMs` while no leak is raised (growth seen: a verdict
 * path positive, or the downsampled floor rising lately, ../analysis/rising.ts). A fast
 * leak may stop growing soon after it starts (a cap, a crash), before its
 * raise, and a holder is only named by its growth. While the leak stays raised, searches
 * repeat with the gap doubling up to `maxIntervalMs`: a slow leak needs a long
 * gap before a big collection grows by what counts as growing (growth.ts `isGrowing`), and
 * each search compares against the previous measurement.
 *
 * Every search is charged to the profile budget it shares with profile
 * reads (the larger of its target CPU and its slices inside the target), and
 * a search never starts before that budget has paid for the last paid step
 * (bought floors are paid from an account of their own). A search runs in the background between polls (one at a
 * time); the walker slices its work and leaves the target's event loop a turn
 * between slices, and the poll's own calls interleave with it.
 */
import type { RankedSite } from '../attribution/tracker.js'
import type { HoldersConfig } from '../config/types.js'
import { errorMessage } from '../core/errors.js'
import type { Sample } from '../core/metrics.js'
import {
  FLOW_RISES,
  growthBytesPerSecond,
  isFlow,
  levelFollowsTraffic,
  rankHolders,
  searchHolders,
  sizeHistory,
  type Holder,
  type HolderSearchDone,
  type HolderSearchOptions,
  type HolderSearchRefused,
} from '../holders/index.js'
import { sampleHolders } from '../holders/sample.js'
import type { TargetSession } from '../inspector/session.js'
import { siteOfHolder, type HolderSite } from './holder-sites.js'

/** A sample of the tracked collections reads one size each: it answers in milliseconds or is dropped. */
const SAMPLE_TIMEOUT_MS = 2000

/** Longest `holder` label: paths can be long; a label is for recognising, the API has the rest. */
const MAX_LABEL = 200

export interface HolderBudget {
  /** Charge a search's cost to the shared budget. */
  charge(nowMs: number, costMs: number): void
  /** The earliest time the budget allows the next paid step. */
  budgetFreeAtMs(): number
}

export interface HolderTickOptions {
  /** A heap or external leak is raised now. */
  readonly leakRaised: boolean
  /** Heap or external growth is seen, not (yet) held long enough to raise: a measuring search may run. */
  readonly growthSeen?: boolean
  /** Container memory limit minus RSS, when both are known. */
  readonly headroomBytes: number | undefined
  /** scriptId → URL of the scripts seen in the latest heap profile (names ES modules); asked only when a search starts. */
  readonly scriptUrls?: () => ReadonlyMap<string, string>
  /** The target's HTTP requests per second lately (NaN when it serves none); asked only when a search starts. */
  readonly requestsPerSecond?: () => number
}

export type HolderRequestOutcome = 'scheduled' | 'running' | 'off'

export interface HoldersView {
  readonly mode: HoldersConfig['mode']
  readonly running: boolean
  /** A search asked for through the API, not yet done. */
  readonly requested: boolean
  /** End of the latest completed search, ISO time; null before the first. */
  readonly searchedAt: string | null
  /** No growth known yet: the latest search was the process's first. */
  readonly firstSearch: boolean
  readonly nextSearchAt: string | null
  readonly holders: ReadonlyArray<Holder & { readonly label: string; readonly allocationSite: HolderSite | null }>
  readonly truncated: boolean
  readonly truncation: readonly string[]
  readonly cost: HolderSearchDone['cost'] | null
  readonly refusal: Pick<HolderSearchRefused, 'reason' | 'message' | 'requiredBytes' | 'headroomBytes'> | null
  readonly lastError: string | null
  readonly searches: { readonly done: number; readonly refused: number; readonly failed: number }
}

/** The cost charged to the budget: the larger of the target's CPU and the search's slices inside it. */
export function searchCostMs(cost: HolderSearchDone['cost']): number {
  return Math.max(cost.targetCpuMs ?? 0, cost.longestSliceMs * cost.slices)
}

/** The longest pause a search caused the target: its longest slice, or the script listing's round trip (script-list.ts). */
export function searchPauseMs(cost: Pick<HolderSearchDone['cost'], 'longestSliceMs'> & { readonly scriptListMs?: number | null }): number {
  return Math.max(cost.longestSliceMs, cost.scriptListMs ?? 0)
}

/** A holder's metric label: its path (a developer's name for it), or what it is when no path was found. */
export function holderLabel(holder: Holder): string {
  const label = holder.path.length > 0 ? holder.path.join(' → ') : `(no path) ${holder.kind} of ${holder.elementShape[0] ?? '?'}`
  return label.length > MAX_LABEL ? `${label.slice(0, MAX_LABEL - 1)}…` : label
}

/** The search itself: `searchHolders` (a parameter so that the schedule can be tested alone). */
export type HolderSearch = typeof searchHolders

export class HolderScheduler {
  private readonly config: HoldersConfig
  private readonly budget: HolderBudget
  private readonly searchFn: HolderSearch
  private running: Promise<void> | undefined
  private latest: HolderSearchDone | undefined
  private refusal: HolderSearchRefused | undefined
  private lastError: string | null = null
  private requested = false
  /** Gap before the next search while the leak stays raised; doubles after each. */
  private gapMs: number
  private nextDueMs: number | undefined
  /** Bumped on a restart: a search of the previous process is dropped when it ends. */
  private generation = 0
  private readonly counts = { done: 0, refused: 0, failed: 0 }
  private costTotalMs = 0
  private cpuTotalMs = 0
  private exportedIds: number[] = []
  /** The latest searches of this process (oldest first, at most FLOW_RISES + 1): when, and the request rate then. */
  private history: Array<{ readonly at: number; readonly requestsPerSecond: number }> = []

  private readonly now: () => number

  constructor(config: HoldersConfig, budget: HolderBudget, search: HolderSearch = searchHolders, now: () => number = Date.now) {
    this.config = config
    this.budget = budget
    this.searchFn = search
    this.now = now
    this.gapMs = config.intervalMs
  }

  /**
   * A search is due at this poll, budget aside: the profile read and the heap-floor purchase
   * then wait, so that they do not take every slot the shared budget frees (they run first in
   * a poll, and at a large budget they were due at every slot: a leak raised for hours never
   * had its holders searched). Turns alternate: after a search, a profile read (`lastReadAtMs`)
   * must come before the next search is put first, so neither starves the other.
   */
  due(nowMs: number, leakRaised: boolean, lastReadAtMs: number | undefined, growthSeen = false): boolean {
    if (this.config.mode === 'off' || this.running !== undefined) return false
    if (this.lastStartedMs !== undefined && (lastReadAtMs ?? Number.NEGATIVE_INFINITY) < this.lastStartedMs) return false
    return this.wanted(nowMs, leakRaised, growthSeen) && nowMs >= (this.nextDueMs ?? Number.NEGATIVE_INFINITY)
  }

  /**
   * A search is wanted: a raised leak, a request, or growth seen and no measurement recent enough
   * to compare with at a raise. While growth is seen, a process's first search (it only measured)
   * is followed by a second one `intervalMs` later, so that the growing holder is known even when
   * the growth stops before a raise; after that, one per `maxIntervalMs`.
   */
  private wanted(nowMs: number, leakRaised: boolean, growthSeen: boolean): boolean {
    if (leakRaised || this.requested) return true
    if (!growthSeen) return false
    if (this.lastStartedMs === undefined) return true
    const gapMs = this.latest?.firstSearch === true ? this.config.intervalMs : this.config.maxIntervalMs
    return nowMs - this.lastStartedMs >= gapMs
  }

  /**
   * At the end of a poll: start a search in the background when one is due; otherwise, once this
   * process was searched, sample the sizes of the collections the walker tracks (their lowest
   * between two searches tells growth from a buffer emptied in between: holders/growth.ts).
   */
  tick(session: TargetSession, nowMs: number, options: HolderTickOptions): void {
    if (this.config.mode === 'off' || this.running !== undefined) return
    if (!this.startIfDue(session, nowMs, options)) this.sampleTracked(session)
  }

  /** A sampling of the tracked collections in flight (one at a time, never beside a search). */
  private sampling: Promise<void> | undefined
  /** Time the samples since the latest search spent in the target: billed with the next search. */
  private unbilledSampleMs = 0

  private sampleTracked(session: TargetSession): void {
    if (this.latest === undefined || this.sampling !== undefined) return
    const generation = this.generation
    this.sampling = sampleHolders(session, SAMPLE_TIMEOUT_MS)
      .then(
        (sample) => {
          if (sample === null || generation !== this.generation) return
          this.costTotalMs += sample.ms
          this.unbilledSampleMs += sample.ms
        },
        // A closed session or a timeout: the poll sees it too; a missed sample only widens a floor.
        () => undefined,
      )
      .finally(() => {
        this.sampling = undefined
      })
  }

  private startIfDue(session: TargetSession, nowMs: number, options: HolderTickOptions): boolean {
    if (!options.leakRaised && !this.requested) {
      // No leak (or it cleared): the next one starts with a short gap again, and the first
      // search after a raise compares with the measuring one made while growth was seen.
      this.gapMs = this.config.intervalMs
      this.nextDueMs = undefined
      if (!this.wanted(nowMs, false, options.growthSeen ?? false)) return false
    }
    if (nowMs < Math.max(this.nextDueMs ?? Number.NEGATIVE_INFINITY, this.budget.budgetFreeAtMs())) return false
    if (this.sampling !== undefined) return false
    const generation = this.generation
    this.lastStartedMs = nowMs
    const requestsPerSecond = options.requestsPerSecond?.() ?? Number.NaN
    this.running = this.search(session, { headroomBytes: options.headroomBytes, scriptUrls: options.scriptUrls?.() }, generation, requestsPerSecond).finally(() => {
      this.lastEndedMs = this.now()
      if (generation === this.generation) this.running = undefined
    })
    return true
  }

  /** When the latest search ended (sidecar clock), for `ranSince`. */
  private lastEndedMs: number | undefined

  /**
   * A search ran in the target at some time after `ms` (it runs now, or ended after it): its
   * slices kept the target's event loop busy, which the target's utilization then counts.
   */
  ranSince(ms: number): boolean {
    return this.running !== undefined || (this.lastEndedMs ?? Number.NEGATIVE_INFINITY) > ms
  }

  /** When the latest search started (ms), for taking turns with profile reads. */
  private lastStartedMs: number | undefined

  /** Ask for a search now (the API): it starts at the next poll, budget permitting, and again for growth. */
  request(): HolderRequestOutcome {
    if (this.config.mode === 'off') return 'off'
    if (this.running !== undefined) return 'running'
    this.requested = true
    this.nextDueMs = undefined
    return 'scheduled'
  }

  /** Resolves when no search is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.sampling !== undefined) await (this.running ?? this.sampling)
  }

  /** A new process: what was found belongs to the old one. */
  reset(): void {
    this.generation += 1
    this.running = undefined
    this.latest = undefined
    this.refusal = undefined
    this.exportedIds = []
    this.history = []
    this.gapMs = this.config.intervalMs
    this.nextDueMs = undefined
    this.lastStartedMs = undefined
  }

  /** `sites`: the ranked allocation sites, to link each growing holder to one (holder-sites.ts). */
  view(sites: readonly RankedSite[] = []): HoldersView {
    const latest = this.latest
    return {
      mode: this.config.mode,
      running: this.running !== undefined,
      requested: this.requested,
      searchedAt: latest === undefined ? null : new Date(latest.at).toISOString(),
      firstSearch: latest?.firstSearch ?? true,
      nextSearchAt: this.nextDueMs === undefined ? null : new Date(this.nextDueMs).toISOString(),
      holders: (latest?.holders ?? []).map((holder) => ({ ...holder, label: holderLabel(holder), allocationSite: siteOfHolder(holder, sites) })),
      truncated: latest?.truncated ?? false,
      truncation: latest?.truncation ?? [],
      cost: latest?.cost ?? null,
      refusal:
        this.refusal === undefined
          ? null
          : { reason: this.refusal.reason, message: this.refusal.message, requiredBytes: this.refusal.requiredBytes, headroomBytes: this.refusal.headroomBytes },
      lastError: this.lastError,
      searches: { ...this.counts },
    }
  }

  /** Holders exported as labels: the growing top-K, where one already exported stays while it ranks within 2·K and grows. */
  exported(): Holder[] {
    const growing = (this.latest?.holders ?? []).filter((holder) => holder.growing)
    const byId = new Map(growing.map((holder) => [holder.id, holder]))
    return this.exportedIds.map((id) => byId.get(id)).filter((holder): holder is Holder => holder !== undefined)
  }

  samples(): Sample[] {
    const out: Sample[] = []
    if (this.config.mode === 'off') return out
    for (const holder of this.exported()) {
      const labels = { holder: holderLabel(holder), kind: holder.kind }
      out.push({ key: 'holderSize', labels, value: holder.size }, { key: 'holderRetained', labels, value: holder.retainedBytes })
      if (holder.growthPerSecond !== null) out.push({ key: 'holderGrowth', labels, value: holder.growthPerSecond })
    }
    for (const [outcome, count] of Object.entries(this.counts)) out.push({ key: 'holderSearches', labels: { outcome }, value: count })
    out.push({ key: 'holderSearchCost', value: this.costTotalMs / 1000 }, { key: 'holderSearchTargetCpu', value: this.cpuTotalMs / 1000 })
    if (this.latest !== undefined) out.push({ key: 'holderSearchLongestPause', value: searchPauseMs(this.latest.cost) / 1000 })
    return out
  }

  private async search(
    session: TargetSession,
    options: Pick<HolderSearchOptions, 'headroomBytes' | 'scriptUrls'>,
    generation: number,
    requestsPerSecond = Number.NaN,
  ): Promise<void> {
    const wasRequested = this.requested
    let result: HolderSearchDone | HolderSearchRefused
    try {
      result = await this.searchFn(session, options, this.latest)
    } catch (error) {
      if (generation !== this.generation) return
      this.counts.failed += 1
      this.lastError = errorMessage(error)
      this.schedule(this.now(), false)
      return
    }
    if (generation !== this.generation) return
    const nowMs = this.now()
    if (result.status === 'refused') {
      this.counts.refused += 1
      this.refusal = result
      this.requested = false
      this.schedule(nowMs, false)
      return
    }
    this.counts.done += 1
    this.refusal = undefined
    this.lastError = null
    const costMs = searchCostMs(result.cost)
    this.costTotalMs += costMs
    this.cpuTotalMs += result.cost.targetCpuMs ?? 0
    // The samples since the previous search are billed with this one (a bill replaces the last).
    this.budget.charge(nowMs, costMs + this.unbilledSampleMs)
    this.unbilledSampleMs = 0
    this.history = [...this.history, { at: result.at, requestsPerSecond }].slice(-(FLOW_RISES + 1))
    this.latest = this.judgedByBytes(this.judgedByTraffic(result))
    this.updateExported()
    // A request is answered once growth is known (two searches of the same process).
    if (wasRequested && !result.firstSearch) this.requested = false
    this.schedule(nowMs, result.firstSearch)
  }

  /**
   * A flow called growing for rising at each of its last searches is not growing when its level
   * per request did not rise with it (growth.ts `levelFollowsTraffic`): a queue or a map of
   * requests in flight rising with a morning ramp. Its sizes are matched to this process's
   * latest searches from the newest back, when its interval is the gap between the last two
   * (a holder not measured at every one of those searches is left as judged). Members that
   * stayed longer than every one that left (growth.ts `stayersSpan`) are not the traffic's.
   */
  private judgedByTraffic(result: HolderSearchDone): HolderSearchDone {
    let changed = false
    const holders = result.holders.map((h) => {
      if (!h.growing || h.stayers?.growing === true || h.previousSize === null || !isFlow(h.turnover)) return h
      const sizes = sizeHistory(h)
      const n = Math.min(sizes.length, this.history.length, FLOW_RISES + 1)
      if (n < FLOW_RISES + 1) return h
      const searches = this.history.slice(-n)
      if (!this.measuredAtLastTwo(h)) return h
      if (!levelFollowsTraffic(sizes.slice(-n), searches.map((s) => s.requestsPerSecond))) return h
      changed = true
      return { ...h, growing: false, followsTraffic: true as const }
    })
    return changed ? { ...result, holders: rankHolders(holders) } : result
  }

  /**
   * A collection judged growing on its own size that gains fewer bytes a second than
   * `minGrowthBytesPerSecond` (growth.ts `growthBytesPerSecond`) is reported as slow growth, not
   * growing: a map of image ids to their version numbers gaining a few ids a minute is unbounded,
   * but it is not what a memory alert is about, and named as the holder it would hide the one
   * that is (or stand for a cache's fill that raised a false alarm). Collections summed from
   * siblings or grown by their parent's members (each member's share of a leak spread over
   * many) and ones grown by their stayers are left as judged.
   */
  private judgedByBytes(result: HolderSearchDone): HolderSearchDone {
    const min = this.config.minGrowthBytesPerSecond
    if (!(min > 0)) return result
    let changed = false
    const holders = result.holders.map((h) => {
      if (!h.growing || h.stayers?.growing === true || h.members !== undefined || h.family !== undefined || h.byParent !== undefined) return h
      const bytesPerSecond = growthBytesPerSecond(h, this.spanSeconds(h))
      if (bytesPerSecond === null || bytesPerSecond >= min) return h
      changed = true
      return { ...h, growing: false, slowGrowth: { bytesPerSecond, minBytesPerSecond: min } }
    })
    return changed ? { ...result, holders: rankHolders(holders) } : result
  }

  /**
   * The seconds its growth span covers: between the searches that far back when it was measured
   * at the last two, else its interval times the span.
   */
  private spanSeconds(h: Holder): number {
    const k = h.growingOver ?? 1
    const n = this.history.length
    return n > k && this.measuredAtLastTwo(h) ? (this.history[n - 1]!.at - this.history[n - 1 - k]!.at) / 1000 : k * h.intervalSeconds
  }

  /** Measured at this process's last two searches: its interval is their gap (within 10 %, at least 1 s). */
  private measuredAtLastTwo(h: Holder): boolean {
    const n = this.history.length
    if (n < 2) return false
    const gapS = (this.history[n - 1]!.at - this.history[n - 2]!.at) / 1000
    return Math.abs(gapS - h.intervalSeconds) <= Math.max(1, 0.1 * h.intervalSeconds)
  }

  /** The next search: `intervalMs` after a first search, then the gap doubles up to the maximum. */
  private schedule(nowMs: number, first: boolean): void {
    if (first) {
      this.nextDueMs = nowMs + this.config.intervalMs
      return
    }
    this.nextDueMs = nowMs + this.gapMs
    this.gapMs = Math.min(this.config.maxIntervalMs, this.gapMs * 2)
  }

  private updateExported(): void {
    const k = this.config.topHolders
    const growing = (this.latest?.holders ?? []).filter((holder) => holder.growing)
    const keep = new Set(growing.slice(0, 2 * k).map((holder) => holder.id))
    const next = this.exportedIds.filter((id) => keep.has(id)).slice(0, k)
    for (const holder of growing) {
      if (next.length >= k) break
      if (!next.includes(holder.id)) next.push(holder.id)
    }
    this.exportedIds = next
  }
}
