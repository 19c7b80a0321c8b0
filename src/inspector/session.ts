/**
 * One inspector session to one Node.js process.
 *
 * chrome-remote-interface has no per-command timeout, so every call here is
 * raced against one; a stopped target (SIGSTOP) simply never answers. The
 * websocket URL changes on every target restart, so it is looked up through
 * `/json/list` on every connect rather than remembered.
 *
 * Only the domains leakwatch needs are used: Runtime (evaluate of our own fixed
 * snippets, getHeapUsage) and later HeapProfiler. Never Debugger: it can pause
 * the target.
 *
 * A target is watched, not trusted. The client (client.ts) connects only to the
 * endpoint's own host and port and checks every message: a target that breaks the
 * protocol loses its session (closed with a `ProtocolError`, every call in flight
 * failed with it, `onClose` listeners told), nothing more. Text from a target is
 * kept clipped (limits.ts).
 */
import http from 'node:http'
import {
  CommandError,
  ConnectError,
  EvaluateError,
  LeakwatchError,
  ProtocolError,
  SessionClosedError,
  TimeoutError,
} from '../core/errors.js'
import { ChromeCommandError, PROTOCOL_FAILURE, connectClient, withTimeout, type GuardedClient, type InspectorEndpoint } from './client.js'
import { MAX_LIST_BYTES, clipTargetText } from './limits.js'

export { withTimeout, type InspectorEndpoint } from './client.js'

export interface InspectorTargetDescription {
  readonly id: string
  readonly title: string
  readonly url: string
  readonly webSocketDebuggerUrl: string
}

/** What collectors may do with a target. Kept small so a fake or a second target kind can implement it. */
export interface TargetSession {
  /** Evaluate one of leakwatch's fixed snippets and return its value (`returnByValue`). */
  evaluate(expression: string, timeoutMs: number): Promise<unknown>
  /** Send a raw protocol command. */
  send(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown>
  /** Listen to one protocol event (its params are the target's: validate them); returns the unsubscribe. */
  onEvent?(method: string, listener: (params: unknown) => void): () => void
}

/** The `/json/list` URL of an endpoint; refuses a host or port that would not make one. */
function endpointUrl(endpoint: InspectorEndpoint, path: string): string {
  const host = endpoint.host.includes(':') && !endpoint.host.startsWith('[') ? `[${endpoint.host}]` : endpoint.host
  const url = `http://${host}:${endpoint.port}${path}`
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  // The configuration vets hosts; this only keeps a bad caller from building another URL.
  if (
    parsed === undefined ||
    !Number.isInteger(endpoint.port) ||
    endpoint.port < 1 ||
    endpoint.port > 65535 ||
    parsed.pathname !== path ||
    parsed.port !== (endpoint.port === 80 ? '' : String(endpoint.port)) ||
    parsed.username !== '' ||
    parsed.password !== ''
  ) {
    throw new ConnectError(`not an inspector endpoint: ${JSON.stringify(clipTargetText(`${endpoint.host}:${endpoint.port}`))}`)
  }
  return url
}

/**
 * GET a small JSON document with a hard deadline on the whole exchange (a peer that dribbles
 * its answer byte by byte is cut off at the same deadline) and a cap on its size. Redirects
 * are not followed: anything but 200 is refused.
 */
function getJson(url: string, timeoutMs: number): Promise<unknown> {
  // node:http rather than fetch: fetch with AbortSignal.timeout retains ~0.5 KB per call on
  // Node 20 (measured), which adds up over thousands of reconnect attempts.
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      if (response.statusCode !== 200) {
        response.resume()
        reject(new ConnectError(`${url} answered HTTP ${response.statusCode}`))
        return
      }
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        body += chunk
        if (body.length > MAX_LIST_BYTES) request.destroy(new ConnectError(`${url} sent more than ${MAX_LIST_BYTES} bytes`))
      })
      response.on('end', () => {
        try {
          resolve(JSON.parse(body))
        } catch {
          reject(new ConnectError(`${url} did not return JSON`))
        }
      })
      response.on('error', reject)
    })
    const timer = setTimeout(() => request.destroy(new TimeoutError(`GET ${url}`, timeoutMs)), timeoutMs)
    timer.unref()
    request.on('close', () => clearTimeout(timer))
    request.on('error', (error: Error) => {
      clearTimeout(timer)
      if (error instanceof ConnectError || error instanceof TimeoutError) reject(error)
      else reject(new ConnectError(`cannot reach inspector at ${url}: ${error.message}`, { cause: error }))
    })
  })
}

