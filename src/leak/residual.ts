/**
 * RSS is the JS heap, external memory (Buffers) and everything else (native
 * memory, code, stacks, V8's own slack). When RSS grows only because the heap
 * or external memory grows, and their own signals (which judge exact floors)
 * do not call that a leak — a cache filling, a burst — the RSS growth is no
 * independent evidence: the `rss` verdict then needs the part of RSS that
 * the heap and external floors do not explain to grow by itself. Pure.
 */
import type { LoadPoint } from '../analysis/load.js'
import type { SignalEvidence, WindowSeries } from '../analysis/verdict.js'

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
