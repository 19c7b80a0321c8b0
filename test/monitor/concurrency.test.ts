import t from 'tap'
import { PollLimiter, type Release } from '../../src/monitor/concurrency.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('at most `limit` slots are held; the others wait in FIFO order', async (t) => {
  const limiter = new PollLimiter(2)
  const order: number[] = []
  const releases = new Map<number, Release>()
  const take = (id: number): Promise<void> =>
    limiter.acquire().then((release) => {
      t.ok(release, `slot for ${id}`)
      order.push(id)
      releases.set(id, release!)
    })
  const all = [1, 2, 3, 4, 5].map(take)
  await tick()
  t.same(order, [1, 2], 'two run at once')
  t.same({ inUse: limiter.stats().inUse, waiting: limiter.stats().waiting }, { inUse: 2, waiting: 3 })
  releases.get(2)!()
  releases.get(2)!() // idempotent: frees one slot only
  await tick()
  t.same(order, [1, 2, 3], 'the oldest waiter gets the freed slot')
  t.equal(limiter.stats().inUse, 2)
  // A newcomer does not overtake the queue even when a slot is momentarily free.
  releases.get(1)!()
  const late = take(6)
  await tick()
  t.same(order, [1, 2, 3, 4])
  for (const id of [3, 4]) releases.get(id)!()
  await tick()
  t.same(order, [1, 2, 3, 4, 5, 6])
  for (const id of [5, 6]) releases.get(id)!()
  await Promise.all([...all, late])
  const stats = limiter.stats()
  t.same(
    { inUse: stats.inUse, waiting: stats.waiting, maxInUse: stats.maxInUse, maxWaiting: stats.maxWaiting, granted: stats.granted },
    { inUse: 0, waiting: 0, maxInUse: 2, maxWaiting: 3, granted: 6 },
  )
  t.ok(stats.waitMsTotal > 0, `the four queued polls waited (${stats.waitMsTotal.toFixed(3)} ms in all)`)
})

t.test('a waiter that aborts leaves the queue and never gets a slot', async (t) => {
  const limiter = new PollLimiter(1)
  const first = await limiter.acquire()
  const abort = new AbortController()
  const waiting = limiter.acquire(abort.signal)
  const next = limiter.acquire()
  abort.abort()
  t.equal(await waiting, undefined, 'resolved without a slot')
  t.equal(limiter.stats().waiting, 1)
  first!()
  const release = await next
  t.ok(release, 'the slot went to the next waiter')
  t.equal(limiter.stats().inUse, 1)
  release!()
  t.equal(limiter.stats().inUse, 0)
  t.equal(limiter.stats().abandoned, 1)
  const already = new AbortController()
  already.abort()
  t.equal(await limiter.acquire(already.signal), undefined, 'an aborted signal never queues')
  t.equal(limiter.stats().abandoned, 2)
  // Aborting after the grant changes nothing.
  const late = new AbortController()
  const held = await limiter.acquire(late.signal)
  late.abort()
  t.equal(limiter.stats().inUse, 1)
  held!()
  t.equal(limiter.stats().inUse, 0)
})

t.test('the limit must be a positive integer', async (t) => {
  for (const bad of [0, -1, 1.5, Number.NaN]) t.throws(() => new PollLimiter(bad), RangeError)
})
