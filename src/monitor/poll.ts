/**
 * One poll of one target: run the enabled collectors on one session and say
 * what each one found. Every agent part is asked for in one evaluation, sent
 * when the first agent collector's turn comes, so a target has one call in
 * flight at a time and a slow target never has calls piling up. Nothing here
 * keeps state: the monitor hands in each collector's state and applies the
 * result (test/monitor/poll.test.ts drives it with a scripted session).
 */
import { z } from 'zod'
import { AgentMissingError, MalformedReplyError, ProtocolError, SessionClosedError, TimeoutError, UnavailableError } from '../core/errors.js'
import type { ResourceAttributes, Sample } from '../core/metrics.js'
import { readSnippet } from '../collectors/agent.js'
import { checkReply } from '../collectors/reply.js'
import { isAgentCollector, type AgentCollector, type AnyCollector, type FloorPoint, type GcEvent } from '../collectors/types.js'
import type { TargetSession } from '../inspector/session.js'

/** What the agent's batched read returns: each part's reply and its time in the target. */
const AgentReadReply = z.object({
  parts: z.record(z.string(), z.unknown()),
  tookMs: z.record(z.string(), z.number().nonnegative()),
})
type AgentReadReply = z.infer<typeof AgentReadReply>

/** Errors after which the session cannot be trusted: drop it and reconnect. */
export const breaksSession = (error: unknown): boolean =>
  error instanceof TimeoutError || error instanceof SessionClosedError || error instanceof ProtocolError

export interface PollInput {
  readonly session: TargetSession
  /** The collectors to run, in order (enabled and available on this target). */
  readonly collectors: readonly AnyCollector[]
  /** Each collector's state from its previous parse (undefined after a restart). */
  readonly stateOf: (name: string) => unknown
  readonly timeoutMs: number
  /** False once a newer session owns the target: stop, and report nothing. */
  readonly current: () => boolean
}

export interface CollectorOutcome {
  readonly name: string
  /** `skipped`: not run, because an earlier collector broke the session. */
  readonly result: 'success' | 'failed' | 'unavailable' | 'skipped'
  readonly samples: readonly Sample[]
  readonly state?: unknown
  readonly error?: unknown
  /** The part's time in the target plus its parse (agent parts), or the collector's wall time; null when skipped. */
  readonly durationMs: number | null
}

export interface PollResult {
  /** True when a newer session took over during the poll: the rest is empty and must not be applied. */
  readonly superseded: boolean
  readonly outcomes: readonly CollectorOutcome[]
  /** The successful collectors' samples, floors and GC events. */
  readonly samples: readonly Sample[]
  readonly floors: readonly FloorPoint[]
  readonly gcEvents: readonly GcEvent[]
  /** What the target said about itself for its OpenTelemetry resource, when a collector read it. */
  readonly resource?: ResourceAttributes
  readonly anySuccess: boolean
  /** The error that broke the session (a timeout, the session closing), if any. */
  readonly brokenBy: unknown
  /** The agent was gone from the target: it should be installed again. */
  readonly agentMissing: boolean
  /** The agent answered the poll's read (it is there). */
  readonly agentAnswered: boolean
}

const SUPERSEDED: PollResult = {
  superseded: true,
  outcomes: [],
  samples: [],
  floors: [],
  gcEvents: [],
  anySuccess: false,
  brokenBy: undefined,
  agentMissing: false,
  agentAnswered: false,
}

async function readAgentParts(input: PollInput, collectors: ReadonlyArray<AgentCollector<unknown>>): Promise<AgentReadReply> {
  const ask: Record<string, number> = {}
  for (const collector of collectors) ask[collector.name] = collector.part.argument?.(input.stateOf(collector.name)) ?? 0
  return checkReply('agent read', AgentReadReply, await input.session.evaluate(readSnippet(ask), input.timeoutMs))
}

export async function runPoll(input: PollInput): Promise<PollResult> {
  const outcomes: CollectorOutcome[] = []
  const samples: Sample[] = []
  const floors: FloorPoint[] = []
  const gcEvents: GcEvent[] = []
  let brokenBy: unknown
  let agentMissing = false
  let agentAnswered = false
  let resource: ResourceAttributes | undefined
  let batch: Promise<AgentReadReply> | undefined
  const agentCollectors = input.collectors.filter(isAgentCollector)
  for (const collector of input.collectors) {
    if (!input.current()) return SUPERSEDED
    if (brokenBy !== undefined) {
      outcomes.push({ name: collector.name, result: 'skipped', samples: [], durationMs: null })
      continue
    }
    const started = performance.now()
    let inTargetMs: number | undefined
    try {
      let raw: unknown
      if (isAgentCollector(collector)) {
        batch ??= readAgentParts(input, agentCollectors)
        const reply = await batch
        agentAnswered = true
        if (!Object.hasOwn(reply.parts, collector.name)) throw new MalformedReplyError('agent read', `no reply for ${collector.name}`)
        raw = reply.parts[collector.name]
        inTargetMs = reply.tookMs[collector.name]
      } else {
        raw = await collector.fetch(input.session, input.stateOf(collector.name), input.timeoutMs)
      }
      const parseStarted = performance.now()
      const output = collector.parse(raw, input.stateOf(collector.name), Date.now())
      // A part's cost is its time in the target plus its parse here; the round trip is the poll's.
      if (inTargetMs !== undefined) inTargetMs += performance.now() - parseStarted
      outcomes.push({ name: collector.name, result: 'success', samples: output.samples, state: output.state, durationMs: inTargetMs ?? performance.now() - started })
      samples.push(...output.samples)
      if (output.floors !== undefined) floors.push(...output.floors)
      if (output.gcEvents !== undefined) gcEvents.push(...output.gcEvents)
      if (output.resource !== undefined) resource = output.resource
    } catch (error) {
      const durationMs = inTargetMs ?? performance.now() - started
      if (error instanceof UnavailableError) {
        outcomes.push({ name: collector.name, result: 'unavailable', samples: [], error, durationMs })
        continue
      }
      outcomes.push({ name: collector.name, result: 'failed', samples: [], error, durationMs })
      if (error instanceof AgentMissingError) agentMissing = true
      if (breaksSession(error)) brokenBy = error
    }
  }
  if (!input.current()) return SUPERSEDED
  const anySuccess = outcomes.some((outcome) => outcome.result === 'success')
  return { superseded: false, outcomes, samples, floors, gcEvents, ...(resource === undefined ? {} : { resource }), anySuccess, brokenBy, agentMissing, agentAnswered }
}
