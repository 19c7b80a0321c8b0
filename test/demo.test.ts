import t from 'tap'
import { startNode } from './helpers/cli.js'
import { waitFor } from './helpers/targets.js'

t.test('npm run demo: the demo app and the sidecar start, show metrics, and stop together', async (t) => {
  const demo = startNode(t, 'demo.js', [], { DEMO_LISTEN: '127.0.0.1:0', DEMO_INTERVAL: '300ms', DEMO_LEAK_AFTER: '1' })
  const app = (await demo.waitForOutput(/demo app listening on (http:\/\/127\.0\.0\.1:\d+)/, 15_000))[1]
  const metrics = (await demo.waitForOutput(/metrics: +(http:\/\/127\.0\.0\.1:\d+\/metrics)/, 15_000))[1] ?? ''
  t.match(demo.stdout(), /targets: +http:\/\/127\.0\.0\.1:\d+\/api\/targets/)
  const text = await waitFor(
    async () => {
      const body = await (await fetch(metrics)).text()
      return /^nodejs_gc_duration_seconds_count\{target="demo",kind="minor"\} \d+/m.test(body) && body
    },
    { timeoutMs: 20_000, what: "GC metrics for the demo target" },
  )
  t.match(text, /^leakwatch_target_up\{target="demo"\} 1$/m)
  await demo.waitForOutput(/leak started/, 10_000)
  demo.child.kill('SIGINT')
  t.equal(await demo.exited, 0, 'Ctrl-C stops the demo with exit 0')
  await t.rejects(fetch(`${app}/stats`), 'the demo app stopped too')
})
