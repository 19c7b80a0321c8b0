// The OTLP exporter end to end: real SDK, real OTLP/HTTP JSON over a socket,
// real receiver. Only the MetricSource is in memory (it is just data).
import { hostname } from 'node:os'
import t, { type Test } from 'tap'
import type { Sample } from '../../src/core/metrics.js'
import { GC_DURATION_OTEL_BUCKETS, TARGET_ATTRIBUTE, createOtelExporter, type OtelExporter, type OtelExporterOptions } from '../../src/export/otel.js'
import type { MetricSource } from '../../src/export/source.js'
import { CUMULATIVE, startOtlpReceiver, type DataPoint, type OtlpReceiver } from '../helpers/otlp-receiver.js'

/** Targets and their samples, edited in place between flushes. */
function fakeSource(initial: Record<string, Sample[]>): MetricSource & { samples: Map<string, Sample[]> } {
  const samples = new Map(Object.entries(initial))
  return {
    samples,
    targets: () => [...samples].map(([name, list]) => ({ name, samples: () => list })),
  }
}

interface Warning {
  readonly object: object
  readonly message: string
}

function start(
  t: Test,
  source: MetricSource,
  receiver: OtlpReceiver,
  overrides: Partial<OtelExporterOptions> = {},
): { exporter: OtelExporter; warnings: Warning[] } {
  const warnings: Warning[] = []
  const exporter = createOtelExporter(source, {
    endpoint: receiver.url,
    // Long enough that only forceFlush exports, unless a test says otherwise.
    intervalMs: 60_000,
    headers: { 'x-leakwatch-test': 'yes' },
    serviceName: 'leakwatch-test',
    serviceVersion: '9.9.9',
    timeoutMs: 2_000,
    logger: { warn: (object, message) => warnings.push({ object, message }) },
    ...overrides,
  })
  t.teardown(() => exporter.shutdown())
  return { exporter, warnings }
}

function only(t: Test, points: DataPoint[], attributes: Record<string, string>): DataPoint {
  const matching = points.filter((point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value))
  t.equal(matching.length, 1, `one point with ${JSON.stringify(attributes)}`, { points })
  return matching[0] as DataPoint
}

