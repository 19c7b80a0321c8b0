/**
 * The Helm chart (helm/leakwatch), checked with the real helm v4 binary: `helm lint --strict` and
 * `helm template` for every ci/ values file, assertions on the parsed manifests, the schema's
 * refusals, the named template "leakwatch.sidecarContainer" used from another chart, and the
 * documentation rules (a comment above every key of values.yaml, every key in the schema).
 * Offline: helm's home directories point into a temporary directory, no repository is added.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { KUBERNETES_ENV } from '../../src/export/otel-resource.js'
import { k8sSchemaProblems } from '../deploy/k8s-schema.js'
import { helmBinary } from '../helpers/k8s-tools.js'

const CHART_DIR = fileURLToPath(new URL('../../helm/leakwatch', import.meta.url))
const CI_DIR = join(CHART_DIR, 'ci')
const HELM_TIMEOUT_MS = 30_000
const RELEASE = 'lw'
const NAMESPACE = 'shop'
const FULLNAME = `${RELEASE}-leakwatch`
const APP_VERSION = '0.1.0'
const IMAGE = `ghcr.io/leakwatch/leakwatch:${APP_VERSION}`
const SCHEMA_ERROR = "values don't meet the specifications of the schema"

// --- the parts of Kubernetes objects the assertions read -------------------------------------

interface EnvVar {
  name: string
  value?: string
  valueFrom?: {
    resourceFieldRef?: { containerName?: string; resource: string; divisor?: string }
    secretKeyRef?: { name: string; key: string }
    fieldRef?: { fieldPath: string }
  }
}
interface Probe {
  httpGet?: { path: string; port: string | number }
  periodSeconds?: number
}
interface SecurityContext {
  runAsNonRoot?: boolean
  runAsUser?: number
  runAsGroup?: number
  fsGroup?: number
  readOnlyRootFilesystem?: boolean
  allowPrivilegeEscalation?: boolean
  privileged?: boolean
  capabilities?: { drop?: string[]; add?: string[] }
  seccompProfile?: { type: string }
}
interface Container {
  name: string
  image: string
  command?: string[]
  restartPolicy?: string
  ports?: Array<{ name: string; containerPort: number; protocol?: string }>
  env?: EnvVar[]
  livenessProbe?: Probe
  readinessProbe?: Probe
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: SecurityContext
}
interface PodSpec {
  containers: Container[]
  initContainers?: Container[]
  securityContext?: SecurityContext
  serviceAccountName?: string
  automountServiceAccountToken?: boolean
}
type Labels = Record<string, string>
interface LabelSelector {
  matchLabels?: Labels
}
interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Labels; annotations?: Labels }
  spec?: unknown
  data?: Record<string, string>
}
interface DeploymentSpec {
  replicas: number
  selector: LabelSelector
  template: { metadata: { labels: Labels }; spec: PodSpec }
}
interface ServiceSpec {
  type: string
  selector: Labels
  ports: Array<{ name: string; port: number; targetPort: number | string; protocol: string }>
}
interface PodMonitorSpec {
  selector: LabelSelector
  podMetricsEndpoints: Array<{ port: string; path: string; interval?: string; scrapeTimeout?: string }>
}
interface Rule {
  alert?: string
  record?: string
  expr: string
  for?: string
  labels?: Labels
  annotations?: Labels
}
interface RuleGroup {
  name: string
  rules: Rule[]
}
interface NetworkPolicySpec {
  podSelector: LabelSelector
  policyTypes: string[]
  ingress: Array<{ from?: unknown[]; ports?: Array<{ port: number | string; protocol?: string }> }>
}

// --- running helm -------------------------------------------------------------------------

interface HelmResult {
  code: number
  stdout: string
  stderr: string
}

/** helm's own directories, private to this run: nothing is read from or written to ~/. */
const helmHome = mkdtempSync(join(tmpdir(), 'leakwatch-helm-home-'))
t.teardown(() => rmSync(helmHome, { recursive: true, force: true }))
const helmEnv: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: helmHome,
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_DATA_HOME: join(helmHome, 'data'),
  HELM_NO_PLUGINS: '1',
  KUBECONFIG: join(helmHome, 'no-kubeconfig'),
}

async function helm(args: readonly string[]): Promise<HelmResult> {
  const binary = await helmBinary()
  return new Promise((resolve) => {
    execFile(binary, args, { env: helmEnv, timeout: HELM_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      const killed = error?.killed === true ? `\n(killed after ${HELM_TIMEOUT_MS} ms)` : ''
      resolve({ code, stdout, stderr: `${stderr}${killed}` })
    })
  })
}

/** Options after the chart: -f values files and --set flags. */
function valueArgs(valuesFiles: readonly string[], sets: readonly string[]): string[] {
  return [...valuesFiles.flatMap((file) => ['-f', file]), ...sets.flatMap((set) => ['--set', set])]
}

function templateArgs(valuesFiles: readonly string[], sets: readonly string[], chart = CHART_DIR): string[] {
  return ['template', RELEASE, chart, '--namespace', NAMESPACE, ...valueArgs(valuesFiles, sets)]
}

