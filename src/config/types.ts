/** The resolved, validated configuration. All durations are in milliseconds. */

export interface TargetConfig {
  /** Value of the `target` label; defaults to `host:port`. */
  readonly name: string
  readonly host: string
  readonly port: number
  /** Poll period for this target (defaults to the global interval). */
  readonly intervalMs: number
  /** Timeout of each inspector call (defaults to the global timeout). */
  readonly timeoutMs: number
  /** Collector names switched off for this target (see src/collectors/index.ts). */
  readonly disabledCollectors: readonly string[]
  /** service.name of the target's OTLP resource (config file only); undefined: the target's own, else its name. */
  readonly serviceName?: string | undefined
}

export interface Config {
  readonly targets: readonly TargetConfig[]
  /** Every duration of polling, analysis and attribution runs this many times faster, every rate threshold scales with it (1 = real time). */
  readonly timeScale: number
  readonly listen: { readonly host: string; readonly port: number }
  readonly intervalMs: number
  readonly timeoutMs: number
  /** Targets on a non-loopback host are refused unless this is true. */
  readonly allowRemoteInspector: boolean
  readonly reconnect: { readonly minDelayMs: number; readonly maxDelayMs: number }
  readonly otlp: {
    /** Full OTLP/HTTP metrics URL (…/v1/metrics), or undefined when export is off. */
    readonly endpoint: string | undefined
    /** Encoding of the OTLP/HTTP requests (OTEL_EXPORTER_OTLP_PROTOCOL). */
    readonly protocol: OtlpProtocol
    readonly intervalMs: number
    readonly headers: Readonly<Record<string, string>>
    readonly serviceName: string
  }
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** Polls (of all targets together) that may run at once; the others wait their turn. */
  readonly maxConcurrentPolls: number
  /** Sampling period of the event-loop delay histogram installed in targets. */
  readonly eventLoopResolutionMs: number
  /** The HTTP API's access control. */
  readonly http: HttpConfig
  readonly analysis: AnalysisConfig
  readonly attribution: AttributionConfig
  readonly holders: HoldersConfig
}

/** Leak analysis of the memory floors. Durations in milliseconds, rates in bytes per second. */
export interface AnalysisConfig {
  /** The fast path's window: the trend test and slope look at it. */
  readonly windowMs: number
  /** Floor points wanted in the window; fewer (at least 6) are judged only when they span a quarter of it. */
  readonly minPoints: number
  /** Largest p-value that counts as a trend (Mann–Kendall, the slow path's sign test). */
  readonly maxPValue: number
  /** Smallest growth worth raising on the fast path, absolute (bytes per second, the slope's lower bound). */
  readonly minSlopeBytesPerSecond: number
  /** Smallest growth worth raising on the fast path, relative to the floor (fraction per hour, 0.05 = 5 %/h). */
  readonly minRelativePerHour: number
  /** How long the fast path's evidence must hold before it raises a leak. */
  readonly raiseAfterMs: number
  /** How long neither path may be positive before a raised leak clears. */
  readonly clearAfterMs: number
  /** Time after a (re)start during which no verdict is given. */
  readonly warmupMs: number
  /** While the floor has been rising since the start (a cache filling), the warm-up lasts up to this. */
  readonly maxWarmupMs: number
  /** Window over which RSS and external memory are reduced to their minimum (their floor). */
  readonly floorWindowMs: number
  /** Memory limit of the watched container in bytes, when known from config or the downward API. */
  readonly memoryLimitBytes: number | undefined
  /** The fast path raises only urgent leaks: the floor reaches its limit within this (or grows fast relative to its level). */
  readonly urgentHorizonMs: number
  /** Relative growth (fraction per hour, lower bound) that is urgent whatever the limit. */
  readonly fastRelativePerHour: number
  /**
   * How long growth that will not reach its limit within the urgent horizon must hold on the fast
   * path; undefined: a window when faster than fastRelativePerHour, else two windows.
   */
  readonly steadyRaiseAfterMs: number | undefined
  /** The slow path's window of downsampled floors (the recent third is compared with the past at comparable load). */
  readonly slowWindowMs: number
  /** Smallest growth the slow path raises, absolute (bytes per second) and relative (fraction per hour). */
  readonly slowMinSlopeBytesPerSecond: number
  readonly slowMinRelativePerHour: number
  /** How long the slow path's evidence must hold before it raises a leak. */
  readonly slowRaiseAfterMs: number
}

export type OtlpProtocol = 'http/protobuf' | 'http/json'

export type AttributionMode = 'off' | 'on-suspicion' | 'always'

/** Allocation-site attribution with V8's sampling heap profiler. */
export interface AttributionConfig {
  /** off: never profile; on-suspicion: only while a floor trends up; always: from connect. */
  readonly mode: AttributionMode
  /** Average bytes between samples (HeapProfiler.startSampling samplingInterval). */
  readonly samplingIntervalBytes: number
  /**
   * Largest share of the target's time profile fetches may cost, normally (0.002 = 0.2 %); a
   * fetch costs the larger of its pause and the target's CPU time while it ran.
   */
  readonly budget: number
  /** The same while a floor trends up (escalation). */
  readonly suspicionBudget: number
  /**
   * Largest share of the target's time the forced major GCs that buy heap floors may cost (a
   * rising heap floor starved of V8's own GCs): an account of its own beside the profile budgets.
   */
  readonly floorBudget: number
  /** Fetches are never closer together than this. */
  readonly minFetchIntervalMs: number
  /** Sites exported as metric labels per target. */
  readonly topSites: number
  /** Sites tracked per target (the bounded table behind the ranking). */
  readonly maxSites: number
}

export type HolderMode = 'off' | 'on-verdict'

/** The holder search: the growing collection, with a path a developer recognises. */
export interface HoldersConfig {
  /** off: never search; on-verdict: when a heap or external leak is raised, and on request. */
  readonly mode: HolderMode
  /** Time between the first two searches of a leak; doubles after each search up to maxIntervalMs. */
  readonly intervalMs: number
  readonly maxIntervalMs: number
  /** Growing holders exported as metric labels per target. */
  readonly topHolders: number
  /**
   * A collection judged growing on its own size that gains less than this many bytes a second
   * (its growth over the span it was judged on × the bytes it retains per element) is reported
   * as slow growth, not growing (HolderScheduler `judgedByBytes`).
   */
  readonly minGrowthBytesPerSecond: number
}

/** Who may read what over HTTP. */
export interface HttpConfig {
  /**
   * Bearer token required for the endpoints that reveal code locations or
   * profiles (`/api/*`); undefined leaves them open.
   */
  readonly apiToken: string | undefined
  /** Also require the token on `/metrics`. */
  readonly protectMetrics: boolean
  /** Also require the token on `/healthz` and `/readyz` (then probes need it too). */
  readonly protectHealth: boolean
}
