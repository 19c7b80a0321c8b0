import { writeFileSync } from 'node:fs'
import t from 'tap'
import { startNode } from './helpers/cli.js'
import { spawnTarget, waitFor } from './helpers/targets.js'

const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { version: string }

t.test('--help documents every flag; --version prints the version', async (t) => {
  const help = startNode(t, 'cli.js', ['--help'])
  t.equal(await help.exited, 0)
  for (const flag of [
    '--target', '--listen', '--interval', '--timeout', '--config', '--otlp-endpoint', '--allow-remote-inspector', '--version',
    '--api-token-file', '--protect-metrics', '--protect-health', '--max-concurrent-polls',
  ]) {
    t.match(help.stdout(), flag)
  }
  t.match(help.stdout(), 'LEAKWATCH_TARGETS')
  const version = startNode(t, 'cli.js', ['--version'])
  t.equal(await version.exited, 0)
  t.equal(version.stdout().trim(), pkg.version)
})

t.test('a bad configuration lists every problem and exits 2', async (t) => {
  const bad = startNode(t, 'cli.js', ['--target', 'api=127.0.0.1:99999', '--interval', '15', '--listen', 'nowhere', '--bogus'])
  t.equal(await bad.exited, 2)
  const stderr = bad.stderr()
  t.match(stderr, /invalid configuration/)
  t.match(stderr, /--interval/)
  t.match(stderr, /port/)
  t.match(stderr, /--listen/)
  t.match(stderr, /--bogus/)
  t.equal(bad.stdout(), '')
  const remote = startNode(t, 'cli.js', ['--target', '10.1.2.3:9229'])
  t.equal(await remote.exited, 2)
  t.match(remote.stderr(), /not a loopback address.*--allow-remote-inspector/s)
  const none = startNode(t, 'cli.js', [])
  t.equal(await none.exited, 2, 'no target at all is a config error')
})

t.test('runs against a real target from a config file and env, stops cleanly on SIGTERM', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const dir = t.testdir({})
  const file = `${dir}/leakwatch.yaml`
  writeFileSync(file, `targets:\n  - name: from-file\n    port: ${target.port}\ninterval: 300ms\n`)
  const sidecar = startNode(t, 'cli.js', ['--config', file, '--listen', '127.0.0.1:0'], { LEAKWATCH_LOG_LEVEL: 'info' })
  const match = await sidecar.waitForOutput(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  const url = match[1]
  const text = await waitFor(
    async () => {
      const body = await (await fetch(`${url}/metrics`)).text()
      return /^leakwatch_target_up\{target="from-file"\} 1$/m.test(body) && body
    },
    { timeoutMs: 10_000, what: 'target up in /metrics' },
  )
  t.match(text, /^nodejs_heap_size_used_bytes\{target="from-file"\} \d+/m)
  const started = Date.now()
  sidecar.child.kill('SIGTERM')
  t.equal(await sidecar.exited, 0, 'exit 0 on SIGTERM')
  t.ok(Date.now() - started < 5000, 'within a few seconds')
  const lines = sidecar.stdout().trim().split('\n').map((line) => JSON.parse(line) as { msg: string })
  t.ok(lines.some((line) => line.msg === 'stopping'), 'JSON logs say it is stopping')
})

t.test('LEAKWATCH_TARGETS from the environment', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/esm-target.mjs' })
  const sidecar = startNode(t, 'cli.js', ['--listen', '127.0.0.1:0'], {
    LEAKWATCH_TARGETS: `esm=127.0.0.1:${target.port}`,
    LEAKWATCH_INTERVAL: '300ms',
  })
  const url = (await sidecar.waitForOutput(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/))[1]
  await waitFor(
    async () => ((await (await fetch(`${url}/api/targets/esm`)).json()) as { up: boolean }).up,
    { timeoutMs: 10_000, what: 'esm up' },
  )
  sidecar.child.kill('SIGINT')
  t.equal(await sidecar.exited, 0, 'exit 0 on SIGINT')
})

const TOKEN = '9b1f4e2a7c3d5e6f8a0b1c2d3e4f5a6b'

