/**
 * Getting and keeping a session to a target: opening it, installing the
 * agent (which tells who is behind the endpoint), telling a reconnect to the
 * same process from a restart, and the backoff between attempts.
 */
import { z } from 'zod'
import { installAgentSnippet } from '../collectors/agent.js'
import { checkReply } from '../collectors/reply.js'
import type { InspectorEndpoint, TargetSession } from '../inspector/session.js'
import type { ProcessIdentity } from './status.js'

export interface MonitorSession extends TargetSession {
  readonly isClosed: boolean
  /** `reason`: why it closed (the target broke the protocol, it went away), when the session knows. */
  onClose(listener: (reason?: Error) => void): void
  close(): Promise<void>
}

export type OpenSession = (endpoint: InspectorEndpoint, timeoutMs: number) => Promise<MonitorSession>

const AgentReply = z.object({
  fresh: z.boolean(),
  pid: z.number().int().positive(),
  startTime: z.number().positive(),
  nodeVersion: z.string().max(100),
  eventLoopResolutionMs: z.number().positive(),
  /** Parts whose setup threw in the target, with the error; their collectors report unavailable. */
  failedParts: z.record(z.string().max(100), z.string().max(300)),
})

export interface AgentInstall {
  readonly identity: ProcessIdentity
  readonly fresh: boolean
  readonly failedParts: Readonly<Record<string, string>>
}

/** Install the agent (idempotent) and read the identity of the process behind the session. */
export async function installAgent(session: TargetSession, eventLoopResolutionMs: number | undefined, timeoutMs: number): Promise<AgentInstall> {
  const reply = checkReply('agent install', AgentReply, await session.evaluate(installAgentSnippet(eventLoopResolutionMs), timeoutMs))
  return {
    identity: { pid: reply.pid, startTime: reply.startTime, nodeVersion: reply.nodeVersion },
    fresh: reply.fresh,
    failedParts: reply.failedParts,
  }
}

/** Same pid and start time: a reconnect to the same process, whose state carries over. */
export const sameProcess = (a: ProcessIdentity, b: ProcessIdentity): boolean => a.pid === b.pid && a.startTime === b.startTime

/** Delay before reconnect attempt `attempt` (0-based): capped exponential, "equal jitter". */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}
