// Leaky fixtures named by what the walker measures beyond two sizes: turnover, continuity of
// copies and lists, scripts of ES modules, Buffers' stores (split from leaky.test.ts to keep each
// file well under tap's per-file timeout on a loaded machine).
import t from 'tap'
import { scriptUrlsOf } from '../../src/attribution/kept-profile.js'
import type { HeapProfile } from '../../src/attribution/pprof.js'
import { isGrowing } from '../../src/holders/growth.js'
import { describeHolder } from '../../src/holders/report.js'
import type { Holder } from '../../src/holders/types.js'
import { waitFor } from '../helpers/targets.js'
import { openFixture, RecordingSession, search, searchSeries, searchUntil } from './lib.js'

t.test('abort-listeners, only the AbortController kept: named through its private #signal', async (t) => {
  const { session } = await openFixture(t, 'abort-listeners', { HOLD: 'controller' })
  const first = await search(session)
  const { last, holder } = await searchUntil(session, first, (h: Holder) => h.growing)
  t.comment(holder !== undefined ? describeHolder(holder) : '(none growing)')
  t.match(holder?.path.join(' → '), /^shutdown \(AbortController, test\/fixtures\/holders\/abort-listeners\/main\.js\) → \.#signal → \[Symbol\(kEvents\)\] → get\('abort'\) → \.next \(LinkedList\)$/)
  t.equal(holder, last.holders[0], 'named first')
  t.ok(last.cost.privateFieldObjectsOpened >= 1, `${last.cost.privateFieldObjectsOpened} objects opened for private fields`)
})

t.test('closure-chain at 20 000 links a second: more links between two searches than one count follows, growth at least that', async (t) => {
  const { session } = await openFixture(t, 'closure-chain', { RATE: '20000', MAX_ITEMS: '1000000' })
  const first = await search(session)
  const { last, holder } = await searchUntil(session, first, (h: Holder) => h.growing && h.kind === 'LinkedList')
  t.comment(holder !== undefined ? describeHolder(holder) : '(none growing)')
  t.match(holder?.path.join(' → '), /^lastContext \(function, .*\) → ‹previous› \(in createTraceContext\(\), .*\) \(LinkedList\)$/)
  t.ok(last.truncation.includes('closure chains grew beyond one count: growth at least the links counted'), last.truncation.join(', '))
  t.ok(last.cost.closureChainLinks <= 4096, `${last.cost.closureChainLinks} links followed`)
})

t.test('linked-queue, its worker at half the rate, clearing each dequeued link: the queue grows from its end', async (t) => {
  // Its head is dequeued (and unlinked) between the count and the end of a search: the queue still
  // continues the one measured at its path, by the node that was its last.
  const { session } = await openFixture(t, 'linked-queue', { SLOW_WORKER: '1' })
  const first = await search(session)
  const { last, holder } = await searchUntil(session, first, (h: Holder) => h.growing)
  t.comment(holder !== undefined ? describeHolder(holder) : '(none growing)')
  t.match(holder?.path.join(' → '), /^outbox \(Queue, test\/fixtures\/holders\/linked-queue\/main\.js\) → \.(head|tail) \(LinkedList\)$/)
  t.ok((holder?.growthPerSecond ?? 0) > 20, `growth ${holder?.growthPerSecond?.toFixed(1)}/s (~100/s)`)
  t.equal(last.holders.filter((h) => h.growing).length, 1, 'nothing else is called growing')
})

t.test('ghost-subscribers: a Set whose live members churn while ghosts pile up is named by its turnover', async (t) => {
  // ~2 600 subscribers growing by ~50/s, live ones (~100) coming and going: over 4.5 s the Set
  // grows by ~225, within the chance variation of a Set whose every member could have left
  // (4·√(2·2 600) ≈ 290), far beyond that of one whose sampled members stayed.
  const { session } = await openFixture(t, 'ghost-subscribers')
  const first = await search(session)
  const { holder } = await searchUntil(session, first, (h) => h.growing, { spacingMs: 4000, timeoutMs: 20_000 })
  t.comment(holder !== undefined ? `${describeHolder(holder)}; turnover ${JSON.stringify(holder.turnover)}` : '(none growing)')
  t.match(holder?.path.join(' → '), /^hub \(NotificationHub, test\/fixtures\/holders\/ghost-subscribers\/main\.js\) → \.subscribers \(Set\)$/)
  t.match(holder?.elementShape.join(' | '), /^Subscriber \{id, channels, connectedAt, outbox\}$/)
  t.ok(holder?.turnover !== undefined && holder.turnover.sampled === 64 && holder.turnover.gone < 16, `turnover ${JSON.stringify(holder?.turnover)}`)
  // Over the 4.5 s this test is written for; a loaded machine can stretch the interval past it.
  if (holder !== undefined && holder.intervalSeconds <= 5.5) t.notOk(isGrowing(holder.size, holder.previousSize), 'without the turnover the same growth is within churn')
  else t.comment(`interval ${holder?.intervalSeconds.toFixed(1)} s: longer than the 4.5 s the churn comparison is written for`)
})

t.test("dead-consumer: an Array's turnover counts its sampled objects still in it", async (t) => {
  const { session } = await openFixture(t, 'dead-consumer')
  const results = await searchSeries(session, 2, 1000)
  const queue = results[2]?.holders.find((h) => /→ \.jobs \(Array\)$/.test(h.path.join(' → ')))
  t.comment(queue !== undefined ? `${describeHolder(queue)}; turnover ${JSON.stringify(queue.turnover)}` : '(not reported)')
  t.equal(queue?.turnover?.gone, 0, 'no job sampled in the queue has left it')
  t.ok((queue?.turnover?.sampled ?? 0) >= 64, 'at least 64 sampled (all of them up to 256)')
})

t.test("seen-users: a dictionary's turnover counts its sampled keys still in it", async (t) => {
  const { session } = await openFixture(t, 'seen-users')
  const first = await search(session)
  const { holder } = await searchUntil(session, first, (h) => h.growing, { spacingMs: 1500, timeoutMs: 20_000 })
  t.comment(holder !== undefined ? `${describeHolder(holder)}; turnover ${JSON.stringify(holder.turnover)}` : '(none growing)')
  t.match(holder?.path.join(' → '), /^lastSeen \(Object, test\/fixtures\/holders\/seen-users\/main\.js\)$/)
  t.match(holder?.elementShape.join(' | '), /^\{at, ip, agent\}$/)
  t.same(holder?.turnover, { gone: 0, sampled: 64 }, 'no user sampled has left the table')
})

t.test('compacted-series: arrays replaced by filtered copies are compared with what was at their path', async (t) => {
  // Each tenant's samples array is a new object every 100 ms: by identity every search sees it
  // for the first time. At its path (series → get('tenant-3') → .samples) it grows by the pinned
  // fifth of the samples (~80/s).
  const { session } = await openFixture(t, 'compacted-series')
  const first = await search(session)
  const { holder } = await searchUntil(session, first, (h) => h.growing, { spacingMs: 2500 })
  t.comment(holder !== undefined ? describeHolder(holder) : '(none growing)')
  t.match(holder?.path.join(' → '), /^series \(Map, test\/fixtures\/holders\/compacted-series\/main\.js\) → get\(…\) → \.samples \(Array\)$/)
  t.equal(holder?.members, 12, 'the 12 tenants, not the copies they replaced')
})

t.test('ES module: the scripts of a heap profile name its file', async (t) => {
  const { session } = await openFixture(t, 'esm/main.mjs')
  await session.send('HeapProfiler.startSampling', { samplingInterval: 512 }, 5000)
  const first = await search(session)
  // The profile lists the scripts of the frames that allocated what is still alive: wait until
  // the module's allocations have been sampled.
  const urls = await waitFor(
    async () => {
      const { profile } = (await session.send('HeapProfiler.getSamplingProfile', {}, 5000)) as { profile: HeapProfile }
      const found = scriptUrlsOf(profile)
      return [...found.values()].some((url) => url.endsWith('/esm/main.mjs')) && found
    },
    { timeoutMs: 15_000, intervalMs: 250, what: 'a heap profile naming the module' },
  )
  await session.send('HeapProfiler.stopSampling', {}, 5000)
  // Without them the file is unknown (the case above); with them it is named.
  const { holder, last } = await searchUntil(session, first, (h) => h.growing, { options: { scriptUrls: urls } })
  t.match(holder?.path.join(' → '), /^pending \(Map, test\/fixtures\/holders\/esm\/main\.mjs\)$/)
  t.equal(last.cost.scriptListMs, null, 'named by the profile: no script listing')
})

t.test('ES module without a profile: the scripts are listed once, through the Debugger domain, left off', async (t) => {
  const { session } = await openFixture(t, 'esm/main.mjs')
  const recording = new RecordingSession(session)
  const first = await search(recording)
  const debuggerCalls = (): string[] => recording.calls.map((c) => c.method).filter((m) => m.startsWith('Debugger.'))
  t.same(debuggerCalls(), ['Debugger.enable', 'Debugger.setSkipAllPauses', 'Debugger.disable'], 'enable, skip pauses, disable')
  t.ok(first.cost.scriptListMs !== null && first.cost.scriptListMs > 0, `listing took ${first.cost.scriptListMs?.toFixed(1)} ms`)
  t.ok(first.cost.longestCallMs >= (first.cost.scriptListMs ?? 0), 'and bounds the longest call')
  t.ok(first.scriptsListedUpTo !== null && first.scriptsListedUpTo > 0)
  const { last } = await searchUntil(recording, first, (h) => h.growing)
  t.same(debuggerCalls().length, 3, 'not listed again in the same process')
  t.equal(last.cost.scriptListMs, null)
  t.match(last.holders[0]?.path.join(' → '), /^pending \(Map, test\/fixtures\/holders\/esm\/main\.mjs\)$/)
  // Left enabled, the debugger would stop at this statement and the evaluation would time out.
  t.equal(await session.evaluate('(() => { debugger; return 1 })()', 3000), 1, 'the debugger is off again')
})

t.test('ES module, a session without protocol events: the variable is named, its script by id', async (t) => {
  const { session } = await openFixture(t, 'esm/main.mjs')
  const plain = { evaluate: session.evaluate.bind(session), send: session.send.bind(session) }
  const first = await search(plain)
  const { last, holder } = await searchUntil(plain, first, (h) => h.growing)
  t.equal(last.cost.scriptListMs, null)
  t.match(holder?.path.join(' → '), /^pending \(Map, module of (a function|handle\(\)) at script \d+:\d+\)$/)
})

t.test('buffers: retained bytes count the Buffers', async (t) => {
  const { session } = await openFixture(t, 'buffers', { CHUNK_BYTES: '16384' })
  const first = await search(session)
  const { holder } = await searchUntil(session, first, (h) => h.growing && h.size >= 100)
  t.ok(holder !== undefined)
  t.ok((holder?.retainedBytes ?? 0) >= (holder?.size ?? 0) * 16384, `~${holder?.retainedBytes} bytes for ${holder?.size} Buffers of 16 KiB`)
  t.match(holder?.retainedBytesMethod, /sampled elements/)
})

t.test("buffers POOLED=1: small Buffers cut from Node's 8 KiB pool add pool slabs as they leak: named growing", async (t) => {
  // ~60-byte payloads, ~130 to a slab: each search a second apart finds ~100 more on a slab or two
  // it did not view before (growth.ts viewsOntoSameStores).
  const { session } = await openFixture(t, 'buffers', { POOLED: '1' })
  const first = await search(session)
  const { holder, searches } = await searchUntil(session, first, (h) => h.growing && h.kind === 'BufferArray')
  t.comment(holder !== undefined ? `search ${searches}: ${describeHolder(holder)}; backing ${JSON.stringify(holder.backing)}` : '(not named)')
  t.match(holder?.path.join(' → '), /^chunks \(Array, test\/fixtures\/holders\/buffers\/src\/recorder\.js\)$/)
  t.ok((holder?.backing?.storeBytes ?? 0) > 0, 'its stores were measured')
  t.ok(searches <= 3, `named at search ${searches}`)
})

t.test('buffers STAGE_MS: Buffers kept after a staging array held them are new memory: named growing', async (t) => {
  // Each batch the recorder keeps was held by the staging array at the search before (2.5 s of
  // payloads, searches a second apart): stores another Array of Buffers held earlier but does not
  // hold now are new to the one that keeps them (growth.ts viewsOntoSameStores).
  const { session } = await openFixture(t, 'buffers', { STAGE_MS: '2500' })
  const first = await search(session)
  const { holder, searches } = await searchUntil(session, first, (h) => h.growing && /recorder\.js/.test(h.path.join(' → ')))
  t.comment(holder !== undefined ? `search ${searches}: ${describeHolder(holder)}; backing ${JSON.stringify(holder.backing)}` : '(not named)')
  t.match(holder?.path.join(' → '), /^chunks \(Array, test\/fixtures\/holders\/buffers\/src\/recorder\.js\)$/)
  t.equal(holder?.backing?.heldElsewhereBytes, 0, 'none of its stores counted as held elsewhere')
  t.ok((holder?.backing?.onNewStoresBytes ?? 0) > 0, 'its new members are on stores new to it')
})

t.test('a linked queue too long to count in one step: counted on in the next slices, named growing', async (t) => {
  // 300 000 jobs queued behind the hung worker, 20 000 more a second: one step counts a few tens
  // of thousands of nodes (10 ms); the rest are counted at the start of the next slices.
  const { session } = await openFixture(t, 'linked-queue', { PREFILL: '300000', RATE: '20000', MAX_ITEMS: '2000000' })
  const first = await search(session)
  const { last, holder } = await searchUntil(session, first, (h) => h.growing && h.kind === 'LinkedList')
  t.comment(holder !== undefined ? describeHolder(holder) : '(not named)')
  t.match(holder?.path.join(' → '), /^outbox \(Queue, test\/fixtures\/holders\/linked-queue\/main\.js\) → \.head \(LinkedList\)$/)
  t.ok((holder?.size ?? 0) >= 300_000, `${holder?.size} nodes counted`)
  t.equal(holder?.measuredBy, 'walk', 'counted whole')
  t.notOk(last.truncation.includes('linked lists counted in part'), last.truncation.join(', '))
  t.ok(last.cost.longestStepMs < 50, `longest step ${last.cost.longestStepMs.toFixed(1)} ms`)
})

t.test('the same long queue with a slow worker unlinking the jobs it takes: its continuity found deep in it, named growing', async (t) => {
  // The queue's first node changes at every search: it continues the list measured before through
  // that list's last node, ~300 000 nodes in, met while the count goes on in later slices.
  const { session } = await openFixture(t, 'linked-queue', { PREFILL: '300000', RATE: '20000', MAX_ITEMS: '2000000', SLOW_WORKER: '1' })
  const first = await search(session)
  const { holder } = await searchUntil(session, first, (h) => h.growing && h.kind === 'LinkedList', { spacingMs: 2000 })
  t.comment(holder !== undefined ? describeHolder(holder) : '(not named)')
  t.match(holder?.path.join(' → '), /^outbox \(Queue, test\/fixtures\/holders\/linked-queue\/main\.js\) → \.head \(LinkedList\)$/)
  t.ok((holder?.size ?? 0) >= 300_000, `${holder?.size} nodes counted`)
})

t.test("leaked-intervals: a timer list's turnover counts its Timeouts still armed", async (t) => {
  // Intervals never cleared: each is re-armed, the same Timeout, every 30 s; none leaves its list.
  const { session } = await openFixture(t, 'leaked-intervals', { RATE: '50' })
  const results = await searchSeries(session, 2, 1000)
  const list = results[2]?.holders.find((h) => h.kind === 'Timers' && /setInterval\(30000 ms\)/.test(h.path.join(' → ')))
  t.comment(list !== undefined ? `${describeHolder(list)}; turnover ${JSON.stringify(list.turnover)}` : '(not reported)')
  t.equal(list?.turnover?.gone, 0, 'no Timeout sampled in the list has left it')
  t.ok((list?.turnover?.sampled ?? 0) >= 16, `${list?.turnover?.sampled} sampled along the list`)
  t.equal(list?.growing, true)
})
