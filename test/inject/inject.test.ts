/**
 * `leakwatch inject` (src/inject/inject.ts) on every shape users have: Deployment, StatefulSet,
 * DaemonSet, ReplicaSet, Job, CronJob, Pod, a pod with several containers (one chosen, both
 * chosen, none chosen), NODE_OPTIONS already set (plain: appended; valueFrom: refused; an
 * inspector flag: kept or refused), a List as `kubectl get -o yaml` prints it, JSON, an
 * already-injected input (idempotent: byte for byte), what it refuses and what it warns about.
 * Every output is validated against the Kubernetes schema at the end (test/deploy/k8s-schema.ts).
 */
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { parse, parseAllDocuments, stringify } from 'yaml'
import { type InjectOptions, type InjectResult, injectText, POD_SPEC_PATHS } from '../../src/inject/inject.js'
import { DEFAULT_IMAGE, sidecarContainer } from '../../src/inject/sidecar.js'
import { k8sSchemaProblems } from '../deploy/k8s-schema.js'

// --- helpers ---------------------------------------------------------------------------------

interface EnvVar {
  name: string
  value?: string
  valueFrom?: Record<string, unknown>
}
interface Container {
  name: string
  image?: string
  command?: string[]
  args?: string[]
  env?: EnvVar[]
  ports?: Array<{ name?: string; containerPort: number }>
  restartPolicy?: string
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  [key: string]: unknown
}
interface PodSpec {
  containers: Container[]
  initContainers?: Container[]
  [key: string]: unknown
}
interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; [key: string]: unknown }
  [key: string]: unknown
}

/** Every output object, validated against the Kubernetes schema by the last test. */
const produced: K8sObject[] = []

function objectsOf(output: string): K8sObject[] {
  const text = output.trimStart()
  const docs = text.startsWith('{') ? [JSON.parse(text) as unknown] : parseAllDocuments(output).map((doc) => doc.toJS() as unknown)
  return docs.flatMap((doc) => {
    if (doc === null || typeof doc !== 'object') return []
    const object = doc as K8sObject & { items?: K8sObject[] }
    return object.kind.endsWith('List') && Array.isArray(object.items) ? object.items : [object]
  })
}

function podOf(object: K8sObject): PodSpec {
  let node: unknown = object
  for (const key of POD_SPEC_PATHS[object.kind] ?? []) node = (node as Record<string, unknown>)[key]
  return node as PodSpec
}

function env(container: Container | undefined, name: string): EnvVar | undefined {
  return container?.env?.find((variable) => variable.name === name)
}

function containerOf(pod: PodSpec, name: string): Container {
  const found = [...(pod.initContainers ?? []), ...pod.containers].find((container) => container.name === name)
  if (found === undefined) throw new Error(`no container ${name}`)
  return found
}

/** Inject, expect success, remember the objects, and check that a second run changes nothing. */
function inject(t: Test, text: string, options: InjectOptions = {}): InjectResult & { objects: K8sObject[] } {
  const result = injectText(text, options)
  t.same(result.errors, [], 'not refused')
  const again = injectText(result.output, options)
  t.same(again.errors, [], 'the second run is not refused either')
  t.equal(again.output, result.output, 'idempotent: running inject on its own output changes nothing (byte for byte)')
  t.equal(again.changed, 0, 'and reports no change')
  const objects = objectsOf(result.output)
  produced.push(...objects)
  return { ...result, objects }
}

function refused(t: Test, text: string, options: InjectOptions, pattern: RegExp): InjectResult {
  const result = injectText(text, options)
  t.equal(result.output, '', 'nothing written')
  t.equal(result.errors.length > 0, true, 'refused')
  t.match(result.errors.join('\n'), pattern, 'with the object and the reason')
  return result
}

const deployment = (containers: string, extra = '', kind = 'Deployment', apiVersion = 'apps/v1'): string => `apiVersion: ${apiVersion}
kind: ${kind}
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
${extra}      containers:
${containers}`

