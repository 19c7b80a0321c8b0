import { readFileSync } from 'node:fs'
import t from 'tap'
import { searchHolders } from '../../src/holders/search.js'
import type { HolderSearchDone } from '../../src/holders/types.js'
import { HOLDER_FN_GROUP, HOLDER_OBJECT_GROUP } from '../../src/holders/walker.js'
import { RecordingSession, ReplaySession, type RecordedCall } from './lib.js'

interface Transcript {
  first: RecordedCall[]
  second: RecordedCall[]
  results: [HolderSearchDone, HolderSearchDone]
}
const load = (): Transcript =>
  JSON.parse(readFileSync(new URL('../fixtures/holders/replies/broker.json', import.meta.url), 'utf8')) as Transcript

t.test('the driver replays a recorded pair of searches call for call', async (t) => {
  const { first, second, results } = load()
  const replayFirst = new ReplaySession(first)
  const a = await searchHolders(replayFirst, {})
  t.equal(replayFirst.remaining, 0, 'every recorded call of the first search was made, in order')
  t.equal(a.status, 'done')
  const replaySecond = new ReplaySession(second)
  const b = await searchHolders(replaySecond, {}, a)
  t.equal(replaySecond.remaining, 0)
  if (b.status !== 'done') throw new Error('second search not done')
  t.same(
    b.holders.map((h) => [h.id, h.path, h.kind, h.size, h.growing, h.elementShape]),
    results[1].holders.map((h) => [h.id, h.path, h.kind, h.size, h.growing, h.elementShape]),
    'same holders as the live run',
  )
  t.ok(b.holders[0]?.growing, 'the growing holder first')
})

t.test('only Runtime methods, one at a time, groups released, the state ended', async (t) => {
  const { first } = load()
  const session = new RecordingSession(new ReplaySession(first))
  await searchHolders(session, {})
  t.same(
    [...session.methods()].sort(),
    ['Runtime.callFunctionOn', 'Runtime.evaluate', 'Runtime.getHeapUsage', 'Runtime.getProperties', 'Runtime.releaseObjectGroup'],
  )
  t.equal(session.maxInFlight, 1, 'never two calls in flight')
  const released = session.calls.filter((c) => c.method === 'Runtime.releaseObjectGroup').map((c) => c.params.objectGroup)
  t.ok(released.includes(HOLDER_OBJECT_GROUP))
  t.ok(released.includes(HOLDER_FN_GROUP))
  const ends = session.calls.filter((c) => c.method === 'Runtime.evaluate' && String(c.params.expression).includes('.end()'))
  t.equal(ends.length, 1, 'the search state is dropped in the target')
})

t.test('a walker that throws becomes a coded error, and the state is still ended', async (t) => {
  const { first } = load()
  // Make the first step reply an exception.
  const broken = first.map((c) =>
    c.method === 'Runtime.evaluate' && String(c.params.expression).includes('.step(8)')
      ? { ...c, reply: { exceptionDetails: { text: 'Uncaught', exception: { description: 'TypeError: boom\n at x' } } } }
      : c,
  )
  const cut = broken.findIndex((c) => (c.reply as { exceptionDetails?: unknown }).exceptionDetails !== undefined)
  t.ok(cut > 0)
  const tail: RecordedCall[] = [
    { method: 'Runtime.evaluate', params: first.find((c) => String(c.params.expression).includes('.end()'))!.params, reply: { result: { value: { ok: true } } } },
    { method: 'Runtime.releaseObjectGroup', params: { objectGroup: HOLDER_OBJECT_GROUP }, reply: {} },
    { method: 'Runtime.releaseObjectGroup', params: { objectGroup: HOLDER_FN_GROUP }, reply: {} },
  ]
  const session = new ReplaySession([...broken.slice(0, cut + 1), ...tail])
  await t.rejects(searchHolders(session, {}), { code: 'LW_ERR_HOLDER_SEARCH', message: /TypeError: boom/ })
  t.equal(session.remaining, 0, 'end and both releases were sent after the failure')
})

t.test('malformed replies are coded errors, not crashes', async (t) => {
  const { first } = load()
  const hostile = first.map((c, i) => (i === 0 ? { ...c, reply: { result: { value: { ok: true, installId: 5 } } } } : c))
  await t.rejects(searchHolders(new ReplaySession(hostile), {}), { code: 'LW_ERR_HOLDER_SEARCH', message: /malformed/ })
})

t.test('refusals: headroom (without touching the target), busy, unsupported', async (t) => {
  const untouched = new RecordingSession(new ReplaySession([]))
  const refused = await searchHolders(untouched, { headroomBytes: 10 * 1024 * 1024 })
  t.match(refused, { status: 'refused', code: 'LW_ERR_HOLDER_SEARCH_REFUSED', reason: 'headroom', headroomBytes: 10 * 1024 * 1024 })
  t.match(refused.status === 'refused' ? refused.message : '', /10\.0 MiB left .* needs 64\.0 MiB/)
  t.equal(untouched.calls.length, 0, 'no call was made')
  const enough = await searchHolders(new ReplaySession([]), { headroomBytes: 1e6, requiredHeadroomBytes: 5e5 }).catch((e: Error) => e)
  t.match(enough, { message: /replay: no recorded call left/ }, 'enough headroom: the search starts')

  const { first } = load()
  const beginAt = first.findIndex((c) => String(c.params.expression).includes('.begin('))
  const busy = first.slice(0, beginAt + 1).map((c) =>
    String(c.params.expression).includes('.begin(') ? { ...c, reply: { result: { value: { ok: false, busy: true } } } } : c,
  )
  t.match(await searchHolders(new ReplaySession(busy), {}), { status: 'refused', reason: 'busy' })

  const old = [{ ...first[0]!, reply: { result: { value: { ok: false, reason: 'the walker needs util.types' } } } }]
  t.match(await searchHolders(new ReplaySession(old), {}), { status: 'refused', reason: 'unsupported', message: /util\.types/ })
})
