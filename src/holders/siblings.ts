/**
 * Sibling collections as one holder.
 *
 * A leak is often spread over many collections of the same kind, one per key: a registry
 * keeping `tenants → get('tenant-7') → .samples` for every tenant, a dictionary of per-user
 * queues. Each sibling alone grows by a fraction of the leak, often below what counts as
 * growing, and twenty equal holders would crowd the top-K out. Holders whose paths differ only
 * in their key steps (`get(…)`, `[…]`, `key #…`, `member #…`) and that have the same kind and
 * element shape are reported once, as their sum, with the varying steps shown as `get(…)` and
 * the number of members. Where one member carries most of the growth it is left on its own: its
 * key is what the developer needs to know.
 */
import { GROWING_MIN_ELEMENTS, isFlow, spanStartSize, type Floors } from './growth.js'
import type { Holder, SiblingFamily, Turnover } from './types.js'

/** A step that names one entry of a collection (its key or index) rather than a fixed field. */
function isKeyStep(step: string): boolean {
  return step.startsWith('get(') || step.startsWith('[') || step.startsWith('key #') || step.startsWith('member #')
}

/** The collection-step form of a key step, e.g. `get('tenant-7')` → `get(…)`. */
function wildcard(step: string): string {
  if (step.startsWith('get(')) return 'get(…)'
  if (step.startsWith('key #')) return 'key #…'
  if (step.startsWith('member #')) return 'member #…'
  return '[…]'
}

/**
 * The group a holder belongs to: its path with every key step replaced by its wildcard (the
 * last step keeps its kind suffix), its kind and its first element shape. Undefined when the
 * path has no key step (nothing to vary) or is incomplete.
 */
function groupKey(holder: Holder): string | undefined {
  if (!holder.pathComplete || holder.path.length < 2) return undefined
  let keyed = false
  const steps = holder.path.map((step, index) => {
    if (index === 0 || !isKeyStep(step)) return step
    keyed = true
    return wildcard(step)
  })
  return keyed ? JSON.stringify([steps, holder.kind, holder.elementShape[0] ?? '']) : undefined
}

/** A stable id for a group (negative, so that it never meets a collection's own id). */
function groupId(key: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return -1 - ((hash >>> 0) % 0x7fffffff)
}

/**
 * Merges siblings (two or more holders in one group, see above) into one holder per group:
 * size, previous size, growth and retained bytes summed; growing when the sum grew by what
 * counts as growing (`isGrowing`). Holders in no group are returned as they are; order is kept
 * (the caller ranks).
 */
export function groupSiblings(holders: readonly Holder[], isGrowing: IsGrowing): Holder[] {
  const keys = holders.map(groupKey)
  const groups = new Map<string, Holder[]>()
  holders.forEach((holder, index) => {
    const key = keys[index]
    if (key === undefined) return
    const members = groups.get(key)
    if (members === undefined) groups.set(key, [holder])
    else members.push(holder)
  })
  const families = new Map<string, SiblingFamily | undefined>()
  const groupsOfFamily = new Map<number, number>()
  const byId = new Map(holders.map((h) => [h.id, h]))
  for (const [key, members] of groups) {
    if (members.length < 2) continue
    const family = sharedFamily(members)
    // One member carrying the growth is the story, unless the family grows by its parent's new
    // members (grownByParent): then the one growing is a new member still filling.
    if (concentrated(members) && !(family?.parent !== undefined && byId.get(family.parent.id)?.growing === true)) continue
    families.set(key, family)
    if (family !== undefined) groupsOfFamily.set(family.id, (groupsOfFamily.get(family.id) ?? 0) + 1)
  }
  const merged = new Map<string, Holder>()
  for (const [key, family] of families) {
    const members = groups.get(key) as Holder[]
    const sole = family !== undefined && groupsOfFamily.get(family.id) === 1
    const group = mergeGroup(key, members, isGrowing, family, sole, familyTurnover(family, (id) => byId.get(id)?.turnover))
    const parent = sole && family?.parent !== undefined ? byId.get(family.parent.id) : undefined
    merged.set(key, parent === undefined || group.growing ? group : grownByParent(group, family as SiblingFamily, parent))
  }
  const out: Holder[] = []
  const emitted = new Set<string>()
  holders.forEach((holder, index) => {
    const key = keys[index]
    const group = key === undefined ? undefined : merged.get(key)
    if (group === undefined) out.push(holder)
    else if (!emitted.has(key as string)) {
      emitted.add(key as string)
      out.push(group)
    }
  })
  return out
}

