/**
 * The main thread's side of the reader thread (parse-worker.ts): one worker per sidecar,
 * started on the first large message and terminated READER_IDLE_MS after the last (a parsed
 * 60 MiB message leaves a few hundred MB of heap behind in it). Starting one costs ~20-30 ms,
 * mostly on its own thread, and large messages are rare (heap profile reads, on a budget). Messages are read one
 * at a time, in the order given; each comes back one batch of tokens per event-loop turn
 * (pulled, so that no turn deserializes more than one batch) and is rebuilt in slices.
 */
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { runInSlices } from '../core/slices.js'
import { clipTargetText } from './limits.js'
import { rebuildValue } from './message.js'

/** How a large message was read: the message, or what the target did wrong (GuardedClient's wording). */
export type OffThreadResult = { readonly message: unknown; readonly note?: unknown } | { readonly problem: string }

export interface OffThreadRead {
  /** Never rejects; never settles once cancelled. */
  readonly done: Promise<OffThreadResult>
  /** Forget this read (its client failed or closed): the worker drops it, nothing is called. */
  cancel(): void
}

/** The worker ends after this long without a message to read. */
export const READER_IDLE_MS = 1000


interface Pending {
  readonly batches: unknown[][]
  readonly resolve: (result: OffThreadResult) => void
}

// The worker is this module's sibling: parse-worker.js in dist/, parse-worker.ts when the
// sources run under a TypeScript loader (tests), which the worker inherits through execArgv.
const WORKER_URL = new URL(`./parse-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)

/**
 * Heap the reader thread may use (old generation; the young one is kept at 4 MB). The hostile
 * soak's 1M-node profile (60 MiB) is parsed and kept in ~200 MB live; a real profile at the
 * websocket's 64 MiB limit (~1.5M samples) needs ~170 MB. Soak runs (docs/benchmarks/
 * hostile-soak.md): with 256 MB the sidecar's RSS peaked at 661 MiB, with 384 MB at 851 MiB
 * and uncapped at 782 MiB, against a 768 MiB bound (V8 collects late when it may grow). A
 * message that needs more ends the worker (its session fails, not the sidecar); one of millions
 * of tiny objects may instead take longer to read than its call's timeout, which then drops
 * the session and ends the worker.
 *
 * Run from the TypeScript sources (tests, under tap's loader and coverage) the worker needs more
 * for itself: the 1M-node profile ran it out of memory at 256 MB there, not from dist/; so the
 * sources get 128 MB more.
 */
const READER_HEAP_MB = WORKER_URL.pathname.endsWith('.ts') ? 384 : 256
const READER_YOUNG_HEAP_MB = 4

let worker: Worker | undefined
/** Module URLs of the reducers (see parse-worker.ts), and how many the running worker has. */
const reducers: string[] = []
let workerReducers = 0
let nextTask = 1
const pending = new Map<number, Pending>()
let idleTimer: NodeJS.Timeout | undefined

/** Started workers so far (tests). */
export let readerStarts = 0

/**
 * Let the reader thread reduce large messages with `moduleUrl`'s `reduceMessage` (see
 * parse-worker.ts) before they come back; its `note` reaches the result through `replyNote`.
 * For a layer above the inspector's (the profiler keeps heap profiles this way), at module load.
 */
export function registerReplyReducer(moduleUrl: URL): void {
  if (!reducers.includes(moduleUrl.href)) reducers.push(moduleUrl.href)
}

function startWorker(): Worker {
  const started = new Worker(WORKER_URL, {
    workerData: { reducers: [...reducers] },
    resourceLimits: { maxOldGenerationSizeMb: READER_HEAP_MB, maxYoungGenerationSizeMb: READER_YOUNG_HEAP_MB },
  })
  workerReducers = reducers.length
  readerStarts += 1
  // Never what keeps the sidecar running: its websockets and server do that.
  started.unref()
  started.on('message', (message: { task: number; batch?: unknown[]; problem?: string; shared?: boolean; note?: unknown }) => {
    const read = pending.get(message.task)
    if (read === undefined) return
    if (message.batch !== undefined) {
      read.batches.push(message.batch)
      started.postMessage({ next: message.task })
      return
    }
    pending.delete(message.task)
    idleWhenDone()
    if (message.problem !== undefined) {
      read.resolve({ problem: message.problem })
      return
    }
    const { shared, note } = message
    void runInSlices(rebuildValue(read.batches, shared === true)).then((value) =>
      read.resolve(note === undefined ? { message: value } : { message: value, note }),
    )
  })
  const lost = (why: string): void => {
    if (worker !== started) return
    worker = undefined
    const reads = [...pending.values()]
    pending.clear()
    for (const read of reads) read.resolve({ problem: `sent a message the sidecar's reader thread failed on (${clipTargetText(why, 120)})` })
  }
  started.on('error', (error) => lost(error.message))
  started.on('exit', (code) => lost(`exit code ${code}`))
  return started
}

