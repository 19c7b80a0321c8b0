// Node's request, response and socket objects of many open streams are walked after the
// application's records, within the visit cap of a small heap.
import t from 'tap'
import type { Holder } from '../../src/holders/types.js'
import { describeHolder } from '../../src/holders/report.js'
import { openFixture, search, searchUntil } from './lib.js'

t.test("held-streams: each subscriber's pending events beside the requests, responses and sockets of 150 open streams, reached within the visit cap", async (t) => {
  // A small heap: the visit cap is at its floor (5 000), and each stream's req and res are
  // hundreds of Node's objects. Their children are walked later than the application's records.
  const { session } = await openFixture(t, 'held-streams')
  const first = await search(session)
  const PENDING = /^streams \(Map, test\/fixtures\/holders\/held-streams\/main\.js\) → get\(…\) → \.pending \(Array\)$/
  const { last, holder } = await searchUntil(session, first, (h: Holder) => h.growing && PENDING.test(h.path.join(' → ')), { spacingMs: 8000, timeoutMs: 40_000 })
  t.comment(`visits ${last.cost.objectsVisited} of ${last.cost.maxVisits}; ` + last.holders.slice(0, 3).map(describeHolder).join(' | '))
  t.ok(holder?.growing, 'streams → get(…) → .pending named growing')
})
