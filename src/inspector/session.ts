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
 */
import { EventEmitter } from 'node:events'
import http from 'node:http'
import { createRequire } from 'node:module'
import type CDP from 'chrome-remote-interface'
import { ConnectError, EvaluateError, SessionClosedError, TimeoutError } from '../core/errors.js'

export interface InspectorEndpoint {
  readonly host: string
  readonly port: number
}

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

function endpointUrl(endpoint: InspectorEndpoint, path: string): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host
  return `http://${host}:${endpoint.port}${path}`
}

/**
 * chrome-remote-interface's client class, constructed directly rather than through `CDP()`:
 * `CDP()` hands the client out only once connected, and its websocket has no handshake
 * timeout, so a peer that accepts the connection and never answers the upgrade (not an
 * inspector, a frozen process) would keep every abandoned attempt's socket and client
 * (~300 KB with its protocol tables) forever. Holding the client lets a timed-out attempt
 * be terminated. The package is pinned to an exact version; test/faults covers this path.
 */
interface ConnectingClient extends CDP.Client {
  /** The websocket, created synchronously after the local protocol is loaded. */
  readonly _ws?: { terminate(): void }
}
type ClientClass = new (options: CDP.Options, notifier: EventEmitter) => ConnectingClient
const requirePackage = createRequire(import.meta.url)
// The package entry first: loading it prefers IPv4 in DNS lookups ("localhost" → 127.0.0.1,
// where inspectors listen), as importing `CDP()` always did here.
requirePackage('chrome-remote-interface')
const ChromeClient = requirePackage('chrome-remote-interface/lib/chrome.js') as ClientClass
if (typeof ChromeClient !== 'function') throw new Error('chrome-remote-interface/lib/chrome.js no longer exports the client class')

/** Open the websocket to one inspector target, giving up (and letting go of it) after `timeoutMs`. */
async function connectClient(webSocketUrl: string, timeoutMs: number): Promise<CDP.Client> {
  const notifier = new EventEmitter()
  const connected = new Promise<CDP.Client>((resolve, reject) => {
    notifier.once('connect', resolve)
    notifier.once('error', reject)
  })
  const client = new ChromeClient({ target: webSocketUrl, local: true }, notifier)
  try {
    return await withTimeout(connected, timeoutMs, `websocket connect to ${webSocketUrl}`)
  } catch (error) {
    // Abort the handshake if it is still pending; should it complete anyway, close it.
    client._ws?.terminate()
    connected.then((late) => late.close()).catch(() => undefined)
    throw error
  }
}

/** Largest `/json/list` body accepted: a real one is a few hundred bytes per target. */
const MAX_LIST_BYTES = 1024 * 1024

/** GET a small JSON document with a hard deadline on the whole exchange. */
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
  return body.filter(
    (entry): entry is InspectorTargetDescription =>
      typeof entry === 'object' &&
      entry !== null &&
      typeof (entry as InspectorTargetDescription).webSocketDebuggerUrl === 'string' &&
      typeof (entry as InspectorTargetDescription).id === 'string',
  )
}

interface RemoteObject {
  type?: string
  value?: unknown
  description?: string
}

interface EvaluateReply {
  result?: RemoteObject
  exceptionDetails?: { text?: string; exception?: RemoteObject }
}

export class InspectorSession implements TargetSession {
  readonly description: InspectorTargetDescription
  private readonly client: CDP.Client
  private closed = false
  private readonly closeListeners: Array<() => void> = []

  private constructor(client: CDP.Client, description: InspectorTargetDescription) {
    this.client = client
    this.description = description
    client.on('disconnect', () => this.markClosed())
  }

  /** Discover the target's websocket through `/json/list` and connect to it. */
  static async open(endpoint: InspectorEndpoint, timeoutMs: number): Promise<InspectorSession> {
    const targets = await listTargets(endpoint, timeoutMs)
    const target = targets[0]
    if (target === undefined) {
      throw new ConnectError(`inspector at ${endpoint.host}:${endpoint.port} lists no target`)
    }
    let client: CDP.Client
    try {
      client = await connectClient(target.webSocketDebuggerUrl, timeoutMs)
    } catch (error) {
      if (error instanceof TimeoutError) throw error
      throw new ConnectError(`cannot open inspector websocket ${target.webSocketDebuggerUrl}: ${String(error)}`, {
        cause: error,
      })
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
        await session.close()
        throw error
      }
    }
    return session
  }

  get isClosed(): boolean {
    return this.closed
  }

  onClose(listener: () => void): void {
    if (this.closed) listener()
    else this.closeListeners.push(listener)
  }

  async send(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.closed) throw new SessionClosedError()
    // The typed overloads of chrome-remote-interface only know Chrome's protocol; Node's own
    // domains (NodeWorker, NodeTracing) are sent untyped.
    const send = this.client.send as unknown as (method: string, params: object) => Promise<unknown>
    try {
      return await withTimeout(send.call(this.client, method, params), timeoutMs, method)
    } catch (error) {
      // chrome-remote-interface fails the calls in flight with a plain "WebSocket connection
      // closed" when the target goes away (killed, inspector closed): say what it means.
      if (this.closed && !(error instanceof TimeoutError)) {
        throw new SessionClosedError(`inspector session closed during ${method}`)
      }
      throw error
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
      const detail = reply.exceptionDetails.exception?.description ?? reply.exceptionDetails.text ?? 'exception'
      throw new EvaluateError(`snippet threw in target: ${detail.split('\n')[0]}`)
    }
    return reply.result?.value
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.markClosed()
    try {
      await withTimeout(this.client.close(), 1000, 'websocket close')
    } catch {
      // The target may already be gone; nothing else to release.
    }
  }

  private markClosed(): void {
    if (this.closed) return
    this.closed = true
    for (const listener of this.closeListeners.splice(0)) listener()
  }
}
