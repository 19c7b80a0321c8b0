/**
 * Watches one target: keeps an inspector session open (reconnecting with
 * capped exponential backoff and jitter), runs the collectors on a fixed
 * period with at most one poll in flight, and keeps the latest samples and a
 * status for the exporters and the API.
 *
 * A reconnect to the same process keeps every per-target state; a new process
 * behind the endpoint (pid or start time changed) resets it.
 *
 * With shared poll slots (`pollSlots`), a due poll first queues for a slot; it
 * counts as in flight meanwhile, so the ticks that come due while it waits are
 * skipped rather than piled up, and it is dropped unrun if the target
 * disconnects before its turn.
 */
import { z } from 'zod'
import { isAgentCollector, type AgentCollector, type Collector, type FloorPoint, type GcEvent, type Sample } from '../collectors/types.js'
import { checkReply } from '../collectors/reply.js'
import type { TargetConfig } from '../config-types.js'
import {
  AgentMissingError,
  MalformedReplyError,
  SessionClosedError,
  TimeoutError,
  UnavailableError,
  errorCode,
  errorMessage,
} from '../errors.js'
import { installAgentSnippet, readSnippet, type AgentPart } from '../inspector/snippets.js'
import type { PollExtension } from '../leak/target-analysis.js'
import type { InspectorEndpoint, TargetSession } from '../inspector/session.js'
import type { PollLimiter, PollSlotStats, Release } from './concurrency.js'

export interface MonitorSession extends TargetSession {
  readonly isClosed: boolean
  onClose(listener: () => void): void
  close(): Promise<void>
}

export type OpenSession = (endpoint: InspectorEndpoint, timeoutMs: number) => Promise<MonitorSession>

export interface MonitorListener {
  /** GC events read since the previous poll (after a restart, those of the new process). */
  onGcEvents?(target: string, events: readonly GcEvent[]): void
  /** Post-major-GC heap floors read since the previous poll. */
  onFloors?(target: string, floors: readonly FloorPoint[]): void
  /** A new process now answers behind the endpoint: per-target analysis must start over. */
  onRestart?(target: string): void
  /** A poll finished (successfully or not). */
  onPoll?(target: string): void
}

export interface Logger {
  info(object: object, message: string): void
  warn(object: object, message: string): void
  debug(object: object, message: string): void
}

export interface MonitorOptions {
  readonly target: TargetConfig
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly collectors: ReadonlyArray<Collector<any>>
  readonly openSession: OpenSession
  readonly reconnect: { readonly minDelayMs: number; readonly maxDelayMs: number }
  readonly logger: Logger
  readonly listener?: MonitorListener
  /** Work run after each successful poll in the same slot (leak analysis, profiling). */
  readonly extension?: PollExtension
  /** Injectable for tests of the backoff; defaults to Math.random. */
  readonly random?: () => number
  /** Poll slots shared with the other targets' monitors; polls are not limited without it. */
  readonly pollSlots?: PollLimiter
  /** Sampling period of the event-loop delay histogram the agent installs (default 100 ms). */
  readonly eventLoopResolutionMs?: number
}

export type TargetPhase = 'idle' | 'connecting' | 'connected' | 'backoff' | 'stopped'

/** The target's poll in flight: none, queued for a poll slot, or talking to the target. */
export type PollState = 'idle' | 'waiting' | 'running'

export interface ProcessIdentity {
  readonly pid: number
  readonly startTime: number
  readonly nodeVersion: string
}

export interface ErrorInfo {
  readonly code: string
  readonly message: string
  readonly at: string
}

export interface CollectorStatus {
  readonly name: string
  readonly description: string
  readonly enabled: boolean
  /** False when the target lacks what the collector needs (until the next connect). */
  readonly available: boolean
  /** Outcome of the latest run; null before the first. */
  readonly success: boolean | null
  readonly durationMs: number | null
  readonly errors: number
  readonly lastError: ErrorInfo | null
}

