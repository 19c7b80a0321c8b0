/**
 * The leak analysis against arbitrary numeric series: RingSeries stays bounded
 * and ordered, the statistics stay in range, evaluateSignal never throws and
 * returns finite numbers or its documented nulls.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { RingSeries, WindowMinimum } from '../../src/analysis/series.js'
import { hingeFit, mannKendall, normalCdf, theilSen, theilSenBounds, thinIndexes, upperQuantile } from '../../src/analysis/stats.js'
import { INITIAL_VERDICT, estimateOnset, evaluateSignal, nextVerdict, secondsUntil, type AnalysisThresholds, type SignalEvidence } from '../../src/analysis/verdict.js'
import { HOSTILE_NUMBERS, holds, runs, timed } from './fixtures/helpers.js'

/** Any double, the hostile ones often. */
const anyNumber = fc.oneof({ weight: 3, arbitrary: fc.double() }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) }, { weight: 2, arbitrary: fc.integer() })
/** Finite doubles of any magnitude (what a target can report as bytes or times). */
const finiteNumber = fc.oneof(
  { weight: 3, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 2, arbitrary: fc.nat(1 << 30) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, Number.MAX_VALUE, Number.MIN_VALUE, 1e308, Number.MAX_SAFE_INTEGER) },
)

/** Thresholds within the bounds loadConfig enforces. */
const thresholdsArb: fc.Arbitrary<AnalysisThresholds> = fc.record({
  windowMs: fc.integer({ min: 1_000, max: 7 * 24 * 3_600_000 }),
  minPoints: fc.integer({ min: 4, max: 500 }),
  maxPValue: fc.double({ min: 1e-9, max: 0.999, noNaN: true }),
  minSlopeBytesPerSecond: fc.double({ min: 0, max: 1e9, noNaN: true }),
  minRelativePerHour: fc.double({ min: 0, max: 10, noNaN: true }),
  urgentHorizonMs: fc.integer({ min: 1, max: 7 * 24 * 3_600_000 }),
  fastRelativePerHour: fc.double({ min: 0, max: 100, noNaN: true }),
  steadyRaiseAfterMs: fc.option(fc.integer({ min: 0, max: 24 * 3_600_000 }), { nil: undefined }),
  slowWindowMs: fc.integer({ min: 1_000, max: 7 * 24 * 3_600_000 }),
  slowMinSlopeBytesPerSecond: fc.double({ min: 0, max: 1e9, noNaN: true }),
  slowMinRelativePerHour: fc.double({ min: 0, max: 10, noNaN: true }),
  raiseAfterMs: fc.integer({ min: 0, max: 3_600_000 }),
})

function checkEvidence(evidence: SignalEvidence, strict: boolean): void {
  const finite = (name: string, n: number): void => assert.ok(Number.isFinite(n), `${name} = ${n}`)
  const fast = evidence.fast
  finite('slopeBytesPerSecond', fast.slopeBytesPerSecond)
  finite('slopeLowerBytesPerSecond', fast.slopeLowerBytesPerSecond)
  finite('relativePerHour', fast.relativePerHour)
  finite('holdMs', fast.holdMs)
  assert.ok(fast.pValue >= 0 && fast.pValue <= 1, `pValue ${fast.pValue}`)
  assert.ok(fast.tau >= -1 && fast.tau <= 1, `tau ${fast.tau}`)
  assert.ok(Number.isInteger(fast.points) && fast.points >= 0)
  assert.equal(fast.positive, fast.reasons.length === 0)
  assert.ok(!fast.urgent || fast.positive, 'urgent only when positive')
  assert.equal(evidence.slow.positive, evidence.slow.reasons.length === 0)
  finite('slow relativePerHour', evidence.slow.relativePerHour)
  for (const reason of [...fast.reasons, ...evidence.slow.reasons, ...evidence.reasons]) assert.ok(typeof reason === 'string' && reason.length > 0, `reason ${reason}`)
  assert.equal(evidence.path === null, evidence.warmingUp || (!fast.positive && !evidence.slow.positive))
  if (strict) {
    // The series came through RingSeries (finite, ordered): every number is finite or a documented null.
    if (fast.windowStartMs !== null) finite('windowStartMs', fast.windowStartMs)
    if (evidence.floorBytes !== null) finite('floorBytes', evidence.floorBytes)
    for (const [name, value] of Object.entries(fast.shape)) if (typeof value === 'number') finite(`shape.${name}`, value)
  }
}

