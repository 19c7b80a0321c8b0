/**
 * What the holder search said about one program, watched through the sidecar's own API
 * (`GET /api/targets/NAME/holders`), against the manifest's ground truth: the variable a
 * developer would name as holding the leak.
 *
 * - Leaks: when (after the first raised verdict) a growing holder matching the truth was first
 *   reported, its path, kind, shape and rank among the growing ones, and what every search
 *   cost the target (longest pause inside it, target CPU, wall time).
 * - Healthy programs that fill and plateau: searches are asked for on the API after the
 *   plateau (as a user would after a false alarm elsewhere); any holder then reported as
 *   growing over an interval that began after the plateau is a false holder (growth measured
 *   from a search made while the cache filled is the fill, reported late, not growth after it).
 */
import { fellBetween, isGrowing } from '../../src/holders/growth.js'
import type { Holder } from '../../src/holders/types.js'
import { searchPauseMs } from '../../src/leak/holder-scheduler.js'
import { median } from '../lib/report.js'
import type { HolderTruth } from './programs.js'

export interface HolderOutcome {
  /** Simulated seconds from the first raised verdict to the first report of the true holder; null when never. */
  readonly foundAfterRaiseSimS: number | null
  /** The same in wall seconds (searches are paced by the compressed budget and interval). */
  readonly foundAfterRaiseWallS: number | null
  /** The true holder as reported the first time it was found. */
  readonly found: {
    readonly path: string
    readonly kind: string
    readonly shape: string
    readonly rank: number
    readonly label: string
    /** The API's inferred allocation site of the holder (its label), null when none was given. */
    readonly allocationSite?: string | null
    /** That site is the manifest's allocating function (null when the manifest names none). */
    readonly siteIsAllocatingFunction?: boolean | null
  } | null
  /** Growing holders reported that do not match the truth (distinct labels). */
  readonly otherGrowing: readonly string[]
  /**
   * Flows that rose at each of their last searches but were not called growing because their
   * level per request did not (`followsTraffic`; distinct labels, any search): whether that rule
   * decided anything in a run. Absent in results recorded before it.
   */
  readonly followedTraffic?: readonly string[]
  /**
   * Holders whose two sizes counted as growth but that fell between the searches and did not grow
   * in their floor (growth.ts `fellBetween`; distinct labels, any search): whether that rule
   * decided anything in a run. Absent in results recorded before it.
   */
  readonly emptiedBetween?: readonly string[]
  /**
   * Searches whose growing holders were judged (a healthy program's only after the plateau in
   * its manifest; one with none, whose level follows its traffic, never): 0 means its holders
   * were not judged at all. Absent in results recorded before it.
   */
  readonly judgedSearches?: number
  readonly searches: { readonly done: number; readonly refused: number; readonly failed: number }
  /** Why searches were refused (distinct reasons, e.g. 'headroom: needs 64 MiB, 40 MiB left'). */
  readonly refusals: readonly string[]
  /** Per search, the worst seen: longest pause (slice inside the target or script listing), target CPU, wall time (ms). */
  readonly worst: { readonly pauseMs: number; readonly targetCpuMs: number; readonly wallMs: number } | null
  /** Median of the same over the searches seen. */
  readonly median: { readonly pauseMs: number; readonly targetCpuMs: number; readonly wallMs: number } | null
}

export interface HoldersApiView {
  readonly searchedAt: string | null
  readonly holders: ReadonlyArray<Holder & { readonly label: string; readonly allocationSite?: { readonly label: string } | null }>
  readonly cost: { readonly longestSliceMs: number; readonly scriptListMs?: number | null; readonly targetCpuMs?: number; readonly wallMs: number } | null
  readonly searches: { readonly done: number; readonly refused: number; readonly failed: number }
  readonly refusal?: { readonly reason: string; readonly requiredBytes?: number; readonly headroomBytes?: number } | null
}

/**
 * Whether a holder's path names every segment of the truth's variable (`queue.jobs`: `queue` and
 * `jobs`). Leaked timers (truth kind `timers`) have no variable that grows: each timer's closure
 * holds its own state, and what grows is Node's list of timers of that duration, which the
 * search reports as a `Timers` holder (`timers → setInterval(300000 ms)`); that is the match.
 */
export function matchesTruth(holder: Pick<Holder, 'path' | 'kind'>, truth: HolderTruth): boolean {
  if (truth.kind === 'timers') return holder.kind === 'Timers'
  const tokens = new Set(holder.path.join(' ').split(/[^A-Za-z0-9_$]+/))
  return truth.variable.split('.').every((segment) => tokens.has(segment))
}

