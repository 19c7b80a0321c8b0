/**
 * Converts a V8 sampling heap profile (`HeapProfiler.getSamplingProfile`) into
 * the two file formats people open it with:
 *
 * - `toPprof`: a pprof protobuf (`profile.proto`), for `go tool pprof`,
 *   Pyroscope, Grafana, Speedscope... The bytes are NOT gzipped: `go tool pprof`
 *   and Pyroscope accept plain and gzipped profiles alike, so compress only if
 *   the transport wants it (`zlib.gzipSync(bytes)`).
 * - `toHeapProfileJson`: the Chrome DevTools `.heapprofile` file (the profile
 *   object itself as JSON), loadable in the DevTools Memory panel.
 *
 * The profile comes from the watched process, so it is treated as untrusted:
 * every tree walk is iterative (a profile may be 100 000 levels deep), a node
 * id met a second time is skipped together with its subtree (so a cycle or a
 * duplicated subtree cannot loop or double count), and pprof stacks are
 * truncated to `maxStackDepth` frames.
 */
import {
  Function as PprofFunction,
  Line,
  Location,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format'

/** `Runtime.CallFrame` as found in a sampling heap profile. Line and column are 0-based; -1 when unknown (native code). */
export interface CallFrame {
  functionName: string
  scriptId: string
  url: string
  lineNumber: number
  columnNumber: number
}

/** `HeapProfiler.SamplingHeapProfileNode`. */
export interface ProfileNode {
  callFrame: CallFrame
  /** Bytes still live that were allocated by this very frame (not its callees). */
  selfSize: number
  id: number
  children: ProfileNode[]
}

/** `HeapProfiler.SamplingHeapProfileSample`. */
export interface ProfileSample {
  /** Bytes this sample stands for (already scaled by V8 for the sampling interval). */
  size: number
  nodeId: number
  ordinal: number
}

/** `HeapProfiler.SamplingHeapProfile`: what `getSamplingProfile` returns in `profile`. */
export interface HeapProfile {
  head: ProfileNode
  samples: ProfileSample[]
}

export interface PprofOptions {
  /** When the profile was taken, in ms since the epoch (pprof `time_nanos`). */
  timeMs: number
  /** The `samplingInterval` given to `HeapProfiler.startSampling` (pprof `period`). */
  samplingIntervalBytes: number
  /**
   * Most frames kept per stack (default 1024; V8 itself records far fewer).
   * Deeper stacks keep their leaf-most frames and end in a `(truncated)` frame.
   */
  maxStackDepth?: number
}

const DEFAULT_MAX_STACK_DEPTH = 1024
/**
 * Frames written over all samples. Each sample carries its whole stack, so a
 * deep profile where every node allocates would otherwise grow as nodes ×
 * depth; past this budget stacks are cut shorter (never below 8 frames).
 */
const MAX_TOTAL_FRAMES = 1_000_000
const MIN_STACK_DEPTH = 8

/** A stand-in head for a profile that has none (a broken reply): an empty profile. */
const EMPTY_HEAD: ProfileNode = {
  callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 },
  selfSize: 0,
  id: 0,
  children: [],
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null

/** The head of a profile if it looks like a node, else an empty head. */
function headOf(profile: unknown): ProfileNode {
  const head = isObject(profile) ? profile['head'] : undefined
  return isObject(head) && typeof head['id'] === 'number' ? (head as unknown as ProfileNode) : EMPTY_HEAD
}

/** The samples of a profile that look like samples. */
function samplesOf(profile: unknown): ProfileSample[] {
  const samples = isObject(profile) ? profile['samples'] : undefined
  return Array.isArray(samples) ? samples.filter((sample): sample is ProfileSample => isObject(sample)) : []
}
/** Frame standing for the profile's head when allocations are attributed to it directly. */
const ROOT_FRAME = '(root)'
/** Frame for samples whose node is not in the tree (V8 can report one that it pruned). */
const UNKNOWN_FRAME = '(unknown)'
/** Outermost frame of a stack cut at `maxStackDepth`. */
const TRUNCATED_FRAME = '(truncated)'

function childrenOf(node: ProfileNode): ProfileNode[] {
  return Array.isArray(node.children) ? node.children : []
}

/**
 * Every node reachable from `head` in depth-first pre-order (the order of the
 * JSON), each with the index of its parent in the returned array (-1 for the
 * head). Iterative; a node whose id was already met earlier in that order is
 * skipped along with its subtree, so a cycle ends where it closes.
 */
function flatten(head: ProfileNode): { nodes: ProfileNode[]; parents: number[] } {
  const nodes: ProfileNode[] = []
  const parents: number[] = []
  const seen = new Set<number>()
  const stack: Array<{ node: ProfileNode; parent: number }> = [{ node: head, parent: -1 }]
  while (stack.length > 0) {
    const { node, parent } = stack.pop()!
    if (seen.has(node.id)) continue
    seen.add(node.id)
    const index = nodes.length
    nodes.push(node)
    parents.push(parent)
    const children = childrenOf(node)
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i]
      if (child !== null && typeof child === 'object' && !seen.has(child.id)) stack.push({ node: child, parent: index })
    }
  }
  return { nodes, parents }
}

