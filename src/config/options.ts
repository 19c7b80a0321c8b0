/**
 * Every option, once: one row per setting with its flag, environment
 * variable, config-file key, value type, default, range and help line. The
 * flag parser, the environment reader, the config-file reader, `--help`, the
 * reference in docs/configuration.md and DEFAULTS are all derived from this table, so adding an
 * option is one row here plus its use.
 *
 * A source an option deliberately lacks says why (`{ none: reason }`).
 * Options whose reading is more than "parse one value" (the target list, the
 * config file itself, the API token and its file) have rows too, for the help
 * and the docs; src/config/sources.ts reads them by key.
 */
import { formatDuration } from '../core/duration.js'
import {
  ANY,
  boolean,
  bytes,
  check,
  count,
  countOrDuration,
  duration,
  endpoint,
  formatByteQuantity,
  formatPercent,
  fraction,
  headers,
  hostPortType,
  METRICS_PATH,
  number,
  oneOf,
  text,
  TOKEN_LIMITS,
  token,
  type Parsed,
  type ValueType,
} from './values.js'
import type { AttributionMode, Config, HolderMode, OtlpProtocol } from './types.js'

/** A source an option deliberately does not have, and why. */
export interface Missing {
  readonly none: string
}

/** One environment variable of an option; several are read in order (the first set wins). */
export interface EnvSource {
  readonly name: string
  /** Read differently from the flag (e.g. milliseconds); the value undefined means "unset". */
  readonly type?: ValueType<unknown>
  /** The help line; default "Like --flag". */
  readonly help?: string
}

export interface OptionRow {
  /** Path of the setting in the resolved Config (`analysis.windowMs`); special rows have their own. */
  readonly key: string
  readonly flag: string | Missing
  readonly env: readonly EnvSource[] | Missing
  /** Key in the config file (`analysis.window`). */
  readonly file: string | Missing
  // Rows hold values of different types; each row's type and default agree by construction.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly type: ValueType<any>
  readonly default: unknown
  /** Help text; lines are wrapped to the help's width. */
  readonly help: string
  /** Shown after the default: `min 100ms`, `1..1000`. */
  readonly range?: string
  /**
   * How --time-scale N applies: a duration runs N times faster (divided by N), a rate threshold
   * grows N times (multiplied by N). Absent: unaffected.
   */
  readonly timeScaled?: 'duration' | 'rate'
  /** Replaces `(default …, range)` in the help, e.g. `(default: no OTLP export)`. */
  readonly defaultText?: string
  /** Comment of the key in the config-file example; default: the range. */
  readonly fileComment?: string
  /** The value shown in the config-file example, when not the default. */
  readonly fileExample?: string
  /** Flag placeholder when not the type's (`--service-name NAME`). */
  readonly placeholder?: string
  /** Read by src/config/sources.ts itself rather than generically. */
  readonly special?: true
}

const d = formatDuration
const env = (...names: Array<string | EnvSource>): EnvSource[] => names.map((name) => (typeof name === 'string' ? { name } : name))

/** Bounds of the settings, checked in every source. */
export const LIMITS = Object.freeze({
  minIntervalMs: 100,
  minWindowMs: 1_000,
  minMinPoints: 4,
  minFloorWindowMs: 100,
  minFetchIntervalMs: 100,
  minSamplingIntervalBytes: 1024,
  maxSamplingIntervalBytes: 64 * 1024 * 1024,
  maxBudget: 0.1,
  maxTopSites: 100,
  maxMaxSites: 10_000,
  minHolderIntervalMs: 1_000,
  maxTopHolders: 50,
  maxConcurrentPolls: 1_000,
  /** Targets one sidecar watches: a sidecar per pod watches a few; thousands would make /metrics megabytes long. */
  maxTargets: 500,
  maxTimeScale: 3600,
  minEventLoopResolutionMs: 1,
  maxEventLoopResolutionMs: 1_000,
})

