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