/** Allocated bytes and sample count of one node. */
interface Totals {
  count: number
  bytes: number
}

/**
 * Encode a sampling heap profile as an (uncompressed) pprof protobuf.
 *
 * Sample types are `objects/count` and `space/bytes` (the default). There is
 * one pprof sample per profile node that allocated: when the profile carries
 * `samples`, objects = the number of V8 samples of that node and space = the
 * sum of their sizes; without `samples`, space = the node's `selfSize` and
 * objects = selfSize / samplingIntervalBytes, rounded. Samples whose node is
 * missing from the tree are kept under an `(unknown)` frame so totals add up.
 *
 * Each stack runs leaf first up to, not including, the `(root)` head.
 * Functions are keyed by (name, url), locations by (function, line); lines are
 * 1-based (0 when V8 does not know it, e.g. native frames).
 */
export function toPprof(profile: HeapProfile, options: PprofOptions): Uint8Array {
  const { timeMs, samplingIntervalBytes } = options
  const maxStackDepth = options.maxStackDepth ?? DEFAULT_MAX_STACK_DEPTH
  if (!Number.isFinite(samplingIntervalBytes) || samplingIntervalBytes <= 0) {
    throw new RangeError(`samplingIntervalBytes must be a positive number, got ${samplingIntervalBytes}`)
  }
  if (!Number.isFinite(timeMs) || timeMs < 0) {
    throw new RangeError(`timeMs must be a non-negative number, got ${timeMs}`)
  }
  if (!Number.isInteger(maxStackDepth) || maxStackDepth < 1) {
    throw new RangeError(`maxStackDepth must be a positive integer, got ${maxStackDepth}`)
  }

  const strings = new StringTable()
  const functions: PprofFunction[] = []
  const locations: Location[] = []
  const functionIds = new Map<string, number>()
  const locationIds = new Map<string, number>()

  function locationFor(name: string, url: string, line: number): number {
    const functionKey = JSON.stringify([name, url])
    let functionId = functionIds.get(functionKey)
    if (functionId === undefined) {
      functionId = functions.length + 1
      functionIds.set(functionKey, functionId)
      functions.push(
        new PprofFunction({
          id: functionId,
          name: strings.dedup(name),
          systemName: strings.dedup(name),
          filename: strings.dedup(url),
          startLine: line,
        }),
      )
    }
    const locationKey = `${functionId}:${line}`
    let locationId = locationIds.get(locationKey)
    if (locationId === undefined) {
      locationId = locations.length + 1
      locationIds.set(locationKey, locationId)
      locations.push(new Location({ id: locationId, line: [new Line({ functionId, line })] }))
    }
    return locationId
  }

  function nodeLocation(node: ProfileNode): number {
    const frame: Partial<CallFrame> = node.callFrame ?? {}
    const name = typeof frame.functionName === 'string' && frame.functionName !== '' ? frame.functionName : '(anonymous)'
    const url = typeof frame.url === 'string' ? frame.url : ''
    const zeroBased = typeof frame.lineNumber === 'number' && Number.isInteger(frame.lineNumber) ? frame.lineNumber : -1
    return locationFor(name, url, zeroBased >= 0 ? zeroBased + 1 : 0)
  }

  const { nodes, parents } = flatten(headOf(profile))
  const indexById = new Map<number, number>()
  nodes.forEach((node, index) => indexById.set(node.id, index))

  // What each node allocated, by node index; -1 collects samples of unknown nodes.
  const totals = new Map<number, Totals>()
  const samples = samplesOf(profile)
  if (samples.length > 0) {
    for (const sample of samples) {
      const size = Number(sample.size)
      if (!Number.isFinite(size) || size <= 0) continue
      const index = indexById.get(sample.nodeId) ?? -1
      const entry = totals.get(index)
      if (entry === undefined) totals.set(index, { count: 1, bytes: size })
      else {
        entry.count += 1
        entry.bytes += size
      }
    }
  } else {
    nodes.forEach((node, index) => {
      const bytes = Number(node.selfSize)
      if (Number.isFinite(bytes) && bytes > 0) {
        totals.set(index, { count: Math.round(bytes / samplingIntervalBytes), bytes })
      }
    })
  }

  // Locations are created lazily, only for frames on some stack, by node index.
  const nodeLocationIds = new Map<number, number>()
  function locationOfIndex(index: number): number {
    let id = nodeLocationIds.get(index)
    if (id === undefined) {
      id = nodeLocation(nodes[index]!)
      nodeLocationIds.set(index, id)
    }
    return id
  }

  const pprofSamples: Sample[] = []
  const ordered = [...totals.keys()].sort((a, b) => a - b)
  const depthLimit = Math.min(maxStackDepth, Math.max(MIN_STACK_DEPTH, Math.floor(MAX_TOTAL_FRAMES / Math.max(1, ordered.length))))
  for (const index of ordered) {
    const { count, bytes } = totals.get(index)!
    const stack: number[] = []
    if (index === -1) {
      stack.push(locationFor(UNKNOWN_FRAME, '', 0))
    } else if (index === 0) {
      stack.push(locationFor(ROOT_FRAME, '', 0))
    } else {
      // Walk up to, not including, the head (index 0), leaf first.
      let at = index
      while (at > 0 && stack.length < depthLimit) {
        stack.push(locationOfIndex(at))
        at = parents[at]!
      }
      if (at > 0) stack.push(locationFor(TRUNCATED_FRAME, '', 0))
    }
    pprofSamples.push(new Sample({ locationId: stack, value: [count, Math.round(bytes)] }))
  }

  const space = new ValueType({ type: strings.dedup('space'), unit: strings.dedup('bytes') })
  const objects = new ValueType({ type: strings.dedup('objects'), unit: strings.dedup('count') })
  const pprof = new Profile({
    sampleType: [objects, space],
    sample: pprofSamples,
    location: locations,
    function: functions,
    stringTable: strings,
    timeNanos: BigInt(Math.round(timeMs)) * 1_000_000n,
    periodType: new ValueType({ type: space.type, unit: space.unit }),
    period: Math.round(samplingIntervalBytes),
    defaultSampleType: space.type,
  })
  return pprof.encode()
}

