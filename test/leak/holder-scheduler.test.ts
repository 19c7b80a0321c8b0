// When holder searches run: on a raised leak, a second one for growth, doubling gaps, the shared
// budget, requests, restarts, and the bounded, hysteretic holder label. The search itself is the
// real one in test/leak/holders-pipeline.test.ts; here it is replaced to test the schedule alone.
import t from 'tap'
import { describeHolder, type Holder, type HolderSearchDone, type HolderSearchResult } from '../../src/holders/index.js'
import type { TargetSession } from '../../src/inspector/session.js'
import { HolderScheduler, holderLabel, searchCostMs, type HolderSearch } from '../../src/leak/holder-scheduler.js'

const session = {} as TargetSession
const CONFIG = { mode: 'on-verdict' as const, intervalMs: 1_000, maxIntervalMs: 8_000, topHolders: 2, minGrowthBytesPerSecond: 0 }

function holder(id: number, size: number, growing: boolean, path = [`v${id} (Array, a.js)`]): Holder {
  return {
    id,
    path,
    pathComplete: path.length > 0,
    kind: 'Array',
    size,
    previousSize: growing ? size - 100 : size,
    growing,
    intervalSeconds: 1,
    growthPerSecond: growing ? 100 : 0,
    elementShape: ['{a, b}'],
    keyShape: [],
    retainedBytes: size * 100,
    retainedBytesMethod: 'test',
    measuredBy: 'walk',
    rootFile: null,
  }
}

function done(holders: Holder[], first: boolean, at: number, cpuMs = 50): HolderSearchDone {
  return {
    status: 'done',
    at,
    installId: 'i',
    firstSearch: first,
    holders,
    collections: holders,
    cost: {
      wallMs: 100,
      longestSliceMs: 9,
      longestStepMs: 1,
      longestCallMs: 12,
      scriptListMs: null,
      targetCpuMs: cpuMs,
      slices: 4,
      calls: 10,
      objectsVisited: 100,
      maxVisits: 5000,
      pathNodes: 100,
      functionsOpened: 3,
      privateFieldObjectsOpened: 0,
      closureChainLinks: 0,
      functionsNotOpened: 0,
      sampledCollections: 0,
      trackedRemeasured: 0,
      proxiesSkipped: 0,
      hugeDictionariesSkipped: 0,
    },
    heapUsedBytes: 1e6,
    truncated: false,
    truncation: [],
    scripts: {},
    scriptsListedUpTo: null,
  }
}

class Harness {
  clock = 1_000_000
  calls: Array<{ at: number; previous: boolean; headroom: number | undefined }> = []
  charged: Array<{ at: number; cost: number }> = []
  freeAt = Number.NEGATIVE_INFINITY
  results: HolderSearchResult[] = []
  readonly scheduler: HolderScheduler
  constructor(config = CONFIG) {
    const search: HolderSearch = async (_session, options, previous) => {
      this.calls.push({ at: this.clock, previous: previous !== undefined, headroom: options?.headroomBytes })
      const next = this.results.shift()
      if (next === undefined) throw new Error('no result left')
      return next
    }
    this.scheduler = new HolderScheduler(
      config,
      { charge: (at, cost) => this.charged.push({ at, cost }), budgetFreeAtMs: () => this.freeAt },
      search,
      () => this.clock,
    )
  }
  requestsPerSecond = Number.NaN
  async tick(leakRaised: boolean, advanceMs = 0, growthSeen = false): Promise<void> {
    this.clock += advanceMs
    this.scheduler.tick(session, this.clock, { leakRaised, growthSeen, headroomBytes: 200e6, requestsPerSecond: () => this.requestsPerSecond })
    await this.scheduler.idle()
  }
}

t.test('no search without a raised leak or a request', async (t) => {
  const h = new Harness()
  await h.tick(false)
  await h.tick(false, 60_000)
  t.equal(h.calls.length, 0)
})

