// Load: one sidecar watching 50 real target processes every 500 ms with at most 4 polls at
// once. Every target comes up; every tick is either a poll or a counted skip, and no target
// shows success without a fresh poll; the poll limit holds (the limiter's own high-water mark
// and an independent count of inspector calls in flight); /metrics size and latency are
// reported. Targets are tiny (an idle timer, no server, a 32 MB heap cap) and started in
// batches to keep the 2-core machine usable.
import t from 'tap'
import { testConfig } from '../helpers/config.js'
import { spawnTarget, waitFor, type SpawnedTarget } from '../helpers/targets.js'
import { countingSessions, metricValue, scrape, sleep, startSidecar, type Scrape } from './lib.js'

const TARGETS = 50
const BATCH = 10
const INTERVAL_MS = 500
const LIMIT = 4
const OBSERVE_MS = 10_000

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

t.test(`${TARGETS} targets, ${INTERVAL_MS} ms interval, ${LIMIT} polls at once`, async (t) => {
  const targets: SpawnedTarget[] = []
  t.teardown(() => Promise.all(targets.map((target) => target.kill('SIGKILL'))))
  const spawnStarted = performance.now()
  for (let i = 0; i < TARGETS; i += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, TARGETS - i) }, () =>
        spawnTarget(t, { script: 'test/fixtures/targets/idle-target.cjs', nodeArgs: ['--max-old-space-size=32'], readyTimeoutMs: 30_000 }),
      ),
    )
    targets.push(...batch)
  }
  const spawnMs = performance.now() - spawnStarted
  // How long 50 processes take to start says how loaded the machine is, not how the sidecar behaves.
  t.comment(`${TARGETS} targets started in ${(spawnMs / 1000).toFixed(1)} s`)

  const sessions = countingSessions()
  const names = targets.map((_, i) => `t${String(i).padStart(2, '0')}`)
  const config = testConfig(
    targets.map((target, i) => ({ name: names[i]!, port: target.port, intervalMs: INTERVAL_MS, timeoutMs: 3000 })),
    { intervalMs: INTERVAL_MS, timeoutMs: 3000, maxConcurrentPolls: LIMIT },
  )
  const { sidecar, url } = await startSidecar(t, config, { openSession: sessions.open })
  const upStarted = performance.now()
  await waitFor(() => sidecar.monitors.every((monitor) => monitor.status().up), {
    timeoutMs: 20_000,
    intervalMs: 100,
    what: `all ${TARGETS} targets up`,
  })
  t.pass(`all ${TARGETS} up ${((performance.now() - upStarted) / 1000).toFixed(1)} s after the sidecar started`)

  // Observe: scrape every 500 ms and check each target's view in every scrape.
  const ticksOf = () => sidecar.monitors.map((m) => ({ polls: m.status().polls, skipped: m.status().pollsSkipped }))
  const startTicks = ticksOf()
  const observeStarted = performance.now()
  const scrapes: Scrape[] = []
  const problems: string[] = []
  /** Each target's age of its last poll at each scrape, judged once this process's own lateness is known. */
  const ages: Array<[string, number]> = []
  let maxAgeS = 0
  /** The longest a poll waited for a slot, as exported. */
  let maxQueuedS = 0
  // A reference timer of the same interval in this process (the sidecar runs in it): on a loaded
  // machine (CI: two cores, other test files in parallel, 50 targets) its timers, the targets'
  // ticks included, fire late and fewer times than the wall clock allows. The tick check counts
  // against the reference's fires, and the freshness check allows for its longest lateness.
  let referenceTicks = 0
  let maxLateMs = 0
  let lastFire = performance.now()
  const reference = setInterval(() => {
    const now = performance.now()
    maxLateMs = Math.max(maxLateMs, now - lastFire - INTERVAL_MS)
    lastFire = now
    referenceTicks += 1
  }, INTERVAL_MS)
  t.teardown(() => clearInterval(reference))
  while (performance.now() - observeStarted < OBSERVE_MS) {
    const result = await scrape(url)
    const now = Date.now() / 1000
    scrapes.push(result)
    for (const name of names) {
      const up = metricValue(result.text, 'leakwatch_target_up', { target: name })
      const lastPoll = metricValue(result.text, 'leakwatch_target_last_poll_timestamp_seconds', { target: name })
      const successes = [...result.text.matchAll(new RegExp(`^leakwatch_collector_success\\{target="${name}",collector="(\\w+)"\\} (\\d)$`, 'gm'))]
      if (up !== 1) problems.push(`${name} up=${up}`)
      if (lastPoll === undefined) {
        if (successes.length > 0) problems.push(`${name}: collector success without any poll`)
        continue
      }
      const age = now - lastPoll
      maxAgeS = Math.max(maxAgeS, age)
      ages.push([name, age])
      const failed = successes.filter((m) => m[2] !== '1').map((m) => m[1])
      if (failed.length > 0) problems.push(`${name}: collectors failed: ${failed.join(', ')}`)
      if (successes.length < 7) problems.push(`${name}: only ${successes.length} collector_success series`)
      const queuedS = metricValue(result.text, 'leakwatch_poll_queue_seconds', { target: name })
      if (queuedS === undefined) problems.push(`${name}: no queue time`)
      else maxQueuedS = Math.max(maxQueuedS, queuedS)
    }
    await sleep(INTERVAL_MS)
  }
  const observedMs = performance.now() - observeStarted
  const endTicks = ticksOf()
  clearInterval(reference)
  // A poll is due every 0.5 s; allow 3 s, and for the longest wait for a slot and how late this
  // process ran, as measured. A success kept from a target no longer polled grows older with
  // every scrape, past any such bound.
  const freshS = 3 + maxQueuedS + maxLateMs / 1000
  for (const [name, age] of ages) if (age > freshS) problems.push(`${name}: collector success reported from a poll ${age.toFixed(1)} s old`)
  t.same(
    problems.slice(0, 10),
    [],
    `every scrape: all up, all collectors succeeded, last poll fresh (oldest ${maxAgeS.toFixed(2)} s, allowed ${freshS.toFixed(2)} s)`,
  )

  // Every tick of the window is accounted for: a poll or a counted skip, as many as the reference
  // timer fired.
  const expectedTicks = referenceTicks
  const unaccounted = names.filter((_, i) => {
    const polled = endTicks[i]!.polls - startTicks[i]!.polls
    const skipped = endTicks[i]!.skipped - startTicks[i]!.skipped
    return polled + skipped < expectedTicks - 2
  })
  t.same(
    unaccounted,
    [],
    `every target polled or skipped on each of ~${expectedTicks} ticks (a reference timer's fires; ${Math.floor(observedMs / INTERVAL_MS)} by the wall clock)`,
  )
  const polled = endTicks.reduce((sum, e, i) => sum + e.polls - startTicks[i]!.polls, 0)
  const skipped = endTicks.reduce((sum, e, i) => sum + e.skipped - startTicks[i]!.skipped, 0)

  const slots = sidecar.pollSlots.stats()
  t.ok(slots.maxInUse <= LIMIT, `poll slots held at once: at most ${slots.maxInUse} (limit ${LIMIT})`)
  t.ok(sessions.maxInFlight() <= LIMIT, `inspector calls of polls in flight at once: at most ${sessions.maxInFlight()}`)
  const statusSlots = sidecar.monitors[0]!.status().pollSlots
  t.equal(statusSlots?.limit, LIMIT, 'the status shows the shared limit')
  t.equal(sidecar.monitors.map((m) => m.status().maxPollsInFlight).filter((n) => n !== 1).length, 0, 'no target had two polls in flight')

  const bytes = scrapes.map((s) => s.bytes)
  const latencies = scrapes.map((s) => s.ms)
  t.comment(
    `/metrics at ${TARGETS} targets: ${bytes.at(-1)} bytes (${((bytes.at(-1) ?? 0) / TARGETS / 1024).toFixed(1)} KiB per target), ` +
      `${sampleLines(scrapes.at(-1)!)} samples; scrape latency p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms over ${scrapes.length} scrapes`,
  )
  t.comment(
    `in ${(observedMs / 1000).toFixed(1)} s: ${polled} polls, ${skipped} skipped; slots: max ${slots.maxInUse} in use, ` +
      `max ${slots.maxWaiting} waiting, mean wait ${(slots.waitMsTotal / Math.max(1, slots.granted)).toFixed(1)} ms over ${slots.granted}; ` +
      `${sessions.calls()} inspector calls; sidecar process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  )
  t.ok(Math.max(...latencies) < 1000, `slowest scrape ${Math.max(...latencies).toFixed(0)} ms`)

  await sidecar.stop()
})

function sampleLines(result: Scrape): number {
  return result.text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length
}