/** Sampling period of the event-loop delay histogram installed in targets (see src/collectors/event-loop.collector.ts). */
export const DEFAULT_EVENT_LOOP_RESOLUTION_MS = 100

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = Config['logLevel']
export const ATTRIBUTION_MODES = ['off', 'on-suspicion', 'always'] as const satisfies readonly AttributionMode[]
export const HOLDER_MODES = ['off', 'on-verdict'] as const satisfies readonly HolderMode[]
/** OTEL_EXPORTER_OTLP_PROTOCOL values leakwatch speaks; `http/protobuf` is the spec's default. */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const satisfies readonly OtlpProtocol[]

const INTERVAL = duration({ minMs: LIMITS.minIntervalMs })
const POSITIVE = duration({ minMs: 1 })
const RESOLUTION_ERROR = `must be ${d(LIMITS.minEventLoopResolutionMs)}..${d(LIMITS.maxEventLoopResolutionMs)}`
const range = (min: number, max: number, what = `must be ${min}..${max}`) => check((n) => n >= min && n <= max, what)
const BUDGET = fraction(
  check((n) => n > 0 && n <= LIMITS.maxBudget, `must be more than 0 and at most ${LIMITS.maxBudget} (${formatPercent(LIMITS.maxBudget)})`),
)

/** OTEL_METRIC_EXPORT_INTERVAL: a whole number of milliseconds, as the OpenTelemetry spec says. */
const MILLISECONDS: ValueType<number> = {
  ...INTERVAL,
  parseText(raw: string): Parsed<number> {
    const value = raw.trim()
    if (!/^\d+$/.test(value)) return { error: `${JSON.stringify(raw)} is not a whole number of milliseconds` }
    return Number(value) < LIMITS.minIntervalMs ? { error: `must be at least ${d(LIMITS.minIntervalMs)}` } : { value: Number(value) }
  },
}

/** LEAKWATCH_MEMORY_LIMIT comes from the downward API (bytes; 0 when the container has no limit): 0 means unset. */
const DOWNWARD_BYTES: ValueType<number | undefined> = {
  ...bytes(ANY),
  parseText(raw: string) {
    const parsed = bytes(ANY).parseText(raw)
    return 'value' in parsed && parsed.value === 0 ? { value: undefined } : parsed
  },
}

const NO_FILE_FOR_CONFIG: Missing = { none: 'it names the file itself' }
const SECRET_FLAG: Missing = {
  none: 'a token on the command line is visible to every local user through ps and /proc/PID/cmdline',
}

