import t from 'tap'
import { readSnippet } from '../../src/collectors/agent.js'
import http from '../../src/collectors/http.collector.js'
import type { ScalarSample } from '../../src/core/metrics.js'
import { MalformedReplyError, UnavailableError } from '../../src/core/errors.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { installAgent } from '../../src/monitor/connection.js'
import { recordedReply } from '../helpers/replies.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

t.test('http: the requests begun, as a counter', async (t) => {
  const first = http.parse(recordedReply('http.1'), undefined, 0).samples as ScalarSample[]
  const second = http.parse(recordedReply('http.2'), undefined, 0).samples as ScalarSample[]
  t.same(first.map((s) => s.key), ['httpServerRequests'])
  t.ok(second[0]!.value > first[0]!.value, 'recorded from a target serving requests: it counts up')
  t.throws(() => http.parse({ unavailable: 'no diagnostics_channel' }, undefined, 0), UnavailableError)
  t.throws(() => http.parse({ started: -1 }, undefined, 0), MalformedReplyError)
  t.throws(() => http.parse({ started: 1.5 }, undefined, 0), MalformedReplyError)
})

// A real target of each module kind (CommonJS reaches diagnostics_channel through its main
// module's require, ES modules through process.getBuiltinModule), asked over its own HTTP server.
for (const script of ['test/fixtures/targets/cjs-target.cjs', 'test/fixtures/targets/esm-target.mjs']) {
  t.test(`http: counts the requests a real target serves (${script})`, async (t) => {
    const target = await spawnTarget(t, { script })
    const httpPort = Number(/http port (\d+)/.exec(target.stdout())?.[1])
    const session = await InspectorSession.open({ host: '127.0.0.1', port: target.port }, 5000)
    t.teardown(() => session.close())
    await installAgent(session, undefined, 5000)
    const read = async (): Promise<number> => {
      const reply = (await session.evaluate(readSnippet({ http: 0 }), 5000)) as { parts: Record<string, unknown> }
      return (http.parse(reply.parts['http'], undefined, 0).samples[0] as ScalarSample).value
    }
    const before = await read()
    for (let i = 0; i < 7; i++) await (await fetch(`http://127.0.0.1:${httpPort}/`)).text()
    const after = await waitFor(async () => {
      const n = await read()
      return n - before >= 7 && n
    }, { timeoutMs: 5000, what: 'seven requests counted' })
    t.equal(after - before, 7, 'exactly the seven requests sent')
  })
}
