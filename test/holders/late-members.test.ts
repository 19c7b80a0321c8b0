// Members a Map or a Set took in last (a tenant that came later, connections opened after the
// rest): the walk samples a collection's first and last members, so what leaks in its newest
// members is measured and named.
import t from 'tap'
import type { Holder } from '../../src/holders/types.js'
import { describeHolder } from '../../src/holders/report.js'
import { nothingGrowing, openFixture, search, searchSeries, searchUntil } from './lib.js'

const TRAILS = /^trails \(Map, test\/fixtures\/holders\/late-tenants\/main\.js\) → get\(…\) → \.records \(Array\)$/
const OUTBOXES = /^connections \(Set, test\/fixtures\/holders\/late-tenants\/main\.js\) → member #… → \.outbox \(Array\)$/

t.test('late-tenants: the records of users added last to a Map of 340, and the outboxes of the last connections of a Set, named growing', async (t) => {
  // ~20 records a second go to the 32 late users the walk samples (of 40): against a family of
  // sibling arrays whose turnover is not measured (growth.ts: it must beat √(2·size) of churn),
  // searches 8 s apart.
  const { session } = await openFixture(t, 'late-tenants')
  const first = await search(session)
  const seen = new Set<string>()
  const { last } = await searchUntil(
    session,
    first,
    (h: Holder) => {
      if (h.growing && TRAILS.test(h.path.join(' → '))) seen.add('trails')
      if (h.growing && OUTBOXES.test(h.path.join(' → '))) seen.add('outboxes')
      return seen.size === 2
    },
    { spacingMs: 8000, timeoutMs: 45_000 },
  )
  t.comment(last.holders.slice(0, 4).map(describeHolder).join(' | '))
  t.ok(seen.has('trails'), 'trails → get(…) → .records named growing')
  t.ok(seen.has('outboxes'), 'connections → member #… → .outbox named growing')
  const records = last.holders.find((h) => TRAILS.test(h.path.join(' → ')))
  t.match(records?.elementShape.join(' | '), /\{seq, action, at, status\}/, 'the records\' shape')
})

t.test('late-tenants LATE=0: the same users and connections all served, nothing growing', async (t) => {
  const { session } = await openFixture(t, 'late-tenants', { LATE: '0' })
  nothingGrowing(t, await searchSeries(session, 3, 5000))
})
