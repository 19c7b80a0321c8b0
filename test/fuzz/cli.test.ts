/**
 * The built CLI (`node dist/cli.js`, run `npm run build` first) on a few
 * dozen generated invalid configurations (argv, environment, config and token
 * files): exit code 2 and, on stderr, exactly the problems loadConfig lists.
 * Kept small: every spawn costs ~150 ms.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import t from 'tap'
import { CONFIG_PATH, TOKEN_PATH, configInputArb, type GeneratedConfig } from './fixtures/config-arbitraries.js'
import { SEED } from './fixtures/helpers.js'

const root = new URL('../../', import.meta.url)
const cliPath = new URL('dist/cli.js', root).pathname
const configModule = new URL('dist/sidecar-config.js', root).pathname
const errorsModule = new URL('dist/core/errors.js', root).pathname

/** How many invalid configurations are run through the CLI. */
const CLI_RUNS = 24

interface BuiltConfig {
  loadConfig: (options: { argv: readonly string[]; env: NodeJS.ProcessEnv }) => unknown
}
interface BuiltErrors {
  ConfigError: new (...args: never[]) => Error & { problems: readonly string[] }
}

/** No NUL (spawn refuses it) and no lone surrogate (it would reach the child as U+FFFD, unlike the oracle's string). */
const spawnable = (text: string): boolean =>
  !text.includes('\u0000') && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)

interface Case {
  readonly input: GeneratedConfig
  readonly dir: string
  readonly env: Record<string, string>
  /** What the CLI must print: the built loadConfig's ConfigError message. */
  readonly expected: string
  readonly problems: number
}

function spawnCli(c: Case): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...c.input.argv], { cwd: c.dir, env: c.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    // A config the oracle refused must never start a sidecar; if one does, stop it.
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

t.test('CLI: generated invalid configurations → exit 2 and the full list of problems on stderr', async (t) => {
  if (!existsSync(cliPath)) {
    t.fail(`${cliPath} is missing: run \`npm run build\` first`)
    return
  }
  const { loadConfig } = (await import(configModule)) as BuiltConfig
  const { ConfigError } = (await import(errorsModule)) as BuiltErrors
  const base = t.testdir({})
  const cases: Case[] = []
  // Deterministic: the same seed gives the same configurations; keep drawing until enough are invalid.
  const candidates = fc.sample(configInputArb, { seed: SEED, numRuns: CLI_RUNS * 8 })
  const seen = new Set<string>()
  for (const [index, generated] of candidates.entries()) {
    if (cases.length >= CLI_RUNS) break
    // Every other one reads the generated config file (and through it, maybe the token file).
    const input = index % 2 === 0 ? generated : { ...generated, argv: ['--config', CONFIG_PATH, ...generated.argv] }
    if (![...input.argv, ...Object.values(input.env), ...Object.keys(input.env)].every(spawnable)) continue
    const dir = join(base, String(index))
    mkdirSync(dir)
    writeFileSync(join(dir, CONFIG_PATH), input.file)
    writeFileSync(join(dir, TOKEN_PATH), input.token)
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '', ...input.env }
    // The oracle: the built loadConfig, called as the CLI calls it (same cwd, argv, env, real files).
    const cwd = process.cwd()
    let error: unknown
    try {
      process.chdir(dir)
      loadConfig({ argv: input.argv, env })
    } catch (caught) {
      error = caught
    } finally {
      process.chdir(cwd)
    }
    if (!(error instanceof ConfigError)) continue // valid, --help or --version: not for this test
    const expected = `leakwatch: ${error.message}\nRun leakwatch --help for usage.\n`
    if (seen.has(expected)) continue // the same problems again: spend the spawn on another configuration
    seen.add(expected)
    cases.push({ input, dir, env, expected, problems: error.problems.length })
  }
  t.equal(cases.length, CLI_RUNS, `${CLI_RUNS} invalid configurations`)

  // Two at a time (the machine has 2 cores).
  const results = new Array<Awaited<ReturnType<typeof spawnCli>>>(cases.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const index = next++
      results[index] = await spawnCli(cases[index] as Case)
    }
  }
  await Promise.all([worker(), worker()])

  cases.forEach((c, i) => {
    const result = results[i]!
    const shown = JSON.stringify({ argv: c.input.argv, env: c.input.env }).slice(0, 300)
    t.equal(result.code, 2, `exit 2 for ${shown}`)
    t.match(result.stderr, /^leakwatch: invalid configuration:\n( {2}- .+\n?)+/, 'invalid configuration, then the problems')
    t.equal(result.stderr, c.expected, `stderr lists exactly the ${c.problems} problem(s)`)
    t.equal(result.stdout, '', 'nothing on stdout')
  })
})
