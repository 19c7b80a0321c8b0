// A store that gains a few members between two searches: judged over its last few measurements
// (growth.ts growthSpan), never for the churn of members in progress.
import t from 'tap'
import type { Holder } from '../../src/holders/types.js'
import { describeHolder } from '../../src/holders/report.js'
import { openFixture, search, searchSeries, searchUntil } from './lib.js'

t.test('uploads abandoned at ~0.5 a second, searches 6 s apart: never 8 between two, named growing over the last few', async (t) => {
  const { session } = await openFixture(t, 'uploads', { RATE: '1' })
  const first = await search(session)
  const { last, holder, searches } = await searchUntil(session, first, (h: Holder) => h.growing, { spacingMs: 6000, timeoutMs: 50_000 })
  t.comment(`after ${searches} searches: ${holder !== undefined ? describeHolder(holder) : last.holders.slice(0, 3).map(describeHolder).join(' | ')}`)
  t.equal(holder?.path.join(' → '), 'uploads (Map, test/fixtures/holders/uploads/main.js)')
  t.ok(holder?.growingOver !== undefined && holder.growingOver >= 2, `judged over ${holder?.growingOver} intervals`)
  t.match(holder !== undefined ? describeHolder(holder) : '', /, growing; from \d+ over its last \d searches\)/, 'the log line says over how many')
})

t.test('a small collection that holds still between two searches stays in the report', async (t) => {
  // Twelve jobs kept in a Map, under the walk's 16 members: measured while it fills, and after
  // (its chains of sizes and members must not break when it holds still for a search).
  const { session } = await openFixture(t, 'job-logs', { MAX_ITEMS: '12' })
  const results = await searchSeries(session, 5, 1500)
  const isJobs = (h: Holder): boolean => /^jobs \(Map, .*job-logs\/main\.js\)$/.test(h.path.join(' → '))
  const sizes = results.map((r) => r.holders.find(isJobs)?.size ?? null)
  t.comment(`jobs at each search: ${JSON.stringify(sizes)}`)
  const first = sizes.findIndex((s) => s !== null)
  t.ok(first >= 0 && first < 3, 'reported once it changed')
  t.same(sizes.slice(first).filter((s) => s === null), [], 'in every report from then on')
  const last = results[results.length - 1]!.holders.find(isJobs)
  t.equal(last?.size, 12, 'full')
  t.equal(last?.previousSize, 12, 'held still since the search before')
  t.equal(last?.growing, false, 'not growing')
})
