// A target where leakwatch's agent vanishes after every install (issue 12): its Symbol.for
// returns a fresh symbol each call, so the poll's read never finds the agent the install left.
// Before, every poll installed a new agent (a new GC observer and histogram): ~50 in 10 s at a
// 200 ms interval, 750 in 150 s. Reinstalls are now spaced out (doubling) and bounded per
// session, the session is dropped when they keep failing, and the installs are counted.
import t from 'tap'
import { InspectorSession } from '../../src/inspector/session.js'
import { AGENT_KEY } from '../../src/collectors/agent.js'
import { startMonitor } from '../helpers/monitor.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

const WATCH_MS = 10_000

/** Agents left on the target's globalThis, each under its own symbol (evaluated without Symbol.for). */
const COUNT_AGENTS = `Object.getOwnPropertySymbols(globalThis).filter((s) => s.description === ${JSON.stringify(AGENT_KEY)}).length`

t.test('an agent that vanishes after every install is reinstalled a bounded number of times', async (t) => {
  const target = await spawnTarget(t, {
    script: 'test/fixtures/targets/idle-target.cjs',
    nodeArgs: ['--require', './test/fixtures/fresh-symbol-for.cjs'],
  })
  const monitor = startMonitor(t, target.port)
  const started = Date.now()
  const reasons = new Set<string>()
  let heapSucceeded = false
  await waitFor(
    () => {
      const status = monitor.status()
      if (status.disconnectReason !== null) reasons.add(status.disconnectReason.message)
      if (status.collectors.find((c) => c.name === 'heap')?.success === true) heapSucceeded = true
      return Date.now() - started >= WATCH_MS
    },
    { timeoutMs: WATCH_MS + 1000, intervalMs: 50, what: 'the watch' },
  )
  await monitor.stop()
  const status = monitor.status()
  const own = await InspectorSession.open({ host: '127.0.0.1', port: target.port }, 5000)
  t.teardown(() => own.close())
  const agents = (await own.evaluate(COUNT_AGENTS, 5000)) as number
  t.comment(`${WATCH_MS / 1000} s: ${status.polls} polls, ${agents} agents in the target, ${status.connects} connects; ${[...reasons].join(' | ')}`)
  t.ok(status.polls >= 20, `polling went on (${status.polls} polls)`)
  t.equal(status.agentInstalls, agents, 'every install is counted (leakwatch_target_agent_installs_total)')
  t.ok(agents >= 3, `the agent was reinstalled when it vanished (${agents} installs)`)
  t.ok(agents <= 10, `at most 10 installs in ${WATCH_MS / 1000} s (${agents}; one per poll, ~50, without the bound)`)
  t.ok([...reasons].some((reason) => /keeps vanishing \(3 reinstalls on this session\)/.test(reason)), 'a session that used up its reinstalls was dropped')
  t.equal(status.lastError?.code, 'LW_ERR_AGENT_MISSING', 'reported as the last error')
  t.ok(heapSucceeded, 'the protocol collector (heap) went on meanwhile')
  const memory = status.collectors.find((c) => c.name === 'memory')
  t.equal(memory?.lastError?.code, 'LW_ERR_AGENT_MISSING', 'the agent collectors say why they fail')
})
