/**
 * The detection benchmark on real programs. Each program of the held-out corpus
 * (test/corpus/, production rates, run at SCENARIO_SPEED = the time scale) and
 * of the first corpus (test/scenarios/, made for 60×) runs as a real
 * `node --inspect` process watched by a real sidecar configured as a user would:
 * production defaults and `--time-scale N` (default 60: an hour of production
 * per wall minute, a 15 s poll every 250 ms). On the same RSS samples, in
 * simulated time, the PromQL rules users otherwise alert with:
 *
 *   deriv(rss[30m]) > 0, for: 30m
 *   predict_linear(rss[1h], 4*3600) > limit, for: 15m        (limit 512 MiB)
 *   avg_over_time(rss[5m]) / avg_over_time(rss[5m] offset 1h) > 1.10, for: 15m
 *
 * Scoring: a healthy program is alarmed when a method fires at any moment; a
 * leak is detected when it fires at or after the onset (delay from the onset),
 * and alarmed early when it fires before it.
 *
 *   npm run bench:detection -- --help     (the options: USAGE below)
 *
 * --corpus names test/corpus, the later corpora of bench/real/programs.ts's LATER_CORPORA
 * (test/corpus-NAME) and scenarios (test/scenarios).
 *
 * At 60× the held-out corpus takes ~100 wall minutes of program time (~55 min
 * at concurrency 2); `--time-scale 1 --only NAME` watches at real time.
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CORPUS_NAMES, corpusPrograms, scenarioPrograms, withBallast, type CorpusName, type Program } from './real/programs.js'
import { heapTable, holderTable, programTable, summarize, summaryTable } from './real/report.js'
import { runProgram, sidecarConfig, type ProgramResult } from './real/run.js'

const USAGE = `Usage: npm run bench:detection -- [--corpus all|NAME[,NAME...]] [--time-scale N] [--repeats N]
         [--concurrency N] [--only PROGRAM ...] [--json FILE] [--trace MINUTES] [--max-watch-hours H]
         [--ballast MB] [--ask-holders MINUTES] [--ask-holders-every MINUTES] [--holders-log FILE]
         [--sidecar-arg=ARG ...]

  --corpus             all (default) or a list of: ${CORPUS_NAMES.join(', ')}
  --time-scale N       production time compressed N× (default 60; test/scenarios runs only at 60)
  --repeats N          runs of each program (default 1)
  --concurrency N      programs at once (default 2; run nothing else beside it)
  --only PROGRAM       only this program (repeatable)
  --json FILE          every result as JSON
  --trace MINUTES      log each signal's evidence every MINUTES simulated minutes
  --max-watch-hours H  cap each program's watch (for runs at real time)
  --ballast MB         static live data built by each corpus program first (costs at a bigger heap)
  --ask-holders M      ask for holder searches from M simulated minutes on, whatever the verdict
  --ask-holders-every  minutes between those searches (default 30)
  --holders-log FILE   append each search's holders (the API's view) to FILE, one JSON line each
  --sidecar-arg=ARG    one more sidecar command-line argument, after the bench's own (repeatable;
                       e.g. --sidecar-arg=--steady-raise-after=2h to judge a setting on real programs)
`

/** A bad argument: its message and a pointer to --help, no stack. */
class UsageError extends Error {}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      corpus: { type: 'string', default: 'all' },
      'time-scale': { type: 'string', default: '60' },
      repeats: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '2' },
      only: { type: 'string', multiple: true },
      json: { type: 'string' },
      trace: { type: 'string' },
      'max-watch-hours': { type: 'string' },
      ballast: { type: 'string', default: '0' },
      'ask-holders': { type: 'string' },
      'ask-holders-every': { type: 'string', default: '30' },
      'holders-log': { type: 'string' },
      'sidecar-arg': { type: 'string', multiple: true, default: [] },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return
  }
  const scale = Number(values['time-scale'])
  const repeats = Number(values.repeats)
  const concurrency = Number(values.concurrency)
  if (!Number.isInteger(scale) || scale < 1 || scale > 3600) throw new UsageError('--time-scale must be an integer in 1..3600')
  if (!Number.isInteger(repeats) || repeats < 1) throw new UsageError('--repeats must be a positive integer')
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be a positive integer')
  const CORPORA = CORPUS_NAMES
  const asked = (values.corpus ?? 'all').split(',').map((name) => name.trim())
  const unknownCorpus = asked.filter((name) => name !== 'all' && !(CORPORA as readonly string[]).includes(name))
  if (unknownCorpus.length > 0) throw new UsageError(`--corpus: unknown ${unknownCorpus.join(', ')} (all, or a list of ${CORPORA.join(', ')})`)
  const wants = (name: CorpusName): boolean => asked.includes('all') || asked.includes(name)
  const log = (line: string): void => void process.stderr.write(`${line}\n`)

  let programs: Program[] = []
  for (const name of CORPORA) if (name !== 'scenarios' && wants(name)) programs.push(...corpusPrograms(scale, name))
  if (wants('scenarios')) {
    if (scale === 60) programs.push(...scenarioPrograms())
    else log('test/scenarios/ skipped: its programs run at fixed rates made for --time-scale 60')
  }
  if (values['max-watch-hours'] !== undefined) {
    const capS = Number(values['max-watch-hours']) * 3600
    if (!(capS > 0)) throw new UsageError('--max-watch-hours must be a positive number')
    programs = programs.map((program) => ({ ...program, watchSimS: Math.min(program.watchSimS, capS) }))
  }
  const ballast = Number(values.ballast)
  if (!Number.isInteger(ballast) || ballast < 0) throw new UsageError('--ballast must be a whole number of MB')
  programs = programs.map((program) => withBallast(program, ballast))
  const sidecarArgs = values['sidecar-arg'] ?? []
  try {
    sidecarConfig('check', 1, scale, undefined, sidecarArgs)
  } catch (error) {
    throw new UsageError(`--sidecar-arg: ${(error instanceof Error ? error.message : String(error)).replace(/ \(see --help\)$/, '')}`)
  }
  if (sidecarArgs.length > 0) log(`sidecar arguments added: ${sidecarArgs.join(' ')}`)
  if (values.only !== undefined) {
    const unknown = values.only.filter((name) => !programs.some((p) => p.name === name))
    if (unknown.length > 0) throw new UsageError(`unknown program(s): ${unknown.join(', ')}`)
    programs = programs.filter((p) => values.only?.includes(p.name))
  }
  // Longest first, so that concurrent slots finish together.
  const queue = Array.from({ length: repeats }, (_, repeat) => programs.map((program) => ({ program, repeat })))
    .flat()
    .sort((a, b) => b.program.watchSimS - a.program.watchSimS || a.repeat - b.repeat)
  const totalWallS = queue.reduce((sum, { program }) => sum + program.watchSimS / scale, 0)
  log(`detection benchmark: ${programs.length} programs × ${repeats}, --time-scale ${scale}, concurrency ${concurrency}: ~${Math.ceil(totalWallS / concurrency / 60)} wall min`)

  const results: ProgramResult[] = []
  const total = queue.length
  let done = 0
  const started = Date.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const { program, repeat } = next
        log(`- ${program.corpus}/${program.name} (repeat ${repeat + 1}; ${program.leaky ? 'leaks' : 'healthy'}; ${(program.watchSimS / 3600).toFixed(1)} simulated h)`)
        try {
          const result = await runProgram(
            program,
            scale,
            log,
            values.trace === undefined ? undefined : Number(values.trace) * 60,
            values['ask-holders'] === undefined ? undefined : { fromSimS: Number(values['ask-holders']) * 60, everySimS: Number(values['ask-holders-every']) * 60 },
            sidecarArgs,
            values['holders-log'],
          )
          results.push(result)
          const lw = result.methods['leakwatch']
          done += 1
          log(
            `  [${done}/${total}, ${((Date.now() - started) / 60_000).toFixed(0)} min] ${program.name}: ` +
              `${program.leaky ? (lw?.delaySimS == null ? 'MISSED' : `detected +${(lw.delaySimS / 60).toFixed(0)} min`) : lw?.falseAlarmSimS == null ? 'quiet' : 'FALSE ALARM'}` +
              `${program.leaky && lw?.falseAlarmSimS != null ? ' (early alarm)' : ''} [${result.signals.join(',')}]`,
          )
        } catch (error) {
          log(`  ${program.name} failed: ${error instanceof Error ? error.message : String(error)}`)
          process.exitCode = 1
        }
      }
    }),
  )
  const order = (r: ProgramResult): number => programs.findIndex((p) => p.corpus === r.corpus && p.name === r.name)
  results.sort((a, b) => order(a) - order(b))
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ scale, repeats, results }, null, 2)}\n`)
  process.stdout.write(`\n${programTable(results)}\n\n${heapTable(results)}\n\n${holderTable(results)}\n\n${summaryTable(summarize(results))}\n`)
}

/* c8 ignore next 3 */
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    const usage = error instanceof UsageError || (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    process.stderr.write(usage ? `${error.message} (see --help)\n` : `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  })
}