/** List the inspector targets behind an endpoint (`GET /json/list`). */
export async function listTargets(
  endpoint: InspectorEndpoint,
  timeoutMs: number,
): Promise<InspectorTargetDescription[]> {
  const url = endpointUrl(endpoint, '/json/list')
  const body = await getJson(url, timeoutMs)
  if (!Array.isArray(body)) throw new ConnectError(`${url} did not return a JSON array`)
  const targets: InspectorTargetDescription[] = []
  for (const entry of body as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue
    const { id, title, url: targetUrl, webSocketDebuggerUrl } = entry as Record<string, unknown>
    if (typeof id !== 'string' || typeof webSocketDebuggerUrl !== 'string') continue
    // Every field is the target's text: kept clipped. A websocket URL too long to keep whole is
    // kept clipped too, which `open` then refuses (it is not a plain URL any more).
    targets.push({
      id: clipTargetText(id),
      title: typeof title === 'string' ? clipTargetText(title) : '',
      url: typeof targetUrl === 'string' ? clipTargetText(targetUrl) : '',
      webSocketDebuggerUrl: clipTargetText(webSocketDebuggerUrl),
    })
  }
  return targets
}

interface RemoteObject {
  type?: string
  value?: unknown
  description?: unknown
}

interface EvaluateReply {
  result?: RemoteObject
  exceptionDetails?: { text?: unknown; exception?: RemoteObject }
}

const isObject = <T extends object>(value: unknown): value is T => typeof value === 'object' && value !== null

/** V8's answer to an evaluation it ended at the `timeout` it was given. */
const TERMINATED = 'Execution was terminated'

/** A call in flight: failed at once, with the reason, when the session closes. */
interface PendingCall {
  readonly method: string
  readonly reject: (error: unknown) => void
}

/** The first line of a target's text, clipped (without splitting all of a huge text into lines). */
function firstLine(text: unknown): string {
  const whole = typeof text === 'string' ? text : String(text)
  const end = whole.indexOf('\n')
  return clipTargetText(end === -1 ? whole : whole.slice(0, end))
}

export class InspectorSession implements TargetSession {
  readonly description: InspectorTargetDescription
  private readonly client: GuardedClient
  private closed = false
  private reason: LeakwatchError | undefined
  private readonly pending = new Set<PendingCall>()
  /**
   * Calls that timed out here but have not been answered by the target: still running there
   * (an evaluation the target has not finished or terminated). Nothing more is sent meanwhile.
   */
  private readonly unanswered = new Set<{ readonly method: string }>()
  private readonly closeListeners: Array<(reason: LeakwatchError) => void> = []

  private constructor(client: GuardedClient, description: InspectorTargetDescription) {
    this.client = client
    this.description = description
    client.on('disconnect', () => this.markClosed(client.protocolFailure ?? new SessionClosedError('target closed the inspector session')))
    client.on(PROTOCOL_FAILURE, (error: ProtocolError) => this.markClosed(error))
    // The target may have broken the protocol between the handshake and now.
    if (client.protocolFailure !== undefined) this.markClosed(client.protocolFailure)
  }

  /**
   * Discover the target's websocket through `/json/list` and connect to it. The websocket URL
   * must be `ws:` on the endpoint's own host and port (see `checkWebSocketUrl`).
   */
  static async open(endpoint: InspectorEndpoint, timeoutMs: number): Promise<InspectorSession> {
    const targets = await listTargets(endpoint, timeoutMs)
    const target = targets[0]
    if (target === undefined) {
      throw new ConnectError(`inspector at ${clipTargetText(`${endpoint.host}:${endpoint.port}`)} lists no target`)
    }
    let client: GuardedClient
    try {
      client = await connectClient(target.webSocketDebuggerUrl, endpoint, timeoutMs)
    } catch (error) {
      if (error instanceof TimeoutError || error instanceof ConnectError) throw error
      throw new ConnectError(
        `cannot open inspector websocket ${target.webSocketDebuggerUrl}: ${clipTargetText(String(error))}`,
        { cause: error },
      )
    }
    const session = new InspectorSession(client, target)
    // A Node process does not finish exiting while a client is attached ("Waiting for the
    // debugger to disconnect..."): ask to be told, and let go at once, so watching a pod
    // never stretches its termination.
    client.on('event', (message: { method?: string }) => {
      if (message.method === 'NodeRuntime.waitingForDisconnect') void session.close()
    })
    try {
      await session.send('NodeRuntime.notifyWhenWaitingForDisconnect', { enabled: true }, timeoutMs)
    } catch (error) {
      // Older Node versions lack the NodeRuntime domain; only a dead session is fatal here.
      if (session.isClosed || error instanceof TimeoutError) {
        const reason = session.closeReason
        await session.close()
        throw reason instanceof ProtocolError ? reason : error
      }
    }
    return session
  }

