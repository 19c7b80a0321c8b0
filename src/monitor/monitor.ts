/**
 * Watches one target: keeps an inspector session open (reconnecting with
 * capped exponential backoff and jitter), runs a poll on a fixed period with
 * at most one in flight, and keeps what it learns in the target's record for
 * the exporters and the API.
 *
 * A reconnect to the same process keeps every per-target state; a new process
 * behind the endpoint (pid or start time changed) resets it.
 *
 * With shared poll slots (`pollSlots`), a due poll first queues for a slot; it
 * counts as in flight meanwhile, so the ticks that come due while it waits are
 * skipped rather than piled up, and it is dropped unrun if the target
 * disconnects before its turn.
 */
import { AgentMissingError, ProtocolError, SessionClosedError, TimeoutError, UnavailableError } from '../core/errors.js'
import type { ResourceAttributes, Sample } from '../core/metrics.js'
import type { TargetConfig } from '../config/types.js'
import type { AnyCollector, FloorPoint, GcEvent } from '../collectors/types.js'
import type { TargetSession } from '../inspector/session.js'
import type { PollLimiter, Release } from './concurrency.js'
import { AgentReinstalls, MAX_REINSTALLS_PER_CONNECTION } from './agent-reinstalls.js'
import { backoffDelay, installAgent, sameProcess, type AgentInstall, type MonitorSession, type OpenSession } from './connection.js'
import { breaksSession, runPoll, type PollResult } from './poll.js'
import { errorInfo, TargetRecord, type TargetStatus } from './status.js'

export type { MonitorSession, OpenSession } from './connection.js'
export { backoffDelay } from './connection.js'
export type { CollectorStatus, ErrorInfo, PollState, ProcessIdentity, TargetPhase, TargetStatus } from './status.js'

export interface MonitorListener {
  /** GC events read by a poll (after a restart, those of the new process). */
  onGcEvents?(target: string, events: readonly GcEvent[]): void
}

export interface PollContext {
  readonly nowMs: number
  /** Samples of this poll's collectors (not the monitor's own). */
  readonly samples: readonly Sample[]
  /** Post-major-GC floors read by this poll. */
  readonly floors: readonly FloorPoint[]
  /** Process start (ms since the epoch) and pid. */
  readonly processStartMs: number
  readonly pid: number
}

/** Work run after each successful poll in the same slot (leak analysis, profiling). */
export interface PollExtension {
  afterPoll(session: TargetSession, context: PollContext): Promise<void>
  onDisconnect(): void
  onRestart(): void
  samples(): Sample[]
}

export interface Logger {
  info(object: object, message: string): void
  warn(object: object, message: string): void
  debug(object: object, message: string): void
}

export interface MonitorOptions {
  readonly target: TargetConfig
  readonly collectors: readonly AnyCollector[]
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

export class TargetMonitor {
  readonly name: string
  private readonly options: MonitorOptions
  private readonly random: () => number
  private readonly record: TargetRecord
  private readonly reinstalls: AgentReinstalls
  private session: MonitorSession | undefined
  private pollTimer: NodeJS.Timeout | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private attempt = 0
  private inFlight: Promise<void> | undefined
  /** Aborts the in-flight poll's wait for a slot (disconnect, stop). */
  private pollAbort: AbortController | undefined

  constructor(options: MonitorOptions) {
    this.options = options
    this.name = options.target.name
    this.random = options.random ?? Math.random
    this.record = new TargetRecord(options.target, options.collectors)
    this.reinstalls = new AgentReinstalls(options.target.intervalMs)
  }

  start(): void {
    if (this.record.phase !== 'idle') return
    this.pollTimer = setInterval(() => this.tick(), this.options.target.intervalMs)
    this.pollTimer.unref()
    void this.connect()
  }

  async stop(): Promise<void> {
    this.record.phase = 'stopped'
    clearInterval(this.pollTimer)
    clearTimeout(this.retryTimer)
    this.pollAbort?.abort()
    await this.inFlight
    // Detach before closing so the last values stay for the exporters' final flush.
    const session = this.session
    this.session = undefined
    this.record.up = false
    await session?.close()
  }

  /** Resolves when the current poll (if any) has finished. For tests and shutdown. */
  async idle(): Promise<void> {
    await this.inFlight
  }

  status(): TargetStatus {
    return this.record.status(this.options.pollSlots?.stats() ?? null)
  }

  /** The latest samples of every collector plus the monitor's own, unlabeled by target. */
  samples(): Sample[] {
    const extension = this.options.extension
    return this.record.samples(this.options.pollSlots !== undefined, extension === undefined ? undefined : () => extension.samples())
  }

  /** What the target said about itself for its OpenTelemetry resource (kept across a disconnect, for the final flush). */
  resource(): ResourceAttributes | undefined {
    return this.record.resource
  }

