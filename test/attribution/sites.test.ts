import { readFileSync } from 'node:fs'
import t from 'tap'
import type { ProfileNode } from '../../src/attribution/pprof.js'
import { aggregateSites, isApplicationFrame, shortUrl, siteLabel } from '../../src/attribution/sites.js'
import { SiteTracker } from '../../src/attribution/tracker.js'

const profile = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/profiles/${name}.json`, import.meta.url), 'utf8'))

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '1' })
let nextId = 1
const node = (functionName: string, url: string, selfSize: number, children: ProfileNode[] = [], line = 0): ProfileNode => ({
  callFrame: frame(functionName, url, line),
  selfSize,
  id: nextId++,
  children,
})

t.test('a recorded profile: sites by first application frame, builtins folded into their caller', async (t) => {
  const { sites, totalBytes, nodesRejected, truncated } = aggregateSites(profile('sampling-1'))
  const byName = new Map([...sites.values()].map((site) => [site.frame.functionName, site]))
  t.ok(byName.has('leakyPush'))
  t.equal(byName.get('leakyPush')?.frame.line, 4, '1-based line')
  const stack = byName.get('leakyPush')?.stack ?? []
  t.ok(stack.some((f) => f.functionName === 'leakyPush'), 'the full stack is kept')
  t.equal(stack[stack.length - 1]?.functionName, 'processTimers', 'leaf first, outermost last')
  t.notOk(byName.has('repeat'), 'String.prototype.repeat (a builtin) is attributed to its caller')
  t.equal([...sites.values()].reduce((sum, site) => sum + site.bytes, 0), totalBytes, 'every byte attributed once')
  t.equal(nodesRejected, 0)
  t.equal(truncated, false)
})

t.test('internal frames are skipped up to the application frame; node_modules counts as application', async (t) => {
  const tree = node('(root)', '', 0, [
    node('processTimers', 'node:internal/timers', 0, [
      node('readFrame', 'file:///srv/app/src/broker.js', 0, [node('JSON.parse', '', 4096), node('', 'node:buffer', 1024)], 41),
      node('readobj', 'file:///srv/app/node_modules/aioredis/lib/parser.js', 2048, [], 9),
    ]),
    node('alloc', 'node:internal/x', 512),
    node('listOnTimeout', 'node:internal/timers', 0, [node('repeat', '', 256), node('(V8 API)', '', 128), node('(BYTECODE_COMPILER)', '', 64)]),
  ])
  const { sites } = aggregateSites({ head: tree, samples: [] })
  const labels = [...sites.values()].map((site) => [site.label, site.bytes]).sort()
  // No builtin and no node: internal is ever a site: stacks without an application frame share one honest entry.
  t.same(labels, [
    ['(no application frame: optimized code, builtins or Node internals)', 512 + 256 + 128 + 64],
    ['readFrame (src/broker.js:42)', 5120],
    ['readobj (node_modules/aioredis/lib/parser.js:10)', 2048],
  ])
  t.equal(isApplicationFrame(frame('x', 'node:fs')), false)
  t.equal(isApplicationFrame(frame('(root)', 'file:///a.js')), false)
  t.equal(shortUrl('file:///srv/app/src/a%20b.js'), 'src/a b.js')
  t.equal(shortUrl('[eval]'), '[eval]')
  t.equal(siteLabel({ functionName: 'f'.repeat(300), url: '', line: 0, column: 0 }, 50).length, 50)
})

t.test('hostile profiles: malformed, duplicate ids, deep, huge — bounded and counted', async (t) => {
  t.same(aggregateSites(null).sites.size, 0)
  t.equal(aggregateSites({ head: 'nope' }).nodesRejected, 1)
  const bad = { head: node('(root)', '', 0, [{ callFrame: null } as unknown as ProfileNode, node('f', 'file:///a.js', Number.NaN), node('g', 'file:///a.js', -5)]) }
  t.equal(aggregateSites(bad).nodesRejected, 3)
  const shared = node('dup', 'file:///a.js', 100)
  const twice = { head: node('(root)', '', 0, [shared, shared]) }
  t.equal(aggregateSites(twice).sites.get([...aggregateSites(twice).sites.keys()][0] ?? '')?.bytes, 100, 'a repeated id counts once')
  let deep = node('leaf', 'file:///deep.js', 10)
  for (let i = 0; i < 100_000; i++) deep = node(`f${i}`, 'node:internal', 0, [deep])
  const deepResult = aggregateSites({ head: deep })
  t.equal(deepResult.totalBytes, 10, '100 000 levels without a stack overflow')
  t.ok((deepResult.sites.values().next().value?.stack.length ?? 99) <= 32, 'display stack capped')
  const wide = node('(root)', '', 0, Array.from({ length: 2000 }, (_, i) => node(`w${i}`, 'file:///w.js', 1, [], i)))
  const capped = aggregateSites({ head: wide }, { maxNodes: 100 })
  t.equal(capped.truncated, true)
  t.equal(capped.nodesVisited, 100)
})

t.test('tracker: ranks by slope, zero for vanished sites, bounded table, stable top-K', async (t) => {
  const snap = (entries: Array<[string, number]>) =>
    new Map(
      entries.map(([name, bytes]) => [
        name,
        { key: name, label: name, frame: { functionName: name, url: '', line: 0, column: 0 }, stack: [], bytes, nodes: 1 },
      ]),
    )
  const tracker = new SiteTracker({ maxSites: 4, topSites: 2 })
  for (let i = 0; i < 6; i++) {
    tracker.ingest(i * 1000, snap([['leak', 1000 * i], ['steady', 5000], ['slow', 10 * i], ...(i === 0 ? [['gone', 99] as [string, number]] : [])]))
  }
  const ranked = tracker.rank(5000, 60_000, 60_000)
  t.same(ranked.map((site) => site.key).slice(0, 2), ['leak', 'slow'])
  t.equal(ranked.find((site) => site.key === 'leak')?.slopeBytesPerSecond, 1000)
  t.equal(ranked.find((site) => site.key === 'gone')?.bytes, 0, 'vanished sites read 0')
  t.same(tracker.exported().map((site) => site.key), ['leak', 'slow'], 'top-K of growing sites')
  // Many new sites: the table stays bounded and keeps the exported ones.
  tracker.ingest(6000, snap(Array.from({ length: 20 }, (_, i) => [`new${i}`, 1] as [string, number])))
  t.ok(tracker.size <= 4)
  tracker.rank(6000, 60_000, 60_000)
  t.ok(tracker.exported().some((site) => site.key === 'leak'), 'an exported site survives eviction')
  tracker.resetSeries()
  t.same(tracker.ranked(), [])
  tracker.clear()
  t.equal(tracker.size, 0)
})

t.test('tracker: a slow leak sampled in 512 KiB steps grows over the long window; a filled cache stops growing there', async (t) => {
  // Reads every 5 minutes for 4 hours. The leak's live bytes step up by one sampling interval
  // (512 KiB) every 30 minutes (1 MiB an hour); the cache's rose by a step every 10 minutes in
  // the first hour, then stayed; a request buffer's jitter one step up and down at random reads.
  const STEP = 512 * 1024
  const MIN = 60_000
  const snap = (entries: Array<[string, number]>) =>
    new Map(entries.map(([name, bytes]) => [name, { key: name, label: name, frame: { functionName: name, url: '', line: 0, column: 0 }, stack: [], bytes, nodes: 1 }]))
  const tracker = new SiteTracker({ maxSites: 10, topSites: 3 })
  const jitter = [0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1]
  for (let m = 0; m <= 240; m += 5) {
    tracker.ingest(m * MIN, snap([['leak', STEP * (1 + Math.floor(m / 30))], ['cache', STEP * Math.min(6, Math.floor(m / 10))], ['buffers', STEP * (2 + (jitter[(m / 5) % 12] as number))]]))
  }
  const shortOnly = tracker.rank(240 * MIN, 30 * MIN, 30 * MIN)
  t.equal(shortOnly.find((s) => s.key === 'leak')?.slopeBytesPerSecond, 0, 'over 30 minutes: at most one step, slope 0')
  const ranked = tracker.rank(240 * MIN, 30 * MIN, 240 * MIN)
  const leak = ranked.find((s) => s.key === 'leak')
  t.equal(ranked[0]?.key, 'leak', ranked.map((s) => `${s.key} ${s.slopeBytesPerSecond.toFixed(1)}`).join(', '))
  t.ok(Math.abs((leak?.slopeBytesPerSecond ?? 0) * 3600 - 2 ** 20) < 2 ** 18, `~1 MiB an hour: ${((leak?.slopeBytesPerSecond ?? 0) * 3600 / 2 ** 20).toFixed(2)} MiB/h`)
  t.equal(leak?.slopeOverMs, 240 * MIN, 'taken over the long window')
  t.equal(leak?.points, 49)
  t.equal(ranked.find((s) => s.key === 'cache')?.slopeBytesPerSecond, 0, 'the cache that filled in the first hour: flat for three of four hours')
  t.same(tracker.exported().map((s) => s.key), ['leak'], 'the only growing site exported')
})
