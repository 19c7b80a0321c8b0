/**
 * From a floor series to a leak verdict: a trend test (Mann–Kendall), a robust
 * slope (Theil–Sen), a minimum effect size (absolute and relative), and
 * hysteresis so the verdict does not flap. Pure.
 */
import type { AnalysisConfig } from '../config/types.js'
import { hingeFit, mannKendall, theilSen, theilSenBounds, thinIndexes, upperQuantile } from './stats.js'

/** O(n²) statistics run on at most this many points (evenly thinned). */
export const MAX_STAT_POINTS = 240

/**
 * Growth must be sustained: each half of the window must grow at least this
 * share of the whole window's slope. A leak grows steadily; a one-off step (a
 * deploy-sized allocation), a burst that drains, or a cache approaching its
 * size grows in one half and not (or much less) in the other.
 */
export const SUSTAINED_SHARE = 0.4

/**
 * Growth must not be slowing down: the later half's slope must be at least
 * this share of the earlier half's. A cache filling towards its size grows
 * fast and then ever slower (exponentially); a leak keeps its pace.
 */
export const RETAINED_PACE = 0.75

export type SignalName = 'heap' | 'rss' | 'external'

export interface SignalEvidence {
  readonly signal: SignalName
  readonly evaluatedAtMs: number
  /** Floor points inside the window. */
  readonly points: number
  readonly windowStartMs: number | null
  /** Theil–Sen slope of the floor over the window. */
  readonly slopeBytesPerSecond: number
  /** One-sided lower confidence bound of that slope (Sen), at the `maxPValue` level. */
  readonly slopeLowerBytesPerSecond: number
  /** Theil–Sen slopes of the first and the second half of the window's points. */
  readonly halfSlopesBytesPerSecond: readonly [number, number] | null
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
  const line = theilSenBounds(thinTimes, thinValues, upperQuantile(Math.min(0.5, config.maxPValue)))
  const slopeBytesPerSecond = line.slope * 1000
  const slopeLowerBytesPerSecond = line.lower * 1000
  const firstTime = thinTimes[0]
  const floorAtStart = firstTime === undefined ? Number.NaN : line.intercept + line.slope * firstTime
  // The effect size is judged on the slope's lower confidence bound: noise alone must not pass it.
  const relativePerHour = floorAtStart > 0 ? (slopeLowerBytesPerSecond * 3600) / floorAtStart : 0
  const halves = halfSlopes(thinTimes, thinValues)
  const warmingUp = nowMs < warmupUntilMs
  const reasons: string[] = []
  if (warmingUp) reasons.push('warming up')
  if (times.length < config.minPoints) reasons.push(`${times.length} of ${config.minPoints} points`)
  else {
    if (trend.pIncreasing > config.maxPValue) reasons.push(`no significant upward trend (p=${trend.pIncreasing.toPrecision(2)})`)
    if (!(slopeLowerBytesPerSecond >= config.minSlopeBytesPerSecond)) {
      reasons.push(`slope ${slopeBytesPerSecond.toFixed(0)} B/s (at least ${Math.max(0, slopeLowerBytesPerSecond).toFixed(0)} B/s) below ${config.minSlopeBytesPerSecond} B/s`)
    }
    if (!(relativePerHour >= config.minRelativePerHour)) {
      reasons.push(`growth ${(Math.max(0, relativePerHour) * 100).toFixed(1)} %/h below ${(config.minRelativePerHour * 100).toFixed(1)} %/h`)
    }
    if (halves !== null && Math.min(halves[0], halves[1]) < SUSTAINED_SHARE * line.slope) {
      reasons.push(
        halves[1] < halves[0]
          ? 'growth not sustained: the later half of the window grows much less (a plateau, a drained burst, a one-off step)'
          : 'growth not sustained: the earlier half of the window is flat (a one-off step, or an onset too recent to tell)',
      )
    } else if (halves !== null && halves[1] < RETAINED_PACE * halves[0]) {
      reasons.push('growth slowing down: the later half of the window grows clearly slower (a cache approaching its size)')
    }
  }
  const lastValue = series.values[series.values.length - 1]
  return {
    signal,
    evaluatedAtMs: nowMs,
    points: times.length,
    windowStartMs: firstTime ?? null,
    slopeBytesPerSecond: Number.isFinite(slopeBytesPerSecond) ? slopeBytesPerSecond : 0,
    slopeLowerBytesPerSecond: Number.isFinite(slopeLowerBytesPerSecond) ? slopeLowerBytesPerSecond : 0,
    halfSlopesBytesPerSecond: halves === null ? null : [finiteOrZero(halves[0] * 1000), finiteOrZero(halves[1] * 1000)],
    relativePerHour: Number.isFinite(relativePerHour) ? relativePerHour : 0,
    pValue: trend.pIncreasing,
    tau: trend.tau,
    floorBytes: lastValue ?? null,
    warmingUp,
    positive: reasons.length === 0,
    reasons,
  }
}

const finiteOrZero = (value: number): number => (Number.isFinite(value) ? value : 0)

/** Theil–Sen slopes (per ms) of the points before and after the window's middle time; null with too few. */
function halfSlopes(times: readonly number[], values: readonly number[]): [number, number] | null {
  const first = times[0]
  const last = times[times.length - 1]
  if (first === undefined || last === undefined) return null
  const middle = (first + last) / 2
  const split = times.findIndex((t) => t >= middle)
  if (split < 3 || times.length - split < 3) return null
  return [
    theilSen(times.slice(0, split), values.slice(0, split)).slope,
    theilSen(times.slice(split), values.slice(split)).slope,
  ]
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
