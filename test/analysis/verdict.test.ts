import t from 'tap'
import { loadCameBack, type LoadPoint } from '../../src/analysis/load.js'
import {
  INITIAL_VERDICT,
  SHAPE_TEST,
  TOO_FEW_POINTS,
  estimateOnset,
  evaluateFast,
  evaluateSignal,
  evaluateSlow,
  nextVerdict,
  secondsUntil,
  type AnalysisThresholds,
  type SignalEvidence,
} from '../../src/analysis/verdict.js'
import { noise } from '../helpers/noise.js'
import { fitShape, lagOneAutocorrelation, levelShowsIn } from '../../src/analysis/shape.js'

const MIN = 60_000
const HOUR = 3_600_000
const config: AnalysisThresholds = {
  windowMs: 60_000,
  minPoints: 10,
  maxPValue: 0.01,
  minSlopeBytesPerSecond: 1000,
  minRelativePerHour: 0.05,
  urgentHorizonMs: 4 * HOUR,
  fastRelativePerHour: 0.25,
  steadyRaiseAfterMs: undefined,
  slowWindowMs: 4 * HOUR,
  slowMinSlopeBytesPerSecond: 150,
  slowMinRelativePerHour: 0.0025,
  raiseAfterMs: 5 * MIN,
}
const series = (fn: (i: number) => number, n = 60, stepMs = 1000) => ({
  times: Array.from({ length: n }, (_, i) => i * stepMs),
  values: Array.from({ length: n }, (_, i) => fn(i)),
})


t.test('a steady rise passes every test of the fast path', async (t) => {
  const e = evaluateFast(series((i) => 50e6 + i * 5000 + (i % 3) * 1000), 59_000, config, 0, undefined)
  t.equal(e.positive, true)
  t.same(e.reasons, [])
  t.ok(Math.abs(e.slopeBytesPerSecond - 5000) < 600)
  t.ok(e.slopeLowerBytesPerSecond <= e.slopeBytesPerSecond && e.slopeLowerBytesPerSecond > 3000, 'a tight lower bound')
  t.ok(e.pValue < 1e-6)
  t.ok(e.relativePerHour > 0.3)
  t.equal(e.points, 60)
  t.equal(e.shape.model, 'linear')
})

t.test('each test can fail on its own, and names its value and threshold', async (t) => {
  const flat = evaluateFast(series((i) => 50e6 + (i % 2) * 1000), 59_000, config, 0, undefined)
  t.equal(flat.positive, false)
  t.match(flat.reasons.join(';'), /Mann-Kendall trend test: p = [\d.]+ > 0\.01/)
  const tinySlope = evaluateFast(series((i) => 50e6 + i * 10), 59_000, config, 0, undefined)
  t.match(tinySlope.reasons.join(';'), /slope: lower bound \d+ B\/s < 1000 B\/s \(estimate 10 B\/s\)/)
  const tinyRelative = evaluateFast(series((i) => 50e12 + i * 5000), 59_000, config, 0, undefined)
  t.match(tinyRelative.reasons.join(';'), /relative growth: lower bound [\d.]+ %\/h < 5\.0 %\/h/)
  const few = evaluateFast(series((i) => i * 1e6, 5), 4000, config, 0, undefined)
  t.match(few.reasons, [/too few floor points: 5 in the window \(wanted 10, or 6 spanning 25 % of it\)/])
  const warming = evaluateSignal('heap', series((i) => 50e6 + i * 5000), [], 59_000, config, 100_000, undefined)
  t.equal(warming.warmingUp, true)
  t.equal(warming.path, null)
  t.match(warming.reasons, [/warming up until/])
  t.equal(warming.fast.points, 0, 'warm-up points do not count')
})

