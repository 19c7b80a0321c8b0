/**
 * Helpers for the holder-search tests: a session wrapper that records every
 * protocol call (and checks that calls never overlap), and a session that
 * replays a recorded transcript.
 */
import type { TargetSession } from '../../src/inspector/session.js'
import { ADD_SCOPES_FUNCTION, INSTALL_HOLDER_WALKER } from '../../src/holders/walker.js'
import { describeHolder } from '../../src/holders/report.js'
import { searchHolders } from '../../src/holders/search.js'
import type { Holder, HolderSearchDone, HolderSearchOptions } from '../../src/holders/types.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { spawnTarget, type SpawnedTarget } from '../helpers/targets.js'
import type { Test } from 'tap'

export interface RecordedCall {
  readonly method: string
  readonly params: Record<string, unknown>
  readonly reply?: unknown
  readonly error?: string
}

/** Long fixed sources are stored by name in transcripts. */
export function normalizeParams(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...params }
  if (out.expression === INSTALL_HOLDER_WALKER) out.expression = '<INSTALL_HOLDER_WALKER>'
  if (out.functionDeclaration === ADD_SCOPES_FUNCTION) out.functionDeclaration = '<ADD_SCOPES_FUNCTION>'
  return out
}

/** Wraps a session: records calls, counts the most calls ever in flight at once. */
export class RecordingSession implements TargetSession {
  readonly calls: RecordedCall[] = []
  maxInFlight = 0
  /** Methods sent while another call was in flight. */
  readonly overlapping = new Set<string>()
  private inFlight = 0
  constructor(private readonly inner: TargetSession) {}

  async evaluate(expression: string, timeoutMs: number): Promise<unknown> {
    return this.track('Runtime.evaluate(by value)', { expression }, () => this.inner.evaluate(expression, timeoutMs))
  }

  async send(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    return this.track(method, params, () => this.inner.send(method, params, timeoutMs))
  }

  get onEvent(): TargetSession['onEvent'] {
    const inner = this.inner
    return inner.onEvent === undefined ? undefined : (method, listener) => inner.onEvent!(method, listener)
  }

  private async track(method: string, params: Record<string, unknown>, run: () => Promise<unknown>): Promise<unknown> {
    this.inFlight += 1
    if (this.inFlight > 1) this.overlapping.add(method)
    if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight
    try {
      const reply = await run()
      this.calls.push({ method, params: normalizeParams(params), reply })
      return reply
    } catch (error) {
      this.calls.push({ method, params: normalizeParams(params), error: String(error) })
      throw error
    } finally {
      this.inFlight -= 1
    }
  }

  methods(): Set<string> {
    return new Set(this.calls.map((c) => c.method))
  }
}

/** Answers each call with the next recorded reply; a call that differs from the transcript fails. */
export class ReplaySession implements TargetSession {
  private next = 0
  constructor(private readonly transcript: readonly RecordedCall[]) {}

  get remaining(): number {
    return this.transcript.length - this.next
  }

  async evaluate(expression: string): Promise<unknown> {
    return this.answer('Runtime.evaluate(by value)', { expression })
  }

  async send(method: string, params: Record<string, unknown>): Promise<unknown> {
    return this.answer(method, params)
  }

  private answer(method: string, params: Record<string, unknown>): unknown {
    const call = this.transcript[this.next]
    if (call === undefined) throw new Error(`replay: no recorded call left for ${method}`)
    this.next += 1
    const got = JSON.stringify(normalizeParams(params))
    const want = JSON.stringify(call.params)
    if (call.method !== method || got !== want) {
      throw new Error(`replay: call ${this.next} was ${method} ${got.slice(0, 200)}, recorded ${call.method} ${want.slice(0, 200)}`)
    }
    if (call.error !== undefined) throw new Error(call.error)
    return call.reply
  }
}


