/**
 * The inspector client, hardened against the target on the other end.
 *
 * chrome-remote-interface (pinned: 0.34.0) trusts its peer, a browser it started itself;
 * leakwatch's peers are processes it only watches. As shipped, one message from a target
 * could crash the whole sidecar or send it elsewhere:
 * - its websocket 'message' listener runs `JSON.parse` unguarded (a throw there is uncaught);
 * - it emits every event under its method name: an event named `error` with no listener throws;
 * - reply callbacks live in a plain object: an `id` of `"__proto__"` finds Object.prototype and
 *   calls it; `null` as a message throws on `.id`;
 * - its websocket follows HTTP redirects of the upgrade (`followRedirects: true`), to any host,
 *   and accepts messages of up to 256 MiB;
 * - a target URL that is not `ws:`/`wss:` (empty, relative, `http://`) makes it list targets on
 *   its default `localhost:9222`.
 *
 * `GuardedClient` keeps the library (its command bookkeeping and protocol tables) and replaces
 * the three methods where that happens: it connects only to the URL it was given, which
 * `checkWebSocketUrl` has vetted; it builds the websocket itself (no redirects, a message size
 * limit); and it checks every message before dispatching it. A message that breaks the protocol
 * fails the calls in flight with a `ProtocolError`, tells the owner (the `PROTOCOL_FAILURE`
 * event) and drops the connection: it costs that session only.
 */
import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import { ConnectError, ProtocolError, TimeoutError } from '../core/errors.js'
import { MAX_MESSAGE_BYTES, MAX_SMALL_MESSAGE_BYTES, TARGET_TEXT_LIMIT, clipTargetText } from './limits.js'
import { readMessage } from './message.js'
import { readOffThread, type OffThreadRead, type OffThreadResult } from './parse-pool.js'
import { messageSize, takeLargeMessagesAsBytes, TextBytes } from './ws-large.js'

export interface InspectorEndpoint {
  readonly host: string
  readonly port: number
}

/** Emitted by a `GuardedClient` (with the `ProtocolError`) when its target broke the protocol. */
export const PROTOCOL_FAILURE: unique symbol = Symbol('leakwatch.protocolFailure')

type Callback = (error: unknown, response?: unknown) => void

/** The part of package `ws` (7.x, chrome-remote-interface's own copy) used here. */
interface WebSocketLike {
  readonly readyState: number
  on(event: 'open', listener: () => void): this
  on(event: 'message', listener: (data: unknown) => void): this
  on(event: 'close', listener: (code: number) => void): this
  on(event: 'error', listener: (error: Error & { code?: string }) => void): this
  terminate(): void
}
interface WebSocketOptions {
  readonly maxPayload: number
  readonly perMessageDeflate: boolean
  readonly followRedirects: boolean
}
type WebSocketClass = new (url: string, protocols: string[], options: WebSocketOptions) => WebSocketLike

/** What leakwatch uses of chrome-remote-interface's client class (lib/chrome.js). */
export interface ChromeClientBase extends EventEmitter {
  /** The `target` option: here always a vetted websocket URL. */
  readonly target: unknown
  webSocketUrl: string | undefined
  /** The websocket, created after the (local) protocol tables are loaded. */
  _ws: WebSocketLike | undefined
  /** Reply callbacks of the commands in flight, by command id. */
  _callbacks: Record<string, Callback>
  send(method: string, params?: object): Promise<unknown>
  close(): Promise<void>
  /** Sends one command and keeps its reply callback (by id) in `_callbacks`. */
  _enqueueCommand(method: string, params: object | undefined, sessionId: string | undefined, callback: Callback): void
  /** Fails every callback in flight with "WebSocket connection closed". */
  _handleConnectionClose(): void
}
interface ChromeClientOptions {
  readonly target: string
  readonly local: boolean
  readonly host: string
  readonly port: number
}
type ChromeClientClass = new (options: ChromeClientOptions, notifier: EventEmitter) => ChromeClientBase

