/**
 * Drives V8's sampling heap profiler in one target.
 *
 * Sampling itself costs about nothing; reading it (`getSamplingProfile`)
 * forces a major GC, a stop-the-world pause that grows with the heap (~20 ms
 * at 12 MB, ~1 s at 340 MB), and serializes the profile in the target. The
 * target's CPU during a fetch (all threads: the GC's parallel markers, the
 * serialization) is several times the pause (measured 126–195 ms of CPU for a
 * ~25 ms pause), so the cost of a fetch is the larger of its wall time and the
 * target's CPU time while it ran. Fetches follow an overhead budget: after a
 * fetch that cost C, the next waits at least C / budget (0.2 % → 500·C), with
 * a faster budget while a floor trends up. Forced GCs that buy heap floors
 * are paid the same way from an account of their own (the floor budget).
 *
 * There is one sampling profiler per isolate. If another client (DevTools, an
 * in-process profiler) stops it, leakwatch reports that and does not restart
 * it until its next connect, rather than fight over it.
 */
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import type { AttributionConfig } from '../config/types.js'
import { LeakwatchError, MalformedReplyError, errorMessage } from '../core/errors.js'
import { replyNote, replyReadMs } from '../inspector/client.js'
import { registerReplyReducer } from '../inspector/parse-pool.js'
import type { TargetSession } from '../inspector/session.js'
import { READ_CPU_USAGE } from '../inspector/snippets.js'
import { keepProfile, type KeptProfile, type KeptProfileStats } from './kept-profile.js'
import type { HeapProfile } from './pprof.js'
import type { KeptProfileNote } from './profile-reducer.js'
import { runInSlices } from './slices.js'

// A profile that arrives as a large message is kept on the inspector's reader thread (see
// profile-reducer.ts): .js from dist/, .ts under a TypeScript loader.
registerReplyReducer(new URL(`./profile-reducer${extname(fileURLToPath(import.meta.url))}`, import.meta.url))

/** The copy the reader thread kept of the reply's profile, if it did. */
function keptOffThread(reply: object): KeptProfile | undefined {
  const note = replyNote(reply) as KeptProfileNote | undefined
  return note === undefined ? undefined : { profile: (reply as { profile: HeapProfile }).profile, stats: note.keptProfile }
}

export type ProfilerState = 'idle' | 'sampling' | 'interrupted' | 'failed'

export interface ProfileFetch {
  /** What is kept of the target's profile: a checked copy within PROFILE_LIMITS (kept-profile.ts). */
  readonly profile: HeapProfile
  /** How much of the target's profile was kept, and what was left out. */
  readonly kept: KeptProfileStats
  readonly timeMs: number
  /** Wall time of the fetch as seen from here: the forced GC plus the transfer (an upper bound of the pause). */
  readonly pauseMs: number
  /**
   * The target's CPU time (user + system, every thread) while the fetch ran; undefined when it
   * could not be read. Includes whatever else the target did meanwhile: an upper bound.
   */
  readonly cpuMs: number | undefined
  /** What the budget is charged: the larger of the pause and the CPU time. */
  readonly costMs: number
  /** Heap used right after the fetch's forced GC: an exact floor. */
  readonly floorBytes: number | undefined
}

/** Delay before the next fetch may run, given the last fetch's cost and the budget in force. */
export function fetchDelayMs(lastCostMs: number, budget: number, minIntervalMs: number): number {
  return Math.max(minIntervalMs, budget > 0 ? lastCostMs / budget : Number.POSITIVE_INFINITY)
}

/**
 * Whether a fetch is due at a poll. Fetches can only happen at polls, so a
 * delay that ends between two polls is rounded to the nearer one: without
 * this, a 30 s delay with 15 s polls would land at 45 s whenever a poll came a
 * millisecond early. On average the budget still holds.
 */
export function fetchDue(elapsedMs: number, delayMs: number, pollIntervalMs: number): boolean {
  return elapsedMs + pollIntervalMs / 2 >= delayMs
}

const CpuUsage = z.object({ user: z.number().nonnegative(), system: z.number().nonnegative() })

/** V8's words when nobody (any more) runs the sampling profiler. */
const NOT_STARTED = /not started/i

/** A fetch reads the whole profile after a forced GC: allow more than a cheap call. */
const MIN_FETCH_TIMEOUT_MS = 10_000

/** The sidecar's own GCs remembered to tell them from V8's (`causedGc`): a few polls' worth. */
const OWN_GC_MEMORY = 8
/**
 * How far from one of the sidecar's own GCs, as the sidecar's clock saw it, a GC the target's
 * observer timed may lie and still be that GC: both are one host's wall clock (the observer's time
 * is the target's performance.timeOrigin plus its monotonic clock), apart only by what the wall
 * clock was stepped or slewed since the target started. A remote target's clock may be further
 * off: its own GCs are then counted as V8's, as before.
 */
