/**
 * Load is not a leak. A floor that rises with traffic (per-request caches,
 * buffers, sockets) and falls with it is explained by the load; a leak keeps
 * the floor higher at the same load later. The target's event-loop
 * utilization is the load signal (what the eventLoop collector reads).
 *
 * Two uses, both pure:
 * - within a window, the floor's trend with the load held constant (least
 *   squares of the floor on time and load): a trend that only the load explains
 *   is not a leak;
 * - across hours, the floor now against the floor at comparable load earlier
 *   ("new highs at comparable load"), the slow path's test: bursts, cycles and
 *   a daily ramp do not make new highs at the same load, a leak does.
 */
import { regress2 } from './shape.js'
import { mannKendall, median, thinIndexes } from './stats.js'

/** Load varying less than this (in utilization, 0..1) explains nothing: the window's load was steady. */
export const MIN_LOAD_SPREAD = 0.03
/** A relative rise of the load counts only when it is at least this much utilization (below it, the reading's own jitter). */
export const MIN_LOAD_STEP = 0.005
/**
 * A load this many times another is busier than it, at any level (with a rise of MIN_LOAD_STEP):
 * a window against its baseline and a window's last third against its first (load-reasons.ts), a
 * high against where the load came back to (`loadCameBack`, below).
 */
export const ELEVATED_LOAD_RATIO = 1.5

/**
 * The load went from `before` to `after` (utilizations) by `ratio` of its level and at least
 * MIN_LOAD_STEP: a service that mostly waits (on a database, a downstream, a queue) runs its
 * event loop at a few per cent, and twice the traffic moves utilization by a point or two while
 * the memory held by requests in flight doubles.
 */
export function risenRelative(before: number, after: number, ratio: number): boolean {
  return Number.isFinite(before) && Number.isFinite(after) && after - before >= MIN_LOAD_STEP && after >= ratio * before
}

export interface LoadPoint {
  readonly timeMs: number
  readonly value: number
  /** Event-loop utilization around the point (0..1), NaN when unknown. */
  readonly load: number
  /** HTTP requests begun per second around the point, NaN or absent when unknown. */
  readonly traffic?: number
}

export interface LoadAdjusted {
  /** Trend of the floor per ms with the load held constant, and its lower bound at z standard errors. */
  readonly slope: number
  readonly lower: number
  /** Bytes of floor per unit of utilization, and its t statistic. */
  readonly loadCoefficient: number
  readonly loadT: number
  /** Standard deviation of the load over the window. */
  readonly loadSpread: number
}

function spread(values: readonly number[]): number {
  const n = values.length
  if (n < 2) return 0
  const mean = values.reduce((sum, v) => sum + v, 0) / n
  return Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1))
}

/**
 * The floor's trend with the load held constant, when the window's load varied
 * enough to tell; undefined otherwise (no load signal, steady load, or time
 * and load too collinear to separate).
 */
export function loadAdjustedTrend(points: readonly LoadPoint[], z: number): LoadAdjusted | undefined {
  const known = points.filter((p) => Number.isFinite(p.load) && Number.isFinite(p.value) && Number.isFinite(p.timeMs))
  if (known.length < 8) return undefined
  const loads = known.map((p) => p.load)
  const loadSpread = spread(loads)
  if (loadSpread < MIN_LOAD_SPREAD) return undefined
  const t0 = (known[0] as LoadPoint).timeMs
  const fit = regress2(
    known.map((p) => p.timeMs - t0),
    loads,
    known.map((p) => p.value),
  )
  if (fit === undefined || !Number.isFinite(fit.se1) || !Number.isFinite(fit.se2)) return undefined
  return {
    slope: fit.b1,
    lower: fit.b1 - z * fit.se1,
    loadCoefficient: fit.b2,
    loadT: fit.se2 > 0 ? fit.b2 / fit.se2 : 0,
    loadSpread,
  }
}

