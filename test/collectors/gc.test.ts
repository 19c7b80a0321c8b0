import t from 'tap'
import { gcCollector } from '../../src/collectors/gc.js'
import { eventLoopCollector } from '../../src/collectors/event-loop.js'
import type { HistogramSample, ScalarSample } from '../../src/collectors/types.js'
import { MalformedReplyError } from '../../src/errors.js'
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
  const output = gcCollector.parse(raw, undefined, 0)
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
  const state = gcCollector.parse(first, undefined, 0).state
  const next = gcCollector.parse(second, state, 0)
  t.ok(next.gcEvents?.every((event) => event.seq > first.seq), 'no event handed over twice')
  t.equal(next.state.lastSeq, second.seq)
  // Pretend the ring lost 40 events between reads.
  const gap: GcReply = { ...second, seq: first.seq + 50, events: [[first.seq + 41, 'minor', 1, 0]], floors: [] }
  const lossy = gcCollector.parse(gap, state, 0)
  t.equal(lossy.state.dropped, 40)
  // A sequence that went backwards is a new agent: nothing counted as dropped.
  const restarted = gcCollector.parse({ ...first, seq: 2, events: [[1, 'minor', 1, 0], [2, 'major', 3, 0]] }, lossy.state, 0)
  t.equal(restarted.gcEvents?.length, 2)
  t.equal(restarted.state.dropped, 40)
})

t.test('gc: hostile replies are refused with a coded error', async (t) => {
  const raw = recordedReply('gc.1') as GcReply
  t.throws(() => gcCollector.parse({ ...raw, seq: -1 }, undefined, 0), MalformedReplyError)
  t.throws(() => gcCollector.parse({ ...raw, events: new Array(10_000).fill([1, 'minor', 1, 0]) }, undefined, 0), MalformedReplyError)
  t.throws(() => gcCollector.parse({ ...raw, byKind: { major: { count: 1, sumMs: 1, buckets: [1] } } }, undefined, 0), MalformedReplyError)
  t.throws(() => gcCollector.parse({ ...raw, byKind: { bogus: raw.byKind['minor'] } }, undefined, 0), MalformedReplyError)
  t.throws(() => gcCollector.parse({ unavailable: 'no PerformanceObserver' }, undefined, 0), { code: 'LW_ERR_UNAVAILABLE' })
})

t.test('eventLoop: utilization as a delta, delay beyond the sampling period', async (t) => {
  const first = recordedReply('eventLoop.1') as { elu: { idle: number; active: number } }
  const second = recordedReply('eventLoop.2') as {
    elu: { idle: number; active: number }
    delay: { min: number; p99: number; stddev: number }
    resolutionMs: number
  }
  const one = eventLoopCollector.parse(first, undefined, 0)
  t.notOk(one.samples.some((s) => s.key === 'eventLoopUtilization'), 'no utilization without a previous reading')
  const two = eventLoopCollector.parse(second, one.state, 0)
  const scalar = (key: string): number | undefined => (two.samples as ScalarSample[]).find((s) => s.key === key)?.value
  const expected =
    (second.elu.active - first.elu.active) / (second.elu.active - first.elu.active + second.elu.idle - first.elu.idle)
  t.equal(scalar('eventLoopUtilization'), expected)
  t.equal(second.resolutionMs, 100, 'recorded at the default resolution')
  t.equal(scalar('eventLoopDelayP99'), Math.max(0, second.delay.p99 - second.resolutionMs * 1e6) / 1e9)
  // The resolution in force is the agent's, whatever this sidecar's setting: it is what is subtracted.
  const fine = eventLoopCollector.parse({ ...second, resolutionMs: 10, delay: { ...second.delay, p99: 25e6 } }, one.state, 0)
  t.equal((fine.samples as ScalarSample[]).find((s) => s.key === 'eventLoopDelayP99')?.value, 0.015)
  t.equal(scalar('eventLoopDelayStddev'), second.delay.stddev / 1e9)
  t.ok((scalar('eventLoopDelayMin') ?? -1) >= 0, 'never negative')
  // A process restart makes the cumulative counters go backwards: a new baseline, no sample.
  const reset = eventLoopCollector.parse({ ...second, elu: { idle: 1, active: 1, utilization: 0.5 } }, two.state, 0)
  t.notOk(reset.samples.some((s) => s.key === 'eventLoopUtilization'))
  t.same(reset.state, { idleMs: 1, activeMs: 1 })
  const noDelay = eventLoopCollector.parse({ elu: null, delay: null, delayAvailable: false, resolutionMs: 100 }, undefined, 0)
  t.same(noDelay.samples, [])
  t.throws(() => eventLoopCollector.parse({ elu: 3 }, undefined, 0), MalformedReplyError)
  t.throws(() => eventLoopCollector.parse({ ...second, resolutionMs: 0 }, undefined, 0), MalformedReplyError)
  t.throws(() => eventLoopCollector.parse({ ...second, resolutionMs: undefined }, undefined, 0), MalformedReplyError)
})
