// A real OTLP/HTTP metrics receiver for tests: fastify on 127.0.0.1:0 that
// accepts both encodings of OTLP/HTTP — protobuf (what
// @opentelemetry/exporter-metrics-otlp-proto sends) decoded with protobufjs, and
// JSON (@opentelemetry/exporter-metrics-otlp-http) — keeps every decoded request
// and can be told to fail (500) or hang so the exporter's error paths run against
// a real socket.
import { EventEmitter, once } from 'node:events'
import type { ServerResponse } from 'node:http'
import { createGunzip } from 'node:zlib'
import Fastify from 'fastify'
import type { Test } from 'tap'
import { decodeMetricsRequest } from './otlp-proto.js'

// --- the subset of the OTLP JSON request the tests read ---
// The JS serializer writes 64-bit integers as numbers or strings depending on
// the field, so every integer is read through `num`.

export interface OtlpAnyValue {
  stringValue?: string
  boolValue?: boolean
  intValue?: number | string
  doubleValue?: number
  arrayValue?: { values?: OtlpAnyValue[] }
}
export interface OtlpKeyValue {
  key: string
  value: OtlpAnyValue
}
export interface OtlpNumberDataPoint {
  attributes?: OtlpKeyValue[]
  startTimeUnixNano?: string | number
  timeUnixNano?: string | number
  asDouble?: number | null
  asInt?: number | string
}
export interface OtlpHistogramDataPoint {
  attributes?: OtlpKeyValue[]
  startTimeUnixNano?: string | number
  timeUnixNano?: string | number
  count: number | string
  sum?: number
  bucketCounts: Array<number | string>
  explicitBounds: number[]
  min?: number
  max?: number
}
export interface OtlpMetric {
  name: string
  description?: string
  unit?: string
  gauge?: { dataPoints: OtlpNumberDataPoint[] }
  sum?: { dataPoints: OtlpNumberDataPoint[]; aggregationTemporality: number; isMonotonic?: boolean }
  histogram?: { dataPoints: OtlpHistogramDataPoint[]; aggregationTemporality: number }
}
export interface OtlpExportMetricsRequest {
  resourceMetrics: Array<{
    resource?: { attributes?: OtlpKeyValue[] }
    scopeMetrics: Array<{ scope?: { name: string; version?: string }; metrics: OtlpMetric[] }>
  }>
}

/** AGGREGATION_TEMPORALITY_CUMULATIVE in OTLP. */
export const CUMULATIVE = 2

export type AttributeValue = string | number | boolean | AttributeValue[]

/** One data point, flattened with what the tests want next to it. */
export interface DataPoint {
  /** Index of the request it arrived in. */
  readonly request: number
  readonly name: string
  readonly unit: string | undefined
  readonly type: 'gauge' | 'sum' | 'histogram'
  readonly attributes: Readonly<Record<string, AttributeValue>>
  readonly resource: Readonly<Record<string, AttributeValue>>
  readonly startTimeUnixNano: string | undefined
  /** Gauge and sum points. */
  readonly value?: number
  readonly isMonotonic?: boolean
  readonly aggregationTemporality?: number
  /** Histogram points. */
  readonly count?: number
  readonly sum?: number
  readonly bucketCounts?: readonly number[]
  readonly explicitBounds?: readonly number[]
}

export interface ReceivedRequest {
  /** Which encoding the request came in. */
  readonly protocol: 'http/protobuf' | 'http/json'
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: OtlpExportMetricsRequest
}

export type ReceiverMode = 'ok' | 'error' | 'hang'

export interface OtlpReceiver {
  /** Full metrics URL (…/v1/metrics) to give the exporter. */
  readonly url: string
  /** Decoded requests answered so far, in arrival order (failed and hung ones are not stored). */
  readonly requests: readonly ReceivedRequest[]
  /** How later requests are answered: 200 `{}`, 500, or never. */
  setMode(mode: ReceiverMode): void
  /** Requests that arrived in each mode, stored or not. */
  readonly attempts: Readonly<Record<ReceiverMode, number>>
  /** Data points of `name` in requests from index `fromRequest` on (default all). */
  dataPoints(name: string, fromRequest?: number): DataPoint[]
  /** Metric names seen so far. */
  metricNames(): string[]
  /** Resolves with the first point of `name` matching `predicate`, waiting for new requests until `timeoutMs`. */
  waitForMetric(name: string, predicate?: (point: DataPoint) => boolean, timeoutMs?: number): Promise<DataPoint>
  close(): Promise<void>
}

function num(value: number | string | undefined | null): number {
  return typeof value === 'string' ? Number(value) : (value ?? Number.NaN)
}

function attributeValue(value: OtlpAnyValue): AttributeValue {
  if (value.stringValue !== undefined) return value.stringValue
  if (value.boolValue !== undefined) return value.boolValue
  if (value.intValue !== undefined) return num(value.intValue)
  if (value.doubleValue !== undefined) return value.doubleValue
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(attributeValue)
  return JSON.stringify(value)
}

function attributesOf(list: readonly OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, attributeValue(value)]))
}