t.test('growth seen before the raise: measuring searches, so that the growing holder is known without a raise', async (t) => {
  const h = new Harness() // intervalMs 1 s, maxIntervalMs 8 s
  h.results.push(
    done([holder(1, 1000, false)], true, h.clock),
    done([holder(1, 1400, true)], false, h.clock),
    done([holder(1, 1500, true)], false, h.clock),
    done([holder(1, 1500, false)], false, h.clock),
  )
  t.equal(h.scheduler.due(h.clock, false, undefined, true), true, 'growth seen: a search is due')
  await h.tick(false, 0, true)
  t.equal(h.calls.length, 1, 'the measuring search ran without a raised leak')
  await h.tick(false, 500, true)
  t.equal(h.calls.length, 1, 'not before the interval')
  t.equal(h.scheduler.due(h.clock + 500, false, h.clock, true), true, 'the second measuring search is due an interval after the first')
  await h.tick(false, 500, true)
  t.equal(h.calls.length, 2, 'a second measuring search an interval after the first: growth known, even if it stops before a raise')
  t.equal(h.scheduler.view().firstSearch, false, 'growth is known without a raise')
  t.same(
    h.scheduler.exported().map((x) => x.id),
    [1],
    'and the growing holder is exported',
  )
  for (let i = 0; i < 7; i++) await h.tick(false, 1_000, true)
  t.equal(h.calls.length, 2, 'then one per maxInterval while the growth is only seen')
  await h.tick(true, 1_000)
  t.equal(h.calls.length, 3, 'the raise searches at once')
  t.equal(h.calls[2]?.previous, true, 'and compares with the measuring search')
  await h.tick(false, 1_000, false)
  await h.tick(false, 8_000, true)
  t.equal(h.calls.length, 4, 'after maxInterval, growth seen again measures again')
})

t.test('growth no longer seen after the first measuring search: no second one', async (t) => {
  const h = new Harness()
  h.results.push(done([holder(1, 1000, false)], true, h.clock))
  await h.tick(false, 0, true)
  for (let i = 0; i < 20; i++) await h.tick(false, 1_000, false)
  t.equal(h.calls.length, 1, 'a measuring search only while growth is seen')
})

t.test('a raised leak: a first search at once, the second after the interval, then gaps doubling to the maximum', async (t) => {
  const h = new Harness()
  h.results.push(done([holder(1, 1000, false)], true, h.clock), ...Array.from({ length: 8 }, () => done([holder(1, 1100, true)], false, h.clock)))
  await h.tick(true)
  t.equal(h.calls.length, 1, 'first search at the first poll with the leak raised')
  t.equal(h.calls[0]?.headroom, 200e6, 'the headroom is passed to the search')
  await h.tick(true, 500)
  t.equal(h.calls.length, 1, 'not before the interval')
  await h.tick(true, 500)
  t.equal(h.calls.length, 2, 'the second search, for growth, after the interval')
  t.equal(h.calls[1]?.previous, true, 'it compares with the first')
  const gaps: number[] = []
  let last = h.clock
  for (let i = 0; i < 120 && h.calls.length < 7; i++) {
    const before = h.calls.length
    await h.tick(true, 250)
    if (h.calls.length > before) {
      gaps.push(h.clock - last)
      last = h.clock
    }
  }
  t.same(gaps, [1_000, 2_000, 4_000, 8_000, 8_000], 'the gap doubles after each search, up to maxInterval')
  t.equal(h.charged.length, h.calls.length, 'every search is charged to the budget')
  t.equal(h.charged[0]?.cost, searchCostMs(done([], true, 0).cost), 'the larger of target CPU and slices')
})

