import t from 'tap'
import { select, windowStart } from '../../src/analysis/window.js'

const MIN = 60_000
const series = (minutes: number[]) => ({ times: minutes.map((m) => m * MIN), values: minutes.map((m) => 1000 + m) })

t.test('a window with enough floors starts one window back', async (t) => {
  const dense = series(Array.from({ length: 121 }, (_, i) => i)) // a floor a minute for two hours
  t.equal(windowStart(dense, 120 * MIN, 0, 30 * MIN, 12), 90 * MIN)
  t.equal(select(dense, 90 * MIN).count, 31)
})

t.test('a window short of floors reaches back for the latest ones, at most two windows', async (t) => {
  // A floor every 10 min: three in the last 30 min; the 12 wanted are not there, so the window
  // takes what two windows hold.
  const sparse = series([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120])
  t.equal(windowStart(sparse, 120 * MIN, 0, 30 * MIN, 12), 60 * MIN)
  t.equal(select(sparse, 60 * MIN).count, 7)
  // Six wanted: found within the reach, so the window starts at the sixth latest floor.
  t.equal(windowStart(sparse, 120 * MIN, 0, 30 * MIN, 6), 70 * MIN)
  // Never before fromMs (the warm-up).
  t.equal(windowStart(sparse, 120 * MIN, 75 * MIN, 30 * MIN, 12), 75 * MIN)
  // No floor within reach: the plain window.
  t.equal(windowStart(series([0, 5]), 120 * MIN, 0, 30 * MIN, 12), 90 * MIN)
  // Non-finite points do not count.
  const holes = { times: [80 * MIN, 100 * MIN, Number.NaN, 115 * MIN], values: [1, Number.NaN, 3, 4] }
  t.equal(windowStart(holes, 120 * MIN, 0, 30 * MIN, 2), 80 * MIN)
})
