// The agent's batched read against real targets: a poll is one evaluation (plus the heap's
// protocol call), a part that throws inside the target fails only its own collector, a
// removed agent is reinstalled once, and the event-loop resolution reaches the agent.
import t, { type Test } from 'tap'
import { COLLECTORS as nodeCollectors } from '../../src/collectors/registry.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { AGENT_KEY, isInstallSnippet } from '../../src/collectors/agent.js'
import { TargetMonitor, type MonitorSession } from '../../src/monitor/monitor.js'
import { silentLogger } from '../helpers/monitor.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

interface Calls {
  evaluates: number
  sends: string[]
}

/** A real monitor whose sessions count what each poll asks of the target. */
function countingMonitor(t: Test, port: number, eventLoopResolutionMs?: number): { monitor: TargetMonitor; calls: Calls } {
  const calls: Calls = { evaluates: 0, sends: [] }
  const monitor = new TargetMonitor({
    target: { name: 'test', host: '127.0.0.1', port, intervalMs: 200, timeoutMs: 1000, disabledCollectors: [] },
    collectors: nodeCollectors,
    openSession: async (endpoint, timeoutMs) => {
      const session = await InspectorSession.open(endpoint, timeoutMs)
      const counted: MonitorSession = {
        get isClosed() {
          return session.isClosed
        },
        onClose: (listener) => session.onClose(listener),
        close: () => session.close(),
        evaluate: (expression, ms) => {
          if (!isInstallSnippet(expression)) calls.evaluates += 1
          return session.evaluate(expression, ms)
        },
        send: (method, params, ms) => {
          calls.sends.push(method)
          return session.send(method, params, ms)
        },
      }
      return counted
    },
    reconnect: { minDelayMs: 50, maxDelayMs: 400 },
    logger: silentLogger,
    ...(eventLoopResolutionMs === undefined ? {} : { eventLoopResolutionMs }),
  })
  monitor.start()
  t.teardown(() => monitor.stop())
  return { monitor, calls }
}

/** The test's own session into the target, to look at (or remove) the agent. */
async function inspect(t: Test, port: number): Promise<InspectorSession> {
  const session = await InspectorSession.open({ host: '127.0.0.1', port }, 2000)
  t.teardown(() => session.close())
  return session
}

const AGENT = `globalThis[Symbol.for(${JSON.stringify(AGENT_KEY)})]`

t.test('a poll is one evaluation for every snippet collector plus Runtime.getHeapUsage', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const { monitor, calls } = countingMonitor(t, target.port)
  await waitFor(() => monitor.status().polls >= 4, { timeoutMs: 10_000, what: 'four polls' })
  await monitor.stop()
  const polls = monitor.status().polls
  t.equal(calls.evaluates, polls, `${calls.evaluates} evaluations in ${polls} polls`)
  t.strictSame([...new Set(calls.sends)], ['Runtime.getHeapUsage'])
  t.equal(calls.sends.length, polls, 'one protocol call (the heap) per poll')
  const collectors = monitor.status().collectors
  t.same(collectors.filter((c) => c.success !== true).map((c) => c.name), [], 'every collector succeeded')
  for (const collector of collectors) {
    t.ok(collector.durationMs !== null && collector.durationMs >= 0 && collector.durationMs < 1000, `${collector.name}: ${collector.durationMs?.toFixed(3)} ms`)
  }
})