t.test('the shared budget holds a search back; a cleared leak starts over with a short gap', async (t) => {
  const h = new Harness()
  h.results.push(done([], true, 0), done([], false, 0), done([], true, 0))
  h.freeAt = h.clock + 5_000
  await h.tick(true)
  t.equal(h.calls.length, 0, 'the budget has not paid for the last paid step yet')
  await h.tick(true, 5_000)
  t.equal(h.calls.length, 1)
  await h.tick(true, 1_000)
  t.equal(h.calls.length, 2)
  await h.tick(false, 100)
  await h.tick(true, 100)
  t.equal(h.calls.length, 3, 'a new leak searches at once again')
})

t.test('a request searches without a leak, twice (for growth), then stops', async (t) => {
  const h = new Harness()
  h.results.push(done([], true, 0), done([], false, 0))
  t.equal(h.scheduler.request(), 'scheduled')
  await h.tick(false)
  t.equal(h.calls.length, 1)
  t.equal(h.scheduler.view().requested, true, 'growth not known yet')
  await h.tick(false, 1_000)
  t.equal(h.calls.length, 2)
  t.equal(h.scheduler.view().requested, false)
  await h.tick(false, 10_000)
  t.equal(h.calls.length, 2, 'no more without a leak')
  const off = new HolderScheduler({ ...CONFIG, mode: 'off' }, { charge: () => undefined, budgetFreeAtMs: () => 0 })
  t.equal(off.request(), 'off')
  t.same(off.samples(), [], 'off exports nothing')
})

t.test('refusals and failures are counted and retried with the doubling gap; a restart drops what was found', async (t) => {
  const h = new Harness()
  h.results.push({ status: 'refused', code: 'LW_ERR_HOLDER_SEARCH_REFUSED', reason: 'headroom', message: 'not enough headroom', requiredBytes: 64e6, headroomBytes: 1e6 })
  await h.tick(true)
  t.match(h.scheduler.view(), { searches: { done: 0, refused: 1, failed: 0 }, refusal: { reason: 'headroom', requiredBytes: 64e6 } })
  await h.tick(true, 1_000)
  t.equal(h.calls.length, 2, 'retried; this one throws')
  t.match(h.scheduler.view(), { searches: { refused: 1, failed: 1 }, lastError: /no result left/ })
  h.results.push(done([holder(1, 500, true)], false, 0))
  await h.tick(true, 1_000)
  t.equal(h.calls.length, 2, 'failures back off too: the gap doubled')
  await h.tick(true, 1_000)
  t.equal(h.scheduler.view().holders.length, 1)
  h.scheduler.reset()
  t.same(h.scheduler.view().holders, [], 'a new process: nothing from the old one')
  t.equal(h.scheduler.view().firstSearch, true)
})

t.test('the holder label: top-K growing, with hysteresis, bounded', async (t) => {
  const h = new Harness()
  const a = holder(1, 900, true)
  const b = holder(2, 800, true)
  const c = holder(3, 700, true)
  h.results.push(done([a, b, c, holder(4, 50, false)], false, 0))
  await h.tick(true)
  t.same(h.scheduler.exported().map((x) => x.id), [1, 2], 'the top 2 growing')
  // c now ranks first; b stays (within 2·K and growing), a stopped growing.
  h.results.push(done([c, b, { ...a, growing: false }], false, 0))
  await h.tick(true, 1_000)
  t.same(h.scheduler.exported().map((x) => x.id), [2, 3])
  const samples = h.scheduler.samples()
  t.ok(samples.some((s) => s.key === 'holderSize' && s.labels?.['holder'] === 'v2 (Array, a.js)' && s.labels?.['kind'] === 'Array'))
  t.ok(samples.some((s) => s.key === 'holderSearches' && s.labels?.['outcome'] === 'done' && 'value' in s && s.value === 2))
  t.equal(holderLabel(holder(5, 1, true, ['x'.repeat(500)])).length, 200)
  t.equal(holderLabel(holder(6, 1, true, [])), '(no path) Array of {a, b}')
})

