import t, { type Test } from 'tap'
import { Sidecar } from '../../src/sidecar.js'
import { testConfig, type TestConfigOverrides } from '../helpers/config.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

interface SignalView {
  signal: string
  suspected: boolean
  onset: string | null
  evidence: { fast: { positive: boolean; slopeBytesPerSecond: number; points: number }; reasons: string[] } | null
  secondsToLimit: number | null
}
interface TargetView {
  analysis: { signals: SignalView[]; profiler: { state: string; fetches: number } }
}

async function start(t: Test, port: number, overrides: TestConfigOverrides): Promise<{ sidecar: Sidecar; url: string }> {
  const sidecar = new Sidecar(testConfig([{ name: 'app', port }], overrides), { logger: false })
  const url = await sidecar.start()
  t.teardown(() => sidecar.stop())
  return { sidecar, url }
}

const view = async (url: string): Promise<TargetView> => (await (await fetch(`${url}/api/targets/app`)).json()) as TargetView
const signal = (v: TargetView, name: string): SignalView | undefined => v.analysis.signals.find((s) => s.signal === name)

t.test('a leaking target: heap leak suspected, onset, time to limit, leaking function ranked first', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', env: { LEAK: '1' } })
  const { url } = await start(t, target.port, { attribution: { mode: 'on-suspicion' } })
  const suspected = await waitFor(
    async () => {
      const v = await view(url)
      return signal(v, 'heap')?.suspected === true && v
    },
    { timeoutMs: 40_000, what: 'heap leak suspected' },
  )
  const heap = signal(suspected, 'heap')
  t.ok((heap?.evidence?.fast.slopeBytesPerSecond ?? 0) > 100_000, `slope ${heap?.evidence?.fast.slopeBytesPerSecond} B/s`)
  t.ok(heap?.onset !== null, 'onset reported')
  t.ok((heap?.secondsToLimit ?? 0) > 0, 'time to heap limit projected')
  const sites = await waitFor(
    async () => {
      const body = (await (await fetch(`${url}/api/targets/app/sites`)).json()) as {
        sites: Array<{ label: string; slopeBytesPerSecond: number; stack: Array<{ functionName: string }> }>
      }
      // Ranked with a growth: two reads of the site at least.
      return body.sites.length > 0 && body.sites[0]?.label.startsWith('leakyPush') && (body.sites[0]?.slopeBytesPerSecond ?? 0) > 0 && body.sites
    },
    { timeoutMs: 30_000, what: 'leakyPush ranked first, with its growth' },
  )
  t.match(sites[0]?.label, /^leakyPush \(.*cjs-target\.cjs:\d+\)$/)
  t.ok((sites[0]?.slopeBytesPerSecond ?? 0) > 0)
  // The stack is the heaviest sample's: it may start in a builtin leakyPush called (push), never above it.
  t.ok(sites[0]?.stack.some((frame) => frame.functionName === 'leakyPush'), `leakyPush on the stack: ${sites[0]?.stack.map((f) => f.functionName).join(' < ')}`)
  // The site's growth needs two reads of it; /metrics follows the ranking of the latest read.
  const metrics = await waitFor(
    async () => {
      const text = await (await fetch(`${url}/metrics`)).text()
      return /^leakwatch_site_growth_bytes_per_second\{target="app",site="leakyPush \(/m.test(text) && text
    },
    { timeoutMs: 30_000, what: 'leakyPush with its growth in /metrics' },
  )
  t.match(metrics, /^leakwatch_leak_suspected\{target="app",signal="heap"\} 1$/m)
  t.match(metrics, /^leakwatch_analysis_success\{target="app"\} 1$/m)
  t.match(metrics, /^leakwatch_analysis_errors_total\{target="app"\} 0$/m)
  t.match(metrics, /^leakwatch_site_growth_bytes_per_second\{target="app",site="leakyPush \(/m)
  t.match(metrics, /^leakwatch_time_to_heap_limit_seconds\{target="app"\} \d/m)
  const heapprofile = await fetch(`${url}/api/targets/app/profile`)
  t.equal(heapprofile.status, 200)
  t.match(heapprofile.headers.get('content-disposition') ?? '', /attachment; filename="app-.*\.heapprofile"/)
  const parsed = (await heapprofile.json()) as { head: { callFrame: unknown }; samples: unknown[] }
  t.ok(parsed.head.callFrame && Array.isArray(parsed.samples))
  const pprof = await fetch(`${url}/api/targets/app/profile?format=pprof`)
  t.equal(pprof.status, 200)
  const bytes = new Uint8Array(await pprof.arrayBuffer())
  t.same([bytes[0], bytes[1]], [0x1f, 0x8b], 'gzipped pprof')
  t.equal((await fetch(`${url}/api/targets/app/profile?format=svg`)).status, 400)
  t.equal((await fetch(`${url}/api/targets/app/sites?limit=0`)).status, 400)
  t.equal((await fetch(`${url}/api/targets/nope/sites`)).status, 404)
})

t.test('a healthy target stays quiet and is never profiled', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  // As in production, the first seconds of a process (modules loading, code warming) are a warm-up;
  // under a loaded CI machine they stretch, so give it 10 s.
  // The production default: a healthy target is never profiled (always-on profiling is covered in
  // test/attribution/profiler.test.ts; reading profiles every second drifts a young heap upwards).
  // A young process's RSS creeps on its own (measured on this fixture, unwatched: +1.2 MB in its
  // first 45 s, ~27 KB/s), above the suite's compressed 16 KiB/s floor; the leaking fixture grows
  // ~500 KB/s. Watched at the suite's compressed poll interval with every collector on (the
  // process collector reads /proc/self/status and /proc/self/fd each poll), the creep in the
  // first ten seconds after the warm-up measured 84-105 KB/s. 160 KiB/s keeps the test about
  // leaks, not about the first minute of a process.
  const { sidecar, url } = await start(t, target.port, {
    attribution: { mode: 'on-suspicion' },
    analysis: { warmupMs: 10_000, minSlopeBytesPerSecond: 160 * 1024 },
  })
  await waitFor(
    // RSS and external floors come every floor window; heap floors only with major GCs, which an
    // idle healthy process rarely has (and nothing forces them when it is not profiled).
    async () => ((await view(url)).analysis.signals.find((s) => s.signal === 'rss')?.evidence?.fast.points ?? 0) >= 20,
    { timeoutMs: 40_000, what: 'enough RSS floor points' },
  )
  const v = await view(url)
  const heap = v.analysis.signals.find((s) => s.signal === 'heap') as SignalView & { floors?: Array<{ bytes: number }> }
  t.same(
    v.analysis.signals.filter((s) => s.suspected).map((s) => s.signal),
    [],
    `no signal suspected (evidence ${JSON.stringify(v.analysis.signals.map((s) => [s.signal, s.evidence?.fast.slopeBytesPerSecond, s.evidence?.reasons]))}, heap floors ${JSON.stringify(heap?.floors?.map((f) => f.bytes))})`,
  )
  t.equal(v.analysis.profiler.fetches, 0, 'never profiled')
  t.equal(v.analysis.profiler.state, 'idle', 'the sampling profiler was never started')
  t.ok(sidecar.monitors[0]?.status().up)
})
