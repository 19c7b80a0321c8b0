import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  describeHolder,
  displayFile,
  inferMainScript,
  PageReply,
  rankHolders,
  renderPath,
  toHolders,
  type RenderContext,
  type WalkerItem,
} from '../../src/holders/report.js'
import { atNewHigh, fellBetween, growthSpan, isFlow, paceHolds, poissonAtMost, isGrowing, levelFollowsTraffic, stayersSpan, stoppedRising, turnoverBound, turnoverLowerBound } from '../../src/holders/growth.js'
import { visitsForHeap } from '../../src/holders/search.js'
import type { Holder, HolderSearchDone } from '../../src/holders/types.js'
import {
  beginExpression,
  checkedBeginOptions,
  checkedInteger,
  HOLDER_SNIPPETS,
  pageExpression,
  stepExpression,
  takeFunctionsExpression,
  type WalkerBeginOptions,
} from '../../src/holders/walker.js'
import type { RecordedCall } from './lib.js'

interface Transcript {
  first: RecordedCall[]
  second: RecordedCall[]
  results: [HolderSearchDone, HolderSearchDone]
}
const transcript = JSON.parse(
  readFileSync(new URL('../fixtures/holders/replies/broker.json', import.meta.url), 'utf8'),
) as Transcript

/** The walker's report pages of a recorded search, as the driver read them. */
function recordedItems(calls: readonly RecordedCall[]): WalkerItem[] {
  const items: WalkerItem[] = []
  for (const call of calls) {
    const value = (call.reply as { result?: { value?: unknown } } | undefined)?.result?.value
    const page = PageReply.safeParse(value)
    if (page.success && page.data.ok && String(call.params.expression).includes('.page(')) items.push(...page.data.items)
  }
  return items
}

const ctx = (over: Partial<RenderContext> = {}): RenderContext => ({
  cwd: '/srv/app',
  scripts: new Map([['81', '/srv/app/src/broker.js']]),
  refs: [{ scriptId: '81', line: 2, name: 'subscribe' }, { scriptId: '99', line: 40, name: 'tick' }],
  ...over,
})

t.test('files are shown as a developer reads them', async (t) => {
  t.equal(displayFile('/srv/app/src/broker.js', '/srv/app'), 'src/broker.js')
  t.equal(displayFile('/srv/app/node_modules/tiny-memo/index.js', '/srv/app'), 'node_modules/tiny-memo/index.js')
  t.equal(
    displayFile('/srv/app/node_modules/a/node_modules/b/lib/x.js', '/srv/app'),
    'node_modules/b/lib/x.js',
    'the innermost package',
  )
  t.equal(displayFile('/opt/other/x.js', '/srv/app'), '/opt/other/x.js', 'outside the working directory: absolute')
  t.equal(displayFile('file:///srv/app/src/a%20b.mjs', '/srv/app'), 'src/a b.mjs')
  t.equal(displayFile('C:\\srv\\app\\src\\x.js', 'C:\\srv\\app'), 'src/x.js')
  t.equal(displayFile('', '/srv/app'), '')
})

t.test('paths: roots named, steps kept, the holder kind on the last element', async (t) => {
  t.same(
    renderPath({ root: { type: 'module', name: 'subscribers', ref: 0, scope: 'Closure', kind: 'Map' }, steps: ["get('b')", '.q'], kind: 'Array' }, ctx()),
    ['subscribers (Map, src/broker.js)', "get('b')", '.q (Array)'],
  )
  t.same(
    renderPath({ root: { type: 'module', name: 'memo', ref: 0, scope: 'Closure', kind: 'Map' }, steps: [], kind: 'Map' }, ctx()),
    ['memo (Map, src/broker.js)'],
    'a module variable that is the holder keeps its own kind',
  )
  t.same(
    renderPath({ root: { type: 'module', name: 'pending', ref: 1, scope: 'Module', kind: 'Map' }, steps: [], kind: 'Map' }, ctx()),
    ['pending (Map, module of tick() at script 99:41)'],
    'an unnamed script: the function it was found through',
  )
  t.same(
    renderPath(
      {
        root: { type: 'timers' },
        steps: ['setInterval(20 ms)', '._onTimeout', { closure: 'pending', ref: 0, scope: 'Closure (makeTracker)' }],
        kind: 'Map',
      },
      ctx(),
    ),
    ['timers', 'setInterval(20 ms)', '._onTimeout', '‹pending› (in makeTracker(), src/broker.js:3) (Map)'],
  )
  t.same(renderPath({ root: { type: 'global', name: 'app', kind: 'Object' }, steps: ['.users'], kind: 'Map' }, ctx()), [
    'globalThis.app (Object)',
    '.users (Map)',
  ])
  t.same(renderPath({ root: { type: 'export', file: '/srv/app/src/store.js', kind: 'Object' }, steps: ['.store', '.sessions'], kind: 'Map' }, ctx()), [
    "require('src/store.js') (Object)",
    '.store',
    '.sessions (Map)',
  ])
  t.same(renderPath({ root: { type: 'process', name: '_events', kind: 'Object' }, steps: ['.message'], kind: 'Array' }, ctx()), [
    'process._events',
    '.message (Array)',
  ])
  t.same(renderPath({ root: { type: 'handle', name: 'Server #0', kind: 'Server' }, steps: [], kind: 'Array' }, ctx()), [
    'active handle Server #0 (Array)',
  ])
  t.same(renderPath({ root: null, steps: [], kind: 'Array' }, ctx()), [], 'no root: no path')
  const long = renderPath(
    { root: { type: 'timers' }, steps: Array.from({ length: 40 }, (_, i) => `.n${i}`), kind: 'Array' },
    ctx(),
  )
  t.equal(long.length, 24, 'long paths are elided to 24 elements')
  t.match(long[4], /^… \d+ steps …$/)
  t.equal(long[23], '.n39 (Array)')
})

