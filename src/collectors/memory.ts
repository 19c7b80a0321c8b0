import { z } from 'zod'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

const bytes = z.number().nonnegative()

const MemoryUsageReply = z.object({
  rss: bytes,
  external: bytes,
  // Absent before Node 13.9; reported as 0 then rather than failing the family.
  arrayBuffers: bytes.optional(),
})

/** `process.memoryUsage()`: RSS and the memory outside the JS heap (Buffers, native objects). */
export const memoryCollector: Collector = {
  name: 'memory',
  description: 'Process RSS, external and ArrayBuffer memory (process.memoryUsage)',
  part: 'memory',
  parse(raw) {
    const usage = checkReply('process.memoryUsage', MemoryUsageReply, raw)
    return {
      samples: [
        { key: 'rss', value: usage.rss },
        { key: 'external', value: usage.external },
        { key: 'arrayBuffers', value: usage.arrayBuffers ?? 0 },
      ],
      state: undefined,
    }
  },
}
