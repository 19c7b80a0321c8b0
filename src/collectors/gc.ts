import { z } from 'zod'
import { GC_DURATION_BUCKETS } from '../export/catalog.js'
import { AGENT_RING_SIZE } from '../inspector/snippets.js'
import type { Collector, FloorPoint, GcEvent, Sample } from './types.js'
import { checkReply } from './reply.js'

const count = z.number().int().nonnegative()
const KNOWN_KINDS = ['major', 'minor', 'incremental', 'weakcb', 'other'] as const

const KindStats = z.object({
  count,
  sumMs: z.number().nonnegative(),
  buckets: z.array(count).length(GC_DURATION_BUCKETS.length + 1),
})

const GcReply = z.object({
  seq: count,
  byKind: z.partialRecord(z.enum(KNOWN_KINDS), KindStats),
  lastFloor: z.number().nonnegative().nullable(),
  lastMajorAt: z.number().nonnegative().nullable(),
  events: z
    .array(z.tuple([count, z.enum(KNOWN_KINDS), z.number().nonnegative(), z.number().int()]))
    .max(AGENT_RING_SIZE),
  floors: z.array(z.tuple([count, z.number().nonnegative(), z.number().nonnegative()])).max(AGENT_RING_SIZE),
})

export interface GcState {
  /** Sequence number of the newest GC event already read. */
  readonly lastSeq: number
  /** Events that fell out of the target's ring before they were read. */
  readonly dropped: number
}

/**
 * GC pauses by kind from the observer the agent installed, the post-major-GC
 * heap floor, and the individual events since the previous poll (for OTel's
 * histogram and, later, the floor series of the leak analysis).
 */
export const gcCollector: Collector<GcState> = {
  name: 'gc',
  description: 'GC pauses by kind and the heap floor after major GCs (PerformanceObserver in the target)',
  part: 'gc',
  argument: (state) => state?.lastSeq ?? 0,
  parse(raw, previous) {
    const reply = checkReply('gc observer', GcReply, raw)
    const samples: Sample[] = []
    for (const kind of KNOWN_KINDS) {
      const stats = reply.byKind[kind]
      if (stats === undefined) continue
      samples.push({
        key: 'gcDuration',
        labels: { kind },
        buckets: stats.buckets,
        count: stats.count,
        sum: stats.sumMs / 1000,
      })
    }
    if (reply.lastFloor !== null) samples.push({ key: 'heapAfterMajorGc', value: reply.lastFloor })
    if (reply.lastMajorAt !== null) samples.push({ key: 'lastMajorGcTime', value: reply.lastMajorAt / 1000 })

    // A sequence that went backwards is a new agent (a restart): start over.
    const since = previous !== undefined && reply.seq >= previous.lastSeq ? previous.lastSeq : undefined
    const events: GcEvent[] = reply.events
      .filter(([seq]) => since === undefined || seq > since)
      .map(([seq, kind, ms, flags]) => ({ seq, kind, durationSeconds: ms / 1000, flags }))
    const floors: FloorPoint[] = reply.floors
      .filter(([seq]) => since === undefined || seq > since)
      .map(([seq, timeMs, bytes]) => ({ seq, timeMs, bytes }))
    let dropped = previous?.dropped ?? 0
    if (since !== undefined) {
      const oldest = events[0]?.seq ?? reply.seq + 1
      dropped += Math.max(0, oldest - since - 1)
    }
    samples.push({ key: 'gcEventsDropped', value: dropped })
    return { samples, state: { lastSeq: reply.seq, dropped }, gcEvents: events, floors }
  },
}
