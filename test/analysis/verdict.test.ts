import t from 'tap'
import { RingSeries, WindowMinimum } from '../../src/analysis/series.js'
import {
  INITIAL_VERDICT,
  estimateOnset,
  evaluateSignal,
  nextVerdict,
  secondsUntil,
  type SignalEvidence,
} from '../../src/analysis/verdict.js'

const config = { windowMs: 60_000, minPoints: 10, maxPValue: 0.01, minSlopeBytesPerSecond: 1000, minRelativePerHour: 0.05 }
const series = (fn: (i: number) => number, n = 60, stepMs = 1000) => ({
  times: Array.from({ length: n }, (_, i) => i * stepMs),
  values: Array.from({ length: n }, (_, i) => fn(i)),
})

t.test('a steady rise passes every test', async (t) => {
  const e = evaluateSignal('heap', series((i) => 50e6 + i * 5000 + (i % 3) * 1000), 59_000, config, 0)
  t.equal(e.positive, true)
  t.same(e.reasons, [])
  t.ok(Math.abs(e.slopeBytesPerSecond - 5000) < 600)
  t.ok(e.pValue < 1e-6)
  t.ok(e.relativePerHour > 0.3)
  t.equal(e.floorBytes, 50e6 + 59 * 5000 + (59 % 3) * 1000)
  t.equal(e.points, 60)
})

t.test('each test can fail on its own, and says why', async (t) => {
  const flat = evaluateSignal('heap', series((i) => 50e6 + (i % 2) * 1000), 59_000, config, 0)
  t.equal(flat.positive, false)
  t.match(flat.reasons.join(';'), /no significant upward trend/)
  const tinySlope = evaluateSignal('heap', series((i) => 50e6 + i * 10), 59_000, config, 0)
  t.match(tinySlope.reasons.join(';'), /slope 10 B\/s \(at least \d+ B\/s\) below 1000 B\/s/)
  const tinyRelative = evaluateSignal('heap', series((i) => 50e12 + i * 5000), 59_000, config, 0)
  t.match(tinyRelative.reasons.join(';'), /%\/h below/)
  const few = evaluateSignal('heap', series((i) => i * 1e6, 5), 4000, config, 0)
  t.same(few.reasons, ['5 of 10 points'])
  const warming = evaluateSignal('heap', series((i) => 50e6 + i * 5000), 59_000, config, 100_000)
  t.equal(warming.warmingUp, true)
  t.equal(warming.positive, false)
  t.equal(warming.points, 0, 'warm-up points do not count')
})

t.test('growth must be sustained across the window and not slowing down', async (t) => {
  // A one-off step in the middle: a significant trend and slope, but each half is flat.
  const step = evaluateSignal('heap', series((i) => 50e6 + (i >= 30 ? 5e6 : 0) + (i % 3) * 1000), 59_000, config, 0)
  t.equal(step.positive, false)
  t.match(step.reasons.join(';'), /not sustained/)
  // A cache filling towards its size: rising throughout, ever slower.
  const cache = evaluateSignal('heap', series((i) => 50e6 + 20e6 * (1 - Math.exp(-i / 25))), 59_000, config, 0)
  t.equal(cache.positive, false)
  t.match(cache.reasons.join(';'), /slowing down|not sustained/)
  const [first, second] = cache.halfSlopesBytesPerSecond ?? [0, 0]
  t.ok(second < first, 'the later half grows slower')
  // A leak keeps its pace in both halves.
  const leak = evaluateSignal('heap', series((i) => 50e6 + i * 5000 + (i % 4) * 2000), 59_000, config, 0)
  t.equal(leak.positive, true)
  t.ok(leak.slopeLowerBytesPerSecond <= leak.slopeBytesPerSecond && leak.slopeLowerBytesPerSecond > 3000, 'a tight lower bound')
})

