// HTTP traffic as load (issue 10): the request rate a target serves, read from the http
// collector's counter, holds back growth under more traffic than usual, as utilization does
// for a busier event loop; but it is known after minutes rather than a whole window, and it
// counts near the limit too unless the limit is within a window.
import t from 'tap'
import { elevatedTraffic, type TrafficLevel } from '../../src/analysis/load-reasons.js'
import { evaluateFast, type LoadLevel } from '../../src/analysis/verdict.js'
import { LOAD_THRESHOLDS } from '../helpers/config.js'
import { LoadTracker, trafficLevel } from '../../src/leak/load-tracker.js'
import { BucketSeries } from '../../src/analysis/series.js'

const MIN = 60_000
const HOUR = 3_600_000
const config = LOAD_THRESHOLDS

const traffic = (window: number, baseline: number, spread: number, baselineMs = 20 * MIN, baselineRequests = 5000, spanMs = 30 * MIN): TrafficLevel => ({
  spanMs,
  window,
  baseline,
  spread,
  baselineMs,
  baselineRequests,
})

t.test('the tracker turns the counter into per-poll rates, and starts over when the counter goes back', async (t) => {
  const tracker = new LoadTracker()
  let count = 0
  // 4 requests/s for 20 min, then 8/s for 30 min: 15 s polls; the agent reinstalled at 25 min.
  for (let time = 0; time <= 50 * MIN; time += 15_000) {
    if (time === 25 * MIN) count = 0
    else count += (time <= 20 * MIN ? 4 : 8) * 15
    tracker.record(time, 0.03, 0, false, count)
  }
  const level = tracker.level(50 * MIN, 30 * MIN, 0)
  t.equal(level?.traffic?.length, 2, 'over the window and over its last third')
  const [window, last] = level!.traffic!
  t.equal(window!.spanMs, 30 * MIN)
  t.equal(window!.window, 8, 'the window: 8/s')
  t.equal(window!.baseline, 4, 'before it: 4/s')
  t.equal(window!.spread, 0)
  t.equal(window!.baselineMs, 20 * MIN, 'from the first rate (its interval included) to the window')
  t.equal(window!.baselineRequests, 4 * (20 * 60 - 15), 'the rate read at the window start counts in the window')
  t.equal(last!.spanMs, 10 * MIN)
  t.equal(last!.window, 8)
  t.equal(last!.baselineMs, 40 * MIN)
  const noHttp = new LoadTracker()
  for (let time = 0; time <= 50 * MIN; time += 15_000) noHttp.record(time, 0.03, 0, false, undefined)
  t.equal(noHttp.level(50 * MIN, 30 * MIN, 0)?.traffic, undefined, 'no counter read: no traffic')
  t.ok(Number.isNaN(noHttp.trafficAt(50 * MIN, MIN)), 'no counter read: no rate at a floor')
  // A floor point's traffic: the rate over the floor window before it (4/s, then 8/s).
  t.equal(tracker.trafficAt(20 * MIN, MIN), 4)
  t.equal(tracker.trafficAt(22 * MIN, MIN), 8)
  t.equal(tracker.trafficAt(20 * MIN + 30_000, MIN), 6, 'a window across the change: weighted by the intervals')
  tracker.clear()
  t.equal(tracker.level(50 * MIN, 30 * MIN, 0), undefined, 'cleared')
})

t.test('a traffic level needs rates on both sides of the window start', async (t) => {
  const times = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => i * 15_000)
  const rates = { times, values: times.map(() => 5), spans: times.map(() => 15_000) }
  t.equal(trafficLevel(rates, 0, 10 * MIN), undefined, 'all in the window')
  t.equal(trafficLevel(rates, 10 * MIN, 10 * MIN), undefined, 'all before it')
  t.same(trafficLevel(rates, 4.5 * 15_000, 8 * 15_000), { spanMs: 3.5 * 15_000, window: 5, baseline: 5, spread: 0, baselineMs: 4.5 * 15_000, baselineRequests: 300 })
})

