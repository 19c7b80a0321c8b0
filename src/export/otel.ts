/**
 * The OpenTelemetry export (OTLP/HTTP, protobuf or JSON), built from the catalog.
 *
 * Mirrors the Prometheus exporter: target values are produced by the
 * collectors on their own schedule, so gauges and counters are observable
 * instruments read from the latest snapshot at collection time. The one
 * exception is the GC pause histogram: OTel histograms cannot be set from the
 * target's pre-bucketed counts (its buckets are prom-client's), so individual
 * pauses are recorded as they are read, into the semantic-convention buckets.
 *
 * Each target's points go out under the target's own resource, the sidecar's
 * work under the sidecar's (src/export/otel-resource.ts).
 */
import { hostname } from 'node:os'
import { diag, type Attributes, type Observable } from '@opentelemetry/api'
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http'
import { OTLPMetricExporter as ProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto'
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources'
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type AggregationOption,
  type InstrumentType,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics'
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions'
import type { GcEvent } from '../collectors/types.js'
import type { OtlpProtocol } from '../config/types.js'
import { isHistogramSample, otelInstrumentOf, type Labels, type ResourceAttributes } from '../core/metrics.js'
import { catalog, metricByKey, type MetricDefinition } from './catalog.js'
import { kubernetesAttributes, pointKey, splitByResource, TARGET_ATTRIBUTE, targetResource } from './otel-resource.js'
import { snapshotByKey, type MetricSource } from './source.js'

export { TARGET_ATTRIBUTE } from './otel-resource.js'

/** Bucket boundaries the semantic conventions advise for `v8js.gc.duration`, in seconds. */
export const GC_DURATION_OTEL_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


const DEFAULT_TIMEOUT_MS = 10_000

export interface OtelExporterLogger {
  warn(object: object, message: string): void
}

export interface OtelExporterOptions {
  /** Full OTLP/HTTP metrics URL, e.g. http://127.0.0.1:4318/v1/metrics. */
  readonly endpoint: string
  /** Encoding of the OTLP/HTTP requests (default http/protobuf). */
  readonly protocol?: OtlpProtocol
  /** Export period. */
  readonly intervalMs: number
  readonly headers: Readonly<Record<string, string>>
  /** service.name of the sidecar's own resource. */
  readonly serviceName: string
  readonly serviceVersion: string
  /** Bound on one export, retries included (default 10 s). */
  readonly timeoutMs?: number
  /** Where failed exports are reported; defaults to the OpenTelemetry diag logger. */
  readonly logger?: OtelExporterLogger
  /** The sidecar's environment, for the pod's k8s.* attributes (default process.env). */
  readonly env?: NodeJS.ProcessEnv
  /** service.name of a target's resource, by target name, where the config gives one. */
  readonly targetServiceNames?: ReadonlyMap<string, string>
}

export interface OtelExporter {
  /** Individual GC pauses read from a target since the previous poll; recorded into the v8js.gc.duration histogram. */
  recordGcEvents(target: string, events: readonly GcEvent[]): void
  forceFlush(): Promise<void>
  /** Flushes, then stops; safe to call twice. */
  shutdown(): Promise<void>
}

function attributesOf(metric: MetricDefinition, target: string, labels: Labels | undefined): Attributes {
  const attributes: Attributes = { [TARGET_ATTRIBUTE]: target, ...metric.otelConstantAttributes }
  if (labels !== undefined) {
    for (const [label, value] of Object.entries(labels)) {
      attributes[metric.otelAttributes?.[label] ?? label] = metric.otelValue === undefined ? value : metric.otelValue(label, value)
    }
  }
  return attributes
}

/** ExportResultCode.SUCCESS from @opentelemetry/core, which is not a direct dependency. */
const EXPORT_SUCCESS = 0

type ExportResult = Parameters<Parameters<PushMetricExporter['export']>[1]>[0]

type InnerExporter = JsonMetricExporter | ProtobufMetricExporter

/**
 * Wraps the OTLP exporter for what the SDK has no option for:
 *
 * - The collected points are split into one ResourceMetrics per resource (each
 *   target's, the sidecar's) and each is exported in turn; the result is the
 *   first failure, else success.
 * - Failed exports only reach the SDK's global error handler (silent unless a
 *   diag logger is installed globally); here they go to our logger.
 */
class ResourceSplittingExporter implements PushMetricExporter {
  readonly #inner: InnerExporter
  readonly #split: (metrics: ResourceMetrics) => ResourceMetrics[]
  readonly #onError: (error: Error) => void

  constructor(inner: InnerExporter, split: (metrics: ResourceMetrics) => ResourceMetrics[], onError: (error: Error) => void) {
    this.#inner = inner
    this.#split = split
    this.#onError = onError
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    const parts = this.#split(metrics)
    const next = (index: number): void => {
      const part = parts[index]
      if (part === undefined) {
        resultCallback({ code: EXPORT_SUCCESS })
        return
      }
      this.#inner.export(part, (result) => {
        if (result.code === EXPORT_SUCCESS) {
          next(index + 1)
          return
        }
        this.#onError(result.error ?? new Error('OTLP export failed'))
        resultCallback(result)
      })
    }
    next(0)
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush()
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown()
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.#inner.selectAggregationTemporality(instrumentType)
  }

  selectAggregation(instrumentType: InstrumentType): AggregationOption {
    return this.#inner.selectAggregation(instrumentType)
  }
}

