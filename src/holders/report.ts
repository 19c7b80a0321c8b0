/**
 * The pure half of the holder search: the schemas of the walker's replies and
 * the turning of its items into ranked holders with readable paths. Tested on
 * recorded replies; no I/O here.
 */
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { bytesPerMember, growthSpan, isGrowing, sizeHistory, STAYERS_SPAN, stayersSpan, viewsOntoSameStores, type Floors } from './growth.js'
import { flowParentTurnover, groupSiblings } from './siblings.js'
export { describeHolder } from './describe.js'
import type { Backing, Holder, HolderKind, SiblingFamily, Stayers, Turnover } from './types.js'

/** Everything the target sends is bounded text: cut anything longer (a hostile or broken target). */
const text = (max: number) => z.string().transform((s) => (s.length > max ? `${s.slice(0, max)}…` : s))

export const HelloReply = z.union([
  z.object({
    ok: z.literal(true),
    fresh: z.boolean(),
    version: z.number(),
    installId: text(80),
    pid: z.number(),
    busy: z.boolean(),
    searches: z.number(),
    cwd: text(4096),
  }),
  z.object({ ok: z.literal(false), reason: text(400) }),
])

export const BeginReply = z.union([
  z.object({
    ok: z.literal(true),
    busy: z.literal(false),
    beginMs: z.number(),
    queued: z.number(),
    pendingFunctions: z.number(),
    installId: text(80),
    cwd: text(4096),
    mainFile: text(4096),
    mainIndex: z.number(),
  }),
  z.object({ ok: z.literal(false), busy: z.literal(true) }),
])

const Lost = z.object({ ok: z.literal(false) })

export const StepReply = z.union([
  z.object({
    ok: z.literal(true),
    sliceMs: z.number(),
    visits: z.number(),
    queued: z.number(),
    pendingFunctions: z.number(),
    nodes: z.number(),
    capped: z.boolean(),
  }),
  Lost,
])

export const AddScopesReply = z.union([
  z.object({
    ok: z.literal(true),
    internal: z.array(z.number()),
    modules: z.array(z.number()),
    files: z.array(z.tuple([z.number(), text(4096)])).max(1000),
    queued: z.number(),
    pendingFunctions: z.number(),
  }),
  Lost,
])

export const FunctionMeta = z.object({ node: z.number(), role: z.number(), file: text(4096), index: z.number(), name: text(200) })

export const FinishReply = z.union([
  z.object({
    ok: z.literal(true),
    finishMs: z.number(),
    holders: z.number(),
    visits: z.number(),
    nodes: z.number(),
    slices: z.number(),
    longestSliceMs: z.number(),
    longestStepMs: z.number(),
    stepsOverBudget: z.number(),
    truncated: z.array(text(120)).max(50),
    queuedLeft: z.number(),
    functionsListed: z.number(),
    functionsLeft: z.number(),
    errors: z.number(),
    proxies: z.number(),
    weakSkipped: z.number(),
    hugeSkipped: z.number(),
    sampledCollections: z.number(),
    scopesAdded: z.number(),
    trackedRemeasured: z.number(),
    functionsNotOpened: z.number(),
    tracked: z.number(),
    installId: text(80),
  }),
  Lost,
])

const RootToken = z.union([
  z.object({ type: z.literal('global'), name: text(200), kind: text(80) }),
  z.object({ type: z.literal('export'), file: text(4096), kind: text(80) }),
  z.object({ type: z.literal('handle'), name: text(200), kind: text(80) }),
  z.object({ type: z.literal('module'), name: text(200), ref: z.number(), scope: text(200), kind: text(80) }),
  z.object({ type: z.literal('process'), name: text(200), kind: text(80) }),
  z.object({ type: z.literal('timers') }),
  z.object({ type: z.literal('immediates') }),
  z.object({ type: z.literal('unknown') }),
])
export type RootToken = z.infer<typeof RootToken>

const Step = z.union([text(300), z.object({ closure: text(200), ref: z.number(), scope: text(200) })])
export type PathStep = z.infer<typeof Step>

