/**
 * What a collector is: one family of signals, declared in one file that
 * names the collector, the agent part it reads inside the target (or the
 * protocol call it makes), the metrics it produces and the pure parser that
 * turns a reply into samples. src/collectors/registry.ts finds every
 * `*.collector.ts` file; the catalog, the config's collector names, the agent's
 * parts and the docs are derived from that set.
 */
import type { MetricDefinition, ResourceAttributes, Sample } from '../core/metrics.js'
import type { TargetSession } from '../inspector/session.js'

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
  /** What the target says about itself for its OpenTelemetry resource (the info collector). */
  readonly resource?: ResourceAttributes
}

interface CollectorBase<State> {
  /** Stable name: the `collector` label, the config's `disabledCollectors`, the agent part's key. */
  readonly name: string
  readonly description: string
  /** Poll order, cheapest first (a collector that breaks the session spares the ones after it). */
  readonly order: number
  /** The metrics its samples carry, by `key`. */
  readonly metrics: readonly MetricDefinition[]
  /** Pure: checks the raw reply and turns it into samples. Tested on recorded replies. */
  parse(raw: unknown, state: State | undefined, nowMs: number): CollectorOutput<State>
}

/**
 * The collector's piece of the in-target agent, as fixed JavaScript source
 * (the inspector is remote code execution: nothing but this code and checked
 * integers is ever evaluated in a target). Both run inside the target with
 * `env`: `{ builtin(name), v8, perfHooks, resolutionMs, RING }`.
 */
export interface AgentPart<State> {
  /** A function expression `(env) => partState`, run once when the agent is installed. */
  readonly setup?: string
  /** A function expression `(partState, argument, env) => reply`, run on every poll. */
  readonly read: string
  /** The read's integer argument (e.g. the GC sequence already read); 0 when absent. */
  argument?(state: State | undefined): number
}

/** A collector read through the in-target agent: every part in one evaluation per poll. */
export interface AgentCollector<State = undefined> extends CollectorBase<State> {
  readonly part: AgentPart<State>
}

/** A collector with its own protocol call (or, in tests, any scripted I/O). */
export interface ProtocolCollector<State = undefined> extends CollectorBase<State> {
  fetch(session: TargetSession, state: State | undefined, timeoutMs: number): Promise<unknown>
}

export type Collector<State = undefined> = AgentCollector<State> | ProtocolCollector<State>

export function isAgentCollector<State>(collector: Collector<State>): collector is AgentCollector<State> {
  return 'part' in collector
}

/** A collector whose state type does not matter to the caller. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCollector = Collector<any>

/** Size of the target-side rings (GC events, post-GC floors): `env.RING` in agent parts. Bounded by construction. */
export const AGENT_RING_SIZE = 256