t.test('a due search goes before the profile read, and the two take turns', async (t) => {
  const h = new Harness()
  h.results.push(done([holder(1, 1000, false)], true, h.clock), done([holder(1, 1100, true)], false, h.clock))
  t.equal(h.scheduler.due(h.clock, false, undefined), false, 'no leak raised, no request: not due')
  t.equal(h.scheduler.due(h.clock, true, undefined), true, 'a raised leak: the first search is due at once')
  await h.tick(true)
  h.clock += 2_000
  t.equal(h.scheduler.due(h.clock, true, undefined), false, 'after a search, not first again before a profile read')
  t.equal(h.scheduler.due(h.clock, true, h.clock - 3_000), false, 'a read before the search does not count')
  t.equal(h.scheduler.due(h.clock, true, h.clock - 500), true, 'a read since: the search is first again')
  await h.tick(true)
  t.equal(h.calls.length, 2)
  t.equal(h.scheduler.due(h.clock + 100_000, true, h.clock - 1), false, 'and so on: a read between every two searches put first')
})

t.test('ranSince: a search running, or ended after the time asked about', async (t) => {
  const h = new Harness()
  const before = h.clock
  t.equal(h.scheduler.ranSince(before - 1), false, 'no search yet')
  h.results.push(done([holder(1, 1000, false)], true, h.clock))
  h.clock += 100
  await h.tick(true)
  t.equal(h.scheduler.ranSince(before), true, 'it ended after that time')
  t.equal(h.scheduler.ranSince(h.clock), false, 'nothing since it ended')
})

t.test('a flow rising with the traffic is not growing; one rising at steady traffic is', async (t) => {
  // Searches 10 s apart (requests: each answered after the first); a queue most of whose sampled
  // members left each time (a flow) rose at each of five searches.
  const sizes = [400, 600, 800, 1000, 1200]
  const flow = (i: number): Holder => ({
    ...holder(7, sizes[i]!, i >= 4, ['queue (Array, q.js)']),
    previousSize: i > 0 ? sizes[i - 1]! : null,
    intervalSeconds: 10,
    turnover: { gone: 64, sampled: 64 },
    earlierSizes: sizes.slice(Math.max(0, i - 4), Math.max(0, i - 1)),
  })
  for (const c of [
    { name: 'traffic rising as much', rates: [2, 3, 4, 5, 6], growing: false },
    { name: 'steady traffic', rates: [4, 4, 4, 4, 4], growing: true },
    { name: 'no HTTP server', rates: [NaN, NaN, NaN, NaN, NaN], growing: true },
  ]) {
    const h = new Harness({ ...CONFIG, intervalMs: 10_000, maxIntervalMs: 10_000 })
    for (let i = 0; i < sizes.length; i++) h.results.push(done([flow(i)], i === 0, h.clock + i * 10_000))
    for (let i = 0; i < sizes.length; i++) {
      h.requestsPerSecond = c.rates[i]!
      if (i === 0) h.scheduler.request()
      await h.tick(true, i === 0 ? 0 : 10_000)
    }
    t.equal(h.calls.length, 5, `${c.name}: five searches`)
    const seen = h.scheduler.view().holders.find((x) => x.id === 7)
    t.equal(seen?.growing, c.growing, `${c.name}: ${c.growing ? 'growing' : 'not growing'}`)
    t.equal(seen?.followsTraffic, c.growing ? undefined : true)
    t.same(h.scheduler.exported().map((x) => x.id), c.growing ? [7] : [], `${c.name}: exported only when growing`)
  }
})

t.test('a flow whose interval does not match the searches is left as judged', async (t) => {
  // Its previous measurement was two searches back (not measured at the last one): the sizes do
  // not line up with the searches' request rates.
  const h = new Harness({ ...CONFIG, intervalMs: 10_000, maxIntervalMs: 10_000 })
  const last: Holder = { ...holder(7, 1200, true), previousSize: 1000, intervalSeconds: 20, turnover: { gone: 64, sampled: 64 }, earlierSizes: [400, 600, 800] }
  for (let i = 0; i < 4; i++) h.results.push(done([holder(8, 50, false)], i === 0, h.clock + i * 10_000))
  h.results.push(done([last], false, h.clock + 40_000))
  for (let i = 0; i < 5; i++) {
    h.requestsPerSecond = 2 + i
    await h.tick(true, i === 0 ? 0 : 10_000)
  }
  t.equal(h.scheduler.view().holders[0]?.growing, true)
})

