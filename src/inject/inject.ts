/**
 * `leakwatch inject`, the pure part: Kubernetes YAML (or JSON) in, the same objects out with
 * the leakwatch native sidecar added to every pod template and NODE_OPTIONS=--inspect on the
 * watched containers. No I/O: the CLI (./cli.ts) reads and writes.
 *
 * Rules (docs/kubernetes.md explains them):
 * - Workloads: Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod; `kind: List`
 *   (and `*List`) items are handled one by one. Other kinds pass through untouched, with a note.
 * - Watched containers: `--container NAME` (repeatable); else the names in an existing leakwatch
 *   sidecar's LEAKWATCH_TARGETS; else the only container. Several containers and none chosen:
 *   refused.
 * - Inspector ports: one per watched container, from --port (9229) up, skipping ports that a
 *   container of the pod declares, leakwatch's own port and other containers' inspectors.
 * - NODE_OPTIONS: `--inspect=127.0.0.1:<port>` is appended to a plain value (or set, first in
 *   env). Refused: a value from valueFrom, an inspector flag on another port or address, and
 *   --inspect-brk / --inspect-wait. A flag already on the right address is left alone.
 * - Refused: hostNetwork pods (127.0.0.1 is then the node's loopback, shared with every process
 *   on the node), a classic leakwatch container under `containers`, malformed pod specs.
 * - Idempotent: an existing `leakwatch` init container is updated in place (targets and
 *   restartPolicy; image, listen port and memory-limit source when those flags are given),
 *   everything else of it kept; a document that needs no change is written back byte for byte.
 * - Any refusal: no output at all, so `... | leakwatch inject - | kubectl apply -f -` applies
 *   nothing rather than half of it.
 */
import { Document, isMap, isScalar, isSeq, type Pair, parseAllDocuments, type ParsedNode, Scalar, type Tags, type YAMLMap } from 'yaml'
import { existingListenPort, existingMemoryLimitSource, existingTargets } from './existing.js'
import { inspectorFlags, nodeCommandFlags, packageManagerOf, splitNodeOptions, type InspectorFlags } from './node-options.js'
import {
  type InjectTarget,
  listenValue,
  memoryLimitEnv,
  METRICS_PORT_NAME,
  SIDECAR_DEFAULTS,
  SIDECAR_NAME,
  sidecarContainer,
  targetsValue,
} from './sidecar.js'
import { declaredPorts, ensureEnv, js, labelOf, seqOf, stringOf } from './yaml-nodes.js'

export interface InjectOptions {
  /** Containers to watch (--container); empty or absent: see the rules above. */
  readonly containers?: readonly string[] | undefined
  /** Sidecar image (--image); absent: the default for a new sidecar, unchanged for an existing one. */
  readonly image?: string | undefined
  /** Inspector port of the first watched container (--port). */
  readonly firstPort?: number | undefined
  /** leakwatch's metrics/API port (--listen-port); absent: 9464, or an existing sidecar's. */
  readonly listenPort?: number | undefined
  /** Container whose memory limit leakwatch projects against, or "none" (--memory-limit-from). */
  readonly memoryLimitFrom?: string | undefined
}

export interface InjectResult {
  /** The transformed text; empty when there are errors. */
  readonly output: string
  /** Objects refused, each "<Kind> <namespace/name>: <reason>". Non-empty means exit non-zero. */
  readonly errors: readonly string[]
  /** Things that will probably not work as hoped (npm start, no memory limit, ...). */
  readonly warnings: readonly string[]
  /** Information: objects passed through, objects changed. */
  readonly notes: readonly string[]
  /** Number of objects changed. */
  readonly changed: number
}

/** Where each workload kind keeps its pod spec. */
export const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  Pod: ['spec'],
}

const NODE_OPTIONS = 'NODE_OPTIONS'
/**
 * YAML 1.1, as Kubernetes reads it (`on` is true), but without the timestamp type: the API
 * server keeps an unquoted 2026-11-20T10:12:03Z a string, and the yaml package would turn it
 * into a Date and write it back without its "Z".
 */
