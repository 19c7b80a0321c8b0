// The whole /metrics of a target built from recorded replies, compared byte for byte with
// test/fixtures/golden/metrics.prom (regenerate with `npm run golden` after a deliberate change).
import { readFileSync } from 'node:fs'
import t from 'tap'
import { GOLDEN_FILE, goldenExposition } from '../helpers/golden.js'
import { ACCEPTED_FINDINGS, checkMetrics, lintFindings } from '../helpers/promtool.js'

t.test('the exposition equals the golden file', async (t) => {
  const exposition = await goldenExposition()
  const golden = readFileSync(GOLDEN_FILE, 'utf8')
  t.equal(exposition, golden, 'test/fixtures/golden/metrics.prom is current (npm run golden regenerates it)')
})

t.test("the golden exposition is promtool-clean but for prom-client's own names", async (t) => {
  const { status, output } = checkMetrics(readFileSync(GOLDEN_FILE, 'utf8'))
  t.ok(ACCEPTED_FINDINGS.length > 0, "prom-client's _total gauges are in the catalog")
  t.same(lintFindings(output), ACCEPTED_FINDINGS, "no lint finding but prom-client's _total gauges")
  // promtool exits 3 on lint findings, 1 on a malformed exposition.
  t.equal(status, 3)
})
