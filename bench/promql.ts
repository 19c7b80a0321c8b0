/**
 * The PromQL alerting practice leakwatch is compared against, implemented
 * purely with Prometheus semantics, on the raw RSS samples (what
 * `container_memory_working_set_bytes` or `process_resident_memory_bytes`
 * gives a user: no floors).
 *
 * Semantics reproduced (Prometheus 3.x, promql/functions.go and rules/alerting.go):
 * - A range selector `v[r]` evaluated at time T selects the samples with
 *   timestamps in (T - r, T]: left-open since Prometheus 3.0.
 * - `deriv(v[r])`: the slope, per second, of the ordinary least-squares line
 *   through the selected samples (x = sample time in seconds). Needs at least
 *   two samples, otherwise the series yields no value.
 * - `predict_linear(v[r], d)`: the same least-squares line, with its intercept
 *   taken at the evaluation time T, evaluated d seconds later:
 *   `intercept(T) + slope * d`. Needs at least two samples.
 *   (When every sample has the same value, Prometheus returns slope 0 and that
 *   value, which is what the least-squares formula gives anyway.)
 * - An alerting rule with `for: F`, evaluated every evaluation interval: when the
 *   expression returns the series, an inactive alert becomes pending with
 *   activeAt = T; a pending alert becomes firing at the first evaluation with
 *   T - activeAt >= F (with F = 0 it fires at once); as soon as the expression
 *   returns nothing the alert is dropped (inactive). No `keep_firing_for`.
 *
 * The two baseline rules (scrape interval = the poll interval, 15 s; rule
 * evaluation interval 1 m, Prometheus' default `evaluation_interval`):
 *
 *   (a) - alert: MemoryGrowing
 *         expr: deriv(container_memory_working_set_bytes{container="app"}[30m]) > 0
 *         for: 30m
 *
 *   (b) - alert: MemoryWillHitLimit
 *         expr: predict_linear(container_memory_working_set_bytes{container="app"}[1h], 4*3600)
 *                 > container_spec_memory_limit_bytes{container="app"}
 *         for: 15m
 *
 * with the series' RSS as the working set and the series' container memory
 * limit as `container_spec_memory_limit_bytes`.
 */

export interface PromSample {
  /** Milliseconds since the epoch. */
  readonly t: number
  readonly v: number
}

export interface Regression {
  /** Per second. */
  readonly slope: number
  /** Value at the intercept time. */
  readonly intercept: number
}

/**
 * Least-squares line through the samples, x = (t - interceptTimeMs) / 1000.
 * Undefined for fewer than two samples (PromQL yields no value then).
 */
export function linearRegression(samples: readonly PromSample[], interceptTimeMs: number): Regression | undefined {
  const n = samples.length
  if (n < 2) return undefined
  const first = samples[0] as PromSample
  if (samples.every((s) => s.v === first.v)) return { slope: 0, intercept: first.v }
  let sumX = 0
  let sumY = 0
  for (const s of samples) {
    sumX += (s.t - interceptTimeMs) / 1000
    sumY += s.v
  }
  const meanX = sumX / n
  const meanY = sumY / n
  // Centred sums: the same line as Prometheus' (Kahan-summed) raw sums, without their cancellation.
  let covXY = 0
  let varX = 0
  for (const s of samples) {
    const dx = (s.t - interceptTimeMs) / 1000 - meanX
    covXY += dx * (s.v - meanY)
    varX += dx * dx
  }
  const slope = covXY / varX
  return { slope, intercept: meanY - slope * meanX }
}

/**
 * The samples of `v[range]` evaluated at `evalMs`: timestamps in (evalMs - range, evalMs].
 * `samples` must be sorted by time.
 */
export function selectRange(samples: readonly PromSample[], evalMs: number, rangeMs: number): PromSample[] {
  let hi = samples.length
  while (hi > 0 && (samples[hi - 1] as PromSample).t > evalMs) hi -= 1
  let lo = hi
  while (lo > 0 && (samples[lo - 1] as PromSample).t > evalMs - rangeMs) lo -= 1
  return samples.slice(lo, hi)
}