function parseManifests(text: string): Manifest[] {
  const manifests: Manifest[] = []
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${document.errors.map(String).join('; ')}`)
    const value: unknown = document.toJS()
    if (value !== null && value !== undefined) manifests.push(value as Manifest)
  }
  return manifests
}

/** `helm template`, parsed; fails the test (with helm's message) when helm fails. */
async function render(
  t: Test,
  valuesFiles: readonly string[] = [],
  sets: readonly string[] = [],
  chart = CHART_DIR,
): Promise<Manifest[]> {
  const result = await helm(templateArgs(valuesFiles, sets, chart))
  t.equal(result.code, 0, `helm template ${[...valuesFiles, ...sets].join(' ')} succeeds`, { stderr: result.stderr })
  return parseManifests(result.stdout)
}

// --- reading the manifests ----------------------------------------------------------------

function ofKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter((manifest) => manifest.kind === kind)
}

function only(manifests: readonly Manifest[], kind: string): Manifest {
  const found = ofKind(manifests, kind)
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}, found ${found.length}`)
  return found[0] as Manifest
}

function podSpecOf(manifests: readonly Manifest[]): PodSpec {
  return (only(manifests, 'Deployment').spec as DeploymentSpec).template.spec
}

function containerNamed(containers: readonly Container[] | undefined, name: string): Container {
  const found = (containers ?? []).find((container) => container.name === name)
  if (found === undefined) throw new Error(`no container ${name} in [${(containers ?? []).map((c) => c.name).join(', ')}]`)
  return found
}

/** The leakwatch container, wherever it is (initContainers or containers). */
function leakwatchContainer(pod: PodSpec): Container {
  return containerNamed([...(pod.initContainers ?? []), ...pod.containers], 'leakwatch')
}

function envOf(container: Container): Map<string, EnvVar> {
  return new Map((container.env ?? []).map((variable) => [variable.name, variable]))
}

/** The literal values of the settings variables of the leakwatch container. */
const SETTINGS = ['LEAKWATCH_TARGETS', 'LEAKWATCH_INTERVAL', 'LEAKWATCH_ATTRIBUTION', 'LEAKWATCH_LOG_LEVEL', 'LEAKWATCH_LISTEN'] as const
function settingsOf(container: Container): Record<string, string | undefined> {
  const env = envOf(container)
  return Object.fromEntries(SETTINGS.map((name) => [name, env.get(name)?.value]))
}

function kindsOf(manifests: readonly Manifest[]): string[] {
  return [...new Set(manifests.map((manifest) => manifest.kind))].sort()
}

/** Every label of `selector` is on `labels` with the same value (and there is at least one). */
function selects(selector: Labels | undefined, labels: Labels): boolean {
  const entries = Object.entries(selector ?? {})
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value)
}

function ciFile(name: string): string {
  return join(CI_DIR, name)
}

// --- expectations per ci file -------------------------------------------------------------

/** Kinds each ci values file renders: exactly these, so an optional part that leaks into another file fails. */
const CI_KINDS: Readonly<Record<string, readonly string[]>> = {
  'demo-native-values.yaml': ['Deployment', 'Service', 'ServiceAccount'],
  'demo-classic-values.yaml': ['Deployment', 'Service', 'ServiceAccount'],
  'podmonitor-values.yaml': ['Deployment', 'PodMonitor', 'Service', 'ServiceAccount'],
  'prometheusrule-values.yaml': ['PrometheusRule'],
  'dashboard-values.yaml': ['ConfigMap'],
  'networkpolicy-values.yaml': ['Deployment', 'NetworkPolicy', 'Service', 'ServiceAccount'],
  'apitoken-values.yaml': ['Deployment', 'Secret', 'Service', 'ServiceAccount'],
  'apitoken-existing-values.yaml': ['Deployment', 'Service', 'ServiceAccount'],
  'otlp-values.yaml': ['Deployment', 'Service', 'ServiceAccount'],
  'sidecar-in-app-pods-values.yaml': ['PodMonitor', 'Service'],
}

t.test('every ci values file has expectations here, and every expectation a file', async (t) => {
  const files = readdirSync(CI_DIR).filter((name) => name.endsWith('.yaml')).sort()
  t.same(files, Object.keys(CI_KINDS).sort())
})

