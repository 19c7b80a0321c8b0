/**
 * Every metric leakwatch exports about its targets, declared once.
 *
 * Both exporters (prom-client and OpenTelemetry) and the README's metric
 * reference are generated from this table, so a metric cannot exist in one
 * place and be missing in another. Collectors refer to metrics by `key`.
 */

export type MetricType = 'gauge' | 'counter' | 'histogram'

export interface MetricDefinition {
  /** Stable key used by collectors and the store. */
  readonly key: string
  /** Prometheus name, base units and suffixes (`_bytes`, `_seconds`, `_total`). */
  readonly prom: string
  /** OpenTelemetry name (semantic conventions where one exists). */
  readonly otel: string
  readonly help: string
  /** UCUM unit for OpenTelemetry (`By`, `s`, `1`, `{resource}`). */
  readonly unit: string
  readonly type: MetricType
  /** Label names besides `target`, which every target metric carries. */
  readonly labels: readonly string[]
  /** Prometheus label name → OpenTelemetry attribute name, where they differ. */
  readonly otelAttributes?: Readonly<Record<string, string>>
  /** Upper bounds of histogram buckets, in the metric's unit. */
  readonly buckets?: readonly number[]
  /** The collector that produces it (for docs and for `collector_available`). */
  readonly collector: string
}

/** prom-client's default buckets for `nodejs_gc_duration_seconds`. */
export const GC_DURATION_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5] as const

