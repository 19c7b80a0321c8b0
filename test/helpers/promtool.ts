import { spawnSync } from 'node:child_process'
import { catalog } from '../../src/export/catalog.js'

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

/**
 * The lint findings leakwatch accepts: prom-client names some of its default gauges
 * `…_total`, and dashboards query them by those names, so the catalog keeps them
 * (`promClient: true`) and promtool says so about each. Any other finding is a defect.
 */
export const ACCEPTED_FINDINGS: readonly string[] = catalog
  .filter((metric) => metric.promClient === true && metric.type !== 'counter' && metric.prom.endsWith('_total'))
  .map((metric) => `${metric.prom} non-counter metrics should not have "_total" suffix`)
  .sort()

/** promtool's findings on an exposition, one per line, sorted. */
export function lintFindings(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .sort()
}