t.test('a part that throws in the target fails only its collector', async (t) => {
  const target = await spawnTarget(t, {
    script: 'test/fixtures/targets/cjs-target.cjs',
    nodeArgs: ['--require', './test/fixtures/throwing-resources.cjs'],
  })
  const { monitor } = countingMonitor(t, target.port)
  // `polls` counts a poll when it starts: four started means three finished.
  await waitFor(() => monitor.status().polls >= 4, { timeoutMs: 10_000, what: 'three finished polls' })
  const byName = new Map(monitor.status().collectors.map((c) => [c.name, c]))
  const resources = byName.get('resources')
  t.equal(resources?.success, false)
  t.equal(resources?.available, true, 'a failure, not a missing feature: it is tried again')
  t.ok((resources?.errors ?? 0) >= 3, `counted on every poll (${resources?.errors})`)
  t.equal(resources?.lastError?.code, 'LW_ERR_EVALUATE')
  t.match(resources?.lastError?.message, /getActiveResourcesInfo is broken in this process/)
  for (const name of ['heap', 'memory', 'gc', 'heapStatistics', 'eventLoop', 'info']) {
    t.equal(byName.get(name)?.success, true, `${name} still answers`)
  }
  t.equal(monitor.status().up, true)
  t.notOk(monitor.samples().some((s) => s.key === 'activeResources'), 'no stale resource counts')
})

t.test('an agent removed from the target is reinstalled once, and polling goes on', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const { monitor, calls } = countingMonitor(t, target.port)
  await waitFor(() => monitor.status().polls >= 2 && monitor.status().up, { timeoutMs: 10_000, what: 'two polls' })
  const own = await inspect(t, target.port)
  const installedAt = (await own.evaluate(`${AGENT}.installedAt`, 1000)) as number
  t.equal(await own.evaluate(`delete ${AGENT}`, 1000), true)
  const errorsBefore = monitor.status().collectors.find((c) => c.name === 'memory')?.errors ?? 0
  await waitFor(
    async () => {
      const now = (await own.evaluate(`${AGENT} && ${AGENT}.installedAt`, 1000)) as number | undefined
      return typeof now === 'number' && now !== installedAt
    },
    { timeoutMs: 10_000, what: 'a new agent' },
  )
  const pollsAfter = monitor.status().polls
  await waitFor(() => monitor.status().polls >= pollsAfter + 2, { timeoutMs: 10_000, what: 'two more polls' })
  const memory = monitor.status().collectors.find((c) => c.name === 'memory')
  t.equal(memory?.errors, errorsBefore + 1, 'one failed poll, then success')
  t.equal(memory?.success, true)
  t.equal(monitor.status().restarts, 0, 'the same process: not a restart')
  // A poll is counted when it begins and its evaluation when it is sent: one may be in between.
  const polls = monitor.status().polls
  t.ok(calls.evaluates >= polls - 1, `${calls.evaluates} evaluations in ${polls} polls begun: polling went on`)
})

t.test('the event-loop resolution reaches the agent; a second watcher keeps the first one\'s', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const first = countingMonitor(t, target.port, 20)
  await waitFor(() => first.monitor.status().polls >= 2, { timeoutMs: 10_000, what: 'two polls' })
  const own = await inspect(t, target.port)
  t.equal(await own.evaluate(`${AGENT}.env.resolutionMs`, 1000), 20)
  const second = countingMonitor(t, target.port, 500)
  await waitFor(() => second.monitor.status().polls >= 2, { timeoutMs: 10_000, what: 'two polls of the second watcher' })
  t.equal(await own.evaluate(`${AGENT}.env.resolutionMs`, 1000), 20, 'installed once per process')
  // Two watchers share (and reset) one histogram; with the first gone, the second reads it alone
  // and subtracts the resolution in force (20 ms, not its own 500 ms): an idle loop reads near zero.
  await first.monitor.stop()
  const p50 = (): number | undefined => {
    const sample = second.monitor.samples().find((s) => s.key === 'eventLoopDelayP50')
    return sample !== undefined && 'value' in sample ? sample.value : undefined
  }
  const polls = second.monitor.status().polls
  await waitFor(() => second.monitor.status().polls >= polls + 2 && p50() !== undefined, { timeoutMs: 10_000, what: 'a delay reading' })
  t.ok((p50() ?? 1) < 0.015, `p50 delay ${p50()} s`)
})
