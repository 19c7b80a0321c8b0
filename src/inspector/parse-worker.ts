/**
 * The reader thread: decodes, parses and checks the large messages a target sends (over
 * MAX_SMALL_MESSAGE_BYTES, only while a large reply is due), which would otherwise hold the
 * sidecar's event loop for as long as JSON.parse takes (a 60 MiB heap profile: 0.5-1 s). It
 * hands each message back as batches of tokens (message.ts), one batch per request from the
 * main thread, so that no step there grows with the message. One message at a time.
 *
 * Protocol (parse-pool.ts is the other side):
 *   in:  { task, text }                       a message, as text
 *        { task, bytes, total }... { task, end }  a message, as its UTF-8 bytes in parts
 *        { next: task }                        send the next batch of that task
 *        { cancel: task }                      forget that task
 *   out: { task, problem }                    what the target did wrong (the task is over)
 *        { task, batch }                      the next batch of the message's tokens
 *        { task, end: true, shared, note }    no more batches (the task is over); `shared` and
 *                                             `note` as the reducer that took the message said
 *
 * Reducers (workerData.reducers, module URLs registered by higher layers through
 * `registerReplyReducer`) may replace a parsed message with what the sidecar keeps of it, here
 * on this thread: the profiler's module keeps a bounded copy of a heap profile, so a million
 * nodes never reach the main thread. A reducer exports
 * `reduceMessage(message: Record<string, unknown>): { message, note } | undefined`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { encodeValue, readMessage } from './message.js'

interface Reducer {
  reduceMessage(message: Record<string, unknown>): { message: unknown; note: unknown } | undefined
}
const reducerUrls = ((workerData as { reducers?: unknown } | null)?.reducers ?? []) as string[]
const reducers = (await Promise.all(reducerUrls.map((url) => import(url)))) as Reducer[]

interface Task {
  readonly task: number
  readonly text?: string
  readonly chunks?: Uint8Array[]
}

/** The UTF-8 bytes as text, or undefined when they are not UTF-8 (as the websocket would have said). */
function decode(chunks: Uint8Array[]): string | undefined {
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  // Let go of the parts while the message is parsed: it is held as text from here on.
  ;(chunks as Uint8Array[]).length = 0
  try {
    // ignoreBOM keeps a leading BOM, as ws's Buffer#toString does (and JSON.parse then refuses it).
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    return undefined
  }
}

const port = parentPort
if (port === null) throw new Error('parse-worker.ts runs as a worker thread only')

const queue: Task[] = []
/** Messages still arriving as bytes: each part is copied into one buffer of the total size and let go. */
const arriving = new Map<number, { readonly bytes: Buffer; filled: number }>()
let current:
  | { readonly task: number; readonly batches: Generator<unknown[], void, void>; readonly shared: boolean; readonly note: unknown }
  | undefined

/** The message as the first reducer that takes it makes it, or as it is. */
function reduce(message: unknown): { message: unknown; shared: boolean; note: unknown } {
  for (const reducer of reducers) {
    const reduced = reducer.reduceMessage(message as Record<string, unknown>)
    if (reduced !== undefined) return { message: reduced.message, shared: true, note: reduced.note }
  }
  return { message, shared: false, note: undefined }
}

function startNext(): void {
  while (current === undefined && queue.length > 0) {
    const { task, text, chunks } = queue.shift()!
    const decoded = text ?? decode(chunks ?? [])
    if (decoded === undefined) {
      port!.postMessage({ task, problem: 'broke the websocket protocol (Invalid WebSocket frame: invalid UTF-8 sequence)' })
      continue
    }
    const read = readMessage(decoded)
    if ('problem' in read) {
      port!.postMessage({ task, problem: read.problem })
      continue
    }
    const { message, shared, note } = reduce(read.message)
    current = { task, batches: encodeValue(message, shared), shared, note }
    sendNext()
  }
}

function sendNext(): void {
  const { task, batches, shared, note } = current!
  const next = batches.next()
  if (next.done === true) {
    current = undefined
    port!.postMessage({ task, end: true, shared, note })
    startNext()
    return
  }
  port!.postMessage({ task, batch: next.value })
}

port.on('message', (message: Task & { next?: number; cancel?: number; bytes?: Uint8Array; total?: number; end?: true }) => {
  if (message.bytes !== undefined) {
    let input = arriving.get(message.task)
    if (input === undefined) {
      input = { bytes: Buffer.allocUnsafe(message.total ?? message.bytes.byteLength), filled: 0 }
      arriving.set(message.task, input)
    }
    input.bytes.set(message.bytes, input.filled)
    input.filled += message.bytes.byteLength
  } else if (message.end === true) {
    const input = arriving.get(message.task)
    queue.push({ task: message.task, chunks: input === undefined ? [] : [input.bytes.subarray(0, input.filled)] })
    arriving.delete(message.task)
    startNext()
  } else if (message.next !== undefined) {
    if (current?.task === message.next) sendNext()
  } else if (message.cancel !== undefined) {
    arriving.delete(message.cancel)
    const queued = queue.findIndex((task) => task.task === message.cancel)
    if (queued >= 0) queue.splice(queued, 1)
    if (current?.task === message.cancel) {
      current = undefined
      startNext()
    }
  } else {
    queue.push(message)
    startNext()
  }
})
