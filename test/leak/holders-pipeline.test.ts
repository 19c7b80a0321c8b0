// The holder search wired into the sidecar: a heap verdict on a real leaking target starts
// searches, the API and /metrics name the growing holder, and searches on request need the token.
import t, { type Test } from 'tap'
import { Sidecar } from '../../src/sidecar.js'
import { testConfig, type TestConfigOverrides } from '../helpers/config.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

const TOKEN = 'holders-test-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }

interface HolderJson {
  label: string
  path: string[]
  kind: string
  size: number
  previousSize: number | null
  growing: boolean
  growthPerSecond: number | null
  floors?: { low: number; previousLow: number | null }
  slowGrowth?: { bytesPerSecond: number; minBytesPerSecond: number }
  elementShape: string[]
  retainedBytes: number
  allocationSite: { label: string; slopeBytesPerSecond: number; basis: string } | null
}
interface HoldersJson {
  target: string
  mode: string
  running: boolean
  searchedAt: string | null
  firstSearch: boolean
  holders: HolderJson[]
  cost: { longestSliceMs: number; slices: number } | null
  searches: { done: number; refused: number; failed: number }
}

async function start(t: Test, port: number, overrides: TestConfigOverrides): Promise<{ sidecar: Sidecar; url: string }> {
  const sidecar = new Sidecar(testConfig([{ name: 'app', port }], overrides), { logger: false })
  const url = await sidecar.start()
  t.teardown(() => sidecar.stop())
  return { sidecar, url }
}

const holders = async (url: string, headers: Record<string, string> = auth): Promise<HoldersJson> =>
  (await (await fetch(`${url}/api/targets/app/holders`, { headers })).json()) as HoldersJson

t.test('a heap verdict starts holder searches: the growing array is named with its path, in the API and /metrics', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', env: { LEAK: '1' } })
  const { url } = await start(t, target.port, { http: { apiToken: TOKEN, protectMetrics: false, protectHealth: false } })
  const found = await waitFor(
    async () => {
      const body = await holders(url)
      return body.searches.done >= 2 && body.holders.some((h) => h.growing) && body
    },
    { timeoutMs: 60_000, what: 'two holder searches and a growing holder' },
  )
  t.equal(found.target, 'app')
  t.equal(found.firstSearch, false, 'growth known after the second search')
  const top = found.holders[0] as HolderJson
  t.ok(top.growing, 'ranked first: the growing holder')
  t.equal(top.kind, 'Array')
  t.match(top.path.join(' → '), /leaked|__leakwatchFixtureLeak/, `path ${top.path.join(' → ')} names the variable`)
  t.match(top.path[0], /cjs-target\.cjs|globalThis/, 'the root names its script or the global object')
  t.ok((top.growthPerSecond ?? 0) > 10, `grows ${top.growthPerSecond}/s (50 pushes/s)`)
  // The polls between the two searches sampled its size: never below its previous one.
  t.equal(top.floors?.low, top.previousSize, `sampled between the searches: ${JSON.stringify(top.floors)}`)
  t.ok(top.elementShape.length > 0, `element shape ${top.elementShape.join(', ')}`)
  t.ok(top.retainedBytes > top.size * 1000, `retains ~${top.retainedBytes} B: ~10 KB per element`)
  t.ok((found.cost?.slices ?? 0) > 0 && (found.cost?.longestSliceMs ?? 0) < 1000, 'the cost is reported')
  // leakwatch's own agent (its GC observer's rings, reached through its closures) is never reported.
  const own = found.holders.filter((h) => /‹parts›|\.state → \.(events|floors)/.test(h.path.join(' → ')))
  t.same(own.map((h) => h.label), [], "no holder of leakwatch's agent")
  const metrics = await (await fetch(`${url}/metrics`)).text()
  const size = new RegExp(`^leakwatch_holder_size\\{target="app",holder="[^"]*(leaked|__leakwatchFixtureLeak)[^"]*",kind="Array"\\} (\\d+)$`, 'm').exec(metrics)
  t.ok(size !== null, 'leakwatch_holder_size names the holder')
  t.match(metrics, /^leakwatch_holder_growth_per_second\{target="app",holder="[^"]+",kind="Array"\} \d/m)
  t.match(metrics, /^leakwatch_holder_searches_total\{target="app",outcome="done"\} [2-9]/m)
  t.match(metrics, /^leakwatch_holder_search_cost_seconds_total\{target="app"\} \d/m)
  // The API is behind the token; the metrics are not (protectMetrics off).
  t.equal((await fetch(`${url}/api/targets/app/holders`)).status, 401)
  t.equal((await fetch(`${url}/api/targets/nope/holders`, { headers: auth })).status, 404)
})

