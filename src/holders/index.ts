/**
 * Holder search: name the live collections that grow, with a path a developer
 * recognises. The interface for the monitor, the API and the exporters:
 *
 *   const first = await searchHolders(session, { headroomBytes })
 *   // ... some seconds later (the caller decides when) ...
 *   const second = await searchHolders(session, { headroomBytes }, first)
 *   if (second.status === 'done') second.holders.filter((h) => h.growing)   // ranked
 *   second.cost   // charge to the attribution budget; export
 *
 * A refusal (`status: 'refused'`) is a result, not an error: headroom too low, another
 * search running in the target, or a target that cannot run the walker. Errors thrown
 * are coded (LW_ERR_HOLDER_SEARCH, LW_ERR_TIMEOUT, LW_ERR_SESSION_CLOSED).
 */
export { checkHeadroom, HOLDER_SEARCH_DEFAULTS, HOLDER_SEARCH_HEADROOM_BYTES, searchHolders, visitsForHeap } from './search.js'
export { FLOW_RISES, GROWING_MIN_ELEMENTS, GROWING_MIN_FRACTION, growthBytesPerSecond, isFlow, isGrowing, levelFollowsTraffic, sizeHistory } from './growth.js'
export { describeHolder, rankHolders } from './report.js'
export { HOLDER_SNIPPETS } from './walker.js'
export type {
  Holder,
  HolderKind,
  HolderRefusalReason,
  HolderSearchCost,
  HolderSearchDone,
  HolderSearchOptions,
  HolderSearchRefused,
  HolderSearchResult,
} from './types.js'
