/**
 * Which OpenTelemetry resource each data point belongs to. A backend attributes a
 * metric to its resource's `service.name`, so the runtime metrics of a watched process
 * go out under that process's own resource, and only what describes the sidecar's work
 * (polls, connects, collectors) under the sidecar's.
 *
 * The SDK has one resource per MeterProvider; the points of every target are collected
 * together, carrying the target's name in TARGET_ATTRIBUTE, and split here into one
 * ResourceMetrics per resource just before they are exported.
 */
import type { Attributes } from '@opentelemetry/api'
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources'
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics'
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions'
import type { ResourceAttributes } from '../core/metrics.js'

/** The attribute naming the target on every collected point (the OTel twin of the `target` label). */
export const TARGET_ATTRIBUTE = 'leakwatch.target'

/**
 * Pod facts the downward API can give the sidecar (`env[].valueFrom.fieldRef`): they are
 * the same for the sidecar and the processes it watches in its pod.
 */
export const KUBERNETES_ENV: Readonly<Record<string, string>> = {
  K8S_POD_NAME: 'k8s.pod.name',
  K8S_POD_UID: 'k8s.pod.uid',
  K8S_NAMESPACE_NAME: 'k8s.namespace.name',
  K8S_NODE_NAME: 'k8s.node.name',
}

/**
 * The `k8s.*` attributes of the sidecar's pod: its own resource's (OTEL_RESOURCE_ATTRIBUTES),
 * with the downward-API variables of KUBERNETES_ENV over them.
 */
export function kubernetesAttributes(sidecarResource: Resource, env: NodeJS.ProcessEnv): Record<string, string> {
  const attributes: Record<string, string> = {}
  for (const [key, value] of Object.entries(sidecarResource.attributes)) {
    if (key.startsWith('k8s.') && typeof value === 'string') attributes[key] = value
  }
  for (const [name, key] of Object.entries(KUBERNETES_ENV)) {
    const value = env[name]?.trim()
    if (value) attributes[key] = value
  }
  return attributes
}

/**
 * A target's resource: the SDK's own attributes (`telemetry.sdk.*`), the pod's `k8s.*`,
 * what the target said about itself (its OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME,
 * its process attributes), and its name. `service.name` is the config's for this target when
 * it gives one, else the target's own when it has one, else the target's name.
 */
export function targetResource(
  sdk: Resource,
  pod: Readonly<Record<string, string>>,
  name: string,
  reported: ResourceAttributes | undefined,
  serviceName?: string,
): Resource {
  const attributes: Attributes = {}
  for (const [key, value] of Object.entries(sdk.attributes)) if (key.startsWith('telemetry.sdk.')) attributes[key] = value
  Object.assign(attributes, pod)
  for (const [key, value] of Object.entries(reported ?? {})) attributes[key] = Array.isArray(value) ? [...(value as readonly string[])] : (value as string | number)
  if (serviceName !== undefined) attributes[ATTR_SERVICE_NAME] = serviceName
  else if (typeof attributes[ATTR_SERVICE_NAME] !== 'string' || attributes[ATTR_SERVICE_NAME] === '') attributes[ATTR_SERVICE_NAME] = name
  attributes[TARGET_ATTRIBUTE] = name
  return resourceFromAttributes(attributes)
}

/** Identity of an observed point: its metric and its attributes, whatever their order. */
export const pointKey = (metric: string, attributes: Attributes): string =>
  `${metric}\u0000${JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`

export interface SplitOptions {
  /** OTel names of the metrics that describe the sidecar's work (they stay under its resource). */
  readonly sidecarMetrics: ReadonlySet<string>
  /** OTel names of the observable instruments: only their points observed in the latest collection are exported. */
  readonly observedMetrics: ReadonlySet<string>
  /** pointKey of every point observed in the latest collection. */
  readonly observed: ReadonlySet<string>
  readonly sidecarResource: Resource
  readonly resourceOf: (target: string) => Resource
}

/**
 * One ResourceMetrics per resource: the sidecar's (its own metrics, and anything not
 * about a target) and each target's (its points, without TARGET_ATTRIBUTE, which its
 * resource carries). Observable points not observed in the latest collection are left
 * out: with cumulative temporality the SDK would otherwise keep exporting the last
 * value of a series whose target went away, or of a resource type no longer active.
 */
export function splitByResource(collected: ResourceMetrics, options: SplitOptions): ResourceMetrics[] {
  const sidecar: MetricData[] = []
  const byTarget = new Map<string, MetricData[]>()
  for (const scope of collected.scopeMetrics) {
    for (const metric of scope.metrics) {
      const name = metric.descriptor.name
      const points = options.observedMetrics.has(name)
        ? (metric.dataPoints as Array<{ attributes: Attributes }>).filter((point) => options.observed.has(pointKey(name, point.attributes)))
        : (metric.dataPoints as Array<{ attributes: Attributes }>)
      const own: typeof points = []
      const perTarget = new Map<string, typeof points>()
      for (const point of points) {
        const target = point.attributes[TARGET_ATTRIBUTE]
        if (options.sidecarMetrics.has(name) || typeof target !== 'string') {
          own.push(point)
          continue
        }
        const { [TARGET_ATTRIBUTE]: _target, ...attributes } = point.attributes
        let list = perTarget.get(target)
        if (list === undefined) perTarget.set(target, (list = []))
        list.push({ ...point, attributes })
      }
      if (own.length > 0) sidecar.push({ ...metric, dataPoints: own } as MetricData)
      for (const [target, list] of perTarget) {
        let metrics = byTarget.get(target)
        if (metrics === undefined) byTarget.set(target, (metrics = []))
        metrics.push({ ...metric, dataPoints: list } as MetricData)
      }
    }
  }
  const scope = collected.scopeMetrics[0]?.scope ?? { name: 'leakwatch' }
  const out: ResourceMetrics[] = []
  if (sidecar.length > 0) out.push({ resource: options.sidecarResource, scopeMetrics: [{ scope, metrics: sidecar }] })
  for (const [target, metrics] of byTarget) out.push({ resource: options.resourceOf(target), scopeMetrics: [{ scope, metrics }] })
  return out
}