t.test('each ci values file passes helm lint --strict and renders the expected kinds with the standard labels', async (t) => {
  for (const [file, kinds] of Object.entries(CI_KINDS)) {
    await t.test(file, async (t) => {
      const lint = await helm(['lint', '--strict', CHART_DIR, '-f', ciFile(file)])
      t.equal(lint.code, 0, 'helm lint --strict passes', { output: `${lint.stdout}${lint.stderr}` })
      t.notMatch(lint.stdout, /\[(WARNING|ERROR)\]/, 'no lint warnings')

      const manifests = await render(t, [ciFile(file)])
      t.same(kindsOf(manifests), [...kinds].sort(), 'kinds')
      for (const manifest of manifests) {
        const where = `${manifest.kind} ${manifest.metadata.name}`
        t.match(manifest.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${where}: DNS-label name`)
        t.ok(manifest.metadata.name.startsWith(FULLNAME), `${where}: named after the release`)
        t.match(
          manifest.metadata.labels,
          {
            'app.kubernetes.io/name': 'leakwatch',
            'app.kubernetes.io/instance': RELEASE,
            'app.kubernetes.io/version': APP_VERSION,
            'app.kubernetes.io/managed-by': 'Helm',
            'app.kubernetes.io/part-of': 'leakwatch',
            'helm.sh/chart': `leakwatch-${APP_VERSION}`,
          },
          `${where}: standard labels`,
        )
      }
    })
  }
})

t.test('what each ci values file renders is valid against the Kubernetes schema (kubernetes-models, unknown fields included)', async (t) => {
  const all: Manifest[] = []
  for (const file of Object.keys(CI_KINDS)) all.push(...(await render(t, [ciFile(file)])))
  t.ok(all.length > 20, `${all.length} objects`)
  t.same(await k8sSchemaProblems(all), [], 'no schema problems')
})

const NOTHING_TO_SELECT = /leakwatch: the Service would select no pods: this release deploys none \(demo\.enabled=false\) and targetPodLabels is empty\. Set targetPodLabels .* or demo\.enabled=true .* or set service\.enabled=false/

t.test('the default install refuses: its Service would select no pods', async (t) => {
  const template = await helm(['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE])
  t.not(template.code, 0, 'helm template with the default values fails')
  t.match(template.stderr, NOTHING_TO_SELECT, 'and says why and what to set')
  // helm lint deliberately lets `fail` pass (it logs it): the chart still lints, install refuses.
  const lint = await helm(['lint', '--strict', CHART_DIR])
  t.equal(lint.code, 0, 'helm lint --strict passes (lint ignores fail by design)', { output: `${lint.stdout}${lint.stderr}` })

  const both = await helm(templateArgs([], ['podMonitor.enabled=true', 'networkPolicy.enabled=true']))
  t.not(both.code, 0)
  t.match(
    both.stderr,
    /the Service and the PodMonitor and the NetworkPolicy would select no pods.*service\.enabled=false and podMonitor\.enabled=false and networkPolicy\.enabled=false/,
    'names every resource that would select nothing, and how to turn each off',
  )
  t.same(await render(t, [], ['service.enabled=false']), [], 'nothing selecting, nothing rendered, no error')
})

t.test('targetPodLabels alone: only the Service, selecting those pods; the optional parts are off', async (t) => {
  const manifests = await render(t, [], ['targetPodLabels.app=api'])
  t.same(kindsOf(manifests), ['Service'])
  const service = only(manifests, 'Service')
  t.equal(service.metadata.namespace, NAMESPACE)
  t.same((service.spec as ServiceSpec).ports, [{ name: 'metrics', port: 9464, targetPort: 9464, protocol: 'TCP' }])
  t.same((service.spec as ServiceSpec).selector, { app: 'api' })
})

t.test('demo, native sidecar: leakwatch is an initContainer with restartPolicy Always', async (t) => {
  const manifests = await render(t, [ciFile('demo-native-values.yaml')])
  const deployment = only(manifests, 'Deployment')
  const spec = deployment.spec as DeploymentSpec
  const pod = spec.template.spec

  t.same(
    (pod.initContainers ?? []).map((c) => c.name),
    ['leakwatch'],
    'leakwatch is the only initContainer',
  )
  t.same(
    pod.containers.map((c) => c.name),
    ['app'],
    'the app is the only regular container',
  )
  const leakwatch = containerNamed(pod.initContainers, 'leakwatch')
  t.equal(leakwatch.restartPolicy, 'Always', 'native sidecar')
  t.equal(leakwatch.image, IMAGE, 'image tag defaults to appVersion')

  const app = containerNamed(pod.containers, 'app')
  t.equal(app.image, IMAGE, 'the demo runs from the leakwatch image')
  t.same(app.command, ['node', 'deploy/demo/app.mjs'])
  t.equal(envOf(app).get('NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9229', 'inspector on loopback only')
  t.equal(envOf(app).get('DEMO_LEAK')?.value, '1')
  t.ok(app.resources?.limits?.memory, 'the app has a memory limit for the downward API to pass on')

  t.ok(selects(spec.selector.matchLabels, spec.template.metadata.labels), 'the selector matches the pod template')
  t.equal(spec.template.metadata.labels['app.kubernetes.io/component'], 'demo')
  t.equal(pod.serviceAccountName, only(manifests, 'ServiceAccount').metadata.name, 'pods use the chart ServiceAccount')
  t.equal(pod.automountServiceAccountToken, false, 'no API token mounted')
  t.equal(only(manifests, 'ServiceAccount').metadata.name, FULLNAME)

  const service = only(manifests, 'Service').spec as ServiceSpec
  t.ok(selects(service.selector, spec.template.metadata.labels), 'the Service selects the demo pods')
})

t.test('the leakwatch container: env (downward API included), port, probes, resources', async (t) => {
  const pod = podSpecOf(await render(t, [ciFile('demo-native-values.yaml')]))
  const leakwatch = leakwatchContainer(pod)
  const env = envOf(leakwatch)

  t.same(settingsOf(leakwatch), {
    LEAKWATCH_TARGETS: 'app=127.0.0.1:9229',
    LEAKWATCH_INTERVAL: '15s',
    LEAKWATCH_ATTRIBUTION: 'on-suspicion',
    LEAKWATCH_LOG_LEVEL: 'info',
    LEAKWATCH_LISTEN: '0.0.0.0:9464',
  })
  t.same(
    env.get('LEAKWATCH_MEMORY_LIMIT'),
    {
      name: 'LEAKWATCH_MEMORY_LIMIT',
      valueFrom: { resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1' } },
    },
    'the app container memory limit, in bytes, through the downward API',
  )
  // Every pod fact the OTLP resources read (KUBERNETES_ENV) comes from the downward API.
  for (const [name, attribute] of Object.entries(KUBERNETES_ENV)) {
    t.ok(env.get(name)?.valueFrom?.fieldRef?.fieldPath, `${name} (${attribute}) from the downward API`)
  }
  t.equal(env.get('K8S_POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name')
  t.notOk(env.has('OTEL_EXPORTER_OTLP_ENDPOINT'), 'no OTLP by default')
  t.notOk(env.has('LEAKWATCH_API_TOKEN'), 'no API token by default')
  for (const variable of leakwatch.env ?? []) {
    t.ok(variable.value !== undefined || variable.valueFrom !== undefined, `${variable.name} has a value`)
    t.ok(variable.value === undefined || typeof variable.value === 'string', `${variable.name} is a string`)
  }

  t.same(leakwatch.ports, [{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }])
  t.match(leakwatch.livenessProbe, { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: Number })
  t.match(leakwatch.readinessProbe, { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: Number })
  t.match(leakwatch.resources, { requests: { cpu: String, memory: String }, limits: { memory: String } })
})

t.test('security: non-root 65532, read-only root, no capabilities, no escalation, seccomp RuntimeDefault', async (t) => {
  for (const file of ['demo-native-values.yaml', 'demo-classic-values.yaml']) {
    const pod = podSpecOf(await render(t, [ciFile(file)]))
    t.same(
      pod.securityContext,
      { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      `${file}: pod securityContext`,
    )
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      t.same(
        container.securityContext,
        {
          runAsNonRoot: true,
          runAsUser: 65532,
          runAsGroup: 65532,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
        `${file}: ${container.name} securityContext`,
      )
    }
  }
})

t.test('demo, classic sidecar: leakwatch is a regular container without restartPolicy', async (t) => {
  const pod = podSpecOf(await render(t, [ciFile('demo-classic-values.yaml')]))
  t.same(pod.initContainers ?? [], [], 'no initContainers')
  t.same(
    pod.containers.map((c) => c.name),
    ['app', 'leakwatch'],
  )
  const leakwatch = containerNamed(pod.containers, 'leakwatch')
  t.equal(leakwatch.restartPolicy, undefined, 'no container restartPolicy on a classic container')
  t.equal(envOf(leakwatch).get('LEAKWATCH_MEMORY_LIMIT')?.valueFrom?.resourceFieldRef?.containerName, 'app')
  t.equal(envOf(containerNamed(pod.containers, 'app')).get('DEMO_LEAK')?.value, '0', 'demo.leak=false: the healthy twin')
})

t.test('native sidecars need Kubernetes 1.29; the classic one renders on older clusters', async (t) => {
  const native = await helm([...templateArgs([ciFile('demo-native-values.yaml')], []), '--kube-version', '1.28.0'])
  t.not(native.code, 0, 'native on 1.28 fails')
  t.match(native.stderr, /native sidecars need Kubernetes >= 1\.29.*sidecar\.native=false/)
  const classic = await helm([...templateArgs([ciFile('demo-classic-values.yaml')], []), '--kube-version', '1.28.0'])
  t.equal(classic.code, 0, 'classic on 1.28 renders', { stderr: classic.stderr })
})

t.test('PodMonitor scrapes the container port "metrics" of the pods running leakwatch', async (t) => {
  const manifests = await render(t, [ciFile('podmonitor-values.yaml')])
  const podMonitor = only(manifests, 'PodMonitor')
  t.equal(podMonitor.apiVersion, 'monitoring.coreos.com/v1')
  t.equal(podMonitor.metadata.labels?.release, 'kube-prometheus-stack', 'extra labels for the Prometheus selector')
  const spec = podMonitor.spec as PodMonitorSpec
  t.same(spec.podMetricsEndpoints, [{ port: 'metrics', path: '/metrics', interval: '15s', scrapeTimeout: '10s' }])

  const deployment = only(manifests, 'Deployment').spec as DeploymentSpec
  t.ok(selects(spec.selector.matchLabels, deployment.template.metadata.labels), 'selects the demo pods')
  const portNames = (leakwatchContainer(deployment.template.spec).ports ?? []).map((port) => port.name)
  t.ok(portNames.includes(spec.podMetricsEndpoints[0]?.port ?? ''), 'the port name exists on the leakwatch container')
})

t.test('targetPodLabels: the Service and PodMonitor select the app pods that carry the sidecar', async (t) => {
  const manifests = await render(t, [ciFile('sidecar-in-app-pods-values.yaml')])
  const labels = { 'app.kubernetes.io/name': 'shop-api' }
  t.same((only(manifests, 'Service').spec as ServiceSpec).selector, labels)
  t.same((only(manifests, 'PodMonitor').spec as PodMonitorSpec).selector.matchLabels, labels)
  const podMonitor = (only(manifests, 'PodMonitor').spec as PodMonitorSpec).podMetricsEndpoints[0]
  t.equal(podMonitor?.interval, '30s', 'default interval')
  t.equal(podMonitor?.scrapeTimeout, undefined, 'no scrapeTimeout unless set')
})

t.test('PrometheusRule: the groups of files/leakwatch-rules.yaml, as they are', async (t) => {
  const manifests = await render(t, [ciFile('prometheusrule-values.yaml')])
  const rule = only(manifests, 'PrometheusRule')
  t.equal(rule.apiVersion, 'monitoring.coreos.com/v1')
  t.equal(rule.metadata.labels?.release, 'kube-prometheus-stack')
  const groups = (rule.spec as { groups: RuleGroup[] }).groups
  const file = parse(readFileSync(join(CHART_DIR, 'files', 'leakwatch-rules.yaml'), 'utf8')) as { groups: RuleGroup[] }
  t.same(groups, file.groups, 'the same groups as the rules file')
  t.ok(groups.length > 0, 'at least one group')

  const alerts = groups.flatMap((group) => group.rules).filter((r) => r.alert !== undefined)
  for (const alert of alerts) {
    t.ok(alert.labels?.severity, `${alert.alert}: severity label`)
    t.ok(alert.annotations?.summary, `${alert.alert}: summary`)
    t.ok(alert.annotations?.description, `${alert.alert}: description`)
  }
  const targetDown = alerts.find((alert) => alert.alert === 'LeakwatchTargetDown')
  t.match(targetDown, { expr: /leakwatch_target_up\s*==\s*0/, for: /^\d+[smh]$/ }, 'LeakwatchTargetDown')
})

/** The chart's files/ hold copies of canonical files elsewhere in the repository (Helm reads only its chart directory). */
const SYNCED_FILES = [
  { chartFile: 'leakwatch-rules.yaml', canonical: 'deploy/prometheus/leakwatch-rules.yaml', read: (text: string): unknown => parse(text) },
  { chartFile: 'leakwatch-dashboard.json', canonical: 'deploy/grafana/leakwatch-dashboard.json', read: (text: string): unknown => JSON.parse(text) },
] as const

for (const { chartFile, canonical, read } of SYNCED_FILES) {
  const chartText = readFileSync(join(CHART_DIR, 'files', chartFile), 'utf8')
  const placeholder = chartText.includes('LEAKWATCH-CHART-PLACEHOLDER')
  t.test(
    `files/${chartFile} is a copy of ${canonical}`,
    { skip: placeholder ? `files/${chartFile} is still the placeholder: copy ${canonical} over it` : false },
    async (t) => {
      const canonicalText = readFileSync(fileURLToPath(new URL(`../../${canonical}`, import.meta.url)), 'utf8')
      t.same(read(chartText), read(canonicalText), `in sync with ${canonical}`)
    },
  )
}

t.test('dashboard ConfigMap: the grafana_dashboard label and the dashboard JSON', async (t) => {
  const configMap = only(await render(t, [ciFile('dashboard-values.yaml')]), 'ConfigMap')
  t.equal(configMap.metadata.labels?.grafana_dashboard, '1')
  t.equal(configMap.metadata.namespace, 'monitoring', 'dashboard.namespace')
  t.equal(configMap.metadata.annotations?.grafana_folder, 'Node.js')
  const json = configMap.data?.['leakwatch-dashboard.json']
  t.type(json, 'string')
  const file: unknown = JSON.parse(readFileSync(join(CHART_DIR, 'files', 'leakwatch-dashboard.json'), 'utf8'))
  t.same(JSON.parse(json ?? 'null'), file, 'the JSON of files/leakwatch-dashboard.json')
  t.match(file, { title: String, uid: String, panels: Array }, 'a Grafana dashboard')
})

t.test('NetworkPolicy: ingress to the metrics port only from the allowed peers, plus extra rules', async (t) => {
  const manifests = await render(t, [ciFile('networkpolicy-values.yaml')])
  const spec = only(manifests, 'NetworkPolicy').spec as NetworkPolicySpec
  const pods = only(manifests, 'Deployment').spec as DeploymentSpec
  t.ok(selects(spec.podSelector.matchLabels, pods.template.metadata.labels), 'applies to the demo pods')
  t.same(spec.policyTypes, ['Ingress'])
  t.same(spec.ingress[0], {
    from: [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
      },
    ],
    ports: [{ port: 9464, protocol: 'TCP' }],
  })
  t.same(spec.ingress[1], { from: [{ podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ port: 3000, protocol: 'TCP' }] })
  t.equal(spec.ingress.length, 2)
})

t.test('API token: a Secret the chart creates, or an existing one, as LEAKWATCH_API_TOKEN', async (t) => {
  const created = await render(t, [ciFile('apitoken-values.yaml')])
  const secret = only(created, 'Secret')
  t.equal(secret.metadata.name, `${FULLNAME}-api-token`)
  t.equal(Buffer.from(secret.data?.token ?? '', 'base64').toString(), 'not-a-real-token')
  t.same(envOf(leakwatchContainer(podSpecOf(created))).get('LEAKWATCH_API_TOKEN')?.valueFrom, {
    secretKeyRef: { name: `${FULLNAME}-api-token`, key: 'token' },
  })

  const existing = await render(t, [ciFile('apitoken-existing-values.yaml')])
  t.same(ofKind(existing, 'Secret'), [], 'no Secret with existingSecret')
  t.same(envOf(leakwatchContainer(podSpecOf(existing))).get('LEAKWATCH_API_TOKEN')?.valueFrom, {
    secretKeyRef: { name: 'leakwatch-token', key: 'api-token' },
  })
})

t.test('OTLP endpoint and extraEnv', async (t) => {
  const leakwatch = leakwatchContainer(podSpecOf(await render(t, [ciFile('otlp-values.yaml')])))
  const env = envOf(leakwatch)
  t.equal(env.get('OTEL_EXPORTER_OTLP_ENDPOINT')?.value, 'http://otel-collector.observability:4318')
  t.equal(env.get('OTEL_SERVICE_NAME')?.value, 'leakwatch-demo')
  t.same(env.get('OTEL_EXPORTER_OTLP_HEADERS')?.valueFrom, { secretKeyRef: { name: 'otlp-auth', key: 'headers' } })
  t.equal(env.size, (leakwatch.env ?? []).length, 'no variable twice')
})

t.test('values reach the container: targets, interval, attribution, log level, port, digest', async (t) => {
  const manifests = await render(t, [ciFile('demo-native-values.yaml')], [
    'leakwatch.targets={api=127.0.0.1:9229,worker=127.0.0.1:9230}',
    'leakwatch.interval=5s',
    'leakwatch.attribution=always',
    'leakwatch.logLevel=debug',
    'leakwatch.port=9465',
    'leakwatch.appContainerName=api',
    `image.digest=sha256:${'a'.repeat(64)}`,
  ])
  const pod = podSpecOf(manifests)
  const leakwatch = leakwatchContainer(pod)
  t.same(settingsOf(leakwatch), {
    LEAKWATCH_TARGETS: 'api=127.0.0.1:9229,worker=127.0.0.1:9230',
    LEAKWATCH_INTERVAL: '5s',
    LEAKWATCH_ATTRIBUTION: 'always',
    LEAKWATCH_LOG_LEVEL: 'debug',
    LEAKWATCH_LISTEN: '0.0.0.0:9465',
  })
  t.equal(envOf(leakwatch).get('LEAKWATCH_MEMORY_LIMIT')?.valueFrom?.resourceFieldRef?.containerName, 'api')
  t.same(
    pod.containers.map((c) => c.name),
    ['api'],
    'the demo container takes appContainerName',
  )
  t.same(leakwatch.ports, [{ name: 'metrics', containerPort: 9465, protocol: 'TCP' }])
  t.equal(leakwatch.image, `${IMAGE}@sha256:${'a'.repeat(64)}`)
  const service = only(manifests, 'Service').spec as ServiceSpec
  t.equal(service.ports[0]?.targetPort, 9465, 'the Service follows the port')

  const noLimit = leakwatchContainer(podSpecOf(await render(t, [ciFile('demo-native-values.yaml')], ['leakwatch.appContainerName='])))
  t.notOk(envOf(noLimit).has('LEAKWATCH_MEMORY_LIMIT'), 'an empty appContainerName leaves the memory limit out')
})

// --- the schema refuses bad values --------------------------------------------------------

/** [what, helm value flags, what the schema error says]. */
const BAD_VALUES: ReadonlyArray<readonly [string, readonly string[], string]> = [
  ['unknown top-level key', ['--set', 'replicaCount=2'], "at '': additional properties 'replicaCount' not allowed"],
  ['unknown nested key (typo)', ['--set', 'demo.enable=true'], "at '/demo': additional properties 'enable' not allowed"],
  ['unknown key in the security context', ['--set', 'securityContext.runAsRoot=true'], "additional properties 'runAsRoot' not allowed"],
  ['attribution outside its enum', ['--set', 'leakwatch.attribution=sometimes'], "at '/leakwatch/attribution': value must be one of"],
  ['log level outside its enum', ['--set', 'leakwatch.logLevel=verbose'], "at '/leakwatch/logLevel': value must be one of"],
  ['seccomp type outside its enum', ['--set', 'securityContext.seccompProfile.type=Default'], "at '/securityContext/seccompProfile/type'"],
  ['string for a boolean', ['--set', 'sidecar.native=yes'], "at '/sidecar/native': got string, want boolean"],
  ['string for an integer', ['--set', 'demo.replicas=two'], "at '/demo/replicas': got string, want integer"],
  ['object for a string', ['--set-json', 'otlp.endpoint={"url":"http://x"}'], "at '/otlp/endpoint': got object, want string"],
  ['port out of range', ['--set', 'leakwatch.port=70000'], "at '/leakwatch/port': maximum"],
  ['bare number as a duration', ['--set-string', 'leakwatch.interval=15'], "at '/leakwatch/interval'"],
  ['target without a port', ['--set', 'leakwatch.targets={app}'], "at '/leakwatch/targets/0'"],
  ['empty target list', ['--set-json', 'leakwatch.targets=[]'], "at '/leakwatch/targets': minItems"],
  ['targets removed', ['--set', 'leakwatch.targets=null'], "missing property 'targets'"],
  ['OTLP endpoint that is not a URL', ['--set', 'otlp.endpoint=collector:4318'], "at '/otlp/endpoint'"],
  ['API token enabled without a token or a Secret', ['--set', 'apiToken.enabled=true'], "at '/apiToken/value'"],
  ['NetworkPolicy enabled without peers', ['--set', 'networkPolicy.enabled=true', '--set', 'networkPolicy.allowFrom=null'], "missing property 'allowFrom'"],
  ['NetworkPolicy peer without selectors', ['--set', 'networkPolicy.enabled=true', '--set-json', 'networkPolicy.allowFrom=[{}]'], "at '/networkPolicy/allowFrom/0'"],
]

t.test('the schema rejects bad values in helm template and helm lint --strict', async (t) => {
  for (const [what, flags, message] of BAD_VALUES) {
    await t.test(what, async (t) => {
      const template = await helm(['template', RELEASE, CHART_DIR, ...flags])
      t.not(template.code, 0, 'helm template fails')
      t.match(template.stderr, SCHEMA_ERROR, 'with a schema error')
      t.match(template.stderr, message)
      const lint = await helm(['lint', '--strict', CHART_DIR, ...flags])
      t.not(lint.code, 0, 'helm lint --strict fails')
      t.match(`${lint.stdout}${lint.stderr}`, message)
    })
  }
})

// --- the named template from another chart ------------------------------------------------

const PARENT_CHART = `apiVersion: v2
name: shop
version: 1.0.0
appVersion: "2.0.0"
dependencies:
  - name: leakwatch
    version: ${APP_VERSION}
    repository: file://${CHART_DIR}
`
const PARENT_VALUES = `# The parent's settings for its leakwatch dependency.
leakwatch:
  targetPodLabels:
    app: api
copyMode: false
`
/** The parent's own Deployment: leakwatch as a native sidecar, called as in helm/leakwatch/README.md. */
const PARENT_NATIVE = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      initContainers:
        {{- include "leakwatch.sidecarContainer" (dict
              "root" .Subcharts.leakwatch
              "targets" (list "api=127.0.0.1:9229")
              "appContainer" "api"
              "native" true) | nindent 8 }}
      containers:
        - name: api
          image: example/api:2.0.0
          env:
            - {name: NODE_OPTIONS, value: "--inspect=127.0.0.1:9229"}
          resources: {limits: {memory: 512Mi}}
`
/** A second Deployment: a classic sidecar, targets as one string, defaults for the rest. */
const PARENT_CLASSIC = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-worker
spec:
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
        - name: worker
          image: example/worker:2.0.0
          resources: {limits: {memory: 256Mi}}
        {{- include "leakwatch.sidecarContainer" (dict "root" .Subcharts.leakwatch "targets" "a=127.0.0.1:9229,b=127.0.0.1:9230" "appContainer" "worker" "native" false) | nindent 8 }}
`
/** The "values" parameter: the parent's own context with the leakwatch values handed over. */
const PARENT_COPY_MODE = `{{- if .Values.copyMode }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-copy
spec:
  selector:
    matchLabels: {app: copy}
  template:
    metadata:
      labels: {app: copy}
    spec:
      containers:
        - name: app
          image: example/copy:2.0.0
        {{- include "leakwatch.sidecarContainer" (dict "root" . "values" .Values.leakwatch "native" false) | nindent 8 }}
{{- end }}
`

t.test('"leakwatch.sidecarContainer" adds the sidecar to another chart\'s pods (file:// dependency, offline)', async (t) => {
  const parent = t.testdir({
    'Chart.yaml': PARENT_CHART,
    'values.yaml': PARENT_VALUES,
    templates: { 'api.yaml': PARENT_NATIVE, 'worker.yaml': PARENT_CLASSIC, 'copy.yaml': PARENT_COPY_MODE },
  })
  const dependency = await helm(['dependency', 'update', parent])
  t.equal(dependency.code, 0, 'helm dependency update (file://) works offline', { output: `${dependency.stdout}${dependency.stderr}` })
  const lint = await helm(['lint', '--strict', parent])
  t.equal(lint.code, 0, 'the parent chart lints', { output: `${lint.stdout}${lint.stderr}` })

  const manifests = await render(t, [], [], parent)
  const deployments = new Map(ofKind(manifests, 'Deployment').map((d) => [d.metadata.name, (d.spec as DeploymentSpec).template.spec]))
  t.same([...deployments.keys()].sort(), [`${RELEASE}-api`, `${RELEASE}-worker`], "the parent's Deployments (leakwatch's demo is off)")

  const api = deployments.get(`${RELEASE}-api`) as PodSpec
  t.same(
    (api.initContainers ?? []).map((c) => c.name),
    ['leakwatch'],
  )
  const native = containerNamed(api.initContainers, 'leakwatch')
  t.equal(native.restartPolicy, 'Always', 'native sidecar shape')
  t.equal(native.image, IMAGE, "leakwatch's appVersion, not the parent's")
  t.equal(envOf(native).get('LEAKWATCH_TARGETS')?.value, 'api=127.0.0.1:9229')
  t.same(envOf(native).get('LEAKWATCH_MEMORY_LIMIT')?.valueFrom, {
    resourceFieldRef: { containerName: 'api', resource: 'limits.memory', divisor: '1' },
  })
  t.same(native.ports, [{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }])
  t.equal(native.securityContext?.readOnlyRootFilesystem, true)
  t.same(native.securityContext?.capabilities, { drop: ['ALL'] })
  t.equal(native.readinessProbe?.httpGet?.path, '/readyz')

  const worker = deployments.get(`${RELEASE}-worker`) as PodSpec
  t.same(
    worker.containers.map((c) => c.name),
    ['worker', 'leakwatch'],
  )
  const classic = containerNamed(worker.containers, 'leakwatch')
  t.equal(classic.restartPolicy, undefined, 'classic sidecar shape')
  t.equal(envOf(classic).get('LEAKWATCH_TARGETS')?.value, 'a=127.0.0.1:9229,b=127.0.0.1:9230', 'targets as one string')
  t.equal(envOf(classic).get('LEAKWATCH_MEMORY_LIMIT')?.valueFrom?.resourceFieldRef?.containerName, 'worker')

  const service = only(manifests, 'Service')
  t.equal(service.metadata.name, FULLNAME, "the dependency's own resources render too")
  t.same((service.spec as ServiceSpec).selector, { app: 'api' }, 'selecting the parent pods through targetPodLabels')

  // root = the parent's context, leakwatch values handed over: the image tag must then be explicit.
  const copyWithoutTag = await helm(templateArgs([], ['copyMode=true'], parent))
  t.not(copyWithoutTag.code, 0)
  t.match(copyWithoutTag.stderr, /set image\.tag.*"shop", not leakwatch/)
  const copy = await render(t, [], ['copyMode=true', 'leakwatch.image.tag=0.1.0'], parent)
  const copied = ofKind(copy, 'Deployment').find((d) => d.metadata.name === `${RELEASE}-copy`)
  const copiedSidecar = containerNamed((copied?.spec as DeploymentSpec | undefined)?.template.spec.containers, 'leakwatch')
  t.equal(copiedSidecar.image, IMAGE)
  t.equal(envOf(copiedSidecar).get('LEAKWATCH_TARGETS')?.value, 'app=127.0.0.1:9229', 'default targets from the values')
  t.equal(envOf(copiedSidecar).get('LEAKWATCH_MEMORY_LIMIT')?.valueFrom?.resourceFieldRef?.containerName, 'app')
})

// --- documentation rules ------------------------------------------------------------------

const VALUES_TEXT = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')
/** A mapping key on its own line, possibly as the first key of a list item. */
const KEY_LINE = /^\s*(?:-\s+)?(?:"[^"]+"|'[^']+'|[A-Za-z0-9_./-]+):(?:\s|$)/

t.test('values.yaml: a comment above every key', async (t) => {
  const lines = VALUES_TEXT.split('\n')
  const uncommented: string[] = []
  let keys = 0
  lines.forEach((line, index) => {
    if (line.trimStart().startsWith('#') || !KEY_LINE.test(line)) return
    keys += 1
    const previous = lines
      .slice(0, index)
      .reverse()
      .find((candidate) => candidate.trim() !== '')
    if (previous === undefined || !previous.trimStart().startsWith('#')) uncommented.push(`line ${index + 1}: ${line.trim()}`)
  })
  t.ok(keys > 50, `found the keys (${keys})`)
  t.same(uncommented, [], 'keys without a comment line right above them')
})

interface SchemaNode {
  type?: string | string[]
  description?: string
  $ref?: string
  properties?: Record<string, SchemaNode>
  additionalProperties?: boolean | SchemaNode
  items?: SchemaNode
  definitions?: Record<string, SchemaNode>
  enum?: unknown[]
}

const SCHEMA = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as SchemaNode & { $schema: string }

function resolve(node: SchemaNode): SchemaNode {
  if (node.$ref === undefined) return node
  const name = /^#\/definitions\/(.+)$/.exec(node.$ref)?.[1]
  const target = name === undefined ? undefined : SCHEMA.definitions?.[name]
  if (target === undefined) throw new Error(`unresolved $ref ${node.$ref}`)
  return resolve(target)
}

t.test('values.schema.json: draft-07, every values key described, additionalProperties false on every fixed-key object', async (t) => {
  t.equal(SCHEMA.$schema, 'http://json-schema.org/draft-07/schema#')

  const undescribed: string[] = []
  const walkValues = (value: unknown, node: SchemaNode, path: string): void => {
    const schema = resolve(node)
    if (Array.isArray(value)) {
      if (schema.items === undefined) undescribed.push(`${path}[]: no items schema`)
      else value.forEach((item, i) => walkValues(item, schema.items as SchemaNode, `${path}[${i}]`))
      return
    }
    if (value === null || typeof value !== 'object' || schema.properties === undefined) return // a scalar, or a free-form map
    for (const [key, child] of Object.entries(value)) {
      const property = schema.properties[key]
      if (property === undefined) undescribed.push(`${path}.${key}: not in the schema`)
      else {
        if (!property.description && !resolve(property).description) undescribed.push(`${path}.${key}: no description`)
        walkValues(child, property, `${path}.${key}`)
      }
    }
  }
  walkValues(parse(VALUES_TEXT), SCHEMA, '')
  t.same(undescribed, [], 'every key of values.yaml is in the schema, with a description')

  const open: string[] = []
  const walkSchema = (node: SchemaNode, path: string): void => {
    const isObject = node.type === 'object' || (Array.isArray(node.type) && node.type.includes('object'))
    if (isObject && path !== '.properties.global') {
      if (node.properties !== undefined && node.additionalProperties !== false) open.push(`${path}: fixed keys but additionalProperties is not false`)
      if (node.properties === undefined && typeof node.additionalProperties !== 'object') open.push(`${path}: a map without a value schema`)
    }
    for (const [key, child] of Object.entries(node.properties ?? {})) walkSchema(child, `${path}.properties.${key}`)
    for (const [key, child] of Object.entries(node.definitions ?? {})) walkSchema(child, `${path}.definitions.${key}`)
    if (node.items !== undefined) walkSchema(node.items, `${path}.items`)
    if (typeof node.additionalProperties === 'object') walkSchema(node.additionalProperties, `${path}.additionalProperties`)
  }
  walkSchema(SCHEMA, '')
  t.same(open, [], 'objects that would accept unknown keys')

  const leakwatch = resolve(SCHEMA.properties?.leakwatch ?? {}).properties
  t.same(leakwatch?.attribution?.enum, ['off', 'on-suspicion', 'always'], 'attribution modes')
  t.same(leakwatch?.logLevel?.enum, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'log levels')
})
