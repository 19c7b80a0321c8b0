/**
 * RSS is the JS heap, external memory (Buffers) and everything else (native
 * memory, code, stacks, V8's own slack). When RSS grows only because the heap
 * or external memory grows, and their own signals (which judge exact floors)
 * do not call that a leak — a cache filling, a burst — the RSS growth is no
 * independent evidence: the `rss` verdict then needs the part of RSS that
 * the heap and external floors do not explain to grow by itself. Pure.
 *
 * Also here: the load's usual level, from every poll's reading (see LoadLevel).
 */
import { loadRamp, RAMP_WINDOWS, type LoadPoint } from '../analysis/load.js'
import { median } from '../analysis/stats.js'
import type { LoadLevel, SignalEvidence, WindowSeries } from '../analysis/verdict.js'

export interface StepSeries {
  readonly times: readonly number[]
  readonly values: readonly number[]
}

/** The value of a step series at `timeMs`: its last point at or before it, else its first point; undefined when empty. */
export function stepAt(series: StepSeries, timeMs: number): number | undefined {
  const { times, values } = series
  if (times.length === 0) return undefined
  let lo = 0
  let hi = times.length - 1
  if ((times[0] as number) > timeMs) return values[0]
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if ((times[mid] as number) <= timeMs) lo = mid
    else hi = mid - 1
  }
  return values[lo]
}

/** RSS floors less the heap and external floors at the same times: what they do not explain. */
export function residualSeries(rss: WindowSeries, parts: readonly StepSeries[]): WindowSeries {
  const values = rss.times.map((timeMs, i) => {
    let value = rss.values[i] as number
    for (const part of parts) value -= stepAt(part, timeMs) ?? 0
    return value
  })
  return { times: rss.times, values, ...(rss.loads === undefined ? {} : { loads: rss.loads }) }
}

/** The same for the slow series' points. */
export function residualPoints(points: readonly LoadPoint[], parts: readonly StepSeries[]): LoadPoint[] {
  return points.map((point) => {
    let value = point.value
    for (const part of parts) value -= stepAt(part, point.timeMs) ?? 0
    return { ...point, value }
  })
}

/**
 * The RSS evidence when the heap and external memory explain its growth: not positive, with
 * the reason, and what the unexplained part showed.
 */
export function explainedByParts(evidence: SignalEvidence, residual: SignalEvidence): SignalEvidence {
  const reason =
    'rss: its growth is the JS heap and external memory, which their own signals do not call a leak; ' +
    `outside them RSS is not growing by itself (${residual.reasons[0] ?? 'no positive test'})`
  return {
    ...evidence,
    path: null,
    fast: { ...evidence.fast, positive: false, urgent: false, urgentByLimit: false, reasons: [reason, ...evidence.fast.reasons] },
    slow: { ...evidence.slow, positive: false, reasons: [reason, ...evidence.slow.reasons] },
    reasons: [reason],
  }
}

/**
 * The load over the window (from `windowStartMs`) against the load before it, from every poll's
 * reading since `fromMs` (the warm-up excluded), and its ramp over the RAMP_WINDOWS windows up to
 * `ramp.nowMs` (at least one window of readings);
 * undefined without readings in the window. Without four readings before it, the baseline is
 * NaN and covers 0 ms.
 */
export function loadLevel(
  readings: StepSeries,
  windowStartMs: number,
  fromMs: number,
  ramp?: { readonly nowMs: number; readonly windowMs: number },
): LoadLevel | undefined {
  const before: number[] = []
  const within: number[] = []
  let firstMs: number | undefined
  for (let i = 0; i < readings.times.length; i++) {
    const timeMs = readings.times[i] as number
    const value = readings.values[i] as number
    if (timeMs < fromMs || !Number.isFinite(value)) continue
    if (timeMs < windowStartMs) {
      firstMs ??= timeMs
      before.push(value)
    } else within.push(value)
  }
  if (within.length < 4) return undefined
  const rampOf = ramp === undefined ? undefined : loadRamp(readings, Math.max(fromMs, ramp.nowMs - RAMP_WINDOWS * ramp.windowMs), ramp.nowMs, ramp.windowMs)
  const withRamp = rampOf === undefined ? {} : { ramp: rampOf }
  if (before.length < 4 || firstMs === undefined) return { window: median(within), baseline: Number.NaN, spread: 0, baselineMs: 0, ...withRamp }
  const baseline = median(before)
  return {
    window: median(within),
    baseline,
    spread: 1.4826 * median(before.map((value) => Math.abs(value - baseline))),
    baselineMs: windowStartMs - firstMs,
    ...withRamp,
  }
}
