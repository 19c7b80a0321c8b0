// One poll, driven by a scripted session: what each collector's outcome is, that every agent
// part is asked for in one evaluation, and that a broken session skips the rest.
import t from 'tap'
import { readSnippet } from '../../src/collectors/agent.js'
import type { AgentCollector, AnyCollector, ProtocolCollector } from '../../src/collectors/types.js'
import { SessionClosedError, TimeoutError, UnavailableError } from '../../src/core/errors.js'
import type { TargetSession } from '../../src/inspector/session.js'
import { runPoll, type PollInput } from '../../src/monitor/poll.js'

/** A session whose agent read answers `parts`; protocol calls answer `sends[method]`. */
function scripted(parts: Record<string, unknown> | (() => never), sends: Record<string, () => unknown> = {}) {
  const evaluations: string[] = []
  const session: TargetSession = {
    async evaluate(expression) {
      evaluations.push(expression)
      if (typeof parts === 'function') return parts()
      return { parts, tookMs: Object.fromEntries(Object.keys(parts).map((name) => [name, 0.25])) }
    },
    async send(method) {
      const answer = sends[method]
      if (answer === undefined) throw new Error(`unexpected ${method}`)
      return answer()
    },
  }
  return { session, evaluations }
}

const agentCollector = (name: string, order: number): AgentCollector<number> => ({
  name,
  description: name,
  order,
  metrics: [],
  part: { read: '() => 1', argument: (state) => state ?? 0 },
  parse: (raw, state) => {
    if (typeof raw !== 'number') throw new UnavailableError(name, 'not a number')
    return { samples: [{ key: `${name}Value`, value: raw }], state: (state ?? 0) + 1, floors: [{ seq: 1, timeMs: 5, bytes: raw }] }
  },
})

const protocolCollector: ProtocolCollector = {
  name: 'heap',
  description: 'heap',
  order: 0,
  metrics: [],
  fetch: (session, _state, timeoutMs) => session.send('Runtime.getHeapUsage', {}, timeoutMs),
  parse: (raw) => ({ samples: [{ key: 'heapUsed', value: (raw as { usedSize: number }).usedSize }], state: undefined }),
}

// Real part names, so readSnippet accepts them.
const memory = agentCollector('memory', 1)
const gc = agentCollector('gc', 2)

const input = (session: TargetSession, collectors: AnyCollector[], over: Partial<PollInput> = {}): PollInput => ({
  session,
  collectors,
  stateOf: (name) => (name === 'gc' ? 41 : undefined),
  timeoutMs: 1000,
  current: () => true,
  ...over,
})

t.test('every agent part in one evaluation, each collector with its outcome', async (t) => {
  const { session, evaluations } = scripted({ memory: 7, gc: 'junk' }, { 'Runtime.getHeapUsage': () => ({ usedSize: 99 }) })
  const result = await runPoll(input(session, [protocolCollector, memory, gc]))
  t.equal(evaluations.length, 1, 'one evaluation for both parts')
  t.equal(evaluations[0], readSnippet({ memory: 0, gc: 41 }), 'with each part\'s argument from its state')
  t.strictSame(
    result.outcomes.map((o) => [o.name, o.result]),
    [
      ['heap', 'success'],
      ['memory', 'success'],
      ['gc', 'unavailable'],
    ],
  )
  t.equal(result.outcomes[1]?.state, 1, 'the new state comes back')
  t.ok((result.outcomes[1]?.durationMs ?? 0) >= 0.25, 'a part costs its time in the target plus its parse')
  t.strictSame(result.samples, [{ key: 'heapUsed', value: 99 }, { key: 'memoryValue', value: 7 }])
  t.strictSame(result.floors, [{ seq: 1, timeMs: 5, bytes: 7 }])
  t.equal(result.anySuccess, true)
  t.equal(result.brokenBy, undefined)
  t.equal(result.superseded, false)
  t.equal(result.agentAnswered, true, 'the agent answered the read')
})

t.test('a timeout breaks the session: the collectors after it are skipped', async (t) => {
  const timeout = new TimeoutError('Runtime.evaluate', 1000)
  const { session } = scripted(() => {
    throw timeout
  })
  const result = await runPoll(input(session, [memory, protocolCollector]))
  t.strictSame(result.outcomes.map((o) => [o.name, o.result]), [
    ['memory', 'failed'],
    ['heap', 'skipped'],
  ])
  t.equal(result.brokenBy, timeout)
  t.equal(result.anySuccess, false)
})

t.test('a closed session breaks it too; a plain failure does not', async (t) => {
  const closed = scripted(() => {
    throw new SessionClosedError()
  })
  t.type((await runPoll(input(closed.session, [memory]))).brokenBy, SessionClosedError)
  const failing = scripted({ memory: 1 }, { 'Runtime.getHeapUsage': () => Promise.reject(new Error('boom')) })
  const result = await runPoll(input(failing.session, [protocolCollector, memory]))
  t.strictSame(result.outcomes.map((o) => o.result), ['failed', 'success'])
  t.equal(result.brokenBy, undefined)
})

t.test('an agent gone from the target is reported for reinstalling', async (t) => {
  const gone = scripted({})
  gone.session.evaluate = async () => ({ agentMissing: true })
  const result = await runPoll(input(gone.session, [memory, gc]))
  t.equal(result.agentMissing, true)
  t.equal(result.agentAnswered, false)
  t.strictSame(result.outcomes.map((o) => o.result), ['failed', 'failed'])
})

t.test('a reply without a part is a malformed reply of that collector only', async (t) => {
  const { session } = scripted({ memory: 3 })
  const result = await runPoll(input(session, [memory, gc]))
  t.strictSame(result.outcomes.map((o) => o.result), ['success', 'failed'])
  t.match(String(result.outcomes[1]?.error), /no reply for gc/)
})

t.test('a poll superseded by a newer session reports nothing', async (t) => {
  const { session } = scripted({ memory: 3 })
  let current = true
  const result = await runPoll(
    input(session, [memory, protocolCollector], {
      current: () => current,
      collectors: [
        { ...memory, parse: (raw, state) => ((current = false), memory.parse(raw, state, 0)) },
        protocolCollector,
      ],
    }),
  )
  t.equal(result.superseded, true)
  t.strictSame(result.outcomes, [])
  t.strictSame(result.samples, [])
})
