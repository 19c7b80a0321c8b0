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
import type { Holder } from './types.js'

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
export function groupSiblings(holders: readonly Holder[], isGrowing: (size: number, previousSize: number | null) => boolean): Holder[] {
  const keys = holders.map(groupKey)
  const groups = new Map<string, Holder[]>()
  holders.forEach((holder, index) => {
    const key = keys[index]
    if (key === undefined) return
    const members = groups.get(key)
    if (members === undefined) groups.set(key, [holder])
    else members.push(holder)
  })
  const merged = new Map<string, Holder>()
  for (const [key, members] of groups) {
    if (members.length < 2 || concentrated(members)) continue
    merged.set(key, mergeGroup(key, members, isGrowing))
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
 * One member carries most of the growth: that member is the story (the one dead consumer's
 * queue among live ones, `get('b')`), and it stays on its own, named by its key.
 */
function concentrated(members: readonly Holder[]): boolean {
  const growths = members.map((h) => Math.max(0, h.growthPerSecond ?? 0))
  const total = growths.reduce((sum, g) => sum + g, 0)
  return total > 0 && Math.max(...growths) > SPREAD_SHARE * total
}

/** The largest share of a group's growth one member may have for the group to be merged. */
export const SPREAD_SHARE = 0.5

function mergeGroup(key: string, members: readonly Holder[], isGrowing: (size: number, previousSize: number | null) => boolean): Holder {
  const first = members[0] as Holder
  const [path] = JSON.parse(key) as [string[]]
  const sum = (list: readonly Holder[], f: (h: Holder) => number): number => list.reduce((total, h) => total + f(h), 0)
  const size = sum(members, (h) => h.size)
  // Growth counts only the members measured before: a sibling first seen now may replace one
  // that went away (per-connection buffers come and go), so its size is not taken for growth.
  const known = members.filter((h) => h.previousSize !== null && h.growthPerSecond !== null)
  const previousSize = known.length === 0 ? null : size - sum(known, (h) => h.size - (h.previousSize as number))
  return {
    id: groupId(key),
    path,
    pathComplete: true,
    kind: first.kind,
    size,
    previousSize,
    growing: isGrowing(size, previousSize),
    intervalSeconds: known.length === 0 ? 0 : Math.max(...known.map((h) => h.intervalSeconds)),
    growthPerSecond: known.length === 0 ? null : sum(known, (h) => h.growthPerSecond as number),
    elementShape: first.elementShape,
    keyShape: first.keyShape,
    retainedBytes: sum(members, (h) => h.retainedBytes),
    retainedBytesMethod: `${first.retainedBytesMethod}; summed over ${members.length} sibling collections`,
    measuredBy: members.every((h) => h.measuredBy === 'walk') ? 'walk' : members.some((h) => h.measuredBy === 'stale') ? 'stale' : 'tracked',
    rootFile: first.rootFile,
    members: members.length,
  }
}
