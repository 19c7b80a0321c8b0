import t from 'tap'
import eventLoop from '../../src/collectors/event-loop.collector.js'
import type { ScalarSample } from '../../src/core/metrics.js'
import { MalformedReplyError } from '../../src/core/errors.js'
import { recordedReply } from '../helpers/replies.js'

t.test('eventLoop: utilization as a delta, delay beyond the sampling period', async (t) => {
  const first = recordedReply('eventLoop.1') as { elu: { idle: number; active: number } }
  const second = recordedReply('eventLoop.2') as {
    elu: { idle: number; active: number }
    delay: { min: number; p99: number; stddev: number }
    resolutionMs: number
  }
  const one = eventLoop.parse(first, undefined, 0)
  t.notOk(one.samples.some((s) => s.key === 'eventLoopUtilization'), 'no utilization without a previous reading')
  const two = eventLoop.parse(second, one.state, 0)
  const scalar = (key: string): number | undefined => (two.samples as ScalarSample[]).find((s) => s.key === key)?.value
  const expected =
    (second.elu.active - first.elu.active) / (second.elu.active - first.elu.active + second.elu.idle - first.elu.idle)
  t.equal(scalar('eventLoopUtilization'), expected)
  t.equal(second.resolutionMs, 100, 'recorded at the default resolution')
  t.equal(scalar('eventLoopDelayP99'), Math.max(0, second.delay.p99 - second.resolutionMs * 1e6) / 1e9)
  // The resolution in force is the agent's, whatever this sidecar's setting: it is what is subtracted.
  const fine = eventLoop.parse({ ...second, resolutionMs: 10, delay: { ...second.delay, p99: 25e6 } }, one.state, 0)
  t.equal((fine.samples as ScalarSample[]).find((s) => s.key === 'eventLoopDelayP99')?.value, 0.015)
  t.equal(scalar('eventLoopDelayStddev'), second.delay.stddev / 1e9)
  t.ok((scalar('eventLoopDelayMin') ?? -1) >= 0, 'never negative')
  // A process restart makes the cumulative counters go backwards: a new baseline, no sample.
  const reset = eventLoop.parse({ ...second, elu: { idle: 1, active: 1, utilization: 0.5 } }, two.state, 0)
  t.notOk(reset.samples.some((s) => s.key === 'eventLoopUtilization'))
  t.same(reset.state, { idleMs: 1, activeMs: 1 })
  const noDelay = eventLoop.parse({ elu: null, delay: null, delayAvailable: false, resolutionMs: 100 }, undefined, 0)
  t.same(noDelay.samples, [])
  t.throws(() => eventLoop.parse({ elu: 3 }, undefined, 0), MalformedReplyError)
  t.throws(() => eventLoop.parse({ ...second, resolutionMs: 0 }, undefined, 0), MalformedReplyError)
  t.throws(() => eventLoop.parse({ ...second, resolutionMs: undefined }, undefined, 0), MalformedReplyError)
})

t.test("eventLoop: time by state (nodejs.eventloop.time) and prom-client's lag", async (t) => {
  const second = recordedReply('eventLoop.2') as { elu: { idle: number; active: number }; lagSeconds: number | null }
  const { samples } = eventLoop.parse(second, undefined, 0)
  const of = (key: string, state?: string): number | undefined =>
    (samples as ScalarSample[]).find((s) => s.key === key && (state === undefined || s.labels?.['state'] === state))?.value
  t.equal(of('eventLoopTime', 'active'), second.elu.active / 1000, 'seconds active since the start, a counter')
  t.equal(of('eventLoopTime', 'idle'), second.elu.idle / 1000)
  t.ok(typeof second.lagSeconds === 'number', 'the second read carries the lag the first one measured')
  t.equal(of('eventLoopLag'), second.lagSeconds)
  const first = recordedReply('eventLoop.1') as { lagSeconds: number | null }
  t.equal(first.lagSeconds, null, 'nothing measured before the first read')
  t.notOk(eventLoop.parse(first, undefined, 0).samples.some((s) => s.key === 'eventLoopLag'), 'no lag sample before it is measured')
  t.throws(() => eventLoop.parse({ ...second, lagSeconds: -1 }, undefined, 0), MalformedReplyError)
})
