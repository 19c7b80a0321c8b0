import t from 'tap'
import { hingeFit, mannKendall, normalCdf, theilSen, theilSenBounds, thinIndexes, upperQuantile } from '../../src/analysis/stats.js'

t.test('normalCdf matches tabulated values', async (t) => {
  t.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7)
  t.ok(Math.abs(normalCdf(1.959964) - 0.975) < 1e-6)
  t.ok(Math.abs(normalCdf(-2.326348) - 0.01) < 1e-6)
  t.ok(Math.abs(normalCdf(3.090232) - 0.999) < 1e-6)
})

t.test('Mann–Kendall: textbook statistic, ties, direction', async (t) => {
  // Hand-computed: pairs (i<j) of [1,3,2,4]: +1 +1 +1 -1 +1 +1 = 4.
  const small = mannKendall([1, 3, 2, 4])
  t.equal(small.s, 4)
  t.equal(small.tau, 4 / 6)
  const rising = mannKendall(Array.from({ length: 30 }, (_, i) => i))
  t.equal(rising.s, (30 * 29) / 2)
  t.ok(rising.pIncreasing < 1e-6, 'a perfect rise is significant')
  const falling = mannKendall(Array.from({ length: 30 }, (_, i) => -i))
  t.ok(falling.pIncreasing > 0.999, 'a fall is not an upward trend')
  const flat = mannKendall(new Array(20).fill(5))
  t.equal(flat.s, 0)
  t.equal(flat.z, 0, 'all ties: z = 0')
  t.ok(Math.abs(flat.pIncreasing - 0.5) < 1e-6)
  t.equal(mannKendall([1, 2]).pIncreasing, 1, 'too short to say')
})

t.test('Mann–Kendall: exact p for few points without ties, by counting orders', async (t) => {
  // Brute force: the share of the n! orders of n distinct values whose S is at least as large.
  const permutations = (items: number[]): number[][] =>
    items.length <= 1 ? [items] : items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]))
  for (const n of [3, 4, 5, 6, 7]) {
    const all = permutations(Array.from({ length: n }, (_, i) => i))
    for (const order of [all[0], all[1], all[Math.floor(all.length / 3)], all[all.length - 1]] as number[][]) {
      const s = mannKendall(order).s
      const expected = all.filter((other) => mannKendall(other).s >= s).length / all.length
      t.ok(Math.abs(mannKendall(order).pIncreasing - expected) < 1e-12, `n = ${n}, S = ${s}: p = ${expected}`)
    }
  }
  // Six floors with one pair out of order: exactly 6 of 720 orders do as well; the normal
  // approximation would say 0.012, above a 1 % level that the exact test passes.
  t.equal(mannKendall([1, 2, 4, 3, 5, 6]).pIncreasing, 6 / 720)
  t.ok(mannKendall([1, 2, 4, 3, 5, 6]).z < 2.33, 'its normal z alone would not pass 1 %')
  // Ties, or more than ten points: the normal approximation, as before.
  const tied = mannKendall([1, 2, 2, 3, 4, 5])
  t.equal(tied.pIncreasing, 1 - normalCdf(tied.z))
  const eleven = mannKendall([1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11])
  t.equal(eleven.pIncreasing, 1 - normalCdf(eleven.z))
})

t.test('Theil–Sen: exact on a line, robust to outliers', async (t) => {
  const times = Array.from({ length: 21 }, (_, i) => i * 1000)
  const line = times.map((x) => 100 + 0.5 * x)
  const fit = theilSen(times, line)
  t.equal(fit.slope, 0.5)
  t.equal(fit.intercept, 100)
  const spiked = line.slice()
  spiked[3] = 1e9
  spiked[10] = -1e9
  spiked[17] = 5e8
  t.equal(theilSen(times, spiked).slope, 0.5, 'three wild outliers do not move the median slope')
  t.same(theilSen([5, 5], [1, 2]), { slope: 0, intercept: 2 }, 'no distinct times: flat')
})

t.test('hinge fit finds the onset of flat-then-rising growth', async (t) => {
  const times = Array.from({ length: 60 }, (_, i) => i * 1000)
  const values = times.map((x) => 1000 + (x >= 20_000 ? (x - 20_000) * 0.2 : 0) + ((x / 1000) % 3) * 5)
  const fit = hingeFit(times, values)
  t.ok(fit !== undefined)
  t.ok(Math.abs((fit?.onsetMs ?? 0) - 20_000) <= 2000, `onset ${fit?.onsetMs} near 20 s`)
  t.ok((fit?.slope ?? 0) > 0.15 && (fit?.slope ?? 0) < 0.25)
  t.ok((fit?.sse ?? 0) < (fit?.lineSse ?? 0), 'better than a straight line')
  t.equal(hingeFit([1, 2, 3], [1, 2, 3]), undefined, 'too short')
})

t.test('thinIndexes keeps ends and bounds the count', async (t) => {
  t.same(thinIndexes(3, 10), [0, 1, 2])
  const kept = thinIndexes(1000, 5)
  t.same(kept, [0, 250, 500, 749, 999])
})

t.test('Sen confidence bound and normal quantiles', async (t) => {
  t.ok(Math.abs(upperQuantile(0.025) - 1.959964) < 1e-5)
  t.ok(Math.abs(upperQuantile(0.01) - 2.326348) < 1e-5)
  const times = Array.from({ length: 30 }, (_, i) => i)
  const exact = theilSenBounds(times, times.map((x) => 2 * x), 2.33)
  t.equal(exact.slope, 2)
  t.equal(exact.lower, 2, 'a perfect line has no uncertainty')
  const noisy = theilSenBounds(times, times.map((x) => 2 * x + ((x * 7919) % 23) - 11), 2.33)
  t.ok(noisy.lower < noisy.slope, 'noise widens the bound')
  t.equal(theilSenBounds([1, 2, 3], [1, 2, 3], 50).lower, Number.NEGATIVE_INFINITY, 'too few pairs for the level')
  t.same(theilSenBounds([1], [1], 2), { slope: 0, intercept: 1, lower: 0 })
})
