import { theilSen } from '../analysis/stats.js'
import { SLOW_RECENT_SHARE } from '../analysis/verdict.js'
import { isHistogramSample, type Sample } from '../core/metrics.js'

/**
 * When to buy a heap floor (a forced major GC, on the attribution budget): the heap signal
 * judges post-GC floors, and a heap that grows fast makes V8's own major GCs rare exactly
 * when the floors are needed; V8's own pace also leaves a window short of floors whatever
 * it needs to bound a slope worth raising. Also here: the GC's share of the time, which the load leaves out.
 */

export interface StarvationInputs {
  readonly nowMs: number
  /** The target's latest major GC (its own), if any. */
  readonly lastMajorGcMs: number | undefined
  readonly floorWindowMs: number
  /** Heap floors in the fast window. */
  readonly windowFloors: readonly number[]
  /** Floors the fast window wants. */
  readonly minPoints: number
  /** The RSS floor rises (fast or slow path positive). */
  readonly rssGrows: boolean
  /** V8's heap used at each poll over the last floor window (garbage included). */
  readonly usedLately: readonly number[]
  /** The latest heap floor, or else the first heap-used reading of the process. */
  readonly reference: { readonly timeMs: number; readonly value: number } | undefined
  /** The smallest slope worth raising. */
  readonly minSlopeBytesPerSecond: number
  /** A heap leak is raised and its latest evidence could not judge (too few floors): see below. */
  readonly raisedUnjudged?: boolean
  /** The fast window's length (spacing of floors bought for a raised leak: window ÷ minPoints). */
  readonly windowMs?: number
  /**
   * The Theil–Sen slope estimate of the heap floor over the fast window at its latest
   * evaluation (bytes per second), or undefined when none was made: see `undecided`.
   */
  readonly windowSlopeBytesPerSecond?: number
  /** When the latest exact heap floor was read, its floor window perhaps still open (spacing of bought floors). */
  readonly lastReadingMs?: number
  /** The slow path's downsampled floors and settings: see `slowUndecided`. */
  readonly slow?: SlowStarvation
}

export interface SlowStarvation {
  /** The slow series (one floor per bucket, the open bucket's included), oldest first. */
  readonly floors: readonly { readonly timeMs: number; readonly value: number }[]
  readonly windowMs: number
  readonly bucketMs: number
  /** The smallest slope the slow path raises. */
  readonly minSlopeBytesPerSecond: number
}

/** Floors the slow growth estimate (`slowUndecided`) needs. */
const SLOW_MIN_ESTIMATE_POINTS = 3

/**
 * Buy a floor for a raised heap leak the fast path cannot judge (`raisedUnjudged`), for a window
 * whose few floors estimate growth worth raising (`undecided`), or when
 * major GCs have become rare (none for three floor windows), the fast window
 * holds fewer floors than it wants, and growth is possible: the floors rise, or RSS rises, or
 * the heap used at its lowest over the last floor window (an upper bound of the floor) stands
 * above the latest floor — or the first reading — by more than growth at the smallest slope
 * worth raising would have added since. The last case is a leak fast from its start: a 600 MB/h
 * one went 24 simulated minutes without a single floor, as neither earlier case could hold.
 */
export function heapStarved(input: StarvationInputs): boolean {
  const { nowMs, lastMajorGcMs, windowFloors, reference, usedLately } = input
  if (raisedUnjudged(input) || undecided(input) || slowUndecided(input)) return true
  if (lastMajorGcMs !== undefined && nowMs - lastMajorGcMs < 3 * input.floorWindowMs) return false
  if (windowFloors.length >= input.minPoints) return false
  const rising = windowFloors.length >= 2 && (windowFloors[windowFloors.length - 1] as number) > (windowFloors[0] as number)
  if (rising || input.rssGrows) return true
  if (usedLately.length === 0 || reference === undefined) return false
  let lowest = Number.POSITIVE_INFINITY
  for (const used of usedLately) lowest = Math.min(lowest, used)
  return lowest - reference.value > (input.minSlopeBytesPerSecond * (nowMs - reference.timeMs)) / 1000
}

/**
 * A raised heap leak whose latest evidence had too few floors to judge (verdict.ts): it is
 * held while unjudged (verdict.ts), so without floors it is held for good. A cache that filled
 * and plateaued under a raised verdict went five simulated hours with 4-5 floors a window (a
 * major GC every ~15 minutes: not rare enough for the rule below) and never cleared. Floors are
 * bought, spaced at least window ÷ minPoints apart so that they spread over the window.
 */
function raisedUnjudged(input: StarvationInputs): boolean {
  return input.raisedUnjudged === true && spacedOut(input)
}

/**
 * At least window ÷ minPoints since the latest floor, counted from the latest floor read (a
 * bought one is read at once but enters the series only when its floor window closes).
 */
