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
const memory: Collector = {
  name: 'memory',
  description: 'Process RSS, external and ArrayBuffer memory (process.memoryUsage)',
  order: 20,
  metrics: [
    {
      key: 'rss',
      prom: 'process_resident_memory_bytes',
      otel: 'process.memory.usage',
      otelInstrument: 'updowncounter',
      help: 'Resident set size of the target process (process.memoryUsage().rss).',
      unit: 'By',
      type: 'gauge',
      promClient: true,
      labels: [],
      collector: 'memory',
    },
    {
      key: 'external',
      prom: 'nodejs_external_memory_bytes',
      otel: 'leakwatch.memory.external',
      otelInstrument: 'updowncounter',
      help: 'Memory of C++ objects bound to JavaScript objects (process.memoryUsage().external).',
      unit: 'By',
      type: 'gauge',
      promClient: true,
      labels: [],
      collector: 'memory',
    },
    {
      key: 'arrayBuffers',
      prom: 'nodejs_array_buffers_bytes',
      otel: 'leakwatch.memory.array_buffers',
      otelInstrument: 'updowncounter',
      help: 'Memory of ArrayBuffers and SharedArrayBuffers, Buffers included (process.memoryUsage().arrayBuffers).',
      unit: 'By',
      type: 'gauge',
      labels: [],
      collector: 'memory',
    },
  ],
  // process.memoryUsage(): rss, heapTotal, heapUsed, external, arrayBuffers.
  part: { read: '() => process.memoryUsage()' },
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

export default memory
