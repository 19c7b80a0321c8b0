/**
 * From floor series to a leak verdict, on two time scales. Pure.
 *
 * Fast path (urgent leaks): over the analysis window (30 min), a trend test
 * (Mann–Kendall), the robust slope of the growth that is going on now
 * (Theil–Sen with Sen's lower confidence bound, over the whole window or, when
 * the shape test finds a breakpoint, since it), a minimum effect size, the
 * shape test (growth that levelled off, drained or jumped once is not going on
 * now: ./shape.ts), and the load (a trend the event-loop utilization explains
 * is not a leak: ./load.ts). How long its evidence must hold depends on the
 * urgency: raiseAfter when the floor reaches its limit within the urgent
 * horizon at the slope's lower bound (a whole window when the load would have
 * explained the growth but for the limit); a whole window when it grows fast
 * relative to its level; two windows otherwise (a cache filling for that long
 * shows its curve or its plateau by then).
 *
 * Slow path (leaks of a few MB an hour): over hours of downsampled floors, the
 * floor now against the floor at comparable load earlier (a sign test), the
 * growth rate at comparable load with its lower bound, and the shape test over
 * the slow window. Bursts and cycles do not make new highs at the same load.
 *
 * Hysteresis in time: a path raises after its evidence has been positive for
 * a stated duration, and a raised leak clears after both paths have been
 * negative for a stated duration.
 */
import type { AnalysisConfig } from '../config/types.js'
import { formatSpan } from '../core/duration.js'
import { loadAdjustedTrend, loadSensitivity, matchedGrowth, MIN_COMPARED, trafficMatchedGrowth, type LoadAdjusted, type LoadPoint, type LoadSensitivity, type MatchedGrowth } from './load.js'
import { fitShape, levelShown, levelShowsIn, type ShapeFit } from './shape.js'
import { hingeFit, mannKendall, theilSenBounds, thinIndexes, upperQuantile, type SlopeBounds } from './stats.js'
import { MAX_STAT_POINTS, MIN_JUDGED_POINTS, select, windowStart, type WindowSeries } from './window.js'
import { elevatedLoad, elevatedTraffic, LOAD_NOISE, loadRampReason, risingLoad, type LoadLevel } from './load-reasons.js'
import { LOAD_REASON, SHAPE_TEST, TOO_FEW_POINTS } from './hysteresis.js'

export { MAX_STAT_POINTS, MIN_JUDGED_POINTS, type WindowSeries } from './window.js'
export type { LoadLevel, TrafficLevel } from './load-reasons.js'
export {
  fewAndFlat,
  heldByLoad,
  INITIAL_VERDICT,
  MIN_FLAT_POINTS,
  HOLD_GRACE_SHARE,
  nextVerdict,
  SHAPE_TEST,
  TOO_FEW_POINTS,
  unjudged,
  type HysteresisSettings,
  type VerdictState,
} from './hysteresis.js'

/** Fewer points than minPoints are judged only when they span at least this share of the window. */
export const MIN_SPAN_SHARE = 0.25
/** The slow path compares the last third of its window with what came at least that long before. */
export const SLOW_RECENT_SHARE = 1 / 3
/** The floor is judged with the load held constant when the load's coefficient is this significant (t statistic). */
const LOAD_T = 3

export type SignalName = 'heap' | 'rss' | 'external'
export type VerdictPath = 'fast' | 'slow'

export type AnalysisThresholds = Pick<
  AnalysisConfig,
  | 'windowMs'
  | 'minPoints'
  | 'maxPValue'
  | 'minSlopeBytesPerSecond'
  | 'minRelativePerHour'
  | 'urgentHorizonMs'
  | 'fastRelativePerHour'
  | 'steadyRaiseAfterMs'
  | 'slowWindowMs'
  | 'slowMinSlopeBytesPerSecond'
  | 'slowMinRelativePerHour'
  | 'raiseAfterMs'
>