export const OPTIONS: readonly OptionRow[] = [
  {
    key: 'targets',
    special: true,
    flag: 'target',
    placeholder: '[NAME=]HOST:PORT',
    env: env({ name: 'LEAKWATCH_TARGETS', help: 'Comma-separated targets, same syntax as --target' }),
    file: 'targets',
    type: text('[NAME=]HOST:PORT'),
    default: undefined,
    defaultText: '',
    help:
      `Inspector to watch; repeat for several (at most ${LIMITS.maxTargets} per sidecar). NAME is the "target" label and defaults to HOST:PORT. ` +
      'IPv6 in brackets: [::1]:9229. "localhost" is read as 127.0.0.1 (Node\'s inspector binds 127.0.0.1).',
  },
  { key: 'listen', flag: 'listen', env: env('LEAKWATCH_LISTEN'), file: 'listen', type: hostPortType(0), default: { host: '0.0.0.0', port: 9464 }, help: 'Metrics HTTP server address', fileExample: '0.0.0.0:9464' },
  { key: 'intervalMs', flag: 'interval', env: env('LEAKWATCH_INTERVAL'), file: 'interval', type: INTERVAL, default: 15_000, range: `min ${d(LIMITS.minIntervalMs)}`, help: 'Poll period of each target', timeScaled: 'duration' },
  { key: 'timeoutMs', flag: 'timeout', env: env('LEAKWATCH_TIMEOUT'), file: 'timeout', type: POSITIVE, default: 5_000, help: 'Timeout of each inspector call' },
  {
    key: 'config',
    special: true,
    flag: 'config',
    env: env('LEAKWATCH_CONFIG'),
    file: NO_FILE_FOR_CONFIG,
    type: text('FILE'),
    default: undefined,
    defaultText: '',
    help: 'YAML or JSON config file (see below)',
  },
  {
    key: 'timeScale',
    flag: 'time-scale',
    placeholder: 'N',
    env: env('LEAKWATCH_TIME_SCALE'),
    file: 'timeScale',
    type: number(check((n) => n >= 1 && n <= LIMITS.maxTimeScale, `must be 1..${LIMITS.maxTimeScale}`)),
    default: 1,
    range: `1..${LIMITS.maxTimeScale}`,
    help:
      'Compress time N times: every duration of polling, analysis and attribution runs N times faster and every rate threshold grows N times (for tests and benchmarks of programs that run N times faster; timeouts and the profile budget are unaffected)',
  },
  {
    key: 'allowRemoteInspector',
    flag: 'allow-remote-inspector',
    env: env({ name: 'LEAKWATCH_ALLOW_REMOTE_INSPECTOR', help: 'true, false, 1 or 0' }),
    file: 'allowRemoteInspector',
    type: boolean,
    default: false,
    defaultText: '',
    help: 'Allow targets on non-loopback hosts (see Security)',
  },
  { key: 'reconnect.minDelayMs', flag: 'reconnect-min-delay', env: env('LEAKWATCH_RECONNECT_MIN_DELAY'), file: 'reconnect.minDelay', type: POSITIVE, default: 500, help: 'Shortest wait before reconnecting to a target' },
  { key: 'reconnect.maxDelayMs', flag: 'reconnect-max-delay', env: env('LEAKWATCH_RECONNECT_MAX_DELAY'), file: 'reconnect.maxDelay', type: POSITIVE, default: 30_000, help: 'Longest wait before reconnecting (the backoff doubles up to it)' },
  {
    key: 'otlp.endpoint',
    flag: 'otlp-endpoint',
    env: env(
      { name: 'LEAKWATCH_OTLP_ENDPOINT', help: `Like --otlp-endpoint (${METRICS_PATH} appended)` },
      { name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', type: endpoint(false), help: 'Full metrics URL, used as-is' },
      { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', help: `Base URL; ${METRICS_PATH} is appended` },
    ),
    file: 'otlp.endpoint',
    type: endpoint(true),
    default: undefined,
    defaultText: '(default: no OTLP export)',
    fileExample: '"http://collector:4318"',
    fileComment: `${METRICS_PATH} is appended`,
    help: `Export to this OTLP/HTTP endpoint; ${METRICS_PATH} is appended unless the URL already ends with it`,
  },
  {
    key: 'otlp.protocol',
    flag: 'otlp-protocol',
    placeholder: 'PROTOCOL',
    env: env(
      'LEAKWATCH_OTLP_PROTOCOL',
      { name: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', help: 'Like --otlp-protocol' },
      { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', help: 'Like --otlp-protocol' },
    ),
    file: 'otlp.protocol',
    type: oneOf('PROTOCOL', OTLP_PROTOCOLS),
    default: 'http/protobuf',
    help: `OTLP/HTTP encoding: ${OTLP_PROTOCOLS.join(', ')} (grpc is not supported)`,
    fileComment: OTLP_PROTOCOLS.join(', '),
  },
  {
    key: 'otlp.intervalMs',
    flag: 'otlp-interval',
    env: env('LEAKWATCH_OTLP_INTERVAL', { name: 'OTEL_METRIC_EXPORT_INTERVAL', type: MILLISECONDS, help: 'OTLP export period in milliseconds' }),
    file: 'otlp.interval',
    type: INTERVAL,
    default: 15_000,
    help: 'OTLP export period',
  },
  {
    key: 'otlp.headers',
    flag: { none: 'headers often carry credentials, which must stay out of ps' },
    env: env({ name: 'OTEL_EXPORTER_OTLP_HEADERS', help: 'k=v,k2=v2 (percent-decoded) sent with every export; added to the file\'s headers' }),
    file: 'otlp.headers',
    type: headers,
    default: Object.freeze({}),
    fileExample: '{ x-token: abc }',
    fileComment: 'sent with every export',
    help: 'Headers sent with every OTLP export',
  },
  {
    key: 'otlp.serviceName',
    flag: 'service-name',
    placeholder: 'NAME',
    env: env('LEAKWATCH_SERVICE_NAME', { name: 'OTEL_SERVICE_NAME', help: 'Like --service-name' }),
    file: 'otlp.serviceName',
    type: text('NAME'),
    default: 'leakwatch',
    help: "service.name of the sidecar's own OTLP resource; each target's metrics go out under the target's own (its OTEL_SERVICE_NAME, else its name)",
  },
  { key: 'logLevel', flag: 'log-level', env: env('LEAKWATCH_LOG_LEVEL'), file: 'logLevel', type: oneOf('LEVEL', LOG_LEVELS), default: 'info', help: LOG_LEVELS.join(', ') },
  {
    key: 'maxConcurrentPolls',
    flag: 'max-concurrent-polls',
    env: env('LEAKWATCH_MAX_CONCURRENT_POLLS'),
    file: 'maxConcurrentPolls',
    type: count(range(1, LIMITS.maxConcurrentPolls)),
    default: 8,
    range: `1..${LIMITS.maxConcurrentPolls}`,
    help: 'Polls (of all targets together) that may run at once',
  },
  {
    key: 'eventLoopResolutionMs',
    flag: 'event-loop-resolution',
    env: env('LEAKWATCH_EVENT_LOOP_RESOLUTION'),
    file: 'eventLoopResolution',
    type: duration({ minMs: LIMITS.minEventLoopResolutionMs, maxMs: LIMITS.maxEventLoopResolutionMs, error: RESOLUTION_ERROR }),
    default: DEFAULT_EVENT_LOOP_RESOLUTION_MS,
    range: `${d(LIMITS.minEventLoopResolutionMs)}..${d(LIMITS.maxEventLoopResolutionMs)}`,
    help: 'Sampling period of the event-loop delay histogram installed in targets; finer costs the target more CPU',
  },
  {
    key: 'http.apiToken',
    special: true,
    flag: SECRET_FLAG,
    env: env({ name: 'LEAKWATCH_API_TOKEN', help: 'The API token itself (instead of --api-token-file)' }),
    file: 'http.apiToken',
    type: token,
    default: undefined,
    help: 'The API token itself',
  },
  {
    key: 'http.apiTokenFile',
    special: true,
    flag: 'api-token-file',
    env: env('LEAKWATCH_API_TOKEN_FILE'),
    file: 'http.apiTokenFile',
    type: text('FILE', 'a file path'),
    default: undefined,
    defaultText: '(default: no token, the API is open)',
    fileExample: '/etc/leakwatch/token',
    fileComment: 'relative to this file; or apiToken: "..." (not both)',
    help:
      'Require "Authorization: Bearer TOKEN" on the JSON API (/api/* and the index /), with TOKEN read from FILE (trimmed), ' +
      'e.g. a mounted Kubernetes Secret\nThere is deliberately no --api-token flag: a token on the command line is visible to ' +
      'every local user through ps and /proc/PID/cmdline.',
  },
  {
    key: 'http.protectMetrics',
    flag: 'protect-metrics',
    env: env({ name: 'LEAKWATCH_PROTECT_METRICS', help: 'true, false, 1 or 0 (like --protect-metrics)' }),
    file: 'http.protectMetrics',
    type: boolean,
    default: false,
    defaultText: '',
    fileComment: 'require the token on /metrics too',
    help: 'Require the token on /metrics too',
  },
  {
    key: 'http.protectHealth',
    flag: 'protect-health',
    env: env({ name: 'LEAKWATCH_PROTECT_HEALTH', help: 'true, false, 1 or 0 (like --protect-health)' }),
    file: 'http.protectHealth',
    type: boolean,
    default: false,
    defaultText: '',
    fileComment: 'and on /healthz and /readyz',
    help: 'Require the token on /healthz and /readyz too (the probes must then send it)',
  },
  { key: 'analysis.windowMs', flag: 'window', env: env('LEAKWATCH_WINDOW'), file: 'analysis.window', type: duration({ minMs: LIMITS.minWindowMs }), default: 30 * 60_000, range: `min ${d(LIMITS.minWindowMs)}`, help: "The fast path's window: trend and slope of the floor over it", timeScaled: 'duration' },
  {
    key: 'analysis.minPoints',
    flag: 'min-points',
    env: env('LEAKWATCH_MIN_POINTS'),
    file: 'analysis.minPoints',
    type: count(check((n) => n >= LIMITS.minMinPoints, `must be at least ${LIMITS.minMinPoints}`)),
    default: 12,
    range: `min ${LIMITS.minMinPoints}`,
    help: 'Floor points needed in the window',
    fileComment: `floor points needed in the window (min ${LIMITS.minMinPoints})`,
  },
  {
    key: 'analysis.maxPValue',
    flag: 'max-p-value',
    env: env('LEAKWATCH_MAX_P_VALUE'),
    file: 'analysis.maxPValue',
    type: number(check((n) => n > 0 && n < 1, 'must be more than 0 and less than 1')),
    default: 0.01,
    range: '0 < p < 1',
    help: 'Mann-Kendall p-value that counts as a trend',
    fileComment: 'Mann-Kendall p-value that counts as a trend (0 < p < 1)',
  },
  {
    key: 'analysis.minSlopeBytesPerSecond',
    flag: 'min-slope',
    placeholder: 'BYTES/S',
    env: env('LEAKWATCH_MIN_SLOPE'),
    file: 'analysis.minSlopeBytesPerSecond',
    type: number(check((n) => n >= 0, 'must not be negative')),
    default: 1024,
    timeScaled: 'rate',
    help: 'Smallest growth the fast path raises, in bytes per second (the slope\'s lower bound)',
    fileComment: 'smallest growth raised, in bytes per second',
  },
  {
    key: 'analysis.minRelativePerHour',
    flag: 'min-relative-growth',
    env: env('LEAKWATCH_MIN_RELATIVE_GROWTH'),
    file: 'analysis.minRelativePerHour',
    type: fraction(check((n) => n >= 0, 'must not be negative'), 'number'),
    default: 0.05,
    timeScaled: 'rate',
    help: 'Smallest growth the fast path raises, relative to the floor per hour, 0.05 or 5%',
    fileComment: 'smallest growth raised, relative to the floor per hour (or "5%")',
  },
  {
    key: 'analysis.raiseAfterMs',
    flag: 'raise-after',
    env: env('LEAKWATCH_RAISE_AFTER'),
    file: 'analysis.raiseAfter',
    type: countOrDuration(1),
    default: { ms: 5 * 60_000 },
    timeScaled: 'duration',
    help: "How long the fast path's evidence must hold before a leak is raised (a bare number: evaluations in a row, about one per floor window)",
    fileComment: 'a duration, or a count of evaluations in a row',
  },
  {
    key: 'analysis.clearAfterMs',
    flag: 'clear-after',
    env: env('LEAKWATCH_CLEAR_AFTER'),
    file: 'analysis.clearAfter',
    type: countOrDuration(1),
    default: { ms: 15 * 60_000 },
    timeScaled: 'duration',
    help: 'How long the evidence must be gone before a raised leak clears (a bare number: evaluations in a row)',
    fileComment: 'a duration, or a count of evaluations in a row',
  },
  { key: 'analysis.warmupMs', flag: 'warmup', env: env('LEAKWATCH_WARMUP'), file: 'analysis.warmup', type: duration(), default: 5 * 60_000, timeScaled: 'duration', help: 'No leak verdict this long after a (re)start', fileComment: 'no verdict this long after a (re)start' },
  {
    key: 'analysis.maxWarmupMs',
    flag: 'max-warmup',
    env: env('LEAKWATCH_MAX_WARMUP'),
    file: 'analysis.maxWarmup',
    type: duration(),
    default: 60 * 60_000,
    timeScaled: 'duration',
    range: 'warmup..',
    help: 'While the floor has risen ever since the start (a cache filling), the warm-up lasts up to this',
    fileComment: 'warm-up of a floor that has risen ever since the start, at most',
  },
  {
    key: 'analysis.floorWindowMs',
    flag: 'floor-window',
    env: env('LEAKWATCH_FLOOR_WINDOW'),
    file: 'analysis.floorWindow',
    type: duration({ minMs: LIMITS.minFloorWindowMs }),
    default: 60_000,
    timeScaled: 'duration',
    range: `${d(LIMITS.minFloorWindowMs)}..window`,
    help: 'Memory floors are minimums over this',
    fileComment: `${d(LIMITS.minFloorWindowMs)}..window; default ${d(60_000)}, or the window if shorter`,
  },
  {
    key: 'analysis.memoryLimitBytes',
    flag: 'memory-limit',
    env: env({ name: 'LEAKWATCH_MEMORY_LIMIT', type: DOWNWARD_BYTES, help: 'Like --memory-limit; 0 counts as unset (see Kubernetes below)' }),
    file: 'analysis.memoryLimit',
    type: bytes(check((n) => n > 0, 'must be > 0')),
    default: undefined,
    defaultText: '(default: unknown)',
    fileExample: '1Gi',
    fileComment: 'byte size; default: unknown',
    help: 'Memory limit of the watched container, e.g. 512Mi',
  },
  {
    key: 'analysis.urgentHorizonMs',
    flag: 'urgent-horizon',
    env: env('LEAKWATCH_URGENT_HORIZON'),
    file: 'analysis.urgentHorizon',
    type: duration({ minMs: 1 }),
    default: 4 * 3_600_000,
    timeScaled: 'duration',
    help: 'The fast path raises a leak whose floor reaches its limit within this (heap limit, or the memory limit)',
  },
  {
    key: 'analysis.fastRelativePerHour',
    flag: 'fast-relative-growth',
    env: env('LEAKWATCH_FAST_RELATIVE_GROWTH'),
    file: 'analysis.fastRelativePerHour',
    type: fraction(check((n) => n >= 0, 'must not be negative'), 'number'),
    default: 0.25,
    timeScaled: 'rate',
    help: 'Relative growth per hour the fast path raises whatever the limit, 0.25 or 25%',
  },
  {
    key: 'analysis.slowWindowMs',
    flag: 'slow-window',
    env: env('LEAKWATCH_SLOW_WINDOW'),
    file: 'analysis.slowWindow',
    type: duration({ minMs: LIMITS.minWindowMs }),
    default: 4 * 3_600_000,
    timeScaled: 'duration',
    range: `min ${d(LIMITS.minWindowMs)}`,
    help: "The slow path's window: its last third is compared with the floor at comparable load before",
  },
  {
    key: 'analysis.slowMinSlopeBytesPerSecond',
    flag: 'slow-min-slope',
    placeholder: 'BYTES/S',
    env: env('LEAKWATCH_SLOW_MIN_SLOPE'),
    file: 'analysis.slowMinSlopeBytesPerSecond',
    type: number(check((n) => n >= 0, 'must not be negative')),
    default: 150,
    timeScaled: 'rate',
    help: 'Smallest growth the slow path raises, in bytes per second (150 B/s is about 0.5 MiB/h)',
  },
  {
    key: 'analysis.slowMinRelativePerHour',
    flag: 'slow-min-relative-growth',
    env: env('LEAKWATCH_SLOW_MIN_RELATIVE_GROWTH'),
    file: 'analysis.slowMinRelativePerHour',
    type: fraction(check((n) => n >= 0, 'must not be negative'), 'number'),
    default: 0.0025,
    timeScaled: 'rate',
    help: 'Smallest growth the slow path raises, relative to the floor per hour, 0.0025 or 0.25%',
  },
  {
    key: 'analysis.slowRaiseAfterMs',
    flag: 'slow-raise-after',
    env: env('LEAKWATCH_SLOW_RAISE_AFTER'),
    file: 'analysis.slowRaiseAfter',
    type: duration(),
    default: 20 * 60_000,
    timeScaled: 'duration',
    help: "How long the slow path's evidence must hold before a leak is raised",
  },
  {
    key: 'attribution.mode',
    flag: 'attribution',
    env: env('LEAKWATCH_ATTRIBUTION'),
    file: 'attribution.mode',
    type: oneOf('MODE', ATTRIBUTION_MODES),
    default: 'on-suspicion',
    help: `Allocation sites: ${ATTRIBUTION_MODES.join(', ')}`,
    fileComment: ATTRIBUTION_MODES.join(', '),
  },
  {
    key: 'attribution.samplingIntervalBytes',
    flag: 'sampling-interval',
    env: env('LEAKWATCH_SAMPLING_INTERVAL'),
    file: 'attribution.samplingInterval',
    type: bytes(
      range(
        LIMITS.minSamplingIntervalBytes,
        LIMITS.maxSamplingIntervalBytes,
        `must be ${formatByteQuantity(LIMITS.minSamplingIntervalBytes)}..${formatByteQuantity(LIMITS.maxSamplingIntervalBytes)} ` +
          `(${LIMITS.minSamplingIntervalBytes}..${LIMITS.maxSamplingIntervalBytes} bytes)`,
      ),
    ),
    default: 512 * 1024,
    range: `${formatByteQuantity(LIMITS.minSamplingIntervalBytes)}..${formatByteQuantity(LIMITS.maxSamplingIntervalBytes)}`,
    help: 'Heap profiler sampling interval',
  },
  {
    key: 'attribution.budget',
    flag: 'profile-budget',
    env: env('LEAKWATCH_PROFILE_BUDGET'),
    file: 'attribution.budget',
    type: BUDGET,
    default: 0.002,
    range: `max ${formatPercent(LIMITS.maxBudget)}`,
    help: "Share of the target's time heap-profile reads may cost (their pause or the target's CPU during them, the larger), 0.2% or 0.002",
    fileComment: `time share profile reads may cost (pause or target CPU), max ${formatPercent(LIMITS.maxBudget)}`,
  },
  {
    key: 'attribution.suspicionBudget',
    flag: 'suspicion-budget',
    env: env('LEAKWATCH_SUSPICION_BUDGET'),
    file: 'attribution.suspicionBudget',
    type: BUDGET,
    default: 0.01,
    range: `budget..${formatPercent(LIMITS.maxBudget)}`,
    defaultText: `(default max(${formatPercent(0.01)}, budget), max ${formatPercent(LIMITS.maxBudget)})`,
    help: 'The profile budget while a floor trends up',
    fileComment: `while a floor trends up: budget..${formatPercent(LIMITS.maxBudget)}, default max(${formatPercent(0.01)}, budget)`,
  },
  {
    key: 'attribution.minFetchIntervalMs',
    flag: 'min-fetch-interval',
    env: env('LEAKWATCH_MIN_FETCH_INTERVAL'),
    file: 'attribution.minFetchInterval',
    type: duration({ minMs: LIMITS.minFetchIntervalMs }),
    default: 30_000,
    timeScaled: 'duration',
    range: `min ${d(LIMITS.minFetchIntervalMs)}`,
    help: 'Profile reads are never closer together than this',
  },
  {
    key: 'attribution.topSites',
    flag: 'top-sites',
    env: env('LEAKWATCH_TOP_SITES'),
    file: 'attribution.topSites',
    type: count(range(1, LIMITS.maxTopSites)),
    default: 10,
    range: `max ${LIMITS.maxTopSites}`,
    help: 'Allocation sites exported per target',
    fileComment: `sites exported per target, 1..${LIMITS.maxTopSites}`,
  },
  {
    key: 'attribution.maxSites',
    flag: 'max-sites',
    env: env('LEAKWATCH_MAX_SITES'),
    file: 'attribution.maxSites',
    type: count(range(1, LIMITS.maxMaxSites)),
    default: 500,
    range: `topSites..${LIMITS.maxMaxSites}`,
    help: 'Allocation sites tracked per target',
    fileComment: `sites tracked per target, topSites..${LIMITS.maxMaxSites}`,
  },
  {
    key: 'holders.mode',
    flag: 'holders',
    env: env('LEAKWATCH_HOLDERS'),
    file: 'holders.mode',
    type: oneOf('MODE', HOLDER_MODES),
    default: 'on-verdict',
    help: `Holder search (the growing collection and its path): ${HOLDER_MODES.join(', ')} (when a heap or external leak is raised, and on POST /api/targets/NAME/holders)`,
    fileComment: HOLDER_MODES.join(', '),
  },
  {
    key: 'holders.intervalMs',
    flag: 'holder-interval',
    env: env('LEAKWATCH_HOLDER_INTERVAL'),
    file: 'holders.interval',
    type: duration({ minMs: LIMITS.minHolderIntervalMs }),
    default: 120_000,
    timeScaled: 'duration',
    range: `min ${d(LIMITS.minHolderIntervalMs)}`,
    help: 'Time between the first two holder searches of a leak; the gap doubles after each search (a slow leak needs longer to grow 5 %)',
  },
  {
    key: 'holders.maxIntervalMs',
    flag: 'holder-max-interval',
    env: env('LEAKWATCH_HOLDER_MAX_INTERVAL'),
    file: 'holders.maxInterval',
    type: duration({ minMs: LIMITS.minHolderIntervalMs }),
    default: 3_600_000,
    timeScaled: 'duration',
    range: `holderInterval..`,
    help: 'Longest time between holder searches while a leak is raised',
  },
  {
    key: 'holders.topHolders',
    flag: 'top-holders',
    env: env('LEAKWATCH_TOP_HOLDERS'),
    file: 'holders.topHolders',
    type: count(range(1, LIMITS.maxTopHolders)),
    default: 5,
    range: `max ${LIMITS.maxTopHolders}`,
    help: 'Growing holders exported per target (the holder label)',
    fileComment: `holders exported per target, 1..${LIMITS.maxTopHolders}`,
  },
]

/** Host of a config-file target that gives only `port`. */
export const DEFAULT_TARGET_HOST = '127.0.0.1'

export const TOKEN_RULE = `${TOKEN_LIMITS.minLength}..${TOKEN_LIMITS.maxLength} printable ASCII characters without spaces`

export function optionByKey(key: string): OptionRow {
  const row = OPTIONS.find((option) => option.key === key)
  /* c8 ignore next */
  if (row === undefined) throw new Error(`no option ${key}`)
  return row
}

export const hasSource = <T>(source: T | Missing): source is T => !(typeof source === 'object' && source !== null && 'none' in source)
