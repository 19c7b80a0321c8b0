/**
 * Has the growth stopped? A floor that grows steadily is a leak candidate; one
 * that rose and then levelled off (a cache reaching its size), rose and fell
 * (a burst that drained) or jumped once (a deploy-sized allocation) is not.
 *
 * Three models are fitted by least squares to the window's points and compared
 * by the Bayesian information criterion (BIC = n·ln(SSE/n) + k·ln(n)):
 *
 * - linear: y = a + b·t (2 parameters);
 * - two segments: y = a + b·t + (d − b)·max(0, t − t₁), continuous at a
 *   breakpoint t₁ chosen among the points (4 parameters with t₁);
 * - step: y = a + s·[t > t₁] (3 parameters with t₁);
 * - saturating: y = a + b·(1 − e^(−max(0, t − t₀)/τ)), growth from t₀ slowing
 *   towards the level a + b (4 parameters with t₀ and τ): a cache filling.
 *
 * A non-linear model is taken only when it beats the line by at least
 * SHAPE_BIC_MARGIN (10: "very strong" evidence, a likelihood ratio of ~150:1
 * for Gaussian noise). So a linear leak with GC noise stays linear: its two
 * halves' slopes differ by chance, but not by that much evidence. What the
 * caller then judges is the growth since the breakpoint (two segments), none
 * (a step), or the whole window's (linear). Pure.
 *
 * BIC counts every point as independent evidence. Floors read at every poll
 * that grow in stairs (Buffers kept a batch at a time, a Map growing when a
 * burst of keys comes) are not: around any smooth curve their deviations come
 * in runs, and a curve that bends into one run beats the line by 13–46 with
 * nothing but noise (a real external leak, services/upload-retry-buffers-leak,
 * was "approaching a level" or "slowed" at a third of its evaluations, each
 * restarting its hold). With `autocorrelated`, the gain is counted on the
 * effective number of independent points n·(1 − ρ)/(1 + ρ), ρ the lag-1
 * autocorrelation of the chosen model's residuals (AR(1) errors): a model that
 * is right leaves white residuals (ρ ≈ 0, nothing changes), one that bent into
 * a stair leaves runs. The slow path does not ask for it: its downsampled
 * floors lie far apart, and their runs are a smooth curve's misfit (a 5-hour
 * load cycle against a saturating fit), not stairs.
 */

import { median } from './stats.js'

/** Evidence a bent or stepped model needs over the line (BIC units). */
export const SHAPE_BIC_MARGIN = 10

/** A breakpoint leaves at least this many points on each side. */
const MIN_SEGMENT_POINTS = 4

export type ShapeModel = 'linear' | 'two-segment' | 'step' | 'saturating'

export interface ShapeFit {
  readonly model: ShapeModel
  /** Time of the breakpoint (ms), for two-segment and step. */
  readonly breakMs: number | null
  /** Index of the first point after the breakpoint. */
  readonly breakIndex: number | null
  /** Slopes per ms: before and after the breakpoint (two-segment), or the line's twice. */
  readonly slopeBefore: number
  readonly slopeAfter: number
  /** Height of the step (step only). */
  readonly stepSize: number
  /** Saturating only: the level approached (the value's unit) and the time constant (ms). */
  readonly level: number | null
  readonly timeConstantMs: number | null
  /** BIC of the line minus BIC of the chosen model (0 when linear). */
  readonly bicGain: number
  /** Root mean square of the chosen model's residuals (the value's unit): the noise around it. */
  readonly residualRms: number
}

const LINEAR: ShapeFit = {
  model: 'linear',
  breakMs: null,
  breakIndex: null,
  slopeBefore: 0,
  slopeAfter: 0,
  stepSize: 0,
  level: null,
  timeConstantMs: null,
  bicGain: 0,
  residualRms: 0,
}
/** Time constants tried for the saturating model, as multiples of the window's span. */
const TAU_SHARES = [0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 1, 1.5, 2.5]

