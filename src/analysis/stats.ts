/**
 * Trend statistics, pure and allocation-light. Inputs are parallel arrays of
 * times (ms) and values; callers bound their length (the series store keeps
 * bounded rings, and `thin` caps the O(n²) methods).
 */

/** Standard normal CDF, via the complementary error function (|error| < 1.2e-7). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2)
}

// Numerical Recipes' erfc (Chebyshev fit), accurate to 1.2e-7 everywhere.
function erfc(x: number): number {
  const z = Math.abs(x)
  const t = 1 / (1 + 0.5 * z)
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  return x >= 0 ? r : 2 - r
}

export interface MannKendall {
  /** Kendall's S statistic: concordant minus discordant pairs. */
  readonly s: number
  /** Kendall's tau (-1..1): S over the number of pairs. */
  readonly tau: number
  /** Normal approximation with continuity correction and tie correction. */
  readonly z: number
  /** One-sided p-value of "no upward trend". */
  readonly pIncreasing: number
}

/** Mann–Kendall trend test (one-sided, increasing). Needs no time stamps: order is the time. */
export function mannKendall(values: readonly number[]): MannKendall {
  const n = values.length
  if (n < 3) return { s: 0, tau: 0, z: 0, pIncreasing: 1 }
  let s = 0
  for (let i = 0; i < n - 1; i++) {
    const vi = values[i] as number
    for (let j = i + 1; j < n; j++) {
      const d = (values[j] as number) - vi
      s += d > 0 ? 1 : d < 0 ? -1 : 0
    }
  }
  // Tie correction: groups of equal values reduce the variance of S.
  const counts = new Map<number, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  let ties = 0
  for (const t of counts.values()) if (t > 1) ties += t * (t - 1) * (2 * t + 5)
  const variance = (n * (n - 1) * (2 * n + 5) - ties) / 18
  const z = variance <= 0 ? 0 : s > 0 ? (s - 1) / Math.sqrt(variance) : s < 0 ? (s + 1) / Math.sqrt(variance) : 0
  // Few points without ties: the exact distribution of S (the normal approximation overstates
  // p there, e.g. 0.012 for an exact 0.0083 at six points with one pair out of order).
  const exact = ties === 0 && n <= EXACT_MAX_N ? exactUpperTail(n, s) : undefined
  return { s, tau: s / ((n * (n - 1)) / 2), z, pIncreasing: exact ?? 1 - normalCdf(z) }
}

/** Up to this many points without ties, Mann-Kendall's p is exact. */
export const EXACT_MAX_N = 10
const inversionTables: number[][] = []

/**
 * P(S ≥ s) when there is no trend: every order equally likely. S = pairs − 2·inversions, and
 * the number of orders of n values with k inversions is the Mahonian number M(n, k).
 */
function exactUpperTail(n: number, s: number): number {
  let counts = inversionTables[n]
  if (counts === undefined) {
    counts = [1]
    for (let m = 2; m <= n; m++) {
      const next = new Array<number>(counts.length + m - 1).fill(0)
      for (let k = 0; k < counts.length; k++) for (let j = 0; j < m; j++) next[k + j] = (next[k + j] as number) + (counts[k] as number)
      counts = next
    }
    inversionTables[n] = counts
  }
  const pairs = (n * (n - 1)) / 2
  // S ≥ s ⇔ inversions ≤ (pairs − s) / 2.
  const most = Math.floor((pairs - s) / 2)
  let tail = 0
  let total = 0
  for (let k = 0; k < counts.length; k++) {
    total += counts[k] as number
    if (k <= most) tail += counts[k] as number
  }
  return tail / total
}

export interface Line {
  /** Per millisecond. */
  readonly slope: number
  /** Value at time 0 (ms). */
  readonly intercept: number
}