const requirePackage = createRequire(import.meta.url)
// The package entry first: loading it prefers IPv4 in DNS lookups ("localhost" → 127.0.0.1,
// where inspectors listen), as importing `CDP()` always did here.
requirePackage('chrome-remote-interface')
const ChromeClient = requirePackage('chrome-remote-interface/lib/chrome.js') as ChromeClientClass
if (typeof ChromeClient !== 'function') throw new Error('chrome-remote-interface/lib/chrome.js no longer exports the client class')
/** chrome-remote-interface's error for a command the target answered with `error`. */
export const ChromeCommandError = (
  requirePackage('chrome-remote-interface/lib/errors.js') as { ProtocolError: new (...args: never[]) => Error }
).ProtocolError
// The websocket class chrome-remote-interface itself uses (its dependency, not leakwatch's).
const WebSocket = createRequire(requirePackage.resolve('chrome-remote-interface/lib/chrome.js'))('ws') as WebSocketClass
if (typeof WebSocket !== 'function') throw new Error('chrome-remote-interface no longer depends on a ws WebSocket class')

const has = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key)

/**
 * Commands whose reply may be larger than MAX_SMALL_MESSAGE_BYTES: a heap profile, and the
 * holder search's property lists and walker calls on objects of the target's choosing.
 */
const LARGE_REPLY_METHODS: ReadonlySet<string> = new Set(['HeapProfiler.getSamplingProfile', 'Runtime.getProperties', 'Runtime.callFunctionOn'])

export { messageProblem } from './message.js'

function endpointHostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/** The effective port of a `ws:` or `http:` URL (both default to 80). */
const urlPort = (url: URL): number => (url.port === '' ? 80 : Number(url.port))

/**
 * The one websocket URL leakwatch will connect to for `endpoint`, or a ConnectError naming
 * the refused URL (clipped). A Node.js inspector always lists its own address, as the Host
 * header of the `/json/list` request named it: so the URL must be `ws:` on the very host and
 * port the endpoint (already vetted by the configuration: loopback, or a remote host the user
 * allowed) names. Anything else — another port, another loopback address, `wss:`, `http:`, a
 * relative or empty URL, credentials — is where a process on a watched port would send the
 * sidecar, and is refused rather than followed.
 */
export function checkWebSocketUrl(url: unknown, endpoint: InspectorEndpoint): string {
  const expected = new URL(`http://${endpointHostForUrl(endpoint.host)}:${endpoint.port}/`)
  const refuse = (why: string): ConnectError =>
    new ConnectError(
      `refused inspector websocket URL ${JSON.stringify(clipTargetText(url, 120))} listed by ${expected.host}: ${why}`,
    )
  if (typeof url !== 'string') throw refuse('not a string')
  if (url.length > TARGET_TEXT_LIMIT || !/^[\x21-\x7e]+$/.test(url)) throw refuse('not a plain URL')
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw refuse('not an absolute URL')
  }
  if (parsed.protocol !== 'ws:') throw refuse('not a ws: URL')
  if (parsed.username !== '' || parsed.password !== '') throw refuse('has credentials')
  if (parsed.hostname !== expected.hostname || urlPort(parsed) !== urlPort(expected)) {
    throw refuse(`not on ${expected.host}`)
  }
  return parsed.href
}

/**
 * Most of the small messages kept waiting while a large one is read off-thread (characters):
 * a real target sends a few events meanwhile, kilobytes.
 */
const MAX_BACKLOG_CHARS = 16 * 1024 * 1024

/** What a reducer on the reader thread said of the reply results it made (see `registerReplyReducer`). */
const notes = new WeakMap<object, unknown>()

/**
 * The reader thread's note on a reply's `result` (what a reducer registered with
 * `registerReplyReducer` made of it), or undefined: a result read inline, or no reducer took it.
 * Keyed by the result object itself, so nothing a target sends can make one.
 */
