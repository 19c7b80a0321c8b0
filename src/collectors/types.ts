import type { MetricKey } from '../export/catalog.js'
import type { TargetSession } from '../inspector/session.js'

export type Labels = Readonly<Record<string, string>>

export interface ScalarSample {
  readonly key: MetricKey
  readonly labels?: Labels
  readonly value: number
}

export interface HistogramSample {
  readonly key: MetricKey
  readonly labels?: Labels
  /** Observations per bucket (not cumulative), aligned with the catalog's buckets; the last is +Inf. */
  readonly buckets: readonly number[]
  readonly count: number
  readonly sum: number
}

export type Sample = ScalarSample | HistogramSample

export function isHistogramSample(sample: Sample): sample is HistogramSample {
  return 'buckets' in sample
}

/** One garbage collection as seen by the in-target observer. */
export interface GcEvent {
  readonly seq: number
  readonly kind: string
  readonly durationSeconds: number
  readonly flags: number
}

/** Heap used right after a major GC. */
export interface FloorPoint {
  readonly seq: number
  /** Unix time in milliseconds. */
  readonly timeMs: number
  readonly bytes: number
}

export interface CollectorOutput<State> {
  readonly samples: readonly Sample[]
  /** Handed back to the next fetch/parse of the same target. */
  readonly state: State
  readonly gcEvents?: readonly GcEvent[]
  readonly floors?: readonly FloorPoint[]
}

/**
 * One family of signals. `fetch` is the only I/O; `parse` is pure and is tested
 * on recorded replies (test/fixtures/replies). Both receive the state the
 * previous parse returned for the same target (undefined after a restart).
 */
export interface Collector<State = undefined> {
  readonly name: string
  readonly description: string
  fetch(session: TargetSession, state: State | undefined, timeoutMs: number): Promise<unknown>
  parse(raw: unknown, state: State | undefined, nowMs: number): CollectorOutput<State>
}