t.test('more traffic than usual: by half again, beyond twice the spread, over a known baseline', async (t) => {
  t.match(elevatedTraffic([traffic(8, 4, 0.5)], config), /served more HTTP requests over the window \(8\.00\/s\) than before it \(4\.00\/s, median of the previous 20m; 2\.00× ≥ 1\.5×/)
  t.equal(elevatedTraffic([traffic(5.5, 4, 0.5)], config), undefined, '1.375×')
  t.equal(elevatedTraffic([traffic(8, 4, 2.5)], config), undefined, 'within twice the usual spread')
  t.equal(elevatedTraffic([traffic(8, 4, 0.5, 5 * MIN)], config), undefined, 'a baseline under a quarter window')
  t.equal(elevatedTraffic([traffic(0.8, 0.1, 0, 20 * MIN, 60)], config), undefined, 'health checks: too few requests to say')
  t.equal(elevatedTraffic([traffic(3, 0, 0)], config), undefined, 'no traffic before')
  t.equal(elevatedTraffic(undefined, config), undefined)
  t.match(
    elevatedTraffic([traffic(4.5, 4, 0.5), traffic(9, 4, 0.5, 30 * MIN, 7000, 10 * MIN)], config),
    /more HTTP requests over the last 10m \(9\.00\/s\) than before it \(4\.00\/s, median of the previous 30m/,
    'a burst that began late in the window',
  )
})

/** A young service (40 min) whose floor rises 4 MB/min while its traffic doubled, utilization flat at 2 %. */
function burstCase(trafficWindow: number) {
  const now = 40 * MIN
  const times = Array.from({ length: 30 }, (_, i) => now - (29 - i) * MIN)
  const floor = { times, values: times.map((_, i) => 100e6 + 4e6 * i + (i % 3) * 50_000) }
  // Utilization barely moves and its baseline is younger than a window: the rules on it say nothing.
  const level: LoadLevel = { window: 0.021, baseline: 0.02, spread: 0.003, baselineMs: 10 * MIN, traffic: [traffic(trafficWindow, 4, 0.4, 10 * MIN, 2400)] }
  return { now, floor, level }
}

t.test('a burst of traffic holds growth back even when the limit is hours away; not when it is within a window', async (t) => {
  const burst = burstCase(8)
  // 4 MB/min: 512 MB is ~1.6 h away (urgent by the limit, 4 h horizon), 250 MB ~26 min away.
  const held = evaluateFast(burst.floor, burst.now, config, 0, 512e6, undefined, burst.level)
  t.equal(held.positive, false)
  t.match(held.reasons.join('; '), /load: the target has served more HTTP requests/)
  const imminent = evaluateFast(burst.floor, burst.now, config, 0, 250e6, undefined, burst.level)
  t.equal(imminent.positive, true, `the limit within a window: raised (${imminent.reasons.join('; ')})`)
  t.ok(imminent.urgentByLimit)
  const steady = burstCase(4.2)
  const raised = evaluateFast(steady.floor, steady.now, config, 0, 512e6, undefined, steady.level)
  t.equal(raised.positive, true, `the same growth at the usual traffic is raised (${raised.reasons.join('; ')})`)
})

t.test('the slow series keeps the mean traffic of each bucket beside its lowest floor', async (t) => {
  const series = new BucketSeries(10 * MIN, 10)
  series.add(1 * MIN, 100, 0.2, 4)
  series.add(2 * MIN, 90, 0.4, 8)
  series.add(11 * MIN, 95, 0.3)
  t.same(series.all(), [
    { timeMs: 2 * MIN, value: 90, load: 0.30000000000000004, traffic: 6 },
    { timeMs: 11 * MIN, value: 95, load: 0.3, traffic: Number.NaN },
  ])
})
