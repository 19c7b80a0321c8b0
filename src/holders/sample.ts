/**
 * Between holder searches: at each poll, the sizes of the collections the walker tracks are read
 * once (walker-run.ts `sample`) and the lowest since each one's last measurement is kept in the
 * target, so that the next search can tell growth from a buffer emptied and refilled in between
 * (growth.ts `Floors`). One fixed expression, a few microseconds in the target per tracked
 * collection, nothing retained.
 */
import { z } from 'zod'
import type { TargetSession } from '../inspector/session.js'
import { SAMPLE_EXPRESSION } from './walker.js'

const SampleReply = z.union([
  z.object({ ok: z.literal(true), sampled: z.number().int().nonnegative(), tracked: z.number().int().nonnegative(), ms: z.number().nonnegative() }),
  z.object({ ok: z.literal(false) }),
])

export interface HolderSample {
  /** Collections re-measured. */
  readonly sampled: number
  /** Collections the walker tracks (dictionaries and timer lists among them are not sampled). */
  readonly tracked: number
  /** Time inside the target (ms): what the sample is charged. */
  readonly ms: number
}

/**
 * Samples the tracked collections' sizes; null when the walker is not installed in this process
 * (no search yet, or a restart) or its reply is not what it writes. Protocol errors (a closed
 * session, a timeout) are the caller's.
 */
export async function sampleHolders(session: TargetSession, timeoutMs: number): Promise<HolderSample | null> {
  const parsed = SampleReply.safeParse(await session.evaluate(SAMPLE_EXPRESSION, timeoutMs))
  if (!parsed.success || !parsed.data.ok) return null
  const { sampled, tracked, ms } = parsed.data
  return { sampled, tracked, ms }
}
