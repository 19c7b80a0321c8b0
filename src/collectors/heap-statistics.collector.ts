import { z } from 'zod'
import type { MetricDefinition, Sample } from '../core/metrics.js'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

const bytes = z.number().nonnegative()

const HeapStatisticsReply = z.object({
  heap: z.object({
    heap_size_limit: bytes,
    malloced_memory: bytes,
    number_of_native_contexts: bytes,
    number_of_detached_contexts: bytes,
    // Added to getHeapStatistics in Node 20.7; optional so older targets keep the rest.
    external_memory: bytes.optional(),
  }),
  spaces: z
    .array(
      z.object({
        space_name: z.string().min(1).max(100),
        space_size: bytes,
        space_used_size: bytes,
        space_available_size: bytes,
        physical_space_size: bytes,
      }),
    )
    .max(64),
})

const gauge = (key: string, prom: string, otel: string, help: string, unit = 'By'): MetricDefinition => ({
  key,
  prom,
  otel,
  help,
  unit,
  type: 'gauge',
  // Sizes in bytes go up and down: UpDownCounters in OTel, as the conventions' v8js.memory.* are.
  ...(unit === 'By' ? { otelInstrument: 'updowncounter' as const } : {}),
  labels: [],
  collector: 'heapStatistics',
})

/**
 * prom-client's space label: the V8 name without its `_space` suffix (`old`, `new`,
 * `large_object`); the conventions' `v8js.heap.space.name` keeps it (`old_space`).
 */
export const promSpaceName = (spaceName: string): string => (spaceName.endsWith('_space') ? spaceName.slice(0, -'_space'.length) : spaceName)

const perSpace = (key: string, prom: string, otel: string, help: string, promClient: boolean): MetricDefinition => ({
  ...gauge(key, prom, otel, help),
  labels: ['space'],
  otelAttributes: { space: 'v8js.heap.space.name' },
  otelValue: (label, value) => (label === 'space' ? `${value}_space` : value),
  ...(promClient ? { promClient: true as const } : {}),
})

/** `v8.getHeapStatistics()` and `v8.getHeapSpaceStatistics()`: the limit, contexts, per-space sizes. */
const heapStatistics: Collector = {
  name: 'heapStatistics',
  description: 'V8 heap limit, malloced memory, native/detached contexts and per-space sizes (v8 module)',
  order: 40,
  metrics: [
    gauge('heapLimit', 'nodejs_heap_size_limit_bytes', 'leakwatch.heap.limit', 'V8 heap size limit (heap_size_limit), the size at which the process dies of heap exhaustion.'),
    gauge('mallocedMemory', 'nodejs_v8_malloced_memory_bytes', 'leakwatch.v8.malloced', 'Memory V8 allocated with malloc (malloced_memory).'),
    gauge('v8ExternalMemory', 'nodejs_v8_external_memory_bytes', 'leakwatch.v8.external', 'Memory V8 accounts as external (external_memory of v8.getHeapStatistics; Node >= 20.7).'),
    gauge('nativeContexts', 'nodejs_v8_native_contexts', 'leakwatch.v8.context.native', 'Top-level V8 contexts alive (number_of_native_contexts); growth means leaked vm contexts or iframes.', '{context}'),
    gauge('detachedContexts', 'nodejs_v8_detached_contexts', 'leakwatch.v8.context.detached', 'Detached V8 contexts not yet collected (number_of_detached_contexts); non-zero for long is a leak.', '{context}'),
    perSpace('heapSpaceUsed', 'nodejs_heap_space_size_used_bytes', 'v8js.memory.heap.used', 'V8 heap space used, per space (space_used_size).', true),
    perSpace('heapSpaceTotal', 'nodejs_heap_space_size_total_bytes', 'v8js.memory.heap.space.size', 'V8 heap space size, per space (space_size).', true),
    perSpace('heapSpaceAvailable', 'nodejs_heap_space_size_available_bytes', 'v8js.memory.heap.space.available_size', 'V8 heap space available, per space (space_available_size).', true),
    perSpace('heapSpacePhysical', 'nodejs_heap_space_size_physical_bytes', 'v8js.memory.heap.space.physical_size', 'V8 heap space committed in physical memory, per space (physical_space_size).', false),
  ],
  part: {
    read: `(state, argument, env) => {
  if (!env.v8) return { unavailable: 'the v8 module is not reachable (needs process.getBuiltinModule, Node >= 20.16, or a CommonJS main module)' };
  return { heap: env.v8.getHeapStatistics(), spaces: env.v8.getHeapSpaceStatistics() };
}`,
  },
  parse(raw) {
    const { heap, spaces } = checkReply('v8.getHeapStatistics', HeapStatisticsReply, raw)
    const samples: Sample[] = [
      { key: 'heapLimit', value: heap.heap_size_limit },
      { key: 'mallocedMemory', value: heap.malloced_memory },
      { key: 'nativeContexts', value: heap.number_of_native_contexts },
      { key: 'detachedContexts', value: heap.number_of_detached_contexts },
    ]
    if (heap.external_memory !== undefined) samples.push({ key: 'v8ExternalMemory', value: heap.external_memory })
    for (const space of spaces) {
      const labels = { space: promSpaceName(space.space_name) }
      samples.push(
        { key: 'heapSpaceUsed', labels, value: space.space_used_size },
        { key: 'heapSpaceTotal', labels, value: space.space_size },
        { key: 'heapSpaceAvailable', labels, value: space.space_available_size },
        { key: 'heapSpacePhysical', labels, value: space.physical_space_size },
      )
    }
    return { samples, state: undefined }
  },
}

export default heapStatistics
