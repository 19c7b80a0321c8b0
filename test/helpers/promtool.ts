import { spawnSync } from 'node:child_process'

/** Path of promtool (Debian's prometheus package), or undefined when it is not installed. */
export function promtoolPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' })
  const path = found.stdout.trim()
  return found.status === 0 && path !== '' ? path : undefined
}

/** Run `promtool check metrics` on an exposition; returns its exit code and combined output. */
export function checkMetrics(exposition: string): { status: number | null; output: string } {
  const promtool = promtoolPath()
  if (promtool === undefined) throw new Error('promtool not installed (apt-get install prometheus)')
  const result = spawnSync(promtool, ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 30_000 })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}