/**
 * The turnover a family is judged by (and a member of it without a turnover of its own). When
 * the collection its members are held one per member of is a flow (growth.ts `isFlow`: matches
 * that end, sessions that close), its members leave with theirs, whatever they held: the
 * family's sum is the level of what the live ones hold, and that parent's turnover is the
 * family's (the move history of each live match grows until the match ends, and their sum
 * follows the evening's traffic). Else its members' members at their paths
 * (`SiblingFamily.turnover`), which cannot count the members that left. `turnoverOf`: a
 * holder's own turnover by id.
 */
export function familyTurnover(family: SiblingFamily | undefined, turnoverOf: (id: number) => Turnover | undefined): Turnover | undefined {
  return flowParentTurnover(family, turnoverOf) ?? family?.turnover
}

/** The turnover of the collection a family's members are held one per member of, when it is a flow; else undefined. */
export function flowParentTurnover(family: SiblingFamily | undefined, turnoverOf: (id: number) => Turnover | undefined): Turnover | undefined {
  const parent = family?.parent !== undefined ? turnoverOf(family.parent.id) : undefined
  return parent !== undefined && isFlow(parent) ? parent : undefined
}

/**
 * One member carries most of the growth: that member is the story (the one dead consumer's
 * queue among live ones, `get('b')`), and it stays on its own, named by its key.
 */
function concentrated(members: readonly Holder[]): boolean {
  const growths = members.map((h) => Math.max(0, h.growthPerSecond ?? 0))
  const total = growths.reduce((sum, g) => sum + g, 0)
  return total > 0 && Math.max(...growths) > SPREAD_SHARE * total
}

/** A family's floors, from the walker's sums over all its members (absent when none was sampled). */
function familyFloors(family: SiblingFamily): Floors | undefined {
  return summedFloors(family.size, family.knownSize, family.knownLow, family.knownPreviousLow)
}

/** The largest share of a group's growth one member may have for the group to be merged. */
export const SPREAD_SHARE = 0.5

/** The family every member that has one belongs to; undefined when there is none or several. */
function sharedFamily(members: readonly Holder[]): SiblingFamily | undefined {
  let family: SiblingFamily | undefined
  for (const h of members) {
    if (h.family === undefined) continue
    if (family !== undefined && family.id !== h.family.id) return undefined
    family = h.family
  }
  return family
}

type IsGrowing = (size: number, previousSize: number | null, turnover?: Turnover, earlierSizes?: readonly number[], floors?: Floors) => boolean

/**
 * The floors of a sum of collections (growth.ts `Floors`): the members measured before (`known`)
 * with their lowest sizes since (`low`) and in the interval before (`previousLow`), plus the size
 * of the members first seen now (`size − knownSize`, in both). Undefined when no member was
 * sampled between the searches.
 */
function summedFloors(size: number, knownSize: number, low: number | undefined, previousLow: number | undefined): Floors | undefined {
  if (low === undefined || previousLow === undefined) return undefined
  const rest = size - knownSize
  return { low: rest + low, previousLow: rest + previousLow }
}

/**
 * The group's numbers. The walker reports the collections that grew most and the biggest, so
 * the reported members of a family of churning collections are the ones that happened to grow:
 * their sum is growth by selection. With the family measured over all its members (`sole`: the
 * group is the family's only group here), size, growth and members are the family's (a member
 * the walk did not reach, re-measured through a WeakRef, is in no family: left out). When the family is
 * split over groups (different element shapes), the group is growing only if its family grew too.
 */
