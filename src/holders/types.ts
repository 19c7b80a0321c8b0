/**
 * What a holder search returns. A holder is a live collection (Array, Map,
 * Set, an object used as a dictionary, an array of Buffers or typed arrays)
 * found in the target, with its size, its growth since an earlier search,
 * the shape of its elements and a path from a root a developer would name.
 */

/**
 * `Timers`: one of Node's per-duration timer lists (live setTimeout/setInterval of one duration).
 * `LinkedList`: nodes of one prototype each holding the next under one key (a queue's or an LRU's
 * nodes, an EventTarget's listeners), measured from the first node reached to the end.
 * `String`: a string of at least 65 536 characters under a name (a buffer appended to), its size
 * in characters, known by its path only.
 */
export type HolderKind = 'Array' | 'Map' | 'Set' | 'Object' | 'BufferArray' | 'Timers' | 'LinkedList' | 'String'

export interface Holder {
  /**
   * Identity of the collection within one target process (the walker's install):
   * the same collection keeps its id across searches; a restart starts over.
   */
  readonly id: number
  /**
   * From a named root to the collection, e.g.
   * `['subscribers (Map, src/broker.js)', "get('b')", '.q (Array)']`. Empty when no path is known.
   */
  readonly path: readonly string[]
  /** The path starts at a named root (module variable, export, global, handle, timer, process). */
  readonly pathComplete: boolean
  readonly kind: HolderKind
  /** Elements now (Array length, Map/Set size, dictionary keys, a linked list's nodes). */
  readonly size: number
  /** Size at the collection's previous measurement, or null when first seen now. */
  readonly previousSize: number | null
  /**
   * Grew since its previous measurement by at least 32 elements, 5 % of its previous size and
   * four times the chance variation of a churning collection, 4·√(2·f·previousSize), f the
   * share of members that may have left since (1 unless `turnover` measured it; see
   * `isGrowing`); false when first seen now or grown from under 32 elements. A flow (most
   * sampled members gone since, surely) must also have risen at each of its last four
   * measurements (`earlierSizes`). One that fell between the two searches by as much (sampled at
   * each poll in between: `floors`) must also have grown in its floor. A store that did not
   * grow enough between its last two measurements may be growing over its last few
   * (`growingOver`). A member of a sibling family without a turnover of its own is judged by its
   * family's (siblings.ts `familyTurnover`: its parent's when that is a flow, else its members' at
   * their paths). One reported for the first time that the walk did not
   * reach (`measuredBy` 'tracked') and without a turnover is not judged until the next search.
   */
  readonly growing: boolean
  /** Seconds between the previous measurement and this one (0 when first seen). */
  readonly intervalSeconds: number
  /** (size − previousSize) / interval; null when first seen now. */
  readonly growthPerSecond: number | null
  /**
   * Shapes of a few sampled elements (values of a Map), distinct, e.g.
   * `['{seq, channel, payload, at}']`, `['Buffer(16384)']`, `['Job {id, payload, attempts}']`.
   */
  readonly elementShape: readonly string[]
  /** Shapes of sampled keys (Maps only; empty otherwise). */
  readonly keyShape: readonly string[]
  /** Estimate of the bytes the collection retains; see `retainedBytesMethod`. */
  readonly retainedBytes: number
  readonly retainedBytesMethod: string
  /**
   * How it was measured this time: reached by the walk, re-measured through a WeakRef, or
   * 'stale': a dictionary whose keys take longer than `maxStepMs` to list, not listed again
   * (size from its last listing, growth unknown), or a linked list too long to count within
   * 10 ms (size: the nodes counted, at least that; growth unknown).
   */
  readonly measuredBy: 'walk' | 'tracked' | 'stale'
  /** The file of the module (or `require.cache` entry) the path starts from; null when the root is not a module. */
  readonly rootFile: string | null
  /**
   * Sibling collections summed into this holder (paths equal but for their keys, same kind and
   * element shape, growth spread over them: see siblings.ts); absent for a single collection.
   */
  readonly members?: number
  /**
   * Every collection of the search whose path differs from this one's only in its key steps, of
   * the same kind (reported or not): what a merged sibling holder's growth is judged on (see
   * siblings.ts). Absent when the path has no key step or the collection has no sibling.
   */
  readonly family?: SiblingFamily
  /**
   * Sets, Maps, Arrays, dictionaries and timer lists: of 64 members sampled across it (all of
   * them, up to 256, or 1 024 once a census has started) when it was last reported, how many
   * have left since (a dictionary's members are its keys; a Timeout has left its list when it
   * fired or was cleared; a setInterval re-armed is the same member): the churn `growing` allows for (see `isGrowing`). Absent when not measured (first
   * seen, no earlier sample, fewer than 8 members then or more than 65 536 in a Set or Map,
   * 16 384 in an Array, 4 096 in a dictionary or timer list, the search's finish step over its
   * time budget, or fewer than 16 members that can be probed among those sampled in an Array,
   * dictionary or timer list — all of them, when it had fewer than 16: objects, short keys, or an
   * Array's primitives when the sampled ones are all distinct). When it could not be measured since its previous report but was at that
   * report, that measurement is carried over (how members come and go is a property of how the
   * collection is used). A merged sibling holder carries its family's (`SiblingFamily.turnover`).
   */
  readonly turnover?: Turnover
  /**
   * Its sizes at the searches before `previousSize`, oldest first (at most 7), when each of
   * those searches reported it: what a flow's growth is judged on (`isGrowing`). Absent when none.
   */
  readonly earlierSizes?: readonly number[]
  /**
   * Judged growing over its last `growingOver` measurements (2 to 4), not between the last two
   * (growth.ts `growthSpan`: a store gaining a few members an interval); absent otherwise.
   */
  readonly growingOver?: number
  /**
   * A sibling holder judged growing because the collection its members are held one per member
   * of gained members (siblings.ts): `deliveries → get(…) → .pings` when `deliveries` kept
   * `gained` more deliveries of ~`elementsPerMember` pings each. Its size and growth are then
   * estimates: its elements per member of the parent (over the members the walk visited) times
   * the parent's size and growth; it is ranked right after its parent (`parentId`), whose
   * growth it is. Absent otherwise.
   */
  readonly byParent?: { readonly parentId: number; readonly gained: number; readonly elementsPerMember: number }
  /**
   * Its lowest size between its previous measurement and this one (both included), sampled at
   * each poll in between, and the same of the interval before (null when not sampled): a
   * collection emptied and refilled between searches shows it here (growth.ts `Floors`). Absent
   * when not sampled (not tracked, first seen, a dictionary or timer list). `rises`: the polls of
   * the interval at which it rose to a new high (its measurement now included), and
   * `flatShare`: the share of the interval since it last did (growth.ts `stoppedRising`).
   */
  readonly floors?: { readonly low: number; readonly previousLow: number | null; readonly rises?: number; readonly flatShare?: number }
  /**
   * A flow whose sizes rose at each of its last searches, but whose level per request (the
   * target's HTTP request rate at each of those searches) did not: the traffic explains its
   * growth (`levelFollowsTraffic`), and `growing` is false. Set by the scheduler; absent otherwise.
   */
  readonly followsTraffic?: true
  /**
   * Judged growing on its own size, but gaining fewer bytes a second (what it retains per
   * element, growth.ts `growthBytesPerSecond`) than `holders.minGrowthBytesPerSecond`: reported,
   * with `growing` false. Set by the scheduler; absent otherwise.
   */
  readonly slowGrowth?: { readonly bytesPerSecond: number; readonly minBytesPerSecond: number }
  /**
   * An Array of Buffers (up to 65 536 members): the bytes of the distinct backing stores its
   * members view and of the members, now and at its earlier reports; an Array whose members grew
   * mostly by views onto stores it viewed before (a pool's free list) is not growing (growth.ts
   * `viewsOntoSameStores`). Absent for other kinds, when first seen or when not measured.
   */
  readonly backing?: Backing
  /**
   * A collection probed whole (up to 256 members, then up to 1 024 while the census goes on) at
   * its last searches in a row (growth.ts `stayersSpan`): how many of its members have been
   * present longer than any member that left may have been (`count`), how many left since the first of those searches (`departures`), the
   * longest a member that left may have been present (from its first census to the one that found
   * it gone; seconds of the target's clock), and
   * `count` at the searches before, oldest first (at most 8, same chain). `growing` when the
   * stayers, not its size, are what it was judged growing by. Absent when not measured.
   */
  readonly stayers?: Stayers
}

