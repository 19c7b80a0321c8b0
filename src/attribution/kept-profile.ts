/**
 * What the sidecar keeps of a sampling heap profile: a checked, bounded copy.
 *
 * A profile comes from the target, up to the websocket's 64 MiB message limit: a hostile one
 * of 1,000,000 nodes kept whole made the sidecar 1.2-2 GB resident, and every later step
 * (sites, pprof, the .heapprofile file) grows with it. So the copy keeps, in the order of the
 * file (depth first), nodes with every field of the right type until one of the limits is
 * reached, call frames shared between the nodes that have the same one, and the samples of
 * the nodes kept. What was left out is counted and reported (the profiler's status,
 * leakwatch_profiler_truncated_profiles_total).
 *
 * The limits, against profiles measured on Node 20 (src/inspector/limits.ts): a 200 MB heap
 * gave ~450 samples and 1k-76k nodes at the default 512 KiB sampling interval, ~3,700 samples
 * at 64 KiB and ~230,000 at the 1 KiB minimum (10-20 MiB). So every profile at the default
 * interval and at 64 KiB is kept whole; at the smallest intervals the samples are cut.
 */
import { clipTargetText } from '../inspector/limits.js'
import type { CallFrame, HeapProfile, ProfileNode, ProfileSample } from './pprof.js'
import { isProfileNode } from './sites.js'
import { ITEMS_PER_STEP, type Steps } from './slices.js'

export const PROFILE_LIMITS = {
  /** Nodes kept (the largest real profile measured had 76k). */
  maxNodes: 100_000,
  /** Samples kept. */
  maxSamples: 100_000,
  /** Size of what is kept, counted as its .heapprofile JSON (nodes and samples). */
  maxBytes: 24 * 1024 * 1024,
  /** Longest function name, url or script id kept; longer ones are clipped. */
  maxFrameText: 1000,
} as const

export interface KeptProfileStats {
  readonly nodes: number
  readonly samples: number
  /** Size of the kept profile as a .heapprofile file (estimated within a few bytes per node). */
  readonly bytes: number
  /** True when a limit left nodes or samples out. */
  readonly truncated: boolean
  /** Nodes in the target's profile not kept for a limit. */
  readonly nodesDropped: number
  /** Nodes left out as malformed or duplicated (with their subtrees). */
  readonly nodesRejected: number
  /** Samples not kept: beyond a limit, of a node left out for a limit, or malformed. */
  readonly samplesDropped: number
}

export interface KeptProfile {
  readonly profile: HeapProfile
  readonly stats: KeptProfileStats
}

/** JSON of a node without its strings and numbers: `,{"callFrame":{"functionName":,...},"children":[]}`. */
const NODE_OVERHEAD_BYTES = 113
/** JSON of a sample without its numbers: `,{"size":,"nodeId":,"ordinal":}`. */
const SAMPLE_OVERHEAD_BYTES = 31

const text = (value: string): string => (value.length > PROFILE_LIMITS.maxFrameText ? clipTargetText(value, PROFILE_LIMITS.maxFrameText) : value)
const digits = (value: number): number => String(value).length

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null

/**
 * The bounded copy of `raw` (whatever the target sent as `profile`), in steps (slices.ts).
 * A profile without a usable head keeps nothing and counts one rejected node.
 */