export const WalkerItem = z.object({
  id: z.number().int(),
  kind: z.enum(['Array', 'Map', 'Set', 'Object', 'BufferArray', 'Timers', 'LinkedList', 'String']),
  size: z.number().nonnegative(),
  previousSize: z.number(),
  intervalS: z.number(),
  growthPerSecond: z.number().nullable(),
  elementShape: z.array(text(300)).max(10),
  keyShape: z.array(text(300)).max(10),
  retainedBytes: z.number(),
  sampled: z.number(),
  via: z.enum(['walk', 'tracked', 'stale']),
  root: RootToken.nullable(),
  steps: z.array(Step).max(200),
  /** Timers: the opened functions (refs) with the code of the sampled callbacks. */
  callbacks: z.array(z.number().int()).max(10).optional(),
  /**
   * Its sibling family over every collection measured (not only the reported ones): [id within
   * this search, members, size, size of the members measured before, their previous size, their
   * summed growth per second, longest interval, and (from walker v2) their summed lowest sizes since
   * their previous measurement and in the interval before (see `floors`; -1 when not sampled),
   * and the collection the members are held one per member of, when there is one and it was
   * measured: its id and the members of it the walk visited (-1, -1 when not), and its members'
   * turnover at their paths: members gone, members probed (-1, -1 when none; see
   * SiblingFamily.turnover)]; null when its path has no key step or it has no sibling.
   */
  family: z.array(z.number()).min(7).max(13).nullable().optional(),
  /** Sets, Maps and Arrays: [members gone, members sampled, 1 when they were all it held then (a census) else 0] of those sampled when it was last reported; null when none were. */
  turnover: z.tuple([z.number().int().nonnegative(), z.number().int().positive(), z.union([z.literal(0), z.literal(1)])]).nullable().optional(),
  /**
   * Tracked Arrays, Maps and Sets sampled at the polls between its previous measurement and this
   * one: [its lowest size since the previous measurement (both included), the same of the interval
   * before or −1, and (from this walker) the polls it rose to a new high at, seconds since it
   * last did]; null when not sampled in between (growth.ts `Floors`).
   */
  floors: z.union([z.tuple([z.number().int().nonnegative(), z.number().int()]), z.tuple([z.number().int().nonnegative(), z.number().int(), z.number().int().nonnegative(), z.number().nonnegative()])]).nullable().optional(),
  /**
   * An Array of Buffers: [bytes of the distinct stores its members view, of its members, of its
   * members on stores it did not view at its earlier reports or −1, of its members at its last
   * report or −1, the most its members gained on one store they viewed before]; null when not measured.
   */
  backing: z.tuple([z.number().nonnegative(), z.number().nonnegative(), z.number(), z.number(), z.number().nonnegative()]).rest(z.number().nonnegative()).nullable().optional(),
  /** Probed whole at this search and the one before: [stayers, departures so far, the longest a member that left may have been present (s)]; null otherwise (growth.ts `stayersSpan`). */
  stay: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative(), z.number().nonnegative()]).nullable().optional(),
})
export type WalkerItem = z.infer<typeof WalkerItem>

export const PageReply = z.union([
  z.object({ ok: z.literal(true), total: z.number(), items: z.array(WalkerItem).max(200) }),
  Lost,
])

/** Where the sidecar opened a function: what names a scope found through it. */
export interface FunctionRef {
  readonly scriptId: string
  /** 0-based, as the protocol gives it. */
  readonly line: number
  readonly name: string
}

export interface RenderContext {
  /** The target's working directory: files under it are shown relative to it. */
  readonly cwd: string
  /** scriptId → absolute file (from `require.cache`). */
  readonly scripts: ReadonlyMap<string, string>
  /** Functions opened in this search, by the ref the walker echoes. */
  readonly refs: readonly FunctionRef[]
}

/** Longest path rendered; longer ones keep their head and tail around an ellipsis. */
export const MAX_PATH_STEPS = 24

/** A file as a developer reads it: relative to the working directory, or from its `node_modules` package. */
export function displayFile(file: string, cwd: string): string {
  if (file === '') return file
  const normalized = file.replace(/\\/g, '/')
  const nm = normalized.lastIndexOf('/node_modules/')
  if (nm >= 0) return normalized.slice(nm + 1)
  const base = cwd.replace(/\\/g, '/').replace(/\/+$/, '')
  if (base !== '' && normalized.startsWith(`${base}/`)) return normalized.slice(base.length + 1)
  if (normalized.startsWith('file://')) return displayFile(decodeURI(normalized.slice('file://'.length)), cwd)
  return normalized
}

