/**
 * The synthetic part of the detection benchmark: generates the seeded corpus,
 * runs every series through leakwatch's analysis (default settings) and the two
 * PromQL baselines, and prints recall, precision, false alarms and detection
 * delay per method, overall and per family.
 *
 *   npm run bench:synthetic                       # table
 *   npm run bench:synthetic -- --json             # JSON on stdout (progress on stderr)
 *   npm run bench:synthetic -- --seed 7 --count 130
 *   npm run bench:synthetic -- --trace waiting-load#259 [--every 2] [--from 20] [--to 60]
 *                                                 # one series, its verdicts every few minutes
 *   npm run bench:synthetic -- --sidecar-arg=--steady-raise-after=2h
 *                                                 # a setting as a user gives it (analysis options only)
 */
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/sidecar-config.js'
import type { AnalysisConfig } from '../src/config/types.js'
import { BENCH_ANALYSIS, METHOD_DESCRIPTIONS, METHODS, evaluateSeries, summarize, type Score, type SeriesResult } from './evaluate.js'
import { traceSeries } from './trace.js'
import {
  DEFAULT_COUNT,
  DEFAULT_SEED,
  DURATION_MS,
  FAMILIES,
  FAMILY_DESCRIPTIONS,
  POLL_INTERVAL_MS,
  generateCorpus,
  isLeakyFamily,
} from './synthetic.js'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    count: { type: 'string', default: String(DEFAULT_COUNT) },
    trace: { type: 'string' },
    every: { type: 'string', default: '5' },
    from: { type: 'string', default: '0' },
    to: { type: 'string' },
    'sidecar-arg': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write('Usage: bench/synthetic-benchmark.ts [--json] [--seed N] [--count N] [--trace ID [--every MIN] [--from MIN] [--to MIN]] [--sidecar-arg=ARG ...]\n')
  process.exit(0)
}
const seed = Number(values.seed)
const count = Number(values.count)
if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1) {
  process.stderr.write('--seed and --count must be integers (count >= 1)\n')
  process.exit(2)
}
const progress = values.json ? process.stderr : process.stdout
/**
 * Analysis settings given as sidecar arguments (--sidecar-arg=--steady-raise-after=2h): the
 * analysis section of the configuration they make, over the defaults; the memory limit stays
 * each series' own.
 */