const API = `        - name: api
          image: example/api:1.0
          command: ["node", "server.js"]
          resources:
            limits:
              memory: 512Mi
`
const WORKER = `        - name: worker
          image: example/worker:1.0
          command: ["node", "worker.js"]
          resources:
            limits:
              memory: 256Mi
`

// --- shapes ----------------------------------------------------------------------------------

t.test('a Deployment with one container: the native sidecar, NODE_OPTIONS first in env', async (t) => {
  const { objects, changed, notes, warnings } = inject(t, deployment(API))
  t.equal(changed, 1)
  t.match(notes.join('\n'), /Deployment shop\/api: injected/)
  t.same(warnings, [], 'nothing to warn about')
  const pod = podOf(objects[0]!)
  t.same(pod.initContainers, [sidecarContainer({ targets: [{ name: 'api', port: 9229 }], memoryLimitFrom: 'api' })], 'the sidecar the chart renders')
  const sidecar = pod.initContainers![0]!
  t.equal(sidecar.restartPolicy, 'Always', 'native sidecar')
  t.equal(sidecar.image, DEFAULT_IMAGE)
  t.equal(env(sidecar, 'LEAKWATCH_TARGETS')?.value, 'api=127.0.0.1:9229')
  t.same(env(sidecar, 'LEAKWATCH_MEMORY_LIMIT')?.valueFrom, {
    resourceFieldRef: { containerName: 'api', resource: 'limits.memory', divisor: '1' },
  })
  t.same(pod.containers[0]!.env, [{ name: 'NODE_OPTIONS', value: '--inspect=127.0.0.1:9229' }])
  t.same(pod.containers[0]!.command, ['node', 'server.js'], 'the rest of the container untouched')
})

