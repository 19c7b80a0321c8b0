import { z } from 'zod'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

const HeapUsageReply = z.object({
  usedSize: z.number().nonnegative(),
  totalSize: z.number().nonnegative(),
})

/** `Runtime.getHeapUsage`: the cheapest heap reading there is (~0.3 ms), no snippet needed. */
const heap: Collector = {
  name: 'heap',
  description: 'V8 heap used and total (Runtime.getHeapUsage)',
  order: 10,
  metrics: [
    {
      key: 'heapUsed',
      prom: 'nodejs_heap_size_used_bytes',
      otel: 'leakwatch.heap.used',
      help: 'V8 heap used, from Runtime.getHeapUsage.',
      unit: 'By',
      type: 'gauge',
      otelInstrument: 'updowncounter',
      promClient: true,
      labels: [],
      collector: 'heap',
    },
    {
      key: 'heapTotal',
      prom: 'nodejs_heap_size_total_bytes',
      otel: 'leakwatch.heap.size',
      help: 'V8 heap size allocated, from Runtime.getHeapUsage.',
      unit: 'By',
      type: 'gauge',
      otelInstrument: 'updowncounter',
      promClient: true,
      labels: [],
      collector: 'heap',
    },
  ],
  fetch: (session, _state, timeoutMs) => session.send('Runtime.getHeapUsage', {}, timeoutMs),
  parse(raw) {
    const reply = checkReply('Runtime.getHeapUsage', HeapUsageReply, raw)
    return {
      samples: [
        { key: 'heapUsed', value: reply.usedSize },
        { key: 'heapTotal', value: reply.totalSize },
      ],
      state: undefined,
    }
  },
}

export default heap
