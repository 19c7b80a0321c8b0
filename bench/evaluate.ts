/**
 * Runs one synthetic series through leakwatch's analysis and through the
 * PromQL baselines, and scores the outcome against the series' label.
 *
 * Scoring, per method and series:
 * - healthy series: a false alarm when the method fires at any time;
 * - leaky series: a false alarm when it fires before the onset; detected when it
 *   is firing at some evaluation at or after the onset, with the delay measured
 *   from the onset to the first such evaluation (an alert already firing at the
 *   onset counts as detected at the first evaluation after it, and as a false
 *   alarm as well).
 * - precision, over series: of the series a method fired on, the share whose
 *   first firing was on a leak, at or after its onset.
 */
import type { AnalysisConfig, AttributionConfig } from '../src/config/types.js'
import { DEFAULTS } from '../src/sidecar-config.js'
import type { TargetSession } from '../src/inspector/session.js'
import { TargetAnalysis } from '../src/leak/target-analysis.js'
import { AlertRule, DERIV_RULE, EVALUATION_INTERVAL_MS, PERCENT_PER_HOUR_RULE, PREDICT_LINEAR_RULE, type BaselineRule, type PromSample } from './promql.js'
import { FAMILIES, isLeakyFamily, type FamilyName, type SyntheticPoll, type SyntheticSeries } from './synthetic.js'
import { nearestRank } from './lib/report.js'

/**
 * Production analysis settings: leakwatch's defaults, `DEFAULTS.analysis` in
 * src/config/options.ts (window 30m, minPoints 12, maxPValue 0.01, minSlope 1024 B/s,
 * minRelative 0.05/h, raiseAfter 3, clearAfter 5, warmup 5m, floorWindow 1m),
 * imported rather than copied so the benchmark follows them. The memory limit
 * is set per series (only the time-to-limit projection uses it).
 */
export const BENCH_ANALYSIS: AnalysisConfig = { ...DEFAULTS.analysis }

/** Attribution off: the analysis then never touches the session. */
export const BENCH_ATTRIBUTION: AttributionConfig = { ...DEFAULTS.attribution, mode: 'off' }

export const METHODS = ['leakwatch', 'deriv', 'predict_linear', 'pct_per_hour'] as const
export type MethodName = (typeof METHODS)[number]

export const METHOD_DESCRIPTIONS: Readonly<Record<MethodName, string>> = {
  leakwatch: 'leakwatch TargetAnalysis, default settings: any signal leakSuspected = 1',
  deriv: DERIV_RULE.expr,
  predict_linear: PREDICT_LINEAR_RULE.expr,
  pct_per_hour: PERCENT_PER_HOUR_RULE.expr,
}

/**
 * With attribution off the analysis talks to the target only to buy a heap floor (a forced
 * GC): this session answers that from the model (the true floor at that moment) and counts it;
 * anything else is a bug.
 */
function modelSession(series: SyntheticSeries, now: () => number, counter: { forcedGcs: number }): TargetSession {
  return {
    evaluate: async (expression) => {
      if (expression === 'process.cpuUsage()') return { user: 0, system: 0 }
      throw new Error('benchmark: the analysis evaluated a snippet other than the CPU reading')
    },
    send: async (method) => {
      if (method === 'HeapProfiler.collectGarbage') {
        counter.forcedGcs += 1
        return {}
      }
      if (method === 'Runtime.getHeapUsage') {
        const t = (now() - series.processStartMs) / 1000
        return { usedSize: series.model.heapBase + series.model.heapShape(t), totalSize: 0 }
      }
      throw new Error(`benchmark: the analysis sent ${method} with attribution off`)
    },
  }
}

export interface MethodOutcome {
  /** First firing on a healthy series, or before the onset of a leaky one (ms). */
  readonly falseAlarmAtMs: number | null
  /** First firing at or after the onset (ms); null when never (or healthy). */
  readonly detectedAtMs: number | null
  /** detectedAtMs - onset (ms). */
  readonly delayMs: number | null
  /** leakwatch only: the signals suspected at detection / first false alarm. */
  readonly signals?: readonly string[]
  /** leakwatch only: its onset estimate at detection (ms), when reported. */
  readonly onsetEstimateMs?: number | null
}

export interface SeriesResult {
  readonly id: string
  readonly family: FamilyName
  readonly leaky: boolean
  readonly onsetMs: number | null
  readonly outcomes: Readonly<Record<MethodName, MethodOutcome>>
  /** A leak heading to the memory or heap limit within 4 h at its onset. */
  readonly urgent?: boolean
  /** Heap floors the analysis bought (forced GCs). */
  readonly forcedGcs?: number
}

class OutcomeTracker {
  private readonly onsetMs: number | null
  falseAlarmAtMs: number | null = null
  detectedAtMs: number | null = null
  signals: readonly string[] | undefined
  onsetEstimateMs: number | null | undefined