/** A seeded uniform generator (LCG) and Poisson counts drawn from it, for churn simulations. */
function churn(seed: number): { random: () => number; poisson: (mean: number) => number } {
  const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
  const poisson = (mean: number): number => {
    // Knuth's method in chunks (mean up to ~700 per chunk keeps exp() representable).
    let count = 0
    for (let left = mean; left > 0; left -= 500) {
      const limit = Math.exp(-Math.min(500, left))
      let p = 1
      for (;;) {
        p *= random()
        if (p <= limit) break
        count += 1
      }
    }
    return count
  }
  return { random, poisson }
}

t.test('growing: enough elements, enough of the previous size, beyond churn', async (t) => {
  t.notOk(isGrowing(100, null), 'first seen is not growing')
  t.notOk(isGrowing(20, 11), 'a churning in-flight map moving by a few')
  t.ok(isGrowing(268, 43))
  t.notOk(isGrowing(500, 0), 'grown from empty: the next search judges it (a refilled queue does this too)')
  t.notOk(isGrowing(500, 31), 'grown from under 32: the same')
  t.ok(isGrowing(500, 32))
  t.notOk(isGrowing(400_100, 400_000), '+100 on 400k is noise-level')
  t.ok(isGrowing(420_000, 400_000))
  t.notOk(isGrowing(90, 100), 'shrinking')
  // A timer list of ~600 churning: two measurements differ by about √(2·600) ≈ 35.
  t.notOk(isGrowing(640, 600), '+40 on a churning 600 (6.7 %) is within four chance deviations (139)')
  t.ok(isGrowing(760, 600), '+160 on 600 is beyond them')
  t.ok(isGrowing(13_650, 13_000), 'a leak of 13 000 growing 5 % (650 > 645)')
  t.notOk(isGrowing(1_150, 1_000), '+15 % on 1 000 (150 < 179): a small collection needs a longer interval')
  // Churn as it is: independent arrivals held for a fixed time (M/D/∞), sampled twice far apart.
  const { poisson } = churn(7)
  let called = 0
  const pairs = 2000
  for (let i = 0; i < pairs; i++) if (isGrowing(poisson(600), poisson(600))) called += 1
  t.equal(called, 0, `a churning collection of mean 600 called growing in ${called} of ${pairs} pairs of measurements`)
})

t.test('a collection that fell between two searches grows only in its floor', async (t) => {
  // A batch of per-client hit counters, cleared at each sync and refilled with the same clients:
  // measured at 300 early in a cycle, at 1 400 late in the next, and at 0 in between.
  t.ok(isGrowing(1400, 300), 'two sizes alone: growing')
  t.notOk(isGrowing(1400, 300, undefined, [], { low: 0, previousLow: null }), 'emptied in between: its floor did not grow')
  t.notOk(isGrowing(1400, 300, undefined, [], { low: 0, previousLow: 0 }), 'emptied in both intervals')
  t.notOk(isGrowing(1400, 300, undefined, [], { low: 150, previousLow: 140 }), 'a floor of 140 then 150: not growth')
  t.ok(isGrowing(1400, 300, undefined, [], { low: 300, previousLow: 120 }), 'never below its previous size: judged on its sizes')
  // A flush that leaves some behind each time: the floor rises by more than counts as growth.
  t.ok(isGrowing(2600, 900, undefined, [], { low: 600, previousLow: 250 }), 'a floor rising 250 → 600 is growth')
  t.notOk(isGrowing(2600, 900, undefined, [], { low: 600, previousLow: null }), 'a floor known once: the next search judges it')
  t.notOk(isGrowing(2600, 900, undefined, [], { low: 40, previousLow: 10 }), 'a floor from nearly empty: the next search judges it')
  // A leaking store with churn dips by chance between searches: what would not count as growth
  // does not count as a fall either (4·√(2·2 000) ≈ 253 here).
  t.ok(isGrowing(2600, 2000, undefined, [], { low: 1800, previousLow: 1500 }), 'a dip of 200 under 2 000 is churn')
  t.notOk(fellBetween(2000, { low: 1800, previousLow: null }))
  t.ok(fellBetween(2000, { low: 1700, previousLow: null }))
  // Members seldom leave (measured turnover): a smaller dip is already a fall.
  t.ok(fellBetween(2000, { low: 1880, previousLow: null }, { gone: 0, sampled: 64 }), 'none of 64 sampled left: 120 under 2 000 is a fall')
})