export interface TargetStatus {
  readonly name: string
  readonly endpoint: string
  readonly phase: TargetPhase
  readonly connected: boolean
  readonly up: boolean
  readonly process: ProcessIdentity | null
  readonly lastError: ErrorInfo | null
  readonly lastPollAt: string | null
  readonly lastPollDurationMs: number | null
  readonly nextRetryAt: string | null
  readonly intervalMs: number
  readonly connects: number
  readonly connectFailures: number
  readonly restarts: number
  readonly polls: number
  readonly pollsSkipped: number
  /** This target's poll in flight, if any, and since when (queued or running). */
  readonly pollState: PollState
  readonly pollSince: string | null
  /** Most polls of this target ever in flight at once: 1 once polled (they never overlap). */
  readonly maxPollsInFlight: number
  /** How long the latest poll waited for a poll slot (null before the first). */
  readonly lastPollWaitMs: number | null
  /** Time this target's polls spent waiting for poll slots, in total. */
  readonly pollWaitMsTotal: number
  /** The poll slots shared by all targets (null when polls are not limited). */
  readonly pollSlots: PollSlotStats | null
  readonly collectors: readonly CollectorStatus[]
  /** The latest failure of the poll extension (analysis, profiling), cleared by its next success. */
  readonly extensionError: ErrorInfo | null
}

const AgentReply = z.object({
  fresh: z.boolean(),
  pid: z.number().int().positive(),
  startTime: z.number().positive(),
  nodeVersion: z.string(),
  gcObserver: z.boolean(),
  eventLoopDelay: z.boolean(),
  v8: z.boolean(),
  eventLoopResolutionMs: z.number().positive(),
})

/** What the agent's batched read returns: each part's reply and its time in the target. */
const AgentReadReply = z.object({
  parts: z.record(z.string(), z.unknown()),
  tookMs: z.record(z.string(), z.number().nonnegative()),
})
type AgentReadReply = z.infer<typeof AgentReadReply>

interface CollectorRecord {
  available: boolean
  success: boolean | null
  durationMs: number | null
  errors: number
  lastError: ErrorInfo | null
  state: unknown
  samples: readonly Sample[]
}

/** Delay before reconnect attempt `attempt` (0-based): capped exponential, "equal jitter". */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

const errorInfo = (error: unknown): ErrorInfo => ({
  code: errorCode(error),
  message: errorMessage(error),
  at: new Date().toISOString(),
})

/** Errors after which the session cannot be trusted: drop it and reconnect. */
const breaksSession = (error: unknown): boolean => error instanceof TimeoutError || error instanceof SessionClosedError

export class TargetMonitor {
  readonly name: string
  private readonly options: MonitorOptions
  private readonly random: () => number
  private phase: TargetPhase = 'idle'
  private session: MonitorSession | undefined
  private identity: ProcessIdentity | undefined
  private pollTimer: NodeJS.Timeout | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private nextRetryAt: number | undefined
  private attempt = 0
  private inFlight: Promise<void> | undefined
  /** Aborts the in-flight poll's wait for a slot (disconnect, stop). */
  private pollAbort: AbortController | undefined
  private pollState: PollState = 'idle'
  /** performance.now() and Date.now() when the poll in flight was queued. */
  private pollQueuedAt: { perf: number; wall: number } | undefined
  private pollsInFlight = 0
  private maxPollsInFlight = 0
  private lastPollWaitMs: number | undefined
  private pollWaitMsTotal = 0
  private up = false
  private lastError: ErrorInfo | null = null
  private lastPollAt: number | undefined
  private lastPollDurationMs: number | undefined
  private connects = 0
  private connectFailures = 0
  private restarts = 0
  private polls = 0
  private pollsSkipped = 0
  private readonly records = new Map<string, CollectorRecord>()
  private extensionError: ErrorInfo | null = null
  private extensionRuns = 0
  private extensionErrors = 0

  constructor(options: MonitorOptions) {
    this.options = options
    this.name = options.target.name
    this.random = options.random ?? Math.random
    for (const collector of options.collectors) this.records.set(collector.name, this.freshRecord())
  }

  start(): void {
    if (this.phase !== 'idle') return
    this.pollTimer = setInterval(() => this.tick(), this.options.target.intervalMs)
    this.pollTimer.unref()
    void this.connect()
  }

  async stop(): Promise<void> {
    this.phase = 'stopped'
    clearInterval(this.pollTimer)
    clearTimeout(this.retryTimer)
    this.pollAbort?.abort()
    await this.inFlight
    // Detach before closing so the last values stay for the exporters' final flush.
    const session = this.session
    this.session = undefined
    this.up = false
    await session?.close()
  }

  /** Resolves when the current poll (if any) has finished. For tests and shutdown. */
  async idle(): Promise<void> {
    await this.inFlight
  }

