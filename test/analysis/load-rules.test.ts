import t from 'tap'
import { loadRamp, MIN_LOAD_STEP, risenRelative } from '../../src/analysis/load.js'
import { evaluateFast, type LoadLevel } from '../../src/analysis/verdict.js'
import { risingLoad } from '../../src/analysis/load-reasons.js'
import { LOAD_THRESHOLDS } from '../helpers/config.js'
import { loadLevel } from '../../src/leak/load-tracker.js'
import { noise } from '../helpers/noise.js'

const MIN = 60_000
const HOUR = 3_600_000
const config = LOAD_THRESHOLDS


/** Poll readings every 15 s over [fromMs, toMs] of `load(t)` plus `jitter` (uniform, peak to peak). */
function readings(fromMs: number, toMs: number, load: (timeMs: number) => number, jitter: number, seed = 7) {
  const next = noise(seed)
  const times: number[] = []
  const values: number[] = []
  for (let time = fromMs; time <= toMs; time += 15_000) {
    times.push(time)
    values.push(Math.max(0, load(time) + jitter * next()))
  }
  return { times, values }
}

/** Floors every minute over the last `spanMs` before `nowMs`, of `value(t)`. */
function floors(nowMs: number, spanMs: number, value: (timeMs: number) => number) {
  const times: number[] = []
  for (let time = nowMs - spanMs; time <= nowMs; time += MIN) times.push(time)
  return { times, values: times.map(value) }
}

t.test('a load rose relative to its own level: by the ratio asked, and at least half a point', async (t) => {
  t.ok(risenRelative(0.02, 0.03, 1.5), '2 % → 3 %: half as busy again')
  t.notOk(risenRelative(0.4, 0.45, 1.5), '0.40 → 0.45: an eighth more')
  t.notOk(risenRelative(0.002, 0.004, 1.5), `doubled, but under ${MIN_LOAD_STEP} of utilization: jitter`)
  t.notOk(risenRelative(0.03, 0.02, 1.5), 'fell')
  t.notOk(risenRelative(Number.NaN, 0.5, 1.5), 'unknown')
  t.ok(risenRelative(0.4, 0.61, 1.5))
})

t.test('a slow ramp of the load shows over two windows of readings, not in one window of noise', async (t) => {
  const now = 3 * HOUR
  // A morning ramp: 28 % → 37 % over 80 min (7 points an hour), readings jittering ±4 points.
  const ramp = readings(now - 80 * MIN, now, (time) => 0.28 + (0.09 * (time - (now - 80 * MIN))) / (80 * MIN), 0.08)
  const seen = loadRamp(ramp, now - 60 * MIN, now, 30 * MIN)
  t.ok(seen !== undefined)
  t.ok(seen!.pIncreasing <= 0.01, `p = ${seen!.pIncreasing}`)
  t.ok(seen!.last > seen!.first + 0.04, `${seen!.first} → ${seen!.last}`)
  t.equal(seen!.spanMs, 60 * MIN)
  const steady = loadRamp(readings(now - 80 * MIN, now, () => 0.3, 0.08), now - 60 * MIN, now, 30 * MIN)
  t.ok(steady!.pIncreasing > 0.01, `steady load: p = ${steady!.pIncreasing}`)
  t.equal(loadRamp(readings(now - 2 * MIN, now, () => 0.3, 0), now - 60 * MIN, now, 30 * MIN), undefined, 'fewer than 12 readings')
  t.equal(loadRamp(readings(now - 20 * MIN, now, () => 0.3, 0), now - 60 * MIN, now, 30 * MIN), undefined, 'under the minimum span')
})

t.test('the usual level carries the ramp, and has no baseline until there are readings before the window', async (t) => {
  const now = 2 * HOUR
  const all = readings(0, now, (time) => 0.2 + (0.1 * time) / now, 0.02)
  const level = loadLevel(all, now - 30 * MIN, 0, { nowMs: now, windowMs: 30 * MIN })
  t.ok(level?.ramp !== undefined && level.ramp.fromMs === now - 60 * MIN, 'two windows back')
  t.ok(level!.baselineMs > 0 && Number.isFinite(level!.baseline))
  const young = loadLevel(all, now - 30 * MIN, now - 30 * MIN, { nowMs: now, windowMs: 30 * MIN })
  t.ok(young !== undefined && Number.isNaN(young.baseline) && young.baselineMs === 0, 'readings only in the window: no baseline')
  t.ok(young!.ramp !== undefined && young!.ramp.spanMs === 30 * MIN, 'the ramp spans the window there is')
  t.equal(loadLevel(all, now - 30 * MIN, now + MIN), undefined, 'nothing in the window')
})

