/**
 * Runs on the inspector's reader thread (src/inspector/parse-worker.ts), registered by the
 * profiler: a heap profile that arrives as a large message (over 4 MiB) is kept there, to the
 * end (keepProfile, bounded to PROFILE_LIMITS), and only the kept copy travels back to the main
 * thread. A hostile 1M-node profile then costs the main thread the rebuild of at most 100k nodes
 * and samples, in slices, instead of a million-node object graph and a walk over it.
 */
import { keepProfile, type KeptProfileStats } from './kept-profile.js'
import { runToEnd } from './slices.js'

/** The note the reader thread attaches to a reply whose profile it kept (see `replyNote`). */
export interface KeptProfileNote {
  readonly keptProfile: KeptProfileStats
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null

/**
 * A reply whose result carries a profile (with a head object, as the profiler requires), with
 * the profile replaced by the kept copy; anything else is left alone (undefined).
 */
export function reduceMessage(message: Record<string, unknown>): { message: unknown; note: KeptProfileNote } | undefined {
  const result = message['result']
  if (!isObject(result)) return undefined
  const profile = result['profile']
  if (!isObject(profile) || typeof profile['head'] !== 'object') return undefined
  const kept = runToEnd(keepProfile(profile))
  return { message: { ...message, result: { ...result, profile: kept.profile } }, note: { keptProfile: kept.stats } }
}
