/**
 * The Prometheus exposition, built from the catalog.
 *
 * Target values are produced by the collectors on their own schedule, so each
 * catalog entry is registered as a prom-client metric whose `get()` reads the
 * latest snapshot instead of being set from the poll loop. The sidecar's own
 * process metrics come from prom-client's defaults with the `leakwatch_` prefix.
 */
import { Registry, collectDefaultMetrics, type MetricValue } from 'prom-client'
import { isHistogramSample } from '../core/metrics.js'
import { SELF_METRICS_PREFIX, TARGET_LABEL, catalog, type MetricDefinition } from './catalog.js'
import { snapshotByKey, type LabeledSample, type MetricSource } from './source.js'

type Values = Array<MetricValue<string> & { metricName?: string }>

function valuesOf(metric: MetricDefinition, samples: readonly LabeledSample[]): Values {
  const values: Values = []
  for (const { target, sample } of samples) {
    const labels = { [TARGET_LABEL]: target, ...sample.labels }
    if (!isHistogramSample(sample)) {
      values.push({ labels, value: sample.value })
      continue
    }
    const bounds = metric.buckets ?? []
    let cumulative = 0
    bounds.forEach((bound, index) => {
      cumulative += sample.buckets[index] ?? 0
      values.push({ metricName: `${metric.prom}_bucket`, labels: { ...labels, le: bound }, value: cumulative })
    })
    values.push({ metricName: `${metric.prom}_bucket`, labels: { ...labels, le: '+Inf' }, value: sample.count })
    values.push({ metricName: `${metric.prom}_sum`, labels, value: sample.sum })
    values.push({ metricName: `${metric.prom}_count`, labels, value: sample.count })
  }
  return values
}

export interface PrometheusOptions {
  /** Also export the sidecar's own process metrics (prefixed `leakwatch_`). */
  readonly selfMetrics?: boolean
}

export function createPrometheusRegistry(source: MetricSource, options: PrometheusOptions = {}): Registry {
  const registry = new Registry()
  // Every metric's get() runs in the same scrape; build the snapshot once for all of them.
  let snapshot: Map<string, LabeledSample[]> | undefined
  const current = (): Map<string, LabeledSample[]> => {
    if (snapshot === undefined) {
      snapshot = snapshotByKey(source)
      setImmediate(() => {
        snapshot = undefined
      })
    }
    return snapshot
  }
  for (const metric of catalog) {
    const exported = {
      name: metric.prom,
      help: metric.help,
      type: metric.type,
      aggregator: 'sum' as const,
      get: async () => ({
        name: metric.prom,
        help: metric.help,
        type: metric.type,
        aggregator: 'sum',
        values: valuesOf(metric, current().get(metric.key) ?? []),
      }),
    }
    registry.registerMetric(exported as never)
  }
  if (options.selfMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: SELF_METRICS_PREFIX })
    // prom-client exports these sums as gauges named `_total`, which `promtool check metrics`
    // rejects; the same numbers are in the by-type families next to them.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      registry.removeSingleMetric(`${SELF_METRICS_PREFIX}${name}`)
    }
  }
  return registry
}