const definitions = [
  // --- heap (Runtime.getHeapUsage + v8.getHeapStatistics) ---
  {
    key: 'heapUsed',
    prom: 'nodejs_heap_size_used_bytes',
    otel: 'nodejs.heap.used',
    help: 'V8 heap used, from Runtime.getHeapUsage.',
    unit: 'By',
    type: 'gauge',
    labels: [],
    collector: 'heap',
  },
  {
    key: 'heapTotal',
    prom: 'nodejs_heap_size_total_bytes',
    otel: 'nodejs.heap.size',
    help: 'V8 heap size allocated, from Runtime.getHeapUsage.',
    unit: 'By',
    type: 'gauge',
    labels: [],
    collector: 'heap',
  },
  {
    key: 'heapLimit',
    prom: 'nodejs_heap_size_limit_bytes',
    otel: 'nodejs.heap.size_limit',
    help: 'V8 heap size limit (heap_size_limit), the size at which the process dies of heap exhaustion.',
    unit: 'By',
    type: 'gauge',
    labels: [],
    collector: 'heapStatistics',
  },
  {
    key: 'mallocedMemory',
    prom: 'nodejs_v8_malloced_memory_bytes',
    otel: 'v8js.memory.malloced',
    help: 'Memory V8 allocated with malloc (malloced_memory).',
    unit: 'By',
    type: 'gauge',
    labels: [],
    collector: 'heapStatistics',
  },
  {
    key: 'v8ExternalMemory',
    prom: 'nodejs_v8_external_memory_bytes',
    otel: 'v8js.memory.external',
    help: 'Memory V8 accounts as external (external_memory of v8.getHeapStatistics; Node >= 20.7).',
    unit: 'By',
    type: 'gauge',
    labels: [],
    collector: 'heapStatistics',
  },
  {
    key: 'nativeContexts',
    prom: 'nodejs_v8_native_contexts',
    otel: 'v8js.context.native',
    help: 'Top-level V8 contexts alive (number_of_native_contexts); growth means leaked vm contexts or iframes.',
    unit: '{context}',
    type: 'gauge',
    labels: [],
    collector: 'heapStatistics',
  },
  {
    key: 'detachedContexts',
    prom: 'nodejs_v8_detached_contexts',
    otel: 'v8js.context.detached',
    help: 'Detached V8 contexts not yet collected (number_of_detached_contexts); non-zero for long is a leak.',
    unit: '{context}',
    type: 'gauge',
    labels: [],
    collector: 'heapStatistics',
  },
  {
    key: 'heapSpaceUsed',
    prom: 'nodejs_heap_space_size_used_bytes',
    otel: 'v8js.memory.heap.used',
    help: 'V8 heap space used, per space.',
    unit: 'By',
    type: 'gauge',
    labels: ['space'],
    otelAttributes: { space: 'v8js.heap.space.name' },
    collector: 'heapStatistics',
  },
  {
    key: 'heapSpaceTotal',
    prom: 'nodejs_heap_space_size_total_bytes',
    otel: 'v8js.memory.heap.limit',
    help: 'V8 heap space size, per space.',
    unit: 'By',
    type: 'gauge',
    labels: ['space'],
    otelAttributes: { space: 'v8js.heap.space.name' },
    collector: 'heapStatistics',
  },
  {
    key: 'heapSpaceAvailable',
    prom: 'nodejs_heap_space_size_available_bytes',
    otel: 'v8js.heap.space.available_size',
    help: 'V8 heap space available, per space.',
    unit: 'By',
    type: 'gauge',
    labels: ['space'],
    otelAttributes: { space: 'v8js.heap.space.name' },
    collector: 'heapStatistics',
  },
  // --- process memory (process.memoryUsage) ---
  {
    key: 'rss',
    prom: 'nodejs_process_resident_memory_bytes',
    otel: 'nodejs.process.memory.rss',
    help: 'Resident set size of the target process (process.memoryUsage().rss).',
    unit: 'By',
    type: 'gauge',
    labels: [],
    collector: 'memory',
  },
  {
    key: 'external',
    prom: 'nodejs_external_memory_bytes',
    otel: 'nodejs.memory.external',
    help: 'Memory of C++ objects bound to JavaScript objects (process.memoryUsage().external).',
    unit: 'By',
    type: 'gauge',
    labels: [],
    collector: 'memory',
  },
  {
    key: 'arrayBuffers',
    prom: 'nodejs_array_buffers_bytes',
    otel: 'nodejs.memory.array_buffers',
    help: 'Memory of ArrayBuffers and SharedArrayBuffers, Buffers included (process.memoryUsage().arrayBuffers).',
    unit: 'By',
    type: 'gauge',
    labels: [],
    collector: 'memory',
  },
  // --- garbage collection (PerformanceObserver installed in the target) ---
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
    collector: 'gc',
  },
  {
    key: 'heapAfterMajorGc',
    prom: 'nodejs_heap_used_after_major_gc_bytes',
    otel: 'v8js.memory.heap.used_after_major_gc',
    help: 'V8 heap used right after the latest major GC: the heap floor, free of GC sawtooth.',
    unit: 'By',
    type: 'gauge',
    labels: [],
    collector: 'gc',
  },
  {
    key: 'lastMajorGcTime',
    prom: 'nodejs_gc_last_major_timestamp_seconds',
    otel: 'v8js.gc.last_major.time',
    help: 'Unix time of the latest major GC seen by the observer.',
    unit: 's',
    type: 'gauge',
    labels: [],
    collector: 'gc',
  },
  // --- event loop (monitorEventLoopDelay + eventLoopUtilization) ---
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
  ...(
    [
      ['Min', 'min', 'min'],
      ['Max', 'max', 'max'],
      ['Mean', 'mean', 'mean'],
      ['Stddev', 'stddev', 'stddev'],
      ['P50', 'p50', 'p50'],
      ['P90', 'p90', 'p90'],
      ['P99', 'p99', 'p99'],
    ] as const
  ).map(([suffix, prom, otel]) => ({
    key: `eventLoopDelay${suffix}`,
    prom: `nodejs_eventloop_lag_${prom}_seconds`,
    otel: `nodejs.eventloop.delay.${otel}`,
    help: `Event loop delay ${prom} over the latest poll window (monitorEventLoopDelay, beyond its 10 ms sampling period).`,
    unit: 's',
    type: 'gauge' as const,
    labels: [],
    collector: 'eventLoop',
  })),
  // --- active resources (process.getActiveResourcesInfo) ---
  {
    key: 'activeResources',
    prom: 'nodejs_active_resources',
    otel: 'v8js.resource.active',
    help: 'Resources keeping the event loop alive, by type (process.getActiveResourcesInfo()).',
    unit: '{resource}',
    type: 'gauge',
    labels: ['type'],
    otelAttributes: { type: 'nodejs.resource.type' },
    collector: 'resources',
  },
  // --- target identity ---
  {
    key: 'targetInfo',
    prom: 'leakwatch_target_info',
    otel: 'leakwatch.target.info',
    help: 'Identity of the watched process; always 1. Join on `target` to label other series.',
    unit: '1',
    type: 'gauge',
    labels: ['pid', 'node_version', 'title', 'script'],
    otelAttributes: {
      pid: 'process.pid',
      node_version: 'process.runtime.version',
      title: 'process.title',
      script: 'process.executable.path',
    },
    collector: 'info',
  },
  {
    key: 'targetStartTime',
    prom: 'leakwatch_target_start_time_seconds',
    otel: 'leakwatch.target.start_time',
    help: 'Unix time the watched process started.',
    unit: 's',
    type: 'gauge',
    labels: [],
    collector: 'info',
  },
  // --- the sidecar's view of each target (written by the target monitor) ---
  {
    key: 'targetUp',
    prom: 'leakwatch_target_up',
    otel: 'leakwatch.target.up',
    help: '1 when the inspector session to the target is connected and the latest poll succeeded.',
    unit: '1',
    type: 'gauge',
    labels: [],
    collector: 'monitor',
  },
  {
    key: 'targetConnects',
    prom: 'leakwatch_target_connects_total',
    otel: 'leakwatch.target.connects',
    help: 'Inspector sessions opened to the target.',
    unit: '{connect}',
    type: 'counter',
    labels: [],
    collector: 'monitor',
  },
  {
    key: 'targetConnectFailures',
    prom: 'leakwatch_target_connect_failures_total',
    otel: 'leakwatch.target.connect_failures',
    help: 'Attempts to open an inspector session to the target that failed (not listening, timeout, refused).',
    unit: '{attempt}',
    type: 'counter',
    labels: [],
    collector: 'monitor',
  },
  {
    key: 'targetRestarts',
    prom: 'leakwatch_target_restarts_total',
    otel: 'leakwatch.target.restarts',
    help: 'Times the target was found to be a new process (pid or start time changed).',
    unit: '{restart}',
    type: 'counter',
    labels: [],
    collector: 'monitor',
  },
  {
    key: 'targetPolls',
    prom: 'leakwatch_target_polls_total',
    otel: 'leakwatch.target.polls',
    help: 'Polls started against the target.',
    unit: '{poll}',
    type: 'counter',
    labels: [],
    collector: 'monitor',
  },
  {
    key: 'targetPollsSkipped',
    prom: 'leakwatch_target_polls_skipped_total',
    otel: 'leakwatch.target.polls.skipped',
    help: 'Polls not started because the previous one was still running or the target was disconnected.',
    unit: '{poll}',
    type: 'counter',
    labels: [],
    collector: 'monitor',
  },
  {
    key: 'targetLastPoll',
    prom: 'leakwatch_target_last_poll_timestamp_seconds',
    otel: 'leakwatch.target.last_poll.time',
    help: 'Unix time the latest poll of the target finished.',
    unit: 's',
    type: 'gauge',
    labels: [],
    collector: 'monitor',
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
  {
    key: 'collectorSuccess',
    prom: 'leakwatch_collector_success',
    otel: 'leakwatch.collector.success',
    help: '1 when the collector succeeded on the latest poll of the target, else 0.',
    unit: '1',
    type: 'gauge',
    labels: ['collector'],
    otelAttributes: { collector: 'leakwatch.collector' },
    collector: 'monitor',
  },
  {
    key: 'collectorAvailable',
    prom: 'leakwatch_collector_available',
    otel: 'leakwatch.collector.available',
    help: '1 when the target supports the collector (e.g. 0 for heapStatistics without process.getBuiltinModule in an ES module).',
    unit: '1',
    type: 'gauge',
    labels: ['collector'],
    otelAttributes: { collector: 'leakwatch.collector' },
    collector: 'monitor',
  },
  {
    key: 'collectorDuration',
    prom: 'leakwatch_collector_duration_seconds',
    otel: 'leakwatch.collector.duration',
    help: 'Wall time the collector took on the latest poll of the target.',
    unit: 's',
    type: 'gauge',
    labels: ['collector'],
    otelAttributes: { collector: 'leakwatch.collector' },
    collector: 'monitor',
  },
  {
    key: 'collectorErrors',
    prom: 'leakwatch_collector_errors_total',
    otel: 'leakwatch.collector.errors',
    help: 'Collector runs that failed (timeout, protocol error, malformed reply).',
    unit: '{error}',
    type: 'counter',
    labels: ['collector'],
    otelAttributes: { collector: 'leakwatch.collector' },
    collector: 'monitor',
  },
] as const satisfies readonly MetricDefinition[]

export type MetricKey = (typeof definitions)[number]['key']

export const catalog: readonly MetricDefinition[] = definitions

const byKey = new Map<string, MetricDefinition>(catalog.map((metric) => [metric.key, metric]))

export function metricByKey(key: MetricKey): MetricDefinition {
  const metric = byKey.get(key)
  /* c8 ignore next */
  if (metric === undefined) throw new Error(`unknown metric key ${key}`)
  return metric
}

/** The label every target metric carries, naming the target. */
export const TARGET_LABEL = 'target'

/** Prefix of the sidecar's own process metrics, so they never collide with a target's. */
export const SELF_METRICS_PREFIX = 'leakwatch_'
