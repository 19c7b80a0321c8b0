// Collections held one per member of a Map whose members come and go (test/fixtures/holders/
// live-matches): each live match's move history grows until the match ends and is removed. At
// the evening peak more matches live at once. Their histories are a flow of collections: the sum
// follows the number of live matches, and the youngest history grows at every search. Judged as
// stores (their moves never leave), both were called growing at most searches.
import t from 'tap'
import { isFlow } from '../../src/holders/growth.js'
import { describeHolder } from '../../src/holders/report.js'
import type { Holder } from '../../src/holders/types.js'
import { nothingGrowing, openFixture, search, searchSeries, searchUntil } from './lib.js'

const MOVES = /^matches \(Map, .*live-matches\/main\.js\) → get\((…|'m-[0-9a-z]+')\) → \.moves \(Array\)$/

t.test('live-matches at a ramp: histories of matches that end, never growing', async (t) => {
  const { session } = await openFixture(t, 'live-matches', { RAMP_AT_S: '14' })
  // A major GC before each search, as the minutes between a sidecar's searches bring one: a
  // match removed since the last search is gone, not re-measured through its WeakRef as it
  // would be seconds later (see holder-search.md).
  const results = await searchSeries(session, 7, 3000, {}, () => session.send('HeapProfiler.collectGarbage', {}, 30_000))
  // The histories are judged by the matches' turnover once it is measured: from the second
  // interval after the Map was first reported (before that they are judged as stores would be).
  const parentTurnover = results.map((r) => r.holders.find((h) => /^matches \(Map, .*live-matches\/main\.js\)$/.test(h.path.join(' → ')))?.turnover)
  t.comment(`matches' turnover: ${parentTurnover.map((x) => (x !== undefined ? `${x.gone}/${x.sampled}` : '-')).join(', ')}`)
  const judged = results.filter((_, i) => parentTurnover[i] !== undefined && isFlow(parentTurnover[i]))
  t.ok(judged.length >= 4, `the matches a flow at ${judged.length} searches`)
  nothingGrowing(t, judged)
  const moves = results.flatMap((r) => r.holders).filter((h) => MOVES.test(h.path.join(' → ')) && h.previousSize !== null)
  t.ok(moves.length > 0, 'the histories were reported with a previous size')
  t.ok(moves.some((h) => h.size - (h.previousSize ?? 0) >= 32), `one grew by 32 or more between two searches: ${moves.map((h) => `${h.previousSize}→${h.size}`).join(', ')}`)
  t.comment(moves.slice(-2).map(describeHolder).join(' | '))
})

t.test('live-matches STUCK=0.1: matches whose end is never recorded stay, their histories growing: named', async (t) => {
  const { session } = await openFixture(t, 'live-matches', { STUCK: '0.1' })
  const first = await search(session)
  const isKept = (h: Holder): boolean => h.growing && (MOVES.test(h.path.join(' → ')) || /^matches \(Map, .*live-matches\/main\.js\)$/.test(h.path.join(' → ')))
  const { last, holder } = await searchUntil(session, first, isKept, { spacingMs: 3000, timeoutMs: 60_000 })
  t.comment(last.holders.slice(0, 3).map(describeHolder).join(' | '))
  t.ok(holder !== undefined, 'the matches kept, or their histories, named growing')
})
