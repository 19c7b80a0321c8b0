// Fault: the target closes its own inspector (`require('node:inspector').close()`) and keeps
// running; its inspector port is then closed. The sidecar must say so (up 0, the error in
// /api/targets), keep retrying at the backoff's pace without crashing, keep /metrics fast,
// and reconnect by itself, as a reconnect and not a restart, once the inspector is open again.
import t from 'tap'
import { testConfig } from '../helpers/config.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'
import { apiTarget, assertScrapesFast, floorTimes, metricValue, scrape, sleep, startSidecar, watchScrapes } from './lib.js'

t.test('the inspector closed from inside the target', async (t) => {
  const target = await spawnTarget(t, {
    script: 'test/fixtures/targets/faulty-target.cjs',
    nodeArgs: ['--expose-gc'],
    env: { GC_EVERY_MS: '100' },
  })
  const { sidecar, url } = await startSidecar(
    t,
    testConfig([{ name: 'app', port: target.port }], { reconnect: { minDelayMs: 100, maxDelayMs: 800 } }),
  )
  const monitor = sidecar.monitors[0]!
  const before = await waitFor(
    async () => {
      const view = await apiTarget(url, 'app')
      return view.up && floorTimes(view, 'heap').length >= 2 && view
    },
    { timeoutMs: 15_000, what: 'up with heap floors' },
  )
  const watch = watchScrapes(t, url)

  // The fixture calls inspector.close() on SIGUSR2 (and inspector.open() on the next one).
  process.kill(target.pid, 'SIGUSR2')
  await waitFor(() => /^inspector closed$/m.test(target.stdout()), { timeoutMs: 5000, what: 'the target closed its inspector' })
  const lost = await waitFor(
    async () => {
      const view = await apiTarget(url, 'app')
      return !view.up && view.lastError !== null && view
    },
    { timeoutMs: 5000, what: 'the session loss reported' },
  )
  t.match(lost.lastError?.code, /^LW_ERR_(SESSION_CLOSED|CONNECT)$/, `first error: ${lost.lastError?.code} ${lost.lastError?.message}`)
  const refused = await waitFor(
    async () => {
      const view = await apiTarget(url, 'app')
      return view.lastError?.code === 'LW_ERR_CONNECT' && view
    },
    { timeoutMs: 5000, what: 'the closed port reported' },
  )
  t.match(refused.lastError?.message, /cannot reach inspector at http:\/\/127\.0\.0\.1:\d+\/json\/list: .*ECONNREFUSED/)
  t.equal(metricValue((await scrape(url)).text, 'leakwatch_target_up', { target: 'app' }), 0, 'leakwatch_target_up 0')

  // Retries go on at the backoff's pace (50..100, 100..200, 200..400, then 400..800 ms).
  const failuresBefore = monitor.status().connectFailures
  const retryAts = new Set<string>()
  const watchStarted = Date.now()
  while (Date.now() - watchStarted < 4000) {
    const status = monitor.status()
    if (status.nextRetryAt !== null) retryAts.add(status.nextRetryAt)
    await sleep(20)
  }
  const attempts = monitor.status().connectFailures - failuresBefore
  t.ok(attempts >= 3 && attempts <= 12, `${attempts} failed attempts in 4 s`)
  const gaps = [...retryAts].map(Date.parse).sort((a, b) => a - b).map((time, i, all) => (i === 0 ? 0 : time - all[i - 1]!)).slice(1)
  t.ok(gaps.length >= 2 && gaps.slice(-2).every((gap) => gap >= 400 - 50), `retries spaced out: ${gaps.join(', ')} ms`)
  const ticks = (): number => (target.stdout().match(/^alive /gm) ?? []).length
  const aliveBefore = ticks()
  await waitFor(() => ticks() > aliveBefore + 2, { timeoutMs: 3000, what: 'the target keeps running' })
  t.equal(target.child.exitCode, null, 'the target is still running')

  process.kill(target.pid, 'SIGUSR2')
  await waitFor(() => /^inspector opened on \d+$/m.test(target.stdout()), { timeoutMs: 5000, what: 'inspector open again' })
  const back = await waitFor(
    async () => {
      const view = await apiTarget(url, 'app')
      return view.up && view.connects > before.connects && view
    },
    { timeoutMs: 10_000, what: 'reconnected' },
  )
  t.equal(back.process?.pid, target.pid, 'same process')
  t.equal(back.restarts, 0, 'a reconnect, not a restart')
  t.equal(back.lastError, null)
  t.equal(floorTimes(back, 'heap')[0], floorTimes(before, 'heap')[0], 'the analysis was kept')
  t.equal(metricValue((await scrape(url)).text, 'leakwatch_target_up', { target: 'app' }), 1)
  await assertScrapesFast(t, watch, 'while the inspector was closed')
})
