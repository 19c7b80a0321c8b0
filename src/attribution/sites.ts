/**
 * From a sampling heap profile to allocation sites: live sampled bytes per
 * site, where a site is the first application frame on the allocating stack
 * (V8 builtins and Node internals are skipped, dependencies in node_modules are
 * not: a dependency's allocation site is often the clue). Samples without any
 * application frame share one site, NO_APPLICATION_FRAME. Pure, iterative, and
 * bounded: hostile or huge profiles are truncated and counted, never a crash.
 */
import type { CallFrame, HeapProfile, ProfileNode } from './pprof.js'
import { ITEMS_PER_STEP, runToEnd, type Steps } from './slices.js'

export interface SiteFrame {
  readonly functionName: string
  readonly url: string
  /** 1-based, 0 when unknown. */
  readonly line: number
  readonly column: number
}

export interface SiteSnapshot {
  /** Stable identity: function, url, line, column of the site frame. */
  readonly key: string
  /** Readable and bounded, for the `site` label: `readFrame (src/broker.js:42)`. */
  readonly label: string
  readonly frame: SiteFrame
  /** Heaviest allocating stack of the site, leaf first, capped. */
  readonly stack: readonly SiteFrame[]
  /** Live sampled bytes attributed to the site. */
  readonly bytes: number
  /** Profile nodes that contributed. */
  readonly nodes: number
}

export interface SiteAggregation {
  readonly sites: Map<string, SiteSnapshot>
  readonly totalBytes: number
  readonly nodesVisited: number
  /** Nodes skipped as malformed, duplicated, or beyond the limits. */
  readonly nodesRejected: number
  readonly truncated: boolean
}

export interface AggregateOptions {
  /** Stop after this many nodes (a real profile has thousands). */
  readonly maxNodes?: number
  /** Frames kept per stack for display. */
  readonly maxStackFrames?: number
  /** Longest `site` label. */
  readonly maxLabelLength?: number
}

const SYNTHETIC = new Set(['(root)', '(program)', '(idle)', '(garbage collector)', '(GC)', '(V8 API)', '(BYTECODE_FLUSH)'])

/** A frame of the application (or its dependencies), as opposed to V8 builtins and Node internals. */
export function isApplicationFrame(frame: CallFrame): boolean {
  if (SYNTHETIC.has(frame.functionName)) return false
  const url = frame.url
  if (url === '' || url.startsWith('node:') || url.startsWith('internal/') || url.startsWith('wasm://')) return false
  return true
}

/** The site of samples whose stack has no application frame. */
export const NO_APPLICATION_FRAME: SiteFrame = { functionName: '(no application frame: optimized code, builtins or Node internals)', url: '', line: 0, column: 0 }

function toSiteFrame(frame: CallFrame): SiteFrame {
  return {
    functionName: frame.functionName === '' ? '(anonymous)' : frame.functionName,
    url: frame.url,
    line: frame.lineNumber >= 0 ? frame.lineNumber + 1 : 0,
    column: frame.columnNumber >= 0 ? frame.columnNumber + 1 : 0,
  }
}

/** A broken percent-encoding is shown as it is rather than failing the whole profile. */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** `file:///srv/app/src/broker.js` → `src/broker.js`; dependencies keep their `node_modules/...` path. */
export function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? safeDecode(url.slice('file://'.length)) : url
  const dependency = path.lastIndexOf('/node_modules/')
  if (dependency >= 0) return path.slice(dependency + 1)
  const parts = path.split('/').filter((part) => part !== '')
  return parts.length <= 2 ? parts.join('/') || path : parts.slice(-2).join('/')
}

export function siteLabel(frame: SiteFrame, maxLength = 120): string {
  const label = frame.url === '' ? frame.functionName : `${frame.functionName} (${shortUrl(frame.url)}:${frame.line})`
  return label.length > maxLength ? `${label.slice(0, maxLength - 1)}…` : label
}

const siteKey = (frame: SiteFrame): string => `${frame.functionName}\u0000${frame.url}\u0000${frame.line}\u0000${frame.column}`

