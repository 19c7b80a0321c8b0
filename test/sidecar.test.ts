import t, { type Test } from 'tap'
import { Sidecar } from '../src/sidecar.js'
import { testConfig } from './helpers/config.js'
import { startOtlpReceiver } from './helpers/otlp-receiver.js'
import { ACCEPTED_FINDINGS, checkMetrics, lintFindings, promtoolPath } from './helpers/promtool.js'
import { spawnTarget, waitFor } from './helpers/targets.js'

async function startSidecar(t: Test, config: ConstructorParameters<typeof Sidecar>[0]): Promise<{ sidecar: Sidecar; url: string }> {
  const sidecar = new Sidecar(config, { logger: false })
  const url = await sidecar.start()
  t.teardown(() => sidecar.stop())
  return { sidecar, url }
}

t.test('real targets → /metrics (promtool-clean), /api/targets, health and readiness', async (t) => {
  const cjs = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const esm = await spawnTarget(t, { script: 'test/fixtures/targets/esm-target.mjs' })
  const { sidecar, url } = await startSidecar(
    t,
    testConfig([
      { name: 'cjs', port: cjs.port },
      { name: 'esm', port: esm.port },
    ]),
  )
  await waitFor(() => sidecar.monitors.every((m) => m.status().polls >= 2 && m.status().up), {
    timeoutMs: 10_000,
    what: 'both targets polled',
  })
  const response = await fetch(`${url}/metrics`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const text = await response.text()
  for (const name of ['cjs', 'esm']) {
    t.match(text, new RegExp(`^leakwatch_target_up\\{target="${name}"\\} 1$`, 'm'))
    t.match(text, new RegExp(`^nodejs_heap_size_used_bytes\\{target="${name}"\\} \\d+$`, 'm'))
    t.match(text, new RegExp(`^leakwatch_collector_success\\{target="${name}",collector="heapStatistics"\\} 1$`, 'm'))
  }
  t.match(text, new RegExp(`^leakwatch_target_info\\{target="cjs",pid="${cjs.pid}",node_version="${process.version}"`, 'm'))
  t.match(text, /^leakwatch_process_resident_memory_bytes \d+/m, "the sidecar's own metrics, prefixed")
  t.ok(promtoolPath(), 'promtool is installed (Debian package prometheus; .ci/run installs it)')
  const { status, output } = checkMetrics(text)
  t.same(lintFindings(output), ACCEPTED_FINDINGS, "promtool check metrics finds nothing on the real exposition but prom-client's _total gauges")
  t.equal(status, 3, 'lint findings only, no malformed line')

  const api = (await (await fetch(`${url}/api/targets`)).json()) as {
    targets: Array<{ name: string; up: boolean; process: { pid: number }; collectors: Array<{ name: string; available: boolean }> }>
  }
  t.same(
    api.targets.map((target) => [target.name, target.up, target.process.pid]),
    [
      ['cjs', true, cjs.pid],
      ['esm', true, esm.pid],
    ],
  )
  t.ok(api.targets[0]?.collectors.every((c) => c.available))
  const one = await fetch(`${url}/api/targets/esm`)
  t.equal(((await one.json()) as { name: string }).name, 'esm')
  const missing = await fetch(`${url}/api/targets/nope`)
  t.equal(missing.status, 404)
  t.same(await missing.json(), { error: 'not_found', message: 'no target named "nope"' })
  t.same(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' })
  t.equal((await fetch(`${url}/readyz`)).status, 200)
  t.equal((await fetch(`${url}/no/such/route`)).status, 404)
})

t.test('a stopped target does not slow /metrics down', async (t) => {
  const healthy = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const stopped = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const { sidecar, url } = await startSidecar(
    t,
    testConfig([
      { name: 'healthy', port: healthy.port },
      { name: 'stopped', port: stopped.port, timeoutMs: 2000 },
    ]),
  )
  await waitFor(() => sidecar.monitors.every((m) => m.status().up), { timeoutMs: 10_000, what: 'both up' })
  process.kill(stopped.pid, 'SIGSTOP')
  t.teardown(() => {
    try {
      process.kill(stopped.pid, 'SIGCONT')
    } catch {
      // gone already
    }
  })
  // While polls of the stopped target hang on their timeouts, scrapes answer from the last state.
  let slowest = 0
  for (let i = 0; i < 20; i++) {
    const started = performance.now()
    const response = await fetch(`${url}/metrics`)
    await response.text()
    slowest = Math.max(slowest, performance.now() - started)
    t.equal(response.status, 200)
  }
  t.ok(slowest < 500, `slowest scrape ${slowest.toFixed(0)} ms while a target is stopped`)
  const down = await waitFor(
    async () => {
      const text = await (await fetch(`${url}/metrics`)).text()
      return /^leakwatch_target_up\{target="stopped"\} 0$/m.test(text) && text
    },
    { timeoutMs: 10_000, what: 'stopped target reported down' },
  )
  t.match(down, /^leakwatch_target_up\{target="healthy"\} 1$/m, 'the other target is unaffected')
})

t.test('OTLP export of a real target, flushed on stop, under the target\'s own resource', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', env: { OTEL_SERVICE_NAME: 'checkout', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=e2e' } })
  const receiver = await startOtlpReceiver(t)
  const config = testConfig([{ name: 'api', port: target.port }], {
    otlp: { endpoint: receiver.url, protocol: 'http/protobuf', intervalMs: 60_000, headers: {}, serviceName: 'leakwatch-e2e' },
  })
  const sidecar = new Sidecar(config, { logger: false })
  await sidecar.start()
  await waitFor(() => (sidecar.monitors[0]?.status().polls ?? 0) >= 2, { timeoutMs: 10_000, what: 'polls' })
  await waitFor(() => sidecar.monitors[0]?.samples().some((s) => s.key === 'gcDuration'), { timeoutMs: 10_000, what: 'a GC' })
  // The export interval is a minute: only the flush on stop can deliver the data.
  await sidecar.stop()
  t.ok(receiver.requests.length > 0 && receiver.requests.every((request) => request.protocol === 'http/protobuf'), 'protobuf, the default')
  const heap = receiver.dataPoints('leakwatch.heap.used').find((p) => p.resource['leakwatch.target'] === 'api')
  t.ok(heap !== undefined && (heap.value ?? 0) > 1e6, 'heap used exported under the target\'s resource')
  t.match(heap?.resource, {
    'service.name': 'checkout',
    'deployment.environment.name': 'e2e',
    'process.pid': target.pid,
    'process.executable.path': process.execPath,
    'process.runtime.name': 'nodejs',
    'process.runtime.version': process.versions.node,
  }, "the target's OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, and its process")
  t.match(String(heap?.resource['process.command_args']), /cjs-target\.cjs/, 'the script is among the command arguments')
  t.same(heap?.attributes, {}, 'no target attribute on the point: the resource says it')
  const up = receiver.dataPoints('leakwatch.target.up').find((p) => p.attributes['leakwatch.target'] === 'api')
  t.equal(up?.resource['service.name'], 'leakwatch-e2e', "the sidecar's work goes under its own resource")
  const gc = receiver.dataPoints('v8js.gc.duration')
  t.ok(gc.length > 0 && gc.every((p) => typeof p.attributes['v8js.gc.type'] === 'string'), 'GC histogram by type')
  t.ok(receiver.dataPoints('v8js.memory.heap.used').some((p) => p.attributes['v8js.heap.space.name'] === 'old_space'))
})

t.test('stop: readiness goes false, sessions close, the target is released', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const sidecar = new Sidecar(testConfig([{ name: 'api', port: target.port }]), { logger: false })
  const url = await sidecar.start()
  await waitFor(() => sidecar.monitors[0]?.status().up, { timeoutMs: 10_000, what: 'up' })
  const started = Date.now()
  await sidecar.stop()
  t.ok(Date.now() - started < 3000, 'stops within seconds')
  t.equal(sidecar.monitors[0]?.status().phase, 'stopped')
  await t.rejects(fetch(`${url}/healthz`), 'server closed')
  const list = (await (await fetch(`http://127.0.0.1:${target.port}/json/list`)).json()) as unknown[]
  t.equal(list.length, 1, 'inspector still serves other clients')
})