t.test('RingSeries: bounded, ordered, finite; the last push wins; matches a simple model', async (t) => {
  holds(
    t,
    fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.tuple(anyNumber, anyNumber), { maxLength: 200, size: 'large' }), fc.double({ noNaN: true }), (capacity, points, from) => {
      const series = new RingSeries(capacity)
      const model: Array<[number, number]> = []
      for (const [time, value] of points) {
        series.push(time, value)
        const last = model[model.length - 1]
        if (Number.isFinite(time) && Number.isFinite(value) && (last === undefined || time >= last[0])) {
          model.push([time, value])
          if (model.length > capacity) model.shift()
        }
        assert.ok(series.length <= capacity, `length ${series.length} > capacity ${capacity}`)
      }
      const { times, values } = series.all()
      assert.deepEqual(times, model.map(([time]) => time))
      assert.deepEqual(values, model.map(([, value]) => value))
      for (let i = 1; i < times.length; i++) assert.ok((times[i] as number) >= (times[i - 1] as number), 'ordered')
      const since = series.since(from)
      assert.ok(since.times.every((time) => time >= from))
      assert.equal(since.times.length, times.filter((time) => time >= from).length)
      assert.deepEqual(series.last(), model.length === 0 ? undefined : { timeMs: model[model.length - 1]![0], value: model[model.length - 1]![1] })
      series.clear()
      assert.equal(series.length, 0)
    }),
    runs(500),
    'holds: RingSeries: bounded, ordered, finite; the last push wins; matches a simple model',
  )
})

t.test('WindowMinimum: emits only finite, per-window minimums', async (t) => {
  holds(
    t,
    fc.property(fc.integer({ min: 1, max: 100_000 }), fc.array(fc.tuple(anyNumber, anyNumber), { maxLength: 100 }), (windowMs, readings) => {
      const minimum = new WindowMinimum(windowMs)
      for (const [time, value] of readings) {
        const closed = minimum.add(time, value)
        if (closed !== undefined) assert.ok(Number.isFinite(closed.timeMs) && Number.isFinite(closed.value), `closed ${JSON.stringify(closed)}`)
      }
    }),
    runs(300),
    'holds: WindowMinimum: emits only finite, per-window minimums',
  )
})

t.test('mannKendall: tau in [-1, 1], p in [0, 1], for any values (NaN and infinities too)', async (t) => {
  holds(
    t,
    fc.property(fc.array(anyNumber, { maxLength: 300, size: 'large' }), (values) => {
      const result = timed('mannKendall', () => mannKendall(values))
      assert.ok(result.tau >= -1 && result.tau <= 1, `tau ${result.tau}`)
      assert.ok(result.pIncreasing >= 0 && result.pIncreasing <= 1, `p ${result.pIncreasing}`)
      assert.ok(Number.isFinite(result.z) && Number.isFinite(result.s), `z ${result.z}, s ${result.s}`)
    }),
    runs(400),
    'holds: mannKendall: tau in [-1, 1], p in [0, 1], for any values (NaN and infinities too)',
  )
  holds(
    t,
    fc.property(fc.double({ noNaN: true }), (z) => {
      const p = normalCdf(z)
      assert.ok(p >= 0 && p <= 1, `normalCdf(${z}) = ${p}`)
    }),
    runs(1000),
    'holds: mannKendall: tau in [-1, 1], p in [0, 1], for any values (NaN and infinities too)',
  )
  holds(
    t,
    fc.property(fc.double({ min: 1e-300, max: 0.5, noNaN: true }), (p) => {
      const z = upperQuantile(p)
      assert.ok(z >= 0 && z <= 10, `upperQuantile(${p}) = ${z}`)
    }),
    runs(300),
    'holds: mannKendall: tau in [-1, 1], p in [0, 1], for any values (NaN and infinities too)',
  )
})