/** A node with every field the analysis reads, of the right type (a target's profile is not trusted). */
export function isProfileNode(value: unknown): value is ProfileNode {
  if (typeof value !== 'object' || value === null) return false
  const node = value as Partial<ProfileNode>
  const frame = node.callFrame as Partial<CallFrame> | undefined
  return (
    typeof node.id === 'number' &&
    typeof node.selfSize === 'number' &&
    Number.isFinite(node.selfSize) &&
    node.selfSize >= 0 &&
    Array.isArray(node.children) &&
    typeof frame === 'object' &&
    frame !== null &&
    typeof frame.functionName === 'string' &&
    typeof frame.url === 'string' &&
    typeof frame.lineNumber === 'number' &&
    typeof frame.columnNumber === 'number'
  )
}

interface Visit {
  readonly node: ProfileNode
  readonly parent: number
  /** Index in `visits` of the nearest application frame at or above this node, or -1. */
  readonly site: number
}

export function aggregateSites(profile: unknown, options: AggregateOptions = {}): SiteAggregation {
  return runToEnd(aggregateSitesSteps(profile, options))
}

/** `aggregateSites` in steps (slices.ts): a profile of 100,000 nodes takes a few hundred ms. */
export function* aggregateSitesSteps(profile: unknown, options: AggregateOptions = {}): Steps<SiteAggregation> {
  const maxNodes = options.maxNodes ?? 500_000
  const maxStackFrames = options.maxStackFrames ?? 32
  const maxLabelLength = options.maxLabelLength ?? 120
  const sites = new Map<string, SiteSnapshot & { heaviest: number }>()
  const head = (profile as Partial<HeapProfile> | null | undefined)?.head
  if (!isProfileNode(head)) return { sites: new Map(), totalBytes: 0, nodesVisited: 0, nodesRejected: 1, truncated: false }

  const visits: Visit[] = []
  const seen = new Set<number>()
  const pending: Array<{ node: unknown; parent: number }> = [{ node: head, parent: -1 }]
  let rejected = 0
  let truncated = false
  let totalBytes = 0

  const stackOf = (index: number): SiteFrame[] => {
    const frames: SiteFrame[] = []
    // Bounded in frames visited, not only kept: a deep chain of pseudo-frames must not walk to the root each time.
    for (let i = index, steps = 0; i >= 0 && frames.length < maxStackFrames && steps < 4 * maxStackFrames; steps += 1) {
      const frame = (visits[i] as Visit).node.callFrame
      if (!SYNTHETIC.has(frame.functionName)) frames.push(toSiteFrame(frame))
      i = (visits[i] as Visit).parent
    }
    return frames
  }

  while (pending.length > 0) {
    if (visits.length % ITEMS_PER_STEP === ITEMS_PER_STEP - 1) yield
    const { node, parent } = pending.pop() as { node: unknown; parent: number }
    if (visits.length >= maxNodes) {
      truncated = true
      rejected += pending.length + 1
      break
    }
    if (!isProfileNode(node) || seen.has(node.id)) {
      rejected += 1
      continue
    }
    seen.add(node.id)
    const index = visits.length
    const inherited = parent >= 0 ? (visits[parent] as Visit).site : -1
    visits.push({ node, parent, site: isApplicationFrame(node.callFrame) ? index : inherited })
    for (const child of node.children) pending.push({ node: child, parent: index })

    if (node.selfSize <= 0) continue
    totalBytes += node.selfSize
    const siteIndex = (visits[index] as Visit).site
    // No application frame on the stack (optimized code whose frames V8 did not record, builtins,
    // Node internals): one honest entry, not the name of a builtin or of Node's timers.
    const frame = siteIndex >= 0 ? toSiteFrame((visits[siteIndex] as Visit).node.callFrame) : NO_APPLICATION_FRAME
    const key = siteKey(frame)
    const existing = sites.get(key)
    if (existing === undefined) {
      sites.set(key, {
        key,
        label: siteLabel(frame, maxLabelLength),
        frame,
        stack: stackOf(index),
        bytes: node.selfSize,
        nodes: 1,
        heaviest: node.selfSize,
      })
    } else {
      const heavier = node.selfSize > existing.heaviest
      sites.set(key, {
        ...existing,
        bytes: existing.bytes + node.selfSize,
        nodes: existing.nodes + 1,
        heaviest: heavier ? node.selfSize : existing.heaviest,
        stack: heavier ? stackOf(index) : existing.stack,
      })
    }
  }
  const out = new Map<string, SiteSnapshot>()
  for (const [key, { heaviest: _heaviest, ...site }] of sites) out.set(key, site)
  return { sites: out, totalBytes, nodesVisited: visits.length, nodesRejected: rejected, truncated }
}
