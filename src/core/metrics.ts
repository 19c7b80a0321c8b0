/**
 * The shapes every layer shares: a metric's declaration and the samples that
 * carry its values. Each unit that produces samples (a collector, the monitor,
 * the leak analysis, the attribution) declares its own metrics with these
 * types; the exporters assemble the catalog from all of them.
 */

export type MetricType = 'gauge' | 'counter' | 'histogram'

export interface MetricDefinition {
  /** Stable key the producing unit puts on its samples. */
  readonly key: string
  /** Prometheus name, base units and suffixes (`_bytes`, `_seconds`, `_total`). */
  readonly prom: string
  /** OpenTelemetry name (semantic conventions where one exists). */
  readonly otel: string
  readonly help: string
  /** UCUM unit for OpenTelemetry (`By`, `s`, `1`, `{resource}`). */
  readonly unit: string
  readonly type: MetricType
  /** Label names besides `target`, which every target metric carries. */
  readonly labels: readonly string[]
  /** Prometheus label name → OpenTelemetry attribute name, where they differ. */
  readonly otelAttributes?: Readonly<Record<string, string>>
  /** Upper bounds of histogram buckets, in the metric's unit. */
  readonly buckets?: readonly number[]
  /** The unit that produces it (a collector's name, `monitor`, `analysis`, `attribution`), for docs and `collector_available`. */
  readonly collector: string
}

export type Labels = Readonly<Record<string, string>>

export interface ScalarSample {
  /** A `MetricDefinition.key`. */
  readonly key: string
  readonly labels?: Labels
  readonly value: number
}

export interface HistogramSample {
  readonly key: string
  readonly labels?: Labels
  /** Observations per bucket (not cumulative), aligned with the definition's buckets; the last is +Inf. */
  readonly buckets: readonly number[]
  readonly count: number
  readonly sum: number
}

export type Sample = ScalarSample | HistogramSample

export function isHistogramSample(sample: Sample): sample is HistogramSample {
  return 'buckets' in sample
}

/** The value of the first scalar sample with `key`, or undefined. */
export function scalarValue(samples: readonly Sample[], key: string): number | undefined {
  for (const sample of samples) if (sample.key === key && !isHistogramSample(sample)) return sample.value
  return undefined
}
