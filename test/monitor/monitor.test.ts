import t from 'tap'
import type { ScalarSample } from '../../src/core/metrics.js'
import { backoffDelay } from '../../src/monitor/monitor.js'
import { startMonitor } from '../helpers/monitor.js'
import { freePort, spawnTarget, waitFor } from '../helpers/targets.js'

const value = (samples: readonly unknown[], key: string, labels: Record<string, string> = {}): number | undefined =>
  (samples as ScalarSample[]).find(
    (s) => s.key === key && Object.entries(labels).every(([k, v]) => s.labels?.[k] === v),
  )?.value

for (const script of ['test/fixtures/targets/cjs-target.cjs', 'test/fixtures/targets/esm-target.mjs']) {
  t.test(`every collector works against a real ${script.endsWith('.mjs') ? 'ESM' : 'CommonJS'} target`, async (t) => {
    const target = await spawnTarget(t, { script })
    const monitor = startMonitor(t, target.port)
    // Three polls (utilization needs a previous reading) and a GC seen by the observer.
    await waitFor(
      () =>
        monitor.status().polls >= 3 &&
        monitor.status().up &&
        monitor.samples().some((s) => s.key === 'gcDuration' && s.labels?.['kind'] === 'minor'),
      { timeoutMs: 10_000, what: 'three polls and a minor GC' },
    )
    const status = monitor.status()
    t.equal(status.phase, 'connected')
    t.equal(status.process?.pid, target.pid)
    t.same(
      status.collectors.filter((c) => !c.available || c.success !== true).map((c) => [c.name, c.lastError]),
      [],
      'all collectors available and successful',
    )
    const samples = monitor.samples()
    t.ok((value(samples, 'heapUsed') ?? 0) > 1e6, 'heap used in bytes')
    t.ok((value(samples, 'heapLimit') ?? 0) > 1e8, 'heap limit')
    t.ok((value(samples, 'rss') ?? 0) > 1e7, 'rss')
    t.ok((value(samples, 'heapSpaceUsed', { space: 'old' }) ?? 0) > 0, 'old space')
    t.equal(value(samples, 'targetInfo', { pid: String(target.pid) }), 1)
    t.equal(value(samples, 'activeResources', { type: 'TCPServerWrap' }), 1, 'the http server')
    t.ok(samples.some((s) => s.key === 'gcDuration' && s.labels?.['kind'] === 'minor'), 'minor GCs counted')
    t.ok(samples.some((s) => s.key === 'eventLoopUtilization'), 'utilization')
    t.equal(value(samples, 'targetUp'), 1)
    t.equal(value(samples, 'collectorSuccess', { collector: 'gc' }), 1)
  })
}

t.test('without process.getBuiltinModule in an ES module, heapStatistics is reported unavailable', async (t) => {
  const target = await spawnTarget(t, {
    script: 'test/fixtures/targets/esm-target.mjs',
    nodeArgs: ['--require', './test/fixtures/no-builtin-module.cjs'],
  })
  const monitor = startMonitor(t, target.port)
  await waitFor(() => monitor.status().polls >= 2, { timeoutMs: 10_000, what: 'two polls' })
  const byName = new Map(monitor.status().collectors.map((c) => [c.name, c]))
  t.equal(byName.get('heapStatistics')?.available, false)
  t.equal(byName.get('heapStatistics')?.lastError?.code, 'LW_ERR_UNAVAILABLE')
  t.equal(byName.get('heap')?.success, true, 'the rest keeps working')
  t.equal(byName.get('gc')?.success, true, 'GC observer works without the v8 module')
  t.equal(monitor.status().up, true)
  const samples = monitor.samples()
  t.equal(value(samples, 'collectorAvailable', { collector: 'heapStatistics' }), 0)
  t.equal(value(samples, 'heapLimit'), undefined, 'no stale or fake values')
})

