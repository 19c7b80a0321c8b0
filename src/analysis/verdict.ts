/**
 * From a floor series to a leak verdict: a trend test (Mann–Kendall), a robust
 * slope (Theil–Sen), a minimum effect size (absolute and relative), and
 * hysteresis so the verdict does not flap. Pure.
 */
import type { AnalysisConfig } from '../config-types.js'
import { hingeFit, mannKendall, theilSen, thinIndexes } from './stats.js'

/** O(n²) statistics run on at most this many points (evenly thinned). */
export const MAX_STAT_POINTS = 240

export type SignalName = 'heap' | 'rss' | 'external'

export interface SignalEvidence {
  readonly signal: SignalName
  readonly evaluatedAtMs: number
  /** Floor points inside the window. */
  readonly points: number
  readonly windowStartMs: number | null
  /** Theil–Sen slope of the floor over the window. */
  readonly slopeBytesPerSecond: number
  /** Slope relative to the floor at the window's start, per hour (0.05 = 5 %/h). */
  readonly relativePerHour: number
  /** One-sided Mann–Kendall p-value of "no upward trend". */
  readonly pValue: number
  readonly tau: number
  /** Latest floor value. */
  readonly floorBytes: number | null
  readonly warmingUp: boolean
  /** True when every test passed on this evaluation. */
  readonly positive: boolean
  /** Why it is not positive (empty when positive). */
  readonly reasons: readonly string[]
}

type AnalysisThresholds = Pick<
  AnalysisConfig,
  'windowMs' | 'minPoints' | 'maxPValue' | 'minSlopeBytesPerSecond' | 'minRelativePerHour'
>

export function evaluateSignal(
  signal: SignalName,
  series: { times: readonly number[]; values: readonly number[] },
  nowMs: number,
  config: AnalysisThresholds,
  warmupUntilMs: number,
): SignalEvidence {
  const start = nowMs - config.windowMs
  const times: number[] = []
  const values: number[] = []
  for (let i = 0; i < series.times.length; i++) {
    const t = series.times[i] as number
    if (t >= start && t >= warmupUntilMs) {
      times.push(t)
      values.push(series.values[i] as number)
    }
  }
  const keep = thinIndexes(times.length, MAX_STAT_POINTS)
  const thinTimes = keep.map((i) => times[i] as number)
  const thinValues = keep.map((i) => values[i] as number)
  const trend = mannKendall(thinValues)
  const line = theilSen(thinTimes, thinValues)
  const slopeBytesPerSecond = line.slope * 1000
  const firstTime = thinTimes[0]
  const floorAtStart = firstTime === undefined ? Number.NaN : line.intercept + line.slope * firstTime
  const relativePerHour = floorAtStart > 0 ? (slopeBytesPerSecond * 3600) / floorAtStart : 0
  const warmingUp = nowMs < warmupUntilMs
  const reasons: string[] = []
  if (warmingUp) reasons.push('warming up')
  if (times.length < config.minPoints) reasons.push(`${times.length} of ${config.minPoints} points`)
  else {
    if (trend.pIncreasing > config.maxPValue) reasons.push(`no significant upward trend (p=${trend.pIncreasing.toPrecision(2)})`)
    if (slopeBytesPerSecond < config.minSlopeBytesPerSecond) reasons.push(`slope ${slopeBytesPerSecond.toFixed(0)} B/s below ${config.minSlopeBytesPerSecond} B/s`)
    if (relativePerHour < config.minRelativePerHour) reasons.push(`growth ${(relativePerHour * 100).toFixed(1)} %/h below ${(config.minRelativePerHour * 100).toFixed(1)} %/h`)
  }
  const lastValue = series.values[series.values.length - 1]
  return {
    signal,
    evaluatedAtMs: nowMs,
    points: times.length,
    windowStartMs: firstTime ?? null,
    slopeBytesPerSecond: Number.isFinite(slopeBytesPerSecond) ? slopeBytesPerSecond : 0,
    relativePerHour: Number.isFinite(relativePerHour) ? relativePerHour : 0,
    pValue: trend.pIncreasing,
    tau: trend.tau,
    floorBytes: lastValue ?? null,
    warmingUp,
    positive: reasons.length === 0,
    reasons,
  }
}

export interface VerdictState {
  readonly suspected: boolean
  /** Consecutive positive / negative evaluations (the one not matching the verdict resets). */
  readonly positives: number
  readonly negatives: number
  /** When the current suspicion was raised (ms), or null. */
  readonly raisedAtMs: number | null
  /** When growth began, from the hinge fit over the whole history (ms), or null. */
  readonly onsetMs: number | null
}

export const INITIAL_VERDICT: VerdictState = { suspected: false, positives: 0, negatives: 0, raisedAtMs: null, onsetMs: null }

/** Hysteresis: raise after `raiseAfter` positives in a row, clear after `clearAfter` negatives in a row. */
export function nextVerdict(
  state: VerdictState,
  evidence: SignalEvidence,
  config: Pick<AnalysisConfig, 'raiseAfter' | 'clearAfter'>,
): VerdictState {
  const positives = evidence.positive ? state.positives + 1 : 0
  const negatives = evidence.positive ? 0 : state.negatives + 1
  if (!state.suspected && positives >= config.raiseAfter) {
    return { suspected: true, positives, negatives, raisedAtMs: evidence.evaluatedAtMs, onsetMs: state.onsetMs }
  }
  if (state.suspected && negatives >= config.clearAfter) {
    return { suspected: false, positives, negatives, raisedAtMs: null, onsetMs: null }
  }
  return { ...state, positives, negatives }
}

/**
 * When growth began: the hinge (flat, then rising) fit over the whole floor
 * history. Null when the best fit does not rise.
 */
export function estimateOnset(series: { times: readonly number[]; values: readonly number[] }): number | null {
  const keep = thinIndexes(series.times.length, MAX_STAT_POINTS)
  const fit = hingeFit(
    keep.map((i) => series.times[i] as number),
    keep.map((i) => series.values[i] as number),
  )
  return fit !== undefined && fit.slope > 0 ? fit.onsetMs : null
}

/** Seconds until `floor` growing at `slopePerSecond` reaches `limit`; undefined when it never does. */
export function secondsUntil(limit: number | undefined, floor: number | null, slopePerSecond: number): number | undefined {
  if (limit === undefined || floor === null || !(slopePerSecond > 0) || !(limit > 0)) return undefined
  return Math.max(0, (limit - floor) / slopePerSecond)
}
