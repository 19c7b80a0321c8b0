/**
 * What a holder search needs from the target's memory: the container headroom it asks for
 * before it starts, and the visit cap that keeps its own memory a fraction of the heap.
 */
import type { HolderSearchOptions, HolderSearchRefused } from './types.js'

/**
 * Memory a search needs in the target's container: the largest high-water
 * increase measured with bench/holder-cost (50 MB – 1 GB heaps, default caps),
 * plus margin. See the README of bench/holder-cost for the figures.
 */
export const HOLDER_SEARCH_HEADROOM_BYTES = 64 * 1024 * 1024

/**
 * A search's own memory in the target grows with what it walks: ~600 bytes per object visited
 * (path nodes, queue, visited set; measured: +17 MB high-water at 30 000 visits). Unless the
 * caller sets maxVisits, it follows the heap: at most SEARCH_MEMORY_FRACTION of the heap used,
 * between MIN_VISITS and the default.
 */
export const BYTES_PER_VISIT = 600
export const SEARCH_MEMORY_FRACTION = 0.1
export const MIN_VISITS = 5000

/** The visit cap for a heap of `heapUsedBytes` (undefined: the default). */
export function visitsForHeap(heapUsedBytes: number | undefined, fallback: number): number {
  if (heapUsedBytes === undefined || !Number.isFinite(heapUsedBytes) || heapUsedBytes <= 0) return fallback
  return Math.max(MIN_VISITS, Math.min(fallback, Math.floor((heapUsedBytes * SEARCH_MEMORY_FRACTION) / BYTES_PER_VISIT)))
}

/** The headroom check alone (no call to the target): a refusal, or undefined when a search may run. */
export function checkHeadroom(options: HolderSearchOptions): HolderSearchRefused | undefined {
  const required = options.requiredHeadroomBytes ?? HOLDER_SEARCH_HEADROOM_BYTES
  const headroom = options.headroomBytes
  if (headroom === undefined || headroom >= required) return undefined
  return {
    status: 'refused',
    code: 'LW_ERR_HOLDER_SEARCH_REFUSED',
    reason: 'headroom',
    message: `holder search refused: the container has ${mib(headroom)} left below its memory limit and a search needs ${mib(required)}`,
    requiredBytes: required,
    headroomBytes: headroom,
  }
}

const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