function whereIs(ref: FunctionRef | undefined, ctx: RenderContext, withLine: boolean): string {
  if (ref === undefined) return 'unknown script'
  const file = ctx.scripts.get(ref.scriptId)
  const place = file !== undefined ? displayFile(file, ctx.cwd) : `script ${ref.scriptId}`
  return withLine ? `${place}:${ref.line + 1}` : place
}

/** `Closure (subscribe)` → `subscribe`; other scope kinds as they are, lower-cased. */
function scopeOwner(description: string): string {
  const m = /^Closure \((.*)\)$/.exec(description)
  if (m !== null && m[1] !== undefined && m[1] !== '') return `in ${m[1]}()`
  if (description === 'Closure' || description === '') return 'closure'
  return description.toLowerCase()
}

export function renderRoot(root: RootToken, ctx: RenderContext): string {
  switch (root.type) {
    case 'global':
      return `globalThis.${root.name}${root.kind !== '' ? ` (${root.kind})` : ''}`
    case 'export':
      return `require('${displayFile(root.file, ctx.cwd)}')${root.kind !== '' ? ` (${root.kind})` : ''}`
    case 'handle':
      return `active handle ${root.name}`
    case 'module': {
      const ref = ctx.refs[root.ref]
      const file = ref !== undefined ? ctx.scripts.get(ref.scriptId) : undefined
      const where =
        file !== undefined
          ? displayFile(file, ctx.cwd)
          : `module of ${ref !== undefined && ref.name !== '' ? `${ref.name}()` : 'a function'} at ${whereIs(ref, ctx, true)}`
      return `${root.name} (${root.kind !== '' ? `${root.kind}, ` : ''}${where})`
    }
    case 'process':
      return `process.${root.name}`
    case 'timers':
      return 'timers'
    case 'immediates':
      return 'immediates'
    default:
      return '(unnamed root)'
  }
}

export function renderStep(step: PathStep, ctx: RenderContext): string {
  if (typeof step === 'string') return step
  return `‹${step.closure}› (${scopeOwner(step.scope)}, ${whereIs(ctx.refs[step.ref], ctx, true)})`
}

/** The path of one item, with the holder's kind on its last element. */
export function renderPath(item: Pick<WalkerItem, 'root' | 'steps' | 'kind'>, ctx: RenderContext): string[] {
  if (item.root === null) return []
  const parts = [renderRoot(item.root, ctx), ...item.steps.map((s) => renderStep(s, ctx))]
  if (parts.length > 1) parts[parts.length - 1] = `${parts[parts.length - 1]} (${item.kind})`
  else if (item.root.type !== 'module' && item.root.type !== 'global' && item.root.type !== 'export') {
    parts[0] = `${parts[0]} (${item.kind})`
  }
  if (parts.length <= MAX_PATH_STEPS) return parts
  const head = 4
  const tail = MAX_PATH_STEPS - head - 1
  return [...parts.slice(0, head), `… ${parts.length - head - tail} steps …`, ...parts.slice(parts.length - tail)]
}

export const RETAINED_BYTES_METHOD =
  'mean size of up to 3 sampled elements (each with what it holds 4 levels down, 8 children a level scaled to all of them, every field of a record of up to 24, at most 400 objects opened; 64-bit heap without pointer compression; Buffers count their bytes) × size, plus the table'