  status(): TargetStatus {
    const { target } = this.options
    return {
      name: this.name,
      endpoint: `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`,
      phase: this.phase,
      connected: this.phase === 'connected',
      up: this.up,
      process: this.identity ?? null,
      lastError: this.lastError,
      lastPollAt: this.lastPollAt === undefined ? null : new Date(this.lastPollAt).toISOString(),
      lastPollDurationMs: this.lastPollDurationMs ?? null,
      nextRetryAt:
        this.phase === 'backoff' && this.nextRetryAt !== undefined ? new Date(this.nextRetryAt).toISOString() : null,
      intervalMs: target.intervalMs,
      connects: this.connects,
      connectFailures: this.connectFailures,
      restarts: this.restarts,
      polls: this.polls,
      pollsSkipped: this.pollsSkipped,
      pollState: this.pollState,
      pollSince: this.pollQueuedAt === undefined ? null : new Date(this.pollQueuedAt.wall).toISOString(),
      maxPollsInFlight: this.maxPollsInFlight,
      lastPollWaitMs: this.lastPollWaitMs ?? null,
      pollWaitMsTotal: this.pollWaitMsTotal,
      pollSlots: this.options.pollSlots?.stats() ?? null,
      extensionError: this.extensionError,
      collectors: this.options.collectors.map((collector) => {
        const record = this.record(collector.name)
        return {
          name: collector.name,
          description: collector.description,
          enabled: this.enabled(collector),
          available: record.available,
          success: record.success,
          durationMs: record.durationMs,
          errors: record.errors,
          lastError: record.lastError,
        }
      }),
    }
  }

  /** The latest samples of every collector plus the monitor's own, unlabeled by target. */
  samples(): Sample[] {
    const out: Sample[] = [
      { key: 'targetUp', value: this.up ? 1 : 0 },
      { key: 'targetConnects', value: this.connects },
      { key: 'targetConnectFailures', value: this.connectFailures },
      { key: 'targetRestarts', value: this.restarts },
      { key: 'targetPolls', value: this.polls },
      { key: 'targetPollsSkipped', value: this.pollsSkipped },
    ]
    if (this.lastPollAt !== undefined) out.push({ key: 'targetLastPoll', value: this.lastPollAt / 1000 })
    if (this.options.pollSlots !== undefined) {
      // While a poll is queued, how long so far: a starved target shows before its turn comes.
      const queuedAt = this.pollState === 'waiting' ? this.pollQueuedAt : undefined
      const queueMs = queuedAt !== undefined ? performance.now() - queuedAt.perf : this.lastPollWaitMs
      if (queueMs !== undefined) out.push({ key: 'pollQueue', value: queueMs / 1000 })
      out.push({ key: 'pollQueueTotal', value: this.pollWaitMsTotal / 1000 })
    }
    for (const collector of this.options.collectors) {
      if (!this.enabled(collector)) continue
      const record = this.record(collector.name)
      const labels = { collector: collector.name }
      out.push({ key: 'collectorAvailable', labels, value: record.available ? 1 : 0 })
      out.push({ key: 'collectorErrors', labels, value: record.errors })
      if (record.available && record.success !== null) {
        out.push({ key: 'collectorSuccess', labels, value: record.success ? 1 : 0 })
      }
      if (record.durationMs !== null) out.push({ key: 'collectorDuration', labels, value: record.durationMs / 1000 })
      out.push(...record.samples)
    }
    if (this.options.extension !== undefined) {
      if (this.extensionRuns > 0) out.push({ key: 'analysisSuccess', value: this.extensionError === null ? 1 : 0 })
      out.push({ key: 'analysisErrors', value: this.extensionErrors }, ...this.options.extension.samples())
    }
    return out
  }

  private freshRecord(): CollectorRecord {
    return { available: true, success: null, durationMs: null, errors: 0, lastError: null, state: undefined, samples: [] }
  }

  private record(name: string): CollectorRecord {
    const record = this.records.get(name)
    /* c8 ignore next */
    if (record === undefined) throw new Error(`no record for collector ${name}`)
    return record
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private enabled(collector: Collector<any>): boolean {
    return !this.options.target.disabledCollectors.includes(collector.name)
  }

  private async connect(): Promise<void> {
    if (this.phase === 'stopped') return
    this.phase = 'connecting'
    const { target } = this.options
    let session: MonitorSession | undefined
    try {
      session = await this.options.openSession({ host: target.host, port: target.port }, target.timeoutMs)
      const identity = await this.installAgent(session)
      if (this.phase !== 'connecting') {
        // Stopped while connecting.
        await session.close()
        return
      }
      this.adopt(identity)
      this.session = session
      this.connects += 1
      this.attempt = 0
      this.phase = 'connected'
      this.lastError = null
      for (const record of this.records.values()) record.available = true
      const connected = session
      session.onClose(() => this.handleDisconnect(connected, new SessionClosedError('target closed the inspector session')))
      this.options.logger.info({ target: this.name, pid: identity.pid }, 'connected to target')
      this.tick()
    } catch (error) {
      await session?.close()
      this.connectFailures += 1
      this.lastError = errorInfo(error)
      this.up = false
      this.options.logger.debug({ target: this.name, err: this.lastError }, 'connect failed')
      this.scheduleReconnect()
    }
  }

