// When the analysis buys a heap floor (a forced major GC): only while V8's own major GCs are
// rare, the window is short of floors, and growth is possible.
import t from 'tap'
import { BusyShares, gcSeconds, heapStarved, shareSince, type StarvationInputs } from '../../src/leak/starved.js'

const MB = 1024 * 1024
const base: StarvationInputs = {
  nowMs: 600_000,
  lastMajorGcMs: undefined,
  floorWindowMs: 60_000,
  windowFloors: [],
  minPoints: 12,
  rssGrows: false,
  usedLately: [],
  reference: undefined,
  minSlopeBytesPerSecond: 1024,
}

t.test('no floor yet: the heap used, at its lowest lately, above the first reading by more than the smallest slope adds', async (t) => {
  // A leak fast from its start (600 MB/h): no major GC in ten minutes, heap used 20 -> 100 MB.
  const fast = { ...base, usedLately: [100 * MB, 104 * MB, 101 * MB], reference: { timeMs: 0, value: 20 * MB } }
  t.equal(heapStarved(fast), true)
  // A quiet heap: garbage comes and goes, its lowest reading is where it started.
  t.equal(heapStarved({ ...fast, usedLately: [20 * MB, 35 * MB, 28 * MB] }), false)
  // 1 KiB/s over 600 s adds 600 KiB: 500 KiB above is not enough, 700 KiB is.
  t.equal(heapStarved({ ...fast, usedLately: [20 * MB + 500 * 1024] }), false)
  t.equal(heapStarved({ ...fast, usedLately: [20 * MB + 700 * 1024] }), true)
  // Nothing read lately, or nothing to compare with.
  t.equal(heapStarved({ ...fast, usedLately: [] }), false)
  t.equal(heapStarved({ ...fast, reference: undefined }), false)
})

t.test('never while major GCs come on their own, or the window has the floors it wants', async (t) => {
  const starved = { ...base, usedLately: [100 * MB], reference: { timeMs: 0, value: 20 * MB } }
  t.equal(heapStarved({ ...starved, lastMajorGcMs: 600_000 - 179_000 }), false, 'a major GC within three floor windows')
  t.equal(heapStarved({ ...starved, lastMajorGcMs: 600_000 - 181_000 }), true)
  t.equal(heapStarved({ ...starved, windowFloors: new Array(12).fill(20 * MB) }), false, '12 floors in the window')
})

t.test('rising floors, or RSS rising, are reason enough', async (t) => {
  t.equal(heapStarved({ ...base, windowFloors: [20 * MB, 21 * MB] }), true)
  t.equal(heapStarved({ ...base, windowFloors: [21 * MB, 20 * MB] }), false)
  t.equal(heapStarved({ ...base, windowFloors: [20 * MB] }), false, 'one floor is no trend')
  t.equal(heapStarved({ ...base, rssGrows: true }), true)
})

t.test("the GC's share of the time between two polls", async (t) => {
  const histogram = (sum: number) => ({ key: 'gcDuration', labels: { kind: 'major' }, buckets: [], count: 1, sum }) as never
  t.equal(gcSeconds([]), undefined)
  t.equal(gcSeconds([histogram(0.5), histogram(0.25), { key: 'heapUsed', value: 1 } as never]), 0.75)
  t.equal(shareSince(undefined, 1000, 1), 0)
  t.ok(Math.abs(shareSince({ timeMs: 0, seconds: 1 }, 1000, 1.1) - 0.1) < 1e-9, 'a tenth of the second')
  t.equal(shareSince({ timeMs: 0, seconds: 1 }, 1000, 0.5), 0, 'a sum that went back: a new observer')
  t.equal(shareSince({ timeMs: 0, seconds: 0 }, 1000, 5), 1, 'at most all of the time')
})

t.test('what the load leaves out: GC pauses since the previous poll', async (t) => {
  const histogram = (sum: number) => ({ key: 'gcDuration', labels: { kind: 'major' }, buckets: [], count: 1, sum }) as never
  const busy = new BusyShares()
  t.equal(busy.since(0, [histogram(1)]), 0, 'nothing to compare with at the first poll')
  t.ok(Math.abs(busy.since(1000, [histogram(1.05)]) - 0.05) < 1e-9, '50 ms of GC in one second')
  t.equal(busy.since(2000, []), 0, 'no GC histograms: unknown')
  t.ok(Math.abs(busy.since(3000, [histogram(1.05)])) < 1e-9, 'an idle stretch')
  busy.reset()
  t.equal(busy.since(4000, [histogram(0.01)]), 0, 'after a restart, GC starts over')
})

