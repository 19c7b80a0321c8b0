import t from 'tap'
import heapStatistics, { promSpaceName } from '../../src/collectors/heap-statistics.collector.js'
import type { ScalarSample } from '../../src/core/metrics.js'
import { UnavailableError, AgentMissingError } from '../../src/core/errors.js'
import { mutableReply, recordedReply } from '../helpers/replies.js'

const value = (samples: readonly unknown[], key: string, labels?: Record<string, string>): number | undefined =>
  (samples as ScalarSample[]).find(
    (s) => s.key === key && JSON.stringify(s.labels ?? {}) === JSON.stringify(labels ?? {}),
  )?.value

t.test('heapStatistics: limit, contexts and spaces', async (t) => {
  const raw = recordedReply('heapStatistics.1') as {
    heap: Record<string, number>
    spaces: Array<{ space_name: string; space_used_size: number; space_size: number; space_available_size: number; physical_space_size: number }>
  }
  const { samples } = heapStatistics.parse(raw, undefined, 0)
  t.equal(value(samples, 'heapLimit'), raw.heap['heap_size_limit'])
  t.equal(value(samples, 'nativeContexts'), 1)
  t.equal(value(samples, 'detachedContexts'), 0)
  t.ok(raw.spaces.length >= 5, 'several spaces recorded')
  for (const space of raw.spaces) {
    // prom-client's label values: the V8 name without `_space`.
    const labels = { space: space.space_name.replace(/_space$/, '') }
    t.equal(value(samples, 'heapSpaceUsed', labels), space.space_used_size)
    t.equal(value(samples, 'heapSpaceTotal', labels), space.space_size)
    t.equal(value(samples, 'heapSpaceAvailable', labels), space.space_available_size)
    t.equal(value(samples, 'heapSpacePhysical', labels), space.physical_space_size)
  }
  t.ok(value(samples, 'heapSpaceUsed', { space: 'old' }) !== undefined, 'old_space is "old", as prom-client names it')
  t.equal(value(samples, 'v8ExternalMemory'), raw.heap['external_memory'])
  t.equal(samples.length, 5 + 4 * raw.spaces.length)
  const old = { ...raw, heap: { ...raw.heap, external_memory: undefined } }
  t.equal(value(heapStatistics.parse(old, undefined, 0).samples, 'v8ExternalMemory'), undefined, 'absent before Node 20.7')
})

t.test("prom-client's space names", async (t) => {
  t.equal(promSpaceName('new_large_object_space'), 'new_large_object')
  t.equal(promSpaceName('read_only_space'), 'read_only')
  t.equal(promSpaceName('odd'), 'odd', 'a name without the suffix is kept')
})

t.test('heapStatistics: markers and malformed replies', async (t) => {
  t.throws(() => heapStatistics.parse({ unavailable: 'no v8 module' }, undefined, 0), UnavailableError)
  t.throws(() => heapStatistics.parse({ agentMissing: true }, undefined, 0), AgentMissingError)
  const broken = mutableReply('heapStatistics.1')
  ;(broken['heap'] as Record<string, unknown>)['heap_size_limit'] = 'a lot'
  t.throws(() => heapStatistics.parse(broken, undefined, 0), {
    code: 'LW_ERR_MALFORMED_REPLY',
    message: /heap\.heap_size_limit/,
  })
})
