// Between searches the sidecar samples the tracked collections' sizes at each poll (the walker's
// `sample`); a buffer emptied and refilled between two searches is then told from growth, however
// its sizes at the two searches fall in its cycle (holders/growth.ts `Floors`).
import t from 'tap'
import { describeHolder } from '../../src/holders/report.js'
import { sampleHolders } from '../../src/holders/sample.js'
import type { Holder } from '../../src/holders/types.js'
import { waitFor } from '../helpers/targets.js'
import { openFixture, search } from './lib.js'

const CYCLE_MS = 4000
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const rooted = (holders: readonly Holder[], root: RegExp): Holder | undefined => holders.find((h) => root.test(h.path[0] ?? ''))

t.test('counters pushed and cleared every cycle: not growing, whatever the searches saw; the leak beside them is', async (t) => {
  const { target, session } = await openFixture(t, 'flushed-counters', { CYCLE_MS: String(CYCLE_MS) })
  const pushes = (): number => (target.stdout().match(/^pushed /gm) ?? []).length
  /** Resolves `delayMs` after the target's next push to the limiter. */
  const afterNextPush = async (delayMs: number): Promise<void> => {
    const n = pushes()
    await waitFor(() => pushes() > n, { timeoutMs: 3 * CYCLE_MS, intervalMs: 10, what: 'the next push' })
    await pause(delayMs)
  }

  t.equal(await sampleHolders(session, 2000), null, 'no walker in the process yet: nothing to sample')
  await afterNextPush(300)
  const first = await search(session)
  const before = rooted(first.holders, /^pendingHits \(Map, /)
  t.ok(before !== undefined, 'the counters are measured early in a cycle')

  // The polls between the searches (every 100 ms here), through the next push, to late in the cycle after.
  let samples = 0
  const pushCount = pushes()
  let lateAt = Number.POSITIVE_INFINITY
  const polling = (async () => {
    for (let stop = false; !stop; ) {
      const sample = await sampleHolders(session, 2000)
      if (sample !== null && sample.sampled > 0) samples += 1
      await pause(100)
      stop = pushes() >= pushCount + 1 && Date.now() >= lateAt
    }
  })()
  await afterNextPush(0)
  lateAt = Date.now() + CYCLE_MS * 0.7
  await polling
  t.ok(samples >= 10, `${samples} samples between the searches`)

  const second = await search(session, {}, first)
  const pending = rooted(second.holders, /^pendingHits \(Map, /)
  const seen = rooted(second.holders, /^seenClients \(Set, /)
  t.comment(pending !== undefined ? describeHolder(pending) : '(pendingHits not reported)')
  t.comment(seen !== undefined ? describeHolder(seen) : '(seenClients not reported)')
  if (pending === undefined || pending.previousSize === null) throw new Error('pendingHits was not measured at both searches')
  t.ok(pending.size - pending.previousSize > 400, `the searches saw it at ${pending.previousSize} and at ${pending.size}: two sizes alone would call it growing`)
  t.ok(pending.floors !== undefined && pending.floors.low < 150, `its lowest size in between: ${JSON.stringify(pending.floors)}`)
  t.equal(pending.growing, false, 'not growing: it was emptied in between')
  t.match(describeHolder(pending), /fell to \d+ between searches/)
  t.equal(seen?.growing, true, 'the set of every client seen is growing')
  t.ok(seen?.floors !== undefined && seen.floors.low === seen.previousSize, 'sampled too, and never below its previous size')
})

t.test('a Map that gained 75 tenants early in the interval and kept its size since: not growing now; the trail still growing is', async (t) => {
  // Onboarding runs from 1 s to 4 s after start; the polls go on every 100 ms until 12 s, and
  // the second search sees +75 tenants, none of them added in the last two thirds of the interval.
  const { session } = await openFixture(t, 'tenant-onboarding')
  const first = await search(session)
  const until = first.at + 12_000
  let samples = 0
  while (Date.now() < until) {
    const sample = await sampleHolders(session, 2000)
    if (sample !== null && sample.sampled > 0) samples += 1
    await pause(100)
  }
  const second = await search(session, {}, first)
  const tenants = rooted(second.holders, /^tenants \(Map, /)
  const trail = rooted(second.holders, /^auditTrail \(Array, /)
  t.comment(`${samples} samples; ${tenants !== undefined ? describeHolder(tenants) : '(tenants not reported)'} | ${trail !== undefined ? describeHolder(trail) : '(auditTrail not reported)'}`)
  if (tenants === undefined || tenants.previousSize === null) throw new Error('tenants was not measured at both searches')
  t.ok(tenants.size - tenants.previousSize >= 32, `it gained ${tenants.size - tenants.previousSize} tenants between the searches`)
  t.ok((tenants.floors?.rises ?? 0) >= 10 && (tenants.floors?.flatShare ?? 0) > 0.5, `rose at ${tenants.floors?.rises} polls, none in the last ${tenants.floors?.flatShare}`)
  t.equal(tenants.growing, false, 'not growing: it stopped rising long before the search')
  t.match(describeHolder(tenants), /no new high in the last \d+ % of the interval/)
  t.equal(trail?.growing, true, 'the audit trail, rising at every poll, is growing')
})
