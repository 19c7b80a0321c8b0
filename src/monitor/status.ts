/**
 * One record of what the sidecar knows about a target — connection, counters,
 * the poll in flight, each collector's outcome — and the two views built from
 * it: the JSON status of the API and the samples of the exporters. Every
 * counter is written once, here, and both views read it.
 */
import { errorCode, errorMessage } from '../core/errors.js'
import { clipTargetText } from '../inspector/limits.js'
import type { MetricDefinition, ResourceAttributes, Sample } from '../core/metrics.js'
import type { TargetConfig } from '../config/types.js'
import { hostPort } from '../config/hosts.js'
import type { AnyCollector } from '../collectors/types.js'
import type { PollSlotStats } from './concurrency.js'

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

/** Longest error message kept: most come from a target, whose text is already clipped (a backstop). */
const MAX_ERROR_MESSAGE = 1000

export const errorInfo = (error: unknown): ErrorInfo => ({
  code: errorCode(error),
  message: clipTargetText(errorMessage(error), MAX_ERROR_MESSAGE),
  at: new Date().toISOString(),
})

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
  /** The latest error of any kind (a failed reconnect replaces the reason the session was lost). */
  readonly lastError: ErrorInfo | null
  /** Why the latest session ended (target closed it, a call timed out, the agent kept vanishing); null before. */
  readonly disconnectReason: ErrorInfo | null
  readonly lastPollAt: string | null
  readonly lastPollDurationMs: number | null
  readonly nextRetryAt: string | null
  readonly intervalMs: number
  readonly connects: number
  readonly connectFailures: number
  readonly restarts: number
  readonly polls: number
  readonly pollsSkipped: number
  /** Sessions dropped because the target broke the inspector protocol (LW_ERR_PROTOCOL). */
  readonly protocolErrors: number
  /** Agents installed in the target: one per process, more when it vanished (LW_ERR_AGENT_MISSING). */
  readonly agentInstalls: number
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

/** One collector's outcomes on one target, and its state between polls. */
export interface CollectorRecord {
  available: boolean
  success: boolean | null
  durationMs: number | null
  errors: number
  lastError: ErrorInfo | null
  state: unknown
  samples: readonly Sample[]
}

const freshCollectorRecord = (errors = 0): CollectorRecord => ({
  available: true,
  success: null,
  durationMs: null,
  errors,
  lastError: null,
  state: undefined,
  samples: [],
})

/** The counters a target's record keeps, each exported as a metric. */
interface Counters {
  connects: number
  connectFailures: number
  restarts: number
  polls: number
  pollsSkipped: number
  protocolErrors: number
  agentInstalls: number
}

const counter = (key: string, prom: string, otel: string, help: string, unit: string): MetricDefinition => ({
  key,
  prom,
  otel,
  help,
  unit,
  type: 'counter',
  labels: [],
  otelResource: 'sidecar',
  collector: 'monitor',
})

const COUNTER_METRICS: ReadonlyArray<readonly [keyof Counters, MetricDefinition]> = [
  ['connects', counter('targetConnects', 'leakwatch_target_connects_total', 'leakwatch.target.connects', 'Inspector sessions opened to the target.', '{connect}')],
  [
    'connectFailures',
    counter(
      'targetConnectFailures',
      'leakwatch_target_connect_failures_total',
      'leakwatch.target.connect_failures',
      'Attempts to open an inspector session to the target that failed (not listening, timeout, refused).',
      '{attempt}',
    ),
  ],
  [
    'restarts',
    counter('targetRestarts', 'leakwatch_target_restarts_total', 'leakwatch.target.restarts', 'Times the target was found to be a new process (pid or start time changed).', '{restart}'),
  ],
  ['polls', counter('targetPolls', 'leakwatch_target_polls_total', 'leakwatch.target.polls', 'Polls started against the target.', '{poll}')],
  [
    'pollsSkipped',
    counter(
      'targetPollsSkipped',
      'leakwatch_target_polls_skipped_total',
      'leakwatch.target.polls.skipped',
      'Polls not started because the previous one was still running or the target was disconnected.',
      '{poll}',
    ),
  ],
  [
    'protocolErrors',
    counter(
      'targetProtocolErrors',
      'leakwatch_target_protocol_errors_total',
      'leakwatch.target.protocol_errors',
      'Inspector sessions to the target dropped because it broke the protocol (malformed messages, oversized replies, a websocket URL leading elsewhere).',
      '{error}',
    ),
  ],
  [
    'agentInstalls',
    counter(
      'targetAgentInstalls',
      'leakwatch_target_agent_installs_total',
      'leakwatch.target.agent.installs',
      "Agents leakwatch installed in the target: one per process, more when it vanished (deleted, or hidden by a patched Symbol.for); reinstalls are spaced out and bounded.",
      '{install}',
    ),
  ],
]

