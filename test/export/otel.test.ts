// The OTLP exporter end to end: real SDK, real OTLP/HTTP (protobuf and JSON) over a
// socket, real receiver. Only the MetricSource is in memory (it is just data).
import { hostname } from 'node:os'
import t, { type Test } from 'tap'
import type { ResourceAttributes, Sample } from '../../src/core/metrics.js'
import { OTLP_PROTOCOLS } from '../../src/config/options.js'
import { GC_DURATION_OTEL_BUCKETS, TARGET_ATTRIBUTE, createOtelExporter, type OtelExporter, type OtelExporterOptions } from '../../src/export/otel.js'
import type { MetricSource } from '../../src/export/source.js'
import { CUMULATIVE, startOtlpReceiver, type DataPoint, type OtlpReceiver } from '../helpers/otlp-receiver.js'

/** Targets and their samples, edited in place between flushes. */
function fakeSource(initial: Record<string, Sample[]>): MetricSource & { samples: Map<string, Sample[]>; resources: Map<string, ResourceAttributes> } {
  const samples = new Map(Object.entries(initial))
  const resources = new Map<string, ResourceAttributes>()
  return {
    samples,
    resources,
    targets: () => [...samples].map(([name, list]) => ({ name, samples: () => list, resource: () => resources.get(name) })),
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

/** Points of one target (by its resource) or of the sidecar's resource (by the attribute naming the target). */
const ofTarget = (points: DataPoint[], target: string): DataPoint[] =>
  points.filter((point) => point.resource[TARGET_ATTRIBUTE] === target || point.attributes[TARGET_ATTRIBUTE] === target)

for (const protocol of OTLP_PROTOCOLS) {
  t.test(`exports the catalog over OTLP/HTTP (${protocol}), each target under its own resource`, async (t) => {
    const receiver = await startOtlpReceiver(t)
    const previousEnv = process.env.OTEL_RESOURCE_ATTRIBUTES
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment.name=test,service.name=from-env,k8s.cluster.name=prod-eu'
    t.teardown(() => {
      if (previousEnv === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES
      else process.env.OTEL_RESOURCE_ATTRIBUTES = previousEnv
    })
    const source = fakeSource({
      api: [
        { key: 'heapUsed', value: 1234 },
        // prom-client's space names; the conventions' keep the suffix.
        { key: 'heapSpaceUsed', labels: { space: 'old' }, value: 500 },
        { key: 'heapSpaceUsed', labels: { space: 'new' }, value: 20 },
        { key: 'activeResources', labels: { type: 'Timeout' }, value: 3 },
        { key: 'processCpuUser', value: 1.5 },
        { key: 'processCpuSystem', value: 0.25 },
        { key: 'processCpuTotal', value: 1.75 },
        { key: 'targetRestarts', value: 2 },
        { key: 'collectorErrors', labels: { collector: 'heap' }, value: 1 },
        // OTLP/JSON cannot carry NaN; it must be left out, not sent as null.
        { key: 'eventLoopUtilization', value: Number.NaN },
        // The target's pre-bucketed histogram is Prometheus-only; OTel gets individual pauses.
        { key: 'gcDuration', labels: { kind: 'major' }, buckets: [0, 0, 1, 0, 0, 0, 0], count: 1, sum: 0.05 },
      ],
      worker: [{ key: 'heapUsed', value: 99 }],
    })
    source.resources.set('worker', { 'service.name': 'checkout-worker', 'process.pid': 42, 'process.command_args': ['node', 'worker.js'] })
    const { exporter, warnings } = start(t, source, receiver, { protocol, env: { K8S_POD_NAME: 'api-7d9f8b6c5d-x2k4p', K8S_NAMESPACE_NAME: 'shop' } })

    exporter.recordGcEvents('api', [
      { seq: 1, kind: 'major', durationSeconds: 0.05, flags: 0 },
      { seq: 2, kind: 'major', durationSeconds: 2, flags: 0 },
      { seq: 3, kind: 'minor', durationSeconds: 0.001, flags: 0 },
    ])
    await exporter.forceFlush()

    t.ok(receiver.requests.length >= 1, 'exported')
    t.ok(receiver.requests.every((request) => request.protocol === protocol), `every request in ${protocol}`)
    t.equal(receiver.requests[0]?.headers['x-leakwatch-test'], 'yes', 'configured headers are sent')

    const heap = receiver.dataPoints('leakwatch.heap.used')
    t.equal(heap.length, 2, 'one heap point per target')
    const apiHeap = only(t, ofTarget(heap, 'api'), {})
    t.match(apiHeap, { type: 'sum', isMonotonic: false, unit: 'By', value: 1234 }, 'an UpDownCounter')
    t.same(apiHeap.attributes, {}, "the target is named by the point's resource")
    t.match(apiHeap.resource, {
      'service.name': 'api',
      'leakwatch.target': 'api',
      'k8s.pod.name': 'api-7d9f8b6c5d-x2k4p',
      'k8s.namespace.name': 'shop',
      'k8s.cluster.name': 'prod-eu',
      'telemetry.sdk.language': 'nodejs',
    })
    t.notOk('deployment.environment.name' in apiHeap.resource, "the sidecar's other resource attributes are its own")
    const workerHeap = only(t, ofTarget(heap, 'worker'), {})
    t.equal(workerHeap.value, 99)
    t.match(workerHeap.resource, { 'service.name': 'checkout-worker', 'process.pid': 42, 'process.command_args': ['node', 'worker.js'], 'leakwatch.target': 'worker' }, 'what the target said about itself')

    const spaces = receiver.dataPoints('v8js.memory.heap.used')
    t.match(only(t, spaces, { 'v8js.heap.space.name': 'old_space' }), { type: 'sum', isMonotonic: false, value: 500, attributes: { 'v8js.heap.space.name': 'old_space' } })
    t.equal(only(t, spaces, { 'v8js.heap.space.name': 'new_space' }).value, 20)
    t.match(only(t, receiver.dataPoints('v8js.resource.active'), { 'v8js.resource.type': 'Timeout' }), { type: 'gauge', value: 3 })

    const cpu = receiver.dataPoints('process.cpu.time')
    t.match(only(t, cpu, { 'cpu.mode': 'user' }), { type: 'sum', isMonotonic: true, unit: 's', value: 1.5 }, 'two Prometheus series, one instrument')
    t.equal(only(t, cpu, { 'cpu.mode': 'system' }).value, 0.25)
    t.equal(cpu.length, 2, "prom-client's sum has no OTel twin")

    // The sidecar's work, under its own resource, with the target as an attribute.
    const restarts = only(t, receiver.dataPoints('leakwatch.target.restarts'), { [TARGET_ATTRIBUTE]: 'api' })
    t.match(restarts, { type: 'sum', value: 2, isMonotonic: true, aggregationTemporality: CUMULATIVE, unit: '{restart}' })
    t.match(restarts.resource, {
      'service.name': 'leakwatch-test',
      'service.version': '9.9.9',
      'service.instance.id': `${hostname()}:${process.pid}`,
      'deployment.environment.name': 'test',
      'k8s.pod.name': 'api-7d9f8b6c5d-x2k4p',
    })
    t.same(only(t, receiver.dataPoints('leakwatch.collector.errors'), {}).attributes, { 'leakwatch.target': 'api', 'leakwatch.collector': 'heap' })

    t.same(receiver.dataPoints('nodejs.eventloop.utilization'), [], 'NaN is not exported')

    const gc = receiver.dataPoints('v8js.gc.duration')
    t.equal(gc.length, 2, 'one histogram point per kind, none from the source histogram')
    const major = only(t, gc, { 'v8js.gc.type': 'major' })
    t.same(major.attributes, { 'v8js.gc.type': 'major' })
    t.equal(major.resource['leakwatch.target'], 'api')
    t.match(major, { type: 'histogram', unit: 's', count: 2, aggregationTemporality: CUMULATIVE })
    t.ok(Math.abs((major.sum ?? 0) - 2.05) < 1e-9, 'sum of pauses')
    t.same(major.explicitBounds, GC_DURATION_OTEL_BUCKETS)
    const expected = new Array(GC_DURATION_OTEL_BUCKETS.length + 1).fill(0)
    expected[GC_DURATION_OTEL_BUCKETS.indexOf(0.05)] = 1
    expected[GC_DURATION_OTEL_BUCKETS.indexOf(2.5)] = 1
    t.same(major.bucketCounts, expected, '0.05 s in (0.025, 0.05], 2 s in (1, 2.5]')
    t.equal(only(t, gc, { 'v8js.gc.type': 'minor' }).bucketCounts?.[0], 1, '1 ms in the first bucket')

    // --- the next flush shows the source as it is then ---
    source.samples.set('api', [
      { key: 'heapUsed', value: 5678 },
      { key: 'heapSpaceUsed', labels: { space: 'old' }, value: 600 },
      { key: 'targetRestarts', value: 3 },
    ])
    source.samples.delete('worker')
    exporter.recordGcEvents('api', [{ seq: 4, kind: 'major', durationSeconds: 0.5, flags: 0 }])
    const mark = receiver.requests.length
    await exporter.forceFlush()
    t.ok(receiver.requests.length > mark)

    const heapNext = receiver.dataPoints('leakwatch.heap.used', mark)
    t.equal(heapNext.length, 1, 'a removed target is no longer exported')
    t.equal(only(t, ofTarget(heapNext, 'api'), {}).value, 5678)
    t.same(
      receiver.dataPoints('v8js.memory.heap.used', mark).map((point) => [point.attributes['v8js.heap.space.name'], point.value]),
      [['old_space', 600]],
      'a series that left the source is not re-sent with its last value',
    )
    t.same(receiver.dataPoints('v8js.resource.active', mark), [])

    const restartsNext = only(t, receiver.dataPoints('leakwatch.target.restarts', mark), { [TARGET_ATTRIBUTE]: 'api' })
    t.equal(restartsNext.value, 3, 'counter reports the cumulative value from the source')
    t.equal(restartsNext.startTimeUnixNano, restarts.startTimeUnixNano, 'same cumulative stream')

    const majorNext = only(t, receiver.dataPoints('v8js.gc.duration', mark), { 'v8js.gc.type': 'major' })
    t.match(majorNext, { count: 3 }, 'histogram accumulates across exports')
    t.equal(majorNext.startTimeUnixNano, major.startTimeUnixNano)

    t.same(warnings, [], 'nothing failed')
  })
}

t.test('exports on its own every intervalMs', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const source = fakeSource({ api: [{ key: 'heapUsed', value: 1 }] })
  start(t, source, receiver, { intervalMs: 100 })
  await receiver.waitForMetric('leakwatch.heap.used', (point) => point.value === 1, 5_000)
  source.samples.set('api', [{ key: 'heapUsed', value: 2 }])
  const point = await receiver.waitForMetric('leakwatch.heap.used', (point) => point.value === 2, 5_000)
  t.equal(point.resource[TARGET_ATTRIBUTE], 'api')
})

t.test('shutdown flushes, and is safe to call twice', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const { exporter } = start(t, fakeSource({ api: [{ key: 'targetUp', value: 1 }] }), receiver)
  exporter.recordGcEvents('api', [{ seq: 1, kind: 'minor', durationSeconds: 0.002, flags: 0 }])
  await Promise.all([exporter.shutdown(), exporter.shutdown()])
  await exporter.shutdown()
  const exported = receiver.requests.length
  t.equal(exported, 2, "shutdown exported once: one request for the sidecar's resource, one for the target's")
  t.equal(only(t, receiver.dataPoints('leakwatch.target.up'), { [TARGET_ATTRIBUTE]: 'api' }).value, 1)
  t.equal(receiver.dataPoints('v8js.gc.duration')[0]?.count, 1)

  // Late calls from a monitor still polling must not throw.
  exporter.recordGcEvents('api', [{ seq: 2, kind: 'minor', durationSeconds: 0.002, flags: 0 }])
  await exporter.forceFlush()
  t.equal(receiver.requests.length, exported, 'nothing is exported after shutdown')
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
  t.equal(only(t, receiver.dataPoints('leakwatch.heap.used'), {}).value, 7, 'the next export goes through')

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