t.test('a census counts who left; heavy members need fewer of them', async (t) => {
  // 1 of 60 probed left: sampled, its bound is ~0.165 (churn 4·√(2·0.165·61) ≈ 18); counted (every
  // member probed), it is 1/60 (churn 4·√2 ≈ 5.7).
  const sampled = { gone: 1, sampled: 60 }
  const census = { gone: 1, sampled: 60, census: true }
  t.ok(turnoverBound(sampled) > 0.15)
  t.equal(turnoverBound(census), 1 / 60)
  t.equal(turnoverLowerBound(census), 1 / 60)
  const heavy = 400_000 // bytes per member: an abandoned upload's chunks
  t.notOk(isGrowing(69, 60, census), '+9 small members: under 32')
  t.ok(isGrowing(69, 60, census, [], undefined, heavy), '+9 members of ~400 KB (3.4 MiB) in a census with 1 left')
  t.notOk(isGrowing(69, 60, sampled, [], undefined, heavy), 'the same growth against a sampled bound: within churn')
  t.notOk(isGrowing(65, 60, census, [], undefined, heavy), '+5 heavy members: under 8')
  t.notOk(isGrowing(69, 60, census, [], undefined, 100_000), '+9 members of 100 KB (0.9 MiB): not heavy, under 32')
  t.notOk(isGrowing(69, 60, { gone: 12, sampled: 60, census: true }, [], undefined, heavy), '+9 heavy ones while 12 of 60 left: churn (4·√24 ≈ 19.6)')
  t.notOk(isGrowing(17, 7, census, [], undefined, heavy), 'grown from under 8: the next search judges it')
  t.ok(isGrowing(18, 9, { gone: 0, sampled: 9, census: true }, [], undefined, heavy), '9 → 18 heavy members, none left')
  // A heavy collection drained in between is judged on its floor, with the same minimum.
  t.notOk(isGrowing(69, 60, census, [], { low: 20, previousLow: 18 }, heavy), 'emptied to 20 in between, floor 18 → 20')
  t.ok(isGrowing(69, 60, census, [], { low: 30, previousLow: 10 }, heavy), 'floor 10 → 30 heavy members (unmeasured churn 4·√20 ≈ 17.9)')
  t.notOk(isGrowing(69, 60, census, [], { low: 30, previousLow: 10 }), 'the same floors of small members: under 32')
})

t.test('ranking: growing first by rate, then first seen, then the rest', async (t) => {
  const h = (id: number, growthPerSecond: number | null, size: number, growing = false): Holder => ({
    id,
    path: [],
    pathComplete: false,
    kind: 'Map',
    size,
    previousSize: growthPerSecond === null ? null : size,
    growing,
    intervalSeconds: 1,
    growthPerSecond,
    elementShape: [],
    keyShape: [],
    retainedBytes: 0,
    retainedBytesMethod: '',
    measuredBy: 'walk',
    rootFile: null,
  })
  const ranked = rankHolders([h(1, 0, 50_000), h(2, null, 10), h(3, 90, 300, true), h(4, 400, 900, true), h(5, null, 99), h(6, 3, 20)])
  t.same(
    ranked.map((x) => x.id),
    [4, 3, 6, 5, 2, 1],
  )
})

t.test('the main module is named only when it is the one unnamed script in its window', async (t) => {
  // require.cache: [preload.js (index 0, script 60), main.js (index 1), a.js (index 2, script 90), b.js (index 3, script 95)]
  const scripts = new Map([['60', '/app/preload.js'], ['90', '/app/src/a.js'], ['95', '/app/src/b.js']])
  const index = new Map([['60', 0], ['90', 2], ['95', 3]])
  t.equal(inferMainScript(new Set(['40', '81', '90', '120']), scripts, index, '/app/main.js', 1), '81', 'between the preload and the first module it loads')
  t.equal(inferMainScript(new Set(['81', '85']), scripts, index, '/app/main.js', 1), undefined, 'two candidates: nothing named')
  t.equal(inferMainScript(new Set(['120']), scripts, index, '/app/main.js', 1), undefined, 'younger than a module main loaded: not main')
  t.equal(inferMainScript(new Set(['50']), scripts, index, '/app/main.js', 1), undefined, 'older than a preload: not main')
  t.equal(inferMainScript(new Set(['81']), new Map([['70', '/app/main.js']]), new Map([['70', 1]]), '/app/main.js', 1), undefined, 'main already named')
  t.equal(inferMainScript(new Set(['81']), new Map(), new Map(), '', -1), undefined, 'no main module (ES module entry)')
  t.equal(inferMainScript(new Set(['81']), new Map(), new Map(), '/app/main.js', 0), '81', 'no named module at all: the one unnamed script')
})

t.test('recorded replies of a real search become the expected holders', async (t) => {
  const items = recordedItems(transcript.second)
  t.ok(items.length > 0, 'the recorded second search has report pages')
  const expected = transcript.results[1]
  const refsNeeded = Math.max(...items.flatMap((i) => (i.root?.type === 'module' ? [i.root.ref] : [0]))) + 1
  t.ok(refsNeeded > 0)
  const top = expected.holders[0]
  t.ok(top !== undefined)
  t.same(top?.path, ['subscribers (Map, test/fixtures/holders/broker/src/broker.js)', "get('b')", '.q (Array)'])
  t.equal(top?.kind, 'Array')
  t.ok(top?.growing)
  t.same(top?.elementShape, ['{seq, channel, payload, at}'])
  // The same items rendered again without the scripts map fall back to the function they were found through.
  const raw = items.find((i) => i.id === top?.id)
  t.ok(raw !== undefined)
  if (raw !== undefined) {
    const again = toHolders([raw], { cwd: '/nowhere', scripts: new Map(), refs: [] }, new Map())
    t.match(again[0]?.path[0] ?? '', /^subscribers \(Map, module of a function at unknown script\)$/)
  }
})