const gauge = (key: string, prom: string, otel: string, help: string, unit: string, labels: string[] = []): MetricDefinition => ({
  key,
  prom,
  otel,
  help,
  unit,
  type: 'gauge',
  labels,
  ...(labels.includes('collector') ? { otelAttributes: { collector: 'leakwatch.collector' } } : {}),
  otelResource: 'sidecar',
  collector: 'monitor',
})

/** The metrics of the sidecar's view of each target, written by the target monitor. */
export const MONITOR_METRICS: readonly MetricDefinition[] = [
  gauge('targetUp', 'leakwatch_target_up', 'leakwatch.target.up', '1 when the inspector session to the target is connected and the latest poll succeeded.', '1'),
  ...COUNTER_METRICS.map(([, metric]) => metric),
  gauge('targetLastPoll', 'leakwatch_target_last_poll_timestamp_seconds', 'leakwatch.target.last_poll.time', 'Unix time the latest poll of the target finished.', 's'),
  gauge(
    'pollQueue',
    'leakwatch_poll_queue_seconds',
    'leakwatch.poll.queue.duration',
    'Time the latest poll of the target waited for one of the shared poll slots (--max-concurrent-polls); while a poll is still waiting, how long so far.',
    's',
  ),
  counter(
    'pollQueueTotal',
    'leakwatch_poll_queue_wait_seconds_total',
    'leakwatch.poll.queue.wait',
    'Time the polls of the target spent waiting for a shared poll slot, in total (divide its rate by that of leakwatch_target_polls_total for the mean wait).',
    's',
  ),
  gauge('collectorSuccess', 'leakwatch_collector_success', 'leakwatch.collector.success', '1 when the collector succeeded on the latest poll of the target, else 0.', '1', ['collector']),
  gauge(
    'collectorAvailable',
    'leakwatch_collector_available',
    'leakwatch.collector.available',
    '1 when the target supports the collector (e.g. 0 for heapStatistics without process.getBuiltinModule in an ES module).',
    '1',
    ['collector'],
  ),
  gauge('collectorDuration', 'leakwatch_collector_duration_seconds', 'leakwatch.collector.duration', 'Wall time the collector took on the latest poll of the target.', 's', ['collector']),
  {
    ...counter('collectorErrors', 'leakwatch_collector_errors_total', 'leakwatch.collector.errors', 'Collector runs that failed (timeout, protocol error, malformed reply).', '{error}'),
    labels: ['collector'],
    otelAttributes: { collector: 'leakwatch.collector' },
  },
  gauge('analysisSuccess', 'leakwatch_analysis_success', 'leakwatch.analysis.success', '1 when the leak analysis and profiling step after the latest poll succeeded, else 0.', '1'),
  counter('analysisErrors', 'leakwatch_analysis_errors_total', 'leakwatch.analysis.errors', 'Failed leak analysis and profiling steps (e.g. a profile fetch that timed out).', '{error}'),
]

/** Everything the sidecar knows about one target, in one place. */
export class TargetRecord implements Counters {
  phase: TargetPhase = 'idle'
  up = false
  identity: ProcessIdentity | undefined
  /** The target's OpenTelemetry resource as it last described itself. */
  resource: ResourceAttributes | undefined
  lastError: ErrorInfo | null = null
  disconnectReason: ErrorInfo | null = null
  nextRetryAt: number | undefined
  connects = 0
  connectFailures = 0
  restarts = 0
  polls = 0
  pollsSkipped = 0
  protocolErrors = 0
  agentInstalls = 0
  lastPollAt: number | undefined
  lastPollDurationMs: number | undefined
  pollState: PollState = 'idle'
  /** performance.now() and Date.now() when the poll in flight was queued. */
  pollQueuedAt: { perf: number; wall: number } | undefined
  pollsInFlight = 0
  maxPollsInFlight = 0
  lastPollWaitMs: number | undefined
  pollWaitMsTotal = 0
  extensionError: ErrorInfo | null = null
  extensionRuns = 0
  extensionErrors = 0
  readonly collectors = new Map<string, CollectorRecord>()

