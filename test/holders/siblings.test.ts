import t from 'tap'
import { isGrowing } from '../../src/holders/growth.js'
import { reportedHolders } from '../../src/holders/report.js'
import { groupSiblings } from '../../src/holders/siblings.js'
import type { Holder } from '../../src/holders/types.js'

/** A per-key collection under `registry → .tenants → get(key) → .samples`. */
function member(id: number, key: string, size: number, previousSize: number | null, overrides: Partial<Holder> = {}): Holder {
  const grew = previousSize === null ? null : (size - previousSize) / 60
  return {
    id,
    path: ['registry (MetricsRegistry, metrics-registry.mjs)', '.tenants', `get('${key}')`, '.samples (Array)'],
    pathComplete: true,
    kind: 'Array',
    size,
    previousSize,
    growing: isGrowing(size, previousSize),
    intervalSeconds: previousSize === null ? 0 : 60,
    growthPerSecond: grew,
    elementShape: ['{name, value, at, tags}'],
    keyShape: [],
    retainedBytes: size * 160,
    retainedBytesMethod: 'test',
    measuredBy: 'walk',
    rootFile: '/app/metrics-registry.mjs',
    ...overrides,
  }
}

t.test('a leak spread over per-key siblings is one growing holder: each alone grows too little', async (t) => {
  // 20 tenants, each +30 samples in a minute on 500: under the 32-element floor alone.
  const tenants = Array.from({ length: 20 }, (_, i) => member(i + 1, `tenant-${i}`, 530, 500))
  t.equal(tenants.filter((h) => h.growing).length, 0, 'no sibling grows enough on its own')
  const other = { ...member(99, 'x', 50, 50), path: ['cache (Map, app.js)'], kind: 'Map' as const }
  const holders = reportedHolders([...tenants, other])
  t.equal(holders.length, 2)
  const [group] = holders
  t.same(group?.path, ['registry (MetricsRegistry, metrics-registry.mjs)', '.tenants', 'get(…)', '.samples (Array)'])
  t.equal(group?.members, 20)
  t.equal(group?.size, 20 * 530)
  t.equal(group?.previousSize, 20 * 500)
  t.equal(group?.growing, true, '600 more samples on 10 000 is growing')
  t.ok(Math.abs((group?.growthPerSecond ?? 0) - (20 * 30) / 60) < 1e-9)
  t.equal(group?.retainedBytes, 20 * 530 * 160)
  t.ok((group?.id ?? 0) < 0, 'a group id never meets a collection id')
  // The same group in the next search keeps its id (labels keep their hysteresis).
  const again = reportedHolders(Array.from({ length: 21 }, (_, i) => member(i + 100, `tenant-${i}`, 560, 530)))
  t.equal(again[0]?.id, group?.id)
})

t.test('one member carrying the growth stays on its own, named by its key', async (t) => {
  const queues = [member(1, 'a', 10, 10), member(2, 'b', 900, 300), member(3, 'c', 12, 11)]
  const holders = groupSiblings(queues, isGrowing)
  t.equal(holders.length, 3, 'nothing merged')
  t.ok(holders.some((h) => h.path.includes("get('b')")))
})

t.test('siblings first seen now: growth counts only members measured before', async (t) => {
  // Per-connection buffers: two old connections left, two new ones came, same total size.
  const holders = groupSiblings([member(1, 'c1', 100, 100), member(2, 'c2', 100, 100), member(3, 'c3', 100, null), member(4, 'c4', 100, null)], isGrowing)
  t.equal(holders.length, 1)
  t.equal(holders[0]?.size, 400)
  t.equal(holders[0]?.previousSize, 400, 'the newcomers are not growth')
  t.equal(holders[0]?.growing, false)
  t.equal(holders[0]?.growthPerSecond, 0)
})

t.test('what is not grouped: fixed fields, different kinds or shapes, incomplete paths, a single member', async (t) => {
  const fields = [
    { ...member(1, 'x', 100, 50), path: ['config (Object, app.js)', '.cacheA (Array)'] },
    { ...member(2, 'x', 100, 50), path: ['config (Object, app.js)', '.cacheB (Array)'] },
  ]
  t.equal(groupSiblings(fields, isGrowing).length, 2, 'named fields are not keys')
  const shapes = [member(1, 'a', 100, 90), member(2, 'b', 100, 90, { elementShape: ['Buffer(64)'] })]
  t.equal(groupSiblings(shapes, isGrowing).length, 2, 'different element shapes')
  const kinds = [member(1, 'a', 100, 90), member(2, 'b', 100, 90, { kind: 'Set' })]
  t.equal(groupSiblings(kinds, isGrowing).length, 2, 'different kinds')
  const incomplete = [member(1, 'a', 100, 90, { pathComplete: false }), member(2, 'b', 100, 90, { pathComplete: false })]
  t.equal(groupSiblings(incomplete, isGrowing).length, 2, 'incomplete paths')
  const single = groupSiblings([member(1, 'a', 100, 90)], isGrowing)
  t.equal(single[0]?.members, undefined)
  t.equal(single[0]?.id, 1)
  const indexed = [
    { ...member(1, 'x', 100, 95), path: ['shards (Array, app.js)', '[0]', '.log (Array)'] },
    { ...member(2, 'x', 100, 95), path: ['shards (Array, app.js)', '[1]', '.log (Array)'] },
  ]
  const merged = groupSiblings(indexed, isGrowing)
  t.same(merged[0]?.path, ['shards (Array, app.js)', '[…]', '.log (Array)'], 'array indexes are keys too')
})

