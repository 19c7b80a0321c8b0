import type { LoadPoint } from './load.js'

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
  private readonly confirm: boolean
  private window: number | undefined
  private minimum: { timeMs: number; value: number } | undefined

  /**
   * `confirm`: a window's point is at most the reading that closes it, so that a window whose
   * only reading stood high (a post-GC heap with the temporaries live at that GC, or what was
   * allocated during V8's concurrent marking) does not move the series. Growth keeps every
   * point: the closing reading is then the higher one.
   */
  constructor(windowMs: number, confirm = false) {
    this.windowMs = windowMs
    this.confirm = confirm
  }

  add(timeMs: number, value: number): { timeMs: number; value: number } | undefined {
    if (!Number.isFinite(timeMs) || !Number.isFinite(value)) return undefined
    const window = Math.floor(timeMs / this.windowMs)
    let closed: { timeMs: number; value: number } | undefined
    if (this.window !== undefined && window > this.window) {
      closed = this.minimum
      if (closed !== undefined && this.confirm && value < closed.value) closed = { timeMs: closed.timeMs, value }
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

/**
 * A floor that one window without a low reading cannot move: the minimum of
 * the last `span` window minima (a lower envelope). A sawtooth whose troughs
 * fall between readings leaves some windows high; their neighbours mask them.
 * A leak lifts every window, so the envelope follows it one window late.
 */
export class EnvelopeFloor {
  private readonly windows: WindowMinimum
  private readonly recent: Array<{ timeMs: number; value: number }> = []
  private span: number

  constructor(windowMs: number, span = 2) {
    this.windows = new WindowMinimum(windowMs)
    this.span = Math.max(1, span)
  }

  /** Windows the envelope spans: enough to cover the GC cycle (set from the observed time between major GCs). */
  setSpan(span: number): void {
    this.span = Math.max(1, Math.min(10, Math.round(span)))
  }

  add(timeMs: number, value: number): { timeMs: number; value: number } | undefined {
    const closed = this.windows.add(timeMs, value)
    if (closed === undefined) return undefined
    this.recent.push(closed)
    while (this.recent.length > this.span) this.recent.shift()
    let low = closed
    for (const point of this.recent) if (point.value < low.value) low = point
    // The envelope's value at the newest window's time: it is a floor now.
    return { timeMs: closed.timeMs, value: low.value }
  }

  reset(): void {
    this.windows.reset()
    this.recent.length = 0
  }
}

/**
 * Floors over hours in bounded memory: one point per bucket (the lowest floor
 * in it, with the bucket's mean load and mean traffic), the oldest dropped beyond `capacity`
 * buckets. The slow path reads it.
 */
export class BucketSeries {
  private readonly bucketMs: number
  private readonly capacity: number
  private readonly points: LoadPoint[] = []
  private bucket: number | undefined
  private low: { timeMs: number; value: number } | undefined
  private loadSum = 0
  private loadCount = 0
  private trafficSum = 0
  private trafficCount = 0

  constructor(bucketMs: number, capacity: number) {
    this.bucketMs = Math.max(1, bucketMs)
    this.capacity = capacity
  }

  add(timeMs: number, value: number, load: number, traffic = Number.NaN): void {
    if (!Number.isFinite(timeMs) || !Number.isFinite(value)) return
    const bucket = Math.floor(timeMs / this.bucketMs)
    if (this.bucket !== undefined && bucket < this.bucket) return
    if (this.bucket !== undefined && bucket > this.bucket) this.close()
    this.bucket = bucket
    if (this.low === undefined || value < this.low.value) this.low = { timeMs, value }
    if (Number.isFinite(load)) {
      this.loadSum += load
      this.loadCount += 1
    }
    if (Number.isFinite(traffic)) {
      this.trafficSum += traffic
      this.trafficCount += 1
    }
  }

  /** The current bucket's point: its lowest floor with the bucket's mean load and traffic. */
  private point(low: { timeMs: number; value: number }): LoadPoint {
    return {
      ...low,
      load: this.loadCount > 0 ? this.loadSum / this.loadCount : Number.NaN,
      traffic: this.trafficCount > 0 ? this.trafficSum / this.trafficCount : Number.NaN,
    }
  }

  /** Closed buckets plus the open one. */
  all(): LoadPoint[] {
    const open = this.low === undefined ? [] : [this.point(this.low)]
    return [...this.points, ...open]
  }

  clear(): void {
    this.points.length = 0
    this.bucket = undefined
    this.resetBucket()
  }

  private close(): void {
    if (this.low !== undefined) {
      this.points.push(this.point(this.low))
      if (this.points.length > this.capacity) this.points.shift()
    }
    this.resetBucket()
  }

  private resetBucket(): void {
    this.low = undefined
    this.loadSum = 0
    this.loadCount = 0
    this.trafficSum = 0
    this.trafficCount = 0
  }
}

/** The median time between successive `times` (major GCs), or undefined with fewer than 3. */
export function medianGap(times: readonly number[]): number | undefined {
  if (times.length < 3) return undefined
  const gaps = times.slice(1).map((t, i) => t - (times[i] as number)).sort((a, b) => a - b)
  return gaps[gaps.length >> 1]
}