export const replyNote = (result: unknown): unknown => (typeof result === 'object' && result !== null ? notes.get(result) : undefined)

/** How long the reply results read off-thread took from their arrival to their dispatch (ms). */
const readTimes = new WeakMap<object, number>()

/**
 * The time from the arrival of a reply to its dispatch (ms) when it was read off-thread: the
 * sidecar's own time, which a caller timing the target (the profiler's pause) leaves out.
 * Undefined for a reply read inline (a few ms at most).
 */
export const replyReadMs = (result: unknown): number | undefined =>
  typeof result === 'object' && result !== null ? readTimes.get(result) : undefined

/** A message from a target, after `messageProblem` found nothing wrong with it. */
interface InspectorMessage {
  readonly id?: number
  readonly result?: Record<string, unknown>
  readonly error?: { message: string; data?: string; code?: unknown }
  readonly method?: string
  readonly params?: Record<string, unknown>
  readonly sessionId?: string
}

export class GuardedClient extends ChromeClient {
  // Declared, not initialized: the base constructor already runs `_start()`, which calls the
  // overrides below before any field initializer of this class would.
  declare private failure: ProtocolError | undefined
  /** Commands in flight that may have a large reply (LARGE_REPLY_METHODS). */
  declare private largeRepliesDue: number | undefined
  /** Large messages accepted and not yet dispatched (being read off-thread or waiting): at most largeRepliesDue. */
  declare private largeAccepted: number | undefined
  /** The large message being read on the reader thread: later messages wait in `backlog`. */
  declare private reading: OffThreadRead | undefined
  /** Messages that came while one was read off-thread, in order, and the characters or bytes of the small ones. */
  declare private backlog: Array<{ readonly data: string | TextBytes; readonly arrivedAt: number }> | undefined
  declare private backlogSize: number | undefined

  /** The protocol violation that ended this client, if any. */
  get protocolFailure(): ProtocolError | undefined {
    return this.failure
  }

  /** Counts the commands in flight whose reply may be large, until their callback runs (whatever ends them). */
  override _enqueueCommand(method: string, params: object | undefined, sessionId: string | undefined, callback: Callback): void {
    if (!LARGE_REPLY_METHODS.has(method)) {
      super._enqueueCommand(method, params, sessionId, callback)
      return
    }
    this.largeRepliesDue = (this.largeRepliesDue ?? 0) + 1
    let settled = false
    super._enqueueCommand(method, params, sessionId, (error, response) => {
      if (!settled) {
        settled = true
        this.largeRepliesDue = (this.largeRepliesDue ?? 1) - 1
      }
      callback(error, response)
    })
  }

  /** Replaces chrome-remote-interface's: the target is always the vetted URL, never a lookup. */
  _fetchDebuggerURL(): Promise<string> {
    const url = this.target
    if (typeof url !== 'string' || !url.startsWith('ws://')) {
      return Promise.reject(new ConnectError('internal: GuardedClient needs a vetted ws: URL'))
    }
    return Promise.resolve(url)
  }

  /** Replaces chrome-remote-interface's: the same, with leakwatch's websocket options and checks. */
  _connectToWebSocket(): Promise<void> {
    return new Promise<void>((fulfill, reject) => {
      // The vetted URL itself, not the library's legacy url.parse/format round trip of it.
      const url = this.target as string
      this.webSocketUrl = url
      let ws: WebSocketLike
      try {
        ws = new WebSocket(url, [], {
          maxPayload: MAX_MESSAGE_BYTES,
          perMessageDeflate: false,
          // A redirect could point anywhere: an inspector never redirects.
          followRedirects: false,
        })
      } catch (error) {
        reject(error)
        return
      }
      this._ws = ws
      let open = false
      ws.on('open', () => {
        open = true
        takeLargeMessagesAsBytes(ws, MAX_SMALL_MESSAGE_BYTES, (bytes) => this.receive(bytes))
        fulfill()
      })
      ws.on('message', (data) => this.receive(data))
      ws.on('close', () => {
        this.dropBacklog()
        this._handleConnectionClose()
        this.emit('disconnect')
      })
      ws.on('error', (error) => {
        if (!open) {
          reject(error)
          return
        }
        // Once open, only the frame parser reports errors: the target broke the websocket protocol.
        this.fail(
          error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
            ? `sent a websocket message over the ${MAX_MESSAGE_BYTES / (1024 * 1024)} MiB limit`
            : `broke the websocket protocol (${clipTargetText(error.message, 120)})`,
        )
      })
    })
  }

