// Hostile configuration files (issue 12): each is refused quickly, with bounded memory and a
// bounded list of problems, instead of hanging the sidecar or growing it to gigabytes.
//
// The files that are not regular files run the real CLI in a child under a 3 GB address-space
// limit: if the bounded read were replaced by a plain read, /dev/zero would be read until the
// limit aborts that child (~4 s here, instead of growing this machine's memory by gigabytes),
// and a FIFO would block the child in open(2) until the test's own timeout kills it.
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError } from '../../src/core/errors.js'
import { loadConfig } from '../../src/config/resolve.js'
import { LIMITS } from '../../src/config/options.js'
import { repoRoot } from '../helpers/targets.js'

/** Virtual memory a child may map (KiB): Node needs well under 1 GB; reading /dev/zero whole needs all. */
const CHILD_ADDRESS_SPACE_KIB = 3_000_000
const CHILD_TIMEOUT_MS = 30_000

interface CliRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
  readonly ms: number
}

/** `leakwatch --config PATH` from the sources, in a child with a memory limit and a deadline. */
async function runCli(path: string): Promise<CliRun> {
  const { NODE_OPTIONS: _options, NODE_V8_COVERAGE: _coverage, ...env } = process.env
  const started = performance.now()
  const child = spawn(
    'sh',
    ['-c', `ulimit -v ${CHILD_ADDRESS_SPACE_KIB} && exec "$0" --import @tapjs/typescript/import src/cli.ts --config "$1"`, process.execPath, path],
    { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk.slice(0, 10_000)))
  const deadline = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])))
  clearTimeout(deadline)
  return { code, signal, stderr, ms: performance.now() - started }
}

/** The problems loadConfig reports, and the CPU time it took. */
function problemsOf(argv: string[]): { problems: readonly string[]; cpuMs: number } {
  const before = process.cpuUsage()
  let problems: readonly string[] = []
  try {
    loadConfig({ argv, env: {}, collectorNames: ['heap'] })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    problems = error.problems
  }
  const used = process.cpuUsage(before)
  return { problems, cpuMs: (used.user + used.system) / 1000 }
}

t.test('files that are not regular files are refused at once, without reading them', async (t) => {
  const dir = t.testdir({ folder: {} })
  const fifo = join(dir, 'config.fifo')
  execFileSync('mkfifo', [fifo])
  for (const [what, path] of [
    ['/dev/zero (endless)', '/dev/zero'],
    ['a FIFO nobody writes to', fifo],
    ['a directory', join(dir, 'folder')],
  ] as const) {
    const run = await runCli(path)
    t.equal(run.signal, null, `${what}: the child was not killed (${run.signal}) after ${run.ms.toFixed(0)} ms; stderr: ${run.stderr.slice(-300)}`)
    t.equal(run.code, 2, `${what}: a configuration error, exit 2`)
    t.match(run.stderr, `--config: cannot read ${JSON.stringify(path)}: not a regular file`, `${what}: says why`)
  }
})

t.test('80,000 YAML anchors in a 240 KB file: seconds of CPU at most, not the quadratic ~30 s; 20 errors and a count of the rest', async (t) => {
  // Each `&a` after the first on one node is an error ("at most one anchor"): 79,999 of them.
  const text = `interval: ${'&a '.repeat(80_000)}1s\n`
  t.ok(text.length > 240_000 && text.length < 250_000, `${text.length} bytes`)
  const path = join(t.testdir({}), 'anchors.yaml')
  writeFileSync(path, text)
  const { problems, cpuMs } = problemsOf(['--target', '127.0.0.1:9229', '--config', path])
  // ~0.2 s alone; 1.4 s seen under coverage on a loaded 2-core CI machine. The quadratic path took ~30 s.
  t.ok(cpuMs < 8000, `${cpuMs.toFixed(0)} ms of CPU (pretty errors took ~30 s)`)
  t.equal(problems.length, 21, '20 errors and one line for the rest')
  t.match(problems[0], /is not valid YAML or JSON: A node can have at most one anchor at line 1, column \d+$/)
  t.equal(problems[20], `--config: ${JSON.stringify(path)}: and 79979 more YAML errors, not shown`)
})

t.test('30,000 targets in one file are refused with an error naming the cap', async (t) => {
  t.equal(LIMITS.maxTargets, 500, 'the documented cap')
  const targets = Array.from({ length: 30_000 }, (_, i) => ({ port: 10_000 + i }))
  const path = join(t.testdir({}), 'many.json')
  writeFileSync(path, JSON.stringify({ targets }))
  const { problems, cpuMs } = problemsOf(['--config', path])
  t.strictSame(problems, ['targets: 30000 targets is more than one sidecar watches (at most 500); split them over several sidecars'])
  t.ok(cpuMs < 8000, `refused in ${cpuMs.toFixed(0)} ms of CPU`)
  // The cap itself is allowed.
  writeFileSync(path, JSON.stringify({ targets: targets.slice(0, 500) }))
  const allowed = loadConfig({ argv: ['--config', path], env: {}, collectorNames: ['heap'] })
  t.equal('targets' in allowed ? allowed.targets.length : 0, 500)
})
