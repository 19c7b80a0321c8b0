// Fault: a target that answers slowly. Its main thread blocks for 1.5 s every 2 s outside
// JavaScript (a JavaScript busy loop would not do: the inspector interrupts running
// JavaScript to answer). With a 1 s timeout, some polls time out and the session is dropped
// and reopened; polls never overlap (the ticks due meanwhile are skipped), and /metrics
// stays fast.
import t from 'tap'
import { testConfig } from '../helpers/config.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'
import { assertScrapesFast, countingSessions, metricValue, scrape, sleep, startSidecar, watchScrapes } from './lib.js'

t.test('a target that blocks 1.5 s every 2 s, polled every 200 ms with a 1 s timeout', async (t) => {
  const target = await spawnTarget(t, {
    script: 'test/fixtures/targets/faulty-target.cjs',
    env: { BLOCK_MS: '1500', BLOCK_EVERY_MS: '2000' },
  })
  const sessions = countingSessions({ countInstall: true })
  const { sidecar, url } = await startSidecar(t, testConfig([{ name: 'slow', port: target.port, timeoutMs: 1000 }]), {
    openSession: sessions.open,
  })
  const monitor = sidecar.monitors[0]!
  await waitFor(() => monitor.status().polls >= 1, { timeoutMs: 10_000, what: 'a first poll' })
  const watch = watchScrapes(t, url)

  // Watch the status closely for 8 s (four blocks).
  const states = new Set<string>()
  let sawUp = false
  let sawDown = false
  let overlaps = 0
  const started = Date.now()
  const first = monitor.status()
  while (Date.now() - started < 8000) {
    const status = monitor.status()
    states.add(status.pollState)
    if (status.up) sawUp = true
    else sawDown = true
    if (status.maxPollsInFlight > 1) overlaps += 1
    await sleep(10)
  }
  const last = monitor.status()
  const timeouts = last.collectors.reduce((sum, c) => sum + c.errors, 0) - first.collectors.reduce((sum, c) => sum + c.errors, 0)
  const timedOut = last.collectors.filter((c) => c.lastError?.code === 'LW_ERR_TIMEOUT')
  t.comment(
    `8 s: ${last.polls - first.polls} polls, ${last.pollsSkipped - first.pollsSkipped} skipped, ${timeouts} collector errors, ` +
      `${last.connects - first.connects} reconnects, ${last.connectFailures - first.connectFailures} failed connects, ` +
      `${sessions.calls()} inspector calls, poll states seen: ${[...states].join(', ')}`,
  )
  t.ok(timeouts >= 1 && timedOut.length >= 1, `polls timed out (${timedOut.map((c) => c.lastError?.message).join('; ')})`)
  t.ok(last.pollsSkipped > first.pollsSkipped, `ticks due during a slow poll were skipped (${last.pollsSkipped - first.pollsSkipped})`)
  t.ok(last.polls > first.polls + 5, `polling went on between the blocks (${last.polls - first.polls} polls)`)
  t.ok(sawUp && sawDown, 'up between the blocks, down after a timeout')
  t.equal(overlaps, 0, 'status never showed two polls in flight')
  t.equal(last.maxPollsInFlight, 1, 'status: at most one poll in flight, ever')
  t.equal(sessions.maxInFlight(), 1, 'never two inspector calls in flight to the target at once')
  t.ok(last.connects > first.connects, 'the session was dropped after a timeout and reopened')
  const text = (await scrape(url)).text
  t.ok((metricValue(text, 'leakwatch_target_polls_skipped_total', { target: 'slow' }) ?? 0) > 0, 'skips exported')
  // The collectors that timed out are counted in the exposition, at least as often as the status said.
  for (const collector of timedOut) {
    const exported = metricValue(text, 'leakwatch_collector_errors_total', { target: 'slow', collector: collector.name }) ?? 0
    t.ok(exported >= collector.errors && exported >= 1, `${collector.name}: ${exported} errors exported (status said ${collector.errors})`)
  }
  await assertScrapesFast(t, watch, 'while the target answered slowly')
})
