// Healthy flows and pools (test/fixtures/holders/README.md): collections whose size moves with
// the traffic, by bursts, batches and churn, are never reported as growing (split from
// healthy.test.ts to keep each file well under tap's per-file timeout on a loaded machine).
import t from 'tap'
import { isFlow, isGrowing } from '../../src/holders/growth.js'
import { describeHolder } from '../../src/holders/report.js'
import { nothingGrowing, openFixture, searchSeries } from './lib.js'

t.test('per-tenant sliding windows at steady random traffic: one holder for the siblings, never growing', async (t) => {
  // 120 tenants' request logs of the last 2 s. The walker reports the members that grew most;
  // their sum alone would be growth by selection (it was, in 5 of 8 searches).
  const { session } = await openFixture(t, 'rate-windows')
  const results = await searchSeries(session, 6, 2200)
  nothingGrowing(t, results)
  const last = results[results.length - 1]!
  const windows = last.holders.find((h) => /^windows \(Map, .*\) → get\(…\) → \.recent \(Array\)$/.test(h.path.join(' → ')))
  t.comment(windows !== undefined ? describeHolder(windows) : '(not reported)')
  t.ok(windows !== undefined, 'the per-tenant logs are one holder')
  t.ok((windows?.members ?? 0) > 25, `more members than the walker reports (${windows?.members})`)
})

t.test('compacted-series without pinned samples: replaced by filtered copies keeping nothing old, never growing', async (t) => {
  const { session } = await openFixture(t, 'compacted-series', { PINNED: '0', RATE: '2000' })
  const results = await searchSeries(session, 4, 1500)
  nothingGrowing(t, results)
  // (Whether a copy continues the array measured at its path depends on whether a sample of the
  // old one is still kept, which a stalled event loop decides: only the verdict is asserted.)
  const samples = results[results.length - 1]!.holders.find((h) => /→ \.samples \(Array\)$/.test(h.path.join(' → ')))
  t.comment(samples !== undefined ? describeHolder(samples) : '(not reported)')
})

t.test('a sync queue refilled in batches and drained by its worker: a flow, never growing', async (t) => {
  // `sync.pending` holds product ids (strings) between a batch of 400-600 every 2.5 s and the
  // worker taking 25 every 100 ms: searched at any moment it is anywhere from empty to ~600.
  const { session } = await openFixture(t, 'batch-sync')
  const results = await searchSeries(session, 9, 1100)
  let twoSizes = 0
  let flows = 0
  for (const [i, r] of results.entries()) {
    t.same(r.holders.filter((h) => h.growing).map(describeHolder), [], `search ${i + 1}: nothing growing`)
    const pending = r.holders.find((h) => /^sync \(Object, .*batch-sync\/main\.js\) → \.pending \(Array\)$/.test(h.path.join(' → ')))
    if (pending === undefined) continue
    if (isGrowing(pending.size, pending.previousSize !== null && pending.previousSize >= 0 ? pending.previousSize : null)) twoSizes++
    if (isFlow(pending.turnover)) flows++
    t.comment(`search ${i + 1}: ${describeHolder(pending)}; turnover ${JSON.stringify(pending.turnover)}; earlier ${JSON.stringify(pending.earlierSizes)}`)
  }
  t.comment(`the two sizes alone would have called it growing in ${twoSizes} of ${results.length - 1} comparisons`)
  t.ok(flows > 0, `its string ids were sampled and found gone (a flow) in ${flows} searches`)
})