t.test('a holder re-measured without a path keeps the path of the previous search', async (t) => {
  const item: WalkerItem = {
    id: 7,
    kind: 'Array',
    size: 500,
    previousSize: 100,
    intervalS: 4,
    growthPerSecond: 100,
    elementShape: ['{id}'],
    keyShape: [],
    retainedBytes: 40_000,
    sampled: 3,
    via: 'tracked',
    root: null,
    steps: [],
  }
  const before = new Map([[7, { path: ['queue (JobQueue, main.js)', '.jobs (Array)'], pathComplete: true, rootFile: '/srv/main.js', size: 100, previousSize: null }]])
  const [withPath] = toHolders([item], ctx(), before)
  t.same(withPath?.path, ['queue (JobQueue, main.js)', '.jobs (Array)'])
  t.equal(withPath?.pathComplete, true)
  t.equal(withPath?.measuredBy, 'tracked')
  t.equal(withPath?.rootFile, '/srv/main.js', 'the root file is carried over with the path')
  const [without] = toHolders([item], ctx(), new Map())
  t.same(without?.path, [])
  t.equal(without?.pathComplete, false, 'no path known: said so, with kind, size, growth and shape still given')
  t.equal(without?.growthPerSecond, 100)
  t.equal(without?.growing, false, 'reported for the first time, not reached by the walk, no turnover: judged from the next search')
  t.match(describeHolder(without!), /^\(no path found\) Array: 500 elements \(\+100\.0\/s\) of \{id\}, ~39 KiB$/)
  const reportedBefore = new Map([[7, { path: [], pathComplete: false, rootFile: null, size: 100, previousSize: null }]])
  const [judged] = toHolders([item], ctx(), reportedBefore)
  t.equal(judged?.growing, true, 'reported at the previous search: judged')
  t.match(describeHolder(judged!), /^\(no path found\) Array: 500 elements \(\+100\.0\/s, growing\) of \{id\}, ~39 KiB$/)
  const [measured] = toHolders([{ ...item, turnover: [0, 64, 0] }], ctx(), new Map())
  t.equal(measured?.growing, true, 'with a turnover of its own: judged')
})

t.test('the visit cap follows the heap: ~10 % of it for the search, within bounds', async (t) => {
  t.equal(visitsForHeap(undefined, 30_000), 30_000)
  t.equal(visitsForHeap(10 * 1024 * 1024, 30_000), 5000, 'a small heap: the floor')
  t.equal(visitsForHeap(60 * 1000 * 1000, 30_000), 10_000)
  t.equal(visitsForHeap(2e9, 30_000), 30_000, 'a big heap: the cap')
  t.equal(visitsForHeap(Number.NaN, 30_000), 30_000)
})

t.test('walker expressions splice checked integers only', async (t) => {
  t.equal(checkedInteger('x', 5, [0, 10]), 5)
  for (const bad of [Number.NaN, 1.5, -1, 11, Number.POSITIVE_INFINITY]) {
    t.throws(() => checkedInteger('x', bad, [0, 10]), RangeError, `rejects ${bad}`)
  }
  t.throws(() => stepExpression(0))
  t.throws(() => stepExpression(201))
  t.throws(() => takeFunctionsExpression(65))
  t.throws(() => pageExpression(-1, 5))
  t.throws(() => pageExpression(0, 1.5))
  t.match(stepExpression(8), /\.step\(8\)$/)
  const options: WalkerBeginOptions = {
    maxVisits: 30000,
    maxNodes: 100000,
    maxFunctions: 300,
    sample: 64,
    bulkMin: 64,
    dictMin: 32,
    minSize: 16,
    perCode: 4,
    maxStepMs: 50,
    maxListMs: 250,
    maxModules: 5000,
    maxTimers: 1000,
    maxTracked: 256,
    maxHolders: 25,
    watchdogMs: 30000,
  }
  const begin = beginExpression(options)
  const json = /\.begin\((.*)\)$/.exec(begin)?.[1] ?? ''
  t.same(JSON.parse(json), options, 'the options, and nothing else, as JSON of integers')
  const hostile = { ...options, maxVisits: '1); process.exit(1); (' } as unknown as WalkerBeginOptions
  t.throws(() => beginExpression(hostile), RangeError, 'a string never reaches the source')
  const extra = { ...options, evil: 1 } as unknown as WalkerBeginOptions
  t.notMatch(JSON.stringify(checkedBeginOptions(extra)), /evil/, 'unknown fields are dropped')
  for (const snippet of HOLDER_SNIPPETS) t.ok(snippet.source.length > 0 && snippet.purpose.length > 0, snippet.name)
})

t.test('growing with a measured turnover: members that seldom leave cannot move by churn', async (t) => {
  t.equal(turnoverBound(undefined), 1, 'unmeasured: every member may have left')
  t.ok(turnoverBound({ gone: 0, sampled: 64 }) > 0.1 && turnoverBound({ gone: 0, sampled: 64 }) < 0.15, 'none of 64 gone: still up to ~13 % may have')
  t.equal(turnoverBound({ gone: 32, sampled: 32 }), 1)
  // notify-hub: a Set of ~2 000 subscribers, ghosts accumulating, the live ones (~50) coming and going.
  t.notOk(isGrowing(2_120, 2_000), '+120 on 2 000 with unknown turnover is within churn (253)')
  t.ok(isGrowing(2_120, 2_000, { gone: 1, sampled: 64 }), '+120 when 1 of 64 sampled members left (bound 100)')
  t.notOk(isGrowing(2_120, 2_000, { gone: 64, sampled: 64 }), 'all sampled members left: churn as before')
  t.notOk(isGrowing(2_060, 2_000, { gone: 0, sampled: 64 }), 'still 32 elements and 5 % at least')
  // Churn at a measured turnover: a collection of ~2 000 of which a share f leaves between two
  // measurements (each member independently) and as many arrive on average (Poisson), 64 of the
  // earlier members sampled. Never called growing, at any f.
  const { random, poisson } = churn(11)
  for (const f of [0.01, 0.05, 0.2, 0.6]) {
    let called = 0
    for (let i = 0; i < 500; i++) {
      const before = poisson(2_000)
      const stayed = Array.from({ length: before }, () => random() >= f)
      const kept = stayed.filter(Boolean).length
      const after = kept + poisson(f * 2_000)
      let gone = 0
      for (let s = 0; s < 64; s++) if (!stayed[Math.floor((s * before) / 64)]) gone += 1
      if (isGrowing(after, before, { gone, sampled: 64 })) called += 1
    }
    t.equal(called, 0, `turnover ${f}: called growing in ${called} of 500 pairs`)
  }
})

