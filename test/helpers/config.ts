import type { AnalysisThresholds } from '../../src/analysis/verdict.js'
import type { AnalysisConfig, AttributionConfig, Config, HoldersConfig, TargetConfig } from '../../src/config/types.js'

/** The fast path's thresholds at production scale (a 30 min window, 15 s polls), for the load rules' pure tests. */
export const LOAD_THRESHOLDS: AnalysisThresholds = {
  windowMs: 30 * 60_000,
  minPoints: 12,
  maxPValue: 0.01,
  minSlopeBytesPerSecond: 1024,
  minRelativePerHour: 0.05,
  urgentHorizonMs: 4 * 3_600_000,
  fastRelativePerHour: 0.25,
  steadyRaiseAfterMs: undefined,
  slowWindowMs: 4 * 3_600_000,
  slowMinSlopeBytesPerSecond: 150,
  slowMinRelativePerHour: 0.0025,
  raiseAfterMs: 5 * 60_000,
}

/** Test-sized leak analysis: verdicts within seconds, no warm-up. */
export const TEST_ANALYSIS: AnalysisConfig = {
  windowMs: 20_000,
  minPoints: 6,
  maxPValue: 0.05,
  // Time is compressed ~100×, so the absolute effect size is too: a healthy fixture's heap drifts
  // ~1 KB/s in its first minute (rings filling, code warming), the leaking one grows ~500 KB/s.
  minSlopeBytesPerSecond: 16 * 1024,
  minRelativePerHour: 0.05,
  // About two and three evaluations at the 500 ms floor window, as the count-based settings were.
  raiseAfterMs: 1_000,
  clearAfterMs: 1_500,
  warmupMs: 0,
  maxWarmupMs: 0,
  // Every leak is urgent here (the tests check the pipeline, not the urgency): raised after raiseAfter.
  urgentHorizonMs: 10_000 * 3_600_000,
  fastRelativePerHour: 25,
  steadyRaiseAfterMs: undefined,
  slowWindowMs: 144_000,
  slowMinSlopeBytesPerSecond: 15_000,
  slowMinRelativePerHour: 0.25,
  slowRaiseAfterMs: 12_000,
  floorWindowMs: 500,
  memoryLimitBytes: undefined,
}

/** Test-sized attribution, off unless a test switches it on. */
export const TEST_ATTRIBUTION: AttributionConfig = {
  mode: 'off',
  samplingIntervalBytes: 32 * 1024,
  budget: 0.05,
  suspicionBudget: 0.1,
  floorBudget: 0.1,
  minFetchIntervalMs: 1_000,
  topSites: 10,
  maxSites: 200,
}

/** Test-sized holder search: on verdicts, a second search 1 s after the first. */
export const TEST_HOLDERS: HoldersConfig = { mode: 'on-verdict', intervalMs: 1_000, maxIntervalMs: 4_000, topHolders: 5, minGrowthBytesPerSecond: 0 }

export type TestConfigOverrides = Partial<Omit<Config, 'analysis' | 'attribution' | 'holders'>> & {
  /** Merged over TEST_ANALYSIS. */
  analysis?: Partial<AnalysisConfig>
  /** Merged over TEST_ATTRIBUTION. */
  attribution?: Partial<AttributionConfig>
  /** Merged over TEST_HOLDERS. */
  holders?: Partial<HoldersConfig>
}

/** A complete config with test-sized timings, for building a Sidecar without going through the CLI. */
export function testConfig(
  targets: Array<Pick<TargetConfig, 'name' | 'port'> & Partial<TargetConfig>>,
  overrides: TestConfigOverrides = {},
): Config {
  const { analysis, attribution, holders, ...rest } = overrides
  return {
    targets: targets.map((target) => ({
      host: '127.0.0.1',
      intervalMs: 200,
      timeoutMs: 1000,
      disabledCollectors: [],
      ...target,
    })),
    listen: { host: '127.0.0.1', port: 0 },
    timeScale: 1,
    intervalMs: 200,
    timeoutMs: 1000,
    allowRemoteInspector: false,
    reconnect: { minDelayMs: 50, maxDelayMs: 400 },
    otlp: { endpoint: undefined, protocol: 'http/protobuf', intervalMs: 500, headers: {}, serviceName: 'leakwatch-test' },
    logLevel: 'silent',
    maxConcurrentPolls: 8,
    eventLoopResolutionMs: 100,
    http: { apiToken: undefined, protectMetrics: false, protectHealth: false },
    ...rest,
    analysis: { ...TEST_ANALYSIS, ...analysis },
    attribution: { ...TEST_ATTRIBUTION, ...attribution },
    holders: { ...TEST_HOLDERS, ...holders },
  }
}
