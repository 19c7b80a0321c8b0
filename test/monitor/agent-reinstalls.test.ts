// When the agent is installed again after it vanished: at once the first time, then each
// reinstall twice as far from the last as the one before (up to 64 intervals), at most three
// per session; a read of the agent, or a new process, starts over.
import t from 'tap'
import { AgentReinstalls, MAX_REINSTALLS_PER_CONNECTION, MAX_SPACING_INTERVALS } from '../../src/monitor/agent-reinstalls.js'

const INTERVAL = 1000

t.test('reinstalls at once, then spaced 2, 4, 8 intervals, and the session is dropped after three', async (t) => {
  const agent = new AgentReinstalls(INTERVAL)
  agent.connected(0, true, false)
  t.same(agent.missing(0), { action: 'reinstall' }, 'the first loss: at once')
  agent.reinstalled(0, true)
  t.same(agent.missing(1000), { action: 'wait', untilMs: 2000 })
  t.same(agent.missing(2000), { action: 'reinstall' }, '2 intervals after the last install')
  agent.reinstalled(2000, true)
  t.same(agent.missing(3000), { action: 'wait', untilMs: 6000 }, 'then 4')
  t.same(agent.missing(6000), { action: 'reinstall' })
  agent.reinstalled(6000, true)
  t.same(agent.missing(13_999), { action: 'wait', untilMs: 14_000 }, 'then 8')
  t.equal(MAX_REINSTALLS_PER_CONNECTION, 3)
  t.same(agent.missing(14_000), { action: 'drop' }, 'a fourth on this session: drop it instead')
  // The reconnect installs a fresh agent into the same process: it vanished again.
  agent.connected(15_000, true, true)
  t.same(agent.missing(15_000), { action: 'wait', untilMs: 15_000 + 16 * INTERVAL }, 'a new session, but still spaced')
  t.same(agent.missing(31_000), { action: 'reinstall' })
})

t.test('the spacing stops growing at 64 intervals', async (t) => {
  const agent = new AgentReinstalls(INTERVAL)
  let now = 0
  agent.connected(now, true, false)
  for (let i = 0; i < 12; i++) {
    if (i % MAX_REINSTALLS_PER_CONNECTION === 0) agent.connected(now, false, true)
    const next = agent.missing(now)
    if (next.action === 'wait') now = next.untilMs
    t.same(agent.missing(now), { action: 'reinstall' }, `reinstall ${i + 1} at ${now}`)
    agent.reinstalled(now, true)
  }
  const last = agent.missing(now)
  t.same(last, { action: 'wait', untilMs: now + MAX_SPACING_INTERVALS * INTERVAL })
})

t.test('an agent that answered a read, or a new process, starts over', async (t) => {
  const agent = new AgentReinstalls(INTERVAL)
  agent.connected(0, true, false)
  agent.reinstalled(0, true)
  agent.answered()
  t.same(agent.missing(10), { action: 'reinstall' }, 'after a read: at once again')
  agent.reinstalled(10, true)
  agent.reset()
  agent.connected(20, true, false)
  t.same(agent.missing(20), { action: 'reinstall' }, 'a new process: at once')
  // An install that found the agent there (another watcher put it back) takes a reinstall of
  // the session's allowance but does not count as vanishing.
  agent.reinstalled(20, false)
  t.same(agent.missing(21), { action: 'reinstall' })
})

t.test('a reconnect that finds the agent in place changes nothing', async (t) => {
  const agent = new AgentReinstalls(INTERVAL)
  agent.connected(0, false, false)
  t.same(agent.missing(5), { action: 'reinstall' }, 'never installed by us: at once')
})
