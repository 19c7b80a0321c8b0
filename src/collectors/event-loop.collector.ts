import { z } from 'zod'
import { formatDuration } from '../core/duration.js'
import type { MetricDefinition, Sample } from '../core/metrics.js'
import { DEFAULT_EVENT_LOOP_RESOLUTION_MS, LIMITS } from '../config/options.js'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

const ms = z.number().nonnegative()
const ns = z.number().nonnegative()

const EventLoopReply = z.object({
  elu: z.object({ idle: ms, active: ms, utilization: z.number() }).nullable(),
  delay: z
    .object({ count: z.number(), min: ns, max: ns, mean: ns, stddev: ns, p50: ns, p90: ns, p99: ns })
    .nullable(),
  delayAvailable: z.boolean(),
  /** Time from the previous read to the next setImmediate callback, as prom-client measures its lag; null until measured. */
  lagSeconds: z.number().nonnegative().nullable().optional(),
  /** The histogram's sampling period, in force since the agent was installed. */
  resolutionMs: z.number().positive().max(LIMITS.maxEventLoopResolutionMs),
})

/** Cumulative ELU counters from the previous poll: utilization is exported as a delta. */
export interface EventLoopState {
  readonly idleMs: number
  readonly activeMs: number
}

const NS_PER_SECOND = 1e9
const NS_PER_MS = 1e6

const STATISTICS = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const
const keyOf = (statistic: string): string => `eventLoopDelay${statistic[0]?.toUpperCase()}${statistic.slice(1)}`

const delayMetrics: MetricDefinition[] = STATISTICS.map((statistic) => ({
  key: keyOf(statistic),
  prom: `nodejs_eventloop_lag_${statistic}_seconds`,
  otel: `nodejs.eventloop.delay.${statistic}`,
  help:
    `Event loop delay ${statistic} over the latest poll window (monitorEventLoopDelay, beyond its sampling period: ` +
    `--event-loop-resolution, default ${formatDuration(DEFAULT_EVENT_LOOP_RESOLUTION_MS)}).`,
  unit: 's',
  type: 'gauge',
  labels: [],
  promClient: true,
  collector: 'eventLoop',
}))

/**
 * In the target: a delay histogram at the resolution in force (the first
 * installer's; its timer is the main fixed cost of being watched: measured on
 * an idle target 3.2 ms CPU per second at 10 ms, 1 ms/s at 50 ms, 0.3 ms/s at
 * 100 ms). Node records the whole interval between ticks, so an idle loop
 * reads as the resolution: the reply carries it and the parser subtracts it.
 */
const SETUP = `(env) => {
  let delay = null;
  if (env.perfHooks && typeof env.perfHooks.monitorEventLoopDelay === 'function') {
    delay = env.perfHooks.monitorEventLoopDelay({ resolution: env.resolutionMs });
    delay.enable();
  }
  return { delay, resolutionMs: env.resolutionMs, lagSeconds: null, lagPending: false };
}`

/**
 * Utilization (cumulative; the sidecar takes deltas) and the delay histogram since the
 * previous read, then reset; and prom-client's lag: the time until a setImmediate scheduled
 * by this read runs, reported by the next read.
 */
const READ = `(state) => {
  const elu = typeof performance.eventLoopUtilization === 'function' ? performance.eventLoopUtilization() : null;
  const delay = state.delay;
  let stats = null;
  if (delay !== null && delay.count > 0) {
    stats = { count: delay.count, min: delay.min, max: delay.max, mean: delay.mean, stddev: delay.stddev,
      p50: delay.percentile(50), p90: delay.percentile(90), p99: delay.percentile(99) };
  }
  if (delay !== null) delay.reset();
  if (elu === null && delay === null) return { unavailable: 'neither eventLoopUtilization nor monitorEventLoopDelay is available' };
  if (!state.lagPending) {
    state.lagPending = true;
    const start = process.hrtime.bigint();
    setImmediate(() => { state.lagSeconds = Number(process.hrtime.bigint() - start) / 1e9; state.lagPending = false; });
  }
  return { elu, delay: stats, delayAvailable: delay !== null, resolutionMs: state.resolutionMs, lagSeconds: state.lagSeconds };
}`

/** Event-loop utilization between polls and the delay distribution of the poll window. */
const eventLoop: Collector<EventLoopState> = {
  name: 'eventLoop',
  description: 'Event-loop utilization and delay percentiles per poll window (perf_hooks)',
  // After the resources collector: the setImmediate this read schedules must not be counted as the target's.
  order: 75,
  metrics: [
    {
      key: 'eventLoopUtilization',
      prom: 'nodejs_eventloop_utilization_ratio',
      otel: 'nodejs.eventloop.utilization',
      help: 'Share of time the event loop was busy between the two latest polls (0..1).',
      unit: '1',
      type: 'gauge',
      labels: [],
      collector: 'eventLoop',
    },
    {
      key: 'eventLoopLag',
      prom: 'nodejs_eventloop_lag_seconds',
      help: 'Lag of event loop in seconds: the time a setImmediate scheduled at the previous poll waited to run (prom-client\'s measurement).',
      unit: 's',
      type: 'gauge',
      labels: [],
      promClient: true,
      collector: 'eventLoop',
    },
    {
      key: 'eventLoopTime',
      prom: 'nodejs_eventloop_time_seconds_total',
      otel: 'nodejs.eventloop.time',
      help: 'Time the event loop has spent in each state (active, idle) since the process started (performance.eventLoopUtilization()).',
      unit: 's',
      type: 'counter',
      labels: ['state'],
      otelAttributes: { state: 'nodejs.eventloop.state' },
      collector: 'eventLoop',
    },
    ...delayMetrics,
  ],
  part: { setup: SETUP, read: READ },
  parse(raw, previous) {
    const reply = checkReply('event loop', EventLoopReply, raw)
    const samples: Sample[] = []
    let state = previous
    if (reply.elu !== null) {
      state = { idleMs: reply.elu.idle, activeMs: reply.elu.active }
      samples.push(
        { key: 'eventLoopTime', labels: { state: 'active' }, value: reply.elu.active / 1000 },
        { key: 'eventLoopTime', labels: { state: 'idle' }, value: reply.elu.idle / 1000 },
      )
      // The counters restart with the process; a decrease means a fresh baseline, not a negative delta.
      if (previous !== undefined && reply.elu.idle >= previous.idleMs && reply.elu.active >= previous.activeMs) {
        const idle = reply.elu.idle - previous.idleMs
        const active = reply.elu.active - previous.activeMs
        if (idle + active > 0) samples.push({ key: 'eventLoopUtilization', value: active / (idle + active) })
      }
    }
    if (reply.lagSeconds !== undefined && reply.lagSeconds !== null) samples.push({ key: 'eventLoopLag', value: reply.lagSeconds })
    const delay = reply.delay
    if (delay !== null) {
      // Histogram values include the sampling period; the delay is what exceeds it.
      const resolutionNs = reply.resolutionMs * NS_PER_MS
      const delaySeconds = (ns: number): number => Math.max(0, ns - resolutionNs) / NS_PER_SECOND
      for (const statistic of STATISTICS) {
        const value = statistic === 'stddev' ? delay.stddev / NS_PER_SECOND : delaySeconds(delay[statistic])
        samples.push({ key: keyOf(statistic), value })
      }
    }
    return { samples, state: state ?? { idleMs: 0, activeMs: 0 } }
  },
}

export default eventLoop