t.test('big keyed flows: a dictionary of client counters and a Map of 6 000 sessions are probed, never growing', async (t) => {
  // Both far above the 32-member floor; the Map above the 4 096 an Array's probes stop at. Every
  // member present at one search has left by the next (idle 0.8 s, TTL 0.8 s; searches 1.5 s apart).
  for (const c of [
    { fixture: 'client-counters', holder: /^counters \(Object, test\/fixtures\/holders\/client-counters\/main\.js\)$/, kind: 'Object' },
    { fixture: 'session-ttl', holder: /session-ttl\/main\.js.* → \.sessions \(Map\)$/, kind: 'Map' },
  ]) {
    const { session } = await openFixture(t, c.fixture)
    const results = await searchSeries(session, 3, 1500)
    nothingGrowing(t, results, `${c.fixture} `)
    const seen = results[results.length - 1]!.holders.find((h) => c.holder.test(h.path.join(' → ')))
    t.comment(seen !== undefined ? `${describeHolder(seen)}; turnover ${JSON.stringify(seen.turnover)}` : `${c.fixture}: (not reported; reported: ${results[results.length - 1]!.holders.map(describeHolder).join(' | ')})`)
    t.equal(seen?.kind, c.kind)
    t.ok(isFlow(seen?.turnover), `${c.fixture}: its ${seen?.size} members were sampled and found gone: ${JSON.stringify(seen?.turnover)}`)
  }
})

t.test("a pool's free list of chunks cut from slabs: its count swings with the traffic, its memory does not; never growing", async (t) => {
  // Bursts of 400 frames/s and quiet spells of 20/s, 2.5 s each; a chunk comes back 0.3-1.2 s
  // after it was taken. The free list holds ~200 chunks in a burst and up to ~500 after it. The
  // quiet spells fade from 260 frames/s to 20/s over 45 s, so each leaves more chunks free than
  // the last: its count reaches new highs (growth.ts atNewHigh), where a count alone would pass
  // for growth. (At a steady 20/s the highs all sit near 500 and the first search often caught the
  // highest: then the stores were never needed.)
  const { session } = await openFixture(t, 'frame-pool', { QUIET_FROM: '260', FADE_MS: '45000' })
  const results = await searchSeries(session, 20, 1000)
  nothingGrowing(t, results)
  let rose = 0
  for (const [i, r] of results.entries()) {
    const free = r.holders.find((h) => /^framePool \(FramePool, .*frame-pool\/main\.js\) → \.free \(BufferArray\)$/.test(h.path.join(' → ')))
    if (free === undefined) continue
    t.comment(`search ${i + 1}: ${describeHolder(free)}; backing ${JSON.stringify(free.backing)}`)
    // First seen (not reported at the search before, as when it was short in a burst): no stores known yet.
    if (i === 0 || free.previousSize === null) continue
    t.ok(free.backing !== undefined && free.backing.storeBytes <= 32 * 65536, `search ${i + 1}: its members view some of the 32 slabs`)
    if (free.previousSize !== null && free.size - free.previousSize >= 32 && isGrowing(free.size, free.previousSize, free.turnover, free.earlierSizes ?? [], free.floors)) rose++
  }
  // Without the stores it would have been called growing: the rule was exercised.
  t.ok(rose > 0, `its count alone would have been called growing in ${rose} searches`)
})

t.test("the same pool first searched in a burst: the slabs its free list views later were held by the pool's slabs array all along; never growing", async (t) => {
  // Ready 1.5 s into the first burst: the first search finds the free list short, ~200 chunks on
  // some of the 32 slabs, and the next ones find it on slabs it never viewed. The pool's own
  // Array of its slabs held them at every search (growth.ts viewsOntoSameStores).
  const { session } = await openFixture(t, 'frame-pool', { QUIET_FROM: '260', FADE_MS: '45000', READY_AFTER_MS: '1500' })
  const results = await searchSeries(session, 8, 1000)
  nothingGrowing(t, results)
  let held = 0
  for (const [i, r] of results.entries()) {
    const free = r.holders.find((h) => /^framePool \(FramePool, .*frame-pool\/main\.js\) → \.free \(BufferArray\)$/.test(h.path.join(' → ')))
    if (free === undefined) continue
    t.comment(`search ${i + 1}: ${describeHolder(free)}; backing ${JSON.stringify(free.backing)}`)
    if ((free.backing?.heldElsewhereBytes ?? 0) > 0) held++
  }
  // It viewed slabs for the first time after the first search: the rule was exercised.
  t.ok(held > 0, `stores held by the slabs array counted at ${held} searches`)
})
