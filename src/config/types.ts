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
}

export interface Config {
  readonly targets: readonly TargetConfig[]
  readonly listen: { readonly host: string; readonly port: number }
  readonly intervalMs: number
  readonly timeoutMs: number
  /** Targets on a non-loopback host are refused unless this is true. */
  readonly allowRemoteInspector: boolean
  readonly reconnect: { readonly minDelayMs: number; readonly maxDelayMs: number }
  readonly otlp: {
    /** Full OTLP/HTTP metrics URL (…/v1/metrics), or undefined when export is off. */
    readonly endpoint: string | undefined
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
}

/** Leak analysis of the memory floors. Durations in milliseconds. */
export interface AnalysisConfig {
  /** Sliding window the trend test and slope look at. */
  readonly windowMs: number
  /** Fewest floor points in the window before any verdict. */
  readonly minPoints: number
  /** Largest Mann–Kendall p-value that counts as a trend. */
  readonly maxPValue: number
  /** Smallest growth worth raising, absolute (bytes per second). */
  readonly minSlopeBytesPerSecond: number
  /** Smallest growth worth raising, relative to the floor (fraction per hour, 0.05 = 5 %/h). */
  readonly minRelativePerHour: number
  /** Consecutive positive evaluations before a leak is raised. */
  readonly raiseAfter: number
  /** Consecutive negative evaluations before a raised leak is cleared. */
  readonly clearAfter: number
  /** Time after a (re)start during which no verdict is given. */
  readonly warmupMs: number
  /** Window over which RSS and external memory are reduced to their minimum (their floor). */
  readonly floorWindowMs: number
  /** Memory limit of the watched container in bytes, when known from config or the downward API. */
  readonly memoryLimitBytes: number | undefined
}

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
  /** Fetches are never closer together than this. */
  readonly minFetchIntervalMs: number
  /** Sites exported as metric labels per target. */
  readonly topSites: number
  /** Sites tracked per target (the bounded table behind the ranking). */
  readonly maxSites: number
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
