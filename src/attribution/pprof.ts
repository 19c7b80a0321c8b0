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
 *
 * Both are written as steps (slices.ts): `toPprof` and `toHeapProfileJson` run them to the
 * end; the HTTP server runs `pprofSteps` / `heapProfileSteps` in slices so that a large
 * profile never holds the event loop for long. The pprof message is encoded a few thousand
 * entries at a time (protobuf repeated fields are the concatenation of their entries), never
 * as one call over the whole profile.
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
import { ITEMS_PER_STEP, runToEnd, type Steps } from './slices.js'

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
function* flatten(head: ProfileNode): Steps<{ nodes: ProfileNode[]; parents: number[] }> {
  const nodes: ProfileNode[] = []
  const parents: number[] = []
  const seen = new Set<number>()
  const stack: Array<{ node: ProfileNode; parent: number }> = [{ node: head, parent: -1 }]
  while (stack.length > 0) {
    if (nodes.length % ITEMS_PER_STEP === ITEMS_PER_STEP - 1) yield
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
  return runToEnd(pprofSteps(profile, options))
}

/** A field of a protobuf message holding an embedded message: its tag, length and bytes. */
function embedded(fieldNumber: number, message: { encode(): Uint8Array }): Uint8Array[] {
  const body = message.encode()
  const header: number[] = [(fieldNumber << 3) | 2]
  let length = body.length
  while (length > 127) {
    header.push((length & 127) | 128)
    length = Math.floor(length / 128)
  }
  header.push(length)
  return [Uint8Array.from(header), body]
}

/** `toPprof` in steps. */
export function* pprofSteps(profile: HeapProfile, options: PprofOptions): Steps<Uint8Array> {
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

  const { nodes, parents } = yield* flatten(headOf(profile))
  const indexById = new Map<number, number>()
  for (let index = 0; index < nodes.length; index++) {
    indexById.set(nodes[index]!.id, index)
    if (index % ITEMS_PER_STEP === ITEMS_PER_STEP - 1) yield
  }

  // What each node allocated, by node index; -1 collects samples of unknown nodes.
  const totals = new Map<number, Totals>()
  const samples = samplesOf(profile)
  if (samples.length > 0) {
    for (let i = 0; i < samples.length; i++) {
      if (i % ITEMS_PER_STEP === ITEMS_PER_STEP - 1) yield
      const sample = samples[i]!
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
    for (let index = 0; index < nodes.length; index++) {
      if (index % ITEMS_PER_STEP === ITEMS_PER_STEP - 1) yield
      const bytes = Number(nodes[index]!.selfSize)
      if (Number.isFinite(bytes) && bytes > 0) {
        totals.set(index, { count: Math.round(bytes / samplingIntervalBytes), bytes })
      }
    }
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

  // Encoded as they are made, a few thousand at a time: field 2 of Profile. In node order
  // (samples of unknown nodes first), which needs no sort of the allocating nodes.
  const sampleChunks: Uint8Array[] = []
  let batch: Uint8Array[] = []
  const depthLimit = Math.min(maxStackDepth, Math.max(MIN_STACK_DEPTH, Math.floor(MAX_TOTAL_FRAMES / Math.max(1, totals.size))))
  let workSinceYield = 0
  for (let index = -1; index < nodes.length; index++) {
    if (workSinceYield >= ITEMS_PER_STEP) {
      workSinceYield = 0
      sampleChunks.push(Buffer.concat(batch))
      batch = []
      yield
    }
    workSinceYield += 1
    const total = totals.get(index)
    if (total === undefined) continue
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
    workSinceYield += stack.length
    batch.push(...embedded(2, new Sample({ locationId: stack, value: [total.count, Math.round(total.bytes)] })))
  }
  sampleChunks.push(Buffer.concat(batch))

  // Field order of profile.proto: sample types (1), samples (2), locations (4), functions (5),
  // then the string table (6) and the scalars, which the strings of all the above are in.
  const space = new ValueType({ type: strings.dedup('space'), unit: strings.dedup('bytes') })
  const objects = new ValueType({ type: strings.dedup('objects'), unit: strings.dedup('count') })
  const parts: Uint8Array[] = [...embedded(1, objects), ...embedded(1, space), ...sampleChunks]
  sampleChunks.length = 0
  for (const [fieldNumber, entries] of [[4, locations], [5, functions]] as const) {
    batch = []
    for (const entry of entries) {
      batch.push(...embedded(fieldNumber, entry))
      if (batch.length >= 2 * ITEMS_PER_STEP) {
        parts.push(Buffer.concat(batch))
        batch = []
        yield
      }
    }
    parts.push(Buffer.concat(batch))
  }
  const rest = new Profile({
    stringTable: strings,
    timeNanos: BigInt(Math.round(timeMs)) * 1_000_000n,
    periodType: new ValueType({ type: space.type, unit: space.unit }),
    period: Math.round(samplingIntervalBytes),
    defaultSampleType: space.type,
  })
  parts.push(rest.encode())
  return Buffer.concat(parts)
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
  return runToEnd(heapProfileSteps(profile)).toString('utf8')
}

/** `toHeapProfileJson` in steps, as UTF-8 bytes. */
export function* heapProfileSteps(profile: HeapProfile): Steps<Buffer> {
  const chunks: Buffer[] = []
  let out: string[] = ['{"head":']
  let items = 0
  // Each step's text becomes bytes at once: no single join over the whole file at the end.
  const step = (): void => {
    chunks.push(Buffer.from(out.join(''), 'utf8'))
    out = []
  }
  const seen = new Set<number>()
  // Either a node to write (with its siblings' state, for the commas), or closing text.
  type Pending = { node: ProfileNode; siblings: { written: boolean } } | string
  const stack: Pending[] = [{ node: headOf(profile), siblings: { written: false } }]
  while (stack.length > 0) {
    if (++items % ITEMS_PER_STEP === 0) {
      step()
      yield
    }
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
  for (let i = 0; i < samples.length; i++) {
    if (i % ITEMS_PER_STEP === ITEMS_PER_STEP - 1) {
      step()
      yield
    }
    const sample = samples[i]!
    out.push(
      i > 0 ? ',' : '',
      '{"size":', jsonNumber(sample.size),
      ',"nodeId":', jsonNumber(sample.nodeId),
      ',"ordinal":', jsonNumber(sample.ordinal),
      '}',
    )
  }
  out.push(']}')
  step()
  return Buffer.concat(chunks)
}
