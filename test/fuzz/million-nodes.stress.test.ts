/**
 * One 10^6-node profile (a random tree, depth ~40, realistic frames), built
 * once in a worker: aggregateSites (capped at its 500 000-node maxNodes),
 * toHeapProfileJson and toPprof must each finish within 20 s. A linear pass over
 * 10^6 nodes takes 1-4 s on an idle 2-core machine (about what JSON.parse of the
 * ~165 MB reply costs the inspector client anyway), up to ~10 s on a machine
 * loaded 3×; a quadratic one would take hours, an O(nodes × 1024) one minutes.
 */
import t from 'tap'
import { report, runJob } from './fixtures/heavy.js'
import type { HeavyJob } from './fixtures/heavy-worker.js'

const MILLION_BOUND_MS = 20_000

t.test('a 10^6-node tree: sites, .heapprofile, pprof', async (t) => {
  const job: HeavyJob = { input: 'big', nodes: 1_000_000, steps: ['sites', 'json', 'pprof'] }
  const result = await runJob(job, MILLION_BOUND_MS)
  report(t, job, result, () => MILLION_BOUND_MS)
  const sites = result.steps.find((s) => s.name === 'sites')?.summary
  t.equal(sites?.['truncated'], true, 'truncated')
  t.equal(sites?.['visited'], 500_000, 'at maxNodes')
  t.equal(sites?.['sitesSum'], sites?.['totalBytes'], 'sum of site bytes = totalBytes')
})
