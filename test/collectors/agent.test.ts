// The agent is the whole of what leakwatch installs in a target: it must parse, and the
// only values spliced into it (resolution, part names, integer arguments) must be checked.
import vm from 'node:vm'
import t from 'tap'
import { AGENT_KEY, AGENT_PARTS, AGENT_SNIPPETS, installAgentSnippet, isInstallSnippet, readSnippet } from '../../src/collectors/agent.js'
import { COLLECTORS } from '../../src/collectors/registry.js'
import { isAgentCollector } from '../../src/collectors/types.js'
import { DEFAULT_EVENT_LOOP_RESOLUTION_MS } from '../../src/config/index.js'
import { INSPECTOR_SNIPPETS } from '../../src/inspector/snippets.js'

t.test('every snippet is a valid script', async (t) => {
  for (const snippet of [...AGENT_SNIPPETS, ...INSPECTOR_SNIPPETS]) t.doesNotThrow(() => new vm.Script(snippet.source), snippet.name)
  t.strictSame([...AGENT_SNIPPETS, ...INSPECTOR_SNIPPETS].map((s) => s.name), ['INSTALL_AGENT', 'READ', 'READ_CPU_USAGE'])
})

t.test('the agent has a part for every agent collector, and only those', async (t) => {
  t.strictSame(AGENT_PARTS, COLLECTORS.filter(isAgentCollector).map((collector) => collector.name))
  for (const part of AGENT_PARTS) t.ok(INSTALL_AGENT_HAS(part), `the install snippet sets up ${part}`)
})

function INSTALL_AGENT_HAS(part: string): boolean {
  return installAgentSnippet().includes(`${JSON.stringify(part)}: {`)
}

t.test("the agent's key is a hash of its source", async (t) => {
  t.match(AGENT_KEY, /^leakwatch\.agent\.[0-9a-f]{16}$/)
  t.ok(installAgentSnippet().includes(JSON.stringify(AGENT_KEY)))
  t.ok(readSnippet({}).includes(JSON.stringify(AGENT_KEY)))
})

