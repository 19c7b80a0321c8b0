/**
 * Long computations on profiles written as generators that yield every few thousand items,
 * so the same code runs to the end at once (`runToEnd`, for tests and small inputs) or in
 * slices of a few milliseconds that give the event loop back in between (`runInSlices`):
 * a 100,000-node profile takes the sidecar hundreds of milliseconds of CPU to keep, aggregate
 * or convert, and `/metrics` and the probes must answer meanwhile.
 */

/** A computation that yields between chunks of its work and returns `T`. */
export type Steps<T> = Generator<void, T, void>

/** Items (nodes, samples, frames) a step handles between two yields. */
export const ITEMS_PER_STEP = 2000

/** Longest stretch of work between two returns to the event loop. */
export const SLICE_MS = 8

export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next()
    if (next.done === true) return next.value
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Runs `steps` in slices of about `sliceMs`, returning to the event loop between them. */
export async function runInSlices<T>(steps: Steps<T>, sliceMs = SLICE_MS): Promise<T> {
  let sliceStarted = performance.now()
  for (;;) {
    const next = steps.next()
    if (next.done === true) return next.value
    if (performance.now() - sliceStarted >= sliceMs) {
      await nextTurn()
      sliceStarted = performance.now()
    }
  }
}
