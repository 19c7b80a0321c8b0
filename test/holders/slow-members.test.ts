// A store that gains a few members between two searches: judged over its last few measurements
// (growth.ts growthSpan), never for the churn of members in progress.
import t from 'tap'
import type { Holder } from '../../src/holders/types.js'
import { describeHolder } from '../../src/holders/report.js'
import { openFixture, search, searchUntil } from './lib.js'

t.test('uploads abandoned at ~0.5 a second, searches 6 s apart: never 8 between two, named growing over the last few', async (t) => {
  const { session } = await openFixture(t, 'uploads', { RATE: '1' })
  const first = await search(session)
  const { last, holder, searches } = await searchUntil(session, first, (h: Holder) => h.growing, { spacingMs: 6000, timeoutMs: 50_000 })
  t.comment(`after ${searches} searches: ${holder !== undefined ? describeHolder(holder) : last.holders.slice(0, 3).map(describeHolder).join(' | ')}`)
  t.equal(holder?.path.join(' → '), 'uploads (Map, test/fixtures/holders/uploads/main.js)')
  t.ok(holder?.growingOver !== undefined && holder.growingOver >= 2, `judged over ${holder?.growingOver} intervals`)
  t.match(holder !== undefined ? describeHolder(holder) : '', /, growing; from \d+ over its last \d searches\)/, 'the log line says over how many')
})
