import CDP from 'chrome-remote-interface'
import t from 'tap'
import { ProfilerController, fetchDelayMs, fetchDue } from '../../src/attribution/profiler.js'
import { INSTALL_AGENT, readSnippet } from '../../src/collectors/agent.js'
import gc from '../../src/collectors/gc.collector.js'
import { InspectorSession, listTargets } from '../../src/inspector/session.js'
import { TEST_ATTRIBUTION } from '../helpers/config.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

t.test('fetch delay follows the overhead budget', async (t) => {
  t.equal(fetchDelayMs(50, 0.002, 1000), 25_000, '50 ms pause at 0.2 % → 25 s')
  t.equal(fetchDelayMs(1, 0.01, 30_000), 30_000, 'never closer than the minimum interval')
  t.equal(fetchDelayMs(1000, 0.01, 1000), 100_000)
  t.equal(fetchDelayMs(5, 0, 1000), Number.POSITIVE_INFINITY, 'a zero budget never fetches')
})

t.test('a fetch is due at the poll nearest to the end of its delay', async (t) => {
  // 15 s polls, 30 s delay: the poll a millisecond early takes it, not the one 15 s late.
  t.ok(fetchDue(29_999, 30_000, 15_000))
  t.notOk(fetchDue(15_000, 30_000, 15_000))
  t.ok(fetchDue(22_500, 30_000, 15_000), 'half an interval early at most')
  t.notOk(fetchDue(22_499, 30_000, 15_000))
  t.notOk(fetchDue(29_999, 30_000, 0), 'no rounding without a poll interval')
  t.ok(fetchDue(30_000, 30_000, 0))
  t.notOk(fetchDue(1e12, Number.POSITIVE_INFINITY, 15_000), 'a zero budget still never fetches')
})

t.test('against a real target: start, budgeted fetches, exact floor, modes', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', env: { LEAK: '1' } })
  const session = await InspectorSession.open({ host: '127.0.0.1', port: target.port }, 2000)
  t.teardown(() => session.close())

  const off = new ProfilerController({ ...TEST_ATTRIBUTION, mode: 'off' }, 2000)
  t.equal(await off.step(session, Date.now(), true, () => t.fail('off never samples')), undefined)

  const lazy = new ProfilerController({ ...TEST_ATTRIBUTION, mode: 'on-suspicion' }, 2000)
  t.equal(await lazy.step(session, Date.now(), false, () => t.fail('not without suspicion')), undefined)
  t.equal(lazy.status().state, 'idle')

  const profiler = new ProfilerController({ ...TEST_ATTRIBUTION, mode: 'always', minFetchIntervalMs: 200, budget: 0.5 }, 2000)
  let started = 0
  const now = Date.now()
  t.equal(await profiler.step(session, now, false, () => (started += 1)), undefined, 'the first step starts sampling')
  t.equal(started, 1)
  t.equal(profiler.status().state, 'sampling')
  t.equal(await profiler.step(session, now + 100, false, () => undefined), undefined, 'not before the minimum interval')
  await new Promise((resolve) => setTimeout(resolve, 300))
  const fetched = await profiler.step(session, now + 300, false, () => undefined)
  t.ok(fetched !== undefined, 'fetched once due')
  t.ok((fetched?.pauseMs ?? 0) > 0)
  // The target's CPU during the fetch (the forced GC's threads, the serialization) is charged.
  t.ok((fetched?.cpuMs ?? 0) > 0, `target CPU during the fetch: ${fetched?.cpuMs?.toFixed(1)} ms (pause ${fetched?.pauseMs.toFixed(1)} ms)`)
  t.equal(fetched?.costMs, Math.max(fetched?.pauseMs ?? 0, fetched?.cpuMs ?? 0), 'cost: the larger of pause and CPU')
  t.ok((fetched?.floorBytes ?? 0) > 1e6, 'exact floor after the forced GC')
  t.ok((fetched?.profile.samples.length ?? 0) > 0)
  const pause = fetched?.pauseMs ?? 0
  const cost = fetched?.costMs ?? 0
  t.equal(
    await profiler.step(session, now + 300 + Math.max(200, cost / 0.5) - 1, false, () => undefined),
    undefined,
    'the budget holds the next fetch back by its cost',
  )
  const counters = profiler.counters
  t.equal(counters.fetches, 1)
  t.equal(counters.lastPauseMs, pause)
  t.equal(counters.lastCostMs, cost)
  t.equal(counters.cpuTotalMs, fetched?.cpuMs)
  t.equal(profiler.running, true)

  // Another client stops the one profiler of the isolate: reported, not fought over.
  const [description] = await listTargets({ host: '127.0.0.1', port: target.port }, 2000)
  const other = await CDP({ target: description?.webSocketDebuggerUrl ?? '', local: true })
  await other.send('HeapProfiler.stopSampling')
  await other.close()
  t.equal(await profiler.step(session, now + 1e9, false, () => undefined), undefined)
  t.equal(profiler.status().state, 'interrupted')
  t.equal(profiler.counters.interruptions, 1)
  t.match(profiler.status().lastError, /stopped by another client/)
  t.equal(await profiler.step(session, now + 2e9, false, () => t.fail('no restart while interrupted')), undefined)
  profiler.onDisconnect()
  t.equal(profiler.status().state, 'idle', 'a new connect may start it again')
  profiler.reset()
  t.equal(profiler.status().lastError, null)
})

