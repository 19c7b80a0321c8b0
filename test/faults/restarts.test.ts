// Faults: a target restarted again and again (a new pid and a new inspector websocket each
// time), and a target stopped for longer than the timeouts and then resumed. A restart must
// be counted and must start the leak analysis over; a mere reconnect to the same process must
// keep it. /metrics stays fast throughout.
import t from 'tap'
import { testConfig } from '../helpers/config.js'
import { freePort, spawnTarget, waitFor, type SpawnedTarget } from '../helpers/targets.js'
import { apiTarget, assertScrapesFast, floorTimes, metricValue, scrape, sleep, startSidecar, watchScrapes } from './lib.js'

const FIXTURE = 'test/fixtures/targets/faulty-target.cjs'
/** Forced major GCs give heap floors; the analysis keeps one floor per 500 ms window. */
const GC_TARGET = { script: FIXTURE, nodeArgs: ['--expose-gc'], env: { GC_EVERY_MS: '100' } }

async function websocketId(port: number): Promise<string> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ id: string }>
  return list[0]!.id
}

t.test('restarted six times: each restart counted, analysis state reset each time', async (t) => {
  const port = await freePort()
  let target: SpawnedTarget = await spawnTarget(t, { ...GC_TARGET, inspectPort: port })
  const { sidecar, url } = await startSidecar(t, testConfig([{ name: 'app', port }]))
  const monitor = sidecar.monitors[0]!
  await waitFor(() => monitor.status().up, { timeoutMs: 10_000, what: 'up' })
  const watch = watchScrapes(t, url)
  const pids = new Set([target.pid])
  const ids = new Set([await websocketId(port)])

  for (let restart = 1; restart <= 6; restart++) {
    // Some analysis state of the current process first, so the reset has something to clear.
    let seen = ''
    const before = await waitFor(
      async () => {
        const view = await apiTarget(url, 'app')
        const heap = floorTimes(view, 'heap').length
        const rss = floorTimes(view, 'rss').length
        seen = `heap ${heap}, rss ${rss} floors, up ${view.up}, pid ${view.process?.pid}, restarts ${view.restarts}, lastError ${JSON.stringify(view.lastError)}, gc ${JSON.stringify(view.collectors.find((c) => c.name === 'gc'))}, sources ${JSON.stringify((view.analysis?.signals.find((s) => s.signal === 'heap') as { floorSources?: unknown } | undefined)?.floorSources)}, extensionError ${JSON.stringify(view.extensionError)}`
        return heap >= 2 && rss >= 2 && view
      },
      { timeoutMs: 20_000, what: () => `floors of process ${restart} (${seen})` },
    )
    t.equal(before.restarts, restart - 1)
    await target.kill(restart % 2 === 0 ? 'SIGKILL' : 'SIGTERM')
    target = await spawnTarget(t, { ...GC_TARGET, inspectPort: port })
    t.notOk(pids.has(target.pid), `restart ${restart}: new pid ${target.pid}`)
    pids.add(target.pid)
    const id = await websocketId(port)
    t.notOk(ids.has(id), `restart ${restart}: new websocket id ${id}`)
    ids.add(id)
    const after = await waitFor(
      async () => {
        const view = await apiTarget(url, 'app')
        return view.up && view.process?.pid === target.pid && view
      },
      { timeoutMs: 10_000, what: `up on process ${restart + 1}` },
    )
    t.equal(after.restarts, restart, `restart ${restart} counted`)
    // Every floor in the analysis now belongs to the new process.
    const start = after.process!.startTime
    const fresh = await waitFor(
      async () => {
        const view = await apiTarget(url, 'app')
        return floorTimes(view, 'rss').length >= 1 && view
      },
      { timeoutMs: 10_000, what: `floors of process ${restart + 1}` },
    )
    const stale = ['heap', 'rss', 'external'].flatMap((signal) => floorTimes(fresh, signal).filter((time) => time < start))
    t.same(stale, [], `restart ${restart}: no floor of an earlier process survived`)
    t.equal(
      metricValue((await scrape(url)).text, 'leakwatch_target_restarts_total', { target: 'app' }),
      restart,
      `leakwatch_target_restarts_total ${restart}`,
    )
  }
  t.equal(monitor.status().maxPollsInFlight, 1, 'polls never overlapped')
  await assertScrapesFast(t, watch, 'through six restarts')
})

t.test('stopped beyond the timeout, then resumed: a reconnect keeps the analysis', async (t) => {
  const target = await spawnTarget(t, GC_TARGET)
  const { sidecar, url } = await startSidecar(t, testConfig([{ name: 'app', port: target.port, timeoutMs: 500 }]))
  const monitor = sidecar.monitors[0]!
  const before = await waitFor(
    async () => {
      const view = await apiTarget(url, 'app')
      return view.up && floorTimes(view, 'heap').length >= 3 && view
    },
    { timeoutMs: 15_000, what: 'heap floors' },
  )
  const firstFloor = floorTimes(before, 'heap')[0]!
  const connects = before.connects
  const watch = watchScrapes(t, url)

  process.kill(target.pid, 'SIGSTOP')
  t.teardown(() => {
    try {
      process.kill(target.pid, 'SIGCONT')
    } catch {
      // gone already
    }
  })
  await waitFor(() => monitor.status().lastError?.code === 'LW_ERR_TIMEOUT', { timeoutMs: 5000, what: 'a timeout' })
  // Well past the timeout: reconnects keep timing out while it is stopped.
  await sleep(2000)
  const stopped = await apiTarget(url, 'app')
  t.equal(stopped.up, false, 'down while stopped')
  t.equal(stopped.lastError?.code, 'LW_ERR_TIMEOUT', stopped.lastError?.message ?? 'no error')
  t.equal(metricValue((await scrape(url)).text, 'leakwatch_target_up', { target: 'app' }), 0)
  t.equal(floorTimes(stopped, 'heap')[0], firstFloor, 'floors kept while disconnected')

  process.kill(target.pid, 'SIGCONT')
  const resumed = await waitFor(
    async () => {
      const view = await apiTarget(url, 'app')
      return view.up && view.connects > connects && view
    },
    { timeoutMs: 10_000, what: 'up again after SIGCONT' },
  )
  t.equal(resumed.process?.pid, target.pid, 'same process')
  t.equal(resumed.restarts, 0, 'a reconnect, not a restart')
  t.equal(metricValue((await scrape(url)).text, 'leakwatch_target_restarts_total', { target: 'app' }), 0)
  // The floor series goes on where it was: the oldest point is still there and new ones follow.
  const later = await waitFor(
    async () => {
      const view = await apiTarget(url, 'app')
      const times = floorTimes(view, 'heap')
      return times.at(-1)! > Date.now() - 3000 && times.length > floorTimes(before, 'heap').length && view
    },
    { timeoutMs: 10_000, what: 'new heap floors after the reconnect' },
  )
  t.equal(floorTimes(later, 'heap')[0], firstFloor, 'the heap floor series was not cleared')
  t.equal(later.maxPollsInFlight, 1, 'polls never overlapped')
  await assertScrapesFast(t, watch, 'while the target was stopped and resumed')
})
