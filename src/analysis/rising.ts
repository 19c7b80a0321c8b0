/**
 * Growth worth measuring, short of a verdict. Pure.
 *
 * A holder search names a leak by the growth of its collection between searches, so it must
 * measure while the leak grows, and a verdict path is not always positive then: a leak too slow
 * for the fast path, under a load the slow path cannot match, or younger than the slow window.
 * ramps/outbound-dedupe-registry-leak (0.65 MiB/h under a 5× traffic ramp) had its one measuring
 * search when the fast path flickered positive, none after, and its registry was never named.
 * Its downsampled floors rose all along.
 */
import { mannKendall, theilSen } from './stats.js'

/** Downsampled floors a span must hold to say it rose. */
export const MIN_RISING_POINTS = 6

/**
 * The floor rose over the last `spanMs`: over at least MIN_RISING_POINTS of `points` (the slow
 * path's downsampled floors, one per bucket) from `fromMs` on, the Mann–Kendall trend is
 * significant (p ≤ `alpha`) and the Theil–Sen slope is at least `minSlopeBytesPerSecond` (the
 * slow path's smallest growth worth raising). A flat floor, a sawtooth's noise and a burst that
 * drained within the span do not pass; a cache filling does, which a measuring search only measures.
 */
export function risingLately(
  points: ReadonlyArray<{ readonly timeMs: number; readonly value: number }>,
  nowMs: number,
  spanMs: number,
  fromMs: number,
  minSlopeBytesPerSecond: number,
  alpha: number,
): boolean {
  const recent = points.filter((p) => p.timeMs >= Math.max(fromMs, nowMs - spanMs) && p.timeMs <= nowMs && Number.isFinite(p.value))
  if (recent.length < MIN_RISING_POINTS) return false
  const values = recent.map((p) => p.value)
  if (mannKendall(values).pIncreasing > alpha) return false
  return theilSen(recent.map((p) => p.timeMs), values).slope * 1000 >= minSlopeBytesPerSecond
}
