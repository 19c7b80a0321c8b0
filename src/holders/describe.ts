/**
 * One line per holder for logs and the API (path, kind, size, growth, shape, bytes), and the
 * notes that say why it was judged as it was (growth.ts).
 */
import { bytesPerMember, fellBetween, isFlow, sizeHistory, spanStartSize, stayersSpan, stoppedRising, viewsOntoSameStores } from './growth.js'
import type { Holder } from './types.js'

/** One line per holder for logs and the API: path, kind, size, growth, shape, bytes. */
export function describeHolder(h: Holder): string {
  const path = h.path.length > 0 ? h.path.join(' → ') : `(no path found) ${h.kind}`
  const growth =
    h.growthPerSecond === null
      ? 'first seen'
      : `${h.growthPerSecond >= 0 ? '+' : ''}${h.growthPerSecond.toFixed(1)}/s${h.growing ? ', growing' : ''}${spanNote(h)}${parentNote(h)}${flowNote(h)}${fellNote(h)}${stoppedNote(h)}${poolNote(h)}${stayersNote(h)}${slowNote(h)}`
  const shape = h.elementShape.length > 0 ? ` of ${h.elementShape.join(' | ')}` : ''
  if (h.kind === 'String') return `${path}: ${h.size} characters (${growth}), ~${formatBytes(h.retainedBytes)}`
  return `${path}: ${h.size} elements (${growth})${shape}, ~${formatBytes(h.retainedBytes)}`
}

/** `; from 12 over its last 3 searches` when it was judged growing over more than one interval (growth.ts `growthSpan`). */
function spanNote(h: Holder): string {
  if (h.growingOver === undefined || h.earlierSizes === undefined) return ''
  return `; from ${spanStartSize(h) ?? '?'} over its last ${h.growingOver} searches`
}

/** `; its parent gained 120 members of ~30 each` when it grew by its parent's new members (siblings.ts `grownByParent`). */
function parentNote(h: Holder): string {
  if (h.byParent === undefined) return ''
  return `; its parent gained ${h.byParent.gained} members of ~${h.byParent.elementsPerMember.toFixed(h.byParent.elementsPerMember < 10 ? 1 : 0)} each`
}

/** `; a flow: 64 of 64 sampled left` when most of its members left since the previous search (growth.ts). */
function flowNote(h: Holder): string {
  if (h.turnover === undefined || !isFlow(h.turnover)) return ''
  return `; a flow: ${h.turnover.gone} of ${h.turnover.sampled} sampled left${h.followsTraffic === true ? ', its level following the traffic' : ''}`
}

/** `; gains ~22 B/s of what it retains, under the 1 KiB/s a holder is named growing at` (HolderScheduler `judgedByBytes`). */
function slowNote(h: Holder): string {
  if (h.slowGrowth === undefined) return ''
  return `; gains ~${formatBytes(Math.round(h.slowGrowth.bytesPerSecond))}/s of what it retains, under the ${formatBytes(Math.round(h.slowGrowth.minBytesPerSecond))}/s a holder is named growing at`
}

/** `; fell to 3 between searches` when it was emptied or drained in between (growth.ts `fellBetween`). */
function fellNote(h: Holder): string {
  if (h.floors === undefined || h.previousSize === null || !fellBetween(h.previousSize, h.floors, h.turnover, bytesPerMember(h))) return ''
  return `; fell to ${h.floors.low} between searches`
}

/** `; no new high in the last 45 % of the interval (rose at 20 polls before)` when it stopped rising (growth.ts `stoppedRising`). */
function stoppedNote(h: Holder): string {
  if (h.growing || h.floors === undefined || !stoppedRising(h.floors)) return ''
  return `; no new high in the last ${Math.round((h.floors.flatShare ?? 0) * 100)} % of the interval (rose at ${h.floors.rises} polls before)`
}

/**
 * `; its Buffers view 3.0 MiB of stores, no more than it viewed before` when only its count moved
 * (growth.ts `viewsOntoSameStores`); `… no more than it and another Array of Buffers held before`
 * when some of them it views for the first time are held by another since an earlier search.
 */
function poolNote(h: Holder): string {
  if (!viewsOntoSameStores(h.backing) || h.growthPerSecond === null || h.growthPerSecond <= 0) return ''
  const by = h.backing!.heldElsewhereBytes > 0 ? 'it and another Array of Buffers held' : 'it viewed'
  return `; its Buffers view ${formatBytes(h.backing!.storeBytes)} of stores, no more than ${by} before`
}

/**
 * `; 12 members stayed longer than any of the 40 that left (present up to 25 min), from 4 over its
 * last 3 intervals` when it was judged growing by them (growth.ts `stayersSpan`).
 */
function stayersNote(h: Holder): string {
  const s = h.stayers
  if (s?.growing !== true) return ''
  const span = stayersSpan(s, bytesPerMember(h), sizeHistory(h))
  const from = [...s.earlier, s.count][s.earlier.length - span]
  const seen = s.longestGoneSeconds >= 120 ? `${Math.round(s.longestGoneSeconds / 60)} min` : `${Math.round(s.longestGoneSeconds)} s`
  return `; ${s.count} members stayed longer than any of the ${s.departures} that left (present up to ${seen}), from ${from ?? '?'} over its last ${span === 1 ? 'interval' : `${span} intervals`}`
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`
  return `${n} B`
}