t.test("bought floors are paid from the floor budget's own account: a search's bill does not hold them, nor they a read", async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const session = await InspectorSession.open({ host: '127.0.0.1', port: target.port }, 2000)
  t.teardown(() => session.close())
  const floorBudget = 0.01
  const profiler = new ProfilerController({ ...TEST_ATTRIBUTION, suspicionBudget: 0.01, floorBudget, minFetchIntervalMs: 200 }, 2000)
  const now = Date.now()
  // A search cost 300 ms of the target's time: at 1 % the profile budget is paid in 30 s.
  profiler.charge(now, 300)
  t.equal(profiler.budgetFreeAtMs(), now + 30_000)
  const bought = await profiler.buyFloor(session, now + 1_000)
  t.ok(bought !== undefined && bought.bytes > 1e6, "a floor is bought during the search's bill")
  t.equal(profiler.budgetFreeAtMs(), now + 30_000, 'and adds nothing to it: reads and searches wait for their own account only')
  const pauseMs = bought?.pauseMs ?? 0
  // Its own account: the next floor waits for this one's cost ÷ the floor budget (its pause at least), and the minimum interval.
  const wait = Math.max(200, pauseMs / floorBudget)
  t.equal(await profiler.buyFloor(session, now + 1_000 + wait - 1), undefined, `the next floor waits ${wait.toFixed(0)} ms at least`)
  t.equal(profiler.status().forcedGcs, 1)
  t.ok((await profiler.buyFloor(session, now + 1_000 + 120_000)) !== undefined, 'and is bought once its own account has paid')
  t.equal(profiler.status().forcedGcs, 2)
  profiler.reset()
  t.ok((await profiler.buyFloor(session, now + 121_001)) !== undefined, 'a new process: the account starts over')
})

t.test("the target's GC observer sees the sidecar's own GCs: told apart from V8's by their time", async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const session = await InspectorSession.open({ host: '127.0.0.1', port: target.port }, 2000)
  t.teardown(() => session.close())
  await session.evaluate(INSTALL_AGENT, 2000)
  const observed = async (): Promise<number[]> => {
    const reply = (await session.evaluate(readSnippet({ gc: 0 }), 2000)) as { parts: { gc: unknown } }
    return gc.parse(reply.parts.gc, undefined, Date.now()).floors?.map((floor) => floor.timeMs) ?? []
  }
  const before = (await observed()).length
  const profiler = new ProfilerController({ ...TEST_ATTRIBUTION, suspicionBudget: 0.05, minFetchIntervalMs: 200 }, 2000)
  const boughtAt = Date.now()
  t.ok((await profiler.buyFloor(session, boughtAt)) !== undefined, 'a floor bought')
  // The observer's entries arrive a task later: wait for the first floor.
  const all = await waitFor(async () => {
    const floors = await observed()
    return floors.length > before ? floors : undefined
  }, { timeoutMs: 2000, intervalMs: 20, what: 'the forced GC in the observer' })
  const floors = all.slice(before)
  t.ok(floors.length >= 1, `the observer saw ${floors.length} major GC(s) of the forced collection`)
  for (const timeMs of floors) t.ok(profiler.causedGc(timeMs), `the GC ${timeMs - boughtAt} ms after the poll is the sidecar's own`)
  t.notOk(profiler.causedGc(boughtAt - 5_000), "one five seconds earlier is V8's")
  t.notOk(profiler.causedGc(Date.now() + 5_000), 'and one five seconds later')
  profiler.reset()
  t.notOk(profiler.causedGc(floors[0] ?? boughtAt), 'a new process: nothing of the old one is its own')
})