t.test('profile reads due at every budget slot do not starve the holder search: both run, sharing the budget', async (t) => {
  // Reads always wanted and never held back by their own interval: before, the profiler took every
  // slot the budget freed (it runs first in a poll) and a leak raised for hours had no search.
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', env: { LEAK: '1' } })
  const { sidecar, url } = await start(t, target.port, {
    http: { apiToken: TOKEN, protectMetrics: false, protectHealth: false },
    attribution: { mode: 'always', budget: 0.1, suspicionBudget: 0.1, minFetchIntervalMs: 100 },
  })
  // Searches repeat while the leak stays raised (gaps doubling up to maxInterval). Growth between
  // two must exceed what churn moves by chance (4·√(2n)): with the first two ~1 s apart on a
  // ~200-element array that was a coin toss (CI failed on it), so a later pair may be the one.
  const found = await waitFor(async () => {
    const body = await holders(url)
    return body.searches.done >= 2 && body.holders.some((h) => h.growing) && body
  }, { timeoutMs: 60_000, what: 'holder searches that find the growing holder while profile reads are due at every slot' })
  t.ok(found.searches.done >= 2, `${found.searches.done} searches ran`)
  const fetches = sidecar.monitors[0]!.status()
  const metrics = await (await fetch(`${url}/metrics`)).text()
  const reads = Number(/^leakwatch_profiler_fetches_total\{target="app"\} (\d+)$/m.exec(metrics)?.[1] ?? 0)
  t.ok(reads >= 2, `profile reads went on too (${reads})`)
  t.ok(fetches.up)
})

t.test('a search on request needs the token; a healthy target has no growing holder', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const open = await start(t, target.port, {})
  const refused = await fetch(`${open.url}/api/targets/app/holders`, { method: 'POST' })
  t.equal(refused.status, 403, 'no token configured: searches on request are refused')
  t.match(await refused.json(), { error: 'forbidden' })
  t.equal((await holders(open.url, {})).searches.done, 0, 'and nothing ran')

  const { url } = await start(t, target.port, { http: { apiToken: TOKEN, protectMetrics: false, protectHealth: false } })
  t.equal((await fetch(`${url}/api/targets/app/holders`, { method: 'POST' })).status, 401)
  // Wait for the first poll, so that the request is answered by a connected target.
  await waitFor(async () => (await (await fetch(`${url}/api/targets/app`, { headers: auth })).json()).connected === true, {
    timeoutMs: 10_000,
    what: 'connected',
  })
  const accepted = await fetch(`${url}/api/targets/app/holders`, { method: 'POST', headers: auth })
  t.equal(accepted.status, 202)
  t.match(await accepted.json(), { target: 'app', status: 'scheduled' })
  const done = await waitFor(
    async () => {
      const body = await holders(url)
      return body.searches.done >= 2 && !body.running && body
    },
    { timeoutMs: 30_000, what: 'two searches on request' },
  )
  t.equal(done.firstSearch, false)
  t.same(
    done.holders.filter((h) => h.growing).map((h) => h.label),
    [],
    'nothing grows in a healthy target',
  )
  const metrics = await (await fetch(`${url}/metrics`)).text()
  t.notMatch(metrics, /^leakwatch_holder_size\{/m, 'no holder exported')
})

