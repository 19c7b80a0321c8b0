/**
 * The in-target half of the holder search: fixed JavaScript installed once per
 * process under a `Symbol.for` key, and the expressions that drive it.
 *
 * The inspector is remote code execution, so the rule of src/inspector/snippets.ts
 * holds here too: every piece of source below is fixed text written here. The
 * only values spliced into an expression are integers checked by
 * `checkedInteger` (slice budget, page offsets, caps); everything else reaches
 * the target as a by-value argument of `Runtime.callFunctionOn` (plain JSON of
 * integers), never as code.
 *
 * What the walker does, in slices that each return to the event loop:
 *   - roots a developer would name: module scopes (reached through functions'
 *     `[[Scopes]]`, which only the inspector can open: the sidecar opens the
 *     functions the walker lists and hands their scope lists back), the exports
 *     in `require.cache`, user globals, `process` listeners, active handles,
 *     the timer lists;
 *   - a breadth-first walk of own data properties, Map/Set entries and array
 *     elements, sampling big collections (first and last elements), with caps
 *     on objects visited, path nodes and functions opened;
 *   - collections (Array, Map, Set, objects used as dictionaries) are measured
 *     and their size and time kept in a WeakMap keyed by the collection (so a
 *     later search sees the growth, and nothing is retained); the biggest are
 *     also tracked through WeakRefs so that a later search re-measures them even
 *     when its walk does not reach them.
 * Never run: getters (only data descriptors are read), proxy traps (proxies are
 * skipped), `Error.prepareStackTrace` (an error's `stack` is skipped), WeakMap
 * or WeakSet entries. Nothing here forces a GC.
 *
 * Per-search state (queue, visited set, path nodes) lives only during a search
 * and is dropped by `end()`, or by a watchdog timer if the sidecar goes away.
 * What stays between searches: the WeakMaps of measurements, ids, probes and
 * lowest sizes (entries die with their collections), the tracked WeakRefs
 * (bounded) and this code. Between searches the sidecar's polls call `sample`,
 * which reads the tracked collections' sizes and keeps each one's lowest.
 */


import { createHash } from 'node:crypto'
import { FN_ROLE, WALKER_KEY } from './walker-keys.js'
import { WALKER_PRELUDE_SOURCE } from './walker-prelude.js'
import { WALKER_WALK_SOURCE } from './walker-walk.js'
import { WALKER_ROOTS_SOURCE } from './walker-roots.js'
import { WALKER_GROWTH_SOURCE } from './walker-growth.js'
import { WALKER_RUN_SOURCE } from './walker-run.js'

export { FN_ROLE, HOLDER_FN_GROUP, HOLDER_OBJECT_GROUP, WALKER_KEY } from './walker-keys.js'
/** Bounds of every integer ever spliced into a walker expression. */
export const WALKER_LIMITS = {
  sliceMs: [1, 200],
  takeFunctions: [1, 64],
  pageOffset: [0, 100_000],
  pageCount: [1, 200],
} as const

/** Options of one search as the walker receives them: integers only, each within bounds. */
export interface WalkerBeginOptions {
  /** Objects visited at most (the walk stops there and says so). */
  readonly maxVisits: number
  /** Path nodes (enqueued objects) at most: bounds the search's own memory. */
  readonly maxNodes: number
  /** Functions listed for opening (each costs the sidecar one round trip). */
  readonly maxFunctions: number
  /** Elements walked per collection: the first half and the last half. */
  readonly sample: number
  /** A collection above this size makes its elements "bulk": their small collections are not recorded. */
  readonly bulkMin: number
  /** An object with at least this many keys counts as a dictionary. */
  readonly dictMin: number
  /** Collections below this size are not reported (unless their size changed). */
  readonly minSize: number
  /** Closures opened per distinct function source (closures of one source differ only in their inner scopes). */
  readonly perCode: number
  /** A dictionary whose keys took longer than this to list is not listed again (ms). */
  readonly maxStepMs: number
  /** Time a search spends counting linked lists longer than one step counts (ms, all of them). */
  readonly maxListMs: number
  /** Modules read from `require.cache` at most. */
  readonly maxModules: number
  /** Timers read per timer list at most. */
  readonly maxTimers: number
  /** Collections tracked through WeakRefs between searches at most. */
  readonly maxTracked: number
  /** Candidates kept for the report: the fastest growing, then the biggest. */
  readonly maxHolders: number
  /** Idle time after which an abandoned search's state is dropped in the target (ms). */
  readonly watchdogMs: number
}