t.test('theilSen / theilSenBounds / hingeFit / thinIndexes: no throw, shapes hold, on any input', async (t) => {
  const series = fc.array(fc.tuple(anyNumber, anyNumber), { maxLength: 120, size: 'large' })
  holds(
    t,
    fc.property(series, fc.double({ min: 0, max: 10, noNaN: true }), (points, z) => {
      const times = points.map(([time]) => time)
      const values = points.map(([, value]) => value)
      timed('theilSen', () => theilSen(times, values))
      const bounds = timed('theilSenBounds', () => theilSenBounds(times, values, z))
      // The lower confidence bound never exceeds the point estimate (finite inputs: a consistent sort; z not ~0,
      // where Sen's rank is the upper middle slope, above the median of an even count).
      if (z >= 0.5 && [...times, ...values].every(Number.isFinite)) {
        assert.ok(!(bounds.lower > bounds.slope) || !Number.isFinite(bounds.slope), `lower ${bounds.lower} > slope ${bounds.slope}`)
      }
      const fit = timed('hingeFit', () => hingeFit(times, values))
      if (fit !== undefined) assert.ok(times.includes(fit.onsetMs), 'the onset is a sample time')
      const onset = timed('estimateOnset', () => estimateOnset({ times, values }))
      assert.ok(onset === null || times.includes(onset))
    }),
    runs(300),
    'holds: theilSen / theilSenBounds / hingeFit / thinIndexes: no throw, shapes hold, on any input',
  )
  holds(
    t,
    fc.property(fc.nat(100_000), fc.integer({ min: 2, max: 500 }), (length, max) => {
      const keep = thinIndexes(length, max)
      assert.ok(keep.length === Math.min(length, max))
      for (let i = 0; i < keep.length; i++) {
        assert.ok(Number.isInteger(keep[i]) && (keep[i] as number) >= 0 && (keep[i] as number) < length)
        if (i > 0) assert.ok((keep[i] as number) >= (keep[i - 1] as number))
      }
      if (length > 0) assert.ok(keep[0] === 0 && keep[keep.length - 1] === length - 1, 'first and last kept')
    }),
    runs(300),
    'holds: theilSen / theilSenBounds / hingeFit / thinIndexes: no throw, shapes hold, on any input',
  )
})

t.test('evaluateSignal: arbitrary series (non-finite, unordered, mismatched lengths) → no throw, sanitized slopes and p', async (t) => {
  holds(
    t,
    fc.property(
      fc.array(anyNumber, { maxLength: 400, size: 'large' }),
      fc.array(anyNumber, { maxLength: 400, size: 'large' }),
      anyNumber,
      thresholdsArb,
      anyNumber,
      fc.array(anyNumber, { maxLength: 400 }),
      (times, values, nowMs, config, warmup, loads) => {
        const slow = times.slice(0, 100).map((timeMs, i) => ({ timeMs, value: values[i] ?? 0, load: loads[i] ?? Number.NaN }))
        const evidence = timed('evaluateSignal', () => evaluateSignal('heap', { times, values, loads }, slow, nowMs, config, warmup, 1e9))
        checkEvidence(evidence, false)
        const verdict = nextVerdict(INITIAL_VERDICT, evidence, { clearAfterMs: 0, slowRaiseAfterMs: 0, minSlopeBytesPerSecond: 1024, slowWindowMs: 0 })
        assert.ok(!verdict.suspected || evidence.path !== null, 'raised only on positive evidence')
      },
    ),
    runs(400),
    'holds: evaluateSignal: arbitrary series (non-finite, unordered, mismatched lengths) → no throw, sanitized slopes and p',
  )
})

