#!/usr/bin/env node
/**
 * `leakwatch`: parse flags, environment and config file, then run the sidecar
 * until SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 runtime failure, 2 bad config.
 * `leakwatch inject`: add the sidecar to Kubernetes YAML (see `leakwatch inject --help`).
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loadConfig } from './sidecar-config.js'
import { ConfigError, errorMessage } from './core/errors.js'
import { installLastResort } from './inspector/last-resort.js'
import { Sidecar } from './sidecar.js'

/** A stop that takes longer than this is abandoned so Kubernetes never has to SIGKILL us. */
const SHUTDOWN_DEADLINE_MS = 8000

export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}

/**
 * Run the CLI. Resolves with the exit code once the sidecar has stopped (or
 * at once for --help, --version and bad config).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv, io: CliIo = processIo): Promise<number> {
  // `leakwatch inject`: add the sidecar to Kubernetes YAML (src/inject/); everything else runs the sidecar.
  if (argv[0] === 'inject') return (await import('./inject/cli.js')).runInject(argv.slice(1), { stdin: process.stdin, ...io })
  let loaded: ReturnType<typeof loadConfig>
  try {
    loaded = loadConfig({ argv, env })
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`leakwatch: ${error.message}\nRun leakwatch --help for usage.\n`)
      return 2
    }
    throw error
  }
  if ('help' in loaded) {
    io.stdout(loaded.help)
    return 0
  }
  if ('version' in loaded) {
    io.stdout(`${loaded.version}\n`)
    return 0
  }
  const sidecar = new Sidecar(loaded)
  try {
    await sidecar.start()
  } catch (error) {
    io.stderr(`leakwatch: cannot start: ${errorMessage(error)}\n`)
    await sidecar.stop().catch(() => undefined)
    return 1
  }
  return new Promise<number>((resolve) => {
    const shutdown = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', shutdown)
      process.off('SIGINT', shutdown)
      sidecar.app.log.info({ signal }, 'stopping')
      const deadline = setTimeout(() => {
        io.stderr('leakwatch: shutdown took too long, exiting anyway\n')
        resolve(1)
      }, SHUTDOWN_DEADLINE_MS)
      deadline.unref()
      sidecar.stop().then(
        () => {
          clearTimeout(deadline)
          resolve(0)
        },
        (error: unknown) => {
          clearTimeout(deadline)
          io.stderr(`leakwatch: error while stopping: ${errorMessage(error)}\n`)
          resolve(1)
        },
      )
    }
    process.on('SIGTERM', shutdown)
    process.on('SIGINT', shutdown)
  })
}

function isEntryPoint(): boolean {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  // Last resort, for the running CLI only (not for main() called in-process by tests or
  // embedders): an error that escapes a target session must not take every other target
  // down with the sidecar. Only errors known to come from a target session (a ProtocolError
  // or CommandError, or an error thrown inside chrome-remote-interface/ws, whose code here
  // runs only on a target's input) are logged and survived; anything else, a real bug
  // included, is logged with its stack and exits 1 as Node.js would have. The session layer
  // already turns every malformed message into the closing of that one session, so this
  // should never fire; see src/inspector/last-resort.ts for the exact rule.
  installLastResort(process)
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`leakwatch: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exit(1)
    },
  )
}