t.test('a collection gaining fewer bytes a second than the smallest growth is slow growth, not growing', async (t) => {
  // Two searches 10 s apart; at least 1 000 B/s of what a holder retains to be named growing.
  const config = { ...CONFIG, intervalMs: 10_000, maxIntervalMs: 10_000, minGrowthBytesPerSecond: 1_000, topHolders: 5 }
  const grown = (id: number, from: number, to: number, bytesPerElement: number, extra: Partial<Holder> = {}): Holder => ({
    ...holder(id, to, true, [`v${id} (Map, a.js)`]),
    kind: 'Map',
    previousSize: from,
    intervalSeconds: 10,
    growthPerSecond: (to - from) / 10,
    retainedBytes: to * bytesPerElement,
    ...extra,
  })
  const second = [
    grown(1, 100, 200, 40), // 10 elements/s of 40 B: 400 B/s
    grown(2, 100, 1100, 100), // 100 elements/s of 100 B: 10 000 B/s
    grown(3, 100, 200, 0), // nothing retained per element: still its slot, 8 B: 80 B/s
    grown(4, 160, 190, 40, { earlierSizes: [100, 130], growingOver: 3 }), // 90 over 30 s: 120 B/s
    grown(5, 100, 200, 40, { members: 12 }), // a family of twelve, each its share
    grown(6, 100, 200, 40, { stayers: { count: 20, departures: 40, longestGoneSeconds: 30, earlier: [5, 10], growing: true } }),
    grown(7, 100, 130, 400), // 3 elements/s of 400 B: 1 200 B/s
  ]
  const h = new Harness(config)
  h.results.push(done(second.map((x) => ({ ...x, growing: false, previousSize: null, growthPerSecond: null, intervalSeconds: 0 })), true, h.clock))
  h.results.push(done(second, false, h.clock + 10_000))
  h.scheduler.request()
  await h.tick(true)
  await h.tick(true, 10_000)
  t.equal(h.calls.length, 2)
  const view = h.scheduler.view().holders
  const byId = (id: number): Holder | undefined => view.find((x) => x.id === id)
  for (const [id, bytesPerSecond] of [[1, 400], [3, 80], [4, 120]] as const) {
    t.equal(byId(id)?.growing, false, `holder ${id}: not growing`)
    t.equal(Math.round(byId(id)?.slowGrowth?.bytesPerSecond ?? -1), bytesPerSecond, `holder ${id}: gains ${bytesPerSecond} B/s`)
    t.equal(byId(id)?.slowGrowth?.minBytesPerSecond, 1_000)
  }
  for (const id of [2, 5, 6, 7]) {
    t.equal(byId(id)?.growing, true, `holder ${id}: growing`)
    t.equal(byId(id)?.slowGrowth, undefined)
  }
  t.same(view.slice(0, 4).map((x) => x.id).sort(), [2, 5, 6, 7], 'the growing ones ranked first')
  t.same(h.scheduler.exported().map((x) => x.id).sort(), [2, 5, 6, 7], 'slow growth is not exported')
  t.match(describeHolder(byId(1)!), /gains ~400 B\/s of what it retains, under the 1000 B\/s a holder is named growing at/)

  // Without a smallest growth every one stays as judged.
  const off = new Harness({ ...config, minGrowthBytesPerSecond: 0 })
  off.results.push(done(second, true, off.clock), done(second, false, off.clock + 10_000))
  off.scheduler.request()
  await off.tick(true)
  await off.tick(true, 10_000)
  t.same(off.scheduler.view().holders.filter((x) => x.growing).length, 7)
})