function spacedOut(input: StarvationInputs): boolean {
  return input.windowMs !== undefined && sinceLastFloorMs(input) >= input.windowMs / input.minPoints
}

/** Time since the latest floor, in the series or read (its floor window still open); Infinity without one. */
function sinceLastFloorMs(input: StarvationInputs): number {
  return input.nowMs - Math.max(input.reference?.timeMs ?? Number.NEGATIVE_INFINITY, input.lastReadingMs ?? Number.NEGATIVE_INFINITY)
}

/**
 * A window short of floors whose slope estimate is at least the smallest worth raising: growth
 * that would be a leak, too few floors to bound it. V8's own major GCs come at their pace
 * whatever the window needs: flushes/log-shipper-failed-retry-leak (~5 MiB/h from the start, a
 * major GC every ~5 simulated minutes, so never "rare") had 6-9 floors in its 30-minute window
 * after its warm-up, slope estimates of 67-125 KiB/s (simulated) against the 60 worth raising,
 * and lower bounds of 40-59 — unproven for three hours, then missed or raised by the slow path at
 * +4.7 h. Floors are bought spaced as for a raised leak (window ÷ minPoints), so the window
 * gets the floors it wants and no more; a flat heap (estimate near zero) buys none.
 */
function undecided(input: StarvationInputs): boolean {
  const slope = input.windowSlopeBytesPerSecond
  if (slope === undefined || !(slope >= input.minSlopeBytesPerSecond)) return false
  return input.windowFloors.length < input.minPoints && spacedOut(input)
}

/**
 * The slow path's counterpart of `undecided`: it compares each floor of its window's last third
 * with earlier floors at comparable load and needs six of them that have such company
 * (verdict.ts), one floor per bucket at most. Where V8's own major GCs come every ten to fifteen
 * minutes, that third of 12 buckets held 5-6 floors: slowsmall/audit-trail-class-leak (~2.9 MiB/h)
 * was "too few to compare" from 5 h and missed in 6 h (as in two of five earlier runs), its fast
 * path's estimates (2.4-3.3 MiB/h) under what the fast path raises. So while the slow floors of
 * the last half window estimate growth the slow path would raise and its last third lacks floors,
 * a floor is bought at most once a bucket.
 */
function slowUndecided(input: StarvationInputs): boolean {
  const slow = input.slow
  // The spacing first: it settles most polls without the filters and the estimate.
  if (slow === undefined || sinceLastFloorMs(input) < slow.bucketMs) return false
  const recentFrom = input.nowMs - slow.windowMs * SLOW_RECENT_SHARE
  const recent = slow.floors.filter((p) => p.timeMs >= recentFrom).length
  if (recent >= Math.floor((slow.windowMs * SLOW_RECENT_SHARE) / slow.bucketMs)) return false
  const half = slow.floors.filter((p) => p.timeMs >= input.nowMs - slow.windowMs / 2)
  if (half.length < SLOW_MIN_ESTIMATE_POINTS) return false
  const perMs = theilSen(half.map((p) => p.timeMs), half.map((p) => p.value)).slope
  return perMs * 1000 >= slow.minSlopeBytesPerSecond
}

/** The target's GC pauses so far (the sum of the gcDuration histograms), or undefined without them. */
export function gcSeconds(samples: readonly Sample[]): number | undefined {
  let seconds: number | undefined
  for (const sample of samples) {
    if (sample.key === 'gcDuration' && isHistogramSample(sample)) seconds = (seconds ?? 0) + sample.sum
  }
  return seconds
}

/** Share of the time from `previous` to now that a running total of busy seconds grew by: 0 without a previous reading or when it went back. */
export function shareSince(previous: { readonly timeMs: number; readonly seconds: number } | undefined, nowMs: number, seconds: number): number {
  if (previous === undefined || seconds < previous.seconds || nowMs <= previous.timeMs) return 0
  return Math.min(1, ((seconds - previous.seconds) * 1000) / (nowMs - previous.timeMs))
}

/**
 * The share of the time between two polls that is busy but not the target's load: its GC
 * pauses (its own GC observer's histograms; a leak makes GC busier, which must not pass for
 * load that explains the leak). The sidecar's own reads are not left out: tried, and with reads
 * at 10 % of a compressed target's time (whose own load is 1-7 %) the load was swamped either
 * way; at the default 1 % they are small next to a real load change.
 */
export class BusyShares {
  private previousGc: { timeMs: number; seconds: number } | undefined

  /** The share since the previous call spent in GC pauses (0 when unknown). */
  since(nowMs: number, samples: readonly Sample[]): number {
    const gc = gcSeconds(samples)
    if (gc === undefined) return 0
    const share = shareSince(this.previousGc, nowMs, gc)
    this.previousGc = { timeMs: nowMs, seconds: gc }
    return share
  }

  /** A new process: its GC totals start over. */
  reset(): void {
    this.previousGc = undefined
  }
}
