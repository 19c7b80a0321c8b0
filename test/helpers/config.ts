import type { Config, TargetConfig } from '../../src/config-types.js'

/** A complete config with test-sized timings, for building a Sidecar without going through the CLI. */
export function testConfig(targets: Array<Pick<TargetConfig, 'name' | 'port'> & Partial<TargetConfig>>, overrides: Partial<Config> = {}): Config {
  return {
    targets: targets.map((target) => ({
      host: '127.0.0.1',
      intervalMs: 200,
      timeoutMs: 1000,
      disabledCollectors: [],
      ...target,
    })),
    listen: { host: '127.0.0.1', port: 0 },
    intervalMs: 200,
    timeoutMs: 1000,
    allowRemoteInspector: false,
    reconnect: { minDelayMs: 50, maxDelayMs: 400 },
    otlp: { endpoint: undefined, intervalMs: 500, headers: {}, serviceName: 'leakwatch-test' },
    logLevel: 'silent',
    ...overrides,
  }
}
