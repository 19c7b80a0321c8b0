// Healthy programs stay quiet: a full LRU, a big static Map and a churning Map are reported
// (they are big) but never as growing.
import t from 'tap'
import { AGENT_KEY } from '../../src/collectors/agent.js'
import { isFlow } from '../../src/holders/growth.js'
import { describeHolder } from '../../src/holders/report.js'
import { nothingGrowing, openFixture, searchSeries } from './lib.js'

const CASES = [
  { fixture: 'lru-full', holder: /→ \.cache → \.map \(Map\)$/, size: 2000 },
  { fixture: 'static-map', holder: /^countries \(Map, test\/fixtures\/holders\/static-map\/main\.js\)$/, size: 50_000 },
  { fixture: 'churn-map', holder: /^inflight \(Map, test\/fixtures\/holders\/churn-map\/main\.js\)$/, size: 1 },
  { fixture: 'timeout-churn', holder: /^timers → setTimeout\(5000 ms\) \(Timers\)$/, size: 50 },
] as const

for (const c of CASES) {
  t.test(`${c.fixture}: reported, not growing`, async (t) => {
    const { session } = await openFixture(t, c.fixture)
    // Three searches a second apart: none may call anything growing.
    const results = await searchSeries(session, 3, 1000)
    nothingGrowing(t, results)
    const last = results[results.length - 1]!
    const seen = last.holders.find((h) => c.holder.test(h.path.join(' → ')))
    t.comment(`${c.fixture}: ${seen !== undefined ? describeHolder(seen) : '(not reported)'}`)
    if (c.fixture === 'churn-map') {
      // Small and moving either way: whether it is listed depends on its size at the moment.
      if (seen !== undefined) t.notOk(seen.growing)
    } else if (c.fixture === 'timeout-churn') {
      // Node's timer list of request timeouts: listed, moving by a few either way, never growing.
      t.ok(seen !== undefined, "the timer list is listed")
      t.ok((seen?.size ?? 0) >= c.size, `${seen?.size} live timeouts`)
      t.notOk(seen?.growing)
      // Each timeout is cleared 500 ms after it is armed: by the next search every one sampled has left.
      t.ok(isFlow(seen?.turnover), `its Timeouts were sampled and found gone: ${JSON.stringify(seen?.turnover)}`)
    } else {
      t.ok(seen !== undefined, 'the big collection is listed')
      t.ok((seen?.size ?? 0) >= c.size)
      t.equal(seen?.growthPerSecond, 0, 'its size did not change')
    }
  })
}

