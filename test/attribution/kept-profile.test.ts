// What the sidecar keeps of a target's heap profile: a real one whole, a hostile one bounded
// (nodes, samples, bytes), malformed parts left out and counted, long text clipped.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { PROFILE_LIMITS, keepProfile } from '../../src/attribution/kept-profile.js'
import { toHeapProfileJson, type HeapProfile, type ProfileNode } from '../../src/attribution/pprof.js'
import { runInSlices, runToEnd } from '../../src/attribution/slices.js'
import { hugeProfileText } from '../fixtures/fake-node.js'
import { allNodes, chainProfile, frame, ROOT_FRAME } from '../fuzz/fixtures/profiles.js'

const recorded = (): HeapProfile => JSON.parse(readFileSync(new URL('../fixtures/profiles/sampling-1.json', import.meta.url), 'utf8')) as HeapProfile

t.test('a real profile is kept whole, and its size counted as its .heapprofile', async (t) => {
  const profile = recorded()
  const { profile: kept, stats } = runToEnd(keepProfile(profile))
  t.equal(toHeapProfileJson(kept), toHeapProfileJson(profile), 'the same profile')
  t.same(stats, {
    nodes: allNodes(profile).length,
    samples: profile.samples.length,
    bytes: stats.bytes,
    truncated: false,
    nodesDropped: 0,
    nodesRejected: 0,
    samplesDropped: 0,
  })
  const size = toHeapProfileJson(kept).length
  t.ok(Math.abs(stats.bytes - size) < 64, `counted ${stats.bytes} bytes, written ${size}`)
  t.ok(profile.samples.some((sample) => !allNodes(profile).some((node) => node.id === sample.nodeId)), 'with a sample of a node V8 pruned...')
  t.equal(kept.samples.length, profile.samples.length, '...kept like the others')
  const chain = runToEnd(keepProfile(chainProfile(100))).profile
  const frames = new Set(allNodes(chain).map((node) => node.callFrame))
  t.equal(frames.size, 2, `2 call frames shared by ${allNodes(chain).length} nodes`)
})

t.test('a million nodes: 100,000 kept, the rest counted; in slices that give the event loop back', async (t) => {
  const raw: unknown = JSON.parse(hugeProfileText(1_000_000, 200_000))
  let turns = 0
  const ticker = setInterval(() => (turns += 1), 1)
  const { stats } = await runInSlices(keepProfile(raw))
  clearInterval(ticker)
  t.same(stats, { ...stats, nodes: 100_000, samples: 100_000, truncated: true, nodesDropped: 900_000, nodesRejected: 0, samplesDropped: 100_000 })
  t.ok(stats.bytes <= PROFILE_LIMITS.maxBytes)
  t.ok(turns >= 5, `timers ran ${turns} times meanwhile`)
})

t.test('the byte limit: long frames stop the copy at 24 MiB', async (t) => {
  const long = (i: number): string => `${'x'.repeat(990)}${i}`
  const profile = chainProfile(1, {})
  profile.head.children = Array.from({ length: 15_000 }, (_, i) => ({ callFrame: frame(long(i), `file:///${long(i)}`), selfSize: 1, id: i + 10, children: [] }))
  const { profile: kept, stats } = runToEnd(keepProfile(profile))
  t.ok(stats.truncated, 'truncated')
  t.ok(stats.bytes <= PROFILE_LIMITS.maxBytes && stats.bytes > PROFILE_LIMITS.maxBytes - 3000, `${stats.bytes} bytes`)
  t.equal(stats.nodes + stats.nodesDropped, 15_001)
  t.ok(Math.abs(toHeapProfileJson(kept).length - stats.bytes) < 64, 'written as counted')
})

t.test('malformed and duplicated nodes are left out with their subtrees; long text is clipped', async (t) => {
  const good = (id: number, children: unknown[] = [], name = 'f'): ProfileNode => ({ callFrame: frame(name, 'file:///a.js'), selfSize: 8, id, children: children as ProfileNode[] })
  const head: ProfileNode = {
    callFrame: ROOT_FRAME,
    selfSize: 0,
    id: 1,
    children: [
      good(2, [good(3)]),
      { id: 4, children: [good(5)] } as unknown as ProfileNode, // no call frame: it and node 5 go
      good(2, [good(6)]), // a duplicated id: it and node 6 go
      'junk' as unknown as ProfileNode,
      good(7, [], 'n'.repeat(5000)),
    ],
  }
  const samples = [
    { size: 8, nodeId: 3, ordinal: 1 },
    { size: 8, nodeId: 5, ordinal: 2 }, // of a node left out as malformed: kept, "(unknown)" in pprof
    { size: -1, nodeId: 3, ordinal: 3 }, // malformed
    { size: 8, nodeId: 7 }, // no ordinal: 0
    null,
  ]
  const { profile, stats } = runToEnd(keepProfile({ head, samples }))
  t.same(allNodes(profile).map((node) => node.id).sort((a, b) => a - b), [1, 2, 3, 7])
  t.equal(stats.nodesRejected, 3, 'the node without a frame, the duplicate, the string')
  t.same(profile.samples, [{ size: 8, nodeId: 3, ordinal: 1 }, { size: 8, nodeId: 5, ordinal: 2 }, { size: 8, nodeId: 7, ordinal: 0 }])
  t.equal(stats.samplesDropped, 2)
  t.notOk(stats.truncated, 'nothing left out for a limit')
  const clipped = allNodes(profile).find((node) => node.id === 7)?.callFrame.functionName ?? ''
  t.equal(clipped.length, PROFILE_LIMITS.maxFrameText + 1, 'clipped, with an ellipsis')
  t.ok(clipped.endsWith('…'))
})

t.test('no usable head: nothing kept, one rejected node', async (t) => {
  for (const raw of [undefined, null, {}, { head: 'x', samples: [{ size: 1, nodeId: 1, ordinal: 1 }] }]) {
    const { profile, stats } = runToEnd(keepProfile(raw))
    t.same(profile.samples, [])
    t.equal(profile.head.children.length, 0)
    t.equal(stats.nodesRejected, 1)
    t.equal(stats.nodes, 0)
  }
})