const OWN_GC_SLACK_MS = 100

export class ProfilerController {
  private readonly config: AttributionConfig
  private readonly timeoutMs: number
  private state: ProfilerState = 'idle'
  private samplingSinceMs: number | undefined
  private lastFetchAtMs: number | undefined
  private readonly pollIntervalMs: number
  private lastPauseMs = 0
  private pauseTotalMs = 0
  private lastCostMs = 0
  private cpuTotalMs = 0
  private fetches = 0
  private interruptions = 0
  /** Profiles of which a limit left part out (PROFILE_LIMITS). */
  private truncatedProfiles = 0
  private lastKept: KeptProfileStats | null = null
  /** Major GCs forced to buy a heap floor (starved floors), and their pauses. */
  private forcedGcs = 0
  private forcedGcPauseMs = 0
  /** When the last paid step (a fetch or a holder search) ran: both share the profile budget. */
  private lastPaidAtMs: number | undefined
  /** When the last floor was bought and what it cost: the floor budget's own account. */
  private lastFloorAtMs: number | undefined
  private lastFloorCostMs = 0
  /** When the sidecar's own GCs ran, the sidecar's wall clock (from the poll to the reply): see `causedGc`. */
  private readonly ownGcs: Array<{ fromMs: number; toMs: number }> = []
  private lastError: string | null = null

  /** @param pollIntervalMs how often `step` runs (the target's poll interval); 0 means no rounding */
  constructor(config: AttributionConfig, timeoutMs: number, pollIntervalMs = 0) {
    this.config = config
    this.timeoutMs = timeoutMs
    this.pollIntervalMs = pollIntervalMs
  }

  /**
   * One scheduling step, run at the end of a poll. Starts sampling when the
   * mode asks for it, fetches when the budget allows. `onSamplingStarted` runs
   * when a new sampling session begins (earlier site series are then not comparable).
   */
  async step(
    session: TargetSession,
    nowMs: number,
    suspicious: boolean,
    onSamplingStarted: () => void,
    /** Another paid step (a holder search) is due: no read at this poll, it takes the budget first. */
    yieldTurn = false,
  ): Promise<ProfileFetch | undefined> {
    const { mode } = this.config
    if (mode === 'off' || this.state === 'interrupted' || this.state === 'failed') return undefined
    const wanted = mode === 'always' || suspicious
    if (this.state === 'idle') {
      if (!wanted) return undefined
      try {
        await session.send('HeapProfiler.startSampling', { samplingInterval: this.config.samplingIntervalBytes }, this.timeoutMs)
      } catch (error) {
        this.lastError = errorMessage(error)
        if (!(error instanceof LeakwatchError)) this.state = 'failed'
        throw error
      }
      this.state = 'sampling'
      this.samplingSinceMs = nowMs
      this.lastFetchAtMs = undefined
      onSamplingStarted()
      return undefined
    }
    if (!wanted || yieldTurn || !this.due(nowMs, suspicious)) return undefined
    return this.fetch(session, nowMs)
  }

  /** The session closed: V8 stops a sampling profiler when the session that started it goes. */
  onDisconnect(): void {
    this.state = 'idle'
    this.samplingSinceMs = undefined
  }

  /** A new process: start over, including the interruption that blocked restarts. */
  reset(): void {
    this.onDisconnect()
    this.lastFetchAtMs = undefined
    this.lastPaidAtMs = undefined
    this.lastFloorAtMs = undefined
    this.lastFloorCostMs = 0
    this.ownGcs.length = 0
    this.lastError = null
  }

  /**
   * Whether a major GC the target's GC observer timed at `timeMs` (its end, wall clock) was one of
   * the sidecar's own: a bought floor's forced GC or a profile read's. The observer reports them
   * like V8's own, a poll later; counted so, a target whose heap V8 never collected on its own showed
   * two "gc" floors for every bought one (tempos/gateway-route-stats-leak at 60×: 47 "gc" floors
   * in 3.5 simulated hours, every one within 20 ms of a forced GC or a profile read).
   */
  causedGc(timeMs: number): boolean {
    return this.ownGcs.some((gc) => timeMs >= gc.fromMs - OWN_GC_SLACK_MS && timeMs <= gc.toMs + OWN_GC_SLACK_MS)
  }

  /** A GC of the sidecar's own ran between the poll at `nowMs` and now. */
  private noteOwnGc(nowMs: number): void {
    this.ownGcs.push({ fromMs: nowMs, toMs: Math.max(nowMs, Date.now()) })
    if (this.ownGcs.length > OWN_GC_MEMORY) this.ownGcs.shift()
  }

