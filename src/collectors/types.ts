import type { MetricKey } from '../export/catalog.js'
import type { TargetSession } from '../inspector/session.js'
import type { AgentPart } from '../inspector/snippets.js'

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

interface CollectorBase<State> {
  readonly name: string
  readonly description: string
  /** Pure: checks the raw reply and turns it into samples. Tested on recorded replies. */
  parse(raw: unknown, state: State | undefined, nowMs: number): CollectorOutput<State>
}

/**
 * A collector read through the in-target agent: the monitor asks for every
 * such part in one evaluation per poll (`readSnippet`) and hands each its reply.
 */
export interface AgentCollector<State = undefined> extends CollectorBase<State> {
  readonly part: AgentPart
  /** The part's integer argument (the GC sequence already read); 0 when absent. */
  argument?(state: State | undefined): number
}

/** A collector with its own protocol call (or, in tests, any scripted I/O). */
export interface ProtocolCollector<State = undefined> extends CollectorBase<State> {
  fetch(session: TargetSession, state: State | undefined, timeoutMs: number): Promise<unknown>
}

/**
 * One family of signals. Its I/O is either a part of the agent's batched read
 * or a protocol call of its own; `parse` is pure and is tested on recorded
 * replies (test/fixtures/replies). Both receive the state the previous parse
 * returned for the same target (undefined after a restart).
 */
export type Collector<State = undefined> = AgentCollector<State> | ProtocolCollector<State>

export function isAgentCollector<State>(collector: Collector<State>): collector is AgentCollector<State> {
  return 'part' in collector
}