t.test('a map gaining a few hundred bytes a second is slow growth, not the growing holder; the leak beside it is', async (t) => {
  // imageVersions gains 60 image ids a second of a few dozen bytes each; failedRenders 60 renders
  // of 8 KiB (200 of them from before). The smallest growth named is 8 KiB/s here (18 B/s by
  // default, ~64 KiB an hour).
  const target = await spawnTarget(t, { script: 'test/fixtures/holders/image-versions/main.js', env: { LEAK: '1', BACKLOG: '200' } })
  const { url } = await start(t, target.port, {
    http: { apiToken: TOKEN, protectMetrics: false, protectHealth: false },
    holders: { minGrowthBytesPerSecond: 8192 },
  })
  await waitFor(async () => (await (await fetch(`${url}/api/targets/app`, { headers: auth })).json()).connected === true, {
    timeoutMs: 10_000,
    what: 'connected',
  })
  t.equal((await fetch(`${url}/api/targets/app/holders`, { method: 'POST', headers: auth })).status, 202)
  const done = await waitFor(
    async () => {
      const body = await holders(url)
      return body.searches.done >= 2 && !body.running && body
    },
    { timeoutMs: 30_000, what: 'two searches on request' },
  )
  const versions = done.holders.find((h) => /^imageVersions \(Map, .*image-versions\/main\.js\)$/.test(h.path.join(' → ')))
  const failed = done.holders.find((h) => /^failedRenders \(Array, .*image-versions\/main\.js\)$/.test(h.path.join(' → ')))
  t.comment(`imageVersions: ${versions?.label} ${versions?.previousSize} → ${versions?.size}, ${JSON.stringify(versions?.slowGrowth)}; failedRenders: ${failed?.previousSize} → ${failed?.size}`)
  t.ok(versions !== undefined && (versions.growthPerSecond ?? 0) > 20, `imageVersions measured gaining ${versions?.growthPerSecond}/s`)
  t.equal(versions?.growing, false, 'imageVersions: not growing')
  t.ok(versions?.slowGrowth !== undefined && versions.slowGrowth.bytesPerSecond > 0 && versions.slowGrowth.bytesPerSecond < 8192, `gains ${versions?.slowGrowth?.bytesPerSecond} B/s`)
  t.equal(failed?.growing, true, 'failedRenders: growing')
  t.equal(done.holders.find((h) => h.growing)?.label, failed?.label, 'ranked first')
  const metrics = await (await fetch(`${url}/metrics`)).text()
  t.notMatch(metrics, /^leakwatch_holder_size\{[^}]*imageVersions/m, 'imageVersions is not exported')
  t.match(metrics, /^leakwatch_holder_size\{[^}]*failedRenders/m, 'failedRenders is')
})

t.test('with allocation sites on, a growing holder is linked to the site that fills it', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/holders/dead-consumer/main.js', env: { RATE: '2000' } })
  const { url } = await start(t, target.port, { http: { apiToken: TOKEN, protectMetrics: false, protectHealth: false }, attribution: { mode: 'on-suspicion' } })
  let seen = ''
  const linked = await waitFor(
    async () => {
      const top = (await holders(url)).holders.find((h) => h.growing)
      seen = top === undefined ? 'no growing holder' : `${top.label}: site ${JSON.stringify(top.allocationSite)}`
      return top?.allocationSite !== null && top?.allocationSite !== undefined && top
    },
    { timeoutMs: 90_000, what: () => `an allocation site linked to the growing holder (${seen})` },
  )
  t.match(linked.path.join(' → '), /^queue \(JobQueue, test\/fixtures\/holders\/dead-consumer\/main\.js\) → \.jobs \(Array\)$/)
  t.match(linked.allocationSite?.label, /dead-consumer\/(main|queue)\.js:\d+\)$/, `allocation site ${linked.allocationSite?.label}`)
  t.ok((linked.allocationSite?.slopeBytesPerSecond ?? 0) > 0)
  t.match(linked.allocationSite?.basis, /inferred|stack passes through/)
})

t.test('holders off: searches on request are refused with 409 and never run', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', env: { LEAK: '1' } })
  const { url } = await start(t, target.port, { http: { apiToken: TOKEN, protectMetrics: false, protectHealth: false }, holders: { mode: 'off' } })
  const response = await fetch(`${url}/api/targets/app/holders`, { method: 'POST', headers: auth })
  t.equal(response.status, 409)
  t.match(await response.json(), { error: 'holders_off' })
  const body = await holders(url)
  t.equal(body.mode, 'off')
  t.same(body.searches, { done: 0, refused: 0, failed: 0 })
})
