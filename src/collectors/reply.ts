import type { z } from 'zod'
import { AgentMissingError, EvaluateError, MalformedReplyError, UnavailableError } from '../core/errors.js'
import { clipTargetText } from '../inspector/limits.js'

/** Target-controlled text in an error message (kept as lastError, logged) is cut to this. */
const MAX_DETAIL = 200

const bounded = (text: string): string => clipTargetText(text, MAX_DETAIL)

/**
 * Check a snippet's reply: the agent-missing, unavailable and threw markers
 * first, then the schema. Every problem becomes a coded error, never a crash.
 */
export function checkReply<S extends z.ZodType>(what: string, schema: S, raw: unknown): z.infer<S> {
  if (typeof raw === 'object' && raw !== null) {
    const marker = raw as { agentMissing?: unknown; unavailable?: unknown; threw?: unknown }
    if (marker.agentMissing === true) throw new AgentMissingError(what)
    if (typeof marker.unavailable === 'string') throw new UnavailableError(what, bounded(marker.unavailable))
    // A part of the agent's read that threw inside the target (the others still answered).
    if (typeof marker.threw === 'string') throw new EvaluateError(`${what} threw in target: ${bounded(marker.threw)}`)
  }
  const result = schema.safeParse(raw)
  if (!result.success) {
    const detail = result.error.issues
      .slice(0, 3)
      .map((issue) => bounded(`${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`))
      .join('; ')
    throw new MalformedReplyError(what, detail)
  }
  return result.data
}
