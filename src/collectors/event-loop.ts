import { z } from 'zod'
import { MAX_EVENT_LOOP_RESOLUTION_MS } from '../inspector/snippets.js'
import type { Collector, Sample } from './types.js'
import { checkReply } from './reply.js'

const ms = z.number().nonnegative()
const ns = z.number().nonnegative()

const EventLoopReply = z.object({
  elu: z.object({ idle: ms, active: ms, utilization: z.number() }).nullable(),
  delay: z
    .object({ count: z.number(), min: ns, max: ns, mean: ns, stddev: ns, p50: ns, p90: ns, p99: ns })
    .nullable(),
  delayAvailable: z.boolean(),
  /** The histogram's sampling period, in force since the agent was installed. */
  resolutionMs: z.number().positive().max(MAX_EVENT_LOOP_RESOLUTION_MS),
})

/** Cumulative ELU counters from the previous poll: utilization is exported as a delta. */
export interface EventLoopState {
  readonly idleMs: number
  readonly activeMs: number
}

const NS_PER_SECOND = 1e9
const NS_PER_MS = 1e6

/** Event-loop utilization between polls and the delay distribution of the poll window. */
export const eventLoopCollector: Collector<EventLoopState> = {
  name: 'eventLoop',
  description: 'Event-loop utilization and delay percentiles per poll window (perf_hooks)',
  part: 'eventLoop',
  parse(raw, previous) {
    const reply = checkReply('event loop', EventLoopReply, raw)
    const samples: Sample[] = []
    let state = previous
    if (reply.elu !== null) {
      state = { idleMs: reply.elu.idle, activeMs: reply.elu.active }
      // The counters restart with the process; a decrease means a fresh baseline, not a negative delta.
      if (previous !== undefined && reply.elu.idle >= previous.idleMs && reply.elu.active >= previous.activeMs) {
        const idle = reply.elu.idle - previous.idleMs
        const active = reply.elu.active - previous.activeMs
        if (idle + active > 0) samples.push({ key: 'eventLoopUtilization', value: active / (idle + active) })
      }
    }
    const delay = reply.delay
    if (delay !== null) {
      // Histogram values include the sampling period; the delay is what exceeds it.
      const resolutionNs = reply.resolutionMs * NS_PER_MS
      const delaySeconds = (ns: number): number => Math.max(0, ns - resolutionNs) / NS_PER_SECOND
      samples.push(
        { key: 'eventLoopDelayMin', value: delaySeconds(delay.min) },
        { key: 'eventLoopDelayMax', value: delaySeconds(delay.max) },
        { key: 'eventLoopDelayMean', value: delaySeconds(delay.mean) },
        { key: 'eventLoopDelayStddev', value: delay.stddev / NS_PER_SECOND },
        { key: 'eventLoopDelayP50', value: delaySeconds(delay.p50) },
        { key: 'eventLoopDelayP90', value: delaySeconds(delay.p90) },
        { key: 'eventLoopDelayP99', value: delaySeconds(delay.p99) },
      )
    }
    return { samples, state: state ?? { idleMs: 0, activeMs: 0 } }
  },
}