export function* keepProfile(raw: unknown): Steps<KeptProfile> {
  const head = isObject(raw) ? raw['head'] : undefined
  const rawSamples = isObject(raw) && Array.isArray(raw['samples']) ? (raw['samples'] as unknown[]) : []
  const empty = (rejected: number): KeptProfile => ({
    profile: {
      head: { callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 }, selfSize: 0, id: 0, children: [] },
      samples: [],
    },
    stats: { nodes: 0, samples: 0, bytes: 0, truncated: false, nodesDropped: 0, nodesRejected: rejected, samplesDropped: rawSamples.length },
  })
  if (!isProfileNode(head)) return empty(1)

  /** Each distinct call frame once, with the size of its JSON (strings quoted and escaped). */
  const frames = new Map<string, { frame: CallFrame; bytes: number }>()
  const frameOf = (raw: CallFrame): { frame: CallFrame; bytes: number } => {
    const key = `${raw.functionName}\u0000${raw.url}\u0000${String(raw.scriptId)}\u0000${raw.lineNumber}\u0000${raw.columnNumber}`
    let shared = frames.get(key)
    if (shared === undefined) {
      const frame: CallFrame = {
        functionName: text(raw.functionName),
        scriptId: typeof raw.scriptId === 'string' ? text(raw.scriptId) : '0',
        url: text(raw.url),
        lineNumber: raw.lineNumber,
        columnNumber: raw.columnNumber,
      }
      const strings = JSON.stringify(frame.functionName).length + JSON.stringify(frame.scriptId).length + JSON.stringify(frame.url).length
      shared = { frame, bytes: strings + digits(frame.lineNumber) + digits(frame.columnNumber) }
      frames.set(key, shared)
    }
    return shared
  }

  const kept = new Set<number>()
  let bytes = 0
  let rejected = 0
  let dropped = 0
  let full = false
  let root: ProfileNode | undefined
  const pending: Array<{ node: unknown; parent: ProfileNode | undefined }> = [{ node: head, parent: undefined }]
  let sinceYield = 0
  while (pending.length > 0) {
    if (++sinceYield >= ITEMS_PER_STEP) {
      sinceYield = 0
      yield
    }
    const { node, parent } = pending.pop()!
    if (full) {
      // Past a limit: only counted, so the status can say how much was left out.
      dropped += 1
      if (isObject(node) && Array.isArray(node['children'])) for (const child of node['children'] as unknown[]) pending.push({ node: child, parent: undefined })
      continue
    }
    if (!isProfileNode(node) || kept.has(node.id)) {
      rejected += 1
      continue
    }
    const { frame, bytes: frameBytes } = frameOf(node.callFrame)
    const size = NODE_OVERHEAD_BYTES + frameBytes + digits(node.selfSize) + digits(node.id)
    if (kept.size >= PROFILE_LIMITS.maxNodes || bytes + size > PROFILE_LIMITS.maxBytes) {
      full = true
      pending.push({ node, parent })
      continue
    }
    bytes += size
    kept.add(node.id)
    const copy: ProfileNode = { callFrame: frame, selfSize: node.selfSize, id: node.id, children: [] }
    if (parent === undefined) root = copy
    else parent.children.push(copy)
    for (let i = node.children.length - 1; i >= 0; i--) pending.push({ node: node.children[i], parent: copy })
  }

  const samples: ProfileSample[] = []
  let samplesCut = false
  for (let i = 0; i < rawSamples.length; i++) {
    if (++sinceYield >= ITEMS_PER_STEP) {
      sinceYield = 0
      yield
    }
    const sample = rawSamples[i]
    if (!isObject(sample)) continue
    const { size, nodeId, ordinal } = sample
    if (typeof size !== 'number' || !Number.isFinite(size) || size < 0 || typeof nodeId !== 'number') continue
    // A sample of a node that is not in the tree is kept (V8 reports some of nodes it pruned; the
    // pprof file shows them as "(unknown)"), unless nodes were left out here: it may be of one.
    if (dropped > 0 && !kept.has(nodeId)) continue
    const ordinalNumber = typeof ordinal === 'number' && Number.isFinite(ordinal) ? ordinal : 0
    const sampleBytes = SAMPLE_OVERHEAD_BYTES + digits(size) + digits(nodeId) + digits(ordinalNumber)
    if (samples.length >= PROFILE_LIMITS.maxSamples || bytes + sampleBytes > PROFILE_LIMITS.maxBytes) {
      samplesCut = true
      break
    }
    bytes += sampleBytes
    samples.push({ size, nodeId, ordinal: ordinalNumber })
  }
  return {
    profile: { head: root!, samples },
    stats: {
      nodes: kept.size,
      samples: samples.length,
      bytes,
      truncated: dropped > 0 || samplesCut,
      nodesDropped: dropped,
      nodesRejected: rejected,
      samplesDropped: rawSamples.length - samples.length,
    },
  }
}

/**
 * scriptId → URL of every script in the profile's call frames, for naming the scripts of ES
 * modules elsewhere (the holder search). Bounded by the kept profile's node limit.
 */
export function scriptUrlsOf(profile: HeapProfile | undefined): Map<string, string> {
  const urls = new Map<string, string>()
  if (profile === undefined) return urls
  const stack: ProfileNode[] = [profile.head]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const { scriptId, url } = node.callFrame
    if (url !== '' && scriptId !== '0' && !urls.has(scriptId)) urls.set(scriptId, url)
    for (const child of node.children) stack.push(child)
  }
  return urls
}
