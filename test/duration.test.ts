import t from 'tap'
import { DURATION_FORMS, formatDuration, formatSpan, parseDuration } from '../src/core/duration.js'
import { ConfigError } from '../src/core/errors.js'

t.test('parseDuration: single units', async (t) => {
  t.equal(parseDuration('500ms'), 500)
  t.equal(parseDuration('15s'), 15_000)
  t.equal(parseDuration('5m'), 300_000)
  t.equal(parseDuration('1h'), 3_600_000)
  t.equal(parseDuration('0s'), 0)
  t.equal(parseDuration('0ms'), 0)
  t.equal(parseDuration('100ms'), 100)
})

t.test('parseDuration: fractions are rounded to whole milliseconds', async (t) => {
  t.equal(parseDuration('1.5s'), 1_500)
  t.equal(parseDuration('0.25m'), 15_000)
  t.equal(parseDuration('.5s'), 500)
  t.equal(parseDuration('1.5h'), 5_400_000)
  t.equal(parseDuration('1.4ms'), 1)
  t.equal(parseDuration('1.6ms'), 2)
})

t.test('parseDuration: compounds', async (t) => {
  t.equal(parseDuration('1m30s'), 90_000)
  t.equal(parseDuration('1h30m'), 5_400_000)
  t.equal(parseDuration('1h2m3s4ms'), 3_723_004)
  t.equal(parseDuration('1s500ms'), 1_500)
  t.equal(parseDuration('2m0.5s'), 120_500)
})

t.test('parseDuration: surrounding whitespace is ignored', async (t) => {
  t.equal(parseDuration(' 15s '), 15_000)
  t.equal(parseDuration('\t1m30s\n'), 90_000)
})

t.test('parseDuration: refuses anything else with a clear message', async (t) => {
  const bad = ['15', '1.5', '', ' ', 's', 'ms', '-5s', '+5s', '5 s', '1m 30s', '5S', '5sec', '5d', '1e3ms', '15s,', 'abc', '1..5s', '5.s']
  for (const text of bad) {
    t.throws(
      () => parseDuration(text),
      { message: `invalid configuration:\n  - ${JSON.stringify(text)} is not a duration (use 500ms, 15s, 5m, 1h)` },
      `refuses ${JSON.stringify(text)}`,
    )
  }
})

t.test('parseDuration: throws a ConfigError whose problem names the accepted forms', async (t) => {
  let caught: unknown
  try {
    parseDuration('15')
  } catch (error) {
    caught = error
  }
  t.ok(caught instanceof ConfigError)
  t.strictSame((caught as ConfigError).problems, ['"15" is not a duration (use 500ms, 15s, 5m, 1h)'])
  t.equal((caught as ConfigError).code, 'LW_ERR_CONFIG')
  t.equal(DURATION_FORMS, '500ms, 15s, 5m, 1h')
})

t.test('parseDuration: absurdly long durations are refused', async (t) => {
  t.throws(() => parseDuration(`${'9'.repeat(400)}h`), { message: /is too long a duration/ })
})

t.test('formatDuration', async (t) => {
  t.equal(formatDuration(0), '0ms')
  t.equal(formatDuration(1), '1ms')
  t.equal(formatDuration(500), '500ms')
  t.equal(formatDuration(1_000), '1s')
  t.equal(formatDuration(1_500), '1s500ms')
  t.equal(formatDuration(15_000), '15s')
  t.equal(formatDuration(60_000), '1m')
  t.equal(formatDuration(90_000), '1m30s')
  t.equal(formatDuration(3_600_000), '1h')
  t.equal(formatDuration(3_723_004), '1h2m3s4ms')
  t.equal(formatDuration(90_000_000), '25h')
  t.equal(formatDuration(1.6), '2ms')
  t.throws(() => formatDuration(-1), RangeError)
  t.throws(() => formatDuration(Number.NaN), RangeError)
  t.throws(() => formatDuration(Number.POSITIVE_INFINITY), RangeError)
})

t.test('formatDuration output parses back to the same value', async (t) => {
  for (const ms of [0, 1, 99, 100, 999, 1_000, 1_001, 59_999, 60_000, 61_234, 3_599_999, 3_600_000, 86_400_000 + 1]) {
    t.equal(parseDuration(formatDuration(ms)), ms, `round trip ${ms}`)
  }
})

t.test('formatSpan: the span of a reason text, to the second, in any unit a compressed window needs', async (t) => {
  t.equal(formatSpan(0), '0s')
  t.equal(formatSpan(499), '0s')
  t.equal(formatSpan(4 * 60_000), '4m', 'a 4 h window at 60x is 4 min, not "0.1 h"')
  t.equal(formatSpan(3_600_000 + 1_600), '1h2s')
  t.equal(formatSpan(-5), '0s')
})
