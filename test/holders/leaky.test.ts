// The growing holder of each leaky fixture program (test/fixtures/holders/README.md) is found,
// ranked first, with a readable path and the shape of its elements.
import t from 'tap'
import { describeHolder } from '../../src/holders/report.js'
import type { Holder, HolderKind } from '../../src/holders/types.js'
import { openFixture, search, searchUntil } from './lib.js'

interface Expectation {
  readonly fixture: string
  readonly path: RegExp
  readonly kind: HolderKind
  readonly shape: RegExp
}

const CASES: readonly Expectation[] = [
  {
    fixture: 'broker',
    path: /^subscribers \(Map, test\/fixtures\/holders\/broker\/src\/broker\.js\) → get\('b'\) → \.q \(Array\)$/,
    kind: 'Array',
    shape: /^\{seq, channel, payload, at\}$/,
  },
  {
    fixture: 'sessions',
    path: /store.* → \.sessions \(Map\)$/,
    kind: 'Map',
    shape: /^Session \{id, user, createdAt, history\}$/,
  },
  {
    fixture: 'listeners',
    path: /^bus \(EventEmitter, test\/fixtures\/holders\/listeners\/src\/(bus|connections)\.js\) → \._events → \.config \(Array\)$/,
    kind: 'Array',
    shape: /^function/,
  },
  {
    fixture: 'dep-cache',
    path: /^memo \(Map, node_modules\/tiny-memo\/index\.js\)$/,
    kind: 'Map',
    shape: /^\{sku, requestId, price, currency, computedAt\}$/,
  },
  {
    fixture: 'buffers',
    path: /^chunks \(Array, test\/fixtures\/holders\/buffers\/src\/recorder\.js\)$/,
    kind: 'BufferArray',
    shape: /^Buffer\(4096\)$/,
  },
  {
    fixture: 'dead-consumer',
    path: /^queue \(JobQueue, test\/fixtures\/holders\/dead-consumer\/main\.js\) → \.jobs \(Array\)$/,
    kind: 'Array',
    shape: /^\{id, payload, attempts\}$/,
  },
  {
    fixture: 'closure-timer',
    path: /^timers → setInterval\(20 ms\) → \._onTimeout → ‹tracker› .* → \.start → ‹pending› \(in makeTracker\(\), test\/fixtures\/holders\/closure-timer\/main\.js:\d+\) \(Map\)$/,
    kind: 'Map',
    shape: /^\{route, startedAt, retries\}$/,
  },
  {
    // No collection of the program's grows: Node's list of 30-second timers does.
    fixture: 'leaked-intervals',
    path: /^timers → setInterval\(30000 ms\) \(Timers\)$/,
    kind: 'Timers',
    shape: /^Timeout\(function at test\/fixtures\/holders\/leaked-intervals\/main\.js:11\)$/,
  },
  {
    // A queue kept as a linked list (as fastq and yocto-queue keep theirs) whose worker hung.
    fixture: 'linked-queue',
    path: /^outbox \(Queue, test\/fixtures\/holders\/linked-queue\/main\.js\) → \.head \(LinkedList\)$/,
    kind: 'LinkedList',
    shape: /^Node \{value, next\}$/,
  },
  {
    // Listeners never removed from a long-lived AbortSignal: Node keeps an EventTarget's listeners as a linked list.
    fixture: 'abort-listeners',
    path: /^signal \(AbortSignal, test\/fixtures\/holders\/abort-listeners\/main\.js\) → \[Symbol\(kEvents\)\] → get\('abort'\) → \.next \(LinkedList\)$/,
    kind: 'LinkedList',
    shape: /^Listener \{/,
  },
  {
    // A tracker's Map in a private field (#inflight) of a parent class: only the inspector lists it.
    fixture: 'private-fields',
    path: /^tracker \(TimedTracker, test\/fixtures\/holders\/private-fields\/main\.js\) → \.#inflight \(Map\)$/,
    kind: 'Map',
    shape: /^\{route, startedAt, attempt\}$/,
  },
  {
    // A tracer whose request contexts close over the previous one: a chain of closures, followed through [[Scopes]].
    fixture: 'closure-chain',
    path: /^lastContext \(function, test\/fixtures\/holders\/closure-chain\/main\.js\) → ‹previous› \(in createTraceContext\(\), test\/fixtures\/holders\/closure-chain\/main\.js:14\) \(LinkedList\)$/,
    kind: 'LinkedList',
    shape: /^closure \{previous, span\}$/,
  },
  {
    // A log forwarder's backlog kept in one string it appends to: no collection grows, the string does.
    fixture: 'string-backlog',
    path: /^pending \(String, test\/fixtures\/holders\/string-backlog\/main\.js\)$/,
    kind: 'String',
    shape: /^characters$/,
  },
  {
    // ES modules are not in require.cache: the file comes from the Debugger domain's script list.
    fixture: 'esm/main.mjs',
    path: /^pending \(Map, test\/fixtures\/holders\/esm\/main\.mjs\)$/,
    kind: 'Map',
    shape: /^\{route, startedAt\}$/,
  },
]

for (const c of CASES) {
  t.test(`${c.fixture}: the growing holder is named first`, async (t) => {
    const { session } = await openFixture(t, c.fixture)
    const first = await search(session)
    t.comment(`first search: ${first.cost.objectsVisited} objects, ${first.cost.functionsOpened} functions, truncated: ${first.truncation.join(', ') || 'no'}`)
    const { last, holder } = await searchUntil(session, first, (h: Holder) => h.growing)
    t.ok(holder !== undefined, 'a growing holder was reported')
    const top = last.holders[0]
    t.ok(top?.growing, 'the first holder is growing')
    t.comment(`${c.fixture}: ${top !== undefined ? describeHolder(top) : '(none)'}`)
    t.comment(`cost: ${JSON.stringify(last.cost)}`)
    t.match(top?.path.join(' → '), c.path)
    t.equal(top?.pathComplete, true)
    t.equal(top?.kind, c.kind)
    t.match(top?.elementShape.join(' | '), c.shape)
    t.ok((top?.growthPerSecond ?? 0) > 10, `growth ${top?.growthPerSecond?.toFixed(1)}/s`)
    t.ok((top?.retainedBytes ?? 0) > 0)
    t.equal(last.holders.filter((h) => h.growing).length, 1, 'nothing else is called growing')
    t.ok(last.cost.longestSliceMs < 50, `longest slice in the target ${last.cost.longestSliceMs.toFixed(1)} ms`)
    t.ok(last.cost.targetCpuMs !== undefined)
  })
}
