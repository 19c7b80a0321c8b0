import { eventLoopCollector } from './event-loop.js'
import { gcCollector } from './gc.js'
import { heapStatisticsCollector } from './heap-statistics.js'
import { heapCollector } from './heap.js'
import { infoCollector } from './info.js'
import { memoryCollector } from './memory.js'
import { resourcesCollector } from './resources.js'
import type { Collector } from './types.js'

/** Every collector of the Node.js target kind, in poll order (cheapest first). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const nodeCollectors: ReadonlyArray<Collector<any>> = [
  heapCollector,
  memoryCollector,
  gcCollector,
  heapStatisticsCollector,
  eventLoopCollector,
  resourcesCollector,
  infoCollector,
]