  private async installAgent(session: MonitorSession): Promise<ProcessIdentity> {
    const reply = checkReply('agent install', AgentReply, await session.evaluate(installAgentSnippet(this.options.eventLoopResolutionMs), this.options.target.timeoutMs))
    return { pid: reply.pid, startTime: reply.startTime, nodeVersion: reply.nodeVersion }
  }

  /** Tell a reconnect (same process) from a restart (new process) and reset state on the latter. */
  private adopt(identity: ProcessIdentity): void {
    const previous = this.identity
    this.identity = identity
    if (previous === undefined || (previous.pid === identity.pid && previous.startTime === identity.startTime)) return
    this.restarts += 1
    for (const [name, record] of this.records) {
      this.records.set(name, { ...this.freshRecord(), errors: record.errors })
    }
    this.options.logger.info({ target: this.name, pid: identity.pid, previousPid: previous.pid }, 'target restarted')
    this.options.extension?.onRestart()
    this.options.listener?.onRestart?.(this.name)
  }

  private scheduleReconnect(): void {
    if (this.phase === 'stopped') return
    this.phase = 'backoff'
    const { minDelayMs, maxDelayMs } = this.options.reconnect
    const delay = backoffDelay(this.attempt, minDelayMs, maxDelayMs, this.random)
    this.attempt += 1
    this.nextRetryAt = Date.now() + delay
    this.retryTimer = setTimeout(() => void this.connect(), delay)
    this.retryTimer.unref()
  }

  private handleDisconnect(session: MonitorSession, reason: unknown): void {
    if (this.session !== session) return
    this.session = undefined
    void session.close()
    this.up = false
    this.lastError = errorInfo(reason)
    // A poll still queued for a slot would only find the session gone.
    this.pollAbort?.abort()
    this.options.extension?.onDisconnect()
    // Values of a disconnected target are not current any more; `up` says why they are gone.
    for (const record of this.records.values()) record.samples = []
    if (this.phase === 'stopped') return
    this.options.logger.warn({ target: this.name, err: this.lastError }, 'lost target')
    this.scheduleReconnect()
  }

  private tick(): void {
    if (this.phase === 'stopped') return
    if (this.inFlight !== undefined || this.session === undefined) {
      if (this.phase === 'connected' || this.inFlight !== undefined) this.pollsSkipped += 1
      return
    }
    const session = this.session
    const abort = new AbortController()
    this.pollAbort = abort
    this.inFlight = this.queuedPoll(session, abort.signal).finally(() => {
      this.inFlight = undefined
      if (this.pollAbort === abort) this.pollAbort = undefined
      this.options.listener?.onPoll?.(this.name)
    })
  }

  /** Wait for a poll slot (if slots are shared), then poll; the slot is held for the whole poll. */
  private async queuedPoll(session: MonitorSession, signal: AbortSignal): Promise<void> {
    this.pollsInFlight += 1
    this.maxPollsInFlight = Math.max(this.maxPollsInFlight, this.pollsInFlight)
    const queuedAt = { perf: performance.now(), wall: Date.now() }
    this.pollQueuedAt = queuedAt
    this.pollState = 'waiting'
    const slots = this.options.pollSlots
    let release: Release | undefined
    try {
      release = slots === undefined ? undefined : await slots.acquire(signal)
      const waited = performance.now() - queuedAt.perf
      this.pollWaitMsTotal += waited
      if ((slots !== undefined && release === undefined) || this.session !== session || this.phase === 'stopped') {
        // Disconnected or stopped while queued: nothing was asked of the target.
        this.pollsSkipped += 1
        return
      }
      this.lastPollWaitMs = waited
      this.pollState = 'running'
      await this.poll(session)
    } finally {
      release?.()
      this.pollsInFlight -= 1
      this.pollState = 'idle'
      this.pollQueuedAt = undefined
    }
  }

