// Monitors sharing poll slots, with scripted sessions: a queued poll counts as in flight
// (ticks are skipped, not piled up), its wait is visible, and a disconnect or a stop while
// it is queued drops it without taking a slot.
import t, { type Test } from 'tap'
import type { Collector } from '../../src/collectors/types.js'
import { isInstallSnippet } from '../../src/collectors/agent.js'
import { PollLimiter } from '../../src/monitor/concurrency.js'
import { TargetMonitor, type MonitorSession } from '../../src/monitor/monitor.js'
import { silentLogger } from '../helpers/monitor.js'
import { waitFor } from '../helpers/targets.js'

interface ScriptedTarget {
  /** Every poll call waits for this gate to open. */
  hold(): void
  open(): void
  /** Close the current session from the target's side. */
  drop(): void
  readonly session: () => FakeSession | undefined
}

class FakeSession implements MonitorSession {
  closed = false
  private readonly listeners: Array<() => void> = []
  constructor(private readonly gate: () => Promise<void>) {}
  get isClosed(): boolean {
    return this.closed
  }
  onClose(listener: () => void): void {
    this.listeners.push(listener)
  }
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const listener of this.listeners.splice(0)) listener()
  }
  async evaluate(expression: string): Promise<unknown> {
    if (isInstallSnippet(expression)) {
      return { fresh: true, pid: 42, startTime: 1_700_000_000_000, nodeVersion: 'v20.0.0', eventLoopResolutionMs: 100, failedParts: {} }
    }
    await this.gate()
    return 1
  }
  async send(): Promise<unknown> {
    return {}
  }
}

let running = 0
let maxRunning = 0
const probe: Collector<undefined> = {
  name: 'probe',
  description: 'counts polls running at once',
  order: 0,
  metrics: [],
  async fetch(session, _state, timeoutMs) {
    running += 1
    maxRunning = Math.max(maxRunning, running)
    try {
      return await session.evaluate('probe', timeoutMs)
    } finally {
      running -= 1
    }
  },
  parse: () => ({ samples: [], state: undefined }),
}

function scripted(): { target: ScriptedTarget; open: () => Promise<MonitorSession> } {
  let gate: Promise<void> = Promise.resolve()
  let openGate: () => void = () => undefined
  let current: FakeSession | undefined
  const target: ScriptedTarget = {
    hold: () => {
      gate = new Promise((resolve) => (openGate = resolve))
    },
    open: () => openGate(),
    drop: () => void current?.close(),
    session: () => current,
  }
  return {
    target,
    open: async () => {
      current = new FakeSession(() => gate)
      return current
    },
  }
}

function monitorOf(t: Pick<Test, 'teardown'>, name: string, open: () => Promise<MonitorSession>, slots: PollLimiter): TargetMonitor {
  const monitor = new TargetMonitor({
    target: { name, host: '127.0.0.1', port: 1, intervalMs: 50, timeoutMs: 5000, disabledCollectors: [] },
    collectors: [probe],
    openSession: open,
    reconnect: { minDelayMs: 10, maxDelayMs: 20 },
    logger: silentLogger,
    pollSlots: slots,
  })
  monitor.start()
  t.teardown(() => monitor.stop())
  return monitor
}

t.test('a queued poll waits its turn, counts as in flight, and shows its wait', async (t) => {
  running = 0
  maxRunning = 0
  const slots = new PollLimiter(1)
  const a = scripted()
  const b = scripted()
  const monitorA = monitorOf(t, 'a', a.open, slots)
  await waitFor(() => monitorA.status().up, { timeoutMs: 2000, what: 'a up' })
  a.target.hold()
  await waitFor(() => monitorA.status().pollState === 'running', { timeoutMs: 2000, what: 'a holds the slot' })
  const monitorB = monitorOf(t, 'b', b.open, slots)
  await waitFor(() => monitorB.status().pollState === 'waiting', { timeoutMs: 2000, what: 'b queued' })
  const skipped = monitorB.status().pollsSkipped
  await new Promise((resolve) => setTimeout(resolve, 200))
  const waiting = monitorB.status()
  t.ok(waiting.pollsSkipped >= skipped + 2, `ticks while queued are skipped (${waiting.pollsSkipped - skipped})`)
  t.equal(waiting.polls, 0, 'a queued poll is not counted as a poll yet')
  t.same({ inUse: waiting.pollSlots?.inUse, waiting: waiting.pollSlots?.waiting }, { inUse: 1, waiting: 1 })
  const queued = monitorB.samples().find((s) => s.key === 'pollQueue')
  t.ok(queued !== undefined && 'value' in queued && queued.value >= 0.15, `the wait so far is exported (${JSON.stringify(queued)})`)
  a.target.open()
  await waitFor(() => monitorB.status().polls >= 1 && monitorB.status().up, { timeoutMs: 2000, what: 'b polled' })
  t.ok(monitorB.status().pollWaitMsTotal >= 150, `b waited ${monitorB.status().pollWaitMsTotal.toFixed(0)} ms in all`)
  t.not(monitorB.status().lastPollWaitMs, null, 'the latest wait is recorded')
  t.equal(maxRunning, 1, 'never two polls at once with one slot')
  t.ok(slots.stats().maxInUse === 1)
})