function idleWhenDone(): void {
  if (pending.size > 0 || worker === undefined) return
  clearTimeout(idleTimer)
  const idle = worker
  idleTimer = setTimeout(() => {
    if (worker !== idle || pending.size > 0) return
    worker = undefined
    void idle.terminate()
  }, READER_IDLE_MS)
  idleTimer.unref()
}

/** Bytes copied to the reader thread per event-loop turn (a copy of a few milliseconds). */
const BYTES_PER_TURN = 4 * 1024 * 1024

/**
 * Post the bytes of `chunks` to `to` as parts of at most BYTES_PER_TURN, each copied into its
 * own buffer and moved (transferred), one part per turn; then the end of the input. Stops when
 * `cancelled` says so.
 */
async function postBytes(to: Worker, task: number, chunks: readonly Uint8Array[], cancelled: () => boolean): Promise<void> {
  const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0)
  let chunk = 0
  let offset = 0
  for (let sent = 0; sent < total; ) {
    if (sent > 0) await new Promise((resolve) => setImmediate(resolve))
    if (cancelled()) return
    const part = new Uint8Array(Math.min(BYTES_PER_TURN, total - sent))
    for (let filled = 0; filled < part.length; ) {
      const from = chunks[chunk]!
      const take = Math.min(from.byteLength - offset, part.length - filled)
      part.set(from.subarray(offset, offset + take), filled)
      filled += take
      offset += take
      if (offset === from.byteLength) {
        chunk += 1
        offset = 0
      }
    }
    sent += part.length
    to.postMessage({ task, bytes: part, total }, [part.buffer])
  }
  if (!cancelled()) to.postMessage({ task, end: true })
}

/** Read one large message (its text, or its UTF-8 bytes in pieces) on the reader thread. */
export function readOffThread(data: string | readonly Uint8Array[]): OffThreadRead {
  clearTimeout(idleTimer)
  if (worker !== undefined && workerReducers !== reducers.length && pending.size === 0) {
    // Reducers registered since it started: a new one with all of them.
    void worker.terminate()
    worker = undefined
  }
  worker ??= startWorker()
  const task = nextTask++
  const done = new Promise<OffThreadResult>((resolve) => pending.set(task, { batches: [], resolve }))
  const owner = worker
  if (typeof data === 'string') owner.postMessage({ task, text: data })
  else void postBytes(owner, task, data, () => !pending.has(task) || worker !== owner)
  return {
    done,
    cancel: () => {
      if (!pending.delete(task)) return
      if (worker !== owner) return
      if (pending.size === 0) {
        // Nothing else to read: end the worker rather than wait for it to reach the cancel (it
        // may be inside a long JSON.parse); the next large message starts a new one.
        worker = undefined
        void owner.terminate()
        return
      }
      owner.postMessage({ cancel: task })
    },
  }
}

/** Large messages being read right now, across all clients (tests, status). */
export const readsInFlight = (): number => pending.size

/** Whether the reader thread is running (tests: it ends after READER_IDLE_MS without work). */
export const readerRunning = (): boolean => worker !== undefined
