/** Small helpers over the yaml package's document nodes, for inject's edits. */
import { type Document, isMap, isScalar, isSeq, type Node, type ParsedNode, type YAMLMap, type YAMLSeq } from 'yaml'

export function stringOf(value: unknown): string | undefined {
  const plain = isScalar(value) ? value.value : value
  return typeof plain === 'string' ? plain : typeof plain === 'number' ? String(plain) : undefined
}

/** Plain JavaScript of a node (or a value that is not one). */
export function js(value: unknown): unknown {
  if (isMap(value) || isSeq(value) || isScalar(value)) return value.toJSON()
  return value
}

export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(js(a))) === JSON.stringify(canonical(js(b)))
}

export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    )
  }
  return value
}

export function labelOf(object: YAMLMap): string {
  const kind = stringOf(object.get('kind')) ?? '(no kind)'
  const name = stringOf(object.getIn(['metadata', 'name'])) ?? '(no name)'
  const namespace = stringOf(object.getIn(['metadata', 'namespace']))
  return `${kind} ${namespace === undefined ? '' : `${namespace}/`}${name}`
}

export function seqOf(doc: Document, items: Node[]): YAMLSeq {
  const seq = doc.createNode([]) as YAMLSeq
  seq.items.push(...items)
  return seq
}

export function envEntry(container: YAMLMap, name: string): YAMLMap | undefined {
  const env = container.get('env', true)
  if (!isSeq(env)) return undefined
  return env.items.find((item): item is YAMLMap => isMap(item) && stringOf(item.get('name')) === name)
}

/** Set env variable `name` of `container` to `entry` (inserted at `at`, else appended), if it differs. */
export function ensureEnv(doc: Document, container: YAMLMap, entry: Record<string, unknown>, at?: number): boolean {
  const name = entry.name as string
  const existing: unknown = container.get('env', true)
  let seq: YAMLSeq
  if (isSeq(existing)) seq = existing
  else {
    seq = seqOf(doc, [])
    container.set('env', seq)
  }
  const index = seq.items.findIndex((item) => isMap(item) && stringOf(item.get('name')) === name)
  if (index >= 0) {
    if (sameValue(seq.items[index], entry)) return false
    seq.items[index] = doc.createNode(entry) as ParsedNode
    return true
  }
  const node = doc.createNode(entry) as ParsedNode
  if (at === undefined) seq.items.push(node)
  else seq.items.splice(at, 0, node)
  return true
}

export function declaredPorts(node: YAMLMap): number[] {
  const ports = js(node.get('ports', true))
  if (!Array.isArray(ports)) return []
  return ports.flatMap((port: unknown) => {
    const number = (port as { containerPort?: unknown } | null)?.containerPort
    return typeof number === 'number' ? [number] : []
  })
}