export interface FastEvidence {
  /** Floor points inside the window. */
  readonly points: number
  readonly windowStartMs: number | null
  /** Theil–Sen slope of the growth going on now (bytes/s) and Sen's lower bound of it. */
  readonly slopeBytesPerSecond: number
  readonly slopeLowerBytesPerSecond: number
  /** The lower bound relative to the floor at the window's start, per hour (0.05 = 5 %/h). */
  readonly relativePerHour: number
  /** One-sided Mann–Kendall p-value of "no upward trend", and Kendall's tau. */
  readonly pValue: number
  readonly tau: number
  readonly shape: ShapeFit
  /** The trend with the load held constant, when the load varied enough to tell. */
  readonly load: LoadAdjusted | null
  /** The floor's sensitivity to the load learnt over hours, taken out of the window's floors before the tests. */
  readonly loadSensitivity: LoadSensitivity | null
  /** Every test passed. */
  readonly positive: boolean
  /** Positive, and the growth is urgent (limit within the horizon, or fast relative growth). */
  readonly urgent: boolean
  /** Urgent because the limit is within the horizon. */
  readonly urgentByLimit: boolean
  /**
   * How long this evidence must hold before it raises a leak: raiseAfter when the limit is
   * within the urgent horizon (a whole window when the load would explain the growth but the
   * limit overrode it: `loadWaived`); a whole window for fast relative growth; two windows
   * otherwise (long enough for a filling cache to show its curve or its plateau).
   */
  readonly holdMs: number
  /**
   * The load's objection the near limit overrode (a busier event loop, a ramp of it), or null.
   * A mostly idle service's traffic peak fills memory with requests in flight for minutes and
   * then stops: such growth, heading for the limit within hours, must hold for a window, not
   * raiseAfter (synthetic waiting-load: 5 of 18 peaks raised before, 1 after).
   */
  readonly loadWaived: string | null
  /** Seconds to the limit at the slope's lower bound, when a limit is known and the floor grows. */
  readonly secondsToLimit: number | null
  readonly reasons: readonly string[]
}

export interface SlowEvidence {
  /** Time covered by the slow series (ms). */
  readonly spanMs: number
  readonly comparison: MatchedGrowth | null
  /**
   * What the comparison held constant: event-loop utilization, or HTTP traffic when the loop got
   * busier at the same traffic and the floor rose over the whole window (load.ts).
   */
  readonly comparedAt: 'load' | 'traffic'
  readonly relativePerHour: number
  readonly shape: ShapeFit | null
  readonly positive: boolean
  readonly reasons: readonly string[]
}

export interface SignalEvidence {
  readonly signal: SignalName
  readonly evaluatedAtMs: number
  /** Latest floor value. */
  readonly floorBytes: number | null
  readonly warmingUp: boolean
  readonly fast: FastEvidence
  readonly slow: SlowEvidence
  /** The path whose evidence is positive now (fast first), or null. */
  readonly path: VerdictPath | null
  /** Why neither path is positive (empty when one is). */
  readonly reasons: readonly string[]
}


