import { writeFileSync } from 'node:fs'
import t from 'tap'
import { startNode } from './helpers/cli.js'
import { spawnTarget, waitFor } from './helpers/targets.js'

const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { version: string }

t.test('--help documents every flag; --version prints the version', async (t) => {
  const help = startNode(t, 'cli.js', ['--help'])
  t.equal(await help.exited, 0)
  for (const flag of ['--target', '--listen', '--interval', '--timeout', '--config', '--otlp-endpoint', '--allow-remote-inspector', '--version']) {
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