t.test('a target that is not listening yet is retried until it appears', async (t) => {
  const port = await freePort()
  const monitor = startMonitor(t, port)
  await waitFor(() => monitor.status().lastError?.code === 'LW_ERR_CONNECT', { timeoutMs: 5000, what: 'connect error' })
  t.equal(monitor.status().up, false)
  t.equal(value(monitor.samples(), 'targetUp'), 0)
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', inspectPort: port })
  await waitFor(() => monitor.status().up, { timeoutMs: 10_000, what: 'up after the target appears' })
  t.equal(monitor.status().process?.pid, target.pid)
  t.equal(monitor.status().lastError, null)
})

t.test('a killed and restarted target is found again and counted as a restart', async (t) => {
  const port = await freePort()
  const first = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', inspectPort: port })
  const monitor = startMonitor(t, port)
  await waitFor(() => monitor.status().up, { timeoutMs: 10_000, what: 'first up' })
  await first.kill('SIGKILL')
  await waitFor(() => !monitor.status().up, { timeoutMs: 5000, what: 'down after kill' })
  t.equal(value(monitor.samples(), 'heapUsed'), undefined, 'values of a gone target are not exported')
  const second = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', inspectPort: port })
  await waitFor(() => monitor.status().up && monitor.status().process?.pid === second.pid, {
    timeoutMs: 10_000,
    what: 'up on the new process',
  })
  t.equal(monitor.status().restarts, 1)
  t.equal(monitor.status().connects, 2)
})

t.test('a stopped target times out, polls never pile up, and it recovers on SIGCONT', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const monitor = startMonitor(t, target.port, { intervalMs: 100, timeoutMs: 300 })
  await waitFor(() => monitor.status().up, { timeoutMs: 10_000, what: 'up' })
  const connects = monitor.status().connects
  process.kill(target.pid, 'SIGSTOP')
  t.teardown(() => {
    try {
      process.kill(target.pid, 'SIGCONT')
    } catch {
      // already gone
    }
  })
  await waitFor(() => monitor.status().lastError?.code === 'LW_ERR_TIMEOUT', { timeoutMs: 5000, what: 'a timeout' })
  t.equal(monitor.status().up, false)
  // While stopped, reconnects keep timing out; a poll never runs twice at once.
  await waitFor(() => monitor.status().phase === 'backoff', { timeoutMs: 5000, what: 'backoff' })
  process.kill(target.pid, 'SIGCONT')
  await waitFor(() => monitor.status().up, { timeoutMs: 10_000, what: 'up after SIGCONT' })
  t.ok(monitor.status().connects > connects, 'reconnected')
  t.equal(monitor.status().restarts, 0, 'same process: a reconnect, not a restart')
})

t.test('watching never pauses the target (no Debugger domain) and never delays its exit', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/debugger-target.cjs' })
  const monitor = startMonitor(t, target.port)
  await waitFor(() => monitor.status().polls >= 3, { timeoutMs: 10_000, what: 'polls' })
  const ticks = (): number => (target.stdout().match(/^tick /gm) ?? []).length
  const before = ticks()
  await waitFor(() => ticks() >= before + 5, { timeoutMs: 5000, what: 'the target keeps running through debugger statements' })
  // SIGTERM clears the timer; the process then exits on its own with our session attached.
  const started = Date.now()
  target.child.kill('SIGTERM')
  await target.exited
  t.ok(Date.now() - started < 1500, `exited in ${Date.now() - started} ms with the sidecar attached`)
})

t.test('backoff is exponential, capped, jittered', async (t) => {
  t.equal(backoffDelay(0, 100, 1000, () => 0), 50)
  t.equal(backoffDelay(0, 100, 1000, () => 1), 100)
  t.equal(backoffDelay(3, 100, 1000, () => 1), 800)
  t.equal(backoffDelay(4, 100, 1000, () => 1), 1000, 'capped')
  t.equal(backoffDelay(1000, 100, 1000, () => 0.5), 750, 'no overflow for large attempts')
})
