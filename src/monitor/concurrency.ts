/**
 * Poll slots shared by every target monitor of a sidecar: a counting
 * semaphore with a FIFO queue, so at most `limit` polls (collectors plus the
 * analysis step) talk to targets at once, and a target whose poll waited
 * longest is served first.
 *
 * A slot freed while polls are waiting is handed straight to the oldest one
 * (no barging), so a steady stream of new polls cannot starve a queued one.
 * A waiter can give up (its target disconnected, the monitor stopped) through
 * an AbortSignal; it then leaves the queue and never receives a slot.
 *
 * Connecting (the target list, the websocket, the agent install) takes no slot:
 * it is a handful of small calls, and a reconnect should not wait behind a
 * backlog of other targets' polls.
 */

/** Gives the slot back. Idempotent: a second call does nothing. */
export type Release = () => void

export interface PollSlotStats {
  /** Polls that may run at once, across all targets. */
  readonly limit: number
  /** Slots held right now. */
  readonly inUse: number
  /** Polls queued for a slot right now. */
  readonly waiting: number
  /** Most slots ever held at once (never above `limit`). */
  readonly maxInUse: number
  /** Longest the queue has ever been. */
  readonly maxWaiting: number
  /** Slots handed out so far. */
  readonly granted: number
  /** Queued polls that gave up before they got a slot. */
  readonly abandoned: number
  /** Time polls spent queued, summed over all granted slots (ms). */
  readonly waitMsTotal: number
}

interface Waiter {
  readonly queuedAt: number
  readonly grant: (release: Release) => void
}

export class PollLimiter {
  readonly limit: number
  private inUse = 0
  private maxInUse = 0
  private maxWaiting = 0
  private granted = 0
  private abandoned = 0
  private waitMsTotal = 0
  // Bounded by the number of monitors: each has at most one poll in flight.
  private readonly queue: Waiter[] = []

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`poll limit must be a positive integer, got ${limit}`)
    this.limit = limit
  }

  /**
   * Resolves with a release function once a slot is free, or with undefined
   * if `signal` aborts first (the poll is then not run and holds no slot).
   */
  acquire(signal?: AbortSignal): Promise<Release | undefined> {
    if (signal?.aborted === true) {
      this.abandoned += 1
      return Promise.resolve(undefined)
    }
    const queuedAt = performance.now()
    if (this.inUse < this.limit && this.queue.length === 0) {
      this.inUse += 1
      return Promise.resolve(this.grantNow(queuedAt))
    }
    return new Promise((resolve) => {
      const onAbort = (): void => {
        const index = this.queue.indexOf(waiter)
        if (index < 0) return
        this.queue.splice(index, 1)
        this.abandoned += 1
        resolve(undefined)
      }
      const waiter: Waiter = {
        queuedAt,
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(release)
        },
      }
      this.queue.push(waiter)
      this.maxWaiting = Math.max(this.maxWaiting, this.queue.length)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  stats(): PollSlotStats {
    return {
      limit: this.limit,
      inUse: this.inUse,
      waiting: this.queue.length,
      maxInUse: this.maxInUse,
      maxWaiting: this.maxWaiting,
      granted: this.granted,
      abandoned: this.abandoned,
      waitMsTotal: this.waitMsTotal,
    }
  }

  /** Account for a slot already counted in `inUse` and build its release. */
  private grantNow(queuedAt: number): Release {
    this.granted += 1
    this.waitMsTotal += performance.now() - queuedAt
    this.maxInUse = Math.max(this.maxInUse, this.inUse)
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.queue.shift()
      // The slot passes straight to the oldest waiter: `inUse` does not change.
      if (next !== undefined) next.grant(this.grantNow(next.queuedAt))
      else this.inUse -= 1
    }
  }
}
