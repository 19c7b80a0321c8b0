/**
 * The sidecar half of the holder search: drives the walker installed in the
 * target (walker.ts), one protocol call at a time.
 *
 *   install (idempotent) → process.cpuUsage → begin
 *   loop: open listed functions ([[Scopes]] through Runtime.getProperties, scope lists
 *         handed back with one Runtime.callFunctionOn per batch) | walk one slice
 *   finish → read the report in pages → end → releaseObjectGroup → process.cpuUsage
 *
 * Every call waits for the previous one (no parallel requests); every remote
 * object lives in an object group released after its batch and at the end;
 * the target keeps nothing of the search but the walker's WeakMaps and
 * bounded WeakRefs. Never used: the Debugger domain, queryObjects, heap
 * snapshots, forced GC.
 */
import { z } from 'zod'
import { HolderSearchError, SessionClosedError, TimeoutError } from '../core/errors.js'
import type { TargetSession } from '../inspector/session.js'
import { READ_CPU_USAGE } from '../inspector/snippets.js'
import {
  AddScopesReply,
  BeginReply,
  FinishReply,
  FunctionMeta,
  HelloReply,
  inferMainScript,
  PageReply,
  scriptFiles,
  StepReply,
  reportedHolders,
  toHolders,
  type PreviousHolder,
  type FunctionRef,
  type WalkerItem,
} from './report.js'
import { keepListed, listScripts, unnamedScripts, worthListing } from './script-list.js'
import type { HolderSearchDone, HolderSearchOptions, HolderSearchRefused, HolderSearchResult } from './types.js'
import {
  ADD_SCOPES_FUNCTION,
  beginExpression,
  END_EXPRESSION,
  FINISH_EXPRESSION,
  FN_ROLE,
  HOLDER_FN_GROUP,
  HOLDER_OBJECT_GROUP,
  INSTALL_HOLDER_WALKER,
  pageExpression,
  stepExpression,
  takeFunctionsExpression,
  type WalkerBeginOptions,
} from './walker.js'
import { checkHeadroom, visitsForHeap } from './headroom.js'
import { CHAIN_LIMITS, followChain, privateFieldsOf, type CallReply, type GetPropertiesReply, type RemoteObject } from './inspector-reads.js'

export { BYTES_PER_VISIT, checkHeadroom, HOLDER_SEARCH_HEADROOM_BYTES, MIN_VISITS, SEARCH_MEMORY_FRACTION, visitsForHeap } from './headroom.js'

export const HOLDER_SEARCH_DEFAULTS = {
  sliceMs: 8,
  yieldMs: 2,
  callTimeoutMs: 5000,
  maxWallMs: 20_000,
  /** Upper bound; the default follows the heap (visitsForHeap). */
  maxVisits: 30_000,
  /** Default: twice the visit cap. */
  maxPathNodes: 60_000,
  maxFunctions: 400,
  sample: 64,
  minSize: 16,
  maxHolders: 25,
  maxTracked: 256,
  maxStepMs: 50,
  maxListMs: 250,
} as const

/** Fixed walker parameters that callers have no reason to change. */
const FIXED = { bulkMin: 64, dictMin: 32, perCode: 4, maxModules: 5000, maxTimers: 1000, watchdogMs: 30_000 } as const

/** Time a search spends following chains of closures, all of them (ms). */
const CHAIN_SEARCH_MS = 1000

/** Functions opened per batch (one getProperties each, one callFunctionOn per batch). */
const BATCH = 16
/** Holders read per page. */
const PAGE = 20

const CpuUsage = z.object({ user: z.number().nonnegative(), system: z.number().nonnegative() })

/** Search the target for growing holders. See types.ts for what comes back. */
export async function searchHolders(
  session: TargetSession,
  options: HolderSearchOptions = {},
  previous?: HolderSearchResult,
): Promise<HolderSearchResult> {
  const refusal = checkHeadroom(options)
  if (refusal !== undefined) return refusal
  return new Search(session, options, previous).run()
}

class Search {
  private readonly session: TargetSession
  private readonly o: Required<Omit<HolderSearchOptions, 'headroomBytes' | 'requiredHeadroomBytes' | 'now' | 'scriptUrls'>>
  private readonly scriptUrls: ReadonlyMap<string, string> | undefined
  private readonly now: () => number
  private readonly previous: HolderSearchDone | undefined
  private readonly visitsSet: boolean
  private heapUsedBytes: number | undefined
  private calls = 0
  private longestCallMs = 0
  private functionsOpened = 0
  private privateOpened = 0
  private chainLinks = 0
  private chainMs = 0
  private chainsSkipped = false
  private readonly refs: FunctionRef[] = []
  private readonly scripts = new Map<string, string>()
  private readonly scriptIndex = new Map<string, number>()
  private readonly moduleScripts = new Set<string>()
  private readonly internalScripts = new Set<string>()

