/**
 * The leakwatch sidecar container, as `leakwatch inject` renders it: the same container the Helm
 * chart's "leakwatch.sidecarContainer" template renders with the chart's default values, and the
 * same one the kustomize Component (deploy/kubernetes/components/leakwatch-sidecar) adds.
 * test/inject/sources.test.ts holds the three to each other: the chart's values.yaml defaults
 * must equal SIDECAR_DEFAULTS, and the rendered containers must be equal.
 *
 * Pure data: no I/O, no Kubernetes client.
 */
import { VERSION } from '../core/version.js'

/** Kubernetes container fields the sidecar uses (a subset of core/v1 Container). */
export interface EnvVar {
  name: string
  value?: string
  valueFrom?: { resourceFieldRef: { containerName: string; resource: string; divisor: string } } | { fieldRef: { fieldPath: string } }
}
export interface HttpProbe {
  httpGet: { path: string; port: string }
  initialDelaySeconds: number
  periodSeconds: number
  timeoutSeconds: number
  failureThreshold: number
}
export interface SidecarContainer {
  name: string
  image: string
  imagePullPolicy: string
  restartPolicy: 'Always'
  ports: Array<{ name: string; containerPort: number; protocol: string }>
  env: EnvVar[]
  livenessProbe: HttpProbe
  readinessProbe: HttpProbe
  resources: { requests: { cpu: string; memory: string }; limits: { memory: string } }
  securityContext: {
    runAsNonRoot: boolean
    runAsUser: number
    runAsGroup: number
    readOnlyRootFilesystem: boolean
    allowPrivilegeEscalation: boolean
    privileged: boolean
    capabilities: { drop: string[] }
    seccompProfile: { type: string }
  }
}

/** Name of the sidecar container; a re-run finds its own sidecar by it. */
export const SIDECAR_NAME = 'leakwatch'
/** Name of the sidecar's metrics/API port (PodMonitors scrape it by name). */
export const METRICS_PORT_NAME = 'metrics'

/**
 * Defaults, one for one with helm/leakwatch/values.yaml (a test compares them). The sidecar's
 * memory limit is 256Mi: its RSS is ~75 MB idle and its floor climbed to ~129 MiB in the
 * 30-minute soak (docs/benchmarks.md), so 128Mi would be OOM-killed.
 */
export const SIDECAR_DEFAULTS = {
  imageRepository: 'ghcr.io/leakwatch/leakwatch',
  imageTag: VERSION,
  imagePullPolicy: 'IfNotPresent',
  /** Port of the metrics, health and API server (LEAKWATCH_LISTEN=0.0.0.0:<port>). */
  listenPort: 9464,
  /** Inspector port of the first watched container; the next ones get +1, +2, ... */
  firstInspectorPort: 9229,
  interval: '15s',
  attribution: 'on-suspicion',
  logLevel: 'info',
  livenessProbe: { initialDelaySeconds: 5, periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3 },
  readinessProbe: { initialDelaySeconds: 2, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
  resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } },
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  },
} as const

/** The default image reference: the repository at this package's version. */
export const DEFAULT_IMAGE = `${SIDECAR_DEFAULTS.imageRepository}:${SIDECAR_DEFAULTS.imageTag}`

/** One watched process: a container name (the `target` label) and its inspector port on loopback. */
export interface InjectTarget {
  readonly name: string
  readonly port: number
}

/** `name=127.0.0.1:port,...`, the LEAKWATCH_TARGETS value (same syntax as --target). */
export function targetsValue(targets: readonly InjectTarget[]): string {
  return targets.map((target) => `${target.name}=127.0.0.1:${target.port}`).join(',')
}

/** LEAKWATCH_LISTEN for a port. */
export function listenValue(port: number): string {
  return `0.0.0.0:${port}`
}

/**
 * The pod's identity from the downward API, for the `k8s.*` attributes of every OTLP resource
 * (src/export/otel-resource.ts, KUBERNETES_ENV).
 */
export const POD_INFO_ENV: readonly EnvVar[] = [
  { name: 'K8S_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'K8S_POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
  { name: 'K8S_NAMESPACE_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  { name: 'K8S_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
]

/** The downward-API variable carrying a container's memory limit in bytes. */
export function memoryLimitEnv(containerName: string): EnvVar {
  return {
    name: 'LEAKWATCH_MEMORY_LIMIT',
    valueFrom: { resourceFieldRef: { containerName, resource: 'limits.memory', divisor: '1' } },
  }
}

export interface SidecarOptions {
  readonly targets: readonly InjectTarget[]
  /** Container whose limits.memory becomes LEAKWATCH_MEMORY_LIMIT; undefined leaves it out. */
  readonly memoryLimitFrom: string | undefined
  readonly image?: string | undefined
  readonly listenPort?: number | undefined
}

/** The native sidecar container (for a pod's initContainers). */
export function sidecarContainer(options: SidecarOptions): SidecarContainer {
  const d = SIDECAR_DEFAULTS
  const listenPort = options.listenPort ?? d.listenPort
  const env: EnvVar[] = [
    { name: 'LEAKWATCH_TARGETS', value: targetsValue(options.targets) },
    { name: 'LEAKWATCH_LISTEN', value: listenValue(listenPort) },
    { name: 'LEAKWATCH_INTERVAL', value: d.interval },
    { name: 'LEAKWATCH_ATTRIBUTION', value: d.attribution },
    { name: 'LEAKWATCH_LOG_LEVEL', value: d.logLevel },
    ...POD_INFO_ENV.map((variable) => structuredClone(variable)),
  ]
  if (options.memoryLimitFrom !== undefined) env.push(memoryLimitEnv(options.memoryLimitFrom))
  const probe = (path: string, timings: Omit<HttpProbe, 'httpGet'>): HttpProbe => ({
    httpGet: { path, port: METRICS_PORT_NAME },
    ...timings,
  })
  return {
    name: SIDECAR_NAME,
    image: options.image ?? DEFAULT_IMAGE,
    imagePullPolicy: d.imagePullPolicy,
    restartPolicy: 'Always',
    ports: [{ name: METRICS_PORT_NAME, containerPort: listenPort, protocol: 'TCP' }],
    env,
    livenessProbe: probe('/healthz', d.livenessProbe),
    readinessProbe: probe('/readyz', d.readinessProbe),
    resources: {
      requests: { ...d.resources.requests },
      limits: { ...d.resources.limits },
    },
    securityContext: {
      ...d.securityContext,
      capabilities: { drop: [...d.securityContext.capabilities.drop] },
      seccompProfile: { ...d.securityContext.seccompProfile },
    },
  }
}
