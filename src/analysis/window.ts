/**
 * The fast path's window over a floor series: where it starts, and its points. Pure.
 */
import { thinIndexes } from './stats.js'

/** O(n²) statistics run on at most this many points (evenly thinned). */
export const MAX_STAT_POINTS = 240

/** Fewest points a trend is judged on, whatever minPoints asks for: a monotone run of 6 has p ≈ 0.004. */
export const MIN_JUDGED_POINTS = 6

/** A window short of floor points reaches back at most this many windows for them (see reachBack). */
const SPARSE_REACH_WINDOWS = 2

export interface WindowSeries {
  readonly times: readonly number[]
  readonly values: readonly number[]
  /** Event-loop utilization around each point; NaN where unknown. */
  readonly loads?: readonly number[]
}

/**
 * Where the fast path's window starts. Floors that come rarely (a heap whose major GCs grow
 * rare as it grows) leave the window short of points exactly when a leak is fast: the window
 * then reaches back for the `wanted` latest points, but never before `earliestMs`.
 */
function reachBack(series: WindowSeries, startMs: number, earliestMs: number, wanted: number): number {
  let count = 0
  for (let i = series.times.length - 1; i >= 0; i--) {
    const t = series.times[i] as number
    if (!Number.isFinite(t) || !Number.isFinite(series.values[i] as number)) continue
    if (t < earliestMs) break
    count += 1
    if (count >= wanted) return Math.min(startMs, t)
  }
  return count > 0 ? Math.min(startMs, earliestMs) : startMs
}

/** Points at or after `fromMs` (and at or after the warm-up), thinned to MAX_STAT_POINTS. */
export function select(series: WindowSeries, fromMs: number): { times: number[]; values: number[]; loads: number[]; count: number } {
  const times: number[] = []
  const values: number[] = []
  const loads: number[] = []
  for (let i = 0; i < series.times.length; i++) {
    const t = series.times[i] as number
    const v = series.values[i] as number
    if (t >= fromMs && Number.isFinite(t) && Number.isFinite(v)) {
      times.push(t)
      values.push(v)
      loads.push(series.loads?.[i] ?? Number.NaN)
    }
  }
  const keep = thinIndexes(times.length, MAX_STAT_POINTS)
  return {
    times: keep.map((i) => times[i] as number),
    values: keep.map((i) => values[i] as number),
    loads: keep.map((i) => loads[i] as number),
    count: times.length,
  }
}

/** Where the window ending at `nowMs` starts: `windowMs` back (not before `fromMs`), or further back when it holds fewer than `wanted` floors. */
export function windowStart(series: WindowSeries, nowMs: number, fromMs: number, windowMs: number, wanted: number): number {
  return reachBack(series, Math.max(nowMs - windowMs, fromMs), Math.max(nowMs - SPARSE_REACH_WINDOWS * windowMs, fromMs), wanted)
}
