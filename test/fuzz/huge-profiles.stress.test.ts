/**
 * Huge profiles, built programmatically (not via fast-check): 10^5-deep
 * chains and 10^5 siblings. Every step must finish within 2 s; jobs run in a
 * worker thread that is stopped when a step overruns, so a quadratic walk
 * fails fast instead of holding the suite for minutes.
 */
import t from 'tap'
import { report, runJob } from './fixtures/heavy.js'
import type { HeavyJob } from './fixtures/heavy-worker.js'

const BOUND_MS = 2_000

t.test('10^5-deep chain of application frames: sites, .heapprofile', async (t) => {
  const job: HeavyJob = { input: 'chain-app', nodes: 100_000, steps: ['sites', 'json'] }
  const result = await runJob(job, BOUND_MS)
  report(t, job, result, () => BOUND_MS)
  const sites = result.steps.find((s) => s.name === 'sites')?.summary
  t.equal(sites?.['totalBytes'], (100_000 * 100_001) / 2, 'every node counted')
  t.equal(sites?.['sitesSum'], sites?.['totalBytes'], 'sum of site bytes = totalBytes')
})

t.test('10^5 siblings: sites, .heapprofile, pprof', async (t) => {
  const job: HeavyJob = { input: 'wide', nodes: 100_000, steps: ['sites', 'json', 'pprof'] }
  const result = await runJob(job, BOUND_MS)
  report(t, job, result, () => BOUND_MS)
  const sites = result.steps.find((s) => s.name === 'sites')?.summary
  t.equal(sites?.['visited'], 100_001)
  t.equal(sites?.['sitesSum'], sites?.['totalBytes'])
})

t.test('deep-chain bugs (both jobs run side by side; each is stopped after its bound)', async (t) => {
  const synthetic: HeavyJob = { input: 'chain-synthetic', nodes: 100_000, steps: ['sites'] }
  const plain: HeavyJob = { input: 'chain-plain', nodes: 100_000, steps: ['json', 'pprof'] }
  const [syntheticResult, plainResult] = await Promise.all([runJob(synthetic, BOUND_MS), runJob(plain, BOUND_MS)])

  t.test('regression (found by fuzzing): aggregateSites: quadratic on a deep chain of V8 pseudo-frames ((program)); 10^5 nodes take minutes', async (t) => {
    // stackOf() stops after maxStackFrames *kept* frames but skips synthetic frames without counting them,
    // so on a chain of (program) nodes every new or heavier site walks to the root: O(depth²).
    report(t, synthetic, syntheticResult, () => BOUND_MS)
  })

  t.test('regression (found by fuzzing): toPprof: a 10^5-deep chain takes ~8 s and yields ~100 MB (nodes × maxStackDepth 1024)', async (t) => {
    report(t, plain, plainResult, () => BOUND_MS)
  })
})