t.test('a disconnect while queued drops the poll without taking a slot', async (t) => {
  const slots = new PollLimiter(1)
  const a = scripted()
  const b = scripted()
  const monitorA = monitorOf(t, 'a', a.open, slots)
  const monitorB = monitorOf(t, 'b', b.open, slots)
  await waitFor(() => monitorA.status().up && monitorB.status().up, { timeoutMs: 2000, what: 'both up' })
  a.target.hold()
  await waitFor(() => monitorA.status().pollState === 'running' && monitorB.status().pollState === 'waiting', {
    timeoutMs: 2000,
    what: 'a runs, b queued',
  })
  const before = monitorB.status()
  b.target.drop()
  await waitFor(() => slots.stats().abandoned >= 1, { timeoutMs: 2000, what: 'b gave up its place in the queue' })
  const dropped = monitorB.status()
  t.equal(dropped.polls, before.polls, 'not run')
  t.ok(dropped.pollsSkipped > before.pollsSkipped, 'counted as skipped')
  t.equal(slots.stats().inUse, 1, 'only a holds a slot')
  // b reconnects and queues again behind a; once a lets go, both carry on.
  a.target.open()
  await waitFor(() => monitorB.status().up && monitorB.status().polls > before.polls, { timeoutMs: 2000, what: 'b polls again' })
  t.equal(monitorB.status().connects, 2)
})

t.test('stop does not wait for a slot', async (t) => {
  const slots = new PollLimiter(1)
  const a = scripted()
  const b = scripted()
  const monitorA = monitorOf(t, 'a', a.open, slots)
  await waitFor(() => monitorA.status().up, { timeoutMs: 2000, what: 'a up' })
  a.target.hold()
  t.teardown(() => a.target.open())
  await waitFor(() => monitorA.status().pollState === 'running', { timeoutMs: 2000, what: 'a holds the slot' })
  const monitorB = monitorOf(t, 'b', b.open, slots)
  await waitFor(() => monitorB.status().pollState === 'waiting', { timeoutMs: 2000, what: 'b queued' })
  const started = performance.now()
  await monitorB.stop()
  t.ok(performance.now() - started < 100, 'stopped at once')
  t.equal(monitorB.status().phase, 'stopped')
  t.equal(slots.stats().waiting, 0)
  t.equal(slots.stats().inUse, 1, 'a still holds its slot')
})

t.test('a poll that outlives its session feeds nothing into the next process', async (t) => {
  // Session n answers polls with n; each session is a new process (a new pid).
  let serial = 0
  let gate: Promise<void> = Promise.resolve()
  let openGate: () => void = () => undefined
  const sessions: FakeSession[] = []
  class NumberedSession extends FakeSession {
    readonly n = ++serial
    override async evaluate(expression: string): Promise<unknown> {
      if (isInstallSnippet(expression)) return { ...((await super.evaluate(expression)) as object), pid: 100 + this.n }
      await gate
      return this.n
    }
  }
  const seen: Array<number | 'restart'> = []
  const monitor = new TargetMonitor({
    target: { name: 'x', host: '127.0.0.1', port: 1, intervalMs: 50, timeoutMs: 5000, disabledCollectors: [] },
    collectors: [
      {
        name: 'serial',
        description: 'which session answered',
        order: 0,
        metrics: [],
        fetch: (session, _state, timeoutMs) => session.evaluate('serial', timeoutMs),
        parse: (raw) => ({ samples: [{ key: 'heapUsed', value: raw as number }], state: undefined }),
      },
    ],
    openSession: async () => {
      const session = new NumberedSession(() => gate)
      sessions.push(session)
      return session
    },
    reconnect: { minDelayMs: 10, maxDelayMs: 20 },
    logger: silentLogger,
    extension: {
      afterPoll: async (_session, context) => {
        const sample = context.samples.find((s) => s.key === 'heapUsed')
        if (sample !== undefined && 'value' in sample) seen.push(sample.value)
      },
      onDisconnect: () => undefined,
      onRestart: () => void seen.push('restart'),
      samples: () => [],
    },
    pollSlots: new PollLimiter(2),
  })
  monitor.start()
  t.teardown(() => monitor.stop())
  await waitFor(() => seen.includes(1), { timeoutMs: 2000, what: 'a poll of session 1' })
  gate = new Promise((resolve) => (openGate = resolve))
  await waitFor(() => monitor.status().pollState === 'running', { timeoutMs: 2000, what: 'a poll held in session 1' })
  // Session 1 goes away without failing the call in flight; session 2 (a new process) connects.
  await sessions[0]!.close()
  await waitFor(() => monitor.status().restarts === 1, { timeoutMs: 2000, what: 'the restart' })
  openGate()
  await waitFor(() => seen.includes(2), { timeoutMs: 2000, what: 'a poll of session 2' })
  t.same(seen.slice(seen.indexOf('restart')).filter((n) => n === 1), [], `nothing of session 1 after the restart: ${seen.join(' ')}`)
  t.equal(monitor.status().up, true)
  t.equal(monitor.status().process?.pid, 102)
})