  private async connect(): Promise<void> {
    const record = this.record
    if (record.phase === 'stopped') return
    record.phase = 'connecting'
    const { target } = this.options
    let session: MonitorSession | undefined
    try {
      session = await this.options.openSession({ host: target.host, port: target.port }, target.timeoutMs)
      const install = await installAgent(session, this.options.eventLoopResolutionMs, target.timeoutMs)
      if (record.phase !== 'connecting') {
        // Stopped while connecting.
        await session.close()
        return
      }
      const previous = record.identity
      this.adopt(install)
      this.reinstalls.connected(Date.now(), install.fresh, previous !== undefined && sameProcess(previous, install.identity))
      this.session = session
      record.connects += 1
      // The backoff is not reset here but by a healthy poll: a target that accepts a session and
      // then times out every poll must not be polled again right after every reconnect.
      record.phase = 'connected'
      record.lastError = null
      for (const collector of record.collectors.values()) collector.available = true
      const connected = session
      session.onClose((reason) => this.handleDisconnect(connected, reason ?? new SessionClosedError('target closed the inspector session')))
      this.options.logger.info({ target: this.name, pid: install.identity.pid }, 'connected to target')
      this.tick()
    } catch (error) {
      await session?.close()
      record.connectFailures += 1
      record.lastError = errorInfo(error)
      if (error instanceof ProtocolError) record.protocolErrors += 1
      record.up = false
      this.options.logger.debug({ target: this.name, err: record.lastError }, 'connect failed')
      this.scheduleReconnect(error)
    }
  }

  /** Tell a reconnect (same process) from a restart (new process) and reset state on the latter. */
  private adopt(install: AgentInstall): void {
    const record = this.record
    const { identity } = install
    if (install.fresh) record.agentInstalls += 1
    const previous = record.identity
    record.identity = identity
    if (previous === undefined || sameProcess(previous, identity)) return
    record.restarts += 1
    record.resetCollectors()
    this.reinstalls.reset()
    this.options.logger.info({ target: this.name, pid: identity.pid, previousPid: previous.pid }, 'target restarted')
    this.options.extension?.onRestart()
  }

  /**
   * Wait before the next connect: capped exponential backoff over the attempts since the last
   * healthy poll. After a call that timed out, at least the timeout: the target may be busy with
   * that call until then (an evaluation runs until V8 ends it at the timeout).
   */
  private scheduleReconnect(after: unknown): void {
    if (this.record.phase === 'stopped') return
    this.record.phase = 'backoff'
    const { minDelayMs, maxDelayMs } = this.options.reconnect
    const floorMs = after instanceof TimeoutError ? Math.max(minDelayMs, this.options.target.timeoutMs) : minDelayMs
    const delay = backoffDelay(this.attempt, floorMs, maxDelayMs, this.random)
    this.attempt += 1
    this.record.nextRetryAt = Date.now() + delay
    this.retryTimer = setTimeout(() => void this.connect(), delay)
    this.retryTimer.unref()
  }

  private handleDisconnect(session: MonitorSession, reason: unknown): void {
    if (this.session !== session) return
    const record = this.record
    this.session = undefined
    void session.close()
    record.up = false
    record.lastError = errorInfo(reason)
    record.disconnectReason = record.lastError
    if (reason instanceof ProtocolError) record.protocolErrors += 1
    // A poll still queued for a slot would only find the session gone.
    this.pollAbort?.abort()
    this.options.extension?.onDisconnect()
    record.dropSamples()
    if (record.phase === 'stopped') return
    this.options.logger.warn({ target: this.name, err: record.lastError }, 'lost target')
    this.scheduleReconnect(reason)
  }

  private tick(): void {
    const record = this.record
    if (record.phase === 'stopped') return
    if (this.inFlight !== undefined || this.session === undefined) {
      if (record.phase === 'connected' || this.inFlight !== undefined) record.pollsSkipped += 1
      return
    }
    const session = this.session
    const abort = new AbortController()
    this.pollAbort = abort
    this.inFlight = this.queuedPoll(session, abort.signal).finally(() => {
      this.inFlight = undefined
      if (this.pollAbort === abort) this.pollAbort = undefined
    })
  }

  /** Wait for a poll slot (if slots are shared), then poll; the slot is held for the whole poll. */
  private async queuedPoll(session: MonitorSession, signal: AbortSignal): Promise<void> {
    const record = this.record
    record.pollsInFlight += 1
    record.maxPollsInFlight = Math.max(record.maxPollsInFlight, record.pollsInFlight)
    const queuedAt = { perf: performance.now(), wall: Date.now() }
    record.pollQueuedAt = queuedAt
    record.pollState = 'waiting'
    const slots = this.options.pollSlots
    let release: Release | undefined
    try {
      release = slots === undefined ? undefined : await slots.acquire(signal)
      const waited = performance.now() - queuedAt.perf
      record.pollWaitMsTotal += waited
      if ((slots !== undefined && release === undefined) || this.session !== session || record.phase === 'stopped') {
        // Disconnected or stopped while queued: nothing was asked of the target.
        record.pollsSkipped += 1
        return
      }
      record.lastPollWaitMs = waited
      record.pollState = 'running'
      await this.poll(session)
    } finally {
      release?.()
      record.pollsInFlight -= 1
      record.pollState = 'idle'
      record.pollQueuedAt = undefined
    }
  }

