/**
 * A real app for `app.inject()` tests: the real Prometheus registry and, where
 * a target is needed, a real TargetMonitor and TargetAnalysis that were never
 * started (so no inspector is involved; their status says "idle").
 */
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { Test } from 'tap'
import { COLLECTORS as nodeCollectors } from '../../src/collectors/registry.js'
import type { HttpConfig } from '../../src/config/types.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { createPrometheusRegistry } from '../../src/export/prometheus.js'
import { TargetAnalysis } from '../../src/leak/target-analysis.js'
import { buildApp, type TargetEntry } from '../../src/server/app.js'
import { TargetMonitor } from '../../src/monitor/monitor.js'
import { TEST_ANALYSIS, TEST_ATTRIBUTION } from '../helpers/config.js'
import { silentLogger } from '../helpers/monitor.js'

/** A valid API token (what `openssl rand -hex 16` makes). */
export const TOKEN = '5f0c2b7d9e1a4c3b8d6e0f2a1b3c5d7e'

export interface TestAppOptions {
  readonly http?: HttpConfig
  /** Names of never-started targets to serve. */
  readonly targets?: readonly string[]
  readonly logger?: FastifyServerOptions['logger']
}

/** buildApp with real parts; closed at teardown. */
export async function testApp(t: Pick<Test, 'teardown'>, options: TestAppOptions = {}): Promise<FastifyInstance> {
  const entries = new Map<string, TargetEntry>()
  for (const name of options.targets ?? []) {
    const target = { name, host: '127.0.0.1', port: 9, intervalMs: 1_000, timeoutMs: 1_000, disabledCollectors: [] }
    const analysis = new TargetAnalysis({ analysis: TEST_ANALYSIS, attribution: TEST_ATTRIBUTION, timeoutMs: target.timeoutMs })
    const monitor = new TargetMonitor({
      target,
      collectors: nodeCollectors,
      openSession: (endpoint, timeoutMs) => InspectorSession.open(endpoint, timeoutMs),
      reconnect: { minDelayMs: 50, maxDelayMs: 400 },
      logger: silentLogger,
      extension: analysis,
    })
    entries.set(name, { monitor, analysis })
  }
  const registry = createPrometheusRegistry({ targets: () => [...entries.values()].map((entry) => entry.monitor) })
  const app = buildApp({
    registry,
    version: '0.0.0-test',
    targets: { list: () => [...entries.values()], get: (name) => entries.get(name) },
    ...(options.http === undefined ? {} : { http: options.http }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

export const http = (over: Partial<HttpConfig> = {}): HttpConfig => ({
  apiToken: TOKEN,
  protectMetrics: false,
  protectHealth: false,
  ...over,
})
