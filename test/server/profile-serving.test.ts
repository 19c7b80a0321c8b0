// A hostile target's heap profile of 1,000,000 nodes (issue 12), from the fake inspector:
// the sidecar keeps a bounded copy (100,000 nodes and samples, 24 MiB as a .heapprofile),
// says what it left out, and serves each file format made once, in slices: /healthz and
// /metrics answer quickly while the first download is converted. Before, the profile was kept
// whole (1.2-2 GB resident) and every pprof download converted it with the event loop blocked
// for 15-19 s.
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'
import t, { type Test } from 'tap'
import { PROFILE_LIMITS } from '../../src/attribution/kept-profile.js'
import { ProfileFiles } from '../../src/attribution/profile-files.js'
import { COLLECTORS } from '../../src/collectors/registry.js'
import { createPrometheusRegistry } from '../../src/export/prometheus.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { TargetAnalysis } from '../../src/leak/target-analysis.js'
import { TargetMonitor } from '../../src/monitor/monitor.js'
import { buildApp } from '../../src/server/app.js'
import { TEST_ANALYSIS, TEST_ATTRIBUTION } from '../helpers/config.js'
import { silentLogger } from '../helpers/monitor.js'
import { waitFor } from '../helpers/targets.js'
import { hugeProfileText, startFakeNode } from '../fixtures/fake-node.js'

const NODES = 1_000_000
/** Whole nodes (with call frames and a sample each); the rest are bare, to fit in 64 MiB. */
const COMPLETE = 200_000
/**
 * What the probes must answer within while a profile is converted (the issue's bound). This
 * 2-core machine runs other work: one probe in a run may be late from scheduling alone, but
 * never by more than HARD_BOUND_MS (a blocked event loop made them wait 15-19 s).
 */
const PROBE_BOUND_MS = 100
const HARD_BOUND_MS = 300
/** Late probes allowed of the ~120 a conversion sees: another test file runs beside this one in CI. */
const MAX_LATE = 2

function assertProbes(t: Test, probes: readonly Timed[], what: string): void {
  t.ok(probes.length >= 3, `probed ${what} (${probes.length} probes)`)
  t.ok(probes.every((probe) => probe.status === 200), `every probe answered 200 ${what}`)
  const late = probes.filter((probe) => probe.ms >= PROBE_BOUND_MS)
  t.ok(
    late.length <= MAX_LATE && probes.every((probe) => probe.ms < HARD_BOUND_MS),
    `probes under ${PROBE_BOUND_MS} ms ${what}: ${late.length} over it (at most ${MAX_LATE} allowed, none over ${HARD_BOUND_MS} ms)`,
  )
}

interface Timed {
  readonly path: string
  /** When the probe was sent (ms since the epoch). */
  readonly at: number
  readonly ms: number
  readonly status: number
}

/**
 * Times GET /healthz and /metrics, in turn, from another process (as the kubelet and Prometheus
 * do: a client in this process would wait for the slices itself at every step of each request).
 */
const PROBER = `
const base = process.argv[1]
let running = true
process.stdin.on('end', () => { running = false }).resume()
;(async () => {
  for (let i = 0; running; i++) {
    const path = i % 2 === 0 ? '/healthz' : '/metrics'
    const at = Date.now()
    const started = performance.now()
    const response = await fetch(base + path)
    await response.arrayBuffer()
    process.stdout.write(JSON.stringify({ path, at, ms: performance.now() - started, status: response.status }) + '\\n')
    await new Promise((r) => setTimeout(r, 5))
  }
})()
`

/** Starts the prober; `stop()` ends it and returns every probe it made. */
function startProber(t: Pick<Test, 'teardown'>, base: string): { stop(): Promise<Timed[]>; count(): number } {
  const { NODE_OPTIONS: _options, NODE_V8_COVERAGE: _coverage, ...env } = process.env
  const child = spawn(process.execPath, ['-e', PROBER, base], { env, stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const parse = (): Timed[] => out.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Timed)
  return {
    count: () => parse().length,
    stop: async () => {
      child.stdin.end()
      await exited
      return parse()
    },
  }
}

/** GETs `url` from a child process into `file`; rejects unless the answer was 200. */
async function fetchInChild(url: string, file: string): Promise<void> {
  const { NODE_OPTIONS: _options, NODE_V8_COVERAGE: _coverage, ...env } = process.env
  const script = `
const [url, file] = process.argv.slice(1)
fetch(url).then(async (response) => {
  if (response.status !== 200) throw new Error('status ' + response.status)
  require('node:fs').writeFileSync(file, Buffer.from(await response.arrayBuffer()))
}).catch((error) => { console.error(String(error)); process.exitCode = 1 })
`
  const child = spawn(process.execPath, ['-e', script, url, file], { env, stdio: ['ignore', 'ignore', 'inherit'] })
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)))
  if (code !== 0) throw new Error(`download of ${url} failed (exit ${code})`)
}

/** The probes sent while `work` ran (its start and end in ms since the epoch). */
async function probedDuring(t: Pick<Test, 'teardown'>, base: string, work: () => Promise<Buffer>): Promise<{ result: Buffer; probes: Timed[]; ms: number }> {
  const prober = startProber(t, base)
  await waitFor(() => prober.count() >= 2, { timeoutMs: 10_000, what: 'the prober answering' })
  const from = Date.now()
  const result = await work()
  const to = Date.now()
  const probes = (await prober.stop()).filter((probe) => probe.at + probe.ms >= from && probe.at <= to)
  return { result, probes, ms: to - from }
}

