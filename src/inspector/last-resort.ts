/**
 * The process-level last resort for errors that escape a target session.
 *
 * The session layer (client.ts) checks every message a target sends before the inspector
 * client acts on it, so a hostile target should only ever cost its own session. Should
 * something still slip through — a message shape nobody thought of, a future
 * chrome-remote-interface or ws — Node.js would end the whole sidecar, and every other target
 * with it, on one target's say-so. This handler keeps serving in that case only, and exits
 * as Node.js would otherwise:
 *
 * Kept serving (logged with the stack, rate-limited):
 * - a `ProtocolError` or `CommandError`: made only from what a target sent;
 * - an error thrown by code of chrome-remote-interface or ws themselves (the innermost stack
 *   frame that is not Node.js's own is in one of those packages): in leakwatch that code only
 *   runs on a target's input. The inspector sessions time out and reconnect by themselves.
 *
 * Exit 1 (logged with the stack): everything else — a TypeError in leakwatch's own code, also
 * one thrown by a listener the client calls (its innermost frame is leakwatch's), a failed
 * assertion, an error without a stack. A real bug is never taken for a target's doing:
 * when in doubt it is a bug. (A caller passing bad arguments into those libraries would be
 * taken for a target's doing: such calls are few, all in session.ts and client.ts.)
 */
import { CommandError, ProtocolError, errorCode } from '../core/errors.js'
import { clipTargetText } from './limits.js'

/** Packages whose code, in leakwatch, runs only on what a target sends. */
const TARGET_IO_CODE = /[\\/]node_modules[\\/](?:chrome-remote-interface|ws)[\\/]/

/** The file of the innermost stack frame that is not Node.js's own (`node:…`, native, eval). */
export function throwSite(error: unknown): string | undefined {
  if (!(error instanceof Error) || typeof error.stack !== 'string') return undefined
  // The stack opens with "Name: message": lines of the message (which may carry a target's
  // text) are not frames, however much they look like them.
  const messageLines = String(error.message).split('\n').length
  for (const line of error.stack.split('\n').slice(messageLines)) {
    const frame = /^\s+at (?:.*? \()?(.+?)(?::\d+:\d+)?\)?$/.exec(line)
    if (frame === null) continue
    const location = frame[1]!
    if (location.startsWith('node:') || location === 'native' || location.startsWith('<anonymous>') || !/[\\/]/.test(location)) {
      continue
    }
    return location
  }
  return undefined
}

/** Whether an error that escaped to the process is known to come from a target session. */
export function isTargetSessionError(error: unknown): boolean {
  if (error instanceof ProtocolError || error instanceof CommandError) return true
  const site = throwSite(error)
  return site !== undefined && TARGET_IO_CODE.test(site)
}

export interface LastResortOptions {
  /** Where the lines go (stderr by default). */
  readonly log?: (line: string) => void
  /** How to exit (process.exit by default). */
  readonly exit?: (code: number) => void
  /** Most lines logged per minute for kept-serving errors (a hostile target could repeat). */
  readonly maxLogsPerMinute?: number
}

const describe = (error: unknown): string =>
  error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : `non-error value: ${String(error)}`

/** Install the last resort on `proc`; returns a function that removes it. */
export function installLastResort(proc: NodeJS.Process, options: LastResortOptions = {}): () => void {
  const log = options.log ?? ((line: string) => void proc.stderr.write(line))
  const exit = options.exit ?? ((code: number) => proc.exit(code))
  const maxLogs = options.maxLogsPerMinute ?? 10
  let windowStart = 0
  let logged = 0
  let suppressed = 0
  const handle = (kind: string, error: unknown): void => {
    if (!isTargetSessionError(error)) {
      log(`leakwatch: ${kind}, exiting: ${describe(error)}\n`)
      exit(1)
      return
    }
    const now = Date.now()
    if (now - windowStart >= 60_000) {
      if (suppressed > 0) log(`leakwatch: ${suppressed} more error(s) from target sessions were not logged\n`)
      windowStart = now
      logged = 0
      suppressed = 0
    }
    if (logged >= maxLogs) {
      suppressed += 1
      return
    }
    logged += 1
    // The stack is ours or the libraries' (safe to log whole); the message may carry target text.
    const stack = error instanceof Error ? (error.stack ?? '').split('\n').slice(1, 8).join('\n') : ''
    log(`leakwatch: kept serving after an ${kind} from a target session (${errorCode(error)}): ${clipTargetText(error instanceof Error ? error.message : String(error))}\n${stack}\n`)
  }
  const onException = (error: unknown): void => handle('uncaught exception', error)
  const onRejection = (error: unknown): void => handle('unhandled rejection', error)
  proc.on('uncaughtException', onException)
  proc.on('unhandledRejection', onRejection)
  return () => {
    proc.off('uncaughtException', onException)
    proc.off('unhandledRejection', onRejection)
  }
}