for (const [kind, apiVersion] of [
  ['StatefulSet', 'apps/v1'],
  ['DaemonSet', 'apps/v1'],
  ['ReplicaSet', 'apps/v1'],
  ['Job', 'batch/v1'],
] as const) {
  t.test(`a ${kind}`, async (t) => {
    const text = deployment(API, kind === 'Job' ? '      restartPolicy: Never\n' : '', kind, apiVersion)
    const adjusted =
      kind === 'StatefulSet'
        ? text.replace('spec:\n  selector', 'spec:\n  serviceName: api\n  selector')
        : kind === 'Job'
          ? text.replace(/  selector:\n    matchLabels:\n      app: api\n/, '')
          : text
    const { objects } = inject(t, adjusted)
    const pod = podOf(objects[0]!)
    t.same(
      pod.initContainers?.map((c) => c.name),
      ['leakwatch'],
    )
    t.equal(env(pod.containers[0], 'NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9229')
  })
}

t.test('a CronJob (spec.jobTemplate.spec.template.spec) and a bare Pod', async (t) => {
  const cronJob = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: example/report:1.0
              command: ["node", "report.js"]
              resources: {limits: {memory: 128Mi}}
`
  const { objects } = inject(t, cronJob)
  const pod = podOf(objects[0]!)
  t.equal(pod.initContainers?.[0]?.name, 'leakwatch', 'native sidecar: it does not keep the Job pods from completing')
  t.equal(env(pod.containers[0], 'NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9229')

  const pod2 = `apiVersion: v1
kind: Pod
metadata:
  name: one-off
spec:
  containers:
    - name: app
      image: example/app:1.0
      command: ["node", "app.js"]
      resources: {limits: {memory: 128Mi}}
`
  const bare = inject(t, pod2)
  t.equal(podOf(bare.objects[0]!).initContainers?.[0]?.name, 'leakwatch')
})

// --- several containers ------------------------------------------------------------------------

t.test('several containers: refused when none is chosen', async (t) => {
  const result = refused(t, deployment(API + WORKER), {}, /Deployment shop\/api: has 2 containers \(api, worker\): choose the Node\.js one\(s\) with --container NAME/)
  t.equal(result.changed, 0)
})

t.test('several containers, one chosen: only it gets the inspector and becomes the target', async (t) => {
  const { objects } = inject(t, deployment(API + WORKER), { containers: ['worker'] })
  const pod = podOf(objects[0]!)
  t.equal(env(containerOf(pod, 'api'), 'NODE_OPTIONS'), undefined, 'api untouched')
  t.equal(env(containerOf(pod, 'worker'), 'NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9229')
  const sidecar = containerOf(pod, 'leakwatch')
  t.equal(env(sidecar, 'LEAKWATCH_TARGETS')?.value, 'worker=127.0.0.1:9229')
  t.equal(
    (env(sidecar, 'LEAKWATCH_MEMORY_LIMIT')?.valueFrom as { resourceFieldRef: { containerName: string } }).resourceFieldRef.containerName,
    'worker',
    "the watched container's memory limit",
  )
  refused(t, deployment(API + WORKER), { containers: ['web'] }, /has no container named "web" \(its containers: api, worker\)/)
})

t.test('several containers, both chosen: one inspector port each, one target each', async (t) => {
  const both = inject(t, deployment(API + WORKER), { containers: ['api', 'worker'] })
  const pod = podOf(both.objects[0]!)
  t.equal(env(containerOf(pod, 'api'), 'NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9229')
  t.equal(env(containerOf(pod, 'worker'), 'NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9230')
  const sidecar = containerOf(pod, 'leakwatch')
  t.equal(env(sidecar, 'LEAKWATCH_TARGETS')?.value, 'api=127.0.0.1:9229,worker=127.0.0.1:9230')
  t.equal(env(sidecar, 'LEAKWATCH_MEMORY_LIMIT'), undefined, 'one limit cannot stand for two containers: left out')
  t.match(both.notes.join('\n'), /LEAKWATCH_MEMORY_LIMIT left out.*--memory-limit-from/)

  // A re-run without --container finds the watched containers in the sidecar's targets.
  const rerun = injectText(both.output)
  t.same(rerun.errors, [])
  t.equal(rerun.output, both.output, 'a re-run without --container keeps both targets')
  t.match(rerun.notes.join('\n'), /already injected, unchanged/)

  const chosen = inject(t, deployment(API + WORKER), { containers: ['api', 'worker'], memoryLimitFrom: 'worker', firstPort: 9300 })
  const sidecar2 = containerOf(podOf(chosen.objects[0]!), 'leakwatch')
  t.equal(env(sidecar2, 'LEAKWATCH_TARGETS')?.value, 'api=127.0.0.1:9300,worker=127.0.0.1:9301', '--port moves the first port')
  t.equal((env(sidecar2, 'LEAKWATCH_MEMORY_LIMIT')?.valueFrom as { resourceFieldRef: { containerName: string } }).resourceFieldRef.containerName, 'worker')
})

t.test('inspector ports skip ports the pod already uses; the metrics port must be free', async (t) => {
  const sidecarPorts = `        - name: proxy
          image: example/proxy:1.0
          ports:
            - containerPort: 9229
`
  const { objects } = inject(t, deployment(API + sidecarPorts), { containers: ['api'] })
  t.equal(env(containerOf(podOf(objects[0]!), 'api'), 'NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9230', '9229 is the proxy container port')

  const metricsTaken = API.replace('          resources:', '          ports:\n            - containerPort: 9464\n          resources:')
  refused(t, deployment(metricsTaken), {}, /port 9464 \(leakwatch's metrics port\) is already a port of container "api": pass --listen-port/)
  const moved = inject(t, deployment(metricsTaken), { listenPort: 9465 })
  const sidecar = containerOf(podOf(moved.objects[0]!), 'leakwatch')
  t.equal(env(sidecar, 'LEAKWATCH_LISTEN')?.value, '0.0.0.0:9465')
  t.same(sidecar.ports, [{ name: 'metrics', containerPort: 9465, protocol: 'TCP' }])
  refused(t, deployment(API), { firstPort: 65535, listenPort: 65535 }, /no free inspector port at or above 65535/)
})

// --- NODE_OPTIONS already there ---------------------------------------------------------------

const withNodeOptions = (entry: string): string =>
  deployment(API.replace('          resources:', `          env:\n${entry}          resources:`))

t.test('a plain NODE_OPTIONS value: --inspect is appended, the comment on it kept', async (t) => {
  const text = withNodeOptions('            - name: NODE_OPTIONS\n              value: --max-old-space-size=400 # sized for the 512Mi limit\n')
  const { objects, output } = inject(t, text)
  t.equal(env(podOf(objects[0]!).containers[0], 'NODE_OPTIONS')?.value, '--max-old-space-size=400 --inspect=127.0.0.1:9229')
  t.match(output, /--max-old-space-size=400 --inspect=127\.0\.0\.1:9229 # sized for the 512Mi limit/, 'the comment survives')

  const quoted = inject(t, withNodeOptions('            - name: NODE_OPTIONS\n              value: "--enable-source-maps"\n'))
  t.equal(env(podOf(quoted.objects[0]!).containers[0], 'NODE_OPTIONS')?.value, '--enable-source-maps --inspect=127.0.0.1:9229')
  const empty = inject(t, withNodeOptions('            - name: NODE_OPTIONS\n              value: ""\n            - name: TZ\n              value: UTC\n'))
  t.same(podOf(empty.objects[0]!).containers[0]!.env, [
    { name: 'NODE_OPTIONS', value: '--inspect=127.0.0.1:9229' },
    { name: 'TZ', value: 'UTC' },
  ], 'an empty value is set, in place')
  const nameOnly = inject(t, withNodeOptions('            - name: NODE_OPTIONS\n'))
  t.equal(env(podOf(nameOnly.objects[0]!).containers[0], 'NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9229', 'a variable without a value gets one')
  const folded = inject(t, withNodeOptions('            - name: NODE_OPTIONS\n              value: >-\n                --max-old-space-size=400\n'))
  t.equal(env(podOf(folded.objects[0]!).containers[0], 'NODE_OPTIONS')?.value, '--max-old-space-size=400 --inspect=127.0.0.1:9229')
})

t.test('NODE_OPTIONS from valueFrom: refused (it cannot be edited safely)', async (t) => {
  const text = withNodeOptions(
    '            - name: NODE_OPTIONS\n              valueFrom:\n                configMapKeyRef: {name: node, key: options}\n',
  )
  refused(t, text, {}, /Deployment shop\/api: container "api" takes NODE_OPTIONS from valueFrom .* cannot edit safely: add --inspect=127\.0\.0\.1:9229 at its source/)
})

t.test('an inspector flag already there: kept when it is the right one, refused otherwise', async (t) => {
  const right = inject(t, withNodeOptions('            - name: NODE_OPTIONS\n              value: --inspect=127.0.0.1:9229\n'))
  t.equal(env(podOf(right.objects[0]!).containers[0], 'NODE_OPTIONS')?.value, '--inspect=127.0.0.1:9229', 'not doubled')
  t.equal(right.changed, 1, 'the sidecar is still added')
  const bare = inject(t, withNodeOptions('            - name: NODE_OPTIONS\n              value: --inspect\n'))
  t.equal(env(podOf(bare.objects[0]!).containers[0], 'NODE_OPTIONS')?.value, '--inspect', 'bare --inspect is 127.0.0.1:9229 already')
  const portOnly = inject(t, withNodeOptions('            - name: NODE_OPTIONS\n              value: --inspect-port=9229\n'))
  t.equal(env(podOf(portOnly.objects[0]!).containers[0], 'NODE_OPTIONS')?.value, '--inspect-port=9229 --inspect=127.0.0.1:9229', '--inspect-port alone opens nothing')

  const other = withNodeOptions('            - name: NODE_OPTIONS\n              value: --inspect=127.0.0.1:9230\n')
  refused(t, other, {}, /container "api" already opens the inspector on port 9230 \(--inspect=127\.0\.0\.1:9230\), but inject would watch it on 9229: remove the flag, or pass --port 9230/)
  const moved = inject(t, other, { firstPort: 9230 })
  t.equal(env(containerOf(podOf(moved.objects[0]!), 'leakwatch'), 'LEAKWATCH_TARGETS')?.value, 'api=127.0.0.1:9230')

  refused(t, withNodeOptions('            - name: NODE_OPTIONS\n              value: --inspect=0.0.0.0:9229\n'), {}, /opens the inspector on 0\.0\.0\.0:9229 .* must listen on 127\.0\.0\.1 only/)
  refused(t, withNodeOptions('            - name: NODE_OPTIONS\n              value: --inspect-brk\n'), {}, /has --inspect-brk, which stops the app until a debugger attaches/)
  refused(t, withNodeOptions('            - name: NODE_OPTIONS\n              value: --inspect=127.0.0.1:99999\n'), {}, /inspector flag inject cannot read: --inspect=127\.0\.0\.1:99999/)
  refused(
    t,
    withNodeOptions('            - name: NODE_OPTIONS\n              value: --a\n            - name: NODE_OPTIONS\n              value: --b\n'),
    {},
    /sets NODE_OPTIONS 2 times: keep one/,
  )

  const command = deployment(API.replace('["node", "server.js"]', '["node", "--inspect=127.0.0.1:9229", "server.js"]'))
  const fromCommand = inject(t, command)
  t.equal(env(podOf(fromCommand.objects[0]!).containers[0], 'NODE_OPTIONS'), undefined, 'the command line opens it already: no NODE_OPTIONS')
  refused(t, deployment(API.replace('["node", "server.js"]', '["node", "--inspect=9333", "server.js"]')), {}, /already opens the inspector on port 9333/)
})

// --- what users run into ---------------------------------------------------------------------

t.test('npm, yarn and sh -c "npm start": a warning that npm takes the inspector port', async (t) => {
  for (const command of ['["npm", "start"]', '["/usr/local/bin/yarn", "start"]', '["sh", "-c", "npm run migrate && exec npm start"]', '["pnpm", "start"]']) {
    const { warnings } = inject(t, deployment(API.replace('["node", "server.js"]', command)))
    t.match(warnings.join('\n'), /container "api" starts the app with (npm|yarn|pnpm): .* binds the inspector port first .* "address already in use"/, command)
  }
  const node = inject(t, deployment(API))
  t.same(node.warnings, [], 'node directly: no warning')
  const script = inject(t, deployment(API.replace('["node", "server.js"]', '["sh", "-c", "exec node server.js"]')))
  t.same(script.warnings, [], 'a shell that runs node: no warning')
  const imageDefault = inject(t, deployment(API.replace('          command: ["node", "server.js"]\n', '')))
  t.match(imageDefault.notes.join('\n'), /runs its image's default command: if that is npm or yarn/)
})

t.test('hostNetwork pods are refused: 127.0.0.1 would be the node', async (t) => {
  refused(t, deployment(API, '      hostNetwork: true\n'), {}, /Deployment shop\/api: uses hostNetwork: true, where 127\.0\.0\.1 is the node's loopback/)
  inject(t, deployment(API, '      hostNetwork: false\n'))
})

t.test('other warnings: no memory limit, envFrom, a controller that will undo it, a live Pod', async (t) => {
  const noLimit = inject(t, deployment(API.replace(/          resources:\n.*\n.*\n/, '')))
  t.match(noLimit.warnings.join('\n'), /container "api" has no memory limit, so the downward API passes the node's allocatable memory/)
  const none = inject(t, deployment(API.replace(/          resources:\n.*\n.*\n/, '')), { memoryLimitFrom: 'none' })
  t.same(none.warnings, [], '--memory-limit-from none: no warning')
  t.equal(env(containerOf(podOf(none.objects[0]!), 'leakwatch'), 'LEAKWATCH_MEMORY_LIMIT'), undefined)
  refused(t, deployment(API), { memoryLimitFrom: 'db' }, /--memory-limit-from db: no such container/)

  const envFrom = inject(t, deployment(API.replace('          resources:', '          envFrom:\n            - configMapRef: {name: api}\n          resources:')))
  t.match(envFrom.warnings.join('\n'), /has envFrom: a NODE_OPTIONS it brings in is now overridden/)

  const livePod = `apiVersion: v1
kind: Pod
metadata:
  name: api-7d9f8c6b5d-x2x9q
  uid: 1c3a4b5d-0000-4000-8000-000000000001
  ownerReferences:
    - {apiVersion: apps/v1, kind: ReplicaSet, name: api-7d9f8c6b5d, uid: 1c3a4b5d-0000-4000-8000-000000000002, controller: true}
spec:
  containers:
    - name: api
      image: example/api:1.0
      command: ["node", "server.js"]
      resources: {limits: {memory: 512Mi}}
`
  const live = inject(t, livePod)
  t.match(live.warnings.join('\n'), /is managed by ReplicaSet\/api-7d9f8c6b5d \(ownerReferences\), which will undo this change: inject the ReplicaSet instead/)
  t.match(live.warnings.join('\n'), /the pod template of an existing Pod cannot be changed/)
})

t.test('refused: a classic leakwatch container, no containers, no pod spec', async (t) => {
  const classic = `        - name: leakwatch
          image: ghcr.io/leakwatch/leakwatch:0.1.0
`
  refused(t, deployment(API + classic), { containers: ['api'] }, /already runs leakwatch as a classic container under containers/)
  refused(t, deployment('          []\n').replace('containers:\n          []', 'containers: []'), {}, /Deployment shop\/api: has no containers/)
  refused(t, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {}\n', {}, /Deployment x: has no pod spec at spec\.template\.spec/)
  refused(t, deployment('        - just-a-string\n'), {}, /containers\[0\] is not a container with a name/)
  refused(t, deployment(API, '      initContainers: {}\n'), {}, /initContainers is not a list/)
  // Refusing one object writes nothing for the others either.
  const mixed = injectText(`${deployment(API)}---\n${deployment(API, '      hostNetwork: true\n').replace('name: api\n  namespace', 'name: host\n  namespace')}`)
  t.equal(mixed.output, '', 'one refusal: nothing written at all')
  t.equal(mixed.errors.length, 1)
  t.match(mixed.errors[0], /^document 2: Deployment shop\/host: uses hostNetwork/)
})

// --- streams, Lists, JSON, untouched objects -----------------------------------------------

t.test('a List from kubectl get -o yaml: each item injected, everything else kept, kubectl style', async (t) => {
  const text = readFileSync(new URL('fixtures/kubectl-get-list.yaml', import.meta.url), 'utf8')
  const { objects, output, warnings, changed } = inject(t, text)
  t.equal(changed, 2, 'both Deployments')
  t.same(
    objects.map((o) => o.metadata.name),
    ['api', 'worker'],
  )
  const api = podOf(objects[0]!)
  t.equal(env(api.containers[0], 'NODE_OPTIONS')?.value, '--max-old-space-size=384 --inspect=127.0.0.1:9229', 'appended')
  t.equal(env(api.containers[0], 'PORT')?.value, '8080', 'other variables kept')
  t.equal(containerOf(api, 'leakwatch').restartPolicy, 'Always')
  t.match(warnings.join('\n'), /List item 2: Deployment shop\/worker: container "worker" starts the app with npm/, 'npm in args (image entrypoint) is caught')

  const input = parse(text) as { items: K8sObject[] }
  const result = parse(output) as { items: K8sObject[]; kind: string; metadata: unknown }
  t.equal(result.kind, 'List')
  t.same(result.metadata, { resourceVersion: '' })
  for (const [index, item] of input.items.entries()) {
    const out = result.items[index]!
    t.same(out.metadata, item.metadata, `${item.metadata.name}: metadata (resourceVersion, uid, annotations) kept`)
    t.same(out.status, item.status, `${item.metadata.name}: status kept`)
    const { template: _t, ...spec } = out.spec as Record<string, unknown>
    const { template: _i, ...inputSpec } = item.spec as Record<string, unknown>
    t.same(spec, inputSpec, `${item.metadata.name}: the rest of the spec kept`)
  }
  t.match(output, /\n        initContainers:\n        - name: leakwatch\n/, "kubectl's style: sequences not indented under their key")
  t.notMatch(output, /\n  - apiVersion: apps\/v1\n/, 'the items keep their indentation')
})

t.test('a multi-document stream: untouched documents and comments come back byte for byte', async (t) => {
  const service = `# The Service in front of the API.
apiVersion: v1
kind: Service
metadata: {name: api}   # odd spacing, kept
spec:
  ports: [{port: 80, targetPort: http}]
`
  const configMap = '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG: "on"\n...\n'
  const text = `${service}---\n# Our API (comment before the document)\n${deployment(API)}${configMap}`
  const { output, notes } = inject(t, text)
  t.ok(output.startsWith(service), 'the Service, exactly')
  t.ok(output.endsWith(configMap), 'the ConfigMap, exactly (doc-end marker too)')
  t.match(output, /---\n# Our API \(comment before the document\)\napiVersion: apps\/v1\nkind: Deployment\n/, 'the changed document keeps its comment')
  t.match(notes.join('\n'), /document 1: Service api: not a workload .* passed through unchanged/)
  t.match(notes.join('\n'), /document 3: ConfigMap settings: not a workload/)
  const objects = objectsOf(output)
  t.same(
    objects.map((o) => o.kind),
    ['Service', 'Deployment', 'ConfigMap'],
  )
  t.equal((objects[2]!.data as Record<string, unknown>).LOG, 'on', 'YAML 1.1 scalars ("on") stay strings')

  const stamped = deployment(API).replace('  name: api\n', '  name: api\n  annotations:\n    deployed-at: 2026-11-20T10:12:03Z\n')
  const restamped = inject(t, stamped)
  t.match(restamped.output, /deployed-at: 2026-11-20T10:12:03Z\n/, 'an unquoted timestamp is written back as it was (a string to Kubernetes)')

  const passThrough = 'apiVersion: v1\nkind: Service\nmetadata:   {name: x}\n'
  const untouched = injectText(passThrough)
  t.equal(untouched.output, passThrough)
  t.equal(untouched.changed, 0)
  t.equal(injectText('').output, '', 'empty input, empty output')
  t.equal(injectText('# only a comment\n').output, '# only a comment\n')
  t.match(injectText('- a\n- b\n').notes.join(), /not a Kubernetes object \(not a mapping\)/)
  t.match(injectText('apiVersion: v1\nkind: List\nitems: [1]\n').notes.join(), /List item 1: not a Kubernetes object/)
})

t.test('JSON in (kubectl get -o json), JSON out', async (t) => {
  const json = JSON.stringify(parse(deployment(API)), null, 4)
  const { output, objects } = inject(t, json)
  t.doesNotThrow(() => JSON.parse(output), 'valid JSON')
  t.equal(podOf(objects[0]!).initContainers?.[0]?.name, 'leakwatch')
  const service = '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}'
  t.equal(injectText(service).output, service, 'unchanged JSON is written back as it was')
  t.throws(() => injectText('{"apiVersion": '), { name: 'InjectInputError', message: /starts like JSON but is not JSON/ })
})

t.test('input that is not YAML is a usage error, not a refusal', async (t) => {
  t.throws(() => injectText('apiVersion: v1\nkind: [unclosed\n'), { name: 'InjectInputError', message: /not valid YAML/ })
  t.throws(() => injectText('a: 1\n---\nb: [\n'), /document 2: not valid YAML/)
})

// --- an existing sidecar -------------------------------------------------------------------

t.test('an existing sidecar is updated in place: flags given win, your changes to it stay', async (t) => {
  const first = injectText(deployment(API))
  const tuned = parse(first.output) as K8sObject
  const sidecar = containerOf(podOf(tuned), 'leakwatch')
  sidecar.resources = { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } }
  sidecar.env!.push({ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://collector:4318' })
  sidecar.volumeMounts = [{ name: 'token', mountPath: '/etc/leakwatch', readOnly: true }]
  const text = stringify(tuned)

  const same = inject(t, text)
  t.equal(same.output, text, 'nothing to do: written back as it was')
  t.equal(same.changed, 0)

  const image = inject(t, text, { image: 'registry.example/leakwatch:0.2.0', listenPort: 9500 })
  const updated = containerOf(podOf(image.objects[0]!), 'leakwatch')
  t.equal(updated.image, 'registry.example/leakwatch:0.2.0', '--image applied')
  t.equal(env(updated, 'LEAKWATCH_LISTEN')?.value, '0.0.0.0:9500', '--listen-port applied')
  t.same(updated.ports, [{ name: 'metrics', containerPort: 9500, protocol: 'TCP' }])
  t.same(updated.resources, sidecar.resources, 'tuned resources kept')
  t.same(updated.volumeMounts, sidecar.volumeMounts, 'volume mounts kept')
  t.equal(env(updated, 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value, 'http://collector:4318', 'extra env kept')

  const noLimit = inject(t, text, { memoryLimitFrom: 'none' })
  t.equal(env(containerOf(podOf(noLimit.objects[0]!), 'leakwatch'), 'LEAKWATCH_MEMORY_LIMIT'), undefined, '--memory-limit-from none removes it')
  const staysOff = injectText(noLimit.output)
  t.equal(staysOff.output, noLimit.output, 'and a later run without the flag does not bring it back')

  const minimal = deployment(API, '      initContainers:\n        - name: leakwatch\n          image: registry.example/leakwatch:0.1.0\n')
  const filled = inject(t, minimal)
  const filledSidecar = containerOf(podOf(filled.objects[0]!), 'leakwatch')
  t.same(
    filledSidecar.env?.map((variable) => variable.name),
    ['LEAKWATCH_TARGETS'],
    'a hand-written sidecar without env gets its targets (and no memory limit unless asked for)',
  )
  t.equal(filledSidecar.image, 'registry.example/leakwatch:0.1.0', 'its image kept')

  const broken = parse(text) as K8sObject
  const brokenSidecar = containerOf(podOf(broken), 'leakwatch')
  delete brokenSidecar.restartPolicy
  brokenSidecar.env = brokenSidecar.env!.filter((variable) => variable.name !== 'LEAKWATCH_TARGETS')
  delete brokenSidecar.ports
  const repaired = inject(t, stringify(broken))
  const fixed = containerOf(podOf(repaired.objects[0]!), 'leakwatch')
  t.equal(fixed.restartPolicy, 'Always', 'restartPolicy restored (an init container without it would block the pod)')
  t.equal(fixed.env?.[0]?.name, 'LEAKWATCH_TARGETS', 'targets restored, first')
  t.same(fixed.ports, [{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }], 'metrics port restored')
})

t.test('a sidecar written with --target args (the kustomize base): left alone when the targets agree', async (t) => {
  const base = readFileSync(new URL('../../deploy/kubernetes/base/deployment.yaml', import.meta.url), 'utf8')
  const result = injectText(base)
  t.same(result.errors, [])
  t.equal(result.output, base, 'the base is already what inject makes of it')
  t.equal(result.changed, 0)
  refused(t, base, { firstPort: 9300 }, /already opens the inspector on port 9229/)
  const otherTarget = base.replace('"app=127.0.0.1:9229"', '"api=127.0.0.1:9229"')
  refused(t, otherTarget, { containers: ['app'] }, /sets its targets with --target args \(api=127\.0\.0\.1:9229\), not app=127\.0\.0\.1:9229: remove those args/)
})

// --- everything produced is a valid Kubernetes object --------------------------------------

t.test('every object inject wrote is valid against the Kubernetes schema (unknown fields included)', async (t) => {
  t.ok(produced.length > 40, `${produced.length} objects`)
  t.same(await k8sSchemaProblems(produced), [], 'no schema problems')
  // The check does catch mistakes in a sidecar.
  const typo = structuredClone(produced[0]!)
  podOf(typo).initContainers![0]!.restartPolcy = 'Always'
  const wrongType = structuredClone(produced[0]!)
  podOf(wrongType).initContainers![0]!.ports = [{ containerPort: 'metrics' as unknown as number }]
  const problems = await k8sSchemaProblems([typo, wrongType])
  t.match(problems.join('\n'), /restartPolcy/, 'an unknown field is reported')
  t.match(problems.join('\n'), /containerPort must be integer/, 'a wrong type is reported')
})
