// Collections held one per member of a Map, each under the size a collection is reported at
// (minSize, 16): measured as members of their family, however small.
import t from 'tap'
import type { Holder } from '../../src/holders/types.js'
import { describeHolder } from '../../src/holders/report.js'
import { nothingGrowing, openFixture, search, searchSeries, searchUntil } from './lib.js'

const PINGS = /^deliveries \(Map, test\/fixtures\/holders\/delivery-pings\/main\.js\) → get\(…\) → \.pings \(Array\)$/

t.test('delivery-pings RIDE=6: six pings a delivery, under the size a collection is reported at, still named as a family', async (t) => {
  // Each delivery's pings are fewer than minSize (16): measured only as members of their family.
  const { session } = await openFixture(t, 'delivery-pings', { RIDE: '6' })
  const first = await search(session)
  const { last, holder } = await searchUntil(session, first, (h: Holder) => h.growing && PINGS.test(h.path.join(' → ')), { spacingMs: 12000, timeoutMs: 50_000 })
  t.comment(last.holders.slice(0, 4).map(describeHolder).join(' | '))
  t.ok(holder?.growing, 'deliveries → get(…) → .pings named growing')
  t.ok(holder !== undefined && holder.size > 6 * 64, `its size over all the Map's members: ${holder?.size}`)
})

t.test('delivery-pings RIDE=6 LEAK=0: the same small arrays of deliveries removed on completion, nothing growing', async (t) => {
  const { session } = await openFixture(t, 'delivery-pings', { RIDE: '6', LEAK: '0' })
  nothingGrowing(t, await searchSeries(session, 4, 6000))
})
