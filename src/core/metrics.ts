/**
 * The shapes every layer shares: a metric's declaration and the samples that
 * carry its values. Each unit that produces samples (a collector, the monitor,
 * the leak analysis, the attribution) declares its own metrics with these
 * types; the exporters assemble the catalog from all of them.
 */

export type MetricType = 'gauge' | 'counter' | 'histogram'

/**
 * OpenTelemetry instrument kinds. The Prometheus type decides the OTel one, except that
 * the semantic conventions make sizes that go up and down (`v8js.memory.*`,
 * `process.memory.*`) UpDownCounters where Prometheus has gauges.
 */
export type OtelInstrument = 'gauge' | 'updowncounter' | 'counter' | 'histogram'

/** OpenTelemetry resource attributes: what a target or the sidecar is. */
export type ResourceAttributes = Readonly<Record<string, string | number | readonly string[]>>

export interface MetricDefinition {
  /** Stable key the producing unit puts on its samples. */
  readonly key: string
  /** Prometheus name, base units and suffixes (`_bytes`, `_seconds`, `_total`). */
  readonly prom: string
  /**
   * OpenTelemetry name: the semantic conventions' name where one exists, `leakwatch.*`
   * otherwise. Absent for Prometheus-only series (prom-client's sums and info metrics,
   * whose facts OTLP carries in another instrument or on the resource).
   */
  readonly otel?: string
  /** The OTel instrument when it is not the Prometheus type's twin (see OtelInstrument). */
  readonly otelInstrument?: 'updowncounter'
  readonly help: string
  /** UCUM unit for OpenTelemetry (`By`, `s`, `1`, `{resource}`). */
  readonly unit: string
  readonly type: MetricType
  /** Label names besides `target`, which every target metric carries. */
  readonly labels: readonly string[]
  /** Prometheus label name → OpenTelemetry attribute name, where they differ. */
  readonly otelAttributes?: Readonly<Record<string, string>>
  /** Attributes every OTel point of this metric carries: two Prometheus series that are one OTel instrument (`process.cpu.time` by `cpu.mode`). */
  readonly otelConstantAttributes?: Readonly<Record<string, string>>
  /** OTel attribute value of a label's value where they differ (prom-client strips `_space` from heap space names, the conventions keep it). */
  readonly otelValue?: (label: string, value: string) => string
  /**
   * Which OTel resource the metric belongs to: the watched target's (default), or the
   * sidecar's own for what describes the sidecar's work (polls, connects, collectors).
   */
  readonly otelResource?: 'sidecar'
  /**
   * Named, typed and labelled as prom-client's default metric of the same name, so that
   * dashboards written for prom-client work; kept even where that name breaks
   * Prometheus's naming lint (prom-client's `_total` gauges).
   */
  readonly promClient?: true
  /** Upper bounds of histogram buckets, in the metric's unit. */
  readonly buckets?: readonly number[]
  /** The unit that produces it (a collector's name, `monitor`, `analysis`, `attribution`), for docs and `collector_available`. */
  readonly collector: string
}

/** The OTel instrument of a metric. */
export function otelInstrumentOf(metric: MetricDefinition): OtelInstrument {
  return metric.otelInstrument ?? metric.type
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
