import t from 'tap'
import type { Sample } from '../../src/core/metrics.js'
import { catalog } from '../../src/export/catalog.js'
import { createPrometheusRegistry } from '../../src/export/prometheus.js'
import { ACCEPTED_FINDINGS, checkMetrics, lintFindings, promtoolPath } from '../helpers/promtool.js'

// The source is plain data: the exporter under test is real prom-client.
function sourceOf(targets: Record<string, Sample[]>) {
  return { targets: () => Object.entries(targets).map(([name, samples]) => ({ name, samples: () => samples })) }
}

const samples: Sample[] = [
  { key: 'heapUsed', value: 1234 },
  { key: 'heapSpaceUsed', labels: { space: 'old' }, value: 99 },
  { key: 'activeHandlesTotal', value: 3 },
  { key: 'targetRestarts', value: 2 },
  { key: 'gcDuration', labels: { kind: 'major' }, buckets: [1, 2, 0, 0, 0, 0, 1], count: 4, sum: 7.5 },
  { key: 'targetInfo', labels: { pid: '42', node_version: 'v20.20.2', title: 'node', script: '/app/a "b".js' }, value: 1 },
]

t.test('exposition: target label, values, cumulative histogram buckets', async (t) => {
  const registry = createPrometheusRegistry(sourceOf({ api: samples, 'worker-1': [{ key: 'heapUsed', value: 5 }] }), {
    selfMetrics: false,
  })
  const text = await registry.metrics()
  t.match(text, /^nodejs_heap_size_used_bytes\{target="api"\} 1234$/m)
  t.match(text, /^nodejs_heap_size_used_bytes\{target="worker-1"\} 5$/m)
  t.match(text, /^nodejs_heap_space_size_used_bytes\{target="api",space="old"\} 99$/m)
  t.match(text, /^# TYPE nodejs_active_handles_total gauge$/m, "prom-client's type, whatever the name says")
  t.match(text, /^# TYPE leakwatch_target_restarts_total counter$/m)
  t.match(text, /^leakwatch_target_restarts_total\{target="api"\} 2$/m)
  t.match(text, /^nodejs_gc_duration_seconds_bucket\{target="api",kind="major",le="0.001"\} 1$/m)
  t.match(text, /^nodejs_gc_duration_seconds_bucket\{target="api",kind="major",le="0.01"\} 3$/m)
  t.match(text, /^nodejs_gc_duration_seconds_bucket\{target="api",kind="major",le="5"\} 3$/m)
  t.match(text, /^nodejs_gc_duration_seconds_bucket\{target="api",kind="major",le="\+Inf"\} 4$/m)
  t.match(text, /^nodejs_gc_duration_seconds_sum\{target="api",kind="major"\} 7.5$/m)
  t.match(text, /^nodejs_gc_duration_seconds_count\{target="api",kind="major"\} 4$/m)
  t.match(text, /script="\/app\/a \\"b\\".js"/, 'label values are escaped')
  for (const metric of catalog) t.match(text, new RegExp(`^# TYPE ${metric.prom} ${metric.type}$`, 'm'))
})

t.test('self metrics carry the leakwatch_ prefix and never collide', async (t) => {
  const registry = createPrometheusRegistry(sourceOf({ api: samples }))
  const text = await registry.metrics()
  t.match(text, /^leakwatch_process_cpu_user_seconds_total /m)
  t.match(text, /^leakwatch_nodejs_heap_size_used_bytes /m)
  const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1])
  t.equal(new Set(names).size, names.length, 'every family declared once')
})

t.test('promtool check metrics is clean on the exposition', async (t) => {
  t.ok(promtoolPath(), 'promtool is installed (Debian package prometheus; .ci/run installs it)')
  const registry = createPrometheusRegistry(sourceOf({ api: samples }))
  const { output } = checkMetrics(await registry.metrics())
  const findings = lintFindings(output)
  t.same(findings.filter((finding) => !ACCEPTED_FINDINGS.includes(finding)), [], "no lint finding but prom-client's _total gauges")
  t.ok(findings.includes('nodejs_active_handles_total non-counter metrics should not have "_total" suffix'), 'promtool does read the exposition')
})