/** Least squares of y on one regressor; returns the slope, intercept and residual sum of squares. */
function line(x: readonly number[], y: readonly number[]): { slope: number; intercept: number; sse: number } {
  const n = x.length
  let sx = 0
  let sy = 0
  for (let i = 0; i < n; i++) {
    sx += x[i] as number
    sy += y[i] as number
  }
  const mx = sx / n
  const my = sy / n
  let sxx = 0
  let sxy = 0
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx
    sxx += dx * dx
    sxy += dx * ((y[i] as number) - my)
  }
  const slope = sxx > 0 ? sxy / sxx : 0
  const intercept = my - slope * mx
  let sse = 0
  for (let i = 0; i < n; i++) {
    const r = (y[i] as number) - intercept - slope * (x[i] as number)
    sse += r * r
  }
  return { slope, intercept, sse }
}

/** Least squares of y on two regressors (plus an intercept); the coefficients and SSE, or undefined when singular. */
export function regress2(
  x1: readonly number[],
  x2: readonly number[],
  y: readonly number[],
): { b1: number; b2: number; intercept: number; sse: number; se1: number; se2: number } | undefined {
  const n = y.length
  if (n < 4) return undefined
  let m1 = 0
  let m2 = 0
  let my = 0
  for (let i = 0; i < n; i++) {
    m1 += x1[i] as number
    m2 += x2[i] as number
    my += y[i] as number
  }
  m1 /= n
  m2 /= n
  my /= n
  let s11 = 0
  let s22 = 0
  let s12 = 0
  let s1y = 0
  let s2y = 0
  for (let i = 0; i < n; i++) {
    const d1 = (x1[i] as number) - m1
    const d2 = (x2[i] as number) - m2
    const dy = (y[i] as number) - my
    s11 += d1 * d1
    s22 += d2 * d2
    s12 += d1 * d2
    s1y += d1 * dy
    s2y += d2 * dy
  }
  const det = s11 * s22 - s12 * s12
  if (!(det > 1e-12 * s11 * s22) || !(s11 > 0) || !(s22 > 0)) return undefined
  const b1 = (s22 * s1y - s12 * s2y) / det
  const b2 = (s11 * s2y - s12 * s1y) / det
  const intercept = my - b1 * m1 - b2 * m2
  let sse = 0
  for (let i = 0; i < n; i++) {
    const r = (y[i] as number) - intercept - b1 * (x1[i] as number) - b2 * (x2[i] as number)
    sse += r * r
  }
  const variance = sse / (n - 3)
  return { b1, b2, intercept, sse, se1: Math.sqrt((variance * s22) / det), se2: Math.sqrt((variance * s11) / det) }
}

const bic = (n: number, sse: number, k: number, floor: number): number => n * Math.log(Math.max(sse, floor) / n) + k * Math.log(n)

/** Lag-1 autocorrelation of residuals in time order; 0 when they have no spread. */
export function lagOneAutocorrelation(residuals: readonly number[]): number {
  let sq = 0
  let cross = 0
  for (let i = 0; i < residuals.length; i++) {
    const r = residuals[i] as number
    sq += r * r
    if (i > 0) cross += r * (residuals[i - 1] as number)
  }
  return sq > 0 ? cross / sq : 0
}

/**
 * A model's BIC gain over the line counted on the effective number of independent points
 * n·(1 − ρ)/(1 + ρ) (ρ > 0 only: residuals that alternate are no reason for more evidence);
 * the parameters' penalty uses the same count.
 */
function effectiveGain(n: number, sseLine: number, sseModel: number, extraParameters: number, rho: number, floor: number): number {
  const effective = Math.max(2, rho > 0 ? (n * (1 - rho)) / (1 + rho) : n)
  return effective * (Math.log(Math.max(sseLine, floor)) - Math.log(Math.max(sseModel, floor))) - extraParameters * Math.log(effective)
}

/**
 * The shape of a window's floor: linear, or (with very strong evidence) two
 * segments or a step. Times in ms, ascending; at most a few hundred points
 * (the two-segment search is O(n²)).
 */
