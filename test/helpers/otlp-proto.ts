// Decoding of OTLP/HTTP protobuf metric requests for the test receiver, with protobufjs.
// The schema is the part of opentelemetry-proto v1 (collector/metrics/v1/metrics_service.proto,
// metrics/v1/metrics.proto, common/v1/common.proto, resource/v1/resource.proto) that a
// metrics export uses, transcribed with its field numbers; fields the exporters never send
// (exemplars, exponential histograms, summaries, entity refs) are left out and would be
// skipped as unknown fields. A wrong number here makes the decoded requests disagree with
// the JSON ones the same tests check, so the transcription is itself under test.
import protobuf from 'protobufjs'
import type { OtlpExportMetricsRequest } from './otlp-receiver.js'

const field = (id: number, type: string, rule?: 'repeated') => ({ id, type, ...(rule ? { rule } : {}) })

const SCHEMA = {
  nested: {
    otlp: {
      nested: {
        AnyValue: {
          oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
          fields: {
            stringValue: field(1, 'string'),
            boolValue: field(2, 'bool'),
            intValue: field(3, 'int64'),
            doubleValue: field(4, 'double'),
            arrayValue: field(5, 'ArrayValue'),
            kvlistValue: field(6, 'KeyValueList'),
            bytesValue: field(7, 'bytes'),
          },
        },
        ArrayValue: { fields: { values: field(1, 'AnyValue', 'repeated') } },
        KeyValueList: { fields: { values: field(1, 'KeyValue', 'repeated') } },
        KeyValue: { fields: { key: field(1, 'string'), value: field(2, 'AnyValue') } },
        InstrumentationScope: { fields: { name: field(1, 'string'), version: field(2, 'string'), attributes: field(3, 'KeyValue', 'repeated') } },
        Resource: { fields: { attributes: field(1, 'KeyValue', 'repeated'), droppedAttributesCount: field(2, 'uint32') } },
        ExportMetricsServiceRequest: { fields: { resourceMetrics: field(1, 'ResourceMetrics', 'repeated') } },
        ResourceMetrics: { fields: { resource: field(1, 'Resource'), scopeMetrics: field(2, 'ScopeMetrics', 'repeated'), schemaUrl: field(3, 'string') } },
        ScopeMetrics: { fields: { scope: field(1, 'InstrumentationScope'), metrics: field(2, 'Metric', 'repeated'), schemaUrl: field(3, 'string') } },
        Metric: {
          oneofs: { data: { oneof: ['gauge', 'sum', 'histogram'] } },
          fields: {
            name: field(1, 'string'),
            description: field(2, 'string'),
            unit: field(3, 'string'),
            gauge: field(5, 'Gauge'),
            sum: field(7, 'Sum'),
            histogram: field(9, 'Histogram'),
          },
        },
        Gauge: { fields: { dataPoints: field(1, 'NumberDataPoint', 'repeated') } },
        Sum: { fields: { dataPoints: field(1, 'NumberDataPoint', 'repeated'), aggregationTemporality: field(2, 'int32'), isMonotonic: field(3, 'bool') } },
        Histogram: { fields: { dataPoints: field(1, 'HistogramDataPoint', 'repeated'), aggregationTemporality: field(2, 'int32') } },
        NumberDataPoint: {
          oneofs: { value: { oneof: ['asDouble', 'asInt'] } },
          fields: {
            attributes: field(7, 'KeyValue', 'repeated'),
            startTimeUnixNano: field(2, 'fixed64'),
            timeUnixNano: field(3, 'fixed64'),
            asDouble: field(4, 'double'),
            asInt: field(6, 'sfixed64'),
            flags: field(8, 'uint32'),
          },
        },
        HistogramDataPoint: {
          fields: {
            attributes: field(9, 'KeyValue', 'repeated'),
            startTimeUnixNano: field(2, 'fixed64'),
            timeUnixNano: field(3, 'fixed64'),
            count: field(4, 'fixed64'),
            sum: field(5, 'double'),
            bucketCounts: field(6, 'fixed64', 'repeated'),
            explicitBounds: field(7, 'double', 'repeated'),
            flags: field(10, 'uint32'),
            min: field(11, 'double'),
            max: field(12, 'double'),
          },
        },
      },
    },
  },
}

const Request = protobuf.Root.fromJSON(SCHEMA).lookupType('otlp.ExportMetricsServiceRequest')

/** An ExportMetricsServiceRequest in the shape of its OTLP/JSON encoding (64-bit integers as strings). */
export function decodeMetricsRequest(body: Uint8Array): OtlpExportMetricsRequest {
  const message = Request.decode(body)
  return Request.toObject(message, { longs: String, defaults: false, arrays: true }) as OtlpExportMetricsRequest
}