  /**
   * Replaces chrome-remote-interface's dispatch, for messages `messageProblem` accepted: reply
   * callbacks looked up as own properties only, error texts clipped, events emitted only under
   * `Domain.event` names.
   */
  _handleMessage(message: InspectorMessage): void {
    if (message.id !== undefined) {
      const key = String(message.id)
      // A reply to no command in flight (e.g. a late one to a call that timed out) is dropped.
      if (!has(this._callbacks, key)) return
      const callback = this._callbacks[key]!
      delete this._callbacks[key]
      if (message.error !== undefined) {
        const { message: text, data, code } = message.error
        callback(true, {
          code,
          message: clipTargetText(text),
          ...(data === undefined ? {} : { data: clipTargetText(data) }),
        })
      } else {
        callback(false, message.result ?? {})
      }
      if (Object.keys(this._callbacks).length === 0) this.emit('ready')
      return
    }
    const { method, params, sessionId } = message
    this.emit('event', message)
    this.emit(method!, params, sessionId)
    this.emit(`${method!}.${sessionId}`, params, sessionId)
  }

  /**
   * One websocket message: text (a string), or a large text message as `TextBytes`. Checked at once against the size rule; then
   * dispatched in order of arrival: inline when small, through the reader thread when large
   * (while it is read, later messages wait in the backlog).
   */
  private receive(data: unknown): void {
    if (this.failure !== undefined) return
    // Node's inspector sends text frames only.
    if (typeof data !== 'string' && !(data instanceof TextBytes)) {
      this.fail('sent a binary websocket message')
      return
    }
    const message = data
    const size = messageSize(message)
    if (size > MAX_SMALL_MESSAGE_BYTES) {
      // Refused before it is parsed, which is what costs. One large message per large reply due.
      if ((this.largeRepliesDue ?? 0) <= (this.largeAccepted ?? 0)) {
        this.fail(
          `sent a message of ${(size / (1024 * 1024)).toFixed(0)} MiB while only small replies were due ` +
            `(limit ${MAX_SMALL_MESSAGE_BYTES / (1024 * 1024)} MiB except for heap profiles and object property lists)`,
        )
        return
      }
      this.largeAccepted = (this.largeAccepted ?? 0) + 1
    }
    if (this.reading === undefined) {
      this.dispatch(message, size, performance.now())
      return
    }
    if (size <= MAX_SMALL_MESSAGE_BYTES) {
      this.backlogSize = (this.backlogSize ?? 0) + size
      if (this.backlogSize > MAX_BACKLOG_CHARS) {
        this.fail(`sent over ${MAX_BACKLOG_CHARS / (1024 * 1024)} MiB of messages while a large reply was being read`)
        return
      }
    }
    ;(this.backlog ??= []).push({ data: message, arrivedAt: performance.now() })
  }

