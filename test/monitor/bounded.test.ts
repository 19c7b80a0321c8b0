import t from 'tap'
import { TargetMonitor } from '../../src/monitor/monitor.js'
import { COLLECTORS as nodeCollectors } from '../../src/collectors/registry.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { silentLogger } from '../helpers/monitor.js'
import { heapAcrossStretches, kib } from '../helpers/heap.js'
import { freePort } from '../helpers/targets.js'

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
  // Warm up (JIT, socket and timer pools), then compare two equal stretches: a leak grows
  // the heap in both, a bounded pool only in the first.
  const heap = await heapAcrossStretches(
    () => monitor.status().connectFailures,
    [1000, 3500, 6000],
    [20_000, 60_000, 60_000],
    'failed connects',
  )
  t.equal(monitor.status().up, false)
  t.comment(`heap after GC: ${heap.text}`)
  t.ok(heap.end - heap.middle < 512 * 1024, `heap grew ${kib(heap.end - heap.middle)} over the last 2500 failed connects`)
})