function medianOfSorted(sorted: ArrayLike<number>): number {
  if (sorted.length === 0) return Number.NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** The median of `values` (not modified; NaN when empty). A typed array sorts numerically without a comparator call per step. */
export function median(values: ArrayLike<number>): number {
  return medianOfSorted(Float64Array.from(values).sort())
}

/** The median, sorting `values` in place (the Theil–Sen bounds read ranks of the sorted slopes). */
function medianInPlace(values: number[]): number {
  values.sort((a, b) => a - b)
  return medianOfSorted(values)
}

/** Slopes between every pair of points with distinct times. */
function pairwiseSlopes(times: readonly number[], values: readonly number[]): number[] {
  const n = Math.min(times.length, values.length)
  const slopes: number[] = []
  for (let i = 0; i < n - 1; i++) {
    for (let j = i + 1; j < n; j++) {
      const dt = (times[j] as number) - (times[i] as number)
      if (dt !== 0) slopes.push(((values[j] as number) - (values[i] as number)) / dt)
    }
  }
  return slopes
}

/** The Theil–Sen line through the points, given their pairwise slopes (sorted in place). */
function lineFromSlopes(times: readonly number[], values: readonly number[], slopes: number[]): Line {
  const n = Math.min(times.length, values.length)
  if (slopes.length === 0) return { slope: 0, intercept: n > 0 ? (values[n - 1] as number) : 0 }
  const slope = medianInPlace(slopes)
  const residuals: number[] = []
  for (let i = 0; i < n; i++) residuals.push((values[i] as number) - slope * (times[i] as number))
  return { slope, intercept: median(residuals) }
}

/** Theil–Sen estimator: the median of pairwise slopes, robust to a third of outliers. */
export function theilSen(times: readonly number[], values: readonly number[]): Line {
  return lineFromSlopes(times, values, pairwiseSlopes(times, values))
}

export interface SlopeBounds extends Line {
  /** One-sided lower confidence bound of the slope (Sen's method), per millisecond. */
  readonly lower: number
}

/**
 * Theil–Sen slope with Sen's distribution-free confidence bound: with S's
 * variance from Mann–Kendall, the lower bound is the pairwise slope of rank
 * (N − z·√Var)/2. A noisy series then needs a clearly larger slope to pass an
 * effect-size threshold than its point estimate alone would suggest.
 */
export function theilSenBounds(times: readonly number[], values: readonly number[], z: number): SlopeBounds {
  const n = Math.min(times.length, values.length)
  const slopes = pairwiseSlopes(times, values)
  // medianInPlace() sorts the slopes in place, which the rank lookup below relies on.
  const line = lineFromSlopes(times, values, slopes)
  if (slopes.length === 0) return { ...line, lower: line.slope }
  const variance = (n * (n - 1) * (2 * n + 5)) / 18
  const rank = Math.floor((slopes.length - z * Math.sqrt(variance)) / 2)
  const lower = rank < 0 ? Number.NEGATIVE_INFINITY : (slopes[Math.min(rank, slopes.length - 1)] as number)
  return { ...line, lower }
}

/** z such that P(Z > z) = p, for the one-sided bound (bisection on normalCdf; p in (0, 0.5]). */
export function upperQuantile(p: number): number {
  let low = 0
  let high = 10
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2
    if (1 - normalCdf(mid) > p) low = mid
    else high = mid
  }
  return (low + high) / 2
}

/** Indexes of at most `max` evenly spread points (always keeping the first and last). */
export function thinIndexes(length: number, max: number): number[] {
  if (length <= max) return Array.from({ length }, (_, i) => i)
  const out: number[] = []
  for (let k = 0; k < max; k++) out.push(Math.round((k * (length - 1)) / (max - 1)))
  return out
}

export interface Hinge {
  /** Time (ms) where the flat part ends and growth begins. */
  readonly onsetMs: number
  /** Level before the onset. */
  readonly base: number
  /** Growth per millisecond after the onset. */
  readonly slope: number
  /** Residual sum of squares of the hinge fit, and of a single straight line, for comparison. */
  readonly sse: number
  readonly lineSse: number
}

/**
 * Onset of growth: least-squares fit of y = base + slope·max(0, t − onset) over
 * every candidate onset (each sample time but the last two), keeping the best.
 * O(n²); thin long series first.
 */
export function hingeFit(times: readonly number[], values: readonly number[]): Hinge | undefined {
  const n = Math.min(times.length, values.length)
  if (n < 4) return undefined
  let best: Hinge | undefined
  let lineSse = Number.NaN
  for (let k = 0; k <= n - 3; k++) {
    const onset = times[k] as number
    // Ordinary least squares of y on x = max(0, t - onset).
    let sx = 0
    let sy = 0
    let sxx = 0
    let sxy = 0
    for (let i = 0; i < n; i++) {
      const x = Math.max(0, (times[i] as number) - onset)
      const y = values[i] as number
      sx += x
      sy += y
      sxx += x * x
      sxy += x * y
    }
    const denominator = n * sxx - sx * sx
    if (denominator <= 0) continue
    const slope = (n * sxy - sx * sy) / denominator
    const base = (sy - slope * sx) / n
    let sse = 0
    for (let i = 0; i < n; i++) {
      const r = (values[i] as number) - base - slope * Math.max(0, (times[i] as number) - onset)
      sse += r * r
    }
    if (k === 0) lineSse = sse
    if (best === undefined || sse < best.sse) best = { onsetMs: onset, base, slope, sse, lineSse: Number.NaN }
  }
  return best === undefined ? undefined : { ...best, lineSse }
}
