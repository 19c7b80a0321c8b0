/**
 * Every metric leakwatch exports about its targets, assembled from the units
 * that produce them: each collector declares its own, the monitor its view of
 * the target, the leak analysis and the attribution theirs.
 *
 * Both exporters (prom-client and OpenTelemetry) and the metric reference in
 * docs/metrics.md are generated from this list, so a metric cannot exist in one
 * place and be missing in another.
 */
import { ATTRIBUTION_METRICS } from '../attribution/metrics.js'
import { COLLECTOR_METRICS } from '../collectors/registry.js'
import { HOLDER_METRICS } from '../holders/metrics.js'
import type { MetricDefinition } from '../core/metrics.js'
import { ANALYSIS_METRICS } from '../leak/metrics.js'
import { MONITOR_METRICS } from '../monitor/status.js'

export type { MetricDefinition, MetricType } from '../core/metrics.js'

export const catalog: readonly MetricDefinition[] = [...COLLECTOR_METRICS, ...MONITOR_METRICS, ...ANALYSIS_METRICS, ...ATTRIBUTION_METRICS, ...HOLDER_METRICS]

const byKey = new Map<string, MetricDefinition>()
for (const metric of catalog) {
  if (byKey.has(metric.key)) throw new Error(`two metrics have the key ${metric.key}`)
  byKey.set(metric.key, metric)
}

export function metricByKey(key: string): MetricDefinition {
  const metric = byKey.get(key)
  if (metric === undefined) throw new Error(`unknown metric key ${key}`)
  return metric
}

/** The label every target metric carries, naming the target. */
export const TARGET_LABEL = 'target'

/** Prefix of the sidecar's own process metrics, so they never collide with a target's. */
export const SELF_METRICS_PREFIX = 'leakwatch_'
