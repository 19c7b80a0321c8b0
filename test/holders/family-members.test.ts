// Arrays held one per member of a Map that keeps gaining members (deliveries never removed, each
// with its pings): the family's members are new at each search (and, past 64, sampled), so none
// grows between two searches; the family grows by its parent's new members.
import t from 'tap'
import type { Holder } from '../../src/holders/types.js'
import { describeHolder } from '../../src/holders/report.js'
import { nothingGrowing, openFixture, search, searchSeries, searchUntil } from './lib.js'

const PINGS = /^deliveries \(Map, test\/fixtures\/holders\/delivery-pings\/main\.js\) → get\(…\) → \.pings \(Array\)$/

t.test('delivery-pings: the pings of deliveries a Map never lets go, named growing as a family once the Map is sampled', async (t) => {
  // ~3.3 deliveries of 30 pings each kept a second; searches 12 s apart (the Map gains ~40 members
  // between two: what counts as growing for a Map of light members).
  const { session } = await openFixture(t, 'delivery-pings')
  const first = await search(session)
  let parentSize = 0
  const { last } = await searchUntil(
    session,
    first,
    (h: Holder) => {
      if (h.path.length === 1 && h.path[0]!.startsWith('deliveries (Map')) parentSize = h.size
      return h.growing && PINGS.test(h.path.join(' → ')) && parentSize > 64
    },
    { spacingMs: 12000, timeoutMs: 90_000 },
  )
  t.comment(last.holders.slice(0, 4).map(describeHolder).join(' | '))
  const pings = last.holders.find((h) => PINGS.test(h.path.join(' → ')))
  t.ok(pings?.growing, 'deliveries → get(…) → .pings named growing')
  t.ok(parentSize > 64, `with the Map sampled (${parentSize} members)`)
  t.match(pings?.elementShape.join(' | '), /\{lat, lng, at, speed\}/, 'the pings\' shape')
  t.ok(pings !== undefined && pings.size >= parentSize * 10, `its size estimated over all the Map's members (${pings?.size} pings in ${parentSize} deliveries)`)
  const parentAt = last.holders.findIndex((h) => h.path.length === 1 && h.path[0]!.startsWith('deliveries (Map'))
  t.equal(last.holders.findIndex((h) => PINGS.test(h.path.join(' → '))), parentAt + 1, 'ranked right after the Map whose growth it is')
})

t.test('delivery-pings SETTLE=1: pings copied into the delivery on completion, beside bigger fixed collections: the family is still reported and named', async (t) => {
  // No delivery's pings array grows once it has one, and forty zone polygons of 200 points are
  // bigger than any: the walker reports a family whose parent gained members anyway.
  const { session } = await openFixture(t, 'delivery-pings', { SETTLE: '1' })
  const first = await search(session)
  const { last, holder } = await searchUntil(session, first, (h: Holder) => h.growing && PINGS.test(h.path.join(' → ')), { spacingMs: 12000, timeoutMs: 50_000 })
  t.comment(last.holders.slice(0, 4).map(describeHolder).join(' | '))
  t.ok(holder?.growing, 'deliveries → get(…) → .pings named growing')
  t.ok(holder?.byParent !== undefined && holder.byParent.elementsPerMember > 10, `by its parent's new members: ${JSON.stringify(holder?.byParent)}`)
})

t.test('delivery-pings LEAK=0: every delivery removed on completion, nothing growing', async (t) => {
  const { session } = await openFixture(t, 'delivery-pings', { LEAK: '0' })
  nothingGrowing(t, await searchSeries(session, 4, 6000))
})