export interface Stayers {
  readonly count: number
  readonly departures: number
  readonly longestGoneSeconds: number
  readonly earlier: readonly number[]
  readonly growing?: true
}

/** An Array of Buffers' memory: see growth.ts `viewsOntoSameStores`. */
export interface Backing {
  /** Bytes of the distinct backing stores its members are (views onto), now. */
  readonly storeBytes: number
  /** Bytes of its members (their byte lengths summed). */
  readonly viewBytes: number
  /**
   * Bytes of its members on stores none of its members viewed at its earlier reports and no other
   * Array of Buffers holds now and held at an earlier report of its own; null when not measured then.
   */
  readonly onNewStoresBytes: number | null
  /**
   * Bytes of its members on stores none of its members viewed at its earlier reports that another
   * Array of Buffers reported at this search holds now and held at an earlier report of its own (a
   * pool's slabs array): memory that was there before, not counted as new.
   */
  readonly heldElsewhereBytes: number
  /** `viewBytes` at its previous report; null when not measured then. */
  readonly previousViewBytes: number | null
  /**
   * The most bytes its members gained on one store they viewed at an earlier report (since the
   * previous report; a store not viewed then counts from none).
   */
  readonly mostGainedOnOneStoreBytes: number
}

export interface Turnover {
  readonly gone: number
  readonly sampled: number
  /**
   * Every member present when sampled was probed (up to 256; 1 024 once a census has started):
   * `gone` is a count, not a sample.
   */
  readonly census?: boolean
}