t.test('no reason contradicts its numbers: a large slope is never said to be below its threshold', async (t) => {
  // The old wording said "slope 21904 B/s (at least 0 B/s) below 1024 B/s": the estimate passed, its bound did not.
  const rng = noise(3)
  const e = evaluateFast(series((i) => 50e6 + i * 21904 + rng() * 2e6, 20, 3000), 57_000, config, 0, undefined)
  for (const reason of e.reasons.filter((r) => r.startsWith('slope'))) t.match(reason, /^slope: lower bound .* < .* \(estimate /)
})

t.test('fewer floors than minPoints are judged when they span a quarter of the window (rare major GCs)', async (t) => {
  // 8 floors 8 s apart over the 60 s window: a fast leak whose heap makes V8 collect rarely.
  const e = evaluateFast(series((i) => 50e6 + i * 400_000, 8, 8000), 56_000, config, 0, undefined)
  t.equal(e.points, 8)
  t.equal(e.positive, true, e.reasons.join('; '))
  // 8 floors bunched into 4 s are not enough.
  const bunched = evaluateFast(series((i) => 50e6 + i * 400_000, 8, 500), 56_000, config, 0, undefined)
  t.match(bunched.reasons.join(';'), /too few floor points/)
})

t.test('a linear leak with GC noise is never judged as slowing down or stopped', async (t) => {
  // The case that cleared a verdict: halves at 1.29 and 0.92 MB/s by chance. 40 noisy leaks.
  let called = 0
  for (let seed = 1; seed <= 40; seed++) {
    const rng = noise(seed)
    const e = evaluateFast(series((i) => 80e6 + i * 1.1e6 + rng() * 4e6, 30, 2000), 58_000, config, 0, undefined)
    if (e.reasons.some((r) => r.startsWith('shape test'))) called += 1
  }
  t.equal(called, 0, 'no linear leak judged by its shape')
})

t.test('a leak whose floor grows in stairs is bent into a curve half as often when its points are counted as autocorrelated', async (t) => {
  // 12 MB/h kept a batch at a time (Buffers of failed uploads): each minute, with probability
  // 0.4, a batch of exponential size. Around any curve its deviations come in runs.
  const shapes = (make: (next: () => number) => number[], autocorrelated: boolean): number => {
    let bent = 0
    for (let seed = 1; seed <= 60; seed++) {
      const rng = noise(seed)
      const values = make(() => rng() + 0.5)
      if (fitShape(values.map((_, i) => i * MIN), values, { autocorrelated }).model !== 'linear') bent += 1
    }
    return bent
  }
  const stairs = (next: () => number): number[] => {
    let floor = 20e6
    return Array.from({ length: 30 }, () => {
      if (next() < 0.4) floor += -Math.log(next() + 1e-9) * 0.5e6
      return floor + (next() - 0.5) * 0.1e6
    })
  }
  const plain = shapes(stairs, false)
  const counted = shapes(stairs, true)
  t.ok(plain >= 30, `as independent points, ${plain} of 60 stair leaks are bent`)
  t.ok(counted <= plain / 2 + 3, `counted as autocorrelated, ${counted} of 60`)
  // A cache filling with white noise around its curve leaves white residuals: still a cache.
  const cache = (next: () => number): number[] => Array.from({ length: 30 }, (_, i) => 20e6 + 10e6 * (1 - Math.exp(-i / 8)) + (next() - 0.5) * 1e6)
  t.equal(shapes(cache, true), 60, 'every filling cache still curves')
  t.equal(lagOneAutocorrelation([1, -1, 1, -1]), -0.75)
  t.equal(lagOneAutocorrelation([0, 0, 0]), 0)
  // The fast path counts them so.
  const e = evaluateFast(series((i) => 50e6 + 20e6 * (1 - Math.exp(-i / 25))), 59_000, config, 0, undefined)
  t.equal(e.shape.model, 'saturating')
})

t.test('the shape test: a step, a filling cache, a drained burst and a cycle are not growth going on now', async (t) => {
  const step = evaluateFast(series((i) => 50e6 + (i >= 30 ? 5e6 : 0) + (i % 3) * 1000), 59_000, config, 0, undefined)
  t.equal(step.shape.model, 'step')
  t.match(step.reasons.join(';'), /shape test: a one-off step of 4\.8 MiB/)
  const cache = evaluateFast(series((i) => 50e6 + 20e6 * (1 - Math.exp(-i / 25))), 59_000, config, 0, undefined)
  t.equal(cache.positive, false)
  t.match(cache.reasons.join(';'), /shape test: approaching a level|shape test: growth stopped or slowed/)
  // A cache that would fill past the limit is still dangerous.
  const overLimit = evaluateFast(series((i) => 50e6 + 20e6 * (1 - Math.exp(-i / 25))), 59_000, config, 0, 60e6)
  t.notMatch(overLimit.reasons.join(';'), /approaching a level/)
  const burst = evaluateFast(series((i) => 50e6 + (i < 35 ? i * 200_000 : (70 - i) * 200_000)), 59_000, config, 0, undefined)
  t.equal(burst.positive, false)
  t.match(burst.reasons.join(';'), /growth stopped or slowed|no significant upward trend/)
  const cycle = evaluateFast(series((i) => 50e6 + (i < 20 ? (20 - i) * 300_000 : (i - 20) * 300_000)), 59_000, config, 0, undefined)
  t.equal(cycle.positive, false)
  t.match(cycle.reasons.join(';'), /fell .* and rose again/)
  // A linear leak whose floors rose faster for a while (a GC's timing) and go on at a rate worth
  // raising since: slowed, not stopped; growth going on now.
  const jumped = evaluateFast(series((i) => 50e6 + i * 5000 + Math.min(i, 10) * 60_000 + (i % 3) * 1000), 59_000, config, 0, undefined)
  t.equal(jumped.shape.model, 'two-segment')
  t.equal(jumped.positive, true, jumped.reasons.join('; '))
  t.ok(Math.abs(jumped.slopeBytesPerSecond - 5000) < 600, `judged on the slope since the break (${jumped.slopeBytesPerSecond} B/s)`)
  // Slowed below the smallest slope worth raising: still an objection of the shape.
  const slowed = evaluateFast(series((i) => 50e6 + i * 300 + Math.min(i, 30) * 60_000 + (i % 3) * 1000), 59_000, config, 0, undefined)
  t.equal(slowed.positive, false)
  t.match(slowed.reasons.join(';'), /shape test: growth stopped or slowed/)
  // A leak that starts inside the window is judged on its growth since the onset.
  const onset = evaluateFast(series((i) => 50e6 + Math.max(0, i - 30) * 100_000), 59_000, config, 0, undefined)
  t.equal(onset.positive, true, onset.reasons.join('; '))
  t.ok(onset.slopeBytesPerSecond > 90_000, 'the slope since the onset')
})

t.test('load is not a leak: a floor that follows the event-loop utilization is explained', async (t) => {
  // Within the window: a burst of load and the floor with it.
  const loads = Array.from({ length: 60 }, (_, i) => 0.2 + 0.5 * Math.exp(-((i - 40) ** 2) / 200))
  const floor = { ...series((i) => 50e6 + 80e6 * ((loads[i] as number) - 0.2) + (i % 3) * 2000), loads }
  const e = evaluateFast(floor, 59_000, config, 0, undefined)
  t.equal(e.positive, false)
  t.match(e.reasons.join(';'), /load: /)
  // A leak under the same load still shows.
  const leak = { ...series((i) => 50e6 + 80e6 * ((loads[i] as number) - 0.2) + i * 300_000), loads }
  t.equal(evaluateFast(leak, 59_000, config, 0, undefined).positive, true)
})

t.test('a load sensitivity learnt over hours takes the daily ramp out of the window', async (t) => {
  // Hours of floors tracking a slow load cycle: 100 MB per unit of utilization.
  const slow: LoadPoint[] = Array.from({ length: 60 }, (_, i) => {
    const load = 0.4 + 0.2 * Math.sin(i / 8)
    return { timeMs: i * 5 * MIN, value: 100e6 + 100e6 * load + (i % 2) * 10_000, load }
  })
  const now = 300 * MIN
  // The window: the morning ramp, floor rising with the load, too slowly for the window's load spread.
  const loads = Array.from({ length: 30 }, (_, i) => 0.4 + 0.02 * (i / 29))
  const window = {
    times: Array.from({ length: 30 }, (_, i) => now - (29 - i) * 2000),
    values: Array.from({ length: 30 }, (_, i) => 140e6 + 100e6 * ((loads[i] as number) - 0.4) + (i % 2) * 1000),
    loads,
  }
  const raw = evaluateFast(window, now, config, 0, undefined)
  t.equal(raw.positive, true, 'alone, the window looks like growth')
  const judged = evaluateSignal('heap', window, slow, now, config, 0, undefined)
  t.ok(judged.fast.loadSensitivity !== null && Math.abs(judged.fast.loadSensitivity.bytesPerUtilization - 100e6) < 5e6, 'learnt ~100 MB per unit')
  t.equal(judged.fast.positive, false, judged.fast.reasons.join('; '))
})

t.test('no load sensitivity is learnt from a load that only ever rose with the floor', async (t) => {
  // A leak whose leaked handlers run on every event: its loop gets busier as it grows, hour after
  // hour, and its load never comes back. Learnt from it, the sensitivity took the leak out.
  const slow: LoadPoint[] = Array.from({ length: 60 }, (_, i) => {
    const grown = Math.max(0, i - 10) * 0.75e6
    return { timeMs: i * 5 * MIN, value: 100e6 + grown + (i % 2) * 10_000, load: 0.2 + grown / 100e6 + (i % 3) * 0.001 }
  })
  const now = 300 * MIN
  // The window (at the test's compressed thresholds): the same leak going on, its load with it.
  const window = {
    times: Array.from({ length: 30 }, (_, i) => now - (29 - i) * 2000),
    values: Array.from({ length: 30 }, (_, i) => 137.5e6 + i * 20_000 + (i % 2) * 1000),
    loads: Array.from({ length: 30 }, (_, i) => 0.575 + i * 0.0002),
  }
  const judged = evaluateSignal('heap', window, slow, now, config, 0, undefined)
  t.equal(judged.fast.loadSensitivity, null, 'the load never came back')
  t.equal(judged.fast.positive, true, judged.fast.reasons.join('; '))
  t.equal(loadCameBack(slow.map((p) => p.load)), false)
  t.equal(loadCameBack([0.2, 0.3, 0.5, 0.46, 0.51]), true, 'down by 4 points')
  t.equal(loadCameBack([0.012, 0.015, 0.03, 0.019]), true, 'a mostly idle loop, back to two thirds')
  t.equal(loadCameBack([0.012, 0.015, 0.03, 0.021]), false, 'not yet two thirds')
})

t.test('how long the fast evidence must hold depends on the urgency', async (t) => {
  const leak = series((i) => 50e6 + i * 5000)
  const byLimit = evaluateFast(leak, 59_000, config, 0, 51e6)
  t.equal(byLimit.urgentByLimit, true)
  t.equal(byLimit.holdMs, config.raiseAfterMs, 'the limit is near: raiseAfter')
  const relative = evaluateFast(leak, 59_000, config, 0, undefined)
  t.ok(relative.relativePerHour >= config.fastRelativePerHour)
  t.equal(relative.holdMs, Math.max(config.raiseAfterMs, config.windowMs), 'fast relative growth: a window')
  const modest = evaluateFast(series((i) => 100e6 + i * 5000), 59_000, config, 0, undefined)
  t.equal(modest.positive, true)
  t.ok(modest.relativePerHour < config.fastRelativePerHour)
  t.equal(modest.holdMs, Math.max(config.raiseAfterMs, 2 * config.windowMs), 'otherwise: two windows')
  // A stated hold for growth not heading for the limit replaces both; the urgent one is kept.
  const steady = { ...config, steadyRaiseAfterMs: 2 * HOUR }
  t.equal(evaluateFast(leak, 59_000, steady, 0, undefined).holdMs, 2 * HOUR)
  t.equal(evaluateFast(series((i) => 100e6 + i * 5000), 59_000, steady, 0, undefined).holdMs, 2 * HOUR)
  t.equal(evaluateFast(leak, 59_000, steady, 0, 51e6).holdMs, config.raiseAfterMs)
})

const slowPoints = (fn: (minute: number) => { value: number; load?: number; traffic?: number }, hours = 5): LoadPoint[] =>
  Array.from({ length: (hours * 60) / 5 }, (_, k) => {
    const minute = k * 5
    const { value, load, traffic } = fn(minute)
    return { timeMs: minute * MIN, value, load: load ?? Number.NaN, ...(traffic === undefined ? {} : { traffic }) }
  })

t.test('the slow path: new highs at comparable load over hours', async (t) => {
  const rng = noise(11)
  // 2 MB/h on a 150 MB heap with 300 KB of noise.
  const leak = slowPoints((m) => ({ value: 150e6 + (m / 60) * 2e6 + rng() * 300_000, load: 0.3 + rng() * 0.02 }))
  const e = evaluateSlow(leak, 5 * HOUR - 5 * MIN, config, 0)
  t.equal(e.positive, true, e.reasons.join('; '))
  t.ok(e.comparison !== null && e.comparison.higher === e.comparison.compared)
  const short = evaluateSlow(leak.slice(0, 20), 100 * MIN, config, 0)
  t.match(short.reasons, [/slow path: (\d+[hms])+ of 4h of floors so far/])
  const flat = evaluateSlow(slowPoints((m) => ({ value: 150e6 + rng() * 300_000 })), 5 * HOUR - 5 * MIN, config, 0)
  t.equal(flat.positive, false)
  // A step before the window and flat since: not growing now.
  const stepped = evaluateSlow(slowPoints((m) => ({ value: 150e6 + (m > 40 ? 20e6 : 0) + rng() * 100_000 }), 6), 6 * HOUR - 5 * MIN, config, 0)
  t.equal(stepped.positive, false)
  // The daily ramp: the floor rises with the load; earlier floors were all at a lower load.
  const ramp = evaluateSlow(slowPoints((m) => ({ value: 150e6 + m * 100_000, load: 0.2 + m / 1000 })), 5 * HOUR - 5 * MIN, config, 0)
  t.equal(ramp.positive, false)
  t.match(ramp.reasons.join(';'), /slow path: of 17 floors in the window's last 1h20m, fewer than 6 have three earlier ones at the same or a higher load \(the recent load, or HTTP traffic, is above the earlier\)/)
  // Floors that got rare (a GC every 20 minutes, none bought): too few to compare, whatever the load.
  const sparse = evaluateSlow(
    leak.filter((p) => p.timeMs < 3 * HOUR || p.timeMs % (20 * MIN) === 0),
    5 * HOUR - 5 * MIN,
    config,
    0,
  )
  t.equal(sparse.positive, false)
  t.match(sparse.reasons.join(';'), /slow path: 4 floors in the window's last 1h20m, too few to compare \(6 needed\)/)
  // The same ramp where the target serves HTTP and its traffic ramps with the load: still the load.
  const trafficRamp = evaluateSlow(slowPoints((m) => ({ value: 150e6 + m * 100_000, load: 0.2 + m / 1000, traffic: 20 + m / 10 + rng() })), 5 * HOUR - 5 * MIN, config, 0)
  t.equal(trafficRamp.positive, false, 'more traffic explains it')
  t.equal(trafficRamp.comparedAt, 'load')
  // A reporting API's exports mostly wait: its loop stays at 20-23 % while they double, and the
  // floor follows the exports in flight (corpus/diurnal-load's first morning). Earlier floors at
  // the same utilization served half the traffic: not comparable, so no new highs there.
  const exports = evaluateSlow(
    slowPoints((m) => ({ value: 150e6 + m * 100_000 + rng() * 300_000, load: 0.2 + rng() * 0.015, traffic: 20 + m / 5 + rng() })),
    5 * HOUR - 5 * MIN,
    config,
    0,
  )
  t.equal(exports.positive, false, `traffic doubling at one utilization explains it: ${exports.reasons.join('; ')}`)
  // A leak at a steady traffic, its request rate varying a few per cent a bucket, is still compared.
  const steady = evaluateSlow(
    slowPoints((m) => ({ value: 150e6 + (m / 60) * 2e6 + rng() * 300_000, load: 0.3 + rng() * 0.02, traffic: 24 * (1 + rng() * 0.06) })),
    5 * HOUR - 5 * MIN,
    config,
    0,
  )
  t.equal(steady.positive, true, steady.reasons.join('; '))
  t.equal(steady.comparedAt, 'load')
})

t.test('the slow path bounds the growth over as many floors as its shape allows', async (t) => {
  const now = 5 * HOUR - 5 * MIN
  // 1 MB/h on a 150 MB heap with 2 MB of floor noise: over the later half alone the slope's lower
  // bound is 46–123 B/s, under slowMinSlope (150 B/s); over the whole window, where a line fits, it is not.
  for (const seed of [21, 22, 23]) {
    const rng = noise(seed)
    const e = evaluateSlow(slowPoints((m) => ({ value: 150e6 + (m / 60) * 1e6 + rng() * 2e6, load: 0.3 })), now, config, 0)
    t.equal(e.shape?.model, 'linear')
    t.equal(e.positive, true, `seed ${seed}: ${e.reasons.join('; ')}`)
  }
  // The later half must still grow by the effect size: growth that stopped 100 minutes ago is not
  // going on, whatever the whole window's line says.
  const rng = noise(4000)
  const stopped = evaluateSlow(slowPoints((m) => ({ value: 150e6 + (Math.min(m, 200) / 60) * 2e6 + rng() * 1e6, load: 0.3 })), now, config, 0)
  t.equal(stopped.positive, false)
  t.match(stopped.reasons.join(';'), /slow path: growth over the later half of the window \d+ B\/s < 150 B\/s \(not going on now\)/)
  // A step 2.5 h ago, flat since (noise as large as the step's half): not growing now.
  const steps = noise(5000)
  const step = evaluateSlow(slowPoints((m) => ({ value: 150e6 + (m > 150 ? 3e6 : 0) + steps() * 1.5e6, load: 0.3 })), now, config, 0)
  t.equal(step.positive, false, step.reasons.join('; '))
  // Growth that slowed at a break (6 MB/h, then 1.5 MB/h) but goes on since it, significantly and
  // past both effect sizes, is not "slowed"; a bound over the floors since the break judges it.
  const slowed = noise(31)
  const bent = evaluateSlow(slowPoints((m) => ({ value: 150e6 + (m < 150 ? (m / 60) * 6e6 : 15e6 + ((m - 150) / 60) * 1.5e6) + slowed() * 200_000, load: 0.3 })), now, config, 0)
  t.equal(bent.shape?.model, 'two-segment')
  t.equal(bent.positive, true, bent.reasons.join('; '))
  // A leak whose rate eases (an LRU that stopped evicting: its misses get rarer as it grows) from
  // 1 h in, 4 MB/h at first, its time constant 10 h: a saturating curve beats the line, but its
  // growth has not halved within the window and goes on at ~3 MB/h, so its "level" is no
  // objection; a cache filling from the same start with a time constant of 40 minutes is.
  const eased = noise(41)
  const easing = evaluateSlow(
    slowPoints((m) => ({ value: 150e6 + (m > 60 ? 40e6 * (1 - Math.exp(-(m - 60) / 600)) : 0) + eased() * 100_000, load: 0.3 })),
    now,
    config,
    0,
  )
  t.equal(easing.shape?.model, 'saturating')
  t.equal(easing.positive, true, easing.reasons.join('; '))
  const filling = evaluateSlow(
    slowPoints((m) => ({ value: 150e6 + (m > 60 ? 10e6 * (1 - Math.exp(-(m - 60) / 40)) : 0) + eased() * 100_000, load: 0.3 })),
    now,
    config,
    0,
  )
  t.equal(filling.positive, false)
  t.match(filling.reasons.join(';'), /slow path: (approaching a level|growth over the later half of the window)/)
  // Real floors (tails/customer-rate-limiter-plan-typo-leak, its heap, KB at simulated minutes of a
  // 4 h window): flat, a jump as the leak began (a cohort's logs filling at once), then 3.3 MB/h
  // for two hours. A curve bent at the jump fits the window ("slows towards 19.4 MiB"), but the
  // later half on its own is a line: no level shows now, and the leak is raised.
  const floors = [
    [-16.5, 5598], [0, 5605], [3.3, 5605], [9.8, 5624], [16.3, 5649], [22.8, 5726], [29.3, 5739], [39.1, 5729], [42.3, 5729], [52.1, 5730],
    [55.4, 5730], [61.9, 5912], [68.5, 5955], [75, 6154], [81.5, 6428], [100.9, 8943], [108.9, 11162], [114.4, 11477],
    [122.7, 11878], [128.3, 12208], [134.3, 12613], [140.8, 12990], [147.4, 13269], [158.6, 13553], [163.7, 13900],
    [173.3, 14766], [177.5, 15170], [180.3, 15142], [188.6, 15493], [194.7, 15754], [201.2, 16129], [207.7, 16388],
    [214.3, 16782], [220.8, 17220],
  ].map(([m, kb]) => ({ timeMs: (16.5 + (m as number)) * MIN, value: (kb as number) * 1000, load: 0.3 }))
  const jumped = evaluateSlow(floors, 240 * MIN, config, 0)
  t.equal(jumped.shape?.model, 'saturating')
  t.notMatch(jumped.reasons.join(';'), /approaching a level/)
  t.equal(jumped.positive, true, jumped.reasons.join('; '))
  // A level the floor has passed is no level, whatever the later half's shape: a step in the later
  // half (not a line) kept a curve fitted to an earlier jump, its level 38 MB under floors at 44 MB.
  const stepped = Array.from({ length: 24 }, (_, i) => 38e6 + i * 50_000 + (i >= 12 ? 4e6 : 0) + (i % 2) * 20_000)
  const stepTimes = stepped.map((_, i) => (120 + i * 5) * MIN)
  t.equal(fitShape(stepTimes, stepped).model, 'step', 'the later half alone is a step, not a line')
  const curve = { ...fitShape([0, 1], [0, 1]), model: 'saturating' as const, level: 38.6e6, residualRms: 300_000 }
  t.equal(levelShowsIn(curve, stepTimes, stepped), false, 'a level under the last floors')
  t.equal(levelShowsIn({ ...curve, level: 50e6 }, stepTimes, stepped), true, 'a level above them still shows')
  // A later half that is a line does not refute the level unless its second half makes a new high:
  // a fill that stopped (its highest floor early in the half, the rest under it) is still a level.
  const noisy = (rate: number) => Array.from({ length: 24 }, (_, i) => 19e6 + i * rate + (i % 2 === 0 ? 300_000 : -300_000))
  const stoppedFill = noisy(80_000)
  stoppedFill[5] = 23.5e6
  const level30 = { ...curve, level: 30e6 }
  t.equal(fitShape(stepTimes, stoppedFill).model, 'linear')
  t.equal(levelShowsIn(level30, stepTimes, stoppedFill), true, 'no new high in the second half: the level shows')
  t.equal(fitShape(stepTimes, noisy(150_000)).model, 'linear')
  t.equal(levelShowsIn(level30, stepTimes, noisy(150_000)), false, 'new highs to the end: no level')
  // Flat floors with the same noise stay quiet.
  let positives = 0
  for (let seed = 0; seed < 200; seed++) {
    const draw = noise(1000 + seed)
    if (evaluateSlow(slowPoints(() => ({ value: 150e6 + draw() * 2e6, load: 0.3 })), now, config, 0).positive) positives += 1
  }
  t.equal(positives, 0, 'no flat series raised')
})

t.test('the slow path: a few recent floors above the earlier highs are judged against the chance of one being there', async (t) => {
  const rng = noise(12)
  // 2 MB/h on a 150 MB heap; the last 1h20m holds a floor every 10 minutes (major GCs got rare),
  // and one of them was taken low (4 MB under the line): eight of nine above the earlier highs.
  const sparseRecent = (points: LoadPoint[]) => points.filter((p) => p.timeMs < 220 * MIN || (p.timeMs - 220 * MIN) % (10 * MIN) === 0)
  const points = slowPoints((m) => ({ value: 150e6 + (m / 60) * 2e6 + rng() * 300_000 - (m === 250 ? 4e6 : 0), load: 0.3 }))
  const e = evaluateSlow(sparseRecent(points), 5 * HOUR - 5 * MIN, config, 0)
  t.ok(e.comparison !== null && e.comparison.compared <= 9 && e.comparison.higher === e.comparison.compared - 1, JSON.stringify(e.comparison))
  // Under 1/2 per floor (a sign test about a median) this was p = 0.020 and the leak waited.
  t.ok(e.comparison !== null && e.comparison.pValue <= config.maxPValue, JSON.stringify(e.comparison))
  t.equal(e.positive, true, e.reasons.join('; '))
  // Floors exchangeable with the earlier ones (no growth, whatever their spread) reach the same
  // significance no more often than it says: the null's 1/4 per floor bounds the chance.
  let significant = 0
  const runs = 400
  for (let seed = 0; seed < runs; seed++) {
    const draw = noise(1000 + seed)
    const flat = slowPoints(() => ({ value: 150e6 + draw() * 2e6, load: 0.3 }))
    const c = evaluateSlow(seed % 2 === 0 ? flat : sparseRecent(flat), 5 * HOUR - 5 * MIN, config, 0).comparison
    if (c !== null && c.pValue <= config.maxPValue) significant += 1
  }
  t.ok(significant / runs <= 0.01, `${significant} of ${runs} flat series significant`)
})

t.test('the slow path: a loop busier at the same HTTP traffic is compared at that traffic', async (t) => {
  const rng = noise(5)
  // Leaked handlers run on every event: the loop gets busier as they pile up, the requests do not.
  const selfLoading = (traffic: boolean) =>
    slowPoints((m) => ({ value: 150e6 + (m / 60) * 3e6 + rng() * 300_000, load: 0.05 + m / 3000, ...(traffic ? { traffic: 24 + rng() * 2 } : {}) }))
  const withoutTraffic = evaluateSlow(selfLoading(false), 5 * HOUR - 5 * MIN, config, 0)
  t.equal(withoutTraffic.positive, false, 'no earlier floor at its utilization: nothing to compare with')
  t.match(withoutTraffic.reasons.join(';'), /fewer than 6 have three earlier ones at the same or a higher load/)
  const withTraffic = evaluateSlow(selfLoading(true), 5 * HOUR - 5 * MIN, config, 0)
  t.equal(withTraffic.positive, true, withTraffic.reasons.join('; '))
  t.equal(withTraffic.comparedAt, 'traffic')
  // A batch cycle busies the loop at the same traffic too, and its floor rises with it. Shorter
  // than the window (3 h): no new highs at the same traffic. As long as the window or longer (5 h):
  // its rise can be new highs at the same traffic with a trend over the window, and the shape of
  // the window (fell and rose again; a rise that slows at its peak) keeps it quiet.
  let comparedAtTraffic = 0
  for (const period of [180, 300]) {
    for (const phase of [0, 1, 1.5, 2, 2.5, 3, 4, 5]) {
      const cycle = evaluateSlow(
        slowPoints((m) => {
          const wave = Math.sin((2 * Math.PI * m) / period + phase)
          return { value: 150e6 + 15e6 * wave + rng() * 300_000, load: 0.3 + 0.2 * wave, traffic: 24 + rng() * 2 }
        }),
        5 * HOUR - 5 * MIN,
        config,
        0,
      )
      t.equal(cycle.positive, false, `period ${period} min, phase ${phase}: ${cycle.reasons.join('; ')}`)
      if (cycle.comparedAt === 'traffic') comparedAtTraffic += 1
    }
  }
  t.ok(comparedAtTraffic > 0, `some long cycles were compared at the same traffic and held by their shape (${comparedAtTraffic})`)
  // Too few requests (health checks) say nothing of the traffic.
  const quiet = evaluateSlow(
    slowPoints((m) => ({ value: 150e6 + (m / 60) * 3e6 + rng() * 300_000, load: 0.05 + m / 3000, traffic: 0.001 })),
    5 * HOUR - 5 * MIN,
    config,
    0,
  )
  t.equal(quiet.positive, false)
  // Flat at the same traffic while the loop got busier: compared at the traffic, and said so.
  const flat = evaluateSlow(
    slowPoints((m) => ({ value: 150e6 + rng() * 300_000, load: 0.05 + m / 3000, traffic: 24 + rng() * 2 })),
    5 * HOUR - 5 * MIN,
    config,
    0,
  )
  t.equal(flat.positive, false)
  t.match(flat.reasons.join('; '), /at the same or higher HTTP traffic \d+ of \d+ recent floors above the earlier highs \(sign test p = /)
})

const evidence = (at: number, fast: boolean, slow = false, holdMs = 2 * MIN, reasons: string[] = []): SignalEvidence =>
  ({
    signal: 'heap',
    evaluatedAtMs: at,
    floorBytes: 1,
    warmingUp: false,
    fast: { positive: fast, holdMs, reasons, shape: { model: 'saturating', level: 1, residualRms: 0, slopeBefore: 1, slopeAfter: 0 } },
    slow: { positive: slow },
    path: fast ? 'fast' : slow ? 'slow' : null,
    reasons: [],
  }) as unknown as SignalEvidence

t.test('hysteresis in time: raise once the evidence has held, clear once it has been gone', async (t) => {
  const settings = { clearAfterMs: 3 * MIN, slowRaiseAfterMs: 10 * MIN, minSlopeBytesPerSecond: 1024, slowWindowMs: 240 * MIN }
  let state = INITIAL_VERDICT
  state = nextVerdict(state, evidence(0, true), settings)
  t.equal(state.suspected, false)
  state = nextVerdict(state, evidence(MIN, true), settings)
  t.equal(state.suspected, false, 'held 1 min of 2')
  state = nextVerdict(state, evidence(2 * MIN, true), settings)
  t.equal(state.suspected, true, 'held 2 min')
  t.equal(state.path, 'fast')
  t.equal(state.raisedAtMs, 2 * MIN)
  state = nextVerdict(state, evidence(3 * MIN, false), settings)
  state = nextVerdict(state, evidence(5 * MIN, false), settings)
  t.equal(state.suspected, true, 'gone 2 min of 3')
  state = nextVerdict(state, evidence(5.5 * MIN, true), settings)
  state = nextVerdict(state, evidence(6 * MIN, false), settings)
  state = nextVerdict(state, evidence(8 * MIN, false), settings)
  t.equal(state.suspected, true, 'a positive in between restarts the clear clock')
  state = nextVerdict(state, evidence(9 * MIN, false), settings)
  t.equal(state.suspected, false, 'gone 3 min')
  // Floors thinning out (too few in the window to judge) hold a raised leak: only judged negatives clear it.
  const starved = (at: number): SignalEvidence => evidence(at, false, false, 2 * MIN, [`${TOO_FEW_POINTS}: 4 in the window`])
  let held = INITIAL_VERDICT
  for (let m = 0; m <= 2; m++) held = nextVerdict(held, evidence(m * MIN, true), settings)
  t.equal(held.suspected, true)
  for (let m = 3; m <= 30; m++) held = nextVerdict(held, starved(m * MIN), settings)
  t.equal(held.suspected, true, 'held through 28 min of too few floors')
  t.equal(held.negativeSinceMs, null, 'too few floors do not start the clear clock')
  held = nextVerdict(held, evidence(31 * MIN, false), settings)
  held = nextVerdict(held, starved(33 * MIN), settings)
  held = nextVerdict(held, evidence(34 * MIN, false), settings)
  t.equal(held.suspected, false, 'cleared 3 min after the first judged negative')
  // Too few floors that do not grow (a filled cache on a heap whose floors come rarely) start the
  // clear clock; too few that rise (a fast leak starved of floors) hold it.
  const few = (at: number, slope: number): SignalEvidence => {
    const e = starved(at)
    return { ...e, fast: { ...e.fast, points: 4, slopeBytesPerSecond: slope } }
  }
  let plateau = INITIAL_VERDICT
  for (let m = 0; m <= 2; m++) plateau = nextVerdict(plateau, evidence(m * MIN, true), settings)
  for (let m = 3; m <= 30; m++) plateau = nextVerdict(plateau, few(m * MIN, 5000), settings)
  t.equal(plateau.suspected, true, 'few rising floors: held')
  t.equal(plateau.negativeSinceMs, null)
  plateau = nextVerdict(plateau, few(31 * MIN, 0), settings)
  t.equal(plateau.negativeSinceMs, 31 * MIN, 'few flat floors start the clear clock')
  plateau = nextVerdict(plateau, few(32 * MIN, 5000), settings)
  t.equal(plateau.negativeSinceMs, 31 * MIN, 'a rising few in between holds, without restarting it')
  plateau = nextVerdict(plateau, few(34 * MIN, 300), settings)
  t.equal(plateau.suspected, false, 'cleared 3 min after the few floors stopped growing')
  const two = { ...few(35 * MIN, 0), fast: { ...few(35 * MIN, 0).fast, points: 2 } }
  let sparse = INITIAL_VERDICT
  for (let m = 0; m <= 2; m++) sparse = nextVerdict(sparse, evidence(m * MIN, true), settings)
  for (let m = 3; m <= 30; m++) sparse = nextVerdict(sparse, { ...two, evaluatedAtMs: m * MIN }, settings)
  t.equal(sparse.suspected, true, 'two floors say nothing: held')
  // Growth the load objects to (a busier window) holds a raised leak too; it never raises one.
  const busier = (at: number): SignalEvidence =>
    evidence(at, false, false, 2 * MIN, ['load: the event loop has been busier over the window (utilization 30 %) than before it'])
  let loaded = INITIAL_VERDICT
  for (let m = 0; m <= 2; m++) loaded = nextVerdict(loaded, evidence(m * MIN, true), settings)
  for (let m = 3; m <= 30; m++) loaded = nextVerdict(loaded, busier(m * MIN), settings)
  t.equal(loaded.suspected, true, 'held through 28 min in which only the load objected')
  const mixed = evidence(31 * MIN, false, false, 2 * MIN, ['Mann-Kendall trend test: p = 0.3 > 0.01', 'load: the event loop has been busier'])
  for (let m = 31; m <= 34; m++) loaded = nextVerdict(loaded, { ...mixed, evaluatedAtMs: m * MIN }, settings)
  t.equal(loaded.suspected, false, 'a judged objection of the floor itself clears it')
  let burst = INITIAL_VERDICT
  for (let m = 0; m <= 10; m++) burst = nextVerdict(burst, busier(m * MIN), settings)
  t.equal(burst.suspected, false, 'the load alone never raises')
  // Too few floors never raise.
  let quiet = INITIAL_VERDICT
  for (let m = 0; m <= 10; m++) quiet = nextVerdict(quiet, starved(m * MIN), settings)
  t.equal(quiet.suspected, false)
  // The slow path holds longer; being blocked (still warming up) holds any raise back.
  let slow = INITIAL_VERDICT
  for (let m = 0; m <= 10; m++) slow = nextVerdict(slow, evidence(m * MIN, false, true), settings, true)
  t.equal(slow.suspected, false, 'blocked at 10 min')
  slow = nextVerdict(slow, evidence(11 * MIN, false, true), settings)
  t.equal(slow.suspected, true)
  t.equal(slow.path, 'slow')
  // The fast path's hold counts only from the end of the presumption (a cache filling since the start).
  let filling = INITIAL_VERDICT
  for (let m = 0; m <= 10; m++) filling = nextVerdict(filling, evidence(m * MIN, true), settings, true)
  t.equal(filling.suspected, false, 'blocked at 10 min')
  t.equal(filling.fastSinceMs, null, 'no hold while presumed filling')
  filling = nextVerdict(filling, evidence(11 * MIN, true), settings)
  t.equal(filling.suspected, false, 'the hold starts when the warm-up ends')
  filling = nextVerdict(filling, evidence(12 * MIN, true), settings)
  t.equal(filling.suspected, false, 'held 1 min of 2')
  filling = nextVerdict(filling, evidence(13 * MIN, true), settings)
  t.equal(filling.suspected, true, 'held 2 min after the warm-up')
  t.equal(filling.raisedAtMs, 13 * MIN)
  // A fill that levels off in the hold after the warm-up is never raised.
  let levelled = INITIAL_VERDICT
  for (let m = 0; m <= 10; m++) levelled = nextVerdict(levelled, evidence(m * MIN, true), settings, true)
  levelled = nextVerdict(levelled, evidence(11 * MIN, true), settings)
  levelled = nextVerdict(levelled, evidence(12 * MIN, false, false, 2 * MIN, [`${SHAPE_TEST}: approaching a level`]), settings)
  for (let m = 13; m <= 20; m++) levelled = nextVerdict(levelled, evidence(m * MIN, false), settings)
  t.equal(levelled.suspected, false)
  // Growth heading for its limit within the urgent horizon keeps its hold through the presumption.
  const urgent = (at: number): SignalEvidence => {
    const base = evidence(at, true)
    return { ...base, fast: { ...base.fast, urgentByLimit: true } }
  }
  let heading = INITIAL_VERDICT
  for (let m = 0; m <= 10; m++) heading = nextVerdict(heading, urgent(m * MIN), settings, true)
  t.equal(heading.suspected, false, 'blocked at 10 min')
  t.equal(heading.fastSinceMs, 0)
  heading = nextVerdict(heading, urgent(11 * MIN), settings)
  t.equal(heading.suspected, true, 'raised as soon as the warm-up ends')
  // A leak raised before (its limit imminent) is not dropped by a later presumption.
  let raised = nextVerdict(nextVerdict(nextVerdict(INITIAL_VERDICT, evidence(0, true), settings), evidence(MIN, true), settings), evidence(2 * MIN, true), settings)
  t.equal(raised.suspected, true)
  for (let m = 3; m <= 10; m++) raised = nextVerdict(raised, evidence(m * MIN, true), settings, true)
  t.equal(raised.suspected, true, 'still raised while positive')
  t.not(raised.fastSinceMs, null)
})

t.test("the fast hold: a break of a quarter of it that only the tests' noise caused does not restart it; a contrary shape or the load does", async (t) => {
  const settings = { clearAfterMs: 3 * MIN, slowRaiseAfterMs: 600 * MIN, minSlopeBytesPerSecond: 1024, slowWindowMs: 240 * MIN }
  const HOLD = 60 * MIN
  const positive = (at: number): SignalEvidence => evidence(at, true, false, HOLD)
  const noise = (at: number): SignalEvidence => evidence(at, false, false, HOLD, ['Mann-Kendall trend test: p = 0.012 > 0.01 (no significant upward trend)'])
  const busier = (at: number): SignalEvidence => evidence(at, false, false, HOLD, ['load: the event loop has been busier over the window'])
  const levelling = (at: number): SignalEvidence => evidence(at, false, false, HOLD, [`${SHAPE_TEST}: approaching a level`])
  const run = (steps: Array<(at: number) => SignalEvidence>): typeof INITIAL_VERDICT => {
    let state = INITIAL_VERDICT
    steps.forEach((step, i) => (state = nextVerdict(state, step(i * 5 * MIN), settings)))
    return state
  }
  // 13 evaluations 5 min apart = 60 min; one in the middle negative.
  const withBreak = (brk: (at: number) => SignalEvidence, length = 1): Array<(at: number) => SignalEvidence> =>
    Array.from({ length: 13 }, (_, i) => (i >= 6 && i < 6 + length ? brk : positive))
  t.equal(run(withBreak(noise)).suspected, true, 'a 5-min break of noise: raised after the hour')
  t.equal(run(withBreak(busier)).suspected, false, 'a load objection restarts it (a morning ramp is not noise)')
  const short = (at: number): SignalEvidence => evidence(at, false, false, HOLD, [`${TOO_FEW_POINTS}: 5 in the window`])
  t.equal(run(withBreak(short, 2)).suspected, true, 'a window short of floors for 10 min: raised after the hour')
  t.equal(run(withBreak(noise, 3)).suspected, true, 'a 15-min break (a quarter of the hold): still raised')
  t.equal(run(withBreak(noise, 4)).suspected, false, 'a 20-min break restarts the hold')
  t.equal(run(withBreak(levelling)).suspected, false, 'a shape that contradicts growth restarts it at once')
  const bridged = run(withBreak(noise).slice(0, 7))
  t.equal(bridged.fastSinceMs, 0, 'through the break the hold keeps its start')
  t.equal(bridged.negativeSinceMs, 30 * MIN, 'while the clear clock runs from the break')
  const ending = run([...withBreak(noise).slice(0, 12), noise])
  t.equal(ending.suspected, false, 'only a positive evaluation raises')
})

t.test('a leak the slow path raised is held while the slow path cannot compare its recent floors at their load', async (t) => {
  const settings = { clearAfterMs: 30 * MIN, slowRaiseAfterMs: 10 * MIN, minSlopeBytesPerSecond: 1024, slowWindowMs: 240 * MIN }
  const noTrend = ['Mann-Kendall trend test: p = 0.14 > 0.01 (no significant upward trend)']
  const slowEvidence = (at: number, positive: boolean, slow: object): SignalEvidence => {
    const e = evidence(at, false, positive, 30 * MIN, noTrend)
    return { ...e, slow: { spanMs: 300 * MIN, comparison: null, positive, reasons: [], ...slow } } as unknown as SignalEvidence
  }
  const uncompared = (at: number): SignalEvidence =>
    slowEvidence(at, false, { reasons: ["slow path: of 7 floors in the window's last 1h20m, fewer than 6 have three earlier ones at the same or a higher load (the recent load, or HTTP traffic, is above the earlier)"] })
  const raise = (state = INITIAL_VERDICT): typeof INITIAL_VERDICT => {
    for (let m = 0; m <= 10; m++) state = nextVerdict(state, slowEvidence(m * MIN, true, {}), settings)
    return state
  }
  let held = raise()
  t.equal(held.path, 'slow', 'raised by the slow path')
  for (let m = 11; m <= 120; m += 5) held = nextVerdict(held, uncompared(m * MIN), settings)
  t.equal(held.suspected, true, 'held through 110 min of recent floors without earlier ones at their load')
  t.equal(held.negativeSinceMs, null, 'which do not start the clear clock')
  // Judged on comparable floors and found not above them: the clear clock starts.
  const judged = (at: number): SignalEvidence =>
    slowEvidence(at, false, { comparison: { higher: 2, compared: 8, pValue: 0.9 }, reasons: ['slow path: 2 of 8 recent floors above the earlier highs at the same or a higher load (sign test p = 0.90 > 0.01)'] })
  held = nextVerdict(held, judged(121 * MIN), settings)
  t.equal(held.negativeSinceMs, 121 * MIN)
  held = nextVerdict(held, judged(151 * MIN), settings)
  t.equal(held.suspected, false, 'cleared 30 min after the first negative judged on comparable floors')
  // Uncompared but with growth no longer going on: not held.
  const stopped = (at: number): SignalEvidence =>
    slowEvidence(at, false, { reasons: [...uncompared(at).slow.reasons, 'slow path: growth over the later half of the window 0 B/s < 1.0 KiB/s (not going on now)'] })
  let flat = raise()
  flat = nextVerdict(flat, stopped(11 * MIN), settings)
  flat = nextVerdict(flat, stopped(41 * MIN), settings)
  t.equal(flat.suspected, false, 'growth that stopped clears it')
  // A window short of its span (after a restart of the slow series): not held.
  let short = raise()
  short = nextVerdict(short, { ...uncompared(11 * MIN), slow: { ...uncompared(11 * MIN).slow, spanMs: 100 * MIN } } as SignalEvidence, settings)
  short = nextVerdict(short, { ...uncompared(41 * MIN), slow: { ...uncompared(41 * MIN).slow, spanMs: 130 * MIN } } as SignalEvidence, settings)
  t.equal(short.suspected, false, 'a slow series shorter than its window holds nothing')
  // A leak the fast path raised is not held by the slow path's lack of comparison.
  let fast = INITIAL_VERDICT
  for (let m = 0; m <= 30; m += 5) fast = nextVerdict(fast, evidence(m * MIN, true, false, 30 * MIN), settings)
  t.equal(fast.path, 'fast')
  fast = nextVerdict(fast, uncompared(35 * MIN), settings)
  fast = nextVerdict(fast, uncompared(65 * MIN), settings)
  t.equal(fast.suspected, false, 'raised by the fast path: cleared as before')
})

t.test("the fast hold: a shape's claim the floor then refutes does not restart it", async (t) => {
  const settings = { clearAfterMs: 3 * MIN, slowRaiseAfterMs: 600 * MIN, minSlopeBytesPerSecond: 1024, slowWindowMs: 240 * MIN }
  const HOLD = 60 * MIN
  const MB = 1e6
  const linear = { model: 'linear', level: null, slopeBefore: 0, slopeAfter: 0, residualRms: 0.1 * MB }
  // A leak of 1 MB per 5 min, in stairs: the floor at evaluation i (5 min apart).
  const at = (i: number, positive: boolean, reasons: string[] = [], shape: object = linear, floor = 100 * MB + i * MB): SignalEvidence =>
    ({
      signal: 'external',
      evaluatedAtMs: i * 5 * MIN,
      floorBytes: floor,
      warmingUp: false,
      fast: { positive, holdMs: HOLD, reasons, shape, points: 30, slopeBytesPerSecond: 3000 },
      slow: { positive: false },
      path: positive ? 'fast' : null,
      reasons: [],
    }) as unknown as SignalEvidence
  const levelling = (i: number, level: number, floor?: number): SignalEvidence =>
    at(i, false, [`${SHAPE_TEST}: approaching a level`], { ...linear, model: 'saturating', level }, floor)
  const run = (steps: SignalEvidence[]): typeof INITIAL_VERDICT => steps.reduce((state, e) => nextVerdict(state, e, settings), INITIAL_VERDICT)
  const positives = (from: number, to: number, floor?: (i: number) => number): SignalEvidence[] =>
    Array.from({ length: to - from + 1 }, (_, k) => at(from + k, true, [], linear, floor?.(from + k)))
  // A landing bent into "approaching a level" just above the floor; the next stair is above it.
  const stairs = run([...positives(0, 5), levelling(6, 106.2 * MB), ...positives(7, 12)])
  t.equal(stairs.suspected, true, 'refuted by the next stair: raised after the hour')
  t.equal(stairs.fastSinceMs, 0, 'the hold kept its start')
  t.equal(stairs.interrupted, null, 'nothing pending once resumed')
  // A cache whose fit says 20 MB more to come: its floor stays under that level, the hold starts again.
  const cache = run([...positives(0, 5), levelling(6, 126 * MB), ...positives(7, 12)])
  t.equal(cache.suspected, false, 'not refuted: the hold restarted')
  t.equal(cache.fastSinceMs, 35 * MIN)
  t.not(cache.interrupted, null, 'still pending: the floor may yet rise above the level within the hold')
  // Within the margin (twice the noise around the fit) is no refutation.
  const margin = run([...positives(0, 5), levelling(6, 106.9 * MB), ...positives(7, 12, () => 107.1 * MB)])
  t.equal(margin.fastSinceMs, 35 * MIN, 'a floor 0.2 MB over the level with 0.1 MB of noise')
  // A step then flat claims the floor at the objection; growth that slowed claims its slower slope.
  const step = run([...positives(0, 5), at(6, false, [`${SHAPE_TEST}: a one-off step`], { ...linear, model: 'step' }), ...positives(7, 12)])
  t.equal(step.suspected, true, 'a step refuted by the next stair')
  const slowed = { ...linear, model: 'two-segment', slopeBefore: 1, slopeAfter: MB / (5 * MIN) }
  const slower = run([...positives(0, 5), at(6, false, [`${SHAPE_TEST}: growth stopped or slowed`], slowed), ...positives(7, 12)])
  t.equal(slower.suspected, false, 'growth going on at the slower slope it claimed does not refute it')
  const faster = run([...positives(0, 5), at(6, false, [`${SHAPE_TEST}: growth stopped or slowed`], slowed), ...positives(7, 12, (i) => 100 * MB + 6 * MB + (i - 6) * 2 * MB)])
  t.equal(faster.suspected, true, 'growth faster than it claimed refutes it')
  // A cycle's objection claims nothing about highs.
  const cycle = { ...linear, model: 'two-segment', slopeBefore: -1, slopeAfter: 1 }
  t.equal(run([...positives(0, 5), at(6, false, [`${SHAPE_TEST}: the floor fell and rose again`], cycle), ...positives(7, 12)]).suspected, false)
  // Another negative in between (no trend) is the growth's own absence: the hold starts again.
  const noTrend = (i: number): SignalEvidence => at(i, false, ['Mann-Kendall trend test: p = 0.3 > 0.01'])
  t.equal(run([...positives(0, 5), levelling(6, 106.2 * MB), noTrend(7), ...positives(8, 12)]).suspected, false)
  // Objections for longer than the hold: what they interrupted is over.
  const long = Array.from({ length: 13 }, (_, k) => levelling(6 + k, 100 * MB + (6 + k) * MB + 0.1 * MB))
  const expired = run([...positives(0, 5), ...long, ...positives(19, 20)])
  t.equal(expired.suspected, false)
  t.equal(expired.fastSinceMs, 95 * MIN)
})

t.test('onset and time to limit', async (t) => {
  const s = series((i) => (i < 30 ? 50e6 : 50e6 + (i - 30) * 1e5))
  const onset = estimateOnset(s)
  t.ok(onset !== null && Math.abs(onset - 30_000) <= 2000, `onset ${onset}`)
  t.equal(estimateOnset(series(() => 1)), null)
  t.equal(secondsUntil(1000, 500, 10), 50)
  t.equal(secondsUntil(undefined, 500, 10), undefined)
  t.equal(secondsUntil(1000, 500, 0), undefined)
  t.equal(secondsUntil(1000, 1500, 10), 0)
})
