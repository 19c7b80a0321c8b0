/**
 * Which allocation site feeds a growing holder, where the two halves of the evidence meet.
 *
 * The sampling heap profile says which code allocates what stays alive; the holder search says
 * which collection keeps it. Nothing in V8 links one object to its sample, so the link is
 * inferred: the fastest-growing site whose sampled stack passes through the module the holder's
 * path starts from (the module that owns the collection: the code that fills it runs there, or
 * calls through it, as a memo wrapper or a queue's `enqueue` does). A holder whose path starts
 * elsewhere (timers, globals, a closure) or whose module is on no growing stack gets none.
 */
import type { RankedSite } from '../attribution/tracker.js'
import { scriptFile } from '../holders/report.js'
import type { Holder } from '../holders/types.js'

export interface HolderSite {
  /** The site's label, as in the `site` metric label: `enqueue (src/queue.js:12)`. */
  readonly label: string
  readonly slopeBytesPerSecond: number
  /** How the link was made (it is inferred, never observed). */
  readonly basis: string
}

const BASIS = "the fastest-growing allocation site whose stack passes through the holder's module"

/** `sites`: ranked, fastest-growing first (SiteTracker.ranked()). */
export function siteOfHolder(holder: Pick<Holder, 'rootFile' | 'growing'>, sites: readonly RankedSite[]): HolderSite | null {
  if (!holder.growing || holder.rootFile === null) return null
  for (const site of sites) {
    if (!(site.slopeBytesPerSecond > 0)) continue
    if (site.stack.some((frame) => scriptFile(frame.url) === holder.rootFile)) {
      return { label: site.label, slopeBytesPerSecond: site.slopeBytesPerSecond, basis: BASIS }
    }
  }
  return null
}
