import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Test } from 'tap'
import { repoRoot, waitFor } from './targets.js'

/** The built entry points: the CLI tests run what the package and the container run. */
export function distFile(name: string): string {
  const path = `${repoRoot}/dist/${name}`
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first (npm test does)`)
  return path
}

export interface RunningProcess {
  readonly child: ChildProcess
  stdout(): string
  stderr(): string
  readonly exited: Promise<number | null>
  /** Resolves with the captured stdout once `pattern` matches it (bounded). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
}

/** Start `node dist/<script> ...args`; killed at teardown if still running. */
export function startNode(
  t: Pick<Test, 'teardown'>,
  script: string,
  args: string[],
  env: Record<string, string> = {},
): RunningProcess {
  const { NODE_OPTIONS: _options, NODE_V8_COVERAGE: _coverage, ...inherited } = process.env
  const child = spawn(process.execPath, [distFile(script), ...args], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForOutput: (pattern, timeoutMs = 10_000) =>
      waitFor(() => pattern.exec(stdout), { timeoutMs, what: `output matching ${pattern} (stderr: ${stderr.slice(-500)})` }),
  }
}