/** Catalog metrics with an OTel name, grouped by it: two Prometheus series may be one instrument (process.cpu.time). */
function otelInstruments(): Map<string, MetricDefinition[]> {
  const byName = new Map<string, MetricDefinition[]>()
  for (const metric of catalog) {
    if (metric.otel === undefined) continue
    const list = byName.get(metric.otel) ?? []
    const first = list[0]
    if (first !== undefined && (otelInstrumentOf(first) !== otelInstrumentOf(metric) || first.unit !== metric.unit)) {
      throw new Error(`${metric.key} and ${first.key} share the OTel name ${metric.otel} with different instruments or units`)
    }
    byName.set(metric.otel, [...list, metric])
  }
  return byName
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
  const sidecarResource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: options.serviceName,
        [ATTR_SERVICE_VERSION]: options.serviceVersion,
        [ATTR_SERVICE_INSTANCE_ID]: `${hostname()}:${process.pid}`,
      }),
    )
  const pod = kubernetesAttributes(sidecarResource, options.env ?? process.env)
  const withPod = Object.keys(pod).length === 0 ? sidecarResource : sidecarResource.merge(resourceFromAttributes(pod))

  const instruments = otelInstruments()
  const sidecarMetrics = new Set(catalog.filter((metric) => metric.otelResource === 'sidecar' && metric.otel !== undefined).map((metric) => metric.otel as string))
  const observedMetrics = new Set<string>()
  /** pointKey of every point observed in the latest collection. */
  let observed = new Set<string>()
  let reported = new Map<string, ResourceAttributes | undefined>()
  const resourceOf = (target: string): Resource => targetResource(sidecarResource, pod, target, reported.get(target), options.targetServiceNames?.get(target))

  const exporterOptions = { url: options.endpoint, headers: { ...options.headers }, timeoutMillis: timeoutMs }
  const inner = (options.protocol ?? 'http/protobuf') === 'http/json' ? new JsonMetricExporter(exporterOptions) : new ProtobufMetricExporter(exporterOptions)
  const exporter = new ResourceSplittingExporter(
    inner,
    (metrics) => splitByResource(metrics, { sidecarMetrics, observedMetrics, observed, sidecarResource: withPod, resourceOf }),
    onError,
  )
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: options.intervalMs,
    // The reader refuses a timeout longer than the interval when both are given.
    exportTimeoutMillis: Math.min(timeoutMs, options.intervalMs),
  })
  const provider = new MeterProvider({ resource: withPod, readers: [reader] })
  const meter = provider.getMeter('leakwatch', options.serviceVersion)

  const observable: Array<{ readonly metrics: readonly MetricDefinition[]; readonly name: string; readonly instrument: Observable }> = []
  for (const [name, metrics] of instruments) {
    const first = metrics[0] as MetricDefinition
    const instrumentOptions = { description: first.help, unit: first.unit }
    const kind = otelInstrumentOf(first)
    if (kind === 'histogram') continue
    const instrument =
      kind === 'gauge'
        ? meter.createObservableGauge(name, instrumentOptions)
        : kind === 'counter'
          ? meter.createObservableCounter(name, instrumentOptions)
          : meter.createObservableUpDownCounter(name, instrumentOptions)
    observable.push({ metrics, name, instrument })
    observedMetrics.add(name)
  }
  // One callback for all instruments, so one collection reads one snapshot and
  // every metric of a target describes the same instant.
  meter.addBatchObservableCallback(
    (result) => {
      const snapshot = snapshotByKey(source)
      const seen = new Set<string>()
      reported = new Map([...source.targets()].map((target) => [target.name, target.resource?.()]))
      for (const { metrics, name, instrument } of observable) {
        for (const metric of metrics) {
          for (const { target, sample } of snapshot.get(metric.key) ?? []) {
            if (isHistogramSample(sample)) continue
            // JSON has no NaN/Infinity (they would be sent as null); Prometheus can carry them, OTLP/JSON cannot.
            if (!Number.isFinite(sample.value)) continue
            const attributes = attributesOf(metric, target, sample.labels)
            result.observe(instrument, sample.value, attributes)
            seen.add(pointKey(name, attributes))
          }
        }
      }
      observed = seen
    },
    observable.map(({ instrument }) => instrument),
  )

  const gc = metricByKey('gcDuration')
  const gcDuration = meter.createHistogram(gc.otel ?? 'v8js.gc.duration', {
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