t.test('exports the catalog over OTLP/HTTP JSON and follows the source', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const previousEnv = process.env.OTEL_RESOURCE_ATTRIBUTES
  process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment.name=test,service.name=from-env'
  t.teardown(() => {
    if (previousEnv === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES
    else process.env.OTEL_RESOURCE_ATTRIBUTES = previousEnv
  })
  const source = fakeSource({
    api: [
      { key: 'heapUsed', value: 1234 },
      { key: 'heapSpaceUsed', labels: { space: 'old_space' }, value: 500 },
      { key: 'heapSpaceUsed', labels: { space: 'new_space' }, value: 20 },
      { key: 'activeResources', labels: { type: 'Timeout' }, value: 3 },
      { key: 'targetRestarts', value: 2 },
      { key: 'collectorErrors', labels: { collector: 'heap' }, value: 1 },
      // OTLP/JSON cannot carry NaN; it must be left out, not sent as null.
      { key: 'eventLoopUtilization', value: Number.NaN },
      // The target's pre-bucketed histogram is Prometheus-only; OTel gets individual pauses.
      { key: 'gcDuration', labels: { kind: 'major' }, buckets: [0, 0, 1, 0, 0, 0, 0], count: 1, sum: 0.05 },
    ],
    worker: [{ key: 'heapUsed', value: 99 }],
  })
  const { exporter, warnings } = start(t, source, receiver)

  exporter.recordGcEvents('api', [
    { seq: 1, kind: 'major', durationSeconds: 0.05, flags: 0 },
    { seq: 2, kind: 'major', durationSeconds: 2, flags: 0 },
    { seq: 3, kind: 'minor', durationSeconds: 0.001, flags: 0 },
  ])
  await exporter.forceFlush()

  t.equal(receiver.requests.length, 1, 'one export per flush')
  const [first] = receiver.requests
  t.equal(first?.headers['x-leakwatch-test'], 'yes', 'configured headers are sent')
  t.match(first?.headers['content-type'], /^application\/json/)

  const heap = receiver.dataPoints('nodejs.heap.used')
  t.equal(heap.length, 2, 'one heap point per target')
  const apiHeap = only(t, heap, { [TARGET_ATTRIBUTE]: 'api' })
  t.match(apiHeap, { type: 'gauge', unit: 'By', value: 1234 })
  t.same(apiHeap.attributes, { 'leakwatch.target': 'api' })
  t.equal(only(t, heap, { [TARGET_ATTRIBUTE]: 'worker' }).value, 99)

  t.match(apiHeap.resource, {
    'service.name': 'leakwatch-test',
    'service.version': '9.9.9',
    'service.instance.id': `${hostname()}:${process.pid}`,
    'deployment.environment.name': 'test',
    'telemetry.sdk.language': 'nodejs',
  })

  const spaces = receiver.dataPoints('v8js.memory.heap.used')
  t.same(only(t, spaces, { 'v8js.heap.space.name': 'old_space' }).attributes, {
    'leakwatch.target': 'api',
    'v8js.heap.space.name': 'old_space',
  })
  t.equal(only(t, spaces, { 'v8js.heap.space.name': 'new_space' }).value, 20)
  t.equal(only(t, receiver.dataPoints('v8js.resource.active'), { 'nodejs.resource.type': 'Timeout' }).value, 3)

  const restarts = only(t, receiver.dataPoints('leakwatch.target.restarts'), { [TARGET_ATTRIBUTE]: 'api' })
  t.match(restarts, { type: 'sum', value: 2, isMonotonic: true, aggregationTemporality: CUMULATIVE, unit: '{restart}' })
  t.same(only(t, receiver.dataPoints('leakwatch.collector.errors'), {}).attributes, {
    'leakwatch.target': 'api',
    'leakwatch.collector': 'heap',
  })

  t.same(receiver.dataPoints('nodejs.eventloop.utilization'), [], 'NaN is not exported')

  const gc = receiver.dataPoints('v8js.gc.duration')
  t.equal(gc.length, 2, 'one histogram point per kind, none from the source histogram')
  const major = only(t, gc, { 'v8js.gc.type': 'major' })
  t.same(major.attributes, { 'leakwatch.target': 'api', 'v8js.gc.type': 'major' })
  t.match(major, { type: 'histogram', unit: 's', count: 2, aggregationTemporality: CUMULATIVE })
  t.ok(Math.abs((major.sum ?? 0) - 2.05) < 1e-9, 'sum of pauses')
  t.same(major.explicitBounds, GC_DURATION_OTEL_BUCKETS)
  t.same(major.bucketCounts, [0, 1, 0, 1, 0], '0.05 s in (0.01, 0.1], 2 s in (1, 10]')
  t.same(only(t, gc, { 'v8js.gc.type': 'minor' }).bucketCounts, [1, 0, 0, 0, 0])

  // --- the next flush shows the source as it is then ---
  source.samples.set('api', [
    { key: 'heapUsed', value: 5678 },
    { key: 'heapSpaceUsed', labels: { space: 'old_space' }, value: 600 },
    { key: 'targetRestarts', value: 3 },
  ])
  source.samples.delete('worker')
  exporter.recordGcEvents('api', [{ seq: 4, kind: 'major', durationSeconds: 0.5, flags: 0 }])
  const mark = receiver.requests.length
  await exporter.forceFlush()
  t.equal(receiver.requests.length, mark + 1)

  const heapNext = receiver.dataPoints('nodejs.heap.used', mark)
  t.equal(heapNext.length, 1, 'a removed target is no longer exported')
  t.equal(only(t, heapNext, { [TARGET_ATTRIBUTE]: 'api' }).value, 5678)
  const spacesNext = receiver.dataPoints('v8js.memory.heap.used', mark)
  t.same(
    spacesNext.map((point) => [point.attributes['v8js.heap.space.name'], point.value]),
    [['old_space', 600]],
    'a gauge series that left the source is not re-sent with its last value',
  )
  t.same(receiver.dataPoints('v8js.resource.active', mark), [])

  const restartsNext = only(t, receiver.dataPoints('leakwatch.target.restarts', mark), { [TARGET_ATTRIBUTE]: 'api' })
  t.equal(restartsNext.value, 3, 'counter reports the cumulative value from the source')
  t.equal(restartsNext.startTimeUnixNano, restarts.startTimeUnixNano, 'same cumulative stream')

  const majorNext = only(t, receiver.dataPoints('v8js.gc.duration', mark), { 'v8js.gc.type': 'major' })
  t.match(majorNext, { count: 3, bucketCounts: [0, 1, 1, 1, 0] }, 'histogram accumulates across exports')
  t.equal(majorNext.startTimeUnixNano, major.startTimeUnixNano)

  t.same(warnings, [], 'nothing failed')
})

