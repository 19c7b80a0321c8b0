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
}
