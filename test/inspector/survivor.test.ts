// The frames that used to crash the sidecar, sent to a plain Node.js process that has no
// handler for uncaught exceptions (tap, which runs the other tests, installs one): the process
// must lose only the session that received the frame, then work with a real target.
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import t from 'tap'
import { CRASHING_FRAMES, FakeInspector } from '../fixtures/fake-inspector.js'
import { repoRoot, spawnTarget } from '../helpers/targets.js'

t.test('a process survives every crashing frame and then talks to a real target', async (t) => {
  const fakes: FakeInspector[] = []
  for (const { frame } of CRASHING_FRAMES) {
    const fake = await FakeInspector.start({
      onCommand: (command, peer) => {
        if (command.method === 'NodeRuntime.notifyWhenWaitingForDisconnect') peer.sendText(JSON.stringify({ id: command.id, result: {} }))
        else peer.sendText(frame(command))
      },
    })
    t.teardown(() => fake.close())
    fakes.push(fake)
  }
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/idle-target.cjs' })
  const env: NodeJS.ProcessEnv = { ...process.env, FAKE_PORTS: fakes.map((f) => f.port).join(','), REAL_PORT: String(target.port) }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  const child = spawn(process.execPath, ['--import', '@tapjs/typescript/import', resolve(repoRoot, 'test/inspector/survivor-probe.ts')], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  // Bounded: the probe's calls time out after 2 s each; ts loading takes a few seconds.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  t.teardown(() => {
    clearTimeout(timer)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const code = await exited
  clearTimeout(timer)
  t.equal(code, 0, `the probe exited 0 (stderr: ${err.slice(0, 2000)})`)
  const expected = CRASHING_FRAMES.map((f, i) => `fake ${i}: LW_ERR_PROTOCOL closed=true`)
  t.strictSame(out.trim().split('\n'), [...expected, 'real: 2', 'done'], 'each fake cost its session only')
})