function jsonString(value: unknown): string {
  return JSON.stringify(typeof value === 'string' ? value : '')
}

function jsonNumber(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : '0'
}

/**
 * The Chrome DevTools `.heapprofile` file for a profile: `{"head": ..., "samples": [...]}`.
 *
 * Written by hand rather than with `JSON.stringify`, which recurses and would
 * overflow the stack on a deep profile. Only the protocol's fields are kept; a
 * node whose id was already met (depth-first, in file order) is left out with
 * its subtree, as in `toPprof`.
 */
export function toHeapProfileJson(profile: HeapProfile): string {
  const out: string[] = ['{"head":']
  const seen = new Set<number>()
  // Either a node to write (with its siblings' state, for the commas), or closing text.
  type Pending = { node: ProfileNode; siblings: { written: boolean } } | string
  const stack: Pending[] = [{ node: headOf(profile), siblings: { written: false } }]
  while (stack.length > 0) {
    const item = stack.pop()!
    if (typeof item === 'string') {
      out.push(item)
      continue
    }
    const { node, siblings } = item
    if (seen.has(node.id)) continue
    seen.add(node.id)
    if (siblings.written) out.push(',')
    siblings.written = true
    const frame: Partial<CallFrame> = node.callFrame ?? {}
    out.push(
      '{"callFrame":{"functionName":', jsonString(frame.functionName),
      ',"scriptId":', jsonString(frame.scriptId),
      ',"url":', jsonString(frame.url),
      ',"lineNumber":', jsonNumber(frame.lineNumber),
      ',"columnNumber":', jsonNumber(frame.columnNumber),
      '},"selfSize":', jsonNumber(node.selfSize),
      ',"id":', jsonNumber(node.id),
      ',"children":[',
    )
    stack.push(']}')
    const children = childrenOf(node)
    const state = { written: false }
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i]
      if (child !== null && typeof child === 'object' && !seen.has(child.id)) stack.push({ node: child, siblings: state })
    }
  }
  out.push(',"samples":[')
  const samples = samplesOf(profile)
  samples.forEach((sample, i) => {
    out.push(
      i > 0 ? ',' : '',
      '{"size":', jsonNumber(sample.size),
      ',"nodeId":', jsonNumber(sample.nodeId),
      ',"ordinal":', jsonNumber(sample.ordinal),
      '}',
    )
  })
  out.push(']}')
  return out.join('')
}