/** A process 3 h old whose floor is 80 MB fixed, ~40 MB following the load (rising 25 %/h), and `leak` bytes/s. */
function rampCase(leakBytesPerSecond: number) {
  const now = 3 * HOUR
  const load = (time: number): number => 0.28 + (0.07 * (time - (now - 2 * HOUR))) / HOUR // +25 %/h of its level
  const fixed = 80e6
  const perUtilization = 40e6 / 0.3 // 40 MB at 30 % utilization: what the requests in flight hold
  const floor = floors(now, 2 * HOUR, (time) => fixed + perUtilization * load(time) + leakBytesPerSecond * ((time - (now - 2 * HOUR)) / 1000) + ((time / MIN) % 3) * 4000)
  const all = readings(now - 3 * HOUR, now, (time) => Math.max(0.2, load(time)), 0.08)
  const level = loadLevel(all, now - config.windowMs, 0, { nowMs: now, windowMs: config.windowMs }) as LoadLevel
  return { now, floor, level }
}

t.test('a floor that rises with a morning ramp of the load waits; a leak under the same ramp does not', async (t) => {
  const ramp = rampCase(0)
  const quiet = evaluateFast(ramp.floor, ramp.now, config, 0, undefined, undefined, ramp.level)
  t.equal(quiet.positive, false, 'the ramp explains the floor')
  t.match(quiet.reasons.join('; '), /load: event-loop utilization rose from \d+ % to \d+ % over the last 1h \(Mann-Kendall p = .* ≤ 0\.01\), by \d+ %, at least the floor's \d+ %/)
  const leak = rampCase(8_000) // +29 MB/h more on ~120 MB: a larger share than the load's
  const raised = evaluateFast(leak.floor, leak.now, config, 0, undefined, undefined, leak.level)
  t.equal(raised.positive, true, raised.reasons.join('; '))
  t.equal(raised.loadWaived, null)
  // Heading for the limit within the urgent horizon: raised however the load moved, after a
  // whole window rather than raiseAfter, and the evidence says which objection it overrode.
  const nearLimit = evaluateFast(ramp.floor, ramp.now, config, 0, 140e6, undefined, ramp.level)
  t.equal(nearLimit.positive, true, nearLimit.reasons.join('; '))
  t.equal(nearLimit.holdMs, config.raiseAfterMs, 'the limit within a window: raiseAfter, the load not even asked')
  t.equal(nearLimit.loadWaived, null)
  const withinHours = evaluateFast(ramp.floor, ramp.now, config, 0, 170e6, undefined, ramp.level)
  t.equal(withinHours.positive, true, withinHours.reasons.join('; '))
  t.equal(withinHours.urgentByLimit, true)
  t.match(withinHours.loadWaived, /^load: event-loop utilization rose from/)
  t.equal(withinHours.holdMs, Math.max(config.raiseAfterMs, config.windowMs), 'within hours: a window')
  const leakNearLimit = evaluateFast(leak.floor, leak.now, config, 0, 170e6, undefined, leak.level)
  t.equal(leakNearLimit.urgentByLimit, true)
  t.equal(leakNearLimit.loadWaived, null, 'a leak the ramp does not explain')
  t.equal(leakNearLimit.holdMs, config.raiseAfterMs)
})

t.test('a mostly idle event loop half as busy again as usual is busier, though by a point and a half', async (t) => {
  const now = 4 * HOUR
  const floor = floors(now, 30 * MIN, (time) => 50e6 + 2_000 * ((time - (now - 30 * MIN)) / 1000))
  const level = (window: number, baseline: number, spread: number): LoadLevel => ({ window, baseline, spread, baselineMs: 3 * HOUR })
  const busier = evaluateFast(floor, now, config, 0, undefined, undefined, level(0.035, 0.02, 0.002))
  t.equal(busier.positive, false)
  t.match(busier.reasons.join('; '), /busier over the window \(utilization 3\.5 %\) than before it \(2\.0 %.*1\.75× ≥ 1\.5×/)
  t.equal(evaluateFast(floor, now, config, 0, undefined, undefined, level(0.035, 0.02, 0.01)).positive, true, 'within twice the usual spread')
  t.equal(evaluateFast(floor, now, config, 0, undefined, undefined, level(0.42, 0.4, 0.005)).positive, true, '0.40 → 0.42 at a high level: not busier')
})

t.test('within the window, a load that rose by half from a low level does not hold a leak back by itself', async (t) => {
  // A leak whose every leaked handler runs on each event makes its loop busier with it
  // (market-data-bus, held-out: 5.5 % → 7.4 % within the window); within one window that is no
  // evidence of traffic. Only a spread of 3 points or more lets a rising load explain the floor.
  const now = 4 * HOUR
  const times = Array.from({ length: 30 }, (_, i) => now - (29 - i) * MIN)
  const loads = times.map((_, i) => 0.05 + (0.025 * i) / 29 + ((i % 3) - 1) * 0.001)
  const window = { times, values: times.map((_, i) => 50e6 + 8_000 * i * 60), loads }
  const e = evaluateFast(window, now, config, 0, undefined)
  t.equal(e.positive, true, e.reasons.join('; '))
  const burst = { ...window, loads: times.map((_, i) => 0.2 + (0.2 * i) / 29) }
  t.match(evaluateFast(burst, now, config, 0, undefined).reasons.join('; '), /load: event-loop utilization rose over the window with the floor/, 'a rise of 20 points still does')
})

t.test('within the window, a mostly idle loop that became half as busy again with the floor holds it back', async (t) => {
  // A service that mostly waits (1.4 % of its loop) under a traffic peak (2.6×: 3.5 %): the load's
  // spread within the window is a point, yet the peak's requests hold the memory the floor gained.
  // Without the relative rule this was raised near its limit (synthetic waiting-load#377).
  const now = 4 * HOUR
  const times = Array.from({ length: 30 }, (_, i) => now - (29 - i) * MIN)
  const loads = times.map((_, i) => (i < 18 ? 0.014 : 0.014 + (0.021 * (i - 17)) / 12) + ((i % 3) - 1) * 0.0005)
  const window = { times, values: times.map((_, i) => 190e6 + (i < 18 ? 0 : 3.5e6 * (i - 17))), loads }
  const peak = evaluateFast(window, now, config, 0, undefined)
  t.equal(peak.positive, false)
  t.match(peak.reasons.join('; '), /load: event-loop utilization rose over the window with the floor \(1\.4 % in its first third, 2\.7 % in its last/)
  const steady = { ...window, loads: times.map((_, i) => 0.014 + ((i % 3) - 1) * 0.0005) }
  t.notMatch(evaluateFast(steady, now, config, 0, undefined).reasons.join('; '), /rose over the window/, 'the same floor at a steady load is not held back by the load')
})

t.test("within the window, the rising-load rule's new highs are judged against 1/2 per floor, not the slow path's 1/4", async (t) => {
  // Eighteen floors a minute apart under a load rising 20 → 40 %, three early readings as busy as
  // the last ones: six of six recent floors are above the highs of those three. Floors minutes
  // apart under one rising load move together: p = 0.016 at 1/2 per floor keeps the objection
  // (at 1/4 it would be 0.0002, and the window's rise would count as growth at comparable load).
  const times = Array.from({ length: 18 }, (_, i) => i * MIN)
  const loads = times.map((_, i) => 0.2 + (0.2 * i) / 17 + (i < 3 ? 0.2 : 0))
  const values = times.map((_, i) => 50e6 + 200_000 * i)
  t.match(risingLoad(times, values, loads, config), /6 of 6 recent floors above the earlier highs at the same or a higher load \(p = 0\.016\): the load explains it/)
})