/** Items from the walker → holders, with paths rendered and carried over from the previous search. */
export function toHolders(
  items: readonly WalkerItem[],
  ctx: RenderContext,
  previous: ReadonlyMap<number, PreviousHolder>,
): Holder[] {
  const owned = new Map(items.map((item) => [item.id, ownTurnover(item, previous.get(item.id))]))
  const holders = items.map((item): Holder => {
    let path = renderPath(item, ctx)
    let pathComplete = item.root !== null && item.root.type !== 'unknown'
    let rootFile = rootFileOf(item.root, ctx)
    const before = previous.get(item.id)
    if (item.root === null) {
      if (before !== undefined && before.path.length > 0) {
        path = [...before.path]
        pathComplete = before.pathComplete
        rootFile = before.rootFile
      }
    }
    const first = item.previousSize < 0 || item.growthPerSecond === null
    const previousSize = first ? null : item.previousSize
    const turnover = owned.get(item.id)
    const earlierSizes = first ? [] : sizesBefore(before, item.previousSize)
    const floors: Floors | undefined =
      item.floors != null && !first
        ? {
            low: Math.min(item.floors[0], item.previousSize, item.size),
            previousLow: item.floors[1] >= 0 ? item.floors[1] : null,
            ...(item.floors.length === 4 && item.intervalS > 0 ? { rises: item.floors[2], flatShare: Math.min(1, item.floors[3] / item.intervalS) } : {}),
          }
        : undefined
    const backing: Backing | undefined =
      item.backing != null && !first
        ? {
            storeBytes: item.backing[0],
            viewBytes: item.backing[1],
            onNewStoresBytes: item.backing[2] >= 0 ? item.backing[2] : null,
            previousViewBytes: item.backing[3] >= 0 ? item.backing[3] : null,
            mostGainedOnOneStoreBytes: item.backing[4],
            heldElsewhereBytes: item.backing[5] ?? 0,
          }
        : undefined
    const family = item.family != null ? toFamily(item.family) : undefined
    // Without a turnover of its own (not reported at the previous search, or first probed then),
    // a member of a family is judged by its family's (siblings.ts familyTurnover): one key's
    // window filled by a burst is a flow like the others, and so is the move history of one live
    // match among matches that end, until its own members say otherwise.
    const parentFlow = flowParentTurnover(family, (id) => owned.get(id))
    const inherited = turnover ?? parentFlow ?? family?.turnover
    // Reported for the first time, not reached by the walk (re-measured through its WeakRef: one
    // of the biggest collections tracked between searches) and no turnover: not judged yet. Its
    // two sizes tell nothing of how it moves, and without a path no family is known either. In
    // every logged run, what such a holder held was a healthy program's window or buffer lifted
    // by a burst (9 of 9). Reported now, its members are probed: the next search judges it.
    const unmeasured = item.via === 'tracked' && before === undefined && inherited === undefined
    // Held one per member of a flow (a live match's moves, among matches that end), a member is
    // judged from its third measurement on: one that lives as long as the others has left by then,
    // one that stays (a dead consumer's queue) has not.
    const young = parentFlow !== undefined && earlierSizes.length === 0
    const sameStores = viewsOntoSameStores(backing)
    const span = sameStores || unmeasured || young ? 0 : growthSpan(item.size, previousSize, inherited, earlierSizes, floors, bytesPerMember(item))
    const stayers = stayersNow(item, before)
    // A pool's free list keeps its chunks while traffic is quiet: they stay, on stores it viewed before.
    const byStayers = span === 0 && !sameStores && stayers !== undefined && previousSize !== null && stayersSpan(stayers, bytesPerMember(item), sizeHistory({ size: item.size, previousSize, earlierSizes })) > 0
    return {
      id: item.id,
      path,
      pathComplete,
      kind: item.kind as HolderKind,
      size: item.size,
      previousSize,
      growing: span > 0 || byStayers,
      intervalSeconds: first ? 0 : item.intervalS,
      growthPerSecond: first ? null : item.growthPerSecond,
      elementShape: timerShapes(item, ctx) ?? item.elementShape,
      keyShape: item.keyShape,
      retainedBytes: Math.max(0, Math.round(item.retainedBytes)),
      retainedBytesMethod: RETAINED_BYTES_METHOD,
      measuredBy: item.via,
      rootFile,
      ...(family !== undefined ? { family } : {}),
      ...(turnover !== undefined ? { turnover } : {}),
      ...(earlierSizes.length > 0 ? { earlierSizes } : {}),
      ...(span > 1 ? { growingOver: span } : {}),
      ...(floors !== undefined ? { floors } : {}),
      ...(backing !== undefined ? { backing } : {}),
      ...(stayers !== undefined ? { stayers: byStayers ? { ...stayers, growing: true as const } : stayers } : {}),
    }
  })
  return rankHolders(holders)
}

/** What toHolders carries over from the previous search's report of the same collection. */
export type PreviousHolder = Pick<Holder, 'path' | 'pathComplete' | 'rootFile' | 'size' | 'previousSize' | 'earlierSizes' | 'turnover' | 'stayers'>

