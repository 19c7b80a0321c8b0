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
      }),
    )
    .max(64),
})

const gauge = (key: string, prom: string, otel: string, help: string, unit = 'By', labels: string[] = []): MetricDefinition => ({
  key,
  prom,
  otel,
  help,
  unit,
  type: 'gauge',
  labels,
  ...(labels.includes('space') ? { otelAttributes: { space: 'v8js.heap.space.name' } } : {}),
  collector: 'heapStatistics',
})

/** `v8.getHeapStatistics()` and `v8.getHeapSpaceStatistics()`: the limit, contexts, per-space sizes. */
const heapStatistics: Collector = {
  name: 'heapStatistics',
  description: 'V8 heap limit, malloced memory, native/detached contexts and per-space sizes (v8 module)',
  order: 40,
  metrics: [
    gauge('heapLimit', 'nodejs_heap_size_limit_bytes', 'nodejs.heap.size_limit', 'V8 heap size limit (heap_size_limit), the size at which the process dies of heap exhaustion.'),
    gauge('mallocedMemory', 'nodejs_v8_malloced_memory_bytes', 'v8js.memory.malloced', 'Memory V8 allocated with malloc (malloced_memory).'),
    gauge('v8ExternalMemory', 'nodejs_v8_external_memory_bytes', 'v8js.memory.external', 'Memory V8 accounts as external (external_memory of v8.getHeapStatistics; Node >= 20.7).'),
    gauge('nativeContexts', 'nodejs_v8_native_contexts', 'v8js.context.native', 'Top-level V8 contexts alive (number_of_native_contexts); growth means leaked vm contexts or iframes.', '{context}'),
    gauge('detachedContexts', 'nodejs_v8_detached_contexts', 'v8js.context.detached', 'Detached V8 contexts not yet collected (number_of_detached_contexts); non-zero for long is a leak.', '{context}'),
    gauge('heapSpaceUsed', 'nodejs_heap_space_size_used_bytes', 'v8js.memory.heap.used', 'V8 heap space used, per space.', 'By', ['space']),
    gauge('heapSpaceTotal', 'nodejs_heap_space_size_total_bytes', 'v8js.memory.heap.limit', 'V8 heap space size, per space.', 'By', ['space']),
    gauge('heapSpaceAvailable', 'nodejs_heap_space_size_available_bytes', 'v8js.heap.space.available_size', 'V8 heap space available, per space.', 'By', ['space']),
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
      const labels = { space: space.space_name }
      samples.push(
        { key: 'heapSpaceUsed', labels, value: space.space_used_size },
        { key: 'heapSpaceTotal', labels, value: space.space_size },
        { key: 'heapSpaceAvailable', labels, value: space.space_available_size },
      )
    }
    return { samples, state: undefined }
  },
}

export default heapStatistics
