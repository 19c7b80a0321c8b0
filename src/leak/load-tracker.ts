/**
 * The target's load as the analysis reads it, poll by poll (split from target-analysis.ts):
 *
 * - event-loop utilization less the share of time spent in GC (a growing heap makes GC busier;
 *   that is the leak's cost, not load that could explain the leak), left out for polls whose
 *   interval held the sidecar's own work in the target;
 * - where the target serves HTTP, the requests it began per second (the `http` collector's
 *   counter): traffic measured where it arrives, which the target's own memory cannot drive. A
 *   service that mostly waits (on a database, a downstream) doubles its traffic while its
 *   utilization moves by a point or two; a leak whose leaked handlers run on every event makes
 *   the loop busier at the same traffic.
 *
 * Floor points take their load from here (`loadAt`); the verdict asks for the load's usual
 * level (`level`) when growth is otherwise judged a leak.
 */
import { loadRamp, RAMP_WINDOWS } from '../analysis/load.js'
import { RingSeries } from '../analysis/series.js'
import { median } from '../analysis/stats.js'
import type { LoadLevel, TrafficLevel } from '../analysis/verdict.js'
import type { StepSeries } from './residual.js'

/** Readings kept (one per poll): a day at a 15 s poll, for the usual level of the load. */
export const LOAD_HISTORY_POINTS = 5760

/** The usual level of readings: their median, and its spread (1.4826 × median absolute deviation). */
function usualLevel(values: readonly number[]): { baseline: number; spread: number } {
  const baseline = median(values)
  return { baseline, spread: 1.4826 * median(values.map((value) => Math.abs(value - baseline))) }
}

/**
 * The load over the window (from `windowStartMs`) against the load before it, from every poll's
 * reading since `fromMs` (the warm-up excluded), and its ramp over the RAMP_WINDOWS windows up to
 * `ramp.nowMs` (at least one window of readings);
 * undefined without readings in the window. Without four readings before it, the baseline is
 * NaN and covers 0 ms.
 */
export function loadLevel(
  readings: StepSeries,
  windowStartMs: number,
  fromMs: number,
  ramp?: { readonly nowMs: number; readonly windowMs: number },
): LoadLevel | undefined {
  const before: number[] = []
  const within: number[] = []
  let firstMs: number | undefined
  for (let i = 0; i < readings.times.length; i++) {
    const timeMs = readings.times[i] as number
    const value = readings.values[i] as number
    if (timeMs < fromMs || !Number.isFinite(value)) continue
    if (timeMs < windowStartMs) {
      firstMs ??= timeMs
      before.push(value)
    } else within.push(value)
  }
  if (within.length < 4) return undefined
  const rampOf = ramp === undefined ? undefined : loadRamp(readings, Math.max(fromMs, ramp.nowMs - RAMP_WINDOWS * ramp.windowMs), ramp.nowMs, ramp.windowMs)
  const withRamp = rampOf === undefined ? {} : { ramp: rampOf }
  if (before.length < 4 || firstMs === undefined) return { window: median(within), baseline: Number.NaN, spread: 0, baselineMs: 0, ...withRamp }
  return { window: median(within), ...usualLevel(before), baselineMs: windowStartMs - firstMs, ...withRamp }
}

/**
 * The request rate from `windowStartMs` to `nowMs` against the rate before it: medians
 * of the per-poll rates, the baseline's spread (1.4826 × median absolute deviation), the time
 * and the requests the baseline covers. Undefined without four rates on each side.
 */
export function trafficLevel(rates: StepSeries & { readonly spans: readonly number[] }, windowStartMs: number, nowMs: number): TrafficLevel | undefined {
  const before: number[] = []
  const within: number[] = []
  let firstMs: number | undefined
  let baselineRequests = 0
  for (let i = 0; i < rates.times.length; i++) {
    const timeMs = rates.times[i] as number
    const value = rates.values[i] as number
    if (timeMs < windowStartMs) {
      firstMs ??= timeMs - (rates.spans[i] as number)
      before.push(value)
      baselineRequests += (value * (rates.spans[i] as number)) / 1000
    } else within.push(value)
  }
  if (within.length < 4 || before.length < 4 || firstMs === undefined) return undefined
  return {
    spanMs: nowMs - windowStartMs,
    window: median(within),
    ...usualLevel(before),
    baselineMs: windowStartMs - firstMs,
    baselineRequests: Math.round(baselineRequests),
  }
}

