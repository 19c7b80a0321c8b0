/**
 * `npm run demo`: starts the bundled demo app (deploy/demo/app.mjs) with its
 * inspector on 127.0.0.1, runs the sidecar against it, and prints where to
 * look. Ctrl-C stops both.
 *
 * Environment: DEMO_LISTEN (sidecar address, default 127.0.0.1:9464),
 * DEMO_INTERVAL (poll period, default 2s), DEMO_LEAK_AFTER (seconds before the
 * app starts leaking, default 20).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { loadConfig } from './config.js'
import { Sidecar } from './sidecar.js'

const APP = fileURLToPath(new URL('../deploy/demo/app.mjs', import.meta.url))
const START_TIMEOUT_MS = 15_000

function startApp(): Promise<{ child: ChildProcess; inspectorPort: number }> {
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', APP], {
    env: { DEMO_PORT: '0', DEMO_LEAK_AFTER: '20', ...process.env },
    stdio: ['ignore', 'inherit', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let stderr = ''
    const timer = setTimeout(() => reject(new Error(`demo app did not open its inspector:\n${stderr}`)), START_TIMEOUT_MS)
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      const match = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        resolve({ child, inspectorPort: Number(match[1]) })
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`demo app exited with code ${code}:\n${stderr}`))
    })
  })
}

async function run(): Promise<void> {
  const { child, inspectorPort } = await startApp()
  const listen = process.env['DEMO_LISTEN'] ?? '127.0.0.1:9464'
  const config = loadConfig({
    argv: ['--target', `demo=127.0.0.1:${inspectorPort}`, '--listen', listen, '--interval', process.env['DEMO_INTERVAL'] ?? '2s'],
    env: {},
  })
  if (!('targets' in config)) throw new Error('unexpected demo config')
  const sidecar = new Sidecar(config, { logger: { level: 'warn' } })
  const address = await sidecar.start()
  process.stdout.write(
    [
      '',
      `leakwatch is watching the demo app (inspector 127.0.0.1:${inspectorPort}).`,
      `  metrics:  ${address}/metrics`,
      `  targets:  ${address}/api/targets`,
      `  try:      curl -s ${address}/metrics | grep -E 'nodejs_heap_(size_used|used_after_major_gc)_bytes'`,
      'The app starts leaking after DEMO_LEAK_AFTER seconds (default 20). Ctrl-C stops both.',
      '',
    ].join('\n'),
  )
  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    await sidecar.stop()
    child.kill('SIGTERM')
  }
  child.on('exit', (code) => {
    const unexpected = !stopping
    if (unexpected) process.stderr.write(`demo app exited (code ${code}); stopping\n`)
    void stop().then(() => process.exit(unexpected ? 1 : 0))
  })
  process.on('SIGINT', () => void stop())
  process.on('SIGTERM', () => void stop())
}

run().catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