  constructor(onsetMs: number | null) {
    this.onsetMs = onsetMs
  }

  /** Nothing later can change the outcome: a healthy series already false-alarmed, a leak already detected. */
  get done(): boolean {
    return this.onsetMs === null ? this.falseAlarmAtMs !== null : this.detectedAtMs !== null
  }

  /** Returns true when this observation decided something new. */
  observe(timeMs: number, firing: boolean): boolean {
    if (!firing) return false
    if (this.onsetMs === null || timeMs < this.onsetMs) {
      if (this.falseAlarmAtMs !== null) return false
      this.falseAlarmAtMs = timeMs
      return true
    }
    if (this.detectedAtMs !== null) return false
    this.detectedAtMs = timeMs
    return true
  }

  outcome(): MethodOutcome {
    const delayMs = this.detectedAtMs === null || this.onsetMs === null ? null : this.detectedAtMs - this.onsetMs
    return {
      falseAlarmAtMs: this.falseAlarmAtMs,
      detectedAtMs: this.detectedAtMs,
      delayMs,
      ...(this.signals === undefined ? {} : { signals: this.signals }),
      ...(this.onsetEstimateMs === undefined ? {} : { onsetEstimateMs: this.onsetEstimateMs }),
    }
  }
}

export interface EvaluateOptions {
  /** Overrides of the analysis settings (for experiments; the benchmark uses BENCH_ANALYSIS as is). */
  readonly analysis?: Partial<AnalysisConfig>
  /** Keep running every method to the end of the series even once its outcome is decided (slower). */
  readonly full?: boolean
}

/** leakwatch's suspected signals and their onset estimates, from the exported samples. */
function suspectedSignals(analysis: TargetAnalysis): { signals: string[]; onsetMs: number | null } {
  const signals: string[] = []
  let onsetMs: number | null = null
  for (const sample of analysis.samples()) {
    if (!('value' in sample)) continue
    const signal = sample.labels?.signal
    if (signal === undefined) continue
    if (sample.key === 'leakSuspected' && sample.value === 1) signals.push(signal)
    if (sample.key === 'leakOnset' && (onsetMs === null || sample.value * 1000 < onsetMs)) onsetMs = sample.value * 1000
  }
  return { signals, onsetMs }
}

/** A series' analysis, as the sidecar's: `feed` gives it one poll (forced GCs counted in `forced`). */
export function seriesAnalysis(
  series: SyntheticSeries,
  overrides: Partial<AnalysisConfig> = {},
): { readonly analysis: TargetAnalysis; readonly forced: { forcedGcs: number }; feed(poll: SyntheticPoll): Promise<void> } {
  const analysis = new TargetAnalysis({
    analysis: { ...BENCH_ANALYSIS, ...overrides, memoryLimitBytes: series.memoryLimitBytes },
    attribution: BENCH_ATTRIBUTION,
    timeoutMs: DEFAULTS.timeoutMs,
  })
  let nowMs = series.processStartMs
  const forced = { forcedGcs: 0 }
  const session = modelSession(series, () => nowMs, forced)
  return {
    analysis,
    forced,
    feed: (poll) => {
      nowMs = poll.nowMs
      return analysis.afterPoll(session, { nowMs: poll.nowMs, samples: poll.samples, floors: poll.floors, processStartMs: series.processStartMs, pid: 1 })
    },
  }
}

export async function evaluateSeries(series: SyntheticSeries, options: EvaluateOptions = {}): Promise<SeriesResult> {
  const { analysis, forced, feed } = seriesAnalysis(series, options.analysis)
  const leakwatch = new OutcomeTracker(series.onsetMs)
  const baselines = ([DERIV_RULE, PREDICT_LINEAR_RULE, PERCENT_PER_HOUR_RULE] as const).map((rule: BaselineRule) => ({
    rule,
    alert: new AlertRule(rule.forMs),
    tracker: new OutcomeTracker(series.onsetMs),
  }))
  const rss: PromSample[] = []
  const full = options.full === true
  for (const poll of series.polls()) {
    if (full || !leakwatch.done) {
      await feed(poll)
      const { signals, onsetMs } = suspectedSignals(analysis)
      if (leakwatch.observe(poll.nowMs, signals.length > 0)) {
        leakwatch.signals = signals
        leakwatch.onsetEstimateMs = onsetMs
      }
    }
    const value = poll.samples.find((sample) => sample.key === 'rss')?.value
    if (value !== undefined) rss.push({ t: poll.nowMs, v: value })
    // Rules run on the evaluation interval, right after that tick's scrape.
    if ((poll.nowMs - series.processStartMs) % EVALUATION_INTERVAL_MS === 0) {
      for (const { rule, alert, tracker } of baselines) {
        if (!full && tracker.done) continue
        const state = alert.evaluate(poll.nowMs, rule.condition(rss, poll.nowMs, series.memoryLimitBytes))
        tracker.observe(poll.nowMs, state === 'firing')
      }
    }
    if (!full && leakwatch.done && baselines.every((b) => b.tracker.done)) break
  }
  return {
    id: series.id,
    family: series.family,
    leaky: series.leaky,
    onsetMs: series.onsetMs,
    outcomes: {
      leakwatch: leakwatch.outcome(),
      deriv: (baselines[0] as (typeof baselines)[number]).tracker.outcome(),
      predict_linear: (baselines[1] as (typeof baselines)[number]).tracker.outcome(),
      pct_per_hour: (baselines[2] as (typeof baselines)[number]).tracker.outcome(),
    },
    urgent: series.urgent,
    forcedGcs: forced.forcedGcs,
  }
}

