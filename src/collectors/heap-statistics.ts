import { z } from 'zod'
import type { Collector, Sample } from './types.js'
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

/** `v8.getHeapStatistics()` and `v8.getHeapSpaceStatistics()`: the limit, contexts, per-space sizes. */
export const heapStatisticsCollector: Collector = {
  name: 'heapStatistics',
  description: 'V8 heap limit, malloced memory, native/detached contexts and per-space sizes (v8 module)',
  part: 'heapStatistics',
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
