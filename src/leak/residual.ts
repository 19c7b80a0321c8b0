/**
 * RSS is the JS heap, external memory (Buffers) and everything else (native
 * memory, code, stacks, V8's own slack). When RSS grows only because the heap
 * or external memory grows, and their own signals (which judge exact floors)
 * do not call that a leak — a cache filling, a burst — the RSS growth is no
 * independent evidence: the `rss` verdict then needs the part of RSS that
 * the heap and external floors do not explain to grow by itself. Pure.
 */
import type { LoadPoint } from '../analysis/load.js'
import { bytes, type SignalEvidence, type WindowSeries } from '../analysis/verdict.js'

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
 * Whether the unexplained part's rise over the fast window only brings it back to its level
 * before the window: V8 commits heap pages before it touches them, so while a heap grows
 * heapTotal runs ahead of RSS and the residual dips, then recovers as the pages fill
 * (selfload/customer-dedupe-batch: −6 MiB in the middle of a batch pass, 47 MiB before and
 * after it). New growth outside the heap carries the residual above where it was; a recovery
 * does not. Judged as: the last residual is less than half of the window's rise (its slope's
 * lower bound × the window's span) above the highest residual in `lookbackMs` before the
 * window. Returns why, or undefined (no earlier points, or a new high).
 */
export function recoveredLevel(residual: WindowSeries, windowStartMs: number, slopeLowerBytesPerSecond: number, lookbackMs: number): string | undefined {
  const { times, values } = residual
  let earlierHigh = Number.NEGATIVE_INFINITY
  for (let i = 0; i < times.length; i++) {
    const timeMs = times[i] as number
    if (timeMs >= windowStartMs - lookbackMs && timeMs < windowStartMs) earlierHigh = Math.max(earlierHigh, values[i] as number)
  }
  const last = values.at(-1)
  const lastTimeMs = times.at(-1)
  if (!Number.isFinite(earlierHigh) || last === undefined || lastTimeMs === undefined) return undefined
  const rise = (Math.max(0, slopeLowerBytesPerSecond) * Math.max(0, lastTimeMs - windowStartMs)) / 1000
  const above = last - earlierHigh
  if (above >= rise / 2) return undefined
  return (
    `its rise over the window (at least ${bytes(rise)}) brings it back to where it was: ${bytes(last)} now, ` +
    `${above <= 0 ? 'not above' : `only ${bytes(above)} above`} its high of ${bytes(earlierHigh)} before the window ` +
    '(V8 commits heap pages before it touches them, so RSS outside the heap dips while the heap grows); a new high needs at least half the rise'
  )
}

/**
 * The RSS evidence when the heap and external memory explain its growth: not positive, with
 * the reason, and what the unexplained part showed (`why`).
 */
export function explainedByParts(evidence: SignalEvidence, why: string): SignalEvidence {
  const reason =
    'rss: its growth is the JS heap and external memory, which their own signals do not call a leak; ' +
    `outside them RSS is not growing by itself (${why})`
  return {
    ...evidence,
    path: null,
    fast: { ...evidence.fast, positive: false, urgent: false, urgentByLimit: false, reasons: [reason, ...evidence.fast.reasons] },
    slow: { ...evidence.slow, positive: false, reasons: [reason, ...evidence.slow.reasons] },
    reasons: [reason],
  }
}