t.test('linked lists that do not grow: a full LRU counted once, a ring counted once round, a drained queue', async (t) => {
  const { session } = await openFixture(t, 'linked-lru')
  const results = await searchSeries(session, 3, 1000)
  nothingGrowing(t, results)
  const last = results[results.length - 1]!
  const lists = last.holders.filter((h) => h.kind === 'LinkedList' && /linked-lru/.test(h.path[0] ?? ''))
  for (const h of lists) t.comment(describeHolder(h))
  // Its newest-first list: one holder (not a second one from its oldest end, nor one from a Map value's .prev).
  const lru = lists.filter((h) => /^profiles \(LinkedLRU, .*\) → \.(newest|oldest) \(LinkedList\)$/.test(h.path.join(' → ')))
  t.equal(lru.length, 1, 'the LRU list is one holder')
  t.equal(lru[0]?.size, 2000, 'of its 2000 entries')
  t.match(lru[0]?.elementShape.join(' | '), /^Entry \{key, value, prev, next\}$/)
  // Its head changes with every insert: compared with what was at its path, it does not grow.
  t.equal(lru[0]?.growthPerSecond, 0, 'its size did not change')
  // Every collection measured, not only those reported: none is a list counted from a node inside the LRU.
  for (const [i, r] of results.entries()) {
    const inside = r.collections.filter((h) => h.kind === 'LinkedList' && /get\(/.test(h.path.join(' → ')))
    t.same(inside.map(describeHolder), [], `search ${i + 1}: no list counted from inside the LRU`)
  }
  // An LRU kept oldest first, met at its head: the head counted from is evicted (its links
  // cleared) before the search ends; the list still continues the one at its path.
  const sessions = last.holders.filter((h) => /^sessions \(SessionLRU, .*\) → \.(head|tail) \(LinkedList\)$/.test(h.path.join(' → ')))
  t.same(sessions.map((h) => [h.size, h.growthPerSecond]), [[1000, 0]], 'the oldest-first LRU: one list of 1000, not growing')
  // A doubly linked list met at a cursor in its middle (as a head is when the program put nodes
  // in front of it between two steps of the walk): counted whole, once, from its first track.
  for (const [i, r] of results.entries()) {
    const tracks = r.collections.filter((h) => h.kind === 'LinkedList' && /^Track /.test(h.elementShape.join()))
    t.same(tracks.map((h) => `${h.path.join(' → ')}: ${h.size}`), [`player (Object, test/fixtures/holders/linked-lru/main.js) → .playing (LinkedList): 500`],
      `search ${i + 1}: the play queue is one list of 500 tracks`)
    if (i > 0) t.equal(tracks[0]?.growthPerSecond, 0, 'its cursor moved; the list did not grow')
  }
  // The ring (64 slots, the last linking to the first) is counted once round, not to the bound.
  const ring = last.holders.find((h) => /^latency \(Object, .*\) → \.current \(LinkedList\)$/.test(h.path.join(' → ')))
  t.equal(ring?.size, 64, 'the ring is 64 nodes')
  t.notOk(last.holders.some((h) => h.size >= 1_000_000), 'no list walked to its bound (a self-link, a ring)')
})

t.test('a chain of closures built once (a middleware pipeline): one list of its links, never growing', async (t) => {
  const { session } = await openFixture(t, 'closure-chain', { STATIC: '1' })
  const results = await searchSeries(session, 3, 1000)
  nothingGrowing(t, results)
  let counted: number | undefined
  for (const [i, r] of results.entries()) {
    const chain = r.holders.find((h) => /^app \(function, .*\) → ‹next› \(in stage\(\), .*\) \(LinkedList\)$/.test(h.path.join(' → ')))
    if (i === 0) {
      // Its 199 links after the first, or as many as one count followed (500 ms; a loaded machine).
      counted = chain?.size
      t.ok(counted === 199 || (counted !== undefined && counted > 32 && r.truncation.includes('closure chains counted in part')), `search 1: ${counted} links`)
    } else {
      t.equal(chain?.size, counted, `search ${i + 1}: the same ${counted} links`)
      t.equal(chain?.growthPerSecond, 0, 'not growing')
    }
    // Known from the search before: its first link is checked at once.
    // A ring of 40 closures: counted once round.
    const ring = r.collections.filter((h) => /→ ‹after› \(in worker\(\), .*\) \(LinkedList\)$/.test(h.path.join(' → ')))
    t.same(ring.map((h) => h.size), [40], `search ${i + 1}: the ring of 40 workers counted once round, once`)
    if (i > 0) t.ok(r.cost.closureChainLinks <= 8, `${r.cost.closureChainLinks} links followed`)
  }
})

t.test('a linked list too long to count within maxListMs: counted in part, not judged, the step still short', async (t) => {
  const { session } = await openFixture(t, 'linked-lru', { BIG_LIST: '3000000' })
  const results = await searchSeries(session, 1, 1000, { maxListMs: 20 })
  for (const r of results) {
    const big = r.holders.find((h) => /^archive \(Object, .*\) → \.first \(LinkedList\)$/.test(h.path.join(' → ')))
    t.comment(big !== undefined ? `${describeHolder(big)} (${big.measuredBy})` : '(not reported)')
    t.equal(big?.measuredBy, 'stale', 'reported as counted in part')
    t.ok((big?.size ?? 0) >= 4096 && (big?.size ?? 0) < 3_000_000, `${big?.size} of 3 000 000 nodes counted`)
    t.equal(big?.growthPerSecond, null, 'its growth is not judged')
    t.ok(r.truncation.includes('linked lists counted in part'), r.truncation.join(', '))
    t.ok(r.cost.longestStepMs < 50, `longest step ${r.cost.longestStepMs.toFixed(1)} ms`)
  }
})

t.test("leakwatch's own agent: its rings are never reported, even reached through its closures", async (t) => {
  const { session } = await openFixture(t, 'agent-own', { AGENT_KEY })
  const results = await searchSeries(session, 3, 1000)
  // (The test harness's own loaders are in the target too: only the agent's objects are checked.)
  for (const [i, r] of results.entries()) {
    const own = r.holders.filter((h) => /^parts |\.state → \.(events|floors)/.test(h.path.join(' → ')))
    t.same(own.map(describeHolder), [], `search ${i + 1}: nothing of the agent`)
  }
})

t.test("Node's own collections are not the app's (the microtask queue, the HTTP parser pool)", async (t) => {
  const { session } = await openFixture(t, 'http-server')
  const results = await searchSeries(session, 2, 500)
  for (const [i, r] of results.entries()) {
    const node = r.holders.filter((h) => /^(parsers \(FreeList|queue \(FixedQueue)/.test(h.path[0] ?? ''))
    t.same(node.map(describeHolder), [], `search ${i + 1}: none of Node's own`)
    t.ok(r.holders.some((h) => /^http \(Object, /.test(h.path[0] ?? '')), "the app's own module variable is still a root")
  }
})