/** Not growing only because it fell between the searches and its floor did not grow (growth.ts). */
function decidedByFloor(h: Holder): boolean {
  if (h.growing || h.floors === undefined || h.previousSize === null || !fellBetween(h.previousSize, h.floors, h.turnover)) return false
  return h.members === undefined ? isGrowing(h.size, h.previousSize, h.turnover, h.earlierSizes ?? []) : isGrowing(h.size, h.previousSize)
}

export class HolderWatch {
  private readonly costs: Array<{ pauseMs: number; targetCpuMs: number; wallMs: number }> = []
  private lastSearchedAt: string | null = null
  private found: HolderOutcome['found'] = null
  private foundAfterRaiseSimS: number | null = null
  private foundAfterRaiseWallS: number | null = null
  private readonly other = new Set<string>()
  private readonly byTraffic = new Set<string>()
  private readonly byFloor = new Set<string>()
  private searches = { done: 0, refused: 0, failed: 0 }
  private judged = 0
  private readonly refusals = new Set<string>()

  constructor(
    private readonly truth: HolderTruth | null,
    private readonly allocatingFunction: string | null = null,
  ) {}

  /** The true holder has been reported. */
  get named(): boolean {
    return this.found !== null
  }

  /**
   * One look at the API. `raised`: the first raise (sim and wall), if any yet; `judge`: growing
   * holders count from now, all of them (true) or those whose measured interval (the target's
   * seconds × `scale`) began at or after `sinceSimS`.
   */
  observe(
    view: HoldersApiView,
    raised: { simS: number; wallMs: number } | null,
    now: { simS: number; wallMs: number },
    judge: boolean | { readonly sinceSimS: number; readonly scale: number },
  ): void {
    this.searches = view.searches
    const refusal = view.refusal
    if (refusal !== null && refusal !== undefined) {
      const mib = (bytes: number | undefined): string => (bytes === undefined ? '?' : `${Math.round(bytes / 1048576)} MiB`)
      this.refusals.add(refusal.reason === 'headroom' ? `headroom: needs ${mib(refusal.requiredBytes)}, ${mib(refusal.headroomBytes)} left` : refusal.reason)
    }
    if (view.searchedAt === null || view.searchedAt === this.lastSearchedAt) return
    this.lastSearchedAt = view.searchedAt
    if (view.cost !== null) this.costs.push({ pauseMs: searchPauseMs(view.cost), targetCpuMs: view.cost.targetCpuMs ?? 0, wallMs: view.cost.wallMs })
    for (const holder of view.holders) if (holder.followsTraffic === true) this.byTraffic.add(holder.label)
    for (const holder of view.holders) if (decidedByFloor(holder)) this.byFloor.add(holder.label)
    if (judge === false) return
    this.judged += 1
    const since = judge === true ? undefined : judge
    const growing = view.holders.filter((h) => h.growing && (since === undefined || now.simS - h.intervalSeconds * since.scale >= since.sinceSimS))
    growing.forEach((holder, index) => {
      if (this.truth !== null && matchesTruth(holder, this.truth)) {
        if (this.found !== null) return
        const site = holder.allocationSite?.label ?? null
        this.found = {
          path: holder.path.join(' → '),
          kind: holder.kind,
          shape: holder.elementShape.join(' | '),
          rank: index + 1,
          label: holder.label,
          allocationSite: site,
          siteIsAllocatingFunction: this.allocatingFunction === null ? null : site !== null && site.startsWith(`${this.allocatingFunction} (`),
        }
        if (raised !== null) {
          this.foundAfterRaiseSimS = now.simS - raised.simS
          this.foundAfterRaiseWallS = (now.wallMs - raised.wallMs) / 1000
        }
      } else {
        this.other.add(holder.label)
      }
    })
  }

  result(): HolderOutcome {
    const pick = (f: (c: { pauseMs: number; targetCpuMs: number; wallMs: number }) => number): number[] => this.costs.map(f)
    return {
      foundAfterRaiseSimS: this.foundAfterRaiseSimS,
      foundAfterRaiseWallS: this.foundAfterRaiseWallS,
      found: this.found,
      otherGrowing: [...this.other],
      followedTraffic: [...this.byTraffic],
      emptiedBetween: [...this.byFloor],
      judgedSearches: this.judged,
      searches: this.searches,
      refusals: [...this.refusals],
      worst:
        this.costs.length === 0
          ? null
          : { pauseMs: Math.max(...pick((c) => c.pauseMs)), targetCpuMs: Math.max(...pick((c) => c.targetCpuMs)), wallMs: Math.max(...pick((c) => c.wallMs)) },
      median:
        this.costs.length === 0
          ? null
          : { pauseMs: median(pick((c) => c.pauseMs)), targetCpuMs: median(pick((c) => c.targetCpuMs)), wallMs: median(pick((c) => c.wallMs)) },
    }
  }
}