export interface SiblingFamily {
  /** Identifies the family within one search. */
  readonly id: number
  readonly members: number
  /** Elements now, summed over the members. */
  readonly size: number
  /** Elements now of the members measured before, and their sizes then. */
  readonly knownSize: number
  readonly knownPreviousSize: number
  /** Summed growth per second of the members measured before. */
  readonly growthPerSecond: number
  /** Longest interval since a member's previous measurement (s). */
  readonly intervalSeconds: number
  /**
   * Of the members measured before: their lowest sizes since then, summed, and the same of the
   * interval before (a member not sampled counts its previous size in both; an interval before
   * not sampled, the previous size): the family's `floors` (growth.ts). Absent when no member was
   * sampled between the searches.
   */
  readonly knownLow?: number
  readonly knownPreviousLow?: number
  /**
   * The collection the members are held one per member of (the parent of the path's one key
   * step: `deliveries` of `deliveries → get(…) → .pings`), when it was measured: its id (a
   * holder of the same search) and how many of its members the walk visited (all, unless it
   * sampled them). Absent when the path has more than one key step or the members have
   * different parents.
   */
  readonly parent?: { readonly id: number; readonly visited: number }
  /**
   * Of the members sampled at the paths of its members reported at the previous search (at most
   * four), how many the collections at those paths no longer hold (the same collections, or the
   * copies that replaced them): how its members' members come and go, pooled. What a merged
   * family, and a member without a turnover of its own, is judged on, unless its parent is a
   * flow (siblings.ts `familyTurnover`). Absent when none of those paths was probed.
   */
  readonly turnover?: Turnover
}

/** What the search cost the target and the sidecar: charge it to the overhead budget and export it. */
export interface HolderSearchCost {
  /** Wall time of the whole search as seen from the sidecar. */
  readonly wallMs: number
  /** Longest single slice measured inside the target: the target's longest pause caused by the search. */
  readonly longestSliceMs: number
  /** Longest single object step inside a slice (an unsliceable step such as listing a big dictionary). */
  readonly longestStepMs: number
  /** Longest round trip of one protocol call (an upper bound of any pause). */
  readonly longestCallMs: number
  /**
   * Round trip of listing the target's scripts through the Debugger domain (script-list.ts), when
   * a path had a script without a file: it pauses the target for a walk of its heap. Null when
   * no listing was needed.
   */
  readonly scriptListMs: number | null
  /** The target's CPU (user + system, all threads) during the search; undefined when it could not be read. */
  readonly targetCpuMs: number | undefined
  readonly slices: number
  /** Protocol calls sent, one at a time. */
  readonly calls: number
  readonly objectsVisited: number
  /** The visit cap in force (follows the heap unless set). */
  readonly maxVisits: number
  readonly pathNodes: number
  readonly functionsOpened: number
  /** Objects opened for their private fields (#name), which only the inspector lists. */
  readonly privateFieldObjectsOpened: number
  /** Links of chains of closures followed through [[Scopes]] (three getProperties each). */
  readonly closureChainLinks: number
  /** Functions not opened: too large to describe, or with the application's own toString. */
  readonly functionsNotOpened: number
  /** Collections of which only the first and last elements were walked. */
  readonly sampledCollections: number
  /** Collections re-measured through WeakRefs because the walk did not reach them. */
  readonly trackedRemeasured: number
  readonly proxiesSkipped: number
  readonly hugeDictionariesSkipped: number
}

