import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { waitFor } from './targets.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** This (test) process's heap used right after two full GCs. */
export function heapAfterGc(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`

export interface HeapStretches {
  /** After the warm-up stretch (JIT, socket and timer pools). */
  readonly warm: number
  readonly middle: number
  readonly end: number
  /** "warm → middle → end" in KiB, for a test comment. */
  readonly text: string
}

/**
 * Heap after GC at three counts of some repeated event (failed connects, attempts): a leak
 * grows the heap in both later stretches, a bounded pool only in the first. `marks` are the
 * counts to wait for (warm, middle, end); `timeoutsMs` the bounds for each wait.
 */
export async function heapAcrossStretches(
  count: () => number,
  marks: readonly [number, number, number],
  timeoutsMs: readonly [number, number, number],
  what: string,
): Promise<HeapStretches> {
  const at: number[] = []
  for (const [i, mark] of marks.entries()) {
    await waitFor(() => count() >= mark, { timeoutMs: timeoutsMs[i]!, what: `${mark} ${what}` })
    at.push(heapAfterGc())
  }
  const [warm, middle, end] = at as [number, number, number]
  return { warm, middle, end, text: `${kib(warm)} → ${kib(middle)} → ${kib(end)}` }
}
