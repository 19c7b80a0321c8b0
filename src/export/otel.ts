/**
 * The OpenTelemetry export (OTLP/HTTP JSON), built from the catalog.
 *
 * Mirrors the Prometheus exporter: target values are produced by the
 * collectors on their own schedule, so gauges and counters are observable
 * instruments read from the latest snapshot at collection time. The one
 * exception is the GC pause histogram: OTel histograms cannot be set from the
 * target's pre-bucketed counts (its buckets are prom-client's), so individual
 * pauses are recorded as they are read, into the semantic-convention buckets.
 */
import { hostname } from 'node:os'
import { diag, type Attributes, type Observable } from '@opentelemetry/api'
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http'
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources'
import {
  AggregationTemporality,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type AggregationOption,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics'
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions'
import type { GcEvent } from '../collectors/types.js'
import { isHistogramSample, type Labels } from '../core/metrics.js'
import { catalog, metricByKey, type MetricDefinition } from './catalog.js'
import { snapshotByKey, type MetricSource } from './source.js'

/** The attribute naming the target on every data point (the OTel twin of the `target` label). */
export const TARGET_ATTRIBUTE = 'leakwatch.target'

/** Bucket boundaries the semantic conventions advise for `v8js.gc.duration`, in seconds. */
export const GC_DURATION_OTEL_BUCKETS: readonly number[] = [0.01, 0.1, 1, 10]

const DEFAULT_TIMEOUT_MS = 10_000

export interface OtelExporterLogger {
  warn(object: object, message: string): void
}

export interface OtelExporterOptions {
  /** Full OTLP/HTTP metrics URL, e.g. http://127.0.0.1:4318/v1/metrics. */
  readonly endpoint: string
  /** Export period. */
  readonly intervalMs: number
  readonly headers: Readonly<Record<string, string>>
  readonly serviceName: string
  readonly serviceVersion: string
  /** Bound on one export, retries included (default 10 s). */
  readonly timeoutMs?: number
  /** Where failed exports are reported; defaults to the OpenTelemetry diag logger. */
  readonly logger?: OtelExporterLogger
}

export interface OtelExporter {
  /** Individual GC pauses read from a target since the previous poll; recorded into the v8js.gc.duration histogram. */
  recordGcEvents(target: string, events: readonly GcEvent[]): void
  forceFlush(): Promise<void>
  /** Flushes, then stops; safe to call twice. */
  shutdown(): Promise<void>
}

function attributesOf(metric: MetricDefinition, target: string, labels: Labels | undefined): Attributes {
  const attributes: Attributes = { [TARGET_ATTRIBUTE]: target }
  if (labels !== undefined) {
    for (const [label, value] of Object.entries(labels)) attributes[metric.otelAttributes?.[label] ?? label] = value
  }
  return attributes
}

/** ExportResultCode.SUCCESS from @opentelemetry/core, which is not a direct dependency. */
const EXPORT_SUCCESS = 0

type ExportResult = Parameters<Parameters<PushMetricExporter['export']>[1]>[0]

/**
 * Wraps the OTLP exporter for two reasons the SDK has no option for:
 *
 * - Failed exports only reach the SDK's global error handler (silent unless a
 *   diag logger is installed globally); here they go to our logger.
 * - With cumulative temporality the SDK keeps re-exporting every attribute set
 *   an observable gauge ever reported. A gauge series whose label disappears
 *   (an old pid on `leakwatch.target.info`, a resource type no longer active,
 *   a removed target) would then be exported with its last value forever.
 *   Delta for observable gauges exports only what was observed this cycle;
 *   OTLP gauges carry no temporality, so receivers see no difference.
 *   Counters and the histogram stay cumulative.
 */
class ReportingExporter implements PushMetricExporter {
  readonly #inner: OTLPMetricExporter
  readonly #onError: (error: Error) => void

  constructor(inner: OTLPMetricExporter, onError: (error: Error) => void) {
    this.#inner = inner
    this.#onError = onError
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.#inner.export(metrics, (result) => {
      if (result.code !== EXPORT_SUCCESS) this.#onError(result.error ?? new Error('OTLP export failed'))
      resultCallback(result)
    })
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush()
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown()
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return instrumentType === InstrumentType.OBSERVABLE_GAUGE ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE
  }

  selectAggregation(instrumentType: InstrumentType): AggregationOption {
    return this.#inner.selectAggregation(instrumentType)
  }
}

export function createOtelExporter(source: MetricSource, options: OtelExporterOptions): OtelExporter {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const logger = options.logger
  const onError = (error: Error): void => {
    if (logger !== undefined) logger.warn({ err: error, endpoint: options.endpoint }, 'OTLP metrics export failed')
    else diag.warn(`OTLP metrics export to ${options.endpoint} failed: ${error.message}`)
  }

  // Explicit options win over the environment; OTEL_RESOURCE_ATTRIBUTES still
  // adds what leakwatch does not set itself (deployment, k8s attributes, ...).
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: options.serviceName,
        [ATTR_SERVICE_VERSION]: options.serviceVersion,
        [ATTR_SERVICE_INSTANCE_ID]: `${hostname()}:${process.pid}`,
      }),
    )

  const exporter = new ReportingExporter(
    new OTLPMetricExporter({ url: options.endpoint, headers: { ...options.headers }, timeoutMillis: timeoutMs }),
    onError,
  )
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: options.intervalMs,
    // The reader refuses a timeout longer than the interval when both are given.
    exportTimeoutMillis: Math.min(timeoutMs, options.intervalMs),
  })
  const provider = new MeterProvider({ resource, readers: [reader] })
  const meter = provider.getMeter('leakwatch', options.serviceVersion)

  const observed: Array<{ readonly metric: MetricDefinition; readonly instrument: Observable }> = []
  for (const metric of catalog) {
    const instrumentOptions = { description: metric.help, unit: metric.unit }
    if (metric.type === 'gauge') observed.push({ metric, instrument: meter.createObservableGauge(metric.otel, instrumentOptions) })
    else if (metric.type === 'counter') observed.push({ metric, instrument: meter.createObservableCounter(metric.otel, instrumentOptions) })
  }
  // One callback for all instruments, so one collection reads one snapshot and
  // every metric of a target describes the same instant.
  meter.addBatchObservableCallback(
    (result) => {
      const snapshot = snapshotByKey(source)
      for (const { metric, instrument } of observed) {
        for (const { target, sample } of snapshot.get(metric.key) ?? []) {
          if (isHistogramSample(sample)) continue
          // JSON has no NaN/Infinity (they would be sent as null); Prometheus can carry them, OTLP/JSON cannot.
          if (!Number.isFinite(sample.value)) continue
          result.observe(instrument, sample.value, attributesOf(metric, target, sample.labels))
        }
      }
    },
    observed.map(({ instrument }) => instrument),
  )

  const gc = metricByKey('gcDuration')
  const gcDuration = meter.createHistogram(gc.otel, {
    description: gc.help,
    unit: gc.unit,
    advice: { explicitBucketBoundaries: [...GC_DURATION_OTEL_BUCKETS] },
  })

  let shutdown: Promise<void> | undefined
  return {
    recordGcEvents(target, events) {
      for (const event of events) {
        gcDuration.record(event.durationSeconds, attributesOf(gc, target, { kind: event.kind }))
      }
    },
    async forceFlush() {
      // After shutdown the SDK only warns; there is nothing left to flush.
      if (shutdown !== undefined) return
      await provider.forceFlush()
    },
    shutdown() {
      shutdown ??= provider.shutdown()
      return shutdown
    },
  }
}
