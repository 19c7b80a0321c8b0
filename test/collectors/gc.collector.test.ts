import t from 'tap'
import gc from '../../src/collectors/gc.collector.js'
import type { HistogramSample, ScalarSample } from '../../src/core/metrics.js'
import { MalformedReplyError } from '../../src/core/errors.js'
import { recordedReply } from '../helpers/replies.js'

interface GcReply {
  seq: number
  byKind: Record<string, { count: number; sumMs: number; buckets: number[] }>
  lastFloor: number
  lastMajorAt: number
  events: Array<[number, string, number, number]>
  floors: Array<[number, number, number]>
}

t.test('gc: histogram per kind from the recorded observer state', async (t) => {
  const raw = recordedReply('gc.1') as GcReply
  const output = gc.parse(raw, undefined, 0)
  const histograms = output.samples.filter((s): s is HistogramSample => 'buckets' in s)
  t.ok(histograms.length >= 2, 'minor and major at least')
  for (const sample of histograms) {
    const kind = sample.labels?.['kind'] ?? ''
    const stats = raw.byKind[kind]
    t.ok(stats, `kind ${kind} recorded`)
    t.equal(sample.count, stats?.count)
    t.equal(sample.sum, (stats?.sumMs ?? 0) / 1000)
    t.equal(sample.buckets.reduce((a, b) => a + b, 0), stats?.count, 'buckets add up to the count')
  }
  const scalar = (key: string): number | undefined =>
    (output.samples as ScalarSample[]).find((s) => s.key === key)?.value
  t.equal(scalar('heapAfterMajorGc'), raw.lastFloor)
  t.equal(scalar('lastMajorGcTime'), raw.lastMajorAt / 1000)
  t.equal(output.state.lastSeq, raw.seq)
  t.equal(output.gcEvents?.length, raw.events.length, 'first read hands over every buffered event')
  t.equal(output.floors?.length, raw.floors.length)
  t.equal(scalar('gcEventsDropped'), 0)
})

t.test('gc: later reads hand over only new events and count dropped ones', async (t) => {
  const first = recordedReply('gc.1') as GcReply
  const second = recordedReply('gc.2') as GcReply
  const state = gc.parse(first, undefined, 0).state
  const next = gc.parse(second, state, 0)
  t.ok(next.gcEvents?.every((event) => event.seq > first.seq), 'no event handed over twice')
  t.equal(next.state.lastSeq, second.seq)
  // Pretend the ring lost 40 events between reads.
  const gap: GcReply = { ...second, seq: first.seq + 50, events: [[first.seq + 41, 'minor', 1, 0]], floors: [] }
  const lossy = gc.parse(gap, state, 0)
  t.equal(lossy.state.dropped, 40)
  // A sequence that went backwards is a new agent: nothing counted as dropped.
  const restarted = gc.parse({ ...first, seq: 2, events: [[1, 'minor', 1, 0], [2, 'major', 3, 0]] }, lossy.state, 0)
  t.equal(restarted.gcEvents?.length, 2)
  t.equal(restarted.state.dropped, 40)
})

t.test('gc: hostile replies are refused with a coded error', async (t) => {
  const raw = recordedReply('gc.1') as GcReply
  t.throws(() => gc.parse({ ...raw, seq: -1 }, undefined, 0), MalformedReplyError)
  t.throws(() => gc.parse({ ...raw, events: new Array(10_000).fill([1, 'minor', 1, 0]) }, undefined, 0), MalformedReplyError)
  t.throws(() => gc.parse({ ...raw, byKind: { major: { count: 1, sumMs: 1, buckets: [1] } } }, undefined, 0), MalformedReplyError)
  t.throws(() => gc.parse({ ...raw, byKind: { bogus: raw.byKind['minor'] } }, undefined, 0), MalformedReplyError)
  t.throws(() => gc.parse({ unavailable: 'no PerformanceObserver' }, undefined, 0), { code: 'LW_ERR_UNAVAILABLE' })
})

