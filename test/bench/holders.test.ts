// How the detection benchmark judges the holder search against a manifest's truth.
import t from 'tap'
import { HolderWatch, matchesTruth, type HoldersApiView } from '../../bench/real/holders.js'
import type { Holder } from '../../src/holders/types.js'

const truth = { variable: 'registry.tenants.samples', script: 'metrics-registry.mjs', kind: 'Array' }

function holder(path: string[], kind: Holder['kind'], growing: boolean, site: string | null = null): HoldersApiView['holders'][number] {
  return {
    id: 1,
    path,
    pathComplete: true,
    kind,
    size: 100,
    previousSize: growing ? 50 : 100,
    growing,
    intervalSeconds: 60,
    growthPerSecond: growing ? 1 : 0,
    elementShape: ['{name, value}'],
    keyShape: [],
    retainedBytes: 1000,
    retainedBytesMethod: 'test',
    measuredBy: 'walk',
    rootFile: null,
    label: path.join(' → '),
    allocationSite: site === null ? null : { label: site },
  }
}

t.test('a path names every segment of the variable', async (t) => {
  t.ok(matchesTruth(holder(['registry (MetricsRegistry, m.mjs)', '.tenants', 'get(…)', '.samples (Array)'], 'Array', true), truth))
  t.notOk(matchesTruth(holder(['registry (MetricsRegistry, m.mjs)', '.tenants (Map)'], 'Map', true), truth), 'samples missing')
  t.notOk(matchesTruth(holder(['tenantsamples (Array, m.mjs)'], 'Array', true), truth), 'tokens, not substrings')
})

t.test('leaked timers: the Timers holder is the match', async (t) => {
  const timers = { variable: 'state', script: 'poller.cjs', kind: 'timers' }
  t.ok(matchesTruth(holder(['timers', 'setInterval(300000 ms) (Timers)'], 'Timers', true), timers))
  t.notOk(matchesTruth(holder(['state (Object, poller.cjs)'], 'Object', true), timers))
})

t.test('the first growing match is recorded with its rank and allocation site; others are false holders', async (t) => {
  const watch = new HolderWatch(truth, 'record')
  const view = (searchedAt: string, holders: HoldersApiView['holders']): HoldersApiView => ({
    searchedAt,
    holders,
    cost: { longestSliceMs: 3, targetCpuMs: 40, wallMs: 100 },
    searches: { done: 1, refused: 0, failed: 0 },
    refusal: null,
  })
  const other = holder(['cache (Map, app.mjs)'], 'Map', true)
  const right = holder(['registry (MetricsRegistry, m.mjs)', '.tenants', 'get(…)', '.samples (Array)'], 'Array', true, 'record (m.mjs:21)')
  watch.observe(view('a', [other, right]), { simS: 100, wallMs: 1000 }, { simS: 700, wallMs: 11_000 }, true)
  const result = watch.result()
  t.equal(result.found?.rank, 2)
  t.equal(result.found?.allocationSite, 'record (m.mjs:21)')
  t.equal(result.found?.siteIsAllocatingFunction, true)
  t.equal(result.foundAfterRaiseSimS, 600)
  t.same(result.otherGrowing, ['cache (Map, app.mjs)'])
  t.same(result.followedTraffic, [], 'no flow judged by the traffic')
  watch.observe({ ...view('b', []), searches: { done: 1, refused: 1, failed: 0 }, refusal: { reason: 'headroom', requiredBytes: 64 * 1048576, headroomBytes: 10 * 1048576 } }, null, { simS: 800, wallMs: 12_000 }, true)
  t.same(watch.result().refusals, ['headroom: needs 64 MiB, 10 MiB left'], 'why a search was refused is kept')
})

t.test('a healthy filler: growth measured from a search made while it filled is not growth after the fill', async (t) => {
  const watch = new HolderWatch(null)
  const view = (searchedAt: string, intervalSeconds: number): HoldersApiView => ({
    searchedAt,
    holders: [{ ...holder(['profiles (LruCache, app.mjs)', '.entries (Map)'], 'Map', true), intervalSeconds }],
    cost: { longestSliceMs: 3, targetCpuMs: 40, wallMs: 100 },
    searches: { done: 2, refused: 0, failed: 0 },
    refusal: null,
  })
  // Plateau at 3 600 simulated s, 60× compression: the search at 4 200 s measured over the last 40 target seconds (2 400 simulated), from 1 800 s.
  const since = { sinceSimS: 3600, scale: 60 }
  watch.observe(view('a', 40), null, { simS: 4200, wallMs: 70_000 }, since)
  t.same(watch.result().otherGrowing, [], 'its interval began during the fill')
  watch.observe(view('b', 5), null, { simS: 4500, wallMs: 75_000 }, since)
  t.same(watch.result().otherGrowing, ['profiles (LruCache, app.mjs) → .entries (Map)'], 'grown over an interval after the plateau: a false holder')
})

t.test('flows the traffic explained are recorded, growing or not', async (t) => {
  const watch = new HolderWatch(truth)
  const queue = { ...holder(['queue (Array, app.mjs)'], 'Array', false), followsTraffic: true as const }
  watch.observe(
    { searchedAt: 'a', holders: [queue], cost: null, searches: { done: 2, refused: 0, failed: 0 }, refusal: null },
    null,
    { simS: 700, wallMs: 11_000 },
    false,
  )
  t.same(watch.result().followedTraffic, ['queue (Array, app.mjs)'], 'recorded even from a search not judged')
  t.same(watch.result().otherGrowing, [], 'and not a false holder')
  t.equal(watch.result().judgedSearches, 0, 'no search judged: its holders were not judged at all')
  watch.observe({ searchedAt: 'b', holders: [queue], cost: null, searches: { done: 3, refused: 0, failed: 0 }, refusal: null }, null, { simS: 900, wallMs: 13_000 }, true)
  t.equal(watch.result().judgedSearches, 1, 'one judged')
})