/**
 * The turnover measured for it (see Holder.turnover), or carried over from its previous report
 * of the same measurement chain (turnoverBefore); undefined when first seen now.
 */
function ownTurnover(item: WalkerItem, before: PreviousHolder | undefined): Turnover | undefined {
  if (item.previousSize < 0 || item.growthPerSecond === null) return undefined
  if (item.turnover == null) return turnoverBefore(before, item.previousSize)
  return { gone: Math.min(item.turnover[0], item.turnover[1]), sampled: item.turnover[1], ...(item.turnover[2] === 1 ? { census: true } : {}) }
}

/** Its stayers now, with their counts at the earlier reports of the same census chain (see growth.ts `stayersSpan`). */
function stayersNow(item: WalkerItem, before: PreviousHolder | undefined): Stayers | undefined {
  if (item.stay == null || item.previousSize < 0) return undefined
  const chain = sameMeasurement(before, item.previousSize) && before.stayers !== undefined ? before.stayers : undefined
  const earlier = chain === undefined ? [] : [...chain.earlier, chain.count].slice(-STAYERS_SPAN)
  return { count: item.stay[0], departures: item.stay[1], longestGoneSeconds: item.stay[2], earlier }
}

/**
 * The turnover measured at the previous report of the same measurement chain (as sizesBefore),
 * when none could be measured now: its members were not probed at that report because by then it
 * had too few (a queue drained below 16 members while the search ran) or the step was over its
 * time budget. How a collection's members come and go is a property of how it is used, so the
 * last measurement stands until a new one is taken; without it, a queue drained in batches would
 * be judged on two sizes sampled at random in its cycle.
 */
function turnoverBefore(before: PreviousHolder | undefined, previousSize: number): Turnover | undefined {
  return sameMeasurement(before, previousSize) ? before.turnover : undefined
}

/** Whether the previous report is the measurement `previousSize` comes from (its own history continues). */
function sameMeasurement(before: PreviousHolder | undefined, previousSize: number): before is PreviousHolder & { previousSize: number } {
  return before !== undefined && before.size === previousSize && before.previousSize !== null
}

/**
 * The sizes before `previousSize` (oldest first, at most STAYERS_SPAN − 1: the stayers' span
 * needs its sizes; the other rules read their last few): the previous report's
 * own history, when that report is the measurement `previousSize` comes from (a collection not
 * reported at every search, or measured at its path as a new copy, starts over).
 */
function sizesBefore(before: PreviousHolder | undefined, previousSize: number): number[] {
  if (!sameMeasurement(before, previousSize)) return []
  return [...(before.earlierSizes ?? []), before.previousSize].slice(-(STAYERS_SPAN - 1))
}

function toFamily([id, members, size, knownSize, knownPrevious, growthPerSecond, intervalSeconds, knownLow, knownPreviousLow, parentId, parentVisited, gone, probed]: readonly number[]): SiblingFamily {
  return {
    id: id!,
    members: members!,
    size: size!,
    knownSize: knownSize!,
    knownPreviousSize: knownPrevious!,
    growthPerSecond: growthPerSecond!,
    intervalSeconds: intervalSeconds!,
    ...(knownLow !== undefined && knownPreviousLow !== undefined && knownLow >= 0 && knownPreviousLow >= 0 ? { knownLow, knownPreviousLow } : {}),
    ...(parentId !== undefined && parentVisited !== undefined && parentVisited > 0 ? { parent: { id: parentId, visited: parentVisited } } : {}),
    ...(gone !== undefined && probed !== undefined && gone >= 0 && probed > 0 ? { turnover: { gone, sampled: probed } } : {}),
  }
}

/** The holders a search reports: sibling collections merged (siblings.ts), ranked. */
export function reportedHolders(collections: readonly Holder[]): Holder[] {
  return rankHolders(groupSiblings(collections, isGrowing))
}

/** A timer list's elements by where their callback is: `Timeout(function at src/poller.js:63)`. */
function timerShapes(item: WalkerItem, ctx: RenderContext): string[] | undefined {
  const refs = (item.callbacks ?? []).map((ref) => ctx.refs[ref]).filter((ref): ref is FunctionRef => ref !== undefined)
  if (item.kind !== 'Timers' || refs.length === 0) return undefined
  return [...new Set(refs.map((ref) => `Timeout(${ref.name !== '' ? `function ${ref.name}` : 'function'} at ${whereIs(ref, ctx, true)})`))]
}