export interface HolderSearchDone {
  readonly status: 'done'
  /** Epoch ms at the end of the search (sidecar clock). */
  readonly at: number
  /** The walker's install in this process: ids and growth are only comparable within one. */
  readonly installId: string
  /** True when no collection had an earlier measurement: growth is unknown for all. */
  readonly firstSearch: boolean
  /** Ranked: growing holders by growth per second first; see `rankHolders`. */
  readonly holders: readonly Holder[]
  /** Every collection measured, siblings not merged (carries paths to the next search). */
  readonly collections: readonly Holder[]
  readonly cost: HolderSearchCost
  /** The target's heap used when the search began (Runtime.getHeapUsage); sets the default visit cap. */
  readonly heapUsedBytes: number | undefined
  /** A cap or the wall-time limit stopped the walk before it covered everything reachable. */
  readonly truncated: boolean
  /** Which caps stopped it ('objects visited', 'path nodes', 'functions', 'wall time', 'modules', 'timers'). */
  readonly truncation: readonly string[]
  /** scriptId → file, learnt from `require.cache`; carried to the next search of the same install. */
  readonly scripts: Readonly<Record<string, string>>
  /** The highest script id when the scripts were last listed in this install; null before any listing. */
  readonly scriptsListedUpTo: number | null
}

export type HolderRefusalReason = 'headroom' | 'busy' | 'unsupported'

export interface HolderSearchRefused {
  readonly status: 'refused'
  readonly code: 'LW_ERR_HOLDER_SEARCH_REFUSED'
  readonly reason: HolderRefusalReason
  readonly message: string
  /** For 'headroom': what a search needs and what the caller said is left. */
  readonly requiredBytes?: number
  readonly headroomBytes?: number
}

export type HolderSearchResult = HolderSearchDone | HolderSearchRefused

export interface HolderSearchOptions {
  /**
   * Memory the target's container has left (limit − RSS), or undefined when unknown.
   * Below `requiredHeadroomBytes` the search is refused without touching the target.
   */
  readonly headroomBytes?: number
  /** Override of the headroom a search needs (default HOLDER_SEARCH_HEADROOM_BYTES). */
  readonly requiredHeadroomBytes?: number
  /** Target time of one slice inside the target (ms, default 8). */
  readonly sliceMs?: number
  /** Pause of the sidecar between two slices, leaving the target's event loop a turn (ms, default 2). */
  readonly yieldMs?: number
  /** Timeout of each protocol call (ms, default 5000). */
  readonly callTimeoutMs?: number
  /** The search stops walking after this long and reports what it has (ms, default 20000). */
  readonly maxWallMs?: number
  /** Objects visited at most (default: 10 % of the heap at ~600 bytes a visit, between 5000 and 30000). */
  readonly maxVisits?: number
  /** Path nodes at most (default: twice the visit cap). */
  readonly maxPathNodes?: number
  /** Functions whose [[Scopes]] are opened at most (default 400). */
  readonly maxFunctions?: number
  /** Elements walked per collection (first half, last half; default 64). */
  readonly sample?: number
  /** Collections smaller than this are not reported unless their size changed (default 16). */
  readonly minSize?: number
  /** Holders reported at most (default 25). */
  readonly maxHolders?: number
  /** Collections tracked through WeakRefs between searches (default 256). */
  readonly maxTracked?: number
  /** A dictionary that took longer than this to list is not listed again (ms, default 50). */
  readonly maxStepMs?: number
  /**
   * Time a search spends counting linked lists too long to count in one step, all of them, in
   * the slices after the step that met them (ms, default 250); beyond it they are counted in part.
   */
  readonly maxListMs?: number
  /**
   * scriptId → URL or file of scripts the caller knows from elsewhere (the call frames of a
   * heap profile): names the scripts of ES modules, which `require.cache` does not list.
   */
  readonly scriptUrls?: ReadonlyMap<string, string>
  /** Sidecar clock (tests). */
  readonly now?: () => number
}