  constructor(session: TargetSession, options: HolderSearchOptions, previous: HolderSearchResult | undefined) {
    this.session = session
    this.o = {
      sliceMs: options.sliceMs ?? HOLDER_SEARCH_DEFAULTS.sliceMs,
      yieldMs: options.yieldMs ?? HOLDER_SEARCH_DEFAULTS.yieldMs,
      callTimeoutMs: options.callTimeoutMs ?? HOLDER_SEARCH_DEFAULTS.callTimeoutMs,
      maxWallMs: options.maxWallMs ?? HOLDER_SEARCH_DEFAULTS.maxWallMs,
      maxVisits: options.maxVisits ?? HOLDER_SEARCH_DEFAULTS.maxVisits,
      maxPathNodes: options.maxPathNodes ?? 0,
      maxFunctions: options.maxFunctions ?? HOLDER_SEARCH_DEFAULTS.maxFunctions,
      sample: options.sample ?? HOLDER_SEARCH_DEFAULTS.sample,
      minSize: options.minSize ?? HOLDER_SEARCH_DEFAULTS.minSize,
      maxHolders: options.maxHolders ?? HOLDER_SEARCH_DEFAULTS.maxHolders,
      maxTracked: options.maxTracked ?? HOLDER_SEARCH_DEFAULTS.maxTracked,
      maxStepMs: options.maxStepMs ?? HOLDER_SEARCH_DEFAULTS.maxStepMs,
      maxListMs: options.maxListMs ?? HOLDER_SEARCH_DEFAULTS.maxListMs,
    }
    this.visitsSet = options.maxVisits !== undefined
    this.now = options.now ?? Date.now
    this.scriptUrls = options.scriptUrls
    this.previous = previous?.status === 'done' ? previous : undefined
  }

