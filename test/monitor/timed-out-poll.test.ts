// A target whose poll never returns (issue 12): process.memoryUsage spins until V8 ends the
// evaluation at its timeout. Each poll costs the target a whole timeout of CPU, so a poll that
// timed out must back off like a failed connect: the reconnect waits at least the timeout and
// the wait doubles until a poll succeeds. Before, the connect reset the backoff and polled at
// once: 10 polls reached the target in 10 s and it burnt ~8 s of CPU.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { COLLECTORS as nodeCollectors } from '../../src/collectors/registry.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { TargetMonitor } from '../../src/monitor/monitor.js'
import { silentLogger } from '../helpers/monitor.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

const TIMEOUT_MS = 1000
const WATCH_MS = 10_000

/** CPU time (user + system) of a process so far, from /proc. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

t.test('a poll that times out backs off like a failed connect, from the timeout up', async (t) => {
  const target = await spawnTarget(t, {
    script: 'test/fixtures/targets/idle-target.cjs',
    nodeArgs: ['--require', './test/fixtures/spinning-memory-usage.cjs'],
  })
  const cpuBefore = cpuMs(target.pid)
  const monitor = new TargetMonitor({
    target: { name: 'spinning', host: '127.0.0.1', port: target.port, intervalMs: 200, timeoutMs: TIMEOUT_MS, disabledCollectors: [] },
    collectors: nodeCollectors,
    openSession: (endpoint, timeoutMs) => InspectorSession.open(endpoint, timeoutMs),
    // The defaults' proportions (500 ms, 30 s, against a 5 s timeout), with a shorter timeout.
    reconnect: { minDelayMs: 100, maxDelayMs: 30_000 },
    logger: silentLogger,
    // The middle of each backoff interval: 0.75, 1.5, 3 s... after the timeouts.
    random: () => 0.5,
  })
  const started = Date.now()
  monitor.start()
  t.teardown(() => monitor.stop())
  await waitFor(() => Date.now() - started >= WATCH_MS, { timeoutMs: WATCH_MS + 1000, intervalMs: 200, what: 'the watch' })
  await monitor.stop()
  const burnt = cpuMs(target.pid) - cpuBefore

  const own = await InspectorSession.open({ host: '127.0.0.1', port: target.port }, 5000)
  t.teardown(() => own.close())
  const reached = (await own.evaluate('globalThis.__memoryUsageCalls', 5000)) as number
  const status = monitor.status()
  t.comment(`${WATCH_MS / 1000} s: ${reached} polls reached the target, ${status.connects} connects, target CPU ${burnt.toFixed(0)} ms`)
  t.equal(status.disconnectReason?.code, 'LW_ERR_TIMEOUT', 'each session ended with the poll timing out')
  t.ok(reached >= 2, 'polled again after the first timeout')
  // Polls at 0, ~1.75, ~4.25, ~8.25 s: each after its timeout plus 0.75, 1.5, 3 s of backoff.
  t.ok(reached <= 5, `at most 5 polls in ${WATCH_MS / 1000} s (${reached}; 10 without the backoff)`)
  t.ok(burnt < 6000, `the target spent ${burnt.toFixed(0)} ms of CPU in ${WATCH_MS / 1000} s (~8000 without the backoff)`)
})