t.test('reported siblings chosen for their growth: the family of all members decides', async (t) => {
  // 120 churning logs; the walker reported the 25 that happened to grow most (+6 each in a
  // minute, 150 together: over the churn bound of 25 members, 4·√(2·250) ≈ 89). Over the whole
  // family (1 200 elements, all measured before) the net change was +10.
  const family = { id: 3, members: 120, size: 1210, knownSize: 1210, knownPreviousSize: 1200, growthPerSecond: 10 / 60, intervalSeconds: 60 }
  const reported = Array.from({ length: 25 }, (_, i) => member(i + 1, `tenant-${i}`, 16, 10, { family }))
  t.equal(groupSiblings(reported.map(({ family: _, ...h }) => h), isGrowing)[0]?.growing, true, 'the reported ones alone look growing')
  const [group] = groupSiblings(reported, isGrowing)
  t.equal(group?.members, 120)
  t.equal(group?.size, 1210)
  t.equal(group?.previousSize, 1200)
  t.equal(group?.growing, false, 'the family did not grow')
  t.ok(Math.abs((group?.growthPerSecond ?? 0) - 10 / 60) < 1e-9)
  t.equal(group?.retainedBytes, 1210 * 160, "the reported members' bytes per element × the family's elements")
  t.match(group?.retainedBytesMethod, /mean of 25 reported sibling collections × the elements of all 120/)

  // A leak spread over the family is still growing. A member the walk did not reach (measured
  // through a WeakRef: in no family) is left out: it may be an array replaced by a copy that the
  // walk measured at its path (compaction by filter).
  const leaking = { ...family, size: 1800, knownSize: 1800, growthPerSecond: 600 / 60 }
  const tracked = member(200, 'tenant-x', 40, 20, { measuredBy: 'tracked' })
  const [grown] = groupSiblings([...reported.map((h) => ({ ...h, family: leaking })), tracked], isGrowing)
  t.equal(grown?.growing, true)
  t.equal(grown?.members, 120)
  t.equal(grown?.size, 1800)
  t.equal(grown?.previousSize, 1200)
})

t.test('a family split over element shapes: each group grows only if the family did', async (t) => {
  const family = { id: 5, members: 40, size: 4000, knownSize: 4000, knownPreviousSize: 4000, growthPerSecond: 0, intervalSeconds: 60 }
  const a = [member(1, 'a', 700, 500, { family }), member(2, 'b', 700, 500, { family }), member(3, 'c', 700, 500, { family })]
  const b = [member(4, 'd', 100, 100, { family, elementShape: ['Buffer(64)'] }), member(5, 'e', 100, 100, { family, elementShape: ['Buffer(64)'] })]
  const groups = groupSiblings([...a, ...b], isGrowing)
  t.equal(groups.length, 2)
  t.equal(groups[0]?.size, 2100, "the group's own numbers: the family is not its alone")
  t.equal(groups[0]?.growing, false, 'its members grew, the family did not')
  const grew = { ...family, size: 4400, knownSize: 4400 }
  t.equal(groupSiblings([...a, ...b].map((h) => ({ ...h, family: grew })), isGrowing)[0]?.growing, true)
})

