// The catalog against the OpenTelemetry semantic conventions: every metric leakwatch exports
// under a name of the conventions' runtime namespaces (v8js.*, nodejs.*, process.*) must be
// one the conventions define, not deprecated, with their unit, instrument and attributes.
//
// Names come from the installed @opentelemetry/semantic-conventions (its incubating entry
// point, which has the development-stability runtime metrics). The package carries names
// only, so units, instruments and attributes come from the conventions' model files of the
// release the package follows (test/fixtures/semconv/runtime-metrics.json, transcribed from
// the model YAML); the test first checks that the fixture and the package list the same
// names, so an upgraded package with a renamed or new metric fails here until the fixture
// is brought up to date.
import { readFileSync } from 'node:fs'
import * as semconv from '@opentelemetry/semantic-conventions/incubating'
import t from 'tap'
import { catalog } from '../../src/export/catalog.js'
import { otelInstrumentOf, type MetricDefinition } from '../../src/core/metrics.js'
import { GC_DURATION_OTEL_BUCKETS } from '../../src/export/otel.js'

interface ConventionMetric {
  readonly name: string
  readonly instrument: string
  readonly unit: string
  readonly attributes: readonly string[]
  readonly deprecated?: string
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/semconv/runtime-metrics.json', import.meta.url), 'utf8')) as { metrics: ConventionMetric[] }
const conventions = new Map(fixture.metrics.map((metric) => [metric.name, metric]))

const RUNTIME = /^(v8js|nodejs|process)\./
const exported = Object.entries(semconv) as Array<[string, unknown]>
const packageMetrics = new Set(exported.filter(([name, value]) => name.startsWith('METRIC_') && typeof value === 'string' && RUNTIME.test(value)).map(([, value]) => value as string))
const packageAttributes = new Set(exported.filter(([name, value]) => name.startsWith('ATTR_') && typeof value === 'string').map(([, value]) => value as string))

const runtimeMetrics = catalog.filter((metric): metric is MetricDefinition & { otel: string } => metric.otel !== undefined && RUNTIME.test(metric.otel))

t.test('the fixture and the installed package list the same runtime metrics', async (t) => {
  t.ok(packageMetrics.size > 20, `the incubating entry point has the runtime metrics (${packageMetrics.size})`)
  t.same([...conventions.keys()].sort(), [...packageMetrics].sort(), 'same names in test/fixtures/semconv/runtime-metrics.json and @opentelemetry/semantic-conventions/incubating')
})

t.test('every v8js.*, nodejs.* and process.* metric of the catalog is the conventions\' own', async (t) => {
  t.ok(runtimeMetrics.length >= 15, `the catalog has runtime metrics (${runtimeMetrics.length})`)
  for (const metric of runtimeMetrics) {
    const convention = conventions.get(metric.otel)
    t.ok(packageMetrics.has(metric.otel), `${metric.otel} (${metric.key}) is in @opentelemetry/semantic-conventions/incubating`)
    if (convention === undefined) continue
    t.equal(convention.deprecated, undefined, `${metric.otel} is not deprecated`)
    t.equal(metric.unit, convention.unit, `${metric.otel}: unit ${convention.unit}`)
    t.equal(otelInstrumentOf(metric), convention.instrument, `${metric.otel}: a ${convention.instrument}`)
    const attributes = [...metric.labels.map((label) => metric.otelAttributes?.[label] ?? label), ...Object.keys(metric.otelConstantAttributes ?? {})]
    t.same([...attributes].sort(), [...convention.attributes].sort(), `${metric.otel}: attributes ${convention.attributes.join(', ') || '(none)'}`)
  }
})

t.test('attributes outside leakwatch.* are the conventions\' attributes', async (t) => {
  for (const metric of catalog) {
    if (metric.otel === undefined) continue
    const attributes = [...Object.values(metric.otelAttributes ?? {}), ...Object.keys(metric.otelConstantAttributes ?? {})]
    for (const attribute of attributes) {
      if (attribute.startsWith('leakwatch.')) continue
      t.ok(packageAttributes.has(attribute), `${metric.otel}: ${attribute} is an attribute of the conventions`)
    }
    for (const label of metric.labels) {
      t.ok(metric.otelAttributes?.[label] !== undefined, `${metric.otel}: label ${label} has a namespaced OTel attribute`)
    }
  }
})

t.test('names leakwatch invents are under leakwatch.*', async (t) => {
  for (const metric of catalog) {
    if (metric.otel === undefined) continue
    if (RUNTIME.test(metric.otel)) t.ok(conventions.has(metric.otel), `${metric.otel} is the conventions' name`)
    else t.match(metric.otel, /^leakwatch\./, `${metric.otel} is leakwatch's own`)
  }
})

t.test('the heap space and GC type values are the conventions\' values', async (t) => {
  const values = (prefix: string): string[] =>
    exported.filter(([name, value]) => name.startsWith(prefix) && typeof value === 'string').map(([, value]) => value as string)
  const spaceMetric = catalog.find((metric) => metric.otel === 'v8js.memory.heap.used')
  t.ok(spaceMetric?.otelValue, 'per-space metrics rewrite the space label')
  for (const space of values('V8JS_HEAP_SPACE_NAME_VALUE_')) {
    const promName = space.replace(/_space$/, '')
    t.equal(spaceMetric?.otelValue?.('space', promName), space, `prom-client's ${promName} is the conventions' ${space}`)
  }
  t.same(values('V8JS_GC_TYPE_VALUE_').sort(), ['incremental', 'major', 'minor', 'weakcb'])
  t.same(values('NODEJS_EVENTLOOP_STATE_VALUE_').sort(), ['active', 'idle'])
  // The advice of docs/runtime/v8js-metrics.md in the same release.
  t.same(GC_DURATION_OTEL_BUCKETS, [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10])
})