/** P(X ≤ k) for X ~ Binomial(n, p), 0 < p < 1. */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0
  if (k >= n) return 1
  // log C(n, i) accumulated; n is at most a few hundred.
  const logP = Math.log(p)
  const logQ = Math.log(1 - p)
  let logC = 0
  let sum = 0
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i)
    sum += Math.exp(logC + i * logP + (n - i) * logQ)
  }
  return Math.min(1, sum)
}

/**
 * The chance that a recent floor is above the earlier highs (`matchedGrowth`: above the 90th
 * percentile of its ≥ 3 earlier comparable floors) when nothing grows: for floors exchangeable
 * with the earlier ones it is (k − i)/(k + 1), with i the percentile's index among the k earlier,
 * at most 1/4 (three earlier floors: above their highest) and about 1/10 with the usual 10–25.
 * The sign test's null takes this bound, not 1/2 (whether a floor is above or below a median):
 * with 1/2 six of six recent floors above the highs (p = 0.016) did not reach p ≤ 0.01, and
 * slow small-heap leaks, whose slow windows hold few floors when major GCs are rare, were
 * judged on "6 of 7, p = 0.063" or "8 of 10, p = 0.055" for hours. The bound leaves a margin of
 * about 2.5× the usual chance for what it ignores: neighbouring floors share their earlier ones
 * and drift together. The growth going on now (verdict.ts slowGrowth) still gates it.
 * The fast path's rising-load rule (load-reasons.ts) asks the same question within a window and
 * keeps 1/2: floors minutes apart under one rising load are far from independent.
 */
export const NEW_HIGH_CHANCE = 0.25

export interface MatchedGrowth {
  /** Recent points that had earlier points at comparable load. */
  readonly compared: number
  /** Of those, the ones above their earlier level. */
  readonly higher: number
  /** One-sided sign-test p-value of "not higher" (null: each recent point above the highs with NEW_HIGH_CHANCE). */
  readonly pValue: number
  /** Median growth rate at comparable load (bytes per ms), and its sign-test lower bound. */
  readonly rate: number
  readonly lower: number
}

/** `matchedGrowth` compares only with at least this many recent points that have three earlier ones to compare with. */
export const MIN_COMPARED = 6

/**
 * An earlier point's HTTP traffic counts as at least the recent one's when it is no more than this
 * share below (a slow bucket's request rate at a steady 2 req/s varies by a few per cent).
 */
export const TRAFFIC_NOISE = 0.1

/** Whether `earlier` served at least `recent`'s HTTP traffic, down to TRAFFIC_NOISE; true when either is unknown. */
function atLeastTraffic(earlier: LoadPoint, recent: LoadPoint): boolean {
  const { traffic: before } = earlier
  const { traffic: now } = recent
  if (before === undefined || now === undefined || !Number.isFinite(before) || !Number.isFinite(now)) return true
  return before >= now * (1 - TRAFFIC_NOISE)
}

/**
 * New highs at comparable load: each recent point against the earlier points
 * (at least `minGapMs` before it) whose load was the same or higher (down to
 * `tolerance` below; any when either load is unknown), and whose HTTP traffic
 * was too, where both points carry it (down to TRAFFIC_NOISE below): the
 * loop's utilization does not always follow the requests in flight (a
 * reporting API's 30-s exports, mostly waiting, doubled from 40 to 88 req/s
 * at the same 20-23 % on the first morning of corpus/diurnal-load, and its
 * floor, which follows them, read as new highs at the same load). A floor
 * that follows the load is no higher now than it was at that load or more; a leak is. The
 * sign test over recent points asks whether each is above the earlier highs
 * (their 90th percentile), against `chance` per point (NEW_HIGH_CHANCE unless
 * a caller asks for more); the rate is the recent value minus the median of
 * the earlier values, over the median time between them.
 */