export function fitShape(times: readonly number[], values: readonly number[], options: { readonly autocorrelated?: boolean } = {}): ShapeFit {
  const n = Math.min(times.length, values.length)
  if (n < 2 * MIN_SEGMENT_POINTS + 1) {
    const fit = n > 0 ? line(times.slice(0, n), values.slice(0, n)) : { slope: 0, sse: 0 }
    return finiteFit({ ...LINEAR, ...slopes(fit.slope), residualRms: n > 0 ? Math.sqrt(fit.sse / n) : 0 })
  }
  // Relative to the first point, so sums of squares of epoch milliseconds do not lose precision.
  const t0 = times[0] as number
  const x = times.slice(0, n).map((time) => time - t0)
  const y = values.slice(0, n)
  const lin = line(x, y)
  let range = 0
  for (const v of y) range = Math.max(range, Math.abs(v - (y[0] as number)))
  // Perfect synthetic fits have SSE 0: measure against a floor far below any real noise.
  const sseFloor = n * (1e-9 * Math.max(range, 1)) ** 2
  const linearBic = bic(n, lin.sse, 2, sseFloor)
  const rms = (sse: number): number => Math.sqrt(Math.max(0, sse) / n)
  const linear: ShapeFit = { ...LINEAR, slopeBefore: lin.slope, slopeAfter: lin.slope, residualRms: rms(lin.sse) }
  let best = linear
  let bestBic = linearBic
  // The chosen model's residual sum of squares, parameters and fitted values (for `autocorrelated`).
  let chosen: { sse: number; parameters: number; predict: (i: number) => number } | undefined
  // Step: prefix sums give each split's SSE in O(1).
  const prefix = [0]
  const prefixSq = [0]
  for (let i = 0; i < n; i++) {
    prefix.push((prefix[i] as number) + (y[i] as number))
    prefixSq.push((prefixSq[i] as number) + (y[i] as number) ** 2)
  }
  const groupSse = (from: number, to: number): number => {
    const count = to - from
    const sum = (prefix[to] as number) - (prefix[from] as number)
    return (prefixSq[to] as number) - (prefixSq[from] as number) - (sum * sum) / count
  }
  for (let k = MIN_SEGMENT_POINTS; k <= n - MIN_SEGMENT_POINTS; k++) {
    const sse = Math.max(0, groupSse(0, k) + groupSse(k, n))
    const score = bic(n, sse, 3, sseFloor)
    if (score < bestBic) {
      bestBic = score
      const before = ((prefix[k] as number) - (prefix[0] as number)) / k
      const after = ((prefix[n] as number) - (prefix[k] as number)) / (n - k)
      best = { ...LINEAR, model: 'step', breakMs: times[k] as number, breakIndex: k, stepSize: after - before, residualRms: rms(sse) }
      const split = k
      chosen = { sse, parameters: 3, predict: (i) => (i < split ? before : after) }
    }
  }
  // Two continuous segments: y = a + b·x + c·max(0, x − x_k), with d = b + c after the break.
  const hinge = new Array<number>(n)
  for (let k = MIN_SEGMENT_POINTS - 1; k <= n - MIN_SEGMENT_POINTS; k++) {
    const xk = x[k] as number
    for (let i = 0; i < n; i++) hinge[i] = Math.max(0, (x[i] as number) - xk)
    const fit = regress2(x, hinge, y)
    if (fit === undefined) continue
    const score = bic(n, fit.sse, 4, sseFloor)
    if (score < bestBic) {
      bestBic = score
      best = { ...LINEAR, model: 'two-segment', breakMs: times[k] as number, breakIndex: k, slopeBefore: fit.b1, slopeAfter: fit.b1 + fit.b2, residualRms: rms(fit.sse) }
      chosen = { sse: fit.sse, parameters: 4, predict: (i) => fit.intercept + fit.b1 * (x[i] as number) + fit.b2 * Math.max(0, (x[i] as number) - xk) }
    }
  }
  // Saturating growth from t₀ with time constant τ: linear in (a, b) for each (t₀, τ) on a grid.
  const span = (x[n - 1] as number) || 1
  const curve = new Array<number>(n)
  for (let k = 0; k <= n - MIN_SEGMENT_POINTS; k += Math.max(1, Math.floor(n / 40))) {
    const xk = x[k] as number
    for (const share of TAU_SHARES) {
      const tau = share * span
      for (let i = 0; i < n; i++) curve[i] = 1 - Math.exp(-Math.max(0, (x[i] as number) - xk) / tau)
      const fit = line(curve, y)
      if (!(fit.slope > 0)) continue
      const score = bic(n, fit.sse, 4, sseFloor)
      if (score < bestBic) {
        bestBic = score
        const last = (x[n - 1] as number) - xk
        best = {
          ...LINEAR,
          model: 'saturating',
          breakMs: times[k] as number,
          breakIndex: k,
          slopeBefore: fit.slope / tau,
          slopeAfter: (fit.slope / tau) * Math.exp(-last / tau),
          level: fit.intercept + fit.slope,
          timeConstantMs: tau,
          residualRms: rms(fit.sse),
        }
        chosen = { sse: fit.sse, parameters: 4, predict: (i) => fit.intercept + fit.slope * (1 - Math.exp(-Math.max(0, (x[i] as number) - xk) / tau)) }
      }
    }
  }
  if (chosen !== undefined && best.model !== 'linear' && linearBic - bestBic >= SHAPE_BIC_MARGIN) {
    if (options.autocorrelated !== true) return finiteFit({ ...best, bicGain: linearBic - bestBic })
    const model = chosen
    const rho = lagOneAutocorrelation(y.map((value, i) => value - model.predict(i)))
    const gain = effectiveGain(n, lin.sse, model.sse, model.parameters - 2, rho, sseFloor)
    if (gain >= SHAPE_BIC_MARGIN) return finiteFit({ ...best, bicGain: gain })
  }
  return finiteFit(linear)
}