export class LoadTracker {
  /** Utilization less GC, per poll (the sidecar's own work left out). */
  private readonly utilization = new RingSeries(LOAD_HISTORY_POINTS)
  /** HTTP requests begun per second, per poll interval (at the interval's end), and the interval (ms). */
  private readonly requestRates = new RingSeries(LOAD_HISTORY_POINTS)
  private readonly requestSpans = new RingSeries(LOAD_HISTORY_POINTS)
  private lastCount: { readonly timeMs: number; readonly value: number } | undefined

  /**
   * A poll's readings: `utilization` (0..1) less `notLoad` unless the interval held the sidecar's
   * own work; `requests`, the HTTP counter (requests begun since the agent was installed), when
   * read. A counter that went back (a new agent) starts the rate over.
   */
  record(nowMs: number, utilization: number | undefined, notLoad: number, ownWork: boolean, requests: number | undefined): void {
    if (utilization !== undefined && !ownWork) this.utilization.push(nowMs, Math.max(0, utilization - notLoad))
    if (requests === undefined) return
    const last = this.lastCount
    this.lastCount = { timeMs: nowMs, value: requests }
    if (last === undefined || requests < last.value || !(nowMs > last.timeMs)) return
    const spanMs = nowMs - last.timeMs
    this.requestRates.push(nowMs, ((requests - last.value) * 1000) / spanMs)
    this.requestSpans.push(nowMs, spanMs)
  }

  /** Mean load (utilization less GC) over `spanMs` ending at `timeMs` (NaN when unknown). */
  loadAt(timeMs: number, spanMs: number): number {
    const { times, values } = this.utilization.since(timeMs - spanMs)
    let sum = 0
    let count = 0
    for (let i = 0; i < times.length; i++) {
      if ((times[i] as number) > timeMs) break
      sum += values[i] as number
      count += 1
    }
    return count > 0 ? sum / count : Number.NaN
  }

  /** Mean HTTP request rate (per second) over `spanMs` ending at `timeMs`, weighted by the polls' intervals; NaN when unknown. */
  trafficAt(timeMs: number, spanMs: number): number {
    const { times, values } = this.requestRates.since(timeMs - spanMs)
    const spans = this.requestSpans.since(timeMs - spanMs).values
    let requests = 0
    let ms = 0
    for (let i = 0; i < times.length; i++) {
      // A rate is read at its interval's end: one read at the span's start covers the time before it.
      if ((times[i] as number) <= timeMs - spanMs) continue
      if ((times[i] as number) > timeMs) break
      requests += ((values[i] as number) * (spans[i] as number)) / 1000
      ms += spans[i] as number
    }
    return ms > 0 ? (requests * 1000) / ms : Number.NaN
  }

  /**
   * The load's usual level for the window ending at `nowMs` (utilization since `fromMs`, the
   * warm-up left out), with the traffic's when the target serves HTTP: the request rate over the
   * window and over its last third (a burst that began late in the window), each against all
   * the rates before (traffic does not warm up).
   */
  level(nowMs: number, windowMs: number, fromMs: number): LoadLevel | undefined {
    const windowStartMs = nowMs - windowMs
    const level = loadLevel(this.utilization.all(), windowStartMs, fromMs, { nowMs, windowMs })
    if (level === undefined) return undefined
    const rates = { ...this.requestRates.all(), spans: this.requestSpans.all().values }
    const traffic = [trafficLevel(rates, windowStartMs, nowMs), trafficLevel(rates, nowMs - windowMs / 3, nowMs)].filter((t) => t !== undefined)
    return traffic.length === 0 ? level : { ...level, traffic }
  }

  clear(): void {
    this.utilization.clear()
    this.requestRates.clear()
    this.requestSpans.clear()
    this.lastCount = undefined
  }
}
