import type { Test } from 'tap'
import { COLLECTORS as nodeCollectors } from '../../src/collectors/registry.js'
import type { TargetConfig } from '../../src/config/types.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { TargetMonitor, type Logger, type MonitorListener } from '../../src/monitor/monitor.js'

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, debug: () => undefined }

/** A real monitor (real inspector sessions) with test-sized timings; stopped at teardown. */
export function startMonitor(
  t: Pick<Test, 'teardown'>,
  port: number,
  overrides: Partial<TargetConfig> = {},
  listener?: MonitorListener,
): TargetMonitor {
  const monitor = new TargetMonitor({
    target: {
      name: 'test',
      host: '127.0.0.1',
      port,
      intervalMs: 200,
      timeoutMs: 1000,
      disabledCollectors: [],
      ...overrides,
    },
    collectors: nodeCollectors,
    openSession: (endpoint, timeoutMs) => InspectorSession.open(endpoint, timeoutMs),
    reconnect: { minDelayMs: 50, maxDelayMs: 400 },
    logger: silentLogger,
    ...(listener === undefined ? {} : { listener }),
  })
  monitor.start()
  t.teardown(() => monitor.stop())
  return monitor
}
