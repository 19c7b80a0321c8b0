import type { Test } from 'tap'

/**
 * A tool a test needs is missing. In CI (CI set, as .ci/run sets it) that is a failure: the
 * test would otherwise pass without checking anything. On a developer's machine it is a skip
 * that says what to install.
 */
export function toolMissing(t: Pick<Test, 'fail' | 'pass'>, what: string, reason: string): void {
  if (process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false') {
    t.fail(`${what}: ${reason} (in CI a missing tool is a failure)`)
  } else {
    t.pass(what, { skip: reason })
  }
}