t.test('evaluateSignal: series as RingSeries keeps them (finite, ordered) → every number finite or a documented null', async (t) => {
  holds(
    t,
    fc.property(
      fc.array(fc.tuple(fc.oneof(fc.nat(1_000), finiteNumber), finiteNumber), { maxLength: 300, size: 'large' }),
      thresholdsArb,
      (steps, config) => {
        const series = new RingSeries(240)
        let time = 0
        for (const [dt, value] of steps) {
          time += Math.abs(dt)
          series.push(time, value)
        }
        const nowMs = series.last()?.timeMs ?? 0
        const all = series.all()
        const slow = all.times.map((timeMs, i) => ({ timeMs, value: all.values[i] as number, load: 0.3 }))
        const evidence = timed('evaluateSignal', () =>
          evaluateSignal('rss', all, slow, nowMs, { ...config, windowMs: Number.MAX_SAFE_INTEGER, slowWindowMs: 1000 }, 0, undefined),
        )
        checkEvidence(evidence, true)
        const onset = estimateOnset(series.all())
        assert.ok(onset === null || Number.isFinite(onset))
        const eta = secondsUntil(1e12, evidence.floorBytes, evidence.fast.slopeBytesPerSecond)
        // Infinity is possible for a denormal slope (a practical "never"); NaN or negative is not.
        assert.ok(eta === undefined || eta >= 0, `secondsUntil ${eta}`)
      },
    ),
    runs(600),
    'holds: evaluateSignal: series as RingSeries keeps them (finite, ordered) → every number finite or a documented null',
  )
})

t.test('evaluateSignal: a 10^5-point series is thinned, not walked quadratically', async (t) => {
  const times = Array.from({ length: 100_000 }, (_, i) => i * 1000)
  const values = times.map((time, i) => 1e8 + time * 3 + (i % 17) * 1e5)
  const slow = times.map((timeMs, i) => ({ timeMs, value: values[i] as number, load: 0.3 }))
  const config: AnalysisThresholds = {
    windowMs: 1e9,
    minPoints: 12,
    maxPValue: 0.01,
    minSlopeBytesPerSecond: 1,
    minRelativePerHour: 0,
    urgentHorizonMs: 1e12,
    fastRelativePerHour: 0,
    steadyRaiseAfterMs: undefined,
    slowWindowMs: 4 * 3_600_000,
    slowMinSlopeBytesPerSecond: 1,
    slowMinRelativePerHour: 0,
    raiseAfterMs: 0,
  }
  const evidence = timed('evaluateSignal over 10^5 points', () => evaluateSignal('heap', { times, values }, slow, times[times.length - 1] as number, config, 0, undefined))
  checkEvidence(evidence, true)
  t.equal(evidence.fast.points, 100_000)
  t.ok(evidence.fast.positive, 'a steady climb is a leak')
  t.ok(evidence.slow.positive, 'on both paths')
  timed('estimateOnset over 10^5 points', () => estimateOnset({ times, values }))
})

// Bugs found by this file -------------------------------------------------------------

t.test('regression (found by fuzzing): shape slopes are finite for finite floors of extreme size', async (t) => {
  // Floors as RingSeries keeps them: finite, ordered, 1 ms apart; one floor of Number.MAX_VALUE bytes
  // (the collectors accept any finite non-negative byte count from the target).
  const times = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  const values = [0, 0, 0, Number.MAX_VALUE, 0, 0, 0, 0, 0, 0, 0]
  const evidence = evaluateSignal(
    'heap',
    { times, values },
    [],
    10,
    { windowMs: 1e9, minPoints: 4, maxPValue: 0.5, minSlopeBytesPerSecond: 0, minRelativePerHour: 0, urgentHorizonMs: 1, fastRelativePerHour: 0, steadyRaiseAfterMs: undefined, slowWindowMs: 1e9, slowMinSlopeBytesPerSecond: 0, slowMinRelativePerHour: 0, raiseAfterMs: 0 },
    0,
    undefined,
  )
  t.ok(Number.isFinite(evidence.fast.slopeBytesPerSecond) && Number.isFinite(evidence.fast.slopeLowerBytesPerSecond))
})