  async run(): Promise<HolderSearchResult> {
    const started = this.now()
    const hello = this.parse('install holder walker', HelloReply, await this.evaluate(INSTALL_HOLDER_WALKER))
    if (!hello.ok) {
      return { status: 'refused', code: 'LW_ERR_HOLDER_SEARCH_REFUSED', reason: 'unsupported', message: `holder search unavailable: ${hello.reason}` }
    }
    if (this.previous !== undefined && this.previous.installId === hello.installId) {
      for (const [id, file] of Object.entries(this.previous.scripts)) this.scripts.set(id, file)
    }
    this.heapUsedBytes = await this.heapUsed()
    const cpuBefore = await this.cpuUsage()
    const begin = this.parse('begin holder search', BeginReply, await this.evaluate(beginExpression(this.beginOptions())))
    if (!begin.ok) {
      return {
        status: 'refused',
        code: 'LW_ERR_HOLDER_SEARCH_REFUSED',
        reason: 'busy',
        message: 'holder search refused: another holder search is running in this target',
      }
    }
    let items: WalkerItem[] = []
    let finish: z.infer<typeof FinishReply>
    const truncation: string[] = []
    try {
      let pending = begin.pendingFunctions
      let queued = begin.queued
      let capped = false
      for (;;) {
        if (this.now() - started > this.o.maxWallMs) {
          truncation.push('wall time')
          break
        }
        if (pending > 0) {
          const reply = await this.openBatch()
          if (reply === undefined) throw new HolderSearchError('the walker lost its search state (abandoned or replaced)')
          pending = reply.pending
          queued = reply.queued
          continue
        }
        if (queued > 0 && !capped) {
          // Leave the target's event loop a turn between two slices.
          if (this.o.yieldMs > 0) await new Promise((resolve) => setTimeout(resolve, this.o.yieldMs))
          const step = this.parse('holder walk step', StepReply, await this.evaluate(stepExpression(this.o.sliceMs)))
          if (!step.ok) throw new HolderSearchError('the walker lost its search state (abandoned or replaced)')
          pending = step.pendingFunctions
          queued = step.queued
          capped = step.capped
          continue
        }
        break
      }
      finish = this.parse('finish holder search', FinishReply, await this.evaluate(FINISH_EXPRESSION))
      if (!finish.ok) throw new HolderSearchError('the walker lost its search state before its report')
      for (let offset = 0; offset < finish.holders; offset += PAGE) {
        const page = this.parse('holder report page', PageReply, await this.evaluate(pageExpression(offset, PAGE)))
        if (!page.ok) throw new HolderSearchError('the walker lost its report')
        items = items.concat(page.items)
        if (page.items.length < PAGE) break
      }
    } finally {
      await this.cleanUp()
    }
    const main = inferMainScript(this.moduleScripts, this.scripts, this.scriptIndex, begin.mainFile, begin.mainIndex)
    if (main !== undefined) this.scripts.set(main, begin.mainFile)
    for (const [id, file] of scriptFiles(this.scriptUrls)) if (!this.scripts.has(id)) this.scripts.set(id, file)
    const sameInstall = this.previous !== undefined && this.previous.installId === hello.installId
    const listing = await this.nameScripts(items, sameInstall ? (this.previous?.scriptsListedUpTo ?? null) : null)
    const cpuAfter = await this.cpuUsage()
    const previous = new Map<number, PreviousHolder>()
    if (sameInstall) for (const h of this.previous!.collections) previous.set(h.id, h)
    const collections = toHolders(items, { cwd: hello.cwd, scripts: this.scripts, refs: this.refs }, previous)
    const holders = reportedHolders(collections)
    for (const why of finish.truncated) if (!truncation.includes(why)) truncation.push(why)
    if (this.chainsSkipped) truncation.push('closure chains not followed: time')
    const scripts: Record<string, string> = {}
    for (const [id, file] of this.scripts) scripts[id] = file
    return {
      status: 'done',
      at: this.now(),
      installId: hello.installId,
      firstSearch: holders.every((h) => h.growthPerSecond === null),
      holders,
      collections,
      heapUsedBytes: this.heapUsedBytes,
      cost: {
        wallMs: this.now() - started,
        longestSliceMs: finish.longestSliceMs,
        longestStepMs: finish.longestStepMs,
        longestCallMs: this.longestCallMs,
        scriptListMs: listing.ms,
        targetCpuMs:
          cpuBefore !== undefined && cpuAfter !== undefined
            ? (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1000
            : undefined,
        slices: finish.slices,
        calls: this.calls,
        objectsVisited: finish.visits,
        maxVisits: this.visitsSet ? this.o.maxVisits : visitsForHeap(this.heapUsedBytes, this.o.maxVisits),
        pathNodes: finish.nodes,
        functionsOpened: this.functionsOpened,
        privateFieldObjectsOpened: this.privateOpened,
        closureChainLinks: this.chainLinks,
        functionsNotOpened: finish.functionsNotOpened,
        sampledCollections: finish.sampledCollections,
        trackedRemeasured: finish.trackedRemeasured,
        proxiesSkipped: finish.proxies,
        hugeDictionariesSkipped: finish.hugeSkipped,
      },
      truncated: truncation.length > 0,
      truncation,
      scripts,
      scriptsListedUpTo: listing.upTo,
    }
  }

  /** Files for the scripts the paths mention that nothing named yet (script-list.ts). */
  private async nameScripts(items: readonly WalkerItem[], listedUpTo: number | null): Promise<{ upTo: number | null; ms: number | null }> {
    const unnamed = unnamedScripts(items, this.refs, this.scripts, this.internalScripts)
    if (!worthListing(unnamed, listedUpTo)) return { upTo: listedUpTo, ms: null }
    this.calls += 3
    const listing = await listScripts(this.session, this.o.callTimeoutMs)
    if (listing === undefined) return { upTo: listedUpTo, ms: null }
    keepListed(this.scripts, listing.files, unnamed)
    if (listing.ms > this.longestCallMs) this.longestCallMs = listing.ms
    return { upTo: listing.upTo, ms: listing.ms }
  }

  private beginOptions(): WalkerBeginOptions {
    const maxVisits = this.visitsSet ? this.o.maxVisits : visitsForHeap(this.heapUsedBytes, this.o.maxVisits)
    return {
      maxVisits,
      maxNodes: this.o.maxPathNodes > 0 ? this.o.maxPathNodes : 2 * maxVisits,
      maxFunctions: this.o.maxFunctions,
      sample: this.o.sample,
      minSize: this.o.minSize,
      maxStepMs: this.o.maxStepMs,
      maxListMs: this.o.maxListMs,
      maxTracked: this.o.maxTracked,
      maxHolders: this.o.maxHolders,
      ...FIXED,
    }
  }

  /** Open the next batch of listed functions and hand their scope lists to the walker. */
  private async openBatch(): Promise<{ pending: number; queued: number } | undefined> {
    try {
      const take = (await this.call('Runtime.evaluate', {
        expression: takeFunctionsExpression(BATCH),
        objectGroup: HOLDER_FN_GROUP,
        returnByValue: false,
        silent: true,
        timeout: this.o.callTimeoutMs,
      })) as CallReply
      this.checkCall('take functions', take)
      const arrayId = take.result?.objectId
      if (arrayId === undefined) return undefined
      const listed = (await this.call('Runtime.getProperties', { objectId: arrayId, ownProperties: true })) as GetPropertiesReply
      const entries = new Map<string, RemoteObject>()
      for (const p of listed.result ?? []) if (p.value !== undefined) entries.set(p.name, p.value)
      const metas: Array<Record<string, unknown>> = []
      const args: string[] = []
      const modulesInBatch = new Set<string>()
      for (let i = 0; ; i += 2) {
        const fn = entries.get(String(i))
        const metaText = entries.get(String(i + 1))
        if (fn === undefined || metaText === undefined) break
        if (fn.objectId === undefined || typeof metaText.value !== 'string') continue
        const meta = FunctionMeta.safeParse(safeJson(metaText.value))
        if (!meta.success) continue
        if (meta.data.role === FN_ROLE.private) {
          this.privateOpened += 1
          const fields: Array<[string, number]> = []
          for (const [name, objectId] of await privateFieldsOf(this.call.bind(this), fn.objectId)) fields.push([name, args.push(objectId)])
          if (fields.length > 0) metas.push({ ref: -1, node: meta.data.node, role: FN_ROLE.private, fields, scopes: -1, boundTarget: -1, boundThis: -1, boundArgs: -1 })
          continue
        }
        if (meta.data.role === FN_ROLE.chain) {
          // Every link costs the target three getProperties: a search spends at most
          // CHAIN_SEARCH_MS on chains, CHAIN_LIMITS.maxMs on one (a count in part still tells
          // growth at the next search: see followChain).
          const left = CHAIN_SEARCH_MS - this.chainMs
          if (left <= 0) {
            this.chainsSkipped = true
            continue
          }
          const t0 = this.now()
          this.chainLinks += await followChain(this.call.bind(this), fn.objectId, meta.data.node, meta.data.name, this.now, {
            ...CHAIN_LIMITS,
            maxMs: Math.min(CHAIN_LIMITS.maxMs, left),
          })
          this.chainMs += this.now() - t0
          continue
        }
        this.functionsOpened += 1
        if (process.env.LW_HOLDERS_DEBUG === '1') process.stderr.write(`open ${metaText.value}\n`)
        const props = (await this.call('Runtime.getProperties', { objectId: fn.objectId, ownProperties: true })) as GetPropertiesReply
        const internal = new Map<string, RemoteObject>()
        for (const p of props.internalProperties ?? []) if (p.value !== undefined) internal.set(p.name, p.value)
        const location = internal.get('[[FunctionLocation]]')?.value as { scriptId?: unknown; lineNumber?: unknown } | undefined
        const scriptId = typeof location?.scriptId === 'string' ? location.scriptId : ''
        const line = typeof location?.lineNumber === 'number' ? location.lineNumber : 0
        if (meta.data.role === FN_ROLE.export && scriptId !== '' && meta.data.file !== '') {
          this.scripts.set(scriptId, meta.data.file)
          this.scriptIndex.set(scriptId, meta.data.index)
        }
        const ref = this.refs.length
        this.refs.push({ scriptId, line, name: meta.data.name })
        const argIndex = (remote: RemoteObject | undefined): number => {
          if (remote?.objectId === undefined) return -1
          args.push(remote.objectId)
          return args.length // arguments[0] is the metas
        }
        const internalScript = scriptId !== '' && this.internalScripts.has(scriptId)
        const skipModule =
          scriptId !== '' && (this.moduleScripts.has(scriptId) || internalScript || modulesInBatch.has(scriptId))
        if (scriptId !== '') modulesInBatch.add(scriptId)
        metas.push({
          ref,
          script: scriptId,
          node: meta.data.node,
          role: meta.data.role,
          skipModule: skipModule ? 1 : 0,
          skipAll: internalScript ? 1 : 0,
          scopes: argIndex(internal.get('[[Scopes]]')),
          boundTarget: argIndex(internal.get('[[TargetFunction]]')),
          boundThis: argIndex(internal.get('[[BoundThis]]')),
          boundArgs: argIndex(internal.get('[[BoundArgs]]')),
        })
      }
      if (args.length === 0) {
        // Nothing to hand over (native functions only): ask how much is left with a 1 ms step.
        const step = this.parse('holder walk step', StepReply, await this.evaluate(stepExpression(1)))
        return step.ok ? { pending: step.pendingFunctions, queued: step.queued } : undefined
      }
      const added = (await this.call('Runtime.callFunctionOn', {
        objectId: args[0],
        functionDeclaration: ADD_SCOPES_FUNCTION,
        arguments: [{ value: metas }, ...args.map((objectId) => ({ objectId }))],
        returnByValue: true,
        silent: true,
      })) as CallReply
      this.checkCall('add scopes', added)
      const reply = this.parse('add scopes', AddScopesReply, added.result?.value)
      if (!reply.ok) return undefined
      for (const r of reply.modules) {
        const id = this.refs[r]?.scriptId
        if (id !== undefined && id !== '') this.moduleScripts.add(id)
      }
      for (const [r, file] of reply.files) {
        const id = this.refs[r]?.scriptId
        if (id !== undefined && id !== '' && !this.scripts.has(id)) this.scripts.set(id, file)
      }
      for (const r of reply.internal) {
        const id = this.refs[r]?.scriptId
        if (id !== undefined && id !== '') this.internalScripts.add(id)
      }
      return { pending: reply.pendingFunctions, queued: reply.queued }
    } finally {
      await this.release(HOLDER_FN_GROUP)
    }
  }

  private async cleanUp(): Promise<void> {
    try {
      await this.evaluate(END_EXPRESSION)
    } catch {
      // The watchdog in the target drops the state if this call could not reach it.
    }
    await this.release(HOLDER_OBJECT_GROUP)
    await this.release(HOLDER_FN_GROUP)
  }

  private async release(group: string): Promise<void> {
    try {
      await this.call('Runtime.releaseObjectGroup', { objectGroup: group })
    } catch (error) {
      if (error instanceof SessionClosedError) return
      // Anything else: nothing more to do; the next batch or search releases again.
    }
  }

  private async heapUsed(): Promise<number | undefined> {
    try {
      const usage = (await this.call('Runtime.getHeapUsage', {})) as { usedSize?: unknown }
      return typeof usage.usedSize === 'number' ? usage.usedSize : undefined
    } catch (error) {
      if (error instanceof SessionClosedError || error instanceof TimeoutError) throw error
      return undefined
    }
  }

  private async cpuUsage(): Promise<{ user: number; system: number } | undefined> {
    try {
      const parsed = CpuUsage.safeParse(await this.evaluate(READ_CPU_USAGE))
      return parsed.success ? parsed.data : undefined
    } catch (error) {
      if (error instanceof SessionClosedError || error instanceof TimeoutError) throw error
      return undefined
    }
  }

  /** `Runtime.evaluate` by value of one of the walker's fixed expressions. */
  private async evaluate(expression: string): Promise<unknown> {
    const reply = (await this.call('Runtime.evaluate', {
      expression,
      returnByValue: true,
      silent: true,
      objectGroup: HOLDER_OBJECT_GROUP,
      timeout: this.o.callTimeoutMs,
    })) as CallReply
    this.checkCall('holder walker', reply)
    return reply.result?.value
  }

  private async call(method: string, params: Record<string, unknown>): Promise<unknown> {
    const t0 = performance.now()
    this.calls += 1
    try {
      return await this.session.send(method, params, this.o.callTimeoutMs)
    } finally {
      const ms = performance.now() - t0
      if (ms > this.longestCallMs) this.longestCallMs = ms
    }
  }

  private checkCall(what: string, reply: CallReply): void {
    if (reply.exceptionDetails !== undefined) {
      const detail = reply.exceptionDetails.exception?.description ?? reply.exceptionDetails.text ?? 'exception'
      throw new HolderSearchError(`${what} threw in target: ${detail.split('\n')[0]?.slice(0, 200) ?? ''}`)
    }
  }

  private parse<S extends z.ZodType>(what: string, schema: S, raw: unknown): z.infer<S> {
    const result = schema.safeParse(raw)
    if (!result.success) {
      const issue = result.error.issues[0]
      throw new HolderSearchError(`${what}: malformed reply: ${issue !== undefined ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`.slice(0, 300))
    }
    return result.data
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