t.test('LEAKWATCH_API_TOKEN protects the JSON API; /metrics and the probes stay open', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const sidecar = startNode(t, 'cli.js', ['--listen', '127.0.0.1:0', '--target', `app=127.0.0.1:${target.port}`, '--interval', '300ms'], {
    LEAKWATCH_API_TOKEN: TOKEN,
    LEAKWATCH_LOG_LEVEL: 'trace',
  })
  const url = (await sidecar.waitForOutput(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/))[1]
  const auth = { authorization: `Bearer ${TOKEN}` }

  const refused = await fetch(`${url}/api/targets`)
  t.equal(refused.status, 401, 'no token: 401')
  t.equal(refused.headers.get('www-authenticate'), 'Bearer realm="leakwatch"')
  t.strictSame(await refused.json(), { error: 'unauthorized', message: 'this endpoint needs an API token: send "Authorization: Bearer <token>"' })
  t.equal((await fetch(`${url}/api/targets`, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status, 401, 'wrong token: 401')
  t.equal((await fetch(`${url}/api/targets/app`)).status, 401)
  t.equal((await fetch(`${url}/`)).status, 401)

  const allowed = await fetch(`${url}/api/targets`, { headers: auth })
  t.equal(allowed.status, 200, 'with the token: 200')
  t.equal(allowed.headers.get('cache-control'), 'no-store')
  t.equal(allowed.headers.get('x-content-type-options'), 'nosniff')
  await waitFor(
    async () => ((await (await fetch(`${url}/api/targets/app`, { headers: auth })).json()) as { up: boolean }).up,
    { timeoutMs: 10_000, what: 'app up' },
  )

  for (const path of ['/metrics', '/healthz', '/readyz']) t.equal((await fetch(`${url}${path}`)).status, 200, `${path} open without a token`)

  sidecar.child.kill('SIGTERM')
  t.equal(await sidecar.exited, 0)
  const output = sidecar.stdout() + sidecar.stderr()
  t.match(output, /"msg":"unauthorized request"/, 'refusals are logged')
  t.notMatch(output, TOKEN, 'the token is never logged, even at trace level')
  t.notMatch(output, /authorization/i)
})

t.test('--api-token-file (a mounted Secret) with --protect-metrics', async (t) => {
  const dir = t.testdir({ token: `${TOKEN}\n` })
  // The target is never reachable: the server does not need one to answer.
  const sidecar = startNode(t, 'cli.js', [
    '--listen', '127.0.0.1:0', '--target', 'app=127.0.0.1:9', '--api-token-file', `${dir}/token`, '--protect-metrics',
  ])
  const url = (await sidecar.waitForOutput(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/))[1]
  const auth = { authorization: `Bearer ${TOKEN}` }
  t.equal((await fetch(`${url}/metrics`)).status, 401, '/metrics needs the token')
  t.equal((await fetch(`${url}/metrics`, { headers: auth })).status, 200)
  t.equal((await fetch(`${url}/api/targets`)).status, 401)
  t.equal((await fetch(`${url}/api/targets`, { headers: auth })).status, 200)
  t.equal((await fetch(`${url}/healthz`)).status, 200, 'the probes stay open')
  sidecar.child.kill('SIGTERM')
  t.equal(await sidecar.exited, 0)
})

t.test('token problems exit 2 without printing the token', async (t) => {
  const dir = t.testdir({ short: 'tooshort\n', empty: '' })
  const flag = startNode(t, 'cli.js', ['--target', '127.0.0.1:9', '--api-token', TOKEN])
  t.equal(await flag.exited, 2)
  t.match(flag.stderr(), /--api-token: not supported: a token on the command line is visible to every local user through ps/)
  const short = startNode(t, 'cli.js', ['--target', '127.0.0.1:9', '--api-token-file', `${dir}/short`, '--protect-health'])
  t.equal(await short.exited, 2)
  t.match(short.stderr(), /--api-token-file: the token in ".*short" must be at least 16 characters long \(has 8/)
  t.notMatch(short.stderr(), 'tooshort')
  const env = startNode(t, 'cli.js', ['--target', '127.0.0.1:9'], { LEAKWATCH_API_TOKEN: 'a secret with spaces' })
  t.equal(await env.exited, 2)
  t.match(env.stderr(), /LEAKWATCH_API_TOKEN: must be printable ASCII without spaces \(character 2 is not\)/)
  t.notMatch(env.stderr(), 'secret')
  const missing = startNode(t, 'cli.js', ['--target', '127.0.0.1:9', '--protect-metrics'])
  t.equal(await missing.exited, 2)
  t.match(missing.stderr(), /http.protectMetrics: needs an API token/)
})