function mergeGroup(
  key: string,
  members: readonly Holder[],
  isGrowing: IsGrowing,
  family: SiblingFamily | undefined,
  sole: boolean,
  turnover: Turnover | undefined,
): Holder {
  const first = members[0] as Holder
  const [path] = JSON.parse(key) as [string[]]
  const sum = (list: readonly Holder[], f: (h: Holder) => number): number => list.reduce((total, h) => total + f(h), 0)
  const listed = sum(members, (h) => h.size)
  const bytes = sum(members, (h) => h.retainedBytes)
  const fromFamily = sole && family !== undefined
  // With the family: its numbers alone. A member in no family was not reached by this walk
  // (re-measured through a WeakRef) and is left out, as it may be the collection replaced by one
  // the walk measured at its path. Without: growth counts only the members measured before (a
  // sibling first seen now may replace one that went away: per-connection buffers come and go).
  const known = members.filter((h) => h.previousSize !== null && h.growthPerSecond !== null)
  const sampled = known.some((h) => h.floors !== undefined)
  const { size, grew, anyKnown, growthPerSecond, intervalSeconds, count, floors } = fromFamily
    ? {
        size: family.size,
        grew: family.knownSize - family.knownPreviousSize,
        anyKnown: family.knownSize + family.knownPreviousSize > 0,
        growthPerSecond: family.growthPerSecond,
        intervalSeconds: Math.max(0, family.intervalSeconds),
        count: family.members,
        floors: familyFloors(family),
      }
    : {
        size: listed,
        grew: sum(known, (h) => h.size - (h.previousSize as number)),
        anyKnown: known.length > 0,
        growthPerSecond: sum(known, (h) => h.growthPerSecond as number),
        intervalSeconds: Math.max(0, ...known.map((h) => h.intervalSeconds)),
        count: members.length,
        floors: summedFloors(
          listed,
          sum(known, (h) => h.size),
          sampled ? sum(known, (h) => h.floors?.low ?? (h.previousSize as number)) : undefined,
          sampled ? sum(known, (h) => h.floors?.previousLow ?? (h.previousSize as number)) : undefined,
        ),
      }
  const previousSize = anyKnown ? size - grew : null
  // Judged on the family's turnover (familyTurnover): siblings whose windows turn over, or that
  // leave with their parent's members, are flows, and a burst lifts the level of every one at once.
  const familyGrew =
    family === undefined || isGrowing(family.size, family.size - (family.knownSize - family.knownPreviousSize), turnover, [], familyFloors(family))
  return {
    id: groupId(key),
    path,
    pathComplete: true,
    kind: first.kind,
    size,
    previousSize,
    growing: isGrowing(size, previousSize, turnover, [], floors) && familyGrew,
    intervalSeconds,
    growthPerSecond: anyKnown ? growthPerSecond : null,
    elementShape: first.elementShape,
    keyShape: first.keyShape,
    retainedBytes: fromFamily && listed > 0 ? Math.round((bytes / listed) * size) : bytes,
    retainedBytesMethod: fromFamily
      ? `${first.retainedBytesMethod}; the mean of ${members.length} reported sibling collections × the elements of all ${count}`
      : `${first.retainedBytesMethod}; summed over ${members.length} sibling collections`,
    measuredBy: members.every((h) => h.measuredBy === 'walk') ? 'walk' : members.some((h) => h.measuredBy === 'stale') ? 'stale' : 'tracked',
    rootFile: first.rootFile,
    members: count,
    ...(family?.turnover !== undefined ? { turnover: family.turnover } : {}),
    ...(floors !== undefined && anyKnown ? { floors } : {}),
  }
}

/**
 * A family grown by its parent's new members. Collections held one per member of another
 * (`deliveries → get(…) → .pings`, the pings of each delivery) where the parent keeps gaining
 * members that each come with their collection (deliveries kept after they completed): each
 * member's collection grows while it is new, then stays, and a family counts only growth of
 * members it measured before; past its sample size the walk visits the parent's first and last
 * members only, so the family's sum over them stays level however many the parent holds. When the
 * parent is growing (judged on its own size and turnover), the family is growing by what its new
 * members brought: the elements a visited parent member holds in the family, on average, times
 * the members it gained (at least GROWING_MIN_ELEMENTS); its size, growth and members are
 * estimated the same way, over all of the parent's members. Nothing else about the family needs
 * to hold: a parent whose members leave as they come is not growing.
 */
function grownByParent(group: Holder, family: SiblingFamily, parent: Holder): Holder {
  if (!parent.growing || parent.previousSize === null || family.parent === undefined) return group
  const perMember = family.size / family.parent.visited
  const from = spanStartSize(parent) ?? parent.previousSize
  const gained = parent.size - from
  if (!(gained * perMember >= GROWING_MIN_ELEMENTS)) return group
  const scale = (n: number): number => Math.round(n * perMember)
  const size = scale(parent.size)
  const { floors: _floors, ...rest } = group // the visited members' floors: not of these sizes
  return {
    ...rest,
    size,
    previousSize: scale(parent.previousSize),
    growing: true,
    intervalSeconds: parent.intervalSeconds,
    growthPerSecond: parent.growthPerSecond === null ? null : parent.growthPerSecond * perMember,
    members: Math.max(group.members ?? 0, Math.round((family.members * parent.size) / family.parent.visited)),
    retainedBytes: group.size > 0 ? Math.round((group.retainedBytes / group.size) * size) : group.retainedBytes,
    retainedBytesMethod: `${group.retainedBytesMethod}, scaled to the ~${size} elements of all ${parent.size} members of its parent (${perMember.toFixed(1)} a member visited)`,
    ...(parent.growingOver !== undefined && parent.earlierSizes !== undefined
      ? { growingOver: parent.growingOver, earlierSizes: parent.earlierSizes.map(scale) }
      : {}),
    byParent: { parentId: parent.id, gained, elementsPerMember: perMember },
  }
}
