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
import { INITIAL_VERDICT, estimateOnset, evaluateSignal, nextVerdict, secondsUntil, type SignalEvidence } from '../../src/analysis/verdict.js'
import type { AnalysisConfig } from '../../src/config/types.js'
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
const thresholdsArb: fc.Arbitrary<Pick<AnalysisConfig, 'windowMs' | 'minPoints' | 'maxPValue' | 'minSlopeBytesPerSecond' | 'minRelativePerHour'>> = fc.record({
  windowMs: fc.integer({ min: 1_000, max: 7 * 24 * 3_600_000 }),
  minPoints: fc.integer({ min: 4, max: 500 }),
  maxPValue: fc.double({ min: 1e-9, max: 0.999, noNaN: true }),
  minSlopeBytesPerSecond: fc.double({ min: 0, max: 1e9, noNaN: true }),
  minRelativePerHour: fc.double({ min: 0, max: 10, noNaN: true }),
})

function checkEvidence(evidence: SignalEvidence, strict: boolean): void {
  const finite = (name: string, n: number): void => assert.ok(Number.isFinite(n), `${name} = ${n}`)
  finite('slopeBytesPerSecond', evidence.slopeBytesPerSecond)
  finite('slopeLowerBytesPerSecond', evidence.slopeLowerBytesPerSecond)
  finite('relativePerHour', evidence.relativePerHour)
  assert.ok(evidence.pValue >= 0 && evidence.pValue <= 1, `pValue ${evidence.pValue}`)
  assert.ok(evidence.tau >= -1 && evidence.tau <= 1, `tau ${evidence.tau}`)
  assert.ok(Number.isInteger(evidence.points) && evidence.points >= 0)
  assert.equal(evidence.positive, evidence.reasons.length === 0)
  for (const reason of evidence.reasons) assert.ok(typeof reason === 'string' && reason.length > 0, `reason ${reason}`)
  if (strict) {
    // The series came through RingSeries (finite, ordered): every number is finite or a documented null.
    if (evidence.windowStartMs !== null) finite('windowStartMs', evidence.windowStartMs)
    if (evidence.floorBytes !== null) finite('floorBytes', evidence.floorBytes)
    if (evidence.halfSlopesBytesPerSecond !== null) {
      finite('halfSlopesBytesPerSecond[0]', evidence.halfSlopesBytesPerSecond[0])
      finite('halfSlopesBytesPerSecond[1]', evidence.halfSlopesBytesPerSecond[1])
    }
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
      (times, values, nowMs, config, warmup) => {
        const evidence = timed('evaluateSignal', () => evaluateSignal('heap', { times, values }, nowMs, config, warmup))
        checkEvidence(evidence, false)
        const verdict = nextVerdict(INITIAL_VERDICT, evidence, { raiseAfter: 1, clearAfter: 1 })
        assert.equal(verdict.suspected, evidence.positive)
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
        const evidence = timed('evaluateSignal', () => evaluateSignal('rss', series.all(), nowMs, { ...config, windowMs: Number.MAX_SAFE_INTEGER }, 0))
        checkEvidence(evidence, true)
        const onset = estimateOnset(series.all())
        assert.ok(onset === null || Number.isFinite(onset))
        const eta = secondsUntil(1e12, evidence.floorBytes, evidence.slopeBytesPerSecond)
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
  const evidence = timed('evaluateSignal over 10^5 points', () =>
    evaluateSignal('heap', { times, values }, times[times.length - 1] as number, { windowMs: 1e9, minPoints: 12, maxPValue: 0.01, minSlopeBytesPerSecond: 1, minRelativePerHour: 0 }, 0),
  )
  checkEvidence(evidence, true)
  t.equal(evidence.points, 100_000)
  t.ok(evidence.positive, 'a steady climb is a leak')
  timed('estimateOnset over 10^5 points', () => estimateOnset({ times, values }))
})

// Bugs found by this file -------------------------------------------------------------

t.test('regression (found by fuzzing): evaluateSignal: halfSlopesBytesPerSecond is ±Infinity for finite floors of extreme size (not sanitized like the other slopes)', async (t) => {
  // Floors as RingSeries keeps them: finite, ordered, 1 ms apart; one floor of Number.MAX_VALUE bytes
  // (the collectors accept any finite non-negative byte count from the target). The later half's
  // Theil–Sen slope is -MAX_VALUE/2 per ms, × 1000 → -Infinity; the whole-window slopes are sanitized, these are not.
  const times = [0, 1, 2, 3, 4, 5]
  const values = [0, 0, 0, Number.MAX_VALUE, 0, 0]
  const evidence = evaluateSignal('heap', { times, values }, 5, { windowMs: 1e9, minPoints: 4, maxPValue: 0.5, minSlopeBytesPerSecond: 0, minRelativePerHour: 0 }, 0)
  t.ok(
    evidence.halfSlopesBytesPerSecond === null || evidence.halfSlopesBytesPerSecond.every(Number.isFinite),
    `halfSlopesBytesPerSecond = ${JSON.stringify(evidence.halfSlopesBytesPerSecond?.map(String))}`,
  )
})
