/** A bounded time series: the oldest points fall out once `capacity` is reached. */
export class RingSeries {
  private readonly timesMs: number[] = []
  private readonly data: number[] = []
  readonly capacity: number

  constructor(capacity: number) {
    this.capacity = capacity
  }

  get length(): number {
    return this.data.length
  }

  push(timeMs: number, value: number): void {
    if (!Number.isFinite(timeMs) || !Number.isFinite(value)) return
    // Out-of-order points (clock steps, late GC callbacks) would break the trend tests' ordering.
    const last = this.timesMs[this.timesMs.length - 1]
    if (last !== undefined && timeMs < last) return
    this.timesMs.push(timeMs)
    this.data.push(value)
    if (this.data.length > this.capacity) {
      this.timesMs.shift()
      this.data.shift()
    }
  }

  clear(): void {
    this.timesMs.length = 0
    this.data.length = 0
  }

  /** Points at or after `fromMs`, as parallel arrays. */
  since(fromMs: number): { times: number[]; values: number[] } {
    let start = this.timesMs.length
    while (start > 0 && (this.timesMs[start - 1] as number) >= fromMs) start -= 1
    return { times: this.timesMs.slice(start), values: this.data.slice(start) }
  }

  all(): { times: number[]; values: number[] } {
    return { times: this.timesMs.slice(), values: this.data.slice() }
  }

  last(): { timeMs: number; value: number } | undefined {
    const n = this.data.length
    return n === 0 ? undefined : { timeMs: this.timesMs[n - 1] as number, value: this.data[n - 1] as number }
  }
}

/**
 * Reduces a stream of readings to its minimum per fixed window: the floor of a
 * sawtooth signal (RSS, external memory, post-GC heap). A window's point is
 * emitted when the first reading of a later window arrives; it carries the
 * time of the minimal reading.
 */
export class WindowMinimum {
  private readonly windowMs: number
  private window: number | undefined
  private minimum: { timeMs: number; value: number } | undefined

  constructor(windowMs: number) {
    this.windowMs = windowMs
  }

  add(timeMs: number, value: number): { timeMs: number; value: number } | undefined {
    if (!Number.isFinite(timeMs) || !Number.isFinite(value)) return undefined
    const window = Math.floor(timeMs / this.windowMs)
    let closed: { timeMs: number; value: number } | undefined
    if (this.window !== undefined && window > this.window) {
      closed = this.minimum
      this.minimum = undefined
    }
    if (this.window === undefined || window >= this.window) {
      this.window = window
      if (this.minimum === undefined || value < this.minimum.value) this.minimum = { timeMs, value }
    }
    return closed
  }

  reset(): void {
    this.window = undefined
    this.minimum = undefined
  }
}
