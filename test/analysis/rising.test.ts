import t from 'tap'
import { MIN_RISING_POINTS, risingLately } from '../../src/analysis/rising.js'
import { noise } from '../helpers/noise.js'

const MIN = 60_000
const HOUR = 60 * MIN
const MIB = 1024 * 1024
/** The slow path's points: one per 6 min 40 s bucket (a 4-h window's 36th). */
const BUCKET = 400_000
const points = (hours: number, value: (ms: number) => number) =>
  Array.from({ length: Math.floor((hours * HOUR) / BUCKET) + 1 }, (_, i) => ({ timeMs: i * BUCKET, value: value(i * BUCKET) }))
// The defaults: 150 B/s (~0.5 MiB/h), p ≤ 0.01, over the holder max-interval (1 h).
const rising = (p: ReturnType<typeof points>, nowMs: number, fromMs = 0): boolean => risingLately(p, nowMs, HOUR, fromMs, 150, 0.01)

t.test('a slow leak under noise rises; a flat floor, a sawtooth and a drained burst do not', async (t) => {
  let leaksSeen = 0
  let flatSeen = 0
  for (let seed = 1; seed <= 50; seed++) {
    const rng = noise(seed)
    // 0.65 MiB/h on an 8 MiB floor, the lowest of each bucket within ±40 KiB.
    const leak = points(3, (ms) => 8 * MIB + (ms / HOUR) * 0.65 * MIB + rng() * 40 * 1024)
    if (rising(leak, 3 * HOUR)) leaksSeen += 1
    const flat = points(3, () => 8 * MIB + rng() * 400 * 1024)
    if (rising(flat, 3 * HOUR)) flatSeen += 1
  }
  t.ok(leaksSeen >= 45, `a 0.65 MiB/h leak seen rising in ${leaksSeen} of 50`)
  t.ok(flatSeen <= 1, `a flat floor seen rising in ${flatSeen} of 50`)
  // A burst that rose and drained within the hour is no rise over it.
  const burst = points(3, (ms) => 8 * MIB + Math.max(0, 1 - Math.abs(ms - 2.5 * HOUR) / (0.5 * HOUR)) * 4 * MIB)
  t.equal(rising(burst, 3 * HOUR), false)
  // A rise too slow to be worth raising (100 B/s) is not measured for it, however clean.
  t.equal(risingLately(points(3, (ms) => 8 * MIB + ms / 10), 3 * HOUR, HOUR, 0, 150, 0.01), false)
  t.equal(risingLately(points(3, (ms) => 8 * MIB + ms / 5), 3 * HOUR, HOUR, 0, 150, 0.01), true, '200 B/s is')
})

t.test('only the last span after the warm-up counts, and it needs enough points', async (t) => {
  const rose = points(3, (ms) => 8 * MIB + Math.min(ms, HOUR))
  t.equal(rising(rose, HOUR), true, 'rising over the first hour')
  t.equal(rising(rose, 3 * HOUR), false, 'flat over the last hour')
  t.equal(rising(rose, HOUR, 0.4 * HOUR), true, 'the 36 minutes after the warm-up hold enough points')
  t.equal(rising(rose, HOUR, HOUR - (MIN_RISING_POINTS - 1) * BUCKET + 1), false, `fewer than ${MIN_RISING_POINTS} points after the warm-up`)
  t.equal(rising([], HOUR), false)
})