t.test('a flow (most sampled members gone) is growing only after four rises in a row', async (t) => {
  t.equal(turnoverLowerBound(undefined), 0)
  t.notOk(isFlow(undefined), 'unmeasured is not a flow')
  t.notOk(isFlow({ gone: 44, sampled: 64 }), '44 of 64 gone: lower bound under one half')
  t.ok(isFlow({ gone: 45, sampled: 64 }), '45 of 64: surely more than half left')
  t.ok(isFlow({ gone: 64, sampled: 64 }))
  const flow = { gone: 64, sampled: 64 }
  // A sync queue refilled in batches: sizes at the searches 177 → 515.
  t.ok(isGrowing(515, 177), 'two sizes alone: growing')
  t.notOk(isGrowing(515, 177, flow), 'a flow without history: not growing')
  t.notOk(isGrowing(515, 177, flow, [502]), 'it fell before: not growing')
  t.notOk(isGrowing(515, 177, flow, [100, 150]), 'three rises are not enough')
  t.ok(isGrowing(515, 177, flow, [60, 100, 140]), 'four rises in a row: a backlog its consumer does not keep up with')
  t.notOk(isGrowing(515, 177, flow, [60, 100, 150]), 'a rise under 32 elements breaks the run')
  t.ok(isGrowing(515, 177, { gone: 10, sampled: 64 }), 'members that stay: two sizes suffice')
  // Sizes sampled at random from a level that only fluctuates (uniform 0..600, a flow): called
  // growing about once in 120 runs of five, far less than the two-size rule's 2 in 5.
  const { random } = churn(5)
  let flowCalls = 0
  let pairCalls = 0
  const runs = 4000
  for (let i = 0; i < runs; i++) {
    const sizes = Array.from({ length: 5 }, () => Math.floor(random() * 600))
    if (isGrowing(sizes[4]!, sizes[3]!, flow, sizes.slice(0, 3))) flowCalls += 1
    if (isGrowing(sizes[4]!, sizes[3]!)) pairCalls += 1
  }
  t.ok(flowCalls / runs < 0.01, `flow: ${flowCalls} of ${runs}`)
  t.ok(pairCalls / runs > 0.2, `two sizes: ${pairCalls} of ${runs}`)
})