/** Bytes as the evidence words them (MiB, KiB or B, one decimal). */
export const bytes = (value: number): string => {
  const abs = Math.abs(value)
  if (abs >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MiB`
  if (abs >= 1024) return `${(value / 1024).toFixed(1)} KiB`
  return `${value.toFixed(0)} B`
}
const rate = (perSecond: number): string => `${bytes(perSecond)}/s`
const pct = (fraction: number): string => `${(fraction * 100).toFixed(fraction < 0.01 ? 2 : 1)} %/h`
const finite = (value: number): number => (Number.isFinite(value) ? value : 0)


/** Seconds until `floor` growing at `slopePerSecond` reaches `limit`; undefined when it never does. */
export function secondsUntil(limit: number | undefined, floor: number | null, slopePerSecond: number): number | undefined {
  if (limit === undefined || floor === null || !(slopePerSecond > 0) || !(limit > 0)) return undefined
  return Math.max(0, (limit - floor) / slopePerSecond)
}

/** A time for a reason; a time no Date can hold is shown as its number. */
const at = (ms: number | null): string => {
  const date = new Date(ms ?? 0)
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString()
}

/**
 * Why the shape says the growth is not going on now, or undefined. Growth that approaches a
 * level at or above the limit is still dangerous, so a saturating curve is a reason only below it.
 */
export function shapeReason(shape: ShapeFit, limit: number | undefined): string | undefined {
  const evidence = `BIC ${shape.bicGain.toFixed(0)} better than a line`
  switch (shape.model) {
    case 'step':
      return `a one-off step of ${bytes(shape.stepSize)} at ${at(shape.breakMs)}, flat around it (${evidence})`
    case 'saturating':
      if (limit !== undefined && shape.level !== null && shape.level >= limit) return undefined
      return `approaching a level: growth since ${at(shape.breakMs)} slows towards ${bytes(shape.level ?? 0)} (time constant ${formatSpan(shape.timeConstantMs ?? 0)}, ${rate(shape.slopeAfter * 1000)} now; ${evidence}), as a filling cache does`
    case 'two-segment':
      if (shape.slopeBefore > 0 && !(shape.slopeAfter > 0.5 * shape.slopeBefore)) {
        return `growth stopped or slowed at ${at(shape.breakMs)} (${rate(shape.slopeBefore * 1000)} before, ${rate(shape.slopeAfter * 1000)} since; ${evidence})`
      }
      if (shape.slopeBefore < 0 && shape.slopeAfter > 0 && -shape.slopeBefore > 0.25 * shape.slopeAfter) {
        return `the floor fell until ${at(shape.breakMs)} and rose again (${rate(shape.slopeBefore * 1000)}, then ${rate(shape.slopeAfter * 1000)}; ${evidence}): a cycle, not a new high`
      }
      return undefined
    default:
      return undefined
  }
}

/** The growth worth raising: the fast path's, or the slow path's (slowMin…). */
type EffectSizes = Pick<AnalysisThresholds, 'minSlopeBytesPerSecond' | 'minRelativePerHour'>

/**
 * Growth that slowed at a breakpoint but goes on since it at a rate worth raising: its own trend
 * is significant over at least MIN_JUDGED_POINTS floors and the slope's lower bound since the
 * break passes both effect sizes. A linear leak whose floors jumped once (a GC's timing) fits
 * fast-then-slower, and "growth slowed" restarted its hold while it went on at its own rate
 * (corpus-fills/ws-closed-sockets-set-leak: 4.4 MiB/h since the break, objected to at 80
 * minutes). A cache approaching its level slows below those rates, or fits a saturating curve.
 */
function stillGrowing(shape: ShapeFit, since: readonly number[], lower: number, relativePerHour: number, effect: EffectSizes, maxPValue: number): boolean {
  if (shape.model !== 'two-segment' || !(shape.slopeBefore > 0) || !(shape.slopeAfter > 0)) return false
  if (since.length < MIN_JUDGED_POINTS || mannKendall(since).pIncreasing > maxPValue) return false
  return lower >= effect.minSlopeBytesPerSecond && relativePerHour >= effect.minRelativePerHour
}

/** The fast path's evidence over the analysis window. `limit` is the heap limit (heap) or the memory limit (rss, external). */
export function evaluateFast(
  series: WindowSeries,
  nowMs: number,
  config: AnalysisThresholds,
  fromMs: number,
  limit: number | undefined,
  sensitivity?: LoadSensitivity,
  level?: LoadLevel | (() => LoadLevel | undefined),
): FastEvidence {
  const selected = select(series, windowStart(series, nowMs, fromMs, config.windowMs, config.minPoints))
  const { times, loads, count } = selected
  // With a load sensitivity learnt over hours, the floor is judged at the latest load: what the
  // load explains is taken out before any test.
  const latestLoad = [...loads].reverse().find(Number.isFinite)
  const atLatestLoad = (raw: readonly number[], bytesPerUtilization: number): number[] =>
    latestLoad === undefined ? [...raw] : raw.map((value, i) => (Number.isFinite(loads[i]) ? value - bytesPerUtilization * ((loads[i] as number) - latestLoad) : value))
  const longRun = sensitivity === undefined ? selected.values : atLatestLoad(selected.values, sensitivity.bytesPerUtilization)
  // Within the window too: when the load moved and the floor clearly moved with it, judge the
  // floor with the load held constant (a leak under a burst of traffic still shows).
  const load = loadAdjustedTrend(
    times.map((timeMs, i) => ({ timeMs, value: longRun[i] as number, load: loads[i] as number })),
    upperQuantile(Math.min(0.5, config.maxPValue)),
  )
  const loadHeld = load !== undefined && load.loadT >= LOAD_T
  const values = loadHeld ? atLatestLoad(longRun, load.loadCoefficient) : longRun
  const n = times.length
  const z = upperQuantile(Math.min(0.5, config.maxPValue))
  const trend = mannKendall(values)
  const shape = fitShape(times, values, { autocorrelated: true })
  // The growth going on now: since the breakpoint when the shape has one, else over the whole window.
  const from = shape.model === 'two-segment' && shape.breakIndex !== null ? shape.breakIndex : 0
  const recent = theilSenBounds(times.slice(from), values.slice(from), z)
  const slope = shape.model === 'step' ? 0 : recent.slope * 1000
  const lower = shape.model === 'step' ? 0 : recent.lower * 1000
  const firstTime = times[0]
  const floorAtStart = firstTime === undefined ? Number.NaN : recent.intercept + recent.slope * firstTime
  const relativePerHour = floorAtStart > 0 ? (lower * 3600) / floorAtStart : 0
  const span = n > 1 ? (times[n - 1] as number) - (times[0] as number) : 0
  const reasons: string[] = []
  let loadWaived: string | undefined
  const enough = count >= config.minPoints || (count >= MIN_JUDGED_POINTS && span >= MIN_SPAN_SHARE * config.windowMs)
  if (!enough) {
    reasons.push(
      `${TOO_FEW_POINTS}: ${count} in the window (wanted ${config.minPoints}, or ${MIN_JUDGED_POINTS} spanning ${Math.round(MIN_SPAN_SHARE * 100)} % of it)`,
    )
  } else {
    if (trend.pIncreasing > config.maxPValue) {
      reasons.push(`Mann-Kendall trend test: p = ${trend.pIncreasing.toPrecision(2)} > ${config.maxPValue} (no significant upward trend)`)
    }
    const stopped = shapeReason(shape, limit)
    if (stopped !== undefined && !stillGrowing(shape, values.slice(from), lower, relativePerHour, config, config.maxPValue)) reasons.push(`${SHAPE_TEST}: ${stopped}`)
    if (!(lower >= config.minSlopeBytesPerSecond)) {
      reasons.push(
        Number.isFinite(lower) && Number.isFinite(slope)
          ? `slope: lower bound ${rate(lower)} < ${rate(config.minSlopeBytesPerSecond)} (estimate ${rate(slope)})`
          : `slope: cannot be bounded (floors too large or too few to compute it)`,
      )
    }
    if (!(relativePerHour >= config.minRelativePerHour)) {
      reasons.push(`relative growth: lower bound ${pct(finite(relativePerHour))} < ${pct(config.minRelativePerHour)}`)
    }
    const loadRise = risingLoad(times, values, loads, config)
    if (loadRise !== undefined) reasons.push(loadRise)
    // A floor heading for its limit within the urgent horizon is raised however busy the event loop
    // is; more HTTP traffic than usual still holds it back unless the limit is within a window.
    const toLimit = secondsUntil(limit, values[values.length - 1] ?? null, lower)
    const nearLimit = toLimit !== undefined && toLimit * 1000 <= config.urgentHorizonMs
    const imminent = toLimit !== undefined && toLimit * 1000 <= config.windowMs
    // Only asked when nothing else holds the growth back (the usual level costs a pass over every poll's load).
    const usual = reasons.length > 0 || imminent ? undefined : typeof level === 'function' ? level() : level
    const traffic = usual === undefined ? undefined : elevatedTraffic(usual.traffic, config)
    const loaded = usual === undefined || traffic !== undefined ? undefined : (elevatedLoad(usual, config) ?? loadRampReason(usual.ramp, series, config))
    const busy = traffic ?? (nearLimit ? undefined : loaded)
    if (busy !== undefined) reasons.push(busy)
    // Near the limit the load does not hold the growth back, but it lengthens the hold (`loadWaived`).
    if (nearLimit && loaded !== undefined) loadWaived = loaded
    if (reasons.length > 0 && loadHeld) {
      reasons.push(
        `${LOAD_REASON} the floor follows event-loop utilization (${bytes(load.loadCoefficient * 0.1)} per 10 % utilization, t = ${load.loadT.toFixed(1)} ≥ ${LOAD_T}): judged with the load held constant`,
      )
    }
  }
  const positive = reasons.length === 0
  const lastValue = values[n - 1]
  const secondsToLimit = secondsUntil(limit, lastValue ?? null, lower) ?? null
  const urgentByLimit = secondsToLimit !== null && secondsToLimit * 1000 <= config.urgentHorizonMs
  const urgent = positive && (urgentByLimit || relativePerHour >= config.fastRelativePerHour)
  const holdMs = urgentByLimit
    ? loadWaived !== undefined
      ? Math.max(config.raiseAfterMs, config.windowMs)
      : config.raiseAfterMs
    : Math.max(config.raiseAfterMs, config.steadyRaiseAfterMs ?? (relativePerHour >= config.fastRelativePerHour ? 1 : 2) * config.windowMs)
  return {
    points: count,
    windowStartMs: firstTime ?? null,
    slopeBytesPerSecond: finite(slope),
    slopeLowerBytesPerSecond: finite(lower),
    relativePerHour: finite(relativePerHour),
    pValue: trend.pIncreasing,
    tau: trend.tau,
    shape,
    load: load ?? null,
    loadSensitivity: sensitivity ?? null,
    positive,
    urgent,
    urgentByLimit: positive && urgentByLimit,
    holdMs,
    loadWaived: loadWaived ?? null,
    secondsToLimit,
    reasons,
  }
}

/** At most MAX_STAT_POINTS of the points, evenly spread. */
function thinned<T>(points: readonly T[]): T[] {
  return thinIndexes(points.length, MAX_STAT_POINTS).map((i) => points[i] as T)
}

/**
 * The slow path's growth going on now. The later half of the window must grow by the effect size
 * (`slowMinSlope`, its Theil–Sen estimate): growth that stopped an hour or two ago is not going on.
 * Its lower bound is the better of the later half's and the one over the most floors the shape
 * allows: the whole window when a line fits it (no bend, step or level beats the line by the BIC
 * margin), the floors since the break when growth bent at one. A bound over half the floors is
 * ~2.8 times wider (n^−1.5), and leaks of 0.7–1.6 MiB/h, their floors in irregular steps, stayed
 * just under `slowMinSlope` over the later half for hours (drifts/db-pool-reconnect-listener-leak,
 * stairs/partner-ingest-dead-letter-leak). Growth that slowed at a break but goes on since it, its
 * own trend significant over at least MIN_JUDGED_POINTS floors and its bound past both effect
 * sizes, is not "slowed" (`sinceBreakGoesOn`: `stillGrowing`, as on the fast path, at the slow effect sizes).
 */
function slowGrowth(
  windowed: readonly LoadPoint[],
  laterHalf: readonly LoadPoint[],
  shape: ShapeFit,
  config: AnalysisThresholds,
): { later: SlopeBounds; lower: number; slope: number; over: string; sinceBreakGoesOn: boolean } {
  const z = upperQuantile(Math.min(0.5, config.maxPValue))
  const bounds = (points: readonly LoadPoint[]): SlopeBounds =>
    theilSenBounds(
      points.map((p) => p.timeMs),
      points.map((p) => p.value),
      z,
    )
  const later = bounds(laterHalf)
  const since = shape.model === 'two-segment' && shape.breakIndex !== null ? windowed.slice(shape.breakIndex) : undefined
  const wide =
    shape.model === 'linear'
      ? { bounds: bounds(windowed), over: 'the whole window (a line fits it)' }
      : since !== undefined && since.length >= MIN_JUDGED_POINTS
        ? { bounds: bounds(since), over: `the window since ${at(shape.breakMs)}` }
        : undefined
  const level = windowed[0]?.value ?? 0
  const slowEffect = { minSlopeBytesPerSecond: config.slowMinSlopeBytesPerSecond, minRelativePerHour: config.slowMinRelativePerHour }
  const sinceBreakGoesOn =
    since !== undefined &&
    wide !== undefined &&
    // No relative growth without a positive level (NaN fails the test).
    stillGrowing(shape, since.map((p) => p.value), wide.bounds.lower * 1000, level > 0 ? (wide.bounds.lower * 3_600_000) / level : Number.NaN, slowEffect, config.maxPValue)
  if (wide === undefined || !(wide.bounds.lower > later.lower)) return { later, lower: later.lower, slope: later.slope, over: 'the later half of the window', sinceBreakGoesOn }
  return { later, lower: wide.bounds.lower, slope: wide.bounds.slope, over: wide.over, sinceBreakGoesOn }
}

/** The slow path's evidence over the slow window of downsampled floors (with loads). */
export function evaluateSlow(points: readonly LoadPoint[], nowMs: number, config: AnalysisThresholds, fromMs: number, limit?: number): SlowEvidence {
  const usable = thinned(points.filter((p) => p.timeMs >= fromMs && Number.isFinite(p.value)))
  const first = usable[0]
  const spanMs = first === undefined ? 0 : nowMs - first.timeMs
  const reasons: string[] = []
  if (spanMs < config.slowWindowMs) {
    reasons.push(`slow path: ${formatSpan(spanMs)} of ${formatSpan(config.slowWindowMs)} of floors so far`)
    return { spanMs, comparison: null, comparedAt: 'load', relativePerHour: 0, shape: null, positive: false, reasons }
  }
  // Only the slow window: a floor that stepped up before it (a deploy-sized allocation) and has been
  // flat since is not growing now.
  const windowed = usable.filter((p) => p.timeMs >= nowMs - config.slowWindowMs)
  const recentMs = config.slowWindowMs * SLOW_RECENT_SHARE
  const byLoad = matchedGrowth(windowed, nowMs - recentMs, recentMs, LOAD_NOISE, config.maxPValue) ?? null
  const significant = (c: MatchedGrowth | null): c is MatchedGrowth => c !== null && c.pValue <= config.maxPValue
  // Where the loop got busier at the same HTTP traffic, compare at the same traffic instead.
  const byTraffic = significant(byLoad) ? undefined : trafficMatchedGrowth(windowed, nowMs - recentMs, recentMs, config.slowWindowMs, config.maxPValue)
  const atTraffic = byTraffic !== undefined && significant(byTraffic.comparison) && byTraffic.pIncreasing <= config.maxPValue
  const comparison = atTraffic ? byTraffic.comparison : byLoad
  const shape = fitShape(
    windowed.map((p) => p.timeMs),
    windowed.map((p) => p.value),
  )
  // Growth still going on: the robust slope over the later half of the window, bounded over as
  // many floors as the shape allows (slowGrowth).
  const laterHalf = windowed.filter((p) => p.timeMs >= nowMs - config.slowWindowMs / 2)
  const growth = slowGrowth(windowed, laterHalf, shape, config)
  const laterSlope = growth.later
  const level = windowed[0]?.value ?? 0
  const relativePerHour = level > 0 ? (growth.lower * 3_600_000) / level : 0
  if (!atTraffic) {
    if (byLoad === null) {
      // Say which it was: floors too few in the last third (rare GCs, floors not bought), or too few of them with earlier ones at their load.
      const recent = windowed.filter((p) => p.timeMs >= nowMs - recentMs).length
      reasons.push(
        recent < MIN_COMPARED
          ? `slow path: ${recent} floors in the window's last ${formatSpan(recentMs)}, too few to compare (${MIN_COMPARED} needed)`
          : `slow path: of ${recent} floors in the window's last ${formatSpan(recentMs)}, fewer than ${MIN_COMPARED} have three earlier ones at the same or a higher load (the recent load, or HTTP traffic, is above the earlier)`,
      )
    } else if (byLoad.pValue > config.maxPValue) {
      reasons.push(
        `slow path: ${byLoad.higher} of ${byLoad.compared} recent floors above the earlier highs at the same or a higher load (sign test p = ${byLoad.pValue.toPrecision(2)} > ${config.maxPValue})`,
      )
    }
    if (byTraffic !== undefined) {
      const { higher, compared, pValue } = byTraffic.comparison
      reasons.push(
        significant(byTraffic.comparison)
          ? `slow path: at the same or higher HTTP traffic ${higher} of ${compared} recent floors are above the earlier highs, ` +
              `but the floor has no upward trend over the whole window (Mann-Kendall p = ${byTraffic.pIncreasing.toPrecision(2)} > ${config.maxPValue}): a cycle of the load within it is not a leak`
          : `slow path: at the same or higher HTTP traffic ${higher} of ${compared} recent floors above the earlier highs (sign test p = ${pValue.toPrecision(2)} > ${config.maxPValue})`,
      )
    }
  }
  if (!(laterSlope.slope * 1000 >= config.slowMinSlopeBytesPerSecond)) {
    reasons.push(
      `slow path: growth over the later half of the window ${rate(finite(laterSlope.slope * 1000))} < ${rate(config.slowMinSlopeBytesPerSecond)} (not going on now)`,
    )
  } else if (!(growth.lower * 1000 >= config.slowMinSlopeBytesPerSecond)) {
    reasons.push(
      `slow path: growth over ${growth.over}, lower bound ${rate(finite(growth.lower * 1000))} < ${rate(config.slowMinSlopeBytesPerSecond)} (estimate ${rate(finite(growth.slope * 1000))})`,
    )
  }
  if (!(relativePerHour >= config.slowMinRelativePerHour)) {
    reasons.push(`slow path: relative growth, lower bound ${pct(finite(relativePerHour))} < ${pct(config.slowMinRelativePerHour)}`)
  }
  const levelNow = (): boolean =>
    levelShowsIn(
      shape,
      laterHalf.map((p) => p.timeMs),
      laterHalf.map((p) => p.value),
    )
  const stopped = levelShown(shape) && levelNow() ? shapeReason(shape, limit) : undefined
  if (stopped !== undefined && !growth.sinceBreakGoesOn) reasons.push(`slow path: ${stopped}`)
  return { spanMs, comparison, comparedAt: atTraffic ? 'traffic' : 'load', relativePerHour: finite(relativePerHour), shape, positive: reasons.length === 0, reasons }
}

