/**
 * The golden exposition: the whole `/metrics` of one target built from the
 * recorded replies (test/fixtures/replies) by every registered collector, a
 * target record with fixed counters, and a leak analysis fed a fixed series —
 * the way node_exporter checks its e2e-output.txt. A changed metric name,
 * help text, label or value shows up as a diff of test/fixtures/golden/metrics.prom;
 * `npm run golden` writes it anew after a deliberate change.
 */
import { COLLECTORS } from '../../src/collectors/registry.js'
import type { Sample } from '../../src/core/metrics.js'
import { createPrometheusRegistry } from '../../src/export/prometheus.js'
import { TargetAnalysis } from '../../src/leak/target-analysis.js'
import { TargetRecord } from '../../src/monitor/status.js'
import type { TargetSession } from '../../src/inspector/session.js'
import { TEST_ANALYSIS, TEST_ATTRIBUTION } from './config.js'
import { recordedReply } from './replies.js'

export const GOLDEN_FILE = new URL('../fixtures/golden/metrics.prom', import.meta.url)

const NOW_MS = 1_780_000_000_000

/** Every collector parses its two recorded replies, the second with the first's state. */
function collectorSamples(record: TargetRecord): void {
  for (const collector of COLLECTORS) {
    const first = collector.parse(recordedReply(`${collector.name}.1`), undefined, NOW_MS)
    const second = collector.parse(recordedReply(`${collector.name}.2`), first.state, NOW_MS + 1000)
    const entry = record.collector(collector.name)
    entry.samples = second.samples
    entry.state = second.state
    entry.success = true
    entry.durationMs = 1.5
  }
}

const noSession: TargetSession = {
  evaluate: async () => {
    throw new Error('the golden analysis never talks to a target')
  },
  send: async () => {
    throw new Error('the golden analysis never talks to a target')
  },
}

/** A leak analysis fed 40 polls of a heap floor growing 64 KiB per second. */
async function analysisSamples(): Promise<TargetAnalysis> {
  const analysis = new TargetAnalysis({
    analysis: { ...TEST_ANALYSIS, memoryLimitBytes: 512 * 1024 * 1024 },
    attribution: TEST_ATTRIBUTION,
    timeoutMs: 1000,
    pollIntervalMs: 1000,
  })
  for (let i = 0; i < 40; i++) {
    const nowMs = NOW_MS + i * 1000
    const heap = 20_000_000 + i * 65_536
    await analysis.afterPoll(noSession, {
      nowMs,
      samples: [
        { key: 'rss', value: 60_000_000 + (i % 3) * 1000 },
        { key: 'external', value: 2_000_000 },
        { key: 'heapLimit', value: 4_345_298_944 },
      ],
      floors: [{ seq: i + 1, timeMs: nowMs - 10, bytes: heap }],
      processStartMs: NOW_MS - 60_000,
      pid: 4242,
    })
  }
  return analysis
}

/** The exposition the golden file holds. */
export async function goldenExposition(): Promise<string> {
  const record = new TargetRecord(
    { name: 'api', host: '127.0.0.1', port: 9229, intervalMs: 1000, timeoutMs: 1000, disabledCollectors: [] },
    COLLECTORS,
  )
  record.up = true
  record.connects = 2
  record.connectFailures = 3
  record.restarts = 1
  record.polls = 40
  record.pollsSkipped = 1
  record.lastPollAt = NOW_MS + 39_000
  record.lastPollWaitMs = 2
  record.pollWaitMsTotal = 80
  record.extensionRuns = 40
  collectorSamples(record)
  const analysis = await analysisSamples()
  const samples: Sample[] = record.samples(true, () => analysis.samples())
  const registry = createPrometheusRegistry({ targets: () => [{ name: 'api', samples: () => samples }] }, { selfMetrics: false })
  return registry.metrics()
}