t.test('a store gaining a few members an interval is judged over its last measurements', async (t) => {
  // Abandoned uploads of ~400 KB, three or four an interval: never 8 between two searches.
  const heavy = 400_000
  const none = { gone: 0, sampled: 20, census: true }
  t.equal(growthSpan(23, 20, none, [14, 17], undefined, heavy), 3, '14 → 17 → 20 → 23: +9 over three intervals')
  t.equal(growthSpan(23, 20, none, [17], undefined, heavy), 0, '17 → 20 → 23: +6, under 8')
  t.equal(growthSpan(23, 20, none, [14, 18, 17], undefined, heavy), 0, 'it fell after 18: judged from there, +6')
  t.equal(growthSpan(23, 20, none, [10, 14, 17], undefined, heavy), 3, 'from 14 (three intervals) before 10 (four)')
  t.equal(growthSpan(20, 20, none, [8, 12, 16], undefined, heavy), 0, 'no growth in the last interval: not growing now')
  t.equal(growthSpan(29, 20, none, [], undefined, heavy), 1, '+9 in one interval: judged on two sizes')
  // Churn scaled to the span: 3 of 20 left in the last interval stand for each of three.
  t.equal(growthSpan(23, 20, { gone: 3, sampled: 20, census: true }, [14, 17], undefined, heavy), 0, '+9 while 0.45 may have left: churn 4·√(2·0.45·14) ≈ 14')
  t.equal(growthSpan(23, 20, { gone: 1, sampled: 20, census: true }, [14, 17], undefined, heavy), 3, '1 of 20 left: 0.15 over three intervals, churn 4·√(2·0.15·14) ≈ 8.2 < 9')
  // Small members: 32 over the span, never a flow, never after a fall between the last two.
  const sampled = { gone: 0, sampled: 64 }
  t.equal(growthSpan(72, 64, { gone: 0, sampled: 64, census: true }, [40, 48, 56]), 4, '+8 small members an interval, none left of all 64 probed: +32 over four')
  t.equal(growthSpan(1040, 1030, sampled, [1000, 1010, 1020]), 0, '+10 an interval in a Set of 1 000, none of 64 sampled left: the bound 0.13 an interval, 0.52 over four (churn ≈ 129)')
  t.equal(growthSpan(1040, 1030, { gone: 64, sampled: 64 }, [1000, 1010, 1020]), 0, 'a flow is judged by its rises')
  t.equal(growthSpan(1040, 1030, sampled, [1000, 1010, 1020], { low: 900, previousLow: 990 }), 0, 'it fell to 900 between the last two')
  t.equal(growthSpan(1040, 1030, undefined, [1000, 1010, 1020]), 0, 'turnover not measured: churn 4·√(2·1 000) ≈ 179')
  t.equal(isGrowing(23, 20, none, [14, 17], undefined, heavy), true, 'isGrowing agrees')
  // Slowing to a level: a cache of a 5 000-item catalogue, each item cached when first seen.
  t.equal(growthSpan(4981, 4950, none, [4177, 4816]), 0, '+804 over three intervals, +31 in the last (268 expected): slowing')
  t.equal(growthSpan(4950, 4816, none, [4177]), 0, '+773 over two, +134 in the last where 387 were expected: slowing')
  t.equal(growthSpan(4816, 4177, none, [3100]), 1, '+639 in one interval: growing (still filling)')
  t.equal(growthSpan(20, 20, none, [11, 14, 17], undefined, heavy), 0, 'no gain at all in the last interval: not growing')
  t.equal(growthSpan(21, 20, none, [11, 14, 17], undefined, heavy), 4, '+1 in the last where 2.5 were expected: a slow leak, not slowing')
  // A span reaching back into a fill: a byte-budget LRU of ~200 bodies, a third of its members
  // gone an interval, its count moving by ±15 after it filled.
  const lru = { gone: 20, sampled: 64 }
  t.equal(growthSpan(227, 212, lru, [146, 196, 212]), 0, '+81 over four, +15 in the last (20 expected) but +15 in the last two where 40 were: filled')
  t.equal(growthSpan(227, 206, lru, [146, 166, 186]), 4, 'the same +81 gained evenly: growing over four')
  // A byte-budget LRU of bodies from 200 B to 1.4 MB: its count drifts with the mix of sizes,
  // by more than members that come and go independently would move it (keeps' response cache).
  const bodies = { gone: 31, sampled: 64 }
  t.equal(growthSpan(1849, 1651, bodies, [1945, 1654, 1650, 1599, 1705, 1655]), 0, '+198 past its churn bound, but it held 1 945 before: not at a new high')
  t.equal(growthSpan(1849, 1651, bodies, [1654, 1650, 1599, 1705, 1655]), 1, 'the same +198 at a new high: growing on two sizes')
  t.equal(growthSpan(1849, 1651, bodies, [1849]), 0, 'equal to an earlier size is not a new high')
  t.equal(atNewHigh([1945, 1654, 1849]), false, 'atNewHigh: 1 945 before')
  t.equal(atNewHigh([1654, 1849]), true, 'atNewHigh: above every earlier size')
  // A batch flushed between searches: its sizes at searches are points taken in its cycle.
  const kept = { gone: 0, sampled: 64, census: true }
  t.equal(growthSpan(360, 300, kept, [500, 200], { low: 100, previousLow: 40 }), 1, 'fell to 100 in between, its floor rose from 40: growing though it held 500 before')
  t.equal(growthSpan(360, 300, kept, [500, 200], { low: 100, previousLow: 90 }), 0, 'its floor hardly rose: not growing')
  t.equal(paceHolds([146, 196, 212, 212, 227]), false, 'paceHolds: the last half refutes the span')
  t.equal(paceHolds([11, 14, 17, 20, 21]), true, 'paceHolds: +4 in the last half where 5 were expected')
  t.ok(Math.abs(poissonAtMost(0, 3) - Math.exp(-3)) < 1e-12, 'P(0 | 3) = e⁻³')
  t.ok(Math.abs(poissonAtMost(2, 3) - Math.exp(-3) * (1 + 3 + 4.5)) < 1e-12, 'P(≤ 2 | 3)')
  t.ok(poissonAtMost(31, 268) < 1e-60 && poissonAtMost(31, 268) >= 0, 'far below its mean')
  t.ok(Math.abs(poissonAtMost(1000, 1000) - 0.5084) < 0.001, 'near one half at its mean (of thousands)')
})

t.test('a store that stopped rising early in the interval is not growing now', async (t) => {
  const none = { gone: 0, sampled: 64, census: true }
  // Tenants onboarded until a quarter of an interval before the search: +40, at 20 polls.
  const filled = { low: 60, previousLow: 40, rises: 20, flatShare: 0.45 }
  t.equal(growthSpan(100, 60, none, [], filled), 0, 'rose at 20 polls, none in the last 45 %: 0.55²⁰ ≈ 6·10⁻⁶')
  t.equal(growthSpan(100, 60, none, [], { ...filled, flatShare: 0.05 }), 1, 'rose until just before the search')
  t.equal(growthSpan(100, 60, none, [], { ...filled, rises: 6 }), 1, 'six rises (a batch a rise), none in the last 45 %: 0.55⁶ ≈ 0.03, by chance')
  t.equal(growthSpan(100, 60, none, [], { low: 60, previousLow: 40 }), 1, 'rises not counted (an older walker): judged as before')
  // Over a span too: heavy uploads, three an interval, the last one long ago.
  const heavy = 400_000
  t.equal(growthSpan(23, 20, none, [14, 17], { low: 20, previousLow: 17, rises: 3, flatShare: 0.8 }, heavy), 3, 'three rises, none in the last 80 %: 0.2³ = 0.008')
  t.equal(growthSpan(23, 20, none, [14, 17], { low: 20, previousLow: 17, rises: 3, flatShare: 0.95 }, heavy), 0, 'none in the last 95 %: 0.05³ ≈ 10⁻⁴')
  t.equal(stoppedRising({ low: 1, previousLow: null, rises: 0, flatShare: 1 }), false, 'never rose: nothing to judge')
  const tenants: Holder = {
    id: 1, path: ['tenants (Map, main.js)'], pathComplete: true, kind: 'Map', size: 100, previousSize: 60, growing: false, intervalSeconds: 600,
    growthPerSecond: 40 / 600, elementShape: ['Tenant {id}'], keyShape: [], retainedBytes: 1000, retainedBytesMethod: 'test', measuredBy: 'walk', rootFile: '/srv/main.js', floors: filled,
  }
  t.match(describeHolder(tenants), /no new high in the last 45 % of the interval \(rose at 20 polls before\)/)
})