t.test('a raised heap leak the fast path cannot judge buys floors, spread over the window', async (t) => {
  // A cache that filled under a raised verdict: 4 floors in the 30-min window, V8's own major
  // GCs every ~15 min (not rare), nothing rising. Without floors the verdict is held for good.
  const plateau = {
    ...base,
    nowMs: 10_000_000,
    windowMs: 1_800_000,
    lastMajorGcMs: 10_000_000 - 60_000,
    windowFloors: [60 * MB, 60 * MB, 60 * MB, 60 * MB],
    reference: { timeMs: 10_000_000 - 200_000, value: 60 * MB },
  }
  t.equal(heapStarved(plateau), false, 'not raised and unjudged: no reason to buy')
  t.equal(heapStarved({ ...plateau, raisedUnjudged: true }), true, 'raised and unjudged: buy')
  t.equal(heapStarved({ ...plateau, raisedUnjudged: true, reference: { timeMs: 10_000_000 - 100_000, value: 60 * MB } }), false, 'the last floor is under window ÷ minPoints (150 s) old')
})

t.test('a window short of floors whose slope estimate is worth raising buys floors, spread over the window', async (t) => {
  // The log shipper's retry list (~5 MiB/h): a major GC of its own every ~5 minutes (not rare),
  // 9 floors in the 30-min window, slope estimate 1.4 KiB/s against 1 KiB/s worth raising.
  const shipper = {
    ...base,
    nowMs: 10_000_000,
    windowMs: 1_800_000,
    lastMajorGcMs: 10_000_000 - 60_000,
    windowFloors: [20, 20.1, 20.3, 20.2, 20.5, 20.6, 20.6, 20.9, 21].map((m) => m * MB),
    reference: { timeMs: 10_000_000 - 200_000, value: 21 * MB },
  }
  t.equal(heapStarved(shipper), false, 'no slope estimate yet: V8 GCs often enough')
  t.equal(heapStarved({ ...shipper, windowSlopeBytesPerSecond: 1400 }), true, 'growth worth raising, unproven: buy')
  t.equal(heapStarved({ ...shipper, windowSlopeBytesPerSecond: 600 }), false, 'an estimate under the smallest slope worth raising')
  t.equal(heapStarved({ ...shipper, windowSlopeBytesPerSecond: Number.NaN }), false, 'no estimate')
  t.equal(heapStarved({ ...shipper, windowSlopeBytesPerSecond: 1400, windowFloors: new Array(12).fill(20 * MB) }), false, 'the window has its 12 floors')
  t.equal(
    heapStarved({ ...shipper, windowSlopeBytesPerSecond: 1400, reference: { timeMs: 10_000_000 - 100_000, value: 21 * MB } }),
    false,
    'the last floor is under window ÷ minPoints (150 s) old',
  )
  t.equal(heapStarved({ ...shipper, windowSlopeBytesPerSecond: 1400, windowMs: undefined }), false, 'no window to spread over')
})

t.test("the slow path's last third short of floors, slow growth worth raising: a floor a bucket", async (t) => {
  // A 4-h slow window of 6 2/3-min buckets (12 in its last third), 0.15 KiB/s worth raising; V8
  // collects every ~15 min, so the last third holds 5 floors of a ~2.9 MiB/h leak (0.8 KiB/s).
  const H = 3_600_000
  const nowMs = 6 * H
  const bucketMs = (4 * H) / 36
  const floors = Array.from({ length: 24 }, (_, i) => {
    const timeMs = nowMs - i * 15 * 60_000
    return { timeMs, value: 20 * MB + (timeMs / 1000) * 800 }
  }).reverse()
  const slow = { floors, windowMs: 4 * H, bucketMs, minSlopeBytesPerSecond: 150 }
  const leak = {
    ...base,
    nowMs,
    windowMs: 1_800_000,
    lastMajorGcMs: nowMs - 5 * 60_000,
    windowFloors: [20, 20].map((m) => m * MB),
    reference: { timeMs: nowMs - 8 * 60_000, value: 21 * MB },
    slow,
  }
  t.equal(heapStarved({ ...leak, slow: undefined }), false, 'without the slow series: V8 GCs often enough')
  t.equal(heapStarved(leak), true, '5 floors in a last third of 12 buckets, growing 0.8 KiB/s: buy')
  t.equal(heapStarved({ ...leak, reference: { timeMs: nowMs - 5 * 60_000, value: 21 * MB } }), false, 'a floor within the last bucket-length')
  t.equal(heapStarved({ ...leak, lastReadingMs: nowMs - 60_000 }), false, 'a floor read within the last bucket-length, its window still open')
  const flat = floors.map((p) => ({ ...p, value: 20 * MB + ((p.timeMs / 60_000) % 3) * 4096 }))
  t.equal(heapStarved({ ...leak, slow: { ...slow, floors: flat } }), false, 'flat slow floors: none bought')
  const dense = Array.from({ length: 36 }, (_, i) => ({ timeMs: nowMs - i * bucketMs, value: 20 * MB + (nowMs - i * bucketMs) * 0.8 })).reverse()
  t.equal(heapStarved({ ...leak, slow: { ...slow, floors: dense } }), false, 'a floor in every bucket: none needed')
  t.equal(heapStarved({ ...leak, slow: { ...slow, floors: floors.slice(-2) } }), false, 'two floors make no estimate')
})
