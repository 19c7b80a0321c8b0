/**
 * `npm run demo`: starts the bundled demo app (deploy/demo/app.mjs) with its
 * inspector on 127.0.0.1, runs the sidecar against it, and prints where to
 * look. Ctrl-C stops both.
 *
 * Environment: DEMO_LISTEN (sidecar address, default 127.0.0.1:9464),
 * DEMO_INTERVAL (poll period, default 1s), DEMO_LEAK_AFTER (seconds before the
 * app starts leaking, default 20).
 *
 * The analysis runs time-compressed (a 90 s window instead of 30 min, 2 s
 * floor windows, 10 s warm-up) so the leak verdict and the leaking function
 * show up within a couple of minutes rather than half an hour.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { loadConfig } from './sidecar-config.js'
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
  const loaded = loadConfig({
    argv: [
      '--target',
      `demo=127.0.0.1:${inspectorPort}`,
      '--listen',
      listen,
      '--interval',
      process.env['DEMO_INTERVAL'] ?? '1s',
      '--window',
      '90s',
      '--floor-window',
      '2s',
      '--warmup',
      '10s',
      '--attribution',
      'on-suspicion',
    ],
    env: {},
  })
  if (!('targets' in loaded)) throw new Error('unexpected demo config')
  // Profile reads every 5 s at most (the production floor is 30 s); the budget still applies.
  const config = { ...loaded, attribution: { ...loaded.attribution, minFetchIntervalMs: 5000, budget: 0.01, suspicionBudget: 0.02 } }
  const sidecar = new Sidecar(config, { logger: { level: 'warn' } })
  const address = await sidecar.start()
  process.stdout.write(
    [
      '',
      `leakwatch is watching the demo app (inspector 127.0.0.1:${inspectorPort}).`,
      `  metrics:  ${address}/metrics`,
      `  targets:  ${address}/api/targets`,
      `  verdict:  ${address}/api/targets/demo        (analysis.signals[].suspected, onset, secondsToLimit)`,
      `  sites:    ${address}/api/targets/demo/sites  (the leaking function ranks first)`,
      `  profile:  ${address}/api/targets/demo/profile (open in Chrome DevTools → Memory; ?format=pprof for pprof)`,
      `  try:      curl -s ${address}/metrics | grep -E '^leakwatch_(leak_suspected|site_growth)'`,
      'The app starts leaking after DEMO_LEAK_AFTER seconds (default 20); expect the verdict about a',
      'minute later. Ctrl-C stops both.',
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