t.test('the install snippet takes only a resolution within bounds', async (t) => {
  const resolution = (source: string): string | undefined => /resolutionMs: (\d+|[^,]*), RING/.exec(source)?.[1]
  t.equal(resolution(installAgentSnippet(20)), '20')
  t.equal(resolution(installAgentSnippet()), String(DEFAULT_EVENT_LOOP_RESOLUTION_MS))
  for (const bad of [0, -5, 1.5, 1001, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.equal(resolution(installAgentSnippet(bad)), String(DEFAULT_EVENT_LOOP_RESOLUTION_MS), `${bad} falls back to the default`)
  }
  t.ok(isInstallSnippet(installAgentSnippet(7)))
  t.notOk(isInstallSnippet(readSnippet({ memory: 0 })))
})

t.test('the read snippet splices only known part names and non-negative integers', async (t) => {
  const ask = (source: string): unknown => JSON.parse(/agent\.read\((.*)\);/.exec(source)?.[1] ?? 'null')
  t.strictSame(ask(readSnippet({ gc: 42, memory: 0 })), { gc: 42, memory: 0 })
  t.strictSame(ask(readSnippet({ gc: -1 })), { gc: 0 })
  t.strictSame(ask(readSnippet({ gc: 1.5 })), { gc: 0 })
  t.strictSame(ask(readSnippet({ gc: Number.NaN })), { gc: 0 })
  t.strictSame(ask(readSnippet({ gc: 2 ** 60 })), { gc: 0 })
  t.throws(() => readSnippet({ ['process.exit()']: 0 }), /not an agent part/)
  t.throws(() => readSnippet({ ['__proto__']: 0 }), /not an agent part/)
  t.throws(() => readSnippet({ heap: 0 }), /not an agent part/, 'a protocol collector has no part')
  t.strictSame(ask(readSnippet({})), {})
})

/** Stops the agent's observer and histogram, or the test's process would keep them. */
function stopAgent(context: vm.Context): void {
  vm.runInContext(
    `(() => { const a = globalThis[Symbol.for(${JSON.stringify(AGENT_KEY)})]; const gc = a.parts.gc.state; if (gc && gc.observer) gc.observer.disconnect();
      const el = a.parts.eventLoop.state; if (el && el.delay) el.delay.disable(); })()`,
    context,
  )
}

t.test('the agent, run in a fresh context, answers every part it is asked for', async (t) => {
  // A sandbox with the globals the agent uses; the readers must answer in the reply's shape.
  const context = vm.createContext({ process, performance, PerformanceObserver, Symbol, Object, String, JSON, Date, Array })
  const installed = vm.runInContext(installAgentSnippet(50), context) as { fresh: boolean; eventLoopResolutionMs: number; failedParts: object }
  t.equal(installed.fresh, true)
  t.equal(installed.eventLoopResolutionMs, 50)
  t.same(installed.failedParts, {})
  const again = vm.runInContext(installAgentSnippet(10), context) as { fresh: boolean; eventLoopResolutionMs: number }
  t.equal(again.fresh, false, 'idempotent')
  t.equal(again.eventLoopResolutionMs, 50, 'the first resolution stays')
  const ask = Object.fromEntries(AGENT_PARTS.map((part) => [part, 0]))
  const reply = vm.runInContext(readSnippet(ask), context) as { parts: Record<string, unknown>; tookMs: Record<string, number> }
  t.strictSame(Object.keys(reply.parts).sort(), [...AGENT_PARTS].sort())
  for (const part of AGENT_PARTS) t.ok(reply.tookMs[part]! >= 0, `${part} timed`)
  t.match(reply.parts['memory'], { rss: Number })
  t.match(reply.parts['info'], { pid: process.pid })
  t.same(vm.runInContext(readSnippet({ memory: 0 }), vm.createContext({ Symbol })), { agentMissing: true }, 'no agent in another context')
  stopAgent(context)
})

t.test("a part whose setup throws in the target fails alone, is tried again each second, and is unavailable after 30 tries", async (t) => {
  // Node half started (the inspector answers before the main module runs) threw like this once in CI.
  class ThrowingObserver {
    constructor() {
      throw new Error('setDispatchBufferFull is not a function')
    }
  }
  const context = vm.createContext({ process, performance, PerformanceObserver: ThrowingObserver, Symbol, Object, String, JSON, Date, Array })
  const installed = vm.runInContext(installAgentSnippet(), context) as { failedParts: Record<string, string> }
  t.same(installed.failedParts, { gc: 'setDispatchBufferFull is not a function' })
  type Reply = { parts: Record<string, { unavailable?: string; threw?: string; seq?: number }> }
  const read = (): Reply => vm.runInContext(readSnippet({ gc: 0, memory: 0 }), context) as Reply
  const first = read()
  t.match(first.parts['gc']?.threw, /setup threw in the target \(tried again within a second\): setDispatchBufferFull/)
  t.match(first.parts['memory'], { rss: Number }, 'the other parts answer')
  // Node has finished starting: the next try, a second later, sets the part up.
  context['PerformanceObserver'] = PerformanceObserver
  t.match(read().parts['gc']?.threw, /tried again/, 'not again within the second')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.match(read().parts['gc'], { seq: Number }, 'set up on the next try: the observer answers')
  stopAgent(context)

  // A setup that keeps throwing: unavailable once its tries are used up.
  const broken = vm.createContext({ process, performance, PerformanceObserver: ThrowingObserver, Symbol, Object, String, JSON, Date, Array })
  vm.runInContext(installAgentSnippet(), broken)
  const agent = (broken as Record<symbol, { parts: Record<string, { tries: number }> }>)[Symbol.for(AGENT_KEY)]
  agent!.parts['gc']!.tries = 30
  const last = vm.runInContext(readSnippet({ gc: 0 }), broken) as Reply
  t.match(last.parts['gc']?.unavailable, /setup threw in the target: setDispatchBufferFull/)
  stopAgent(broken)
})