t.test('siblings emptied between searches: the family grows only in its floor', async (t) => {
  // Six per-node hit buffers, each cleared at its node's sync (round robin) and refilled with the
  // same clients: between two searches every one of them was near empty at some poll, and their
  // sum at the searches moved by chance (+700 here).
  const family = { id: 5, members: 6, size: 2500, knownSize: 2500, knownPreviousSize: 1800, growthPerSecond: 700 / 60, intervalSeconds: 60 }
  const buffers = Array.from({ length: 6 }, (_, i) => member(i + 1, `gw-${i}`, 400 + 10 * i, 300, { family }))
  t.equal(groupSiblings(buffers, isGrowing)[0]?.growing, true, 'on two sums alone: growing')
  const sampled = { ...family, knownLow: 60, knownPreviousLow: 50 }
  const [group] = groupSiblings(buffers.map((h) => ({ ...h, family: sampled })), isGrowing)
  t.equal(group?.growing, false, 'their floors summed did not grow')
  t.same(group?.floors, { low: 60, previousLow: 50 })
  // A leak across the members that never empties them: the floors follow the sizes.
  const leaking = { ...family, knownLow: 1800, knownPreviousLow: 1100 }
  t.equal(groupSiblings(buffers.map((h) => ({ ...h, family: leaking })), isGrowing)[0]?.growing, true, 'never below their previous sum: growing')
  // Without a family (an older walker): the members' own floors are summed.
  const own = buffers.map(({ family: _, ...h }) => ({ ...h, floors: { low: 10, previousLow: 8 } }))
  const [merged] = groupSiblings(own, isGrowing)
  t.equal(merged?.growing, false)
  t.same(merged?.floors, { low: 60, previousLow: 48 })
})

t.test("a family grown by its parent's new members: judged on the parent, estimated over all of it", async (t) => {
  // `registry → .tenants (Map) → get(…) → .samples`: the Map holds 640 tenants, gained 160 since
  // the last search; the walk visited 64 of them, and 40 of those hold a measured samples array
  // (1 200 samples, none grown since they were measured).
  const parentOf = (growing: boolean, size = 640, previousSize = 480): Holder => ({
    ...member(500, 'x', size, previousSize),
    path: ['registry (MetricsRegistry, metrics-registry.mjs)', '.tenants (Map)'],
    kind: 'Map',
    growing,
    elementShape: ['Tenant {id, samples}'],
  })
  const family = { id: 4, members: 40, size: 1200, knownSize: 600, knownPreviousSize: 600, growthPerSecond: 0, intervalSeconds: 60, parent: { id: 500, visited: 64 } }
  const arrays = Array.from({ length: 4 }, (_, i) => member(i + 1, `tenant-${i}`, 30, i < 2 ? 30 : null, { family }))
  const [alone] = groupSiblings(arrays, isGrowing)
  t.equal(alone?.growing, false, 'without the parent: its measured members did not grow')

  const holders = groupSiblings([...arrays, parentOf(true)], isGrowing)
  const group = holders.find((h) => h.path.includes('get(…)'))
  t.equal(group?.growing, true, 'the parent gained 160 members of ~19 samples each')
  t.same(group?.byParent, { parentId: 500, gained: 160, elementsPerMember: 1200 / 64 })
  t.equal(group?.size, Math.round((1200 / 64) * 640), 'size: elements per visited member × all members')
  t.equal(group?.previousSize, Math.round((1200 / 64) * 480))
  t.ok(Math.abs((group?.growthPerSecond ?? 0) - (160 / 60) * (1200 / 64)) < 1e-9)
  t.equal(group?.members, 400, '40 of 64 visited members hold one: ~400 of 640')
  t.equal(group?.floors, undefined, "the visited members' floors are not of the estimated sizes")
  t.match(group?.retainedBytesMethod, /scaled to the ~12000 elements of all 640 members of its parent/)

  const ranked = reportedHolders([{ ...member(600, 'y', 9000, 5000), path: ['log (Array, app.js)'] }, ...arrays, parentOf(true)])
  t.same(
    ranked.map((h) => h.path[h.path.length - 1]),
    ['log (Array, app.js)', '.tenants (Map)', '.samples (Array)'],
    'ranked right after its parent, however many more elements it grew by',
  )
  // One member still filling carries all the members' growth: with the parent growing, that is
  // a new member, not the story on its own.
  const filling = [member(1, 'tenant-0', 30, 30, { family }), member(2, 'tenant-1', 30, 30, { family }), member(3, 'tenant-2', 28, 10, { family })]
  t.equal(groupSiblings(filling, isGrowing).length, 3, 'without a growing parent: left apart (one carries the growth)')
  t.equal(groupSiblings([...filling, parentOf(true)], isGrowing).find((h) => h.path.includes('get(…)'))?.growing, true, 'with it: merged, grown by the parent')
  t.equal(groupSiblings([...arrays, parentOf(false)], isGrowing).find((h) => h.path.includes('get(…)'))?.growing, false, 'a parent not growing: not growing')
  // Members that hold next to nothing: 160 new ones bring 160 × 0.1 elements, under 32.
  const sparse = { ...family, size: 6, knownSize: 6, knownPreviousSize: 6 }
  const few = groupSiblings([...arrays.map((h) => ({ ...h, family: sparse })), parentOf(true)], isGrowing)
  t.equal(few.find((h) => h.path.includes('get(…)'))?.growing, false, 'what the new members brought is under 32 elements')
})