  get isClosed(): boolean {
    return this.closed
  }

  /**
   * Why the session closed (undefined while open): a `ProtocolError` when the target broke
   * the protocol, else a `SessionClosedError` (the target went away, or leakwatch closed it).
   */
  get closeReason(): LeakwatchError | undefined {
    return this.reason
  }

  /** Calls `listener` with the close reason once the session closes (at once if it is closed). */
  onClose(listener: (reason: LeakwatchError) => void): void {
    if (this.closed) listener(this.reason!)
    else this.closeListeners.push(listener)
  }

  onEvent(method: string, listener: (params: unknown) => void): () => void {
    // GuardedClient has checked the message's framing; the params are still the target's.
    const handler = (params: unknown): void => listener(params)
    this.client.on(method, handler)
    return () => void this.client.removeListener(method, handler)
  }

  async send(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.closed) throw new SessionClosedError(`inspector session closed (${this.reason?.code ?? 'closed'}) before ${method}`)
    // A target still busy with an earlier call would only queue this one behind it (and run it
    // when it gets to it): refuse, as a timeout, which drops the session in the monitor.
    const busyWith = this.unanswered.values().next().value
    if (busyWith !== undefined) {
      throw new TimeoutError(method, timeoutMs, `${method} not sent: an earlier ${busyWith.method} timed out and is still pending in the target`)
    }
    // The typed overloads of chrome-remote-interface only know Chrome's protocol; Node's own
    // domains (NodeWorker, NodeTracing) are sent untyped.
    const send = this.client.send as unknown as (method: string, params: object) => Promise<unknown>
    let entry: PendingCall | undefined
    let answered: Promise<unknown> | undefined
    const call = new Promise<unknown>((resolve, reject) => {
      entry = { method, reject }
      this.pending.add(entry)
      answered = send.call(this.client, method, params)
      answered.then(resolve, reject)
    })
    try {
      return await withTimeout(call, timeoutMs, method)
    } catch (error) {
      if (error instanceof TimeoutError && !this.closed && answered !== undefined) {
        const stalled = { method }
        this.unanswered.add(stalled)
        const settle = (): void => void this.unanswered.delete(stalled)
        answered.then(settle, settle)
      }
      if (error instanceof LeakwatchError) throw error
      if (error instanceof ChromeCommandError) {
        // V8 ended the evaluation at its `timeout` (a few ms before ours fired): the same timeout.
        if (error.message === TERMINATED) throw new TimeoutError(method, timeoutMs, `${method} ran out of its ${timeoutMs} ms in the target and was terminated`)
        // The target answered with a protocol error (e.g. a method it lacks): its text, clipped.
        throw new CommandError(clipTargetText(error.message))
      }
      // chrome-remote-interface fails the calls in flight with a plain "WebSocket connection
      // closed" when the target goes away (killed, inspector closed): say what it means.
      if (this.closed) throw new SessionClosedError(`inspector session closed during ${method}`)
      throw error
    } finally {
      this.pending.delete(entry!)
    }
  }

  async evaluate(expression: string, timeoutMs: number): Promise<unknown> {
    const reply = (await this.send(
      'Runtime.evaluate',
      {
        expression,
        returnByValue: true,
        silent: true,
        // Also ends a runaway evaluation inside the target.
        timeout: timeoutMs,
      },
      timeoutMs,
    )) as EvaluateReply
    if (reply.exceptionDetails !== undefined) {
      // The reply is the target's: any of these may be missing or of another type.
      const details: EvaluateReply['exceptionDetails'] = isObject(reply.exceptionDetails) ? reply.exceptionDetails : {}
      const exception: RemoteObject = isObject(details?.exception) ? details.exception : {}
      const detail = exception.description ?? details?.text ?? 'exception'
      throw new EvaluateError(`snippet threw in target: ${firstLine(detail)}`)
    }
    return reply.result?.value
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.markClosed(new SessionClosedError('inspector session closed by leakwatch'))
    try {
      await withTimeout(this.client.close(), 1000, 'websocket close')
    } catch {
      // The target may already be gone; nothing else to release.
    }
  }

  private markClosed(reason: LeakwatchError): void {
    if (this.closed) return
    this.closed = true
    this.reason = reason
    // Every call in flight fails now: with the protocol violation itself, or as closed.
    for (const call of [...this.pending]) {
      call.reject(reason instanceof ProtocolError ? reason : new SessionClosedError(`inspector session closed during ${call.method}`))
    }
    this.pending.clear()
    for (const listener of this.closeListeners.splice(0)) listener(reason)
  }
}
