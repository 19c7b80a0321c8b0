// Per-tenant sliding windows under a flash sale (test/fixtures/holders/rate-windows with
// BURST_AT_MS): requests arrive six times as fast for 6 s, then as before. Every tenant's log
// fills to six times its level within one window and drains after it: a family of flows whose
// level follows the traffic, never growing. Judged on two sizes as if its members could only
// churn, the burst was growth (the sum of 120 logs went from ~1 200 to ~7 000).
import t from 'tap'
import { isFlow } from '../../src/holders/growth.js'
import { describeHolder } from '../../src/holders/report.js'
import type { HolderSearchDone } from '../../src/holders/types.js'
import { nothingGrowing, openFixture, searchSeries } from './lib.js'

const WINDOWS = /^windows \(Map, .*rate-windows\/main\.js\) → get\(…\) → \.recent \(Array\)$/

function familySizes(results: readonly HolderSearchDone[]): number[] {
  return results.map((r) => r.holders.find((h) => WINDOWS.test(h.path.join(' → ')))?.size ?? 0)
}

for (const copy of [false, true]) {
  const how = copy ? 'compacted by copies (COPY=1): turnover at each path, the copy probed' : 'spliced in place'
  t.test(`rate-windows in a burst, logs ${how}: the family is a flow, never growing`, async (t) => {
    const { session } = await openFixture(t, 'rate-windows', { BURST_AT_MS: '5000', BURST_MS: '6000', ...(copy ? { COPY: '1' } : {}) })
    const results = await searchSeries(session, 6, 2200)
    const sizes = familySizes(results)
    t.comment(`family sizes ${sizes.join(', ')}`)
    nothingGrowing(t, results)
    t.ok(Math.max(...sizes) > 3 * Math.max(1, Math.min(...sizes.slice(0, 2))), `a search saw the burst (${sizes.join(', ')})`)
    const family = results.map((r) => r.holders.find((h) => WINDOWS.test(h.path.join(' → '))))
    t.comment(family.map((h) => (h?.turnover !== undefined ? `${h.turnover.gone}/${h.turnover.sampled}` : '-')).join(', '))
    t.ok(family.slice(2).some((h) => h?.turnover !== undefined && isFlow(h.turnover)), 'the family\'s members\' members left: a flow')
    // Logs of a few requests each (under minSize) are probed too: the family's turnover is known
    // before the burst, whatever search the burst falls between.
    // (A search may report the logs apart, not as one family: only the searches that reported it count.)
    const reported = family.slice(1).filter((h) => h !== undefined)
    if (!copy) t.ok(reported.length >= 4 && reported.every((h) => h.turnover !== undefined), `the family carried a turnover at each search from the second that reported it (${reported.length})`)
    const last = family[family.length - 1]
    t.comment(last !== undefined ? describeHolder(last) : '(not reported)')
  })
}

t.test('rate-windows in a burst, most logs not reached by the walk: a log first reported through its WeakRef is judged from the next search', async (t) => {
  // Busier (~33 requests a log) so that every log is tracked between searches; from the third
  // search the walk samples 8 of the Map's 120 members, and the rest are re-measured through
  // their WeakRefs, without a path, a family or a turnover. Judged on two sizes, such a log went
  // from ~33 to ~130 in the burst: growing.
  const { session } = await openFixture(t, 'rate-windows', { RATE: '2000', BURST_AT_MS: '5000', BURST_MS: '6000', BURST_X: '4' })
  const results = await searchSeries(session, 5, 2200, (i) => (i >= 2 ? { sample: 8 } : {}))
  nothingGrowing(t, results)
  const lifted = results.flatMap((r) => r.holders).filter((h) => h.measuredBy === 'tracked' && h.previousSize !== null && h.size > 2 * h.previousSize + 32)
  t.ok(lifted.length > 0, `a log the walk did not reach was lifted by the burst (${lifted.length})`)
  t.comment(lifted.slice(0, 3).map(describeHolder).join(' | '))
})
