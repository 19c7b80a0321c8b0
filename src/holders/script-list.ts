/**
 * Name the scripts a holder's path goes through when nothing else did.
 *
 * A CommonJS module's file comes from `require.cache`, and the scripts of a heap profile name
 * the ones that allocated; an ES module that is not in a profile yet has only its script id
 * (`pending (Map, module of a function at script 99:63)`), which no developer recognises. The
 * inspector lists every script with its URL when its Debugger domain is enabled (one
 * `Debugger.scriptParsed` event per script, sent before the reply). Enabling it is not free:
 * V8 then collects the source positions of all bytecode, a walk of the heap that pauses the
 * target (measured on this machine: ~5–65 ms at 10–200 MB of heap, ~160 ms at 515 MB, ~400 ms
 * at 1 GB) and adds ~1–2 MB of RSS. So the list is asked for only when a reported path has a
 * script without a file, at most once per process unless a script compiled after the last
 * listing turns up, and its round trip is
 * reported as the search's `scriptListMs` (a pause bound, charged with the search's target CPU).
 *
 * The debugger stays enabled for the three pipelined calls only: enable, skip all pauses (a
 * `debugger;` statement or a breakpoint of another client must not stop the target meanwhile),
 * disable — and disable is sent even when the others fail.
 */
import { z } from 'zod'
import type { TargetSession } from '../inspector/session.js'
import { scriptFile, type FunctionRef, type WalkerItem } from './report.js'

const ScriptParsed = z.object({ scriptId: z.string().max(32), url: z.string().max(4096) })

export interface ScriptListing {
  /** scriptId → file, for scripts whose URL is a file. */
  readonly files: Map<string, string>
  /** The highest script id seen: a later listing is only worth it for a script above it. */
  readonly upTo: number
  /** Round trip of the three calls: bounds the pause the listing caused. */
  readonly ms: number
}

/** Script ids the items' paths and timer callbacks mention that have no file yet (Node's own scripts have none to find). */
export function unnamedScripts(
  items: readonly WalkerItem[],
  refs: readonly FunctionRef[],
  scripts: ReadonlyMap<string, string>,
  internal: ReadonlySet<string> = new Set(),
): Set<string> {
  const ids = new Set<string>()
  const add = (ref: number): void => {
    const id = refs[ref]?.scriptId
    if (id !== undefined && id !== '' && id !== '0' && !scripts.has(id) && !internal.has(id)) ids.add(id)
  }
  for (const item of items) {
    if (item.root?.type === 'module') add(item.root.ref)
    for (const step of item.steps) if (typeof step !== 'string') add(step.ref)
    for (const ref of item.callbacks ?? []) add(ref)
  }
  return ids
}

/**
 * Files kept from listings (and carried from search to search) at most, besides the ones the
 * current paths need: a process that keeps compiling scripts (`vm`, templates) must not grow
 * the sidecar's memory with every listing.
 */
export const MAX_KEPT_SCRIPTS = 5000

/**
 * Adds a listing's files to `scripts`: every one the current paths need (`unnamed`), the others
 * while `scripts` holds fewer than `max`.
 */
export function keepListed(scripts: Map<string, string>, listed: ReadonlyMap<string, string>, unnamed: ReadonlySet<string>, max = MAX_KEPT_SCRIPTS): void {
  for (const id of unnamed) {
    const file = listed.get(id)
    if (file !== undefined) scripts.set(id, file)
  }
  for (const [id, file] of listed) {
    if (scripts.size >= max) break
    if (!scripts.has(id)) scripts.set(id, file)
  }
}

/** Worth listing: some unnamed script, and either no listing yet in this process or a script compiled after it. */
export function worthListing(unnamed: ReadonlySet<string>, listedUpTo: number | null): boolean {
  if (unnamed.size === 0) return false
  if (listedUpTo === null) return true
  for (const id of unnamed) if (Number(id) > listedUpTo) return true
  return false
}

/** List the target's scripts through the Debugger domain; undefined when the session cannot (no events, no Debugger). */
export async function listScripts(session: TargetSession, timeoutMs: number): Promise<ScriptListing | undefined> {
  if (session.onEvent === undefined) return undefined
  const files = new Map<string, string>()
  let upTo = 0
  const off = session.onEvent('Debugger.scriptParsed', (params) => {
    const parsed = ScriptParsed.safeParse(params)
    if (!parsed.success) return
    const id = Number(parsed.data.scriptId)
    if (Number.isFinite(id) && id > upTo) upTo = id
    const file = parsed.data.url.startsWith('node:') ? undefined : scriptFile(parsed.data.url)
    if (file !== undefined) files.set(parsed.data.scriptId, file)
  })
  const t0 = performance.now()
  try {
    const replies = await Promise.allSettled([
      session.send('Debugger.enable', {}, timeoutMs),
      session.send('Debugger.setSkipAllPauses', { skip: true }, timeoutMs),
      session.send('Debugger.disable', {}, timeoutMs),
    ])
    const ms = performance.now() - t0
    if (replies[2].status === 'rejected') {
      // Once more; if this fails too the session is gone or stalled, and the monitor drops it
      // (a closed session disables the domain in the target).
      await session.send('Debugger.disable', {}, timeoutMs).catch(() => undefined)
    }
    return replies.every((reply) => reply.status === 'fulfilled') ? { files, upTo, ms } : undefined
  } finally {
    off()
  }
}