  status(): {
    mode: AttributionConfig['mode']
    state: ProfilerState
    samplingSince: string | null
    fetches: number
    interruptions: number
    lastFetchAt: string | null
    lastPauseMs: number
    pauseTotalMs: number
    lastCostMs: number
    cpuTotalMs: number
    forcedGcs: number
    forcedGcPauseMs: number
    truncatedProfiles: number
    lastProfile: KeptProfileStats | null
    lastError: string | null
  } {
    return {
      mode: this.config.mode,
      state: this.state,
      samplingSince: this.samplingSinceMs === undefined ? null : new Date(this.samplingSinceMs).toISOString(),
      fetches: this.fetches,
      interruptions: this.interruptions,
      lastFetchAt: this.lastFetchAtMs === undefined ? null : new Date(this.lastFetchAtMs).toISOString(),
      lastPauseMs: this.lastPauseMs,
      pauseTotalMs: this.pauseTotalMs,
      lastCostMs: this.lastCostMs,
      cpuTotalMs: this.cpuTotalMs,
      forcedGcs: this.forcedGcs,
      forcedGcPauseMs: this.forcedGcPauseMs,
      truncatedProfiles: this.truncatedProfiles,
      lastProfile: this.lastKept,
      lastError: this.lastError,
    }
  }

  get running(): boolean {
    return this.state === 'sampling'
  }

  get counters(): {
    fetches: number
    interruptions: number
    pauseTotalMs: number
    lastPauseMs: number
    cpuTotalMs: number
    lastCostMs: number
    forcedGcs: number
    forcedGcPauseMs: number
    truncatedProfiles: number
  } {
    return {
      fetches: this.fetches,
      interruptions: this.interruptions,
      pauseTotalMs: this.pauseTotalMs,
      lastPauseMs: this.lastPauseMs,
      cpuTotalMs: this.cpuTotalMs,
      lastCostMs: this.lastCostMs,
      forcedGcs: this.forcedGcs,
      forcedGcPauseMs: this.forcedGcPauseMs,
      truncatedProfiles: this.truncatedProfiles,
    }
  }

  /**
   * Another paid step (a holder search) cost `costMs` at `nowMs`: it shares the profile budget, so
   * the next profile read waits for it as for a fetch (bought floors have their own account).
   */
  charge(nowMs: number, costMs: number): void {
    this.lastPaidAtMs = nowMs
    this.lastCostMs = costMs
  }

  /** When the latest profile read ran (ms), or undefined. */
  lastReadAtMs(): number | undefined {
    return this.lastFetchAtMs
  }

  /** When the suspicion budget has paid for the last paid step (no minimum interval): the earliest next one. */
  budgetFreeAtMs(): number {
    if (this.lastPaidAtMs === undefined) return Number.NEGATIVE_INFINITY
    const budget = this.config.suspicionBudget
    return this.lastPaidAtMs + fetchDelayMs(this.lastCostMs, budget, 0)
  }

  /**
   * Buy an exact heap floor: a forced major GC (HeapProfiler.collectGarbage), then the heap
   * used. For a heap floor that rises but is starved of points (major GCs get rare exactly
   * when a heap leak is fast). Floors are paid from an account of their own, the floor budget:
   * after a floor that cost C, the next waits C / floorBudget (and at least the minimum fetch
   * interval). Sharing the profile budget's account, as before, kept floors behind every profile
   * read's and holder search's bill: a search (~300 ms of target CPU at 1 %: 30 s, half an hour at
   * 60x) left a filling cache's floor unmeasured for 25 simulated minutes
   * (corpus-traffic/new-tenant-step), and the floors' own bills held the reads back. Floors do not
   * wait for the other account, nor it for them. Undefined when not due, or when the GC could
   * not be forced.
   */
  async buyFloor(session: TargetSession, nowMs: number): Promise<{ bytes: number; pauseMs: number } | undefined> {
    const { floorBudget, minFetchIntervalMs } = this.config
    if (this.lastFloorAtMs !== undefined && !fetchDue(nowMs - this.lastFloorAtMs, fetchDelayMs(this.lastFloorCostMs, floorBudget, minFetchIntervalMs), this.pollIntervalMs)) {
      return undefined
    }
    const cpuBefore = await this.cpuTimeMs(session)
    const started = performance.now()
    await session.send('HeapProfiler.collectGarbage', {}, Math.max(this.timeoutMs, MIN_FETCH_TIMEOUT_MS))
    const pauseMs = performance.now() - started
    this.noteOwnGc(nowMs)
    const cpuMs = await this.cpuSinceMs(session, cpuBefore)
    this.lastFloorCostMs = Math.max(pauseMs, cpuMs ?? 0)
    this.lastFloorAtMs = nowMs
    this.forcedGcs += 1
    this.forcedGcPauseMs += pauseMs
    if (cpuMs !== undefined) this.cpuTotalMs += cpuMs
    const usage = (await session.send('Runtime.getHeapUsage', {}, this.timeoutMs)) as { usedSize?: unknown }
    return typeof usage.usedSize === 'number' && Number.isFinite(usage.usedSize) ? { bytes: usage.usedSize, pauseMs } : undefined
  }

