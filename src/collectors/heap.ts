import { z } from 'zod'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

const HeapUsageReply = z.object({
  usedSize: z.number().nonnegative(),
  totalSize: z.number().nonnegative(),
})

/** `Runtime.getHeapUsage`: the cheapest heap reading there is (~0.3 ms), no snippet needed. */
export const heapCollector: Collector = {
  name: 'heap',
  description: 'V8 heap used and total (Runtime.getHeapUsage)',
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
