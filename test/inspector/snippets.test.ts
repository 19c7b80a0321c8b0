// The snippets are the whole of what leakwatch runs in a target: they must parse, and the
// only values spliced into them (resolution, part names, GC sequence) must be checked.
import vm from 'node:vm'
import t from 'tap'
import {
  AGENT_PARTS,
  DEFAULT_EVENT_LOOP_RESOLUTION_MS,
  SNIPPETS,
  installAgentSnippet,
  isInstallSnippet,
  readSnippet,
} from '../../src/inspector/snippets.js'

t.test('every snippet is a valid script', async (t) => {
  for (const snippet of SNIPPETS) t.doesNotThrow(() => new vm.Script(snippet.source), snippet.name)
  t.strictSame(SNIPPETS.map((s) => s.name), ['INSTALL_AGENT', 'READ', 'READ_CPU_USAGE'])
})

t.test('the install snippet takes only a resolution within bounds', async (t) => {
  const resolution = (source: string): string | undefined => /const resolutionMs = (.*);/.exec(source)?.[1]
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
  t.throws(() => readSnippet({ ['process.exit()' as 'gc']: 0 }), /not an agent part/)
  t.throws(() => readSnippet({ ['__proto__' as 'gc']: 0 }), /not an agent part/)
  t.strictSame(ask(readSnippet({})), {})
})

t.test('the agent, run in a fresh context, answers every part it is asked for', async (t) => {
  // A sandbox with the globals the agent uses; the readers must answer in the reply's shape.
  const context = vm.createContext({ process, performance, PerformanceObserver, Symbol, Object, String, JSON, Date })
  const installed = vm.runInContext(installAgentSnippet(50), context) as { fresh: boolean; eventLoopResolutionMs: number }
  t.equal(installed.fresh, true)
  t.equal(installed.eventLoopResolutionMs, 50)
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
  // Stop the agent's observer and histogram, or this test's process would keep them.
  vm.runInContext(
    `(() => { const a = globalThis[Symbol.for('leakwatch.agent.v2')]; if (a.observer) a.observer.disconnect(); if (a.delay) a.delay.disable(); })()`,
    context,
  )
})