const describe = (probes: readonly Timed[]): string =>
  `${probes.length} probes, slowest ${[...probes].sort((a, b) => b.ms - a.ms).slice(0, 4).map((p) => `${p.path} ${p.ms.toFixed(0)} ms`).join(', ')}`

t.test('a profile of a million nodes is kept bounded and served without blocking the probes', async (t) => {
  const text = hugeProfileText(NODES, COMPLETE)
  t.ok(text.length < 64 * 1024 * 1024, `the profile message fits the 64 MiB limit (${(text.length / 1048576).toFixed(1)} MiB)`)
  const fake = await startFakeNode({
    override: (command, peer) => {
      if (command.method !== 'HeapProfiler.getSamplingProfile') return false
      peer.sendText(`{"id":${command.id},"result":{"profile":${text}}}`)
      return true
    },
  })
  t.teardown(() => fake.close())

  const target = { name: 'hostile', host: '127.0.0.1', port: fake.port, intervalMs: 200, timeoutMs: 2000, disabledCollectors: [] }
  // Profiles read from the start; after the first (costly) read the budget holds the next back for minutes.
  const analysis = new TargetAnalysis({
    analysis: TEST_ANALYSIS,
    attribution: { ...TEST_ATTRIBUTION, mode: 'always', minFetchIntervalMs: 100, budget: 0.002, suspicionBudget: 0.002 },
    timeoutMs: target.timeoutMs,
    pollIntervalMs: target.intervalMs,
  })
  const monitor = new TargetMonitor({
    target,
    collectors: COLLECTORS,
    openSession: (endpoint, timeoutMs) => InspectorSession.open(endpoint, timeoutMs),
    reconnect: { minDelayMs: 50, maxDelayMs: 400 },
    logger: silentLogger,
    extension: analysis,
  })
  const files = new ProfileFiles(TEST_ATTRIBUTION.samplingIntervalBytes)
  const entry = { monitor, analysis }
  const app = buildApp({
    registry: createPrometheusRegistry({ targets: () => [monitor] }),
    version: '0.0.0-test',
    targets: { list: () => [entry], get: (name) => (name === target.name ? entry : undefined) },
    profileFiles: files,
  })
  t.teardown(() => app.close())
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  monitor.start()
  t.teardown(() => monitor.stop())

  const kept = await waitFor(() => analysis.view().profiler.lastProfile, { timeoutMs: 60_000, intervalMs: 100, what: 'a profile fetched and kept' })
  t.comment(`kept ${JSON.stringify(kept)}`)
  t.equal(kept.nodes, PROFILE_LIMITS.maxNodes, 'nodes kept: the limit')
  t.equal(kept.nodesDropped, NODES - PROFILE_LIMITS.maxNodes, 'the rest counted')
  t.equal(kept.samples, PROFILE_LIMITS.maxSamples, 'samples kept: the limit')
  t.equal(kept.samplesDropped, COMPLETE - PROFILE_LIMITS.maxSamples)
  t.ok(kept.truncated && kept.bytes <= PROFILE_LIMITS.maxBytes, `${(kept.bytes / 1048576).toFixed(1)} MiB as a .heapprofile`)
  t.equal(analysis.view().profiler.truncatedProfiles, 1)
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, /^leakwatch_profiler_truncated_profiles_total\{target="hostile"\} 1$/m, 'exported')

  // The first download converts, in slices; the probes are timed meanwhile. The client is another
  // process, as a user's is: reading 19 MiB here would stall this event loop (the client's work,
  // not the sidecar's) and delay the probes the test means to time.
  const dir = t.testdir()
  let downloads = 0
  const download = async (format: string): Promise<Buffer> => {
    const file = join(dir, `download-${downloads++}`)
    await fetchInChild(`${base}/api/targets/hostile/profile?format=${format}`, file)
    return readFile(file)
  }
  const { result: pprof, probes, ms: convertMs } = await probedDuring(t, base, () => download('pprof'))
  t.comment(`pprof: ${(pprof.length / 1024).toFixed(0)} KiB gzipped in ${convertMs} ms; ${describe(probes)}`)
  assertProbes(t, probes, 'while converting to pprof')
  const decoded = Profile.decode(gunzipSync(pprof))
  t.equal(decoded.sample.length, PROFILE_LIMITS.maxSamples, 'a pprof sample per kept node with samples')

  const started = performance.now()
  const again = await download('pprof')
  t.ok(again.equals(pprof), `the same file again, downloaded by a new client process in ${(performance.now() - started).toFixed(0)} ms`)
  t.equal(files.conversions, 1, 'converted once')

  const { result: json, probes: jsonProbes } = await probedDuring(t, base, () => download('heapprofile'))
  t.comment(`.heapprofile: ${(json.length / 1048576).toFixed(1)} MiB; ${describe(jsonProbes)}`)
  assertProbes(t, jsonProbes, 'while writing the .heapprofile')
  t.ok(Math.abs(json.length - kept.bytes) < 1024, `the .heapprofile is as large as counted (${json.length} bytes, ${kept.bytes} counted)`)
  const parsed = JSON.parse(json.toString('utf8')) as { samples: unknown[] }
  t.equal(parsed.samples.length, PROFILE_LIMITS.maxSamples)
  await download('heapprofile')
  t.equal(files.conversions, 2, 'each format converted once')
})
