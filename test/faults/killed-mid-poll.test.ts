// Fault: the target is SIGKILLed while a poll is waiting for its answer (its main thread
// is blocked outside JavaScript, so the evaluate hangs). The session's close must end the
// poll at once (not after the timeout), `up` must drop to 0, /metrics must stay fast, and
// a new process on the same port must be picked up by itself.
import t from 'tap'
import { testConfig } from '../helpers/config.js'
import { freePort, spawnTarget, waitFor } from '../helpers/targets.js'
import { apiTarget, assertScrapesFast, metricValue, scrape, startSidecar, watchScrapes } from './lib.js'

t.test('a target killed in the middle of a poll', async (t) => {
  const port = await freePort()
  const first = await spawnTarget(t, {
    script: 'test/fixtures/targets/faulty-target.cjs',
    inspectPort: port,
    env: { BLOCK_MS: '1500', BLOCK_EVERY_MS: '2000' },
  })
  // The timeout is longer than the block: a poll that meets the block simply waits.
  const { sidecar, url } = await startSidecar(t, testConfig([{ name: 'app', port, timeoutMs: 5000 }]))
  const monitor = sidecar.monitors[0]!
  await waitFor(() => monitor.status().up, { timeoutMs: 10_000, what: 'up' })
  const watch = watchScrapes(t, url)

  // A poll is stuck in the target once it has been running far longer than a normal poll.
  const stuck = await waitFor(
    () => {
      const status = monitor.status()
      return status.pollState === 'running' && Date.now() - Date.parse(status.pollSince!) > 300 && status
    },
    { timeoutMs: 10_000, intervalMs: 10, what: 'a poll stuck in the blocked target' },
  )
  const pollsBefore = stuck.polls
  const killedAt = performance.now()
  await first.kill('SIGKILL')
  await waitFor(() => monitor.status().pollState === 'idle', { timeoutMs: 3000, intervalMs: 5, what: 'the stuck poll ended' })
  const endedAfter = performance.now() - killedAt
  t.ok(endedAfter < 1000, `the poll ended ${endedAfter.toFixed(0)} ms after the kill (timeout 5000 ms)`)

  const down = await apiTarget(url, 'app')
  t.equal(down.up, false, 'not up')
  t.equal(down.polls, pollsBefore, 'no further poll')
  // lastError may already be a failed reconnect to the dead port; why the session ended stays.
  t.equal(down.disconnectReason?.code, 'LW_ERR_SESSION_CLOSED', `disconnectReason: ${down.disconnectReason?.message}`)
  // The call in flight is a collector's, or the analysis step's (a floor bought by a forced GC
  // when the blocked target's heap floor is starved of major GCs): either fails with the close.
  const failed = [
    ...down.collectors.filter((c) => c.lastError?.code === 'LW_ERR_SESSION_CLOSED').map((c) => `${c.name}: ${c.lastError?.message}`),
    ...(down.extensionError?.code === 'LW_ERR_SESSION_CLOSED' ? [`analysis step: ${down.extensionError.message}`] : []),
  ]
  t.ok(failed.length >= 1, `the call in flight failed with a closed session: ${failed.join('; ')}`)
  t.ok(
    down.collectors.every((c) => c.lastError?.code !== 'LW_ERR_UNKNOWN'),
    'no collector error left uncoded',
  )
  const text = (await scrape(url)).text
  t.equal(metricValue(text, 'leakwatch_target_up', { target: 'app' }), 0, 'leakwatch_target_up 0')
  t.equal(metricValue(text, 'nodejs_heap_size_used_bytes', { target: 'app' }), undefined, 'values of the dead process are gone')

  // Reconnect attempts find nothing, then a new process appears on the same port.
  await waitFor(() => monitor.status().lastError?.code === 'LW_ERR_CONNECT', { timeoutMs: 5000, what: 'connect refused' })
  const second = await spawnTarget(t, { script: 'test/fixtures/targets/faulty-target.cjs', inspectPort: port })
  await waitFor(() => monitor.status().up && monitor.status().process?.pid === second.pid, {
    timeoutMs: 10_000,
    what: 'up on the new process',
  })
  const up = await apiTarget(url, 'app')
  t.equal(up.restarts, 1, 'counted as a restart')
  t.equal(up.lastError, null)
  t.equal(up.maxPollsInFlight, 1, 'polls never overlapped')
  const after = (await scrape(url)).text
  t.equal(metricValue(after, 'leakwatch_target_up', { target: 'app' }), 1)
  t.equal(metricValue(after, 'leakwatch_target_restarts_total', { target: 'app' }), 1)
  await assertScrapesFast(t, watch, 'around the kill')
})