  /** Parse and dispatch one message now (small), or start reading it off-thread (large). */
  private dispatch(data: string | TextBytes, size: number, arrivedAt: number): void {
    if (size > MAX_SMALL_MESSAGE_BYTES) {
      const read = readOffThread(typeof data === 'string' ? data : data.chunks)
      this.reading = read
      read.done
        .then((result) => this.readOffThreadDone(read, result, arrivedAt))
        // Past the checks only leakwatch's own listeners throw: as uncaught as on the inline path.
        .catch((error: unknown) => process.nextTick(() => { throw error }))
      return
    }
    const read = readMessage(data as string)
    if ('problem' in read) {
      this.fail(read.problem)
      return
    }
    // Not guarded: past the checks, only leakwatch's own listeners can throw here, and a bug
    // in them must not pass for the target's fault.
    this._handleMessage(read.message as InspectorMessage)
  }

  /** A large message is read: dispatch it, then what waited for it, in order. */
  private readOffThreadDone(read: OffThreadRead, result: OffThreadResult, arrivedAt: number): void {
    if (this.reading !== read) return
    this.reading = undefined
    this.largeAccepted = (this.largeAccepted ?? 1) - 1
    if (this.failure !== undefined) return
    if ('problem' in result) {
      this.fail(result.problem)
      return
    }
    const message = result.message as InspectorMessage
    if (message.result !== undefined) {
      readTimes.set(message.result, performance.now() - arrivedAt)
      if (result.note !== undefined) notes.set(message.result, result.note)
    }
    this._handleMessage(message)
    while (this.reading === undefined && this.failure === undefined && (this.backlog?.length ?? 0) > 0) {
      const { data, arrivedAt: nextArrivedAt } = this.backlog!.shift()!
      const size = messageSize(data)
      if (size <= MAX_SMALL_MESSAGE_BYTES) this.backlogSize = (this.backlogSize ?? 0) - size
      this.dispatch(data, size, nextArrivedAt)
    }
  }

  /** The client is done (failed or closed): the message being read and those waiting are dropped. */
  private dropBacklog(): void {
    this.reading?.cancel()
    this.reading = undefined
    this.backlog = undefined
    this.backlogSize = 0
    this.largeAccepted = 0
  }

  /** The target broke the protocol: end this client and say why, once. */
  private fail(what: string): void {
    if (this.failure !== undefined) return
    const error = new ProtocolError(clipTargetText(`inspector target ${what}`))
    this.failure = error
    this.dropBacklog()
    const callbacks = this._callbacks
    this._callbacks = {}
    this._ws?.terminate()
    this.emit(PROTOCOL_FAILURE, error)
    for (const callback of Object.values(callbacks)) callback(error)
  }
}

/**
 * Open the websocket to one inspector target, giving up (and letting go of it) after
 * `timeoutMs`. The client is constructed directly rather than through `CDP()`: `CDP()` hands
 * the client out only once connected, and its websocket has no handshake timeout, so a peer
 * that accepts the connection and never answers the upgrade (not an inspector, a frozen
 * process) would keep every abandoned attempt's socket and client (~300 KB with its protocol
 * tables) forever. Holding the client lets a timed-out attempt be terminated. test/faults
 * covers this path.
 */
export async function connectClient(webSocketUrl: string, endpoint: InspectorEndpoint, timeoutMs: number): Promise<GuardedClient> {
  const url = checkWebSocketUrl(webSocketUrl, endpoint)
  const notifier = new EventEmitter()
  const connected = new Promise<GuardedClient>((resolve, reject) => {
    notifier.once('connect', resolve)
    notifier.once('error', reject)
  })
  // host and port as well: should the library ever look anything up, it is on the endpoint,
  // never on its default localhost:9222.
  const client = new GuardedClient({ target: url, local: true, host: endpoint.host, port: endpoint.port }, notifier)
  try {
    return await withTimeout(connected, timeoutMs, `websocket connect to ${url}`)
  } catch (error) {
    // Abort the handshake if it is still pending; should it complete anyway, close it.
    client._ws?.terminate()
    connected.then((late) => late.close()).catch(() => undefined)
    throw error
  }
}

/** Race a promise against a timer; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(what, timeoutMs)), timeoutMs)
    timer.unref()
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