const YAML_OPTIONS = {
  version: '1.1',
  customTags: (tags: Tags) => tags.filter((tag) => !(typeof tag === 'object' && tag.tag.endsWith(':timestamp'))),
} as const
const MAX_PORT = 65535

/** The input could not be read at all (not YAML/JSON): a usage error rather than a refusal. */
export class InjectInputError extends Error {
  override name = 'InjectInputError'
}

interface Context {
  readonly options: InjectOptions
  readonly errors: string[]
  readonly warnings: string[]
  readonly notes: string[]
  changed: number
}

/** Transform a YAML stream (several documents, `kind: List`) or a JSON document. */
export function injectText(text: string, options: InjectOptions = {}): InjectResult {
  const ctx: Context = { options, errors: [], warnings: [], notes: [], changed: 0 }
  const output = /^\s*[[{]/.test(text) ? injectJson(text, ctx) : injectYaml(text, ctx)
  if (ctx.errors.length > 0) return { output: '', errors: ctx.errors, warnings: ctx.warnings, notes: ctx.notes, changed: 0 }
  return { output, errors: [], warnings: ctx.warnings, notes: ctx.notes, changed: ctx.changed }
}

function injectJson(text: string, ctx: Context): string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new InjectInputError(`the input starts like JSON but is not JSON: ${(error as Error).message}`)
  }
  const doc = new Document(value, YAML_OPTIONS)
  if (!processDocument(doc, ctx, '')) return text
  return `${JSON.stringify(doc.toJS(), null, 2)}\n`
}