export function matchedGrowth(
  points: readonly LoadPoint[],
  recentFromMs: number,
  minGapMs: number,
  tolerance: number,
  alpha: number,
  chance = NEW_HIGH_CHANCE,
): MatchedGrowth | undefined {
  const rates: number[] = []
  let higher = 0
  for (const recent of points) {
    if (recent.timeMs < recentFromMs) continue
    const earlier = points.filter(
      (p) =>
        recent.timeMs - p.timeMs >= minGapMs &&
        (!Number.isFinite(p.load) || !Number.isFinite(recent.load) || p.load >= recent.load - tolerance) &&
        atLeastTraffic(p, recent),
    )
    if (earlier.length < 3) continue
    const values = earlier.map((p) => p.value)
    const gap = recent.timeMs - median(earlier.map((p) => p.timeMs))
    if (!(gap > 0)) continue
    rates.push((recent.value - median(values)) / gap)
    if (recent.value > quantile(values, 0.9)) higher += 1
  }
  const n = rates.length
  if (n < MIN_COMPARED) return undefined
  rates.sort((a, b) => a - b)
  // The lower bound is the k-th smallest rate with P(Bin(n, ½) < k) ≤ alpha.
  let k = 0
  while (k < n && binomialCdf(k, n, 0.5) <= alpha) k += 1
  return {
    compared: n,
    higher,
    pValue: 1 - binomialCdf(higher - 1, n, chance),
    rate: median(rates),
    lower: k === 0 ? Number.NEGATIVE_INFINITY : (rates[k - 1] as number),
  }
}

/** The slow path compares at comparable traffic only when at least this share of its floors has a request rate. */
export const TRAFFIC_KNOWN_SHARE = 0.8
/** And the window held at least this many requests (fewer, health checks, say nothing of the traffic). */
export const MIN_WINDOW_REQUESTS = 100

export interface TrafficMatched {
  /** New highs at the same or higher HTTP traffic (`matchedGrowth` with the request rate as the load). */
  readonly comparison: MatchedGrowth
  /** One-sided Mann–Kendall p-value of "no upward trend" of the floor over the whole span. */
  readonly pIncreasing: number
}

/**
 * New highs at comparable HTTP traffic, for a floor whose event loop got busier at the same
 * traffic, so that no earlier floor had the same utilization: a leak whose leaked handlers run
 * on every event (listeners, subscribers) loads its own loop, while the requests, which its
 * memory cannot drive, stay as they were. A batch cycle busies the loop at the same traffic too,
 * and rises and falls with it: hence the trend over the whole span, which a cycle within it does
 * not have (a cycle as long as the span is left to the slow path's shape test). Undefined unless
 * the floors carry request rates (TRAFFIC_KNOWN_SHARE of them, with MIN_WINDOW_REQUESTS over
 * `spanMs`) and enough of them compare.
 */
