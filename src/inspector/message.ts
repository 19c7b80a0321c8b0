/**
 * What a message from an inspector target must look like, and how a large one travels from
 * the reader thread (parse-worker.ts) back to the main thread: as batches of tokens that the
 * main thread rebuilds in slices. Shared by both threads, so this module loads nothing else
 * but the limits.
 */
import { ITEMS_PER_STEP, type Steps } from '../core/slices.js'
import { clipTargetText } from './limits.js'

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const has = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key)

/** `Domain.event`, as every inspector event is named; never one of the client's own events. */
const EVENT_NAME = /^[A-Za-z][A-Za-z0-9]{0,99}\.[A-Za-z][A-Za-z0-9_]{0,99}$/

/**
 * Why a parsed websocket message is not one an inspector sends, or undefined if it is: a JSON
 * object; a reply has a command id (a safe non-negative integer) and an object `result` or an
 * `error` object with a string `message` (and a string `data`, if any); an event has a `method`
 * named `Domain.event`, object `params` and a string `sessionId` if any.
 */
export function messageProblem(message: unknown): string | undefined {
  if (!isObject(message)) return 'a message that is not a JSON object'
  if (has(message, 'id')) {
    const id = message.id
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return 'a reply whose id is not a command id'
    if (has(message, 'error')) {
      const error = message.error
      if (!isObject(error) || typeof error.message !== 'string') return 'an error reply without a message'
      if (has(error, 'data') && typeof error.data !== 'string') return 'an error reply whose data is not a string'
      return undefined
    }
    if (has(message, 'result') && !isObject(message.result)) return 'a reply whose result is not an object'
    return undefined
  }
  if (!has(message, 'method')) return 'a message with neither id nor method'
  if (typeof message.method !== 'string' || !EVENT_NAME.test(message.method)) return 'an event not named Domain.event'
  if (has(message, 'params') && !isObject(message.params)) return 'an event whose params are not an object'
  if (has(message, 'sessionId') && typeof message.sessionId !== 'string') return 'an event whose sessionId is not a string'
  return undefined
}

/**
 * The websocket text `text` read as an inspector message: the message, or what the target did
 * wrong, worded as `GuardedClient` reports it ("inspector target " + it).
 */
export function readMessage(text: string): { message: unknown } | { problem: string } {
  let message: unknown
  try {
    message = JSON.parse(text)
  } catch {
    return { problem: `sent a websocket message that is not JSON: ${JSON.stringify(clipTargetText(text, 60))}` }
  }
  const problem = messageProblem(message)
  if (problem !== undefined) return { problem: `sent ${problem}: ${JSON.stringify(clipTargetText(text, 60))}` }
  return { message }
}

/** Tokens per batch: a batch is copied between threads in one step of a few milliseconds. */
export const TOKENS_PER_BATCH = 32_768

const PRIMITIVE = 0
const ARRAY = 1
const OBJECT = 2
const REF = 3

interface EncodeFrame {
  readonly container: Record<string, unknown> | unknown[]
  readonly keys: string[] | undefined
  readonly length: number
  i: number
}

/**
 * A parsed JSON value as batches of tokens (depth first: `0, value` for a string, number,
 * boolean or null; `1, length` then the elements for an array; `2, count` then key and value
 * for each key of an object), each batch about TOKENS_PER_BATCH long. Iterative: a value nested
 * as deep as JSON.parse allows does not overflow the stack. With `shared`, an object or array
 * met again is sent as `3, n` (the n-th container sent), so what it shares stays shared (a kept
 * profile's call frames); JSON.parse's output shares nothing and goes without.
 */
export function* encodeValue(value: unknown, shared = false): Generator<unknown[], void, void> {
  let batch: unknown[] = []
  const stack: EncodeFrame[] = []
  const seen = new Map<object, number>()
  const emit = (v: unknown): void => {
    if (shared && typeof v === 'object' && v !== null) {
      const index = seen.get(v)
      if (index !== undefined) {
        batch.push(REF, index)
        return
      }
      seen.set(v, seen.size)
    }
    if (Array.isArray(v)) {
      batch.push(ARRAY, v.length)
      if (v.length > 0) stack.push({ container: v, keys: undefined, length: v.length, i: 0 })
    } else if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v)
      batch.push(OBJECT, keys.length)
      if (keys.length > 0) stack.push({ container: v as Record<string, unknown>, keys, length: keys.length, i: 0 })
    } else {
      batch.push(PRIMITIVE, v)
    }
  }
  emit(value)
  while (stack.length > 0) {
    if (batch.length >= TOKENS_PER_BATCH) {
      yield batch
      batch = []
    }
    const top = stack[stack.length - 1]!
    if (top.i >= top.length) {
      stack.pop()
      continue
    }
    const i = top.i++
    if (top.keys === undefined) {
      emit((top.container as unknown[])[i])
    } else {
      const key = top.keys[i]!
      batch.push(key)
      emit((top.container as Record<string, unknown>)[key])
    }
  }
  yield batch
}

interface RebuildFrame {
  readonly container: Record<string, unknown> | unknown[]
  readonly object: boolean
  remaining: number
}

/** Sets `key` as an own data property, even `__proto__` (as JSON.parse does). */
function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true })
  else object[key] = value
}

/** The value `encodeValue` turned into `batches` (with the same `shared`), rebuilt in steps (slices.ts). */
export function* rebuildValue(batches: readonly unknown[][], shared = false): Steps<unknown> {
  let b = 0
  let i = 0
  const next = (): unknown => {
    while (i >= batches[b]!.length) {
      b += 1
      i = 0
    }
    return batches[b]![i++]
  }
  const stack: RebuildFrame[] = []
  /** Containers in the order they were made, when `shared`. */
  const made: unknown[] = []
  let root: unknown
  let sinceYield = 0
  for (;;) {
    const top = stack[stack.length - 1]
    if (top !== undefined && top.remaining === 0) {
      stack.pop()
      if (stack.length === 0) return root
      continue
    }
    if (++sinceYield >= ITEMS_PER_STEP) {
      sinceYield = 0
      yield
    }
    const key = top?.object === true ? (next() as string) : undefined
    const tag = next()
    const size = next()
    let value: unknown
    let frame: RebuildFrame | undefined
    if (tag === PRIMITIVE) {
      value = size
    } else if (tag === REF) {
      value = made[size as number]
    } else if (tag === ARRAY) {
      value = []
      if (shared) made.push(value)
      if ((size as number) > 0) frame = { container: value as unknown[], object: false, remaining: size as number }
    } else {
      value = {}
      if (shared) made.push(value)
      if ((size as number) > 0) frame = { container: value as Record<string, unknown>, object: true, remaining: size as number }
    }
    if (top === undefined) root = value
    else {
      top.remaining -= 1
      if (key === undefined) (top.container as unknown[]).push(value)
      else setOwn(top.container as Record<string, unknown>, key, value)
    }
    if (frame !== undefined) stack.push(frame)
    if (stack.length === 0) return root
  }
}