/** `deriv(v[range])` at `evalMs`, per second; undefined when PromQL returns nothing. */
export function deriv(samples: readonly PromSample[], evalMs: number, rangeMs: number): number | undefined {
  const selected = selectRange(samples, evalMs, rangeMs)
  const first = selected[0]
  return first === undefined ? undefined : linearRegression(selected, first.t)?.slope
}

/** `predict_linear(v[range], horizonSeconds)` at `evalMs`; undefined when PromQL returns nothing. */
export function predictLinear(
  samples: readonly PromSample[],
  evalMs: number,
  rangeMs: number,
  horizonSeconds: number,
): number | undefined {
  const line = linearRegression(selectRange(samples, evalMs, rangeMs), evalMs)
  return line === undefined ? undefined : line.intercept + line.slope * horizonSeconds
}

export type AlertState = 'inactive' | 'pending' | 'firing'

/** The `for:` state machine of one alerting rule over one series. */
export class AlertRule {
  private readonly forMs: number
  private activeAtMs: number | undefined
  private firing = false

  constructor(forMs: number) {
    this.forMs = forMs
  }

  get state(): AlertState {
    return this.activeAtMs === undefined ? 'inactive' : this.firing ? 'firing' : 'pending'
  }

  /** One rule evaluation at `evalMs`; `active` is whether the expression returned the series. */
  evaluate(evalMs: number, active: boolean): AlertState {
    if (!active) {
      this.activeAtMs = undefined
      this.firing = false
    } else {
      if (this.activeAtMs === undefined) this.activeAtMs = evalMs
      if (!this.firing && evalMs - this.activeAtMs >= this.forMs) this.firing = true
    }
    return this.state
  }
}

/** A baseline rule: the condition on the selected raw samples, and its `for:`. */
export interface BaselineRule {
  readonly name: string
  readonly expr: string
  readonly forMs: number
  /** Samples needed behind the evaluation time (the rule's range). */
  readonly rangeMs: number
  condition(samples: readonly PromSample[], evalMs: number, memoryLimitBytes: number): boolean
}

export const DERIV_RULE: BaselineRule = {
  name: 'deriv',
  expr: 'deriv(rss[30m]) > 0, for: 30m',
  forMs: 30 * 60_000,
  rangeMs: 30 * 60_000,
  condition: (samples, evalMs) => (deriv(samples, evalMs, 30 * 60_000) ?? 0) > 0,
}

export const PREDICT_LINEAR_RULE: BaselineRule = {
  name: 'predict_linear',
  expr: 'predict_linear(rss[1h], 4*3600) > limit, for: 15m',
  forMs: 15 * 60_000,
  rangeMs: 3_600_000,
  condition: (samples, evalMs, limit) => {
    const predicted = predictLinear(samples, evalMs, 3_600_000, 4 * 3600)
    return predicted !== undefined && predicted > limit
  },
}

/** Rule evaluation interval (Prometheus' default `evaluation_interval`). */
export const EVALUATION_INTERVAL_MS = 60_000

/** avg_over_time(v[range]) at `evalMs`; undefined when PromQL returns nothing. */
export function avgOverTime(samples: readonly PromSample[], evalMs: number, rangeMs: number): number | undefined {
  const selected = selectRange(samples, evalMs, rangeMs)
  return selected.length === 0 ? undefined : selected.reduce((sum, s) => sum + s.v, 0) / selected.length
}

/**
 * The fixed relative-growth rule Kubernetes memory-leak detectors ship: memory grew more than
 * 10 % over the last hour (5-minute averages now and an hour ago), for 15 minutes.
 */
export const PERCENT_PER_HOUR_RULE: BaselineRule = {
  name: 'pct_per_hour',
  expr: 'avg_over_time(rss[5m]) / avg_over_time(rss[5m] offset 1h) > 1.10, for: 15m',
  forMs: 15 * 60_000,
  rangeMs: 3_600_000 + 5 * 60_000,
  condition: (samples, evalMs) => {
    const now = avgOverTime(samples, evalMs, 5 * 60_000)
    const before = avgOverTime(samples, evalMs - 3_600_000, 5 * 60_000)
    return now !== undefined && before !== undefined && before > 0 && now / before > 1.1
  },
}