t.test('earlier sizes are carried from the previous report of the same measurement', async (t) => {
  const item = (size: number, previousSize: number): WalkerItem => ({
    id: 3,
    kind: 'Array',
    size,
    previousSize,
    intervalS: 60,
    growthPerSecond: (size - previousSize) / 60,
    elementShape: ['string'],
    keyShape: [],
    retainedBytes: size * 40,
    sampled: 3,
    via: 'walk',
    root: null,
    steps: [],
    turnover: [64, 64, 0],
  })
  let previous = new Map<number, Holder>()
  const sizes = [100, 150, 220, 300, 400]
  let last: Holder | undefined
  for (let i = 1; i < sizes.length; i++) {
    ;[last] = toHolders([item(sizes[i]!, sizes[i - 1]!)], ctx(), previous)
    previous = new Map([[3, last!]])
  }
  t.same(last?.earlierSizes, [100, 150, 220], 'the three sizes before the previous one')
  t.equal(last?.growing, true, 'a flow that rose at each of four searches')
  const [broken] = toHolders([item(500, 390)], ctx(), previous)
  t.equal(broken?.earlierSizes, undefined, 'the previous report is not the measurement compared with: history starts over')
  t.equal(broken?.growing, false)
  t.match(describeHolder(broken!), /\(\+1\.8\/s; a flow: 64 of 64 sampled left\)/, 'the log line says why it is not growing')
})

t.test('a turnover not measured at the previous report: the one measured before it stands', async (t) => {
  // The batch-sync queue: 45 left at one search, drained below the 16 members its probes need by
  // that search's report step, 363 at the next. Its members were last seen leaving (a flow).
  const item = (size: number, previousSize: number, turnover: [number, number, 0 | 1] | null): WalkerItem => ({
    id: 4, kind: 'Array', size, previousSize, intervalS: 1.1, growthPerSecond: (size - previousSize) / 1.1,
    elementShape: ['string'], keyShape: [], retainedBytes: size * 30, sampled: 3, via: 'walk', root: null, steps: [], turnover,
  })
  const [flowing] = toHolders([item(45, 310, [64, 64, 0])], ctx(), new Map())
  t.ok(isFlow(flowing?.turnover))
  const [next] = toHolders([item(363, 45, null)], ctx(), new Map([[4, flowing!]]))
  t.same(next?.turnover, { gone: 64, sampled: 64 }, 'carried over')
  t.equal(next?.growing, false, 'a flow risen once: not growing')
  const [unrelated] = toHolders([item(363, 50, null)], ctx(), new Map([[4, flowing!]]))
  t.equal(unrelated?.turnover, undefined, 'not the measurement compared with: nothing carried')
  t.equal(unrelated?.growing, true, 'judged on its two sizes')
  const [measured] = toHolders([item(363, 45, [0, 40, 0])], ctx(), new Map([[4, flowing!]]))
  t.same(measured?.turnover, { gone: 0, sampled: 40 }, 'a new measurement replaces it')
  const [counted] = toHolders([item(363, 45, [0, 45, 1])], ctx(), new Map([[4, flowing!]]))
  t.same(counted?.turnover, { gone: 0, sampled: 45, census: true }, 'every member probed, as the walker says: a census')
  t.equal(measured?.growing, true, 'its members stayed: a store, growing')
})

t.test("a flow's level per request: traffic explains a rise that keeps pace with it", async (t) => {
  t.ok(levelFollowsTraffic([400, 600, 800, 1000, 1200], [2, 3, 4, 5, 6]), 'rising with a ramp')
  t.notOk(levelFollowsTraffic([400, 600, 800, 1000, 1200], [4, 4, 4, 4, 4]), 'rising at steady traffic: a backlog')
  t.notOk(levelFollowsTraffic([400, 600, 800, 1000, 1200], [4, 4.2, 4.4, 4.6, 4.8]), 'rising faster than the traffic')
  t.notOk(levelFollowsTraffic([400, 600, 800, 1000, 1200], [2, 3, NaN, 5, 6]), 'a rate unknown: the sizes judge')
  t.notOk(levelFollowsTraffic([400, 600, 800, 1000, 1200], [2, 3, 0, 5, 6]), 'no requests at one search: the sizes judge')
  t.notOk(levelFollowsTraffic([600, 800, 1000, 1200], [3, 4, 5, 6]), 'too few sizes')
  t.ok(levelFollowsTraffic([100, 400, 600, 800, 1000, 1200], [9, 2, 3, 4, 5, 6]), 'the last five judge')
  // A level proportional to the traffic with ±10 % noise, traffic rising 20 % a search: the level
  // per request rises five percent at each of four steps rarely.
  let seed = 7
  const random = (): number => ((seed = (seed * 48271) % 2147483647) / 2147483647)
  let followed = 0
  for (let i = 0; i < 500; i++) {
    const rates = [1, 1.2, 1.44, 1.73, 2.07]
    const sizes = rates.map((r) => 1000 * r * (0.9 + 0.2 * random()))
    if (levelFollowsTraffic(sizes, rates)) followed++
  }
  t.ok(followed >= 490, `explained in ${followed} of 500 noisy ramps`)
})