export function trafficMatchedGrowth(points: readonly LoadPoint[], recentFromMs: number, minGapMs: number, spanMs: number, alpha: number): TrafficMatched | undefined {
  const known = points.filter((p) => p.traffic !== undefined && Number.isFinite(p.traffic) && p.traffic >= 0)
  if (known.length === 0 || known.length < TRAFFIC_KNOWN_SHARE * points.length) return undefined
  if (!((median(known.map((p) => p.traffic as number)) * spanMs) / 1000 >= MIN_WINDOW_REQUESTS)) return undefined
  const comparison = matchedGrowth(
    known.map((p) => ({ timeMs: p.timeMs, value: p.value, load: p.traffic as number })),
    recentFromMs,
    minGapMs,
    0,
    alpha,
  )
  if (comparison === undefined) return undefined
  return { comparison, pIncreasing: mannKendall(thinIndexes(known.length, 240).map((i) => (known[i] as LoadPoint).value)).pIncreasing }
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

export interface LoadSensitivity {
  /** Floor bytes per unit of event-loop utilization, with time held constant. */
  readonly bytesPerUtilization: number
  readonly t: number
  /** Points and load spread it was estimated from. */
  readonly points: number
  readonly loadSpread: number
}

/**
 * Whether the load came back down at some point: it fell from an earlier high by MIN_LOAD_SPREAD,
 * or (a loop that mostly waits) to 1/ELEVATED_LOAD_RATIO (two thirds) of that high and by
 * MIN_LOAD_STEP. `loads` are the slow series' bucket means, oldest first.
 */
export function loadCameBack(loads: readonly number[]): boolean {
  let high = Number.NEGATIVE_INFINITY
  for (const load of loads) {
    if (!Number.isFinite(load)) continue
    if (high - load >= MIN_LOAD_SPREAD || risenRelative(load, high, ELEVATED_LOAD_RATIO)) return true
    high = Math.max(high, load)
  }
  return false
}

/**
 * How much the floor moves with the load, learnt from hours of floors (least squares of the
 * floor on time and load, so a leak's trend is not taken for load): undefined unless the load
 * varied enough, came back down at least once (`loadCameBack`), and the coefficient is
 * significant (t ≥ 3). A floor that rose with a load that only ever rose has not been seen to
 * follow the load: a leak that makes its own loop busier (each leaked listener called on every
 * event) rises with its load too, and a sensitivity learnt from it took the whole leak out of the
 * fast path (synthetic leak-self-loading: 54 MiB/h on a 98 MiB heap raised by the slow path only,
 * 3.5 h after its onset). A morning ramp is held back by the load rules until the load turns.
 */
export function loadSensitivity(points: readonly LoadPoint[]): LoadSensitivity | undefined {
  const known = points.filter((p) => Number.isFinite(p.load) && Number.isFinite(p.value))
  if (known.length < 12) return undefined
  const loads = known.map((p) => p.load)
  const loadSpread = spread(loads)
  if (loadSpread < MIN_LOAD_SPREAD || !loadCameBack(loads)) return undefined
  const t0 = (known[0] as LoadPoint).timeMs
  const fit = regress2(
    known.map((p) => p.timeMs - t0),
    loads,
    known.map((p) => p.value),
  )
  if (fit === undefined || !(fit.se2 > 0)) return undefined
  const t = fit.b2 / fit.se2
  return t >= 3 ? { bytesPerUtilization: fit.b2, t, points: known.length, loadSpread } : undefined
}

/** A load ramp is looked for over this many analysis windows: the hold of growth that is not urgent. */
export const RAMP_WINDOWS = 2

export interface LoadRamp {
  /** Where the span starts and how long it is (ms). */
  readonly fromMs: number
  readonly spanMs: number
  /** Median load over the span's first and last thirds. */
  readonly first: number
  readonly last: number
  /** One-sided Mann–Kendall p-value of "no upward trend" over the span's readings (at most 240, evenly thinned). */
  readonly pIncreasing: number
}

/**
 * How the load moved over the span from `fromMs` to `nowMs`, from every poll's reading: a slow
 * ramp (a morning's traffic) hides in a window's noise and shows over a longer span. Undefined
 * with fewer than 12 readings or when they cover less than `minSpanMs`.
 */
export function loadRamp(readings: { readonly times: readonly number[]; readonly values: readonly number[] }, fromMs: number, nowMs: number, minSpanMs: number): LoadRamp | undefined {
  const times: number[] = []
  const values: number[] = []
  for (let i = 0; i < readings.times.length; i++) {
    const timeMs = readings.times[i] as number
    const value = readings.values[i] as number
    if (timeMs >= fromMs && timeMs <= nowMs && Number.isFinite(value)) {
      times.push(timeMs)
      values.push(value)
    }
  }
  const n = times.length
  if (n < 12) return undefined
  const start = times[0] as number
  const spanMs = nowMs - start
  if (spanMs < minSpanMs) return undefined
  const third = spanMs / 3
  return {
    fromMs: start,
    spanMs,
    first: median(values.filter((_, i) => (times[i] as number) < start + third)),
    last: median(values.filter((_, i) => (times[i] as number) >= nowMs - third)),
    pIncreasing: mannKendall(thinIndexes(n, 240).map((i) => values[i] as number)).pIncreasing,
  }
}
