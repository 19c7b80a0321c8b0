// The files of a kept profile: each made once per profile and format (concurrent requests share
// the conversion), the least recently served dropped past the byte budget, a failed conversion
// not cached.
import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { toHeapProfileJson, toPprof } from '../../src/attribution/pprof.js'
import { ProfileFiles } from '../../src/attribution/profile-files.js'
import type { ProfileFetch } from '../../src/attribution/profiler.js'
import { bigProfile } from '../fuzz/fixtures/profiles.js'

const INTERVAL = 65_536

function fetchOf(nodes: number, timeMs = 1_700_000_000_000): ProfileFetch {
  const profile = bigProfile(nodes)
  return {
    profile,
    kept: { nodes, samples: 0, bytes: 0, truncated: false, nodesDropped: 0, nodesRejected: 0, samplesDropped: 0 },
    timeMs,
    pauseMs: 1,
    cpuMs: 1,
    costMs: 1,
    floorBytes: undefined,
  }
}

t.test('each format is made once per profile, the same bytes as the plain conversion', async (t) => {
  const files = new ProfileFiles(INTERVAL)
  const fetch = fetchOf(5000)
  const [a, b] = await Promise.all([files.get(fetch, 'pprof'), files.get(fetch, 'pprof')])
  t.equal(a, b, 'two requests at once share one conversion')
  t.same(gunzipSync(a), Buffer.from(toPprof(fetch.profile, { timeMs: fetch.timeMs, samplingIntervalBytes: INTERVAL })), 'gzipped pprof')
  t.equal(await files.get(fetch, 'pprof'), a, 'then from the cache')
  const json = await files.get(fetch, 'heapprofile')
  t.equal(json.toString('utf8'), toHeapProfileJson(fetch.profile))
  t.equal(files.conversions, 2, 'one per format')
  t.equal(files.heldBytes, a.length + json.length)
})

t.test('past the byte budget, the least recently served files are dropped (and made again if asked)', async (t) => {
  const one = fetchOf(3000, 1)
  const two = fetchOf(3000, 2)
  const three = fetchOf(3000, 3)
  const size = (await new ProfileFiles(INTERVAL).get(one, 'heapprofile')).length
  const files = new ProfileFiles(INTERVAL, Math.floor(2.5 * size))
  await files.get(one, 'heapprofile')
  await files.get(two, 'heapprofile')
  await files.get(one, 'heapprofile') // one is now the most recently served
  await files.get(three, 'heapprofile') // over the budget: two goes
  t.equal(files.conversions, 3)
  t.ok(files.heldBytes <= 2.5 * size, `${files.heldBytes} bytes held`)
  await files.get(one, 'heapprofile')
  t.equal(files.conversions, 3, 'one was kept')
  await files.get(two, 'heapprofile')
  t.equal(files.conversions, 4, 'two was dropped, and made again')
})

t.test('a conversion that fails is not cached', async (t) => {
  const files = new ProfileFiles(0) // not a sampling interval: toPprof refuses it
  const fetch = fetchOf(10)
  await t.rejects(files.get(fetch, 'pprof'), /samplingIntervalBytes must be a positive number/)
  await t.rejects(files.get(fetch, 'pprof'))
  t.equal(files.conversions, 2, 'tried again')
  t.equal(files.heldBytes, 0)
  t.ok((await files.get(fetch, 'heapprofile')).length > 0, 'the queue goes on after a failure')
})