export const WALKER_OPTION_BOUNDS: Readonly<Record<keyof WalkerBeginOptions, readonly [number, number]>> = {
  maxVisits: [100, 1_000_000],
  maxNodes: [100, 2_000_000],
  maxFunctions: [0, 5_000],
  sample: [2, 1_000],
  bulkMin: [2, 1_000_000],
  dictMin: [1, 1_000_000],
  minSize: [0, 1_000_000],
  perCode: [1, 100],
  maxStepMs: [1, 10_000],
  maxListMs: [0, 10_000],
  maxModules: [0, 100_000],
  maxTimers: [0, 100_000],
  maxTracked: [0, 10_000],
  maxHolders: [1, 1_000],
  watchdogMs: [1_000, 600_000],
}

/** An integer within [min, max], or an error: the only way a number reaches walker source. */
export function checkedInteger(name: string, value: number, [min, max]: readonly [number, number]): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/** The begin options with every field checked: a plain object of integers, safe to JSON-splice. */
export function checkedBeginOptions(options: WalkerBeginOptions): WalkerBeginOptions {
  const out: Record<string, number> = {}
  for (const [name, bounds] of Object.entries(WALKER_OPTION_BOUNDS)) {
    out[name] = checkedInteger(name, (options as unknown as Record<string, number>)[name] ?? Number.NaN, bounds)
  }
  return out as unknown as WalkerBeginOptions
}

const WALKER_REF = `globalThis[Symbol.for(${JSON.stringify(WALKER_KEY)})]`

const WALKER_BODY = `${WALKER_PRELUDE_SOURCE}${WALKER_WALK_SOURCE}${WALKER_ROOTS_SOURCE}${WALKER_GROWTH_SOURCE}${WALKER_RUN_SOURCE}`

/**
 * The walker's version: a hash of its source. A walker stays in the target after its sidecar
 * is gone; a sidecar of another version (an upgrade reattaching to a long-running process) must
 * install its own rather than call one whose replies it does not know.
 */
export const WALKER_VERSION = createHash('sha256').update(WALKER_BODY).digest('hex').slice(0, 16)

/**
 * Installs the walker once per process and answers what it can do. Idempotent:
 * a second evaluation finds the walker of the same version and only says hello; one of another
 * version is replaced. Assembled from its parts (one function body; the parts share its scope).
 */
export const INSTALL_HOLDER_WALKER = `(() => {${WALKER_BODY.replaceAll('__LW_WALKER_VERSION__', JSON.stringify(WALKER_VERSION))}})()`

const checkedSlice = (ms: number): number => checkedInteger('sliceMs', ms, WALKER_LIMITS.sliceMs)

/** Start a search with checked integer options (JSON of integers only). */
export function beginExpression(options: WalkerBeginOptions): string {
  return `${WALKER_REF}.begin(${JSON.stringify(checkedBeginOptions(options))})`
}

/** Walk for about `sliceMs` milliseconds, then return to the event loop. */
export function stepExpression(sliceMs: number): string {
  return `${WALKER_REF}.step(${checkedSlice(sliceMs)})`
}

/** The next functions to open, returned by reference as [fn, metaJson, ...]. */
export function takeFunctionsExpression(count: number): string {
  return `${WALKER_REF}.takeFunctions(${checkedInteger('count', count, WALKER_LIMITS.takeFunctions)})`
}

