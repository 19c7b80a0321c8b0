/**
 * Deeply nested YAML flow collections in the config file, loaded in a child
 * process (the failure aborts the process, it cannot be caught).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'

interface CaseResult {
  readonly name: string
  readonly outcome: string
  readonly problem: string
}

t.test('regression (found by fuzzing): loadConfig: a config file of ~1000 nested [ … ] aborts the process (V8 "FATAL ERROR: RegExpCompiler Allocation failed") on the 2nd load in a process', async (t) => {
  // yaml 2.9 recurses per nesting level, catches the stack overflow itself and goes on composing at
  // that depth; once its error-formatting regexes are hot (any earlier YAML error in the process), V8
  // tiers them up to native code right there, near the stack limit, and aborts the process (exit 134).
  // The CLI loads its config once, so it exits 2 today; an in-process caller loading twice dies.
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./fixtures/deep-yaml-child.ts', import.meta.url))], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(timer)
  const results = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as CaseResult)
  const fatal = /FATAL ERROR[^\n]*/.exec(stderr)?.[0]
  t.ok(code === 0 && signal === null, `child exited with ${code ?? signal}${fatal ? `: ${fatal}` : ''} after ${results.length} of 5 files`)
  for (const result of results) t.equal(result.outcome, 'ConfigError', `${result.name}: ${result.outcome} ${result.problem}`)
  t.equal(results.length, 5, 'every file loaded')
})