  private due(nowMs: number, suspicious: boolean): boolean {
    const budget = suspicious ? this.config.suspicionBudget : this.config.budget
    const since = Math.max(this.lastFetchAtMs ?? this.samplingSinceMs ?? nowMs, this.lastPaidAtMs ?? Number.NEGATIVE_INFINITY)
    return fetchDue(nowMs - since, fetchDelayMs(this.lastCostMs, budget, this.config.minFetchIntervalMs), this.pollIntervalMs)
  }

  /** The target's CPU time since `cpuBefore` (a `cpuTimeMs` reading), or undefined when either cannot be read. */
  private async cpuSinceMs(session: TargetSession, cpuBefore: number | undefined): Promise<number | undefined> {
    if (cpuBefore === undefined) return undefined
    const cpuAfter = await this.cpuTimeMs(session)
    return cpuAfter !== undefined && cpuAfter >= cpuBefore ? cpuAfter - cpuBefore : undefined
  }

  /** The target's process CPU time in ms, or undefined when it cannot be read. */
  private async cpuTimeMs(session: TargetSession): Promise<number | undefined> {
    try {
      const usage = CpuUsage.safeParse(await session.evaluate(READ_CPU_USAGE, this.timeoutMs))
      return usage.success ? (usage.data.user + usage.data.system) / 1000 : undefined
    } catch {
      return undefined
    }
  }

  private async fetch(session: TargetSession, nowMs: number): Promise<ProfileFetch | undefined> {
    const cpuBefore = await this.cpuTimeMs(session)
    const started = performance.now()
    let reply: { profile?: HeapProfile }
    try {
      reply = (await session.send(
        'HeapProfiler.getSamplingProfile',
        {},
        Math.max(this.timeoutMs, MIN_FETCH_TIMEOUT_MS),
      )) as { profile?: HeapProfile }
    } catch (error) {
      this.lastError = errorMessage(error)
      if (NOT_STARTED.test(this.lastError)) {
        // Someone else stopped the one profiler of this isolate.
        this.state = 'interrupted'
        this.interruptions += 1
        this.lastError = 'the sampling heap profiler was stopped by another client (DevTools or an in-process profiler); not restarting it until the next connect'
        return undefined
      }
      throw error
    }
    // getSamplingProfile collects garbage first: the observer sees that major GC too.
    this.noteOwnGc(nowMs)
    // A large reply is read (and kept) on the reader thread: the sidecar's time, not the target's.
    const pauseMs = Math.max(0, performance.now() - started - (replyReadMs(reply) ?? 0))
    const cpuMs = await this.cpuSinceMs(session, cpuBefore)
    const costMs = Math.max(pauseMs, cpuMs ?? 0)
    this.lastPauseMs = pauseMs
    this.pauseTotalMs += pauseMs
    this.lastCostMs = costMs
    if (cpuMs !== undefined) this.cpuTotalMs += cpuMs
    this.fetches += 1
    this.lastFetchAtMs = nowMs
    this.lastPaidAtMs = nowMs
    this.lastError = null
    let floorBytes: number | undefined
    try {
      const usage = (await session.send('Runtime.getHeapUsage', {}, this.timeoutMs)) as { usedSize?: unknown }
      if (typeof usage.usedSize === 'number' && Number.isFinite(usage.usedSize)) floorBytes = usage.usedSize
    } catch {
      // The floor is a bonus; the profile is what was asked for.
    }
    const profile: unknown = reply.profile
    if (typeof profile !== 'object' || profile === null || typeof (profile as { head?: unknown }).head !== 'object') {
      throw new MalformedReplyError('HeapProfiler.getSamplingProfile', 'the reply carries no profile')
    }
    // The target's profile is dropped once this bounded copy is made: on the reader thread
    // already for a large message, else here in slices (a hostile one of a million nodes takes
    // the walk a second or more).
    const kept = keptOffThread(reply) ?? (await runInSlices(keepProfile(profile)))
    this.lastKept = kept.stats
    if (kept.stats.truncated) this.truncatedProfiles += 1
    return { profile: kept.profile, kept: kept.stats, timeMs: nowMs, pauseMs, cpuMs, costMs, floorBytes }
  }
}