function injectYaml(text: string, ctx: Context): string {
  const docs = parseAllDocuments(text, YAML_OPTIONS)
  if (!Array.isArray(docs) || docs.length === 0) return text // an empty stream (only comments, or nothing)
  for (const [index, doc] of docs.entries()) {
    const error = doc.errors[0]
    if (error !== undefined) {
      const where = docs.length > 1 ? `document ${index + 1}: ` : ''
      throw new InjectInputError(`${where}not valid YAML: ${error.message.split('\n')[0]}`)
    }
  }
  const pieces: string[] = []
  let start = 0
  docs.forEach((doc, index) => {
    const last = index === docs.length - 1
    const end = last ? text.length : doc.range[2]
    const source = text.slice(start, end)
    start = end
    const where = docs.length > 1 ? `document ${index + 1}: ` : ''
    if (!processDocument(doc, ctx, where)) {
      pieces.push(source) // untouched: byte for byte, comments and formatting as they were
      return
    }
    // kubectl's style for sequences (not indented under their key) when the document uses it.
    const indentSeq = !/^( *)[^\s#-][^\n]*:[ \t]*\n\1- /m.test(source)
    let rendered = doc.toString({ lineWidth: 0, indentSeq, flowCollectionPadding: false })
    if (!last && !rendered.endsWith('\n')) rendered += '\n'
    pieces.push(rendered)
  })
  return pieces.join('')
}

/** Handle one document (an object, or a List of objects). Returns whether it changed. */
function processDocument(doc: Document, ctx: Context, where: string): boolean {
  const root = doc.contents
  if (root === null || (isScalar(root) && root.value === null)) return false
  if (!isMap(root)) {
    ctx.notes.push(`${where}not a Kubernetes object (not a mapping): passed through unchanged`)
    return false
  }
  const kind = stringOf(root.get('kind'))
  const items = root.get('items', true)
  if (kind !== undefined && /List$/.test(kind) && isSeq(items)) {
    let changed = false
    items.items.forEach((item, index) => {
      if (isMap(item)) changed = processObject(doc, item, ctx, `${where}${kind} item ${index + 1}: `) || changed
      else ctx.notes.push(`${where}${kind} item ${index + 1}: not a Kubernetes object: passed through unchanged`)
    })
    return changed
  }
  return processObject(doc, root, ctx, where)
}

function processObject(doc: Document, object: YAMLMap, ctx: Context, where: string): boolean {
  const kind = stringOf(object.get('kind'))
  const label = `${where}${labelOf(object)}`
  const path = kind === undefined ? undefined : POD_SPEC_PATHS[kind]
  if (path === undefined) {
    ctx.notes.push(`${label}: not a workload (${Object.keys(POD_SPEC_PATHS).join(', ')}): passed through unchanged`)
    return false
  }
  const pod = object.getIn(path, true)
  if (!isMap(pod)) {
    ctx.errors.push(`${label}: has no pod spec at ${path.join('.')}`)
    return false
  }
  const changed = injectPod(doc, pod, ctx, label)
  if (!changed) return false
  ctx.changed += 1
  ctx.notes.push(`${label}: injected`)
  const owner = controllerOf(object)
  if (owner !== undefined) {
    ctx.warnings.push(`${label}: is managed by ${owner} (ownerReferences), which will undo this change: inject the ${owner.split('/')[0]} instead`)
  }
  if (object.getIn(['metadata', 'uid']) !== undefined && (kind === 'Pod' || kind === 'Job')) {
    ctx.warnings.push(
      `${label}: the pod template of an existing ${kind} cannot be changed, so kubectl apply will refuse it: re-create it (kubectl replace --force -f -), or inject what creates it`,
    )
  }
  return true
}

function controllerOf(object: YAMLMap): string | undefined {
  const owners = js(object.getIn(['metadata', 'ownerReferences'], true))
  if (!Array.isArray(owners)) return undefined
  const controller = owners.find((owner: unknown) => (owner as { controller?: unknown }).controller === true) as
    | { kind?: unknown; name?: unknown }
    | undefined
  return controller === undefined ? undefined : `${String(controller.kind)}/${String(controller.name)}`
}

/** A container of the pod, with what inject needs to know about it. */
interface AppContainer {
  readonly node: YAMLMap
  readonly name: string
  readonly nodeOptions: { entries: YAMLMap[]; value: string | undefined; fromValueFrom: boolean }
  readonly commandLine: string[]
  readonly flags: InspectorFlags
}

function describeContainer(node: YAMLMap): AppContainer {
  const name = stringOf(node.get('name')) ?? ''
  const env = node.get('env', true)
  const entries = isSeq(env) ? env.items.filter((item): item is YAMLMap => isMap(item) && stringOf(item.get('name')) === NODE_OPTIONS) : []
  const entry = entries[0]
  const fromValueFrom = entry !== undefined && entry.get('valueFrom') !== undefined
  const raw = entry === undefined || fromValueFrom ? undefined : js(entry.get('value', true))
  const value = raw === undefined || raw === null ? undefined : String(raw)
  const strings = (key: string): string[] => {
    const list = js(node.get(key, true))
    return Array.isArray(list) ? list.map(String) : []
  }
  const commandLine = [...strings('command'), ...strings('args')]
  const flags = inspectorFlags([...splitNodeOptions(value ?? ''), ...nodeCommandFlags(commandLine)])
  return { node, name, nodeOptions: { entries, value, fromValueFrom }, commandLine, flags }
}

type NodeOptionsPlan = { readonly action: 'keep' } | { readonly action: 'set'; readonly value: string } | { readonly error: string }

function planNodeOptions(container: AppContainer, port: number): NodeOptionsPlan {
  const { nodeOptions, flags, name } = container
  const wanted = `--inspect=127.0.0.1:${port}`
  if (nodeOptions.entries.length > 1) return { error: `container "${name}" sets NODE_OPTIONS ${nodeOptions.entries.length} times: keep one` }
  if (nodeOptions.fromValueFrom) {
    return {
      error: `container "${name}" takes NODE_OPTIONS from valueFrom (a ConfigMap, Secret or field), which inject cannot edit safely: add ${wanted} at its source, or make NODE_OPTIONS a plain value`,
    }
  }
  if (flags.invalid !== undefined) return { error: `container "${name}" has an inspector flag inject cannot read: ${flags.invalid}` }
  if (flags.waits !== undefined) {
    return { error: `container "${name}" has ${flags.waits}, which stops the app until a debugger attaches: remove it (leakwatch never resumes it)` }
  }
  if (flags.flags.length > 0) {
    const had = flags.flags.join(' ')
    if (flags.host !== '127.0.0.1') {
      return {
        error: `container "${name}" already opens the inspector on ${flags.host}:${flags.port} (${had}); it must listen on 127.0.0.1 only (anyone who reaches it can run code in the app): change it to ${wanted}`,
      }
    }
    if (flags.port !== port) {
      return {
        error: `container "${name}" already opens the inspector on port ${flags.port} (${had}), but inject would watch it on ${port}: remove the flag, or pass --port ${flags.port} when this is the first watched container`,
      }
    }
    if (flags.enabled) return { action: 'keep' }
  }
  const current = nodeOptions.value?.trim() ?? ''
  return { action: 'set', value: current === '' ? wanted : `${current} ${wanted}` }
}

function injectPod(doc: Document, pod: YAMLMap, ctx: Context, label: string): boolean {
  const { options } = ctx
  const refuse = (reason: string): false => {
    ctx.errors.push(`${label}: ${reason}`)
    return false
  }
  if (js(pod.get('hostNetwork', true)) === true) {
    return refuse(
      'uses hostNetwork: true, where 127.0.0.1 is the node\'s loopback: the inspector (which runs any code it is sent) would be open to every process on the node, and two such pods on one node would want the same port. inject refuses; see docs/kubernetes.md',
    )
  }
  const containersNode = pod.get('containers', true)
  if (!isSeq(containersNode) || containersNode.items.length === 0) return refuse('has no containers')
  const initNode = pod.get('initContainers', true)
  if (initNode !== undefined && !isSeq(initNode)) return refuse('initContainers is not a list')
  const containerNodes: YAMLMap[] = []
  for (const [index, item] of containersNode.items.entries()) {
    if (!isMap(item) || stringOf(item.get('name')) === undefined) return refuse(`containers[${index}] is not a container with a name`)
    containerNodes.push(item)
  }
  const initNodes = (isSeq(initNode) ? initNode.items : []).filter((item): item is YAMLMap => isMap(item))
  const containers = containerNodes.map(describeContainer)
  const names = containers.map((container) => container.name)
  if (names.includes(SIDECAR_NAME)) {
    return refuse(`already runs leakwatch as a classic container under containers: remove it first (inject adds it as a native sidecar under initContainers), or leave this object alone`)
  }
  const sidecar = initNodes.find((node) => stringOf(node.get('name')) === SIDECAR_NAME)

  // Which containers to watch.
  let chosen: AppContainer[]
  const wanted = options.containers ?? []
  if (wanted.length > 0) {
    chosen = containers.filter((container) => wanted.includes(container.name))
    if (chosen.length === 0) return refuse(`has no container named ${wanted.map((n) => `"${n}"`).join(' or ')} (its containers: ${names.join(', ')})`)
  } else {
    const previous = sidecar === undefined ? [] : existingTargets(sidecar).names
    chosen = containers.filter((container) => previous.includes(container.name))
    if (chosen.length === 0) {
      if (containers.length > 1) {
        return refuse(`has ${containers.length} containers (${names.join(', ')}): choose the Node.js one(s) with --container NAME`)
      }
      chosen = containers
    }
  }

  // Ports: leakwatch's own, then one inspector port per watched container.
  const listenPort = options.listenPort ?? existingListenPort(sidecar) ?? SIDECAR_DEFAULTS.listenPort
  const declared = new Map<number, string>()
  for (const node of [...initNodes, ...containerNodes]) {
    const name = stringOf(node.get('name')) ?? ''
    if (name === SIDECAR_NAME) continue
    for (const port of declaredPorts(node)) if (!declared.has(port)) declared.set(port, name)
  }
  const clash = declared.get(listenPort)
  if (clash !== undefined) {
    return refuse(`port ${listenPort} (leakwatch's metrics port) is already a port of container "${clash}": pass --listen-port with a free port`)
  }
  const reserved = new Set<number>([...declared.keys(), listenPort])
  for (const container of containers) {
    if (!chosen.includes(container) && container.flags.flags.length > 0) reserved.add(container.flags.port)
  }
  const targets: InjectTarget[] = []
  let next = options.firstPort ?? SIDECAR_DEFAULTS.firstInspectorPort
  for (const container of chosen) {
    while (reserved.has(next)) next += 1
    if (next > MAX_PORT) return refuse(`no free inspector port at or above ${options.firstPort ?? SIDECAR_DEFAULTS.firstInspectorPort}`)
    targets.push({ name: container.name, port: next })
    reserved.add(next)
  }

  // NODE_OPTIONS of each watched container: decide everything before changing anything.
  const plans = chosen.map((container, index) => ({ container, plan: planNodeOptions(container, targets[index]!.port) }))
  const problems = plans.flatMap(({ plan }) => ('error' in plan ? [plan.error] : []))
  if (problems.length > 0) {
    for (const problem of problems) refuse(problem)
    return false
  }

  // Whose memory limit leakwatch projects against: the flag; else, for an existing sidecar, what
  // it has (like its image and port); else the watched container when there is one.
  let memoryLimitFrom: string | undefined
  let removeMemoryLimit = false
  if (options.memoryLimitFrom === 'none') {
    removeMemoryLimit = true
  } else if (options.memoryLimitFrom !== undefined) {
    if (!names.includes(options.memoryLimitFrom)) {
      return refuse(`--memory-limit-from ${options.memoryLimitFrom}: no such container (its containers: ${names.join(', ')})`)
    }
    memoryLimitFrom = options.memoryLimitFrom
  } else if (sidecar === undefined) {
    if (chosen.length === 1) memoryLimitFrom = chosen[0]!.name
    else {
      ctx.notes.push(
        `${label}: LEAKWATCH_MEMORY_LIMIT left out: leakwatch takes one memory limit for all ${chosen.length} watched containers; name the container with --memory-limit-from`,
      )
    }
  }
  const limitSource = removeMemoryLimit ? undefined : (memoryLimitFrom ?? existingMemoryLimitSource(sidecar))
  const limited = containers.find((container) => container.name === limitSource)
  if (limited !== undefined && js(limited.node.getIn(['resources', 'limits', 'memory'], true)) === undefined) {
    ctx.warnings.push(
      `${label}: container "${limited.name}" has no memory limit, so the downward API passes the node's allocatable memory as LEAKWATCH_MEMORY_LIMIT: give it resources.limits.memory, or pass --memory-limit-from none`,
    )
  }

  for (const container of chosen) warnAboutStart(container, ctx, label)

  // Apply.
  let changed = false
  for (const { container, plan } of plans) {
    if ('action' in plan && plan.action === 'set') changed = setNodeOptions(doc, container, plan.value) || changed
  }
  if (sidecar === undefined) {
    const node = doc.createNode(sidecarContainer({ targets, memoryLimitFrom, image: options.image, listenPort })) as ParsedNode
    if (isSeq(initNode)) initNode.items.push(node)
    else {
      // Right before containers, where people look for it.
      const at = pod.items.findIndex((pair) => stringOf(pair.key) === 'containers')
      pod.items.splice(at, 0, doc.createPair('initContainers', seqOf(doc, [node])) as Pair<ParsedNode, ParsedNode>)
    }
    changed = true
  } else {
    const update = updateSidecar(doc, sidecar, { targets, memoryLimitFrom, removeMemoryLimit, listenPort }, options)
    if ('error' in update) return refuse(update.error)
    changed = update.changed || changed
    if (!changed) ctx.notes.push(`${label}: already injected, unchanged`)
  }
  return changed
}

function warnAboutStart(container: AppContainer, ctx: Context, label: string): void {
  const manager = packageManagerOf(container.commandLine)
  if (manager !== undefined) {
    ctx.warnings.push(
      `${label}: container "${container.name}" starts the app with ${manager}: ${manager} is a Node.js program that reads NODE_OPTIONS too, so it binds the inspector port first and the app logs "address already in use" (leakwatch would watch ${manager}, not the app). Run node directly, e.g. command: ["node", "server.js"]; see docs/kubernetes.md ("npm takes the inspector port")`,
    )
  } else if (container.commandLine.length === 0) {
    ctx.notes.push(
      `${label}: container "${container.name}" runs its image's default command: if that is npm or yarn (npm start), the app will not get the inspector; see docs/kubernetes.md`,
    )
  }
  if (container.nodeOptions.entries.length === 0 && container.node.get('envFrom') !== undefined) {
    ctx.warnings.push(
      `${label}: container "${container.name}" has envFrom: a NODE_OPTIONS it brings in is now overridden by the one inject sets in env; merge them by hand if it had one`,
    )
  }
}

function setNodeOptions(doc: Document, container: AppContainer, value: string): boolean {
  const entry = container.nodeOptions.entries[0]
  if (entry !== undefined) {
    const current = entry.get('value', true)
    if (isScalar(current)) {
      if (current.value === value) return false
      current.value = value
      if (current.type === Scalar.BLOCK_FOLDED || current.type === Scalar.BLOCK_LITERAL) current.type = Scalar.PLAIN
    } else {
      entry.set('value', value)
    }
    return true
  }
  const env = container.node.get('env', true)
  const node = doc.createNode({ name: NODE_OPTIONS, value }) as ParsedNode
  if (isSeq(env)) env.items.unshift(node)
  else container.node.set('env', seqOf(doc, [node]))
  return true
}

function updateSidecar(
  doc: Document,
  sidecar: YAMLMap,
  wanted: { targets: InjectTarget[]; memoryLimitFrom: string | undefined; removeMemoryLimit: boolean; listenPort: number },
  options: InjectOptions,
): { changed: boolean } | { error: string } {
  let changed = false
  const { fromArgs } = existingTargets(sidecar)
  const targets = targetsValue(wanted.targets)
  if (fromArgs !== undefined) {
    // Flags win over LEAKWATCH_TARGETS: leave --target args alone when they say the same.
    if (fromArgs.join(',') !== targets) {
      return {
        error: `the existing leakwatch sidecar sets its targets with --target args (${fromArgs.join(', ')}), not ${targets}: remove those args (inject sets LEAKWATCH_TARGETS)`,
      }
    }
  } else {
    changed = ensureEnv(doc, sidecar, { name: 'LEAKWATCH_TARGETS', value: targets }, 0) || changed
  }
  if (wanted.memoryLimitFrom !== undefined) {
    changed = ensureEnv(doc, sidecar, { ...memoryLimitEnv(wanted.memoryLimitFrom) }) || changed
  } else if (wanted.removeMemoryLimit) {
    const env = sidecar.get('env', true)
    if (isSeq(env)) {
      const before = env.items.length
      env.items = env.items.filter((item) => !(isMap(item) && stringOf(item.get('name')) === 'LEAKWATCH_MEMORY_LIMIT'))
      changed = env.items.length !== before || changed
    }
  }
  if (stringOf(sidecar.get('restartPolicy')) !== 'Always') {
    sidecar.set('restartPolicy', 'Always')
    changed = true
  }
  if (options.image !== undefined && stringOf(sidecar.get('image')) !== options.image) {
    sidecar.set('image', options.image)
    changed = true
  }
  // LEAKWATCH_LISTEN only when --listen-port asks for another port than the sidecar's (default 9464).
  if (options.listenPort !== undefined && (existingListenPort(sidecar) ?? SIDECAR_DEFAULTS.listenPort) !== options.listenPort) {
    changed = ensureEnv(doc, sidecar, { name: 'LEAKWATCH_LISTEN', value: listenValue(wanted.listenPort) }) || changed
  }
  const ports = sidecar.get('ports', true)
  const metrics = isSeq(ports) ? ports.items.find((item): item is YAMLMap => isMap(item) && stringOf(item.get('name')) === METRICS_PORT_NAME) : undefined
  if (metrics === undefined) {
    const node = doc.createNode({ name: METRICS_PORT_NAME, containerPort: wanted.listenPort, protocol: 'TCP' }) as ParsedNode
    if (isSeq(ports)) ports.items.push(node)
    else sidecar.set('ports', seqOf(doc, [node]))
    changed = true
  } else if (js(metrics.get('containerPort', true)) !== wanted.listenPort) {
    metrics.set('containerPort', wanted.listenPort)
    changed = true
  }
  return { changed }
}