function pointsOf(body: OtlpExportMetricsRequest, request: number, name: string): DataPoint[] {
  const points: DataPoint[] = []
  for (const resourceMetrics of body.resourceMetrics ?? []) {
    const resource = attributesOf(resourceMetrics.resource?.attributes)
    for (const scope of resourceMetrics.scopeMetrics ?? []) {
      for (const metric of scope.metrics ?? []) {
        if (metric.name !== name) continue
        const base = { request, name, unit: metric.unit, resource }
        for (const point of metric.gauge?.dataPoints ?? []) {
          points.push({
            ...base,
            type: 'gauge',
            attributes: attributesOf(point.attributes),
            startTimeUnixNano: point.startTimeUnixNano?.toString(),
            value: point.asDouble ?? num(point.asInt),
          })
        }
        for (const point of metric.sum?.dataPoints ?? []) {
          points.push({
            ...base,
            type: 'sum',
            attributes: attributesOf(point.attributes),
            startTimeUnixNano: point.startTimeUnixNano?.toString(),
            value: point.asDouble ?? num(point.asInt),
            isMonotonic: metric.sum?.isMonotonic ?? false,
            aggregationTemporality: metric.sum?.aggregationTemporality,
          })
        }
        for (const point of metric.histogram?.dataPoints ?? []) {
          points.push({
            ...base,
            type: 'histogram',
            attributes: attributesOf(point.attributes),
            startTimeUnixNano: point.startTimeUnixNano?.toString(),
            aggregationTemporality: metric.histogram?.aggregationTemporality,
            count: num(point.count),
            sum: point.sum,
            bucketCounts: point.bucketCounts.map(num),
            explicitBounds: point.explicitBounds,
          })
        }
      }
    }
  }
  return points
}

/** Starts a receiver; with `t`, it is closed on the test's teardown. */
export async function startOtlpReceiver(t?: Pick<Test, 'teardown'>): Promise<OtlpReceiver> {
  const requests: ReceivedRequest[] = []
  const attempts: Record<ReceiverMode, number> = { ok: 0, error: 0, hang: 0 }
  const hung = new Set<ServerResponse>()
  const arrivals = new EventEmitter()
  let mode: ReceiverMode = 'ok'

  // forceCloseConnections: close() must not wait for the exporter's keep-alive
  // sockets or for requests we deliberately never answer.
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 16 * 1024 * 1024 })
  // The exporter gzips when OTEL_EXPORTER_OTLP_COMPRESSION says so.
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (request.headers['content-encoding'] !== 'gzip') return payload
    delete request.headers['content-length']
    return payload.pipe(createGunzip())
  })
  app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, decodeMetricsRequest(body as Buffer))
    } catch (error) {
      done(error as Error, undefined)
    }
  })
  app.post('/v1/metrics', async (request, reply) => {
    attempts[mode] += 1
    if (mode === 'hang') {
      reply.hijack()
      hung.add(reply.raw)
      return reply
    }
    if (mode === 'error') return reply.code(500).send({ code: 13, message: 'receiver told to fail' })
    const type = String(request.headers['content-type'])
    const protocol = type.startsWith('application/json') ? 'http/json' : type.startsWith('application/x-protobuf') ? 'http/protobuf' : undefined
    if (protocol === undefined) return reply.code(415).send({ message: 'OTLP/HTTP is protobuf or JSON' })
    requests.push({ protocol, headers: { ...request.headers }, body: request.body as OtlpExportMetricsRequest })
    arrivals.emit('request')
    // An empty ExportMetricsServiceResponse: full success.
    if (protocol === 'http/protobuf') return reply.code(200).header('content-type', 'application/x-protobuf').send(Buffer.alloc(0))
    return reply.code(200).send({})
  })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })

  const dataPoints = (name: string, fromRequest = 0): DataPoint[] =>
    requests.flatMap((request, index) => (index < fromRequest ? [] : pointsOf(request.body, index, name)))

  const metricNames = (): string[] => {
    const names = new Set<string>()
    for (const { body } of requests) {
      for (const resourceMetrics of body.resourceMetrics ?? []) {
        for (const scope of resourceMetrics.scopeMetrics ?? []) for (const metric of scope.metrics ?? []) names.add(metric.name)
      }
    }
    return [...names].sort()
  }

  let closed: Promise<void> | undefined
  const receiver: OtlpReceiver = {
    url: `${address}/v1/metrics`,
    requests,
    attempts,
    setMode(next) {
      mode = next
    },
    dataPoints,
    metricNames,
    async waitForMetric(name, predicate = () => true, timeoutMs = 5_000) {
      const signal = AbortSignal.timeout(timeoutMs)
      // Newest first, so a predicate on a changing value sees the latest export.
      const find = (): DataPoint | undefined => dataPoints(name).reverse().find(predicate)
      for (;;) {
        const found = find()
        if (found !== undefined) return found
        try {
          await once(arrivals, 'request', { signal })
        } catch {
          const last = find()
          if (last !== undefined) return last
          const seen = dataPoints(name).map((point) => point.value ?? point.count)
          throw new Error(
            `no ${name} data point matched within ${timeoutMs} ms; ${requests.length} requests, values seen: ${JSON.stringify(seen)}, metrics seen: ${metricNames().join(', ')}`,
          )
        }
      }
    },
    close() {
      closed ??= (async () => {
        for (const response of hung) response.destroy()
        await app.close()
      })()
      return closed
    },
  }
  t?.teardown(() => receiver.close())
  return receiver
}