/** A fixture program under test/fixtures/holders, spawned with the inspector and a session open. */
export async function openFixture(
  t: Test,
  name: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<{ target: SpawnedTarget; session: InspectorSession }> {
  const script = name.endsWith('.mjs') || name.endsWith('.js') ? name : `${name}/main.js`
  const target = await spawnTarget(t, { script: `test/fixtures/holders/${script}`, env, nodeArgs })
  const session = await InspectorSession.open({ host: '127.0.0.1', port: target.port }, 5000)
  t.teardown(() => session.close())
  return { target, session }
}

export async function search(session: TargetSession, options: HolderSearchOptions = {}, previous?: HolderSearchDone): Promise<HolderSearchDone> {
  const result = await searchHolders(session, options, previous)
  if (result.status !== 'done') throw new Error(`search refused: ${result.message}`)
  return result
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Searches again (at least `spacingMs` after the previous search) until a holder matches,
 * at most `timeoutMs`; resolves with the last search and the holder (undefined on timeout).
 */
export async function searchUntil(
  session: TargetSession,
  first: HolderSearchDone,
  match: (h: Holder) => boolean,
  { timeoutMs = 15_000, spacingMs = 1000, options = {} as HolderSearchOptions } = {},
): Promise<{ last: HolderSearchDone; holder: Holder | undefined; searches: number }> {
  const deadline = Date.now() + timeoutMs
  let last = first
  let searches = 1
  for (;;) {
    const wait = last.at + spacingMs - Date.now()
    if (wait > 0) await pause(wait)
    last = await search(session, options, last)
    searches += 1
    const holder = last.holders.find(match)
    if (holder !== undefined || Date.now() > deadline) return { last, holder, searches }
  }
}

/**
 * Searches `count` more times, `spacingMs` apart; every result. `options`: for every search, or
 * by its index (0 for the first); `beforeEach`: run right before each search (a forced GC).
 */
export async function searchSeries(
  session: TargetSession,
  count: number,
  spacingMs: number,
  options: HolderSearchOptions | ((index: number) => HolderSearchOptions) = {},
  beforeEach?: () => Promise<unknown>,
): Promise<HolderSearchDone[]> {
  const optionsAt = typeof options === 'function' ? options : (): HolderSearchOptions => options
  const out: HolderSearchDone[] = []
  for (let i = 0; i <= count; i++) {
    const previous = out[out.length - 1]
    const wait = previous === undefined ? 0 : previous.at + spacingMs - Date.now()
    if (wait > 0) await pause(wait)
    await beforeEach?.()
    out.push(await search(session, optionsAt(i), previous))
  }
  return out
}

/** The uploads fixture's Map of uploads in progress (test/fixtures/holders/uploads). */
export const isUploads = (h: Holder): boolean => /^uploads \(Map, .*uploads\/main\.js\)$/.test(h.path.join(' → '))

/** The holder each search reported that `match` picks, in order (searches that reported none left out). */
export function reportedEach(results: readonly HolderSearchDone[], match: (h: Holder) => boolean): Holder[] {
  return results.map((r) => r.holders.find(match)).filter((h) => h !== undefined)
}

/** `sizes 70, 79; stayers -, 7/62 (5.2 s)`: a holder's sizes and stayers (count/departures, the bar) over searches. */
export function sizesAndStayers(holders: readonly Holder[]): string {
  const stayers = holders.map((h) => (h.stayers !== undefined ? `${h.stayers.count}/${h.stayers.departures} (${h.stayers.longestGoneSeconds} s)` : '-'))
  return `sizes ${holders.map((h) => h.size).join(', ')}; stayers ${stayers.join(', ')}`
}

/** Each search called nothing growing (one assertion a search, named by `label` and its number). */
export function nothingGrowing(t: Test, results: readonly HolderSearchDone[], label = ''): void {
  for (const [i, r] of results.entries()) {
    t.same(r.holders.filter((h) => h.growing).map(describeHolder), [], `${label}search ${i + 1}: nothing growing`)
  }
}
