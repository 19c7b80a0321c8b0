import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { TargetMonitor } from '../../src/target/monitor.js'
import { nodeCollectors } from '../../src/collectors/index.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { silentLogger } from '../helpers/monitor.js'
import { freePort, waitFor } from '../helpers/targets.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const heapAfterGc = (): number => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

t.test('thousands of failed reconnects do not grow the sidecar heap', async (t) => {
  const port = await freePort()
  const monitor = new TargetMonitor({
    target: { name: 'absent', host: '127.0.0.1', port, intervalMs: 100, timeoutMs: 500, disabledCollectors: [] },
    collectors: nodeCollectors,
    openSession: (endpoint, timeoutMs) => InspectorSession.open(endpoint, timeoutMs),
    reconnect: { minDelayMs: 1, maxDelayMs: 2 },
    logger: silentLogger,
  })
  monitor.start()
  t.teardown(() => monitor.stop())
  const failures = (): number => monitor.status().connectFailures
  // Warm up (JIT, socket and timer pools), then compare two equal stretches: a leak grows
  // the heap in both, a bounded pool only in the first.
  await waitFor(() => failures() >= 1000, { timeoutMs: 20_000, what: '1000 failed connects' })
  const warm = heapAfterGc()
  await waitFor(() => failures() >= 3500, { timeoutMs: 60_000, what: '3500 failed connects' })
  const middle = heapAfterGc()
  await waitFor(() => failures() >= 6000, { timeoutMs: 60_000, what: '6000 failed connects' })
  const end = heapAfterGc()
  t.equal(monitor.status().up, false)
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`
  t.comment(`heap after GC: ${kib(warm)} → ${kib(middle)} → ${kib(end)}`)
  t.ok(end - middle < 512 * 1024, `heap grew ${kib(end - middle)} over the last 2500 failed connects`)
})
