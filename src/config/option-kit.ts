/**
 * The vocabulary of the options table (src/config/options.ts): the row type, the bounds of the
 * settings, and the value types and helpers the rows share.
 */
import { formatDuration } from '../core/duration.js'
import {
  ANY,
  bytes,
  check,
  duration,
  formatPercent,
  fraction,
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
   * grows N times (multiplied by N), a share of the target's time grows N times up to
   * LIMITS.maxBudget. Absent: unaffected.
   */
  readonly timeScaled?: 'duration' | 'rate' | 'share'
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

export const d = formatDuration
export const env = (...names: Array<string | EnvSource>): EnvSource[] => names.map((name) => (typeof name === 'string' ? { name } : name))

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

export const INTERVAL = duration({ minMs: LIMITS.minIntervalMs })
export const POSITIVE = duration({ minMs: 1 })
export const RESOLUTION_ERROR = `must be ${d(LIMITS.minEventLoopResolutionMs)}..${d(LIMITS.maxEventLoopResolutionMs)}`
export const range = (min: number, max: number, what = `must be ${min}..${max}`) => check((n) => n >= min && n <= max, what)
export const BUDGET = fraction(
  check((n) => n > 0 && n <= LIMITS.maxBudget, `must be more than 0 and at most ${LIMITS.maxBudget} (${formatPercent(LIMITS.maxBudget)})`),
)

/** OTEL_METRIC_EXPORT_INTERVAL: a whole number of milliseconds, as the OpenTelemetry spec says. */
export const MILLISECONDS: ValueType<number> = {
  ...INTERVAL,
  parseText(raw: string): Parsed<number> {
    const value = raw.trim()
    if (!/^\d+$/.test(value)) return { error: `${JSON.stringify(raw)} is not a whole number of milliseconds` }
    return Number(value) < LIMITS.minIntervalMs ? { error: `must be at least ${d(LIMITS.minIntervalMs)}` } : { value: Number(value) }
  },
}

/** LEAKWATCH_MEMORY_LIMIT comes from the downward API (bytes; 0 when the container has no limit): 0 means unset. */
export const DOWNWARD_BYTES: ValueType<number | undefined> = {
  ...bytes(ANY),
  parseText(raw: string) {
    const parsed = bytes(ANY).parseText(raw)
    return 'value' in parsed && parsed.value === 0 ? { value: undefined } : parsed
  },
}

export const NO_FILE_FOR_CONFIG: Missing = { none: 'it names the file itself' }
export const SECRET_FLAG: Missing = {
  none: 'a token on the command line is visible to every local user through ps and /proc/PID/cmdline',
}