  constructor(
    readonly target: TargetConfig,
    readonly collectorList: readonly AnyCollector[],
  ) {
    for (const collector of collectorList) this.collectors.set(collector.name, freshCollectorRecord())
  }

  enabled(collector: AnyCollector): boolean {
    return !this.target.disabledCollectors.includes(collector.name)
  }

  collector(name: string): CollectorRecord {
    const record = this.collectors.get(name)
    /* c8 ignore next */
    if (record === undefined) throw new Error(`no record for collector ${name}`)
    return record
  }

  /** A new process: every collector starts over (keeping its error count). */
  resetCollectors(): void {
    for (const [name, record] of this.collectors) this.collectors.set(name, freshCollectorRecord(record.errors))
  }

  /** Values of a disconnected target are not current any more; `up` says why they are gone. */
  dropSamples(): void {
    for (const record of this.collectors.values()) record.samples = []
  }

  status(pollSlots: PollSlotStats | null): TargetStatus {
    const target = this.target
    return {
      name: target.name,
      endpoint: hostPort(target.host, target.port),
      phase: this.phase,
      connected: this.phase === 'connected',
      up: this.up,
      process: this.identity ?? null,
      lastError: this.lastError,
      disconnectReason: this.disconnectReason,
      lastPollAt: this.lastPollAt === undefined ? null : new Date(this.lastPollAt).toISOString(),
      lastPollDurationMs: this.lastPollDurationMs ?? null,
      nextRetryAt: this.phase === 'backoff' && this.nextRetryAt !== undefined ? new Date(this.nextRetryAt).toISOString() : null,
      intervalMs: target.intervalMs,
      connects: this.connects,
      connectFailures: this.connectFailures,
      restarts: this.restarts,
      polls: this.polls,
      pollsSkipped: this.pollsSkipped,
      protocolErrors: this.protocolErrors,
      agentInstalls: this.agentInstalls,
      pollState: this.pollState,
      pollSince: this.pollQueuedAt === undefined ? null : new Date(this.pollQueuedAt.wall).toISOString(),
      maxPollsInFlight: this.maxPollsInFlight,
      lastPollWaitMs: this.lastPollWaitMs ?? null,
      pollWaitMsTotal: this.pollWaitMsTotal,
      pollSlots,
      extensionError: this.extensionError,
      collectors: this.collectorList.map((collector) => {
        const record = this.collector(collector.name)
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
  samples(slotsShared: boolean, extensionSamples: (() => readonly Sample[]) | undefined): Sample[] {
    const out: Sample[] = [{ key: 'targetUp', value: this.up ? 1 : 0 }]
    for (const [field, metric] of COUNTER_METRICS) out.push({ key: metric.key, value: this[field] })
    if (this.lastPollAt !== undefined) out.push({ key: 'targetLastPoll', value: this.lastPollAt / 1000 })
    if (slotsShared) {
      // While a poll is queued, how long so far: a starved target shows before its turn comes.
      const queuedAt = this.pollState === 'waiting' ? this.pollQueuedAt : undefined
      const queueMs = queuedAt !== undefined ? performance.now() - queuedAt.perf : this.lastPollWaitMs
      if (queueMs !== undefined) out.push({ key: 'pollQueue', value: queueMs / 1000 })
      out.push({ key: 'pollQueueTotal', value: this.pollWaitMsTotal / 1000 })
    }
    for (const collector of this.collectorList) {
      if (!this.enabled(collector)) continue
      const record = this.collector(collector.name)
      const labels = { collector: collector.name }
      out.push({ key: 'collectorAvailable', labels, value: record.available ? 1 : 0 })
      out.push({ key: 'collectorErrors', labels, value: record.errors })
      if (record.available && record.success !== null) out.push({ key: 'collectorSuccess', labels, value: record.success ? 1 : 0 })
      if (record.durationMs !== null) out.push({ key: 'collectorDuration', labels, value: record.durationMs / 1000 })
      out.push(...record.samples)
    }
    if (extensionSamples !== undefined) {
      if (this.extensionRuns > 0) out.push({ key: 'analysisSuccess', value: this.extensionError === null ? 1 : 0 })
      out.push({ key: 'analysisErrors', value: this.extensionErrors }, ...extensionSamples())
    }
    return out
  }
}