// ---------------------------------------------------------------------------
// Summaries

export interface Score {
  readonly series: number
  readonly leaky: number
  readonly healthy: number
  /** Leaky series detected at or after the onset. */
  readonly detected: number
  /** detected / leaky; null without leaky series. */
  readonly recall: number | null
  /** Of the series fired on, the share whose first firing was a real leak; null when it never fired. */
  readonly precision: number | null
  /** Healthy series with any firing. */
  readonly falseAlarmsHealthy: number
  /** falseAlarmsHealthy / healthy; null without healthy series. */
  readonly falseAlarmRateHealthy: number | null
  /** Leaky series with a firing before the onset. */
  readonly falseAlarmsBeforeOnset: number
  readonly medianDelayMin: number | null
  readonly p90DelayMin: number | null
  /** leakwatch only: median |reported onset - true onset| at detection, minutes. */
  readonly medianOnsetErrorMin?: number | null
}

export function score(results: readonly SeriesResult[], method: MethodName): Score {
  const leaky = results.filter((r) => r.leaky)
  const healthy = results.filter((r) => !r.leaky)
  const outcome = (r: SeriesResult): MethodOutcome => r.outcomes[method]
  const detected = leaky.filter((r) => outcome(r).detectedAtMs !== null)
  const falseAlarmed = results.filter((r) => outcome(r).falseAlarmAtMs !== null)
  const truePositives = detected.filter((r) => outcome(r).falseAlarmAtMs === null).length
  const delays = detected.map((r) => (outcome(r).delayMs as number) / 60_000)
  const onsetErrors = detected.flatMap((r) => {
    const estimate = outcome(r).onsetEstimateMs
    return estimate === undefined || estimate === null || r.onsetMs === null ? [] : [Math.abs(estimate - r.onsetMs) / 60_000]
  })
  const falseAlarmsHealthy = healthy.filter((r) => outcome(r).falseAlarmAtMs !== null).length
  const fired = truePositives + falseAlarmed.length
  return {
    series: results.length,
    leaky: leaky.length,
    healthy: healthy.length,
    detected: detected.length,
    recall: leaky.length === 0 ? null : detected.length / leaky.length,
    precision: fired === 0 ? null : truePositives / fired,
    falseAlarmsHealthy,
    falseAlarmRateHealthy: healthy.length === 0 ? null : falseAlarmsHealthy / healthy.length,
    falseAlarmsBeforeOnset: leaky.filter((r) => outcome(r).falseAlarmAtMs !== null).length,
    medianDelayMin: nearestRank(delays, 0.5),
    p90DelayMin: nearestRank(delays, 0.9),
    ...(method === 'leakwatch' ? { medianOnsetErrorMin: nearestRank(onsetErrors, 0.5) } : {}),
  }
}

export interface Summary {
  readonly overall: Readonly<Record<MethodName, Score>>
  /** Leaky families other than leak-slow, plus every healthy family. */
  readonly excludingSlow: Readonly<Record<MethodName, Score>>
  /** Leaks heading to a limit within 4 h at their onset (and no healthy series): the urgent ones. */
  readonly urgent: Readonly<Record<MethodName, Score>>
  readonly families: ReadonlyArray<{ readonly family: FamilyName; readonly leaky: boolean; readonly scores: Readonly<Record<MethodName, Score>> }>
}

const byMethod = (results: readonly SeriesResult[]): Record<MethodName, Score> =>
  Object.fromEntries(METHODS.map((method) => [method, score(results, method)])) as Record<MethodName, Score>

export function summarize(results: readonly SeriesResult[]): Summary {
  return {
    overall: byMethod(results),
    excludingSlow: byMethod(results.filter((r) => r.family !== 'leak-slow')),
    urgent: byMethod(results.filter((r) => r.urgent === true)),
    families: FAMILIES.filter((family) => results.some((r) => r.family === family)).map((family) => ({
      family,
      leaky: isLeakyFamily(family),
      scores: byMethod(results.filter((r) => r.family === family)),
    })),
  }
}
