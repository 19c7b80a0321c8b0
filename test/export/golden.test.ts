// The whole /metrics of a target built from recorded replies, compared byte for byte with
// test/fixtures/golden/metrics.prom (regenerate with `npm run golden` after a deliberate change).
import { readFileSync } from 'node:fs'
import t from 'tap'
import { GOLDEN_FILE, goldenExposition } from '../helpers/golden.js'
import { checkMetrics } from '../helpers/promtool.js'

t.test('the exposition equals the golden file', async (t) => {
  const exposition = await goldenExposition()
  const golden = readFileSync(GOLDEN_FILE, 'utf8')
  t.equal(exposition, golden, 'test/fixtures/golden/metrics.prom is current (npm run golden regenerates it)')
})

t.test('the golden exposition is promtool-clean', async (t) => {
  const { status, output } = checkMetrics(readFileSync(GOLDEN_FILE, 'utf8'))
  t.equal(output.trim(), '', 'no lint findings')
  t.equal(status, 0)
})