  private async poll(session: MonitorSession): Promise<void> {
    const { target } = this.options
    const record = this.record
    const started = performance.now()
    record.polls += 1
    // A newer session (a reconnect, maybe to a new process) owns the record and the analysis
    // now: what this poll still has to say about the old one must not land in them.
    const current = (): boolean => this.session === undefined || this.session === session
    const result = await runPoll({
      session,
      collectors: this.options.collectors.filter((collector) => record.enabled(collector) && record.collector(collector.name).available),
      stateOf: (name) => record.collector(name).state,
      timeoutMs: target.timeoutMs,
      current,
    })
    if (result.superseded) return
    // Disconnected during the poll: what it found is not current any more (the disconnect
    // dropped the values), but its errors still count.
    this.apply(result, this.session === session)
    let brokenBy = result.brokenBy
    if (result.agentMissing && brokenBy === undefined) brokenBy = await this.agentMissing(session)
    else if (result.agentAnswered) this.reinstalls.answered()
    const extension = this.options.extension
    // Only for the current session: after a reconnect to a new process, the analysis starts over.
    if (extension !== undefined && brokenBy === undefined && result.anySuccess && record.identity !== undefined && this.session === session) {
      try {
        await extension.afterPoll(session, {
          nowMs: Date.now(),
          samples: result.samples,
          floors: result.floors,
          processStartMs: record.identity.startTime,
          pid: record.identity.pid,
        })
        record.extensionError = null
        record.extensionRuns += 1
      } catch (error) {
        record.extensionRuns += 1
        record.extensionErrors += 1
        record.extensionError = errorInfo(error)
        this.options.logger.debug({ target: this.name, err: record.extensionError }, 'analysis step failed')
        if (breaksSession(error)) brokenBy = error
      }
    }
    if (!current()) return
    record.lastPollAt = Date.now()
    record.lastPollDurationMs = performance.now() - started
    record.up = brokenBy === undefined && result.anySuccess && !session.isClosed
    if (record.up && !result.agentMissing) this.attempt = 0
    // A call that timed out leaves a reply pending inside the client forever; dropping the
    // session releases it and bounds memory while a target is stopped.
    if (brokenBy !== undefined) this.handleDisconnect(session, brokenBy)
  }

  /** Write each collector's outcome into the record (its values only while the session is the current one). */
  private apply(result: PollResult, connected: boolean): void {
    for (const outcome of result.outcomes) {
      const collector = this.record.collector(outcome.name)
      collector.samples = connected ? outcome.samples : []
      if (outcome.result === 'skipped') {
        collector.success = false
        continue
      }
      collector.durationMs = outcome.durationMs
      if (outcome.result === 'success') {
        collector.state = outcome.state
        collector.success = true
      } else if (outcome.result === 'unavailable') {
        collector.available = false
        collector.lastError = errorInfo(outcome.error)
        const reason = outcome.error instanceof UnavailableError ? outcome.error.message : String(outcome.error)
        this.options.logger.info({ target: this.name, collector: outcome.name, reason }, 'collector unavailable')
      } else {
        collector.success = false
        collector.errors += 1
        collector.lastError = errorInfo(outcome.error)
        this.options.logger.debug({ target: this.name, collector: outcome.name, err: collector.lastError }, 'collector failed')
      }
    }
    if (connected && result.resource !== undefined) this.record.resource = result.resource
    if (result.gcEvents.length > 0) this.options.listener?.onGcEvents?.(this.name, result.gcEvents)
  }

  /**
   * The agent was gone: install it again, wait (it keeps vanishing), or give up on this session
   * (see agent-reinstalls.ts). Returns the error that should drop the session, if any.
   */
  private async agentMissing(session: MonitorSession): Promise<unknown> {
    const nowMs = Date.now()
    const next = this.reinstalls.missing(nowMs)
    if (next.action === 'drop') {
      return new AgentMissingError('agent read', `it keeps vanishing (${MAX_REINSTALLS_PER_CONNECTION} reinstalls on this session): reconnecting with backoff`)
    }
    if (next.action === 'wait') {
      this.record.lastError = errorInfo(new AgentMissingError('agent read', `it vanished again; next reinstall not before ${new Date(next.untilMs).toISOString()}`))
      return undefined
    }
    try {
      const install = await installAgent(session, this.options.eventLoopResolutionMs, this.options.target.timeoutMs)
      this.reinstalls.reinstalled(nowMs, install.fresh)
      this.adopt(install)
    } catch (error) {
      this.record.lastError = errorInfo(error)
      if (breaksSession(error)) return error
    }
    return undefined
  }
}
