import { z } from 'zod'
import { AGENT_RING_SIZE, type Collector, type FloorPoint, type GcEvent } from './types.js'
import type { Sample } from '../core/metrics.js'
import { checkReply } from './reply.js'

/** prom-client's default buckets for `nodejs_gc_duration_seconds`. */
export const GC_DURATION_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5] as const

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
 * In the target: a PerformanceObserver on 'gc' entries, installed once, that
 * counts pauses by kind into prom-client's buckets and keeps the latest events
 * and post-major-GC heap floors in bounded rings.
 */
const SETUP = `(env) => {
  if (typeof PerformanceObserver !== 'function') return null;
  const BOUNDS_MS = [${GC_DURATION_BUCKETS.map((seconds) => seconds * 1000).join(', ')}];
  const KINDS = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };
  const gc = { seq: 0, byKind: {}, events: [], floors: [], lastFloor: null, lastMajorAt: null, observer: null };
  const record = (entry) => {
    const detail = entry.detail || entry;
    const kind = KINDS[detail.kind] || 'other';
    let stats = gc.byKind[kind];
    if (stats === undefined) stats = gc.byKind[kind] = { count: 0, sumMs: 0, buckets: new Array(BOUNDS_MS.length + 1).fill(0) };
    const ms = entry.duration;
    stats.count += 1;
    stats.sumMs += ms;
    let i = 0;
    while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]) i += 1;
    stats.buckets[i] += 1;
    gc.seq += 1;
    gc.events.push([gc.seq, kind, ms, detail.flags | 0]);
    if (gc.events.length > env.RING) gc.events.shift();
    if (kind === 'major') {
      // Read in the callback of a major GC: the post-GC floor without forcing a GC.
      const used = env.v8 ? env.v8.getHeapStatistics().used_heap_size : process.memoryUsage().heapUsed;
      const at = performance.timeOrigin + entry.startTime + ms;
      gc.lastFloor = used;
      gc.lastMajorAt = at;
      gc.floors.push([gc.seq, at, used]);
      if (gc.floors.length > env.RING) gc.floors.shift();
    }
  };
  // Every entry of a batch is handled; the list is not retained, so nothing accumulates.
  gc.observer = new PerformanceObserver((list) => { for (const entry of list.getEntries()) record(entry); });
  gc.observer.observe({ entryTypes: ['gc'] });
  return gc;
}`

/** GC counters, plus the events and floors recorded after sequence number `since`. */
const READ = `(gc, since) => {
  if (gc === null) return { unavailable: 'PerformanceObserver is not available' };
  return {
    seq: gc.seq, byKind: gc.byKind, lastFloor: gc.lastFloor, lastMajorAt: gc.lastMajorAt,
    events: gc.events.filter((e) => e[0] > since),
    floors: gc.floors.filter((f) => f[0] > since),
  };
}`

/**
 * GC pauses by kind from the observer the agent installed, the post-major-GC
 * heap floor, and the individual events since the previous poll (for OTel's
 * histogram and the floor series of the leak analysis).
 */
const gc: Collector<GcState> = {
  name: 'gc',
  description: 'GC pauses by kind and the heap floor after major GCs (PerformanceObserver in the target)',
  order: 30,
  metrics: [
    {
      key: 'gcDuration',
      prom: 'nodejs_gc_duration_seconds',
      otel: 'v8js.gc.duration',
      help: 'Garbage collection pauses by kind, counted in the target since its observer was installed.',
      unit: 's',
      type: 'histogram',
      labels: ['kind'],
      otelAttributes: { kind: 'v8js.gc.type' },
      buckets: GC_DURATION_BUCKETS,
      promClient: true,
      collector: 'gc',
    },
    {
      key: 'heapAfterMajorGc',
      prom: 'nodejs_heap_used_after_major_gc_bytes',
      otel: 'leakwatch.heap.used_after_major_gc',
      otelInstrument: 'updowncounter',
      help: 'V8 heap used right after the latest major GC: the heap floor, free of GC sawtooth.',
      unit: 'By',
      type: 'gauge',
      labels: [],
      collector: 'gc',
    },
    {
      key: 'lastMajorGcTime',
      prom: 'nodejs_gc_last_major_timestamp_seconds',
      otel: 'leakwatch.gc.last_major.time',
      help: 'Unix time of the latest major GC seen by the observer.',
      unit: 's',
      type: 'gauge',
      labels: [],
      collector: 'gc',
    },
    {
      key: 'gcEventsDropped',
      prom: 'leakwatch_gc_events_dropped_total',
      otel: 'leakwatch.gc.events.dropped',
      help: 'GC events that left the target-side ring before the sidecar read them (histogram counts stay exact).',
      unit: '{event}',
      type: 'counter',
      labels: [],
      collector: 'gc',
    },
  ],
  part: { setup: SETUP, read: READ, argument: (state) => state?.lastSeq ?? 0 },
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

export default gc