t.test('the effect size is judged on the slope lower bound: noise alone does not pass', async (t) => {
  // Slope ~1.2 kB/s point estimate over heavy noise; the lower bound is well below 1 kB/s.
  let seed = 7
  const noise = (): number => {
    seed = (seed * 16807) % 2147483647
    return (seed / 2147483647 - 0.5) * 400_000
  }
  const noisy = evaluateSignal('rss', series((i) => 1e8 + i * 1200 + noise()), 59_000, { ...config, maxPValue: 0.5 }, 0)
  t.ok(noisy.slopeLowerBytesPerSecond < noisy.slopeBytesPerSecond)
  t.equal(noisy.positive, false)
})

t.test('only the window counts', async (t) => {
  // Rising long ago, flat within the last minute.
  const s = series((i) => (i < 100 ? i * 1e5 : 1e7 + (i % 2)), 200)
  const e = evaluateSignal('heap', s, 199_000, config, 0)
  t.equal(e.points, 61)
  t.equal(e.positive, false)
})

t.test('hysteresis: raise after N positives in a row, clear after M negatives in a row', async (t) => {
  const pos = { positive: true, evaluatedAtMs: 1 } as SignalEvidence
  const neg = { positive: false, evaluatedAtMs: 2 } as SignalEvidence
  const c = { raiseAfter: 3, clearAfter: 2 }
  let v = INITIAL_VERDICT
  v = nextVerdict(v, pos, c)
  v = nextVerdict(v, pos, c)
  v = nextVerdict(v, neg, c)
  v = nextVerdict(v, pos, c)
  v = nextVerdict(v, pos, c)
  t.equal(v.suspected, false, 'an interruption restarts the count')
  v = nextVerdict(v, pos, c)
  t.equal(v.suspected, true)
  t.equal(v.raisedAtMs, 1)
  v = nextVerdict(v, neg, c)
  t.equal(v.suspected, true, 'one negative does not clear')
  v = nextVerdict(v, pos, c)
  v = nextVerdict(v, neg, c)
  t.equal(v.suspected, true)
  v = nextVerdict(v, neg, c)
  t.equal(v.suspected, false)
  t.equal(v.raisedAtMs, null)
})

t.test('onset and projections', async (t) => {
  const s = series((i) => (i < 30 ? 1e6 + (i % 2) * 100 : 1e6 + (i - 30) * 1e4), 60)
  const onset = estimateOnset(s)
  t.ok(onset !== null && Math.abs(onset - 30_000) <= 2000, `onset ${onset}`)
  t.equal(estimateOnset(series((i) => 1e6 - i * 10)), null, 'a fall has no onset')
  t.equal(secondsUntil(2000, 1000, 10), 100)
  t.equal(secondsUntil(2000, 3000, 10), 0, 'already past the limit')
  t.equal(secondsUntil(undefined, 1000, 10), undefined)
  t.equal(secondsUntil(2000, 1000, 0), undefined)
  t.equal(secondsUntil(2000, null, 5), undefined)
})

t.test('RingSeries is bounded and ordered; WindowMinimum emits one floor per window', async (t) => {
  const ring = new RingSeries(3)
  for (const [time, value] of [[1, 1], [2, 2], [3, 3], [4, 4]]) ring.push(time as number, value as number)
  t.same(ring.all(), { times: [2, 3, 4], values: [2, 3, 4] })
  ring.push(1, 9)
  ring.push(5, Number.NaN)
  t.equal(ring.length, 3, 'out-of-order and non-finite points are refused')
  t.same(ring.since(3), { times: [3, 4], values: [3, 4] })
  t.same(ring.last(), { timeMs: 4, value: 4 })
  ring.clear()
  t.equal(ring.last(), undefined)

  const window = new WindowMinimum(1000)
  t.equal(window.add(100, 50), undefined)
  t.equal(window.add(600, 30), undefined)
  t.equal(window.add(900, 40), undefined)
  t.same(window.add(1100, 70), { timeMs: 600, value: 30 }, 'the minimum of the closed window, at its own time')
  t.equal(window.add(500, 1), undefined, 'a late reading of a closed window is ignored')
  t.same(window.add(3500, 80), { timeMs: 1100, value: 70 })
  window.reset()
  t.equal(window.add(4000, 1), undefined)
})