const sidecarArgs = values['sidecar-arg'] ?? []
let overrides: Partial<AnalysisConfig> | undefined
if (sidecarArgs.length > 0) {
  try {
    const loaded = loadConfig({ argv: ['--target', 'synthetic=127.0.0.1:9229', ...sidecarArgs], env: {} })
    if (!('targets' in loaded)) throw new Error('help or version asked for')
    const { memoryLimitBytes: _ignored, ...analysis } = loaded.analysis
    overrides = analysis
  } catch (error) {
    process.stderr.write(`--sidecar-arg: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(2)
  }
  progress.write(`sidecar arguments added: ${sidecarArgs.join(' ')}\n`)
}

if (values.trace !== undefined) {
  const series = generateCorpus({ seed, count }).find((candidate) => candidate.id === values.trace)
  if (series === undefined) {
    process.stderr.write(`--trace: no series ${values.trace} in the corpus (ids are family#index, e.g. waiting-load#259)\n`)
    process.exit(2)
  }
  const everyMin = Number(values.every)
  const fromMin = Number(values.from)
  const toMin = values.to === undefined ? Number.POSITIVE_INFINITY : Number(values.to)
  if (!(everyMin > 0) || !(fromMin >= 0) || !(toMin > fromMin)) {
    process.stderr.write('--every must be > 0, --from >= 0 and --to > --from (simulated minutes)\n')
    process.exit(2)
  }
  await traceSeries(series, (line) => process.stdout.write(`${line}\n`), { everyMin, fromMin, toMin, analysis: overrides })
  process.exit(0)
}

const started = performance.now()
const corpus = generateCorpus({ seed, count })
const results: SeriesResult[] = []
progress.write(
  `synthetic corpus: ${corpus.length} series, seed ${seed}, ${DURATION_MS / 3_600_000} h each (daily cycles 30 h) at a ${POLL_INTERVAL_MS / 1000} s poll\n`,
)
for (const family of FAMILIES) {
  const familyStarted = performance.now()
  const members = corpus.filter((series) => series.family === family)
  const familyResults: SeriesResult[] = []
  for (const series of members) familyResults.push(await evaluateSeries(series, { analysis: overrides }))
  results.push(...familyResults)
  const counts = METHODS.map((method) => {
    const n = familyResults.filter((r) => (r.leaky ? r.outcomes[method].detectedAtMs !== null : r.outcomes[method].falseAlarmAtMs !== null)).length
    return `${method} ${n}`
  }).join(', ')
  progress.write(
    `  ${family.padEnd(20)} ${String(members.length).padStart(3)} series  ${isLeakyFamily(family) ? 'detected' : 'false alarms'}: ${counts}  (${((performance.now() - familyStarted) / 1000).toFixed(1)} s)\n`,
  )
}
const elapsedS = (performance.now() - started) / 1000
const summary = summarize(results)

if (values.json) {
  process.stdout.write(
    `${JSON.stringify(
      {
        seed,
        count: corpus.length,
        pollIntervalMs: POLL_INTERVAL_MS,
        durationMs: DURATION_MS,
        analysis: BENCH_ANALYSIS,
        methods: METHOD_DESCRIPTIONS,
        families: FAMILY_DESCRIPTIONS,
        elapsedSeconds: Math.round(elapsedS * 10) / 10,
        summary,
        results,
      },
      null,
      2,
    )}\n`,
  )
} else {
  printTables()
}

function pct(value: number | null): string {
  return value === null ? '-' : `${(value * 100).toFixed(0)}%`
}
function min(value: number | null): string {
  return value === null ? '-' : value.toFixed(1)
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function methodRow(method: string, s: Score): string[] {
  return [
    method,
    pct(s.recall),
    `${s.detected}/${s.leaky}`,
    pct(s.precision),
    `${s.falseAlarmsHealthy}/${s.healthy}`,
    pct(s.falseAlarmRateHealthy),
    String(s.falseAlarmsBeforeOnset),
    min(s.medianDelayMin),
    min(s.p90DelayMin),
  ]
}

function printTables(): void {
  const out: string[] = []
  const headers = ['method', 'recall', 'detected', 'precision', 'FA healthy', 'FA %', 'FA pre-onset', 'median delay', 'p90 delay']
  const a = BENCH_ANALYSIS
  out.push('', 'Methods:')
  for (const method of METHODS) out.push(`  ${method.padEnd(15)} ${METHOD_DESCRIPTIONS[method]}`)
  out.push(
    `  leakwatch settings (DEFAULTS.analysis, src/config/options.ts): window ${a.windowMs / 60_000}m, minPoints ${a.minPoints}, maxPValue ${a.maxPValue},`,
    `    fast path: minSlope ${a.minSlopeBytesPerSecond} B/s, minRelative ${a.minRelativePerHour}/h, urgent within ${a.urgentHorizonMs / 3_600_000}h or ${a.fastRelativePerHour}/h, raiseAfter ${a.raiseAfterMs / 60_000}m;`,
    `    slow path: window ${a.slowWindowMs / 3_600_000}h, minSlope ${a.slowMinSlopeBytesPerSecond} B/s, minRelative ${a.slowMinRelativePerHour}/h, raiseAfter ${a.slowRaiseAfterMs / 60_000}m;`,
    `    clearAfter ${a.clearAfterMs / 60_000}m, warmup ${a.warmupMs / 60_000}m (up to ${a.maxWarmupMs / 60_000}m while rising since start), floorWindow ${a.floorWindowMs / 60_000}m;`,
    `    PromQL rules evaluated every 1m on RSS scraped every ${POLL_INTERVAL_MS / 1000} s`,
    '  Scoring: a leaky series is detected when the method fires at or after the onset (delay from the onset);',
    '  firing on a healthy series, or before the onset of a leaky one, is a false alarm (FA). Precision: of the',
    '  series a method fired on, the share whose first firing was on a leak after its onset.',
  )
  out.push('', 'All series (delays in minutes from the true onset; FA = false alarm):', '')
  out.push(table(headers, METHODS.map((m) => methodRow(m, summary.overall[m]))))
  out.push('', 'Without leak-slow (recall over the leaks above the effect-size floor):', '')
  out.push(table(headers, METHODS.map((m) => methodRow(m, summary.excludingSlow[m]))))
  out.push('', 'Leaks heading to the memory or heap limit within 4 h at their onset:', '')
  out.push(table(headers, METHODS.map((m) => methodRow(m, summary.urgent[m]))))
  const lw = summary.overall.leakwatch.medianOnsetErrorMin
  if (lw !== undefined) out.push('', `leakwatch onset estimate at detection: median error ${min(lw)} min`)

  out.push('', 'Leaky families: recall (detected/n), median / p90 delay in minutes, pre-onset false alarms', '')
  const leakyRows = summary.families
    .filter((f) => f.leaky)
    .map((f) => [
      f.family,
      ...METHODS.flatMap((m) => {
        const s = f.scores[m]
        return [`${pct(s.recall)} (${s.detected}/${s.leaky})`, `${min(s.medianDelayMin)} / ${min(s.p90DelayMin)}`, String(s.falseAlarmsBeforeOnset)]
      }),
    ])
  out.push(table(['family', ...METHODS.flatMap((m) => [`${m} recall`, 'delay', 'FA'])], leakyRows))

  out.push('', 'Healthy families: false alarms (count/n, %)', '')
  const healthyRows = summary.families
    .filter((f) => !f.leaky)
    .map((f) => [f.family, ...METHODS.map((m) => `${f.scores[m].falseAlarmsHealthy}/${f.scores[m].healthy} (${pct(f.scores[m].falseAlarmRateHealthy)})`)])
  out.push(table(['family', ...METHODS], healthyRows))
  out.push('', `${results.length} series in ${elapsedS.toFixed(1)} s`, '')
  process.stdout.write(`${out.join('\n')}\n`)
}