/** The file a root belongs to: a module scope's script, or a `require.cache` entry. */
function rootFileOf(root: RootToken | null, ctx: RenderContext): string | null {
  if (root?.type === 'export') return root.file === '' ? null : root.file
  if (root?.type !== 'module') return null
  const ref = ctx.refs[root.ref]
  return (ref !== undefined ? ctx.scripts.get(ref.scriptId) : undefined) ?? null
}

/**
 * The main module rarely exports a function, so `require.cache` gives no script of it. Scripts
 * get increasing ids as they compile; the main module compiles after the modules before it in
 * `require.cache` (preloaded with `-r`) and before the modules after it (loaded by it). A module
 * scope of an unnamed script between the two is the main module's, when there is exactly one
 * such script. (An ES-module loader hook compiled in that window could be taken for it; with
 * two candidates nothing is named.)
 *
 * `scriptIndex`: scriptId → position in `require.cache` of the scripts named through exports.
 */
export function inferMainScript(
  moduleScripts: ReadonlySet<string>,
  scripts: ReadonlyMap<string, string>,
  scriptIndex: ReadonlyMap<string, number>,
  mainFile: string,
  mainIndex: number,
): string | undefined {
  if (mainFile === '' || mainIndex < 0) return undefined
  for (const file of scripts.values()) if (file === mainFile) return undefined
  let lower = Number.NEGATIVE_INFINITY
  let upper = Number.POSITIVE_INFINITY
  for (const [id, index] of scriptIndex) {
    const n = Number(id)
    if (!Number.isFinite(n)) continue
    if (index < mainIndex && n > lower) lower = n
    if (index > mainIndex && n < upper) upper = n
  }
  const candidates = [...moduleScripts].filter((id) => !scripts.has(id) && Number(id) > lower && Number(id) < upper)
  return candidates.length === 1 ? candidates[0] : undefined
}

/**
 * Growing holders first (by growth per second), then the rest by growth per second, with
 * collections first seen now after those that grew and before those that did not, biggest first.
 */
export function rankHolders(holders: readonly Holder[]): Holder[] {
  const ranked = [...holders].sort((a, b) => {
    if (a.growing !== b.growing) return a.growing ? -1 : 1
    const ga = a.growthPerSecond
    const gb = b.growthPerSecond
    if (ga !== null && gb !== null && ga !== gb) return gb - ga
    if (ga === null && gb !== null) return gb > 0 ? 1 : -1
    if (gb === null && ga !== null) return ga > 0 ? -1 : 1
    return b.size - a.size || a.id - b.id
  })
  // A family grown by its parent's new members (siblings.ts) is that parent's growth, told by
  // what each new member holds: right after the parent, whatever its count of elements.
  const after = new Map<number, Holder[]>()
  for (const h of ranked) {
    const parentId = h.byParent?.parentId
    if (parentId !== undefined && ranked.some((p) => p.id === parentId)) after.set(parentId, [...(after.get(parentId) ?? []), h])
  }
  if (after.size === 0) return ranked
  return ranked.filter((h) => h.byParent === undefined || !after.has(h.byParent.parentId)).flatMap((h) => [h, ...(after.get(h.id) ?? [])])
}

/**
 * A script's URL (as V8 reports it in call frames) as a file a developer could open: `file://`
 * URLs converted, absolute paths as they are; undefined for Node's own (`node:`), unnamed and
 * anything else.
 */
export function scriptFile(url: string): string | undefined {
  if (url.startsWith('file:')) {
    try {
      return fileURLToPath(url)
    } catch {
      return undefined
    }
  }
  return url.startsWith('/') || /^[A-Za-z]:[\\/]/.test(url) ? url : undefined
}

/** Scripts known to the caller, as files (`scriptFile`): the ones that are none are left out. */
export function* scriptFiles(urls: ReadonlyMap<string, string> | undefined): Generator<[string, string]> {
  if (urls === undefined) return
  for (const [id, url] of urls) {
    const file = id === '' || id === '0' ? undefined : scriptFile(url)
    if (file !== undefined) yield [id, file]
  }
}