/** Both paths for one signal. `fromMs`: readings before it (the warm-up) do not count. */
export function evaluateSignal(
  signal: SignalName,
  fast: WindowSeries,
  slow: readonly LoadPoint[],
  nowMs: number,
  config: AnalysisThresholds,
  fromMs: number,
  limit: number | undefined,
  level?: LoadLevel | (() => LoadLevel | undefined),
): SignalEvidence {
  const warmingUp = nowMs < fromMs
  const sensitivity = loadSensitivity(thinned(slow.filter((p) => p.timeMs >= fromMs)))
  const fastEvidence = evaluateFast(fast, nowMs, config, fromMs, limit, sensitivity, level)
  const slowEvidence = evaluateSlow(slow, nowMs, config, fromMs, limit)
  const path: VerdictPath | null = warmingUp ? null : fastEvidence.positive ? 'fast' : slowEvidence.positive ? 'slow' : null
  const reasons: string[] = []
  if (warmingUp) reasons.push(`warming up until ${at(fromMs)}`)
  else if (path === null) reasons.push(...fastEvidence.reasons, ...slowEvidence.reasons)
  const lastValue = fast.values[fast.values.length - 1]
  return {
    signal,
    evaluatedAtMs: nowMs,
    floorBytes: lastValue ?? null,
    warmingUp,
    fast: fastEvidence,
    slow: slowEvidence,
    path,
    reasons,
  }
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