/** Floors of absurd size overflow the sums: such a fit says nothing (a line of slope 0). */
function finiteFit(fit: ShapeFit): ShapeFit {
  const numbers = [fit.slopeBefore, fit.slopeAfter, fit.stepSize, fit.bicGain, fit.level ?? 0, fit.timeConstantMs ?? 0, fit.residualRms]
  return numbers.every(Number.isFinite) ? fit : LINEAR
}

const slopes = (slope: number): Pick<ShapeFit, 'slopeBefore' | 'slopeAfter'> => ({ slopeBefore: slope, slopeAfter: slope })

/**
 * Whether a saturating fit shows its level: growth has at least halved since it began, as
 * "slowed" asks of two segments (true for the other models). A curve whose time constant is
 * longer than the window (growth slowing by a third over four hours) fits a leak whose rate
 * eases better than a line (an LRU that stopped evicting, whose misses get rarer as it grows:
 * hidden/gateway-profile-lru-drift-leak, "slows towards 47.6 MiB, time constant 9.7 h" from
 * 23 MiB), and its level is then an extrapolation beyond the floors. The slow path asks it.
 */
export function levelShown(fit: ShapeFit): boolean {
  return fit.model !== 'saturating' || fit.slopeAfter <= 0.5 * fit.slopeBefore
}

/**
 * Whether a level a window's floors approach still shows in its later half (`times`, `values`:
 * the floors of that half). A curve fitted to the whole window can owe its bend to the first half
 * alone: floors flat until a leak began, a jump as it began (a cohort of customers whose logs
 * filled at once) and linear growth since bend like a filling cache's
 * (tails/customer-rate-limiter-plan-typo-leak: "slows towards 19.4 MiB, time constant 1.5 h" at
 * 17 MiB, growing 3.3 MB/h for the last two hours). The level does not show when the later half
 * on its own is a line (no bend, step or level beats it by the margin) and its second half still
 * makes a new high (its highest floor above the first half's by more than twice the noise around
 * the line): whether the floor grows is then for the later half's slope to say. A fill in stairs
 * that stopped an hour before (corpus-jumps/pricing-region-rules-lazy-load) is a line over the
 * later half too, but makes no new high since. Nor does a level the floor has already passed:
 * the median of the last three floors more than twice the noise around the curve above it
 * (corpus-jumps/billing-plan-migration-usage-audit-leak: "slows towards 38.6 MiB, time constant
 * 11 min" at 44.1 MiB, the curve fitted to the jump as a cohort's backlog landed). Other shapes
 * are judged as fitted. The slow path asks it.
 */
export function levelShowsIn(fit: ShapeFit, times: readonly number[], values: readonly number[]): boolean {
  if (fit.model !== 'saturating') return true
  if (fit.level !== null && median(values.slice(-3)) > fit.level + 2 * fit.residualRms) return false
  const later = fitShape(times, values)
  if (later.model !== 'linear' || times.length < 2) return true
  const middle = ((times[0] as number) + (times[times.length - 1] as number)) / 2
  let before = Number.NEGATIVE_INFINITY
  let after = Number.NEGATIVE_INFINITY
  for (let i = 0; i < times.length; i++) {
    const v = values[i] as number
    if ((times[i] as number) < middle) before = Math.max(before, v)
    else after = Math.max(after, v)
  }
  return !(after > before + 2 * later.residualRms)
}