  private async poll(session: MonitorSession): Promise<void> {
    const { target, listener } = this.options
    const started = performance.now()
    this.polls += 1
    let brokenBy: unknown
    let anySuccess = false
    const pollSamples: Sample[] = []
    const pollFloors: FloorPoint[] = []
    // A newer session (a reconnect, maybe to a new process) owns the records and the analysis
    // now: what this poll still has to say about the old one must not land in them.
    const superseded = (): boolean => this.session !== undefined && this.session !== session
    const runnable = this.options.collectors.filter((collector) => this.enabled(collector) && this.record(collector.name).available)
    // Every agent part in one evaluation, sent when the first agent collector's turn comes: one
    // call in flight to a target at a time, so a slow target never has calls piling up.
    let batch: Promise<AgentReadReply> | undefined
    const agentCollectors = runnable.filter(isAgentCollector)
    let agentReinstalled = false
    for (const collector of runnable) {
      if (superseded()) return
      const record = this.record(collector.name)
      if (brokenBy !== undefined) {
        record.success = false
        record.samples = []
        continue
      }
      const collectorStarted = performance.now()
      let inTargetMs: number | undefined
      try {
        let raw: unknown
        if (isAgentCollector(collector)) {
          batch ??= this.readAgentParts(session, agentCollectors, target.timeoutMs)
          const reply = await batch
          if (!(collector.part in reply.parts)) throw new MalformedReplyError('agent read', `no reply for ${collector.part}`)
          raw = reply.parts[collector.part]
          inTargetMs = reply.tookMs[collector.part]
        } else {
          raw = await collector.fetch(session, record.state, target.timeoutMs)
        }
        const parseStarted = performance.now()
        const output = collector.parse(raw, record.state, Date.now())
        // A part's cost is its time in the target plus its parse here; the round trip is the poll's.
        if (inTargetMs !== undefined) inTargetMs += performance.now() - parseStarted
        record.state = output.state
        record.samples = output.samples
        record.success = true
        anySuccess = true
        pollSamples.push(...output.samples)
        if (output.floors !== undefined) pollFloors.push(...output.floors)
        if (output.gcEvents !== undefined && output.gcEvents.length > 0) listener?.onGcEvents?.(this.name, output.gcEvents)
        if (output.floors !== undefined && output.floors.length > 0) listener?.onFloors?.(this.name, output.floors)
      } catch (error) {
        record.samples = []
        if (error instanceof UnavailableError) {
          record.available = false
          record.lastError = errorInfo(error)
          this.options.logger.info({ target: this.name, collector: collector.name, reason: error.message }, 'collector unavailable')
        } else {
          record.success = false
          record.errors += 1
          record.lastError = errorInfo(error)
          this.options.logger.debug({ target: this.name, collector: collector.name, err: record.lastError }, 'collector failed')
          if (error instanceof AgentMissingError && !agentReinstalled) {
            agentReinstalled = true
            await this.reinstallAgent(session)
          }
          if (breaksSession(error)) brokenBy = error
        }
      }
      record.durationMs = inTargetMs ?? performance.now() - collectorStarted
    }
    if (superseded()) return
    const extension = this.options.extension
    if (extension !== undefined && brokenBy === undefined && anySuccess && this.identity !== undefined) {
      try {
        await extension.afterPoll(session, {
          nowMs: Date.now(),
          samples: pollSamples,
          floors: pollFloors,
          processStartMs: this.identity.startTime,
          pid: this.identity.pid,
        })
        this.extensionError = null
        this.extensionRuns += 1
      } catch (error) {
        this.extensionRuns += 1
        this.extensionErrors += 1
        this.extensionError = errorInfo(error)
        this.options.logger.debug({ target: this.name, err: this.extensionError }, 'analysis step failed')
        if (breaksSession(error)) brokenBy = error
      }
    }
    if (superseded()) return
    this.lastPollAt = Date.now()
    this.lastPollDurationMs = performance.now() - started
    this.up = brokenBy === undefined && anySuccess && !session.isClosed
    // A call that timed out leaves a reply pending inside the client forever; dropping the
    // session releases it and bounds memory while a target is stopped.
    if (brokenBy !== undefined) this.handleDisconnect(session, brokenBy)
  }

  /** One evaluation asking the agent for the parts of every agent collector of this poll. */
  private async readAgentParts(
    session: MonitorSession,
    collectors: ReadonlyArray<AgentCollector<unknown>>,
    timeoutMs: number,
  ): Promise<AgentReadReply> {
    const ask: Partial<Record<AgentPart, number>> = {}
    for (const collector of collectors) ask[collector.part] = collector.argument?.(this.record(collector.name).state) ?? 0
    return checkReply('agent read', AgentReadReply, await session.evaluate(readSnippet(ask), timeoutMs))
  }

  private async reinstallAgent(session: MonitorSession): Promise<void> {
    try {
      const identity = await this.installAgent(session)
      this.adopt(identity)
    } catch (error) {
      this.lastError = errorInfo(error)
    }
  }
}