t.test('members that outlived every departure: a store inside a flow, judged by their count', async (t) => {
  // Streams of ~5 MB on air for minutes (a dozen left), a few abandoned a search that stay.
  const heavy = 5_000_000
  const at = (count: number, earlier: number[], departures = 12) => ({ count, departures, longestGoneSeconds: 900, earlier })
  const sizes = [9, 11, 12, 15, 16] // ~4 on air beside them
  t.equal(stayersSpan(at(12, [4, 6, 9]), heavy, sizes), 3, '4 → 6 → 9 → 12: +8 heavy over three intervals')
  t.equal(stayersSpan(at(12, [6, 9]), heavy, sizes), 0, '+6 over two: under 8')
  t.equal(stayersSpan(at(12, [4, 10, 9]), heavy, sizes), 0, 'it fell after 10: judged from there, +3')
  t.equal(stayersSpan(at(12, [4, 6, 12]), heavy, sizes), 0, 'none stayed in the last interval: not growing now')
  t.equal(stayersSpan(at(12, [4, 6, 9], 7), heavy, sizes), 0, 'seven seen to leave: too few to set the bar')
  t.equal(stayersSpan(at(12, [4, 6, 9]), 0, sizes), 0, 'small members: 32 asked for')
  t.equal(stayersSpan(at(40, [2, 8]), 0, [30, 40, 60]), 1, '+32 small ones in the last interval')
  t.equal(stayersSpan(undefined, heavy, sizes), 0, 'not measured')
  // A cache at its bound of 16: its favourites outlive every member it evicted, its size stays.
  t.equal(stayersSpan(at(12, [4, 6, 9]), heavy, [16, 16, 16, 16, 16]), 0, 'what stays did not add to it: a full cache')
  t.equal(stayersSpan(at(12, [4, 6, 9]), heavy, [14, 16]), 0, 'its size not known over the span')
  t.equal(stayersSpan(at(12, [4, 6, 9]), heavy, [12, 12, 14, 15, 16]), 3, '+4 over the span: half of what stayed')
  t.equal(stayersSpan(at(12, [4, 6, 9]), heavy, [12, 16, 15, 16, 16]), 0, 'a full cache whose size moves by one: +1 over its lowest')
  // Jobs that run minutes and crashed ones kept for good; a burst of 16 running at the span's start.
  t.equal(stayersSpan(at(15, [0, 10, 11, 13], 21), heavy, [16, 11, 18, 18, 21]), 4, '+15 stayed, the size +10 over its lowest (11), +5 over its first')
  // Crashed jobs of ~60 KB, ~6 an hour, searches half an hour apart: a megabyte takes 17 or more.
  const job = 61_000
  t.equal(stayersSpan(at(19, [0, 0, 1, 2, 7, 10, 16], 29), job, [5, 6, 6, 7, 14, 19, 22, 25]), 5, '1 → 19 over five intervals (1.1 MB)')
  t.equal(stayersSpan(at(16, [0, 0, 1, 2, 7, 10], 26), job, [5, 6, 6, 7, 14, 19, 22]), 0, '+15 over five: under a megabyte, under 32')
  t.equal(stayersSpan(at(19, [0, 0, 1, 2, 7, 10, 16], 29), job, [5, 6, 6, 7, 14, 19, 22, 25].slice(-3)), 0, 'its sizes not known over the span')
  t.equal(stayersSpan(at(19, [0, 1, 2, 7, 10, 9, 16], 29), job, [5, 6, 6, 7, 14, 19, 22, 25]), 0, 'fell after 10: judged from 9, +10')
  // Probed whole at each search: the chain of counts is carried from the report it continues.
  const item = (size: number, previousSize: number, stay: [number, number, number] | null): WalkerItem => ({
    id: 5, kind: 'Map', size, previousSize, intervalS: 1800, growthPerSecond: (size - previousSize) / 1800,
    elementShape: ['StreamState {id, frames}'], keyShape: ['string'], retainedBytes: size * heavy, sampled: 3, via: 'walk',
    root: null, steps: [], turnover: [4, previousSize, 1], stay,
  })
  let previous = new Map<number, Holder>()
  let last: Holder | undefined
  for (const [size, prev, stayers] of [[9, 8, 2], [10, 9, 4], [12, 10, 6], [13, 12, 9], [15, 13, 12]] as const) {
    ;[last] = toHolders([item(size, prev, [stayers, 20, 900])], ctx(), previous)
    previous = new Map([[5, last!]])
  }
  t.same(last?.stayers?.earlier, [2, 4, 6, 9], 'its counts at the searches before, same chain')
  t.equal(last?.growing, true, 'growing by what stays, its size (+2 with 4 gone) does not tell')
  t.equal(last?.stayers?.growing, true)
  t.match(describeHolder(last!), /12 members stayed longer than any of the 20 that left \(present up to 15 min\), from 4 over its last 3 intervals/)
  // A slow store's chain is carried over eight reports, its sizes over seven before the previous.
  let slow = new Map<number, Holder>()
  let lastSlow: Holder | undefined
  for (let i = 1; i <= 10; i++) {
    ;[lastSlow] = toHolders([{ ...item(10 + i, 9 + i, [i, 20, 900]), retainedBytes: (10 + i) * 60_000 }], ctx(), slow)
    slow = new Map([[5, lastSlow!]])
  }
  t.same(lastSlow?.stayers?.earlier, [2, 3, 4, 5, 6, 7, 8, 9], 'eight counts before')
  t.same(lastSlow?.earlierSizes, [12, 13, 14, 15, 16, 17, 18], 'seven sizes before the previous one')
  const [restarted] = toHolders([item(17, 14, [14, 2, 30])], ctx(), previous)
  t.same(restarted?.stayers?.earlier, [], 'not the measurement compared with: the chain starts over')
  t.equal(restarted?.growing, false)
})
