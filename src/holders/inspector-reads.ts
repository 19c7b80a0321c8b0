/**
 * What only the inspector can read, for the holder search: an object's private fields, and a
 * chain of closures (a function whose closure variable holds a function of the same code, whose
 * closure variable holds another...), which the sidecar follows link by link through
 * `[[Scopes]]`. Every call is one of the protocol's read-only methods (`Runtime.getProperties`
 * never calls an accessor) or the walker's fixed CHAIN_FUNCTION.
 */
import { z } from 'zod'
import { CHAIN_FUNCTION } from './walker.js'

export interface RemoteObject {
  type?: string
  subtype?: string
  value?: unknown
  objectId?: string
  description?: string
}
export interface PropertyDescriptor {
  name: string
  value?: RemoteObject
}
export interface GetPropertiesReply {
  result?: PropertyDescriptor[]
  internalProperties?: PropertyDescriptor[]
  privateProperties?: PropertyDescriptor[]
  exceptionDetails?: unknown
}
export interface CallReply {
  result?: RemoteObject
  exceptionDetails?: { text?: string; exception?: RemoteObject }
}

/** One protocol call (the search's own, counted and timed there). */
export type ProtocolCall = (method: string, params: Record<string, unknown>) => Promise<unknown>

/** The objects an object's private fields hold: [name ('#…'), objectId]. Primitives and accessors are left. */
export async function privateFieldsOf(call: ProtocolCall, objectId: string): Promise<Array<[string, string]>> {
  const props = (await call('Runtime.getProperties', { objectId, ownProperties: true, nonIndexedPropertiesOnly: true })) as GetPropertiesReply
  const out: Array<[string, string]> = []
  for (const p of props.privateProperties ?? []) {
    if (p.value?.objectId !== undefined && p.name.startsWith('#')) out.push([p.name.slice(0, 200), p.value.objectId])
  }
  return out
}

/** Bounds of one chain's count: links, time, and how many links are checked against the walker at once. */
export interface ChainLimits {
  readonly maxLinks: number
  readonly maxMs: number
  readonly checkEvery: number
}
export const CHAIN_LIMITS: ChainLimits = { maxLinks: 4096, maxMs: 500, checkEvery: 64 }

const ChainReply = z
  .object({ ok: z.literal(true), at: z.number().int().optional(), seen: z.number().int().optional(), size: z.number().optional() })
  .or(z.object({ ok: z.literal(false) }))

const locationOf = (props: GetPropertiesReply): string | undefined => {
  const value = props.internalProperties?.find((p) => p.name === '[[FunctionLocation]]')?.value?.value as
    | { scriptId?: unknown; lineNumber?: unknown; columnNumber?: unknown }
    | undefined
  return value === undefined ? undefined : `${String(value.scriptId)}:${String(value.lineNumber)}:${String(value.columnNumber)}`
}

/**
 * Follows the chain whose first link (`objectId`, a function the walker met at path node `node`
 * under the closure variable `name` of a function of the same code) goes on through `name` in
 * each link's closure, until a link's variable holds no function of the first's code, or the
 * limits. After the first link, every `checkEvery` links and at the end, the walker says whether one of them was the
 * chain's first link at the previous search (then the chain grew by that many links, and the
 * count stops there), or was counted before in this search (a ring: the count ends there). The walker then records the chain (CHAIN_FUNCTION, op 1). Three
 * getProperties a link (the function, its scope list, the scope). Returns the links counted (the first included).
 */
export async function followChain(
  call: ProtocolCall,
  objectId: string,
  node: number,
  name: string,
  now: () => number,
  limits: ChainLimits = CHAIN_LIMITS,
): Promise<number> {
  const started = now()
  const chainCall = async (op: number, objectIds: readonly string[], values: readonly number[] = []): Promise<z.infer<typeof ChainReply>> => {
    const reply = (await call('Runtime.callFunctionOn', {
      objectId,
      functionDeclaration: CHAIN_FUNCTION,
      arguments: [{ value: op }, { value: node }, ...values.map((value) => ({ value })), ...objectIds.map((id) => ({ objectId: id }))],
      returnByValue: true,
      silent: true,
    })) as CallReply
    const parsed = ChainReply.safeParse(reply.result?.value)
    return parsed.success ? parsed.data : { ok: false }
  }
  let link: string | undefined = objectId
  let location: string | undefined
  let scopeIndex = -1
  let counted = 0
  let complete = false
  let foundAt = -1
  let batch: string[] = []
  const samples: string[] = []
  // Whether to stop: the earlier first link was found, or a link counted before in this search
  // (a ring; a tail shared with a chain counted already) ends the count there.
  const check = async (): Promise<boolean> => {
    if (batch.length === 0) return false
    const reply = await chainCall(0, batch)
    const before = counted - batch.length
    batch = []
    if (!reply.ok) return true
    if (reply.at !== undefined && reply.at >= 0) foundAt = before + reply.at
    if (reply.seen !== undefined && reply.seen >= 0) {
      counted = before + reply.seen
      complete = true
      return true
    }
    return foundAt >= 0
  }
  while (link !== undefined) {
    if (counted >= limits.maxLinks || now() - started > limits.maxMs) break
    const fn = (await call('Runtime.getProperties', { objectId: link, ownProperties: true })) as GetPropertiesReply
    const at = locationOf(fn)
    if (location === undefined) location = at
    else if (at !== location) {
      complete = true
      break
    }
    counted += 1
    batch.push(link)
    // The first link at once (a chain counted already from another start, a known chain unchanged).
    if ((counted === 1 || batch.length >= limits.checkEvery) && (await check())) break
    const scopesId = fn.internalProperties?.find((p) => p.name === '[[Scopes]]')?.value?.objectId
    link = undefined
    if (scopesId === undefined) {
      complete = true
      break
    }
    const scopes = (await call('Runtime.getProperties', { objectId: scopesId, ownProperties: true })) as GetPropertiesReply
    const list = (scopes.result ?? []).filter((p) => /^\d+$/.test(p.name) && p.value?.objectId !== undefined)
    // The scope that held the variable in the link before first (the same code: the same layout), each scope once.
    const order = scopeIndex >= 0 && scopeIndex < list.length ? [scopeIndex, ...[...list.keys()].filter((i) => i !== scopeIndex)] : [...list.keys()]
    for (const i of order) {
      const scope = list[i]?.value
      if (scope?.objectId === undefined || scope.description === 'Global') continue
      const vars = (await call('Runtime.getProperties', { objectId: scope.objectId, ownProperties: true })) as GetPropertiesReply
      const held = vars.result?.find((p) => p.name === name)
      if (held === undefined) continue
      scopeIndex = i
      if (samples.length < 2) samples.push(scope.objectId)
      if (held.value?.type === 'function' && held.value.objectId !== undefined) link = held.value.objectId
      break
    }
    if (link === undefined) complete = true
  }
  if (batch.length > 0) await check()
  await chainCall(1, [objectId, ...samples], [counted, complete ? 1 : 0, foundAt])
  return counted
}