/** Re-measure tracked collections, rank, and prepare the report. */
export const FINISH_EXPRESSION = `${WALKER_REF}.finish()`

/** One page of the prepared report, by value. */
export function pageExpression(offset: number, count: number): string {
  return `${WALKER_REF}.page(${checkedInteger('offset', offset, WALKER_LIMITS.pageOffset)}, ${checkedInteger('count', count, WALKER_LIMITS.pageCount)})`
}

/**
 * Between searches, at a poll: re-measure the tracked Arrays, Maps and Sets and keep each one's
 * lowest size since its last measurement (walker-run.ts `sample`); `{ ok: false }` when the
 * walker is not installed in this process.
 */
export const SAMPLE_EXPRESSION = `(() => { const w = ${WALKER_REF}; return w === undefined || w === null || typeof w.sample !== 'function' ? { ok: false } : w.sample(); })()`

/** Drop the search's state in the target (queue, visited set, path nodes). */
export const END_EXPRESSION = `(() => { const w = ${WALKER_REF}; return w === undefined ? { ok: true } : w.end(); })()`

/**
 * Called on the first scope list of a batch with the batch's metadata (by
 * value) and every scope list and bound-function part as further arguments.
 */
export const ADD_SCOPES_FUNCTION = `function (metas) {
  const w = ${WALKER_REF};
  if (w === undefined || w === null) return { ok: false };
  return w.addScopes(metas, arguments);
}`

/**
 * Called on a chain of closures' first link by the sidecar as it follows the chain (see
 * inspector-reads.ts): op 0 asks which of the links handed over was the chain's first at the
 * previous search; op 1 records the count.
 */
export const CHAIN_FUNCTION = `function (op, node) {
  const w = ${WALKER_REF};
  if (w === undefined || w === null || typeof w.chain !== 'function') return { ok: false };
  return w.chain(op, node, arguments);
}`

/** The walker's sources with a one-line purpose, for the threat model in docs/security.md. */
export const HOLDER_SNIPPETS: ReadonlyArray<{ name: string; purpose: string; source: string }> = [
  { name: 'INSTALL_HOLDER_WALKER', purpose: 'install, once per process, the holder walker (reads only data properties; never runs getters, proxy traps or GC)', source: INSTALL_HOLDER_WALKER },
  { name: 'HOLDER_BEGIN', purpose: 'start a holder search with integer caps', source: beginExpression({ maxVisits: 30000, maxNodes: 100000, maxFunctions: 300, sample: 64, bulkMin: 64, dictMin: 32, minSize: 16, perCode: 4, maxStepMs: 50, maxListMs: 250, maxModules: 5000, maxTimers: 1000, maxTracked: 256, maxHolders: 25, watchdogMs: 30000 }) },
  { name: 'HOLDER_STEP', purpose: 'walk one slice of a few milliseconds', source: stepExpression(8) },
  { name: 'HOLDER_TAKE_FUNCTIONS', purpose: 'hand the sidecar the next functions whose [[Scopes]] it opens', source: takeFunctionsExpression(16) },
  { name: 'HOLDER_ADD_SCOPES', purpose: 'hand the walker the scope lists the sidecar opened (callFunctionOn)', source: ADD_SCOPES_FUNCTION },
  { name: 'HOLDER_CHAIN', purpose: 'tell whether links of a chain of closures the sidecar follows were counted before, and record its count (callFunctionOn)', source: CHAIN_FUNCTION },
  { name: 'HOLDER_FINISH', purpose: 're-measure tracked collections and rank', source: FINISH_EXPRESSION },
  { name: 'HOLDER_PAGE', purpose: 'read one page of the report', source: pageExpression(0, 20) },
  { name: 'HOLDER_END', purpose: 'drop the search state in the target', source: END_EXPRESSION },
  { name: 'HOLDER_SAMPLE', purpose: 'between searches, at a poll: read the sizes of the tracked collections and keep the lowest', source: SAMPLE_EXPRESSION },
]