t.test('exports on its own every intervalMs', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const source = fakeSource({ api: [{ key: 'heapUsed', value: 1 }] })
  start(t, source, receiver, { intervalMs: 100 })
  await receiver.waitForMetric('nodejs.heap.used', (point) => point.value === 1, 5_000)
  source.samples.set('api', [{ key: 'heapUsed', value: 2 }])
  const point = await receiver.waitForMetric('nodejs.heap.used', (point) => point.value === 2, 5_000)
  t.equal(point.attributes[TARGET_ATTRIBUTE], 'api')
})

t.test('shutdown flushes, and is safe to call twice', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const { exporter } = start(t, fakeSource({ api: [{ key: 'targetUp', value: 1 }] }), receiver)
  exporter.recordGcEvents('api', [{ seq: 1, kind: 'minor', durationSeconds: 0.002, flags: 0 }])
  await Promise.all([exporter.shutdown(), exporter.shutdown()])
  await exporter.shutdown()
  t.equal(receiver.requests.length, 1, 'shutdown exported once')
  t.equal(only(t, receiver.dataPoints('leakwatch.target.up'), { [TARGET_ATTRIBUTE]: 'api' }).value, 1)
  t.equal(receiver.dataPoints('v8js.gc.duration')[0]?.count, 1)

  // Late calls from a monitor still polling must not throw.
  exporter.recordGcEvents('api', [{ seq: 2, kind: 'minor', durationSeconds: 0.002, flags: 0 }])
  await exporter.forceFlush()
  t.equal(receiver.requests.length, 1, 'nothing is exported after shutdown')
})

t.test('a receiver answering 500 is reported, not thrown, and the next export recovers', async (t) => {
  const receiver = await startOtlpReceiver(t)
  receiver.setMode('error')
  const { exporter, warnings } = start(t, fakeSource({ api: [{ key: 'heapUsed', value: 7 }] }), receiver)

  await exporter.forceFlush()
  t.equal(receiver.attempts.error, 1, '500 is not retried')
  t.equal(warnings.length, 1, 'the failure is logged')
  t.equal(warnings[0]?.message, 'OTLP metrics export failed')
  t.match(warnings[0]?.object, { endpoint: receiver.url, err: { code: 500 } })

  receiver.setMode('ok')
  await exporter.forceFlush()
  t.equal(only(t, receiver.dataPoints('nodejs.heap.used'), {}).value, 7, 'the next export goes through')

  receiver.setMode('error')
  await t.resolves(exporter.shutdown(), 'shutdown against a failing receiver resolves')
  t.equal(warnings.length, 2)
})

t.test('a receiver that never answers is bounded by timeoutMs', async (t) => {
  const receiver = await startOtlpReceiver(t)
  receiver.setMode('hang')
  const { exporter, warnings } = start(t, fakeSource({ api: [{ key: 'heapUsed', value: 7 }] }), receiver, { timeoutMs: 300 })

  const started = Date.now()
  await t.resolves(exporter.shutdown(), 'shutdown resolves although the receiver hangs')
  t.ok(Date.now() - started < 5_000, 'within a bound of timeoutMs, not the SDK default of 30 s')
  t.ok(receiver.attempts.hang >= 1, 'the request reached the receiver')
  t.equal(warnings.length, 1, 'the timeout is logged')
})
