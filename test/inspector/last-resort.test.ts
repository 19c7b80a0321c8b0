// The process-level last resort (src/inspector/last-resort.ts, installed by src/cli.ts):
// errors known to come from a target session are logged and survived, anything else exits 1.
import { spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import t from 'tap'
import { CommandError, ProtocolError, TimeoutError } from '../../src/core/errors.js'
import { installLastResort, isTargetSessionError, throwSite } from '../../src/inspector/last-resort.js'
import { freePort, repoRoot, waitFor } from '../helpers/targets.js'

/** chrome-remote-interface's own dispatch, unguarded: what used to throw on a target's message. */
const RawChrome = createRequire(import.meta.url)('chrome-remote-interface/lib/chrome.js') as {
  prototype: { _handleMessage(message: unknown): void }
}

function thrownBy(fn: () => void): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

/** A bare client object (no connection) with chrome-remote-interface's dispatch. */
function rawClient(): { _handleMessage(message: unknown): void; _callbacks: object } & EventEmitter {
  const client = Object.create(RawChrome.prototype) as { _handleMessage(message: unknown): void; _callbacks: object } & EventEmitter
  EventEmitter.call(client)
  client._callbacks = {}
  return client
}

t.test('what counts as an error from a target session', async (t) => {
  t.ok(isTargetSessionError(new ProtocolError('x')), 'a ProtocolError')
  t.ok(isTargetSessionError(new CommandError('x')), 'a CommandError')
  // The errors the unguarded client threw on a target's message, for real.
  const proto = thrownBy(() => rawClient()._handleMessage({ id: '__proto__', result: {} }))
  t.match(String(proto), /callback is not a function/)
  t.match(throwSite(proto), /node_modules\/chrome-remote-interface\/lib\/chrome\.js$/, 'thrown in chrome.js')
  t.ok(isTargetSessionError(proto), 'the "__proto__" reply crash')
  const unhandled = thrownBy(() => rawClient()._handleMessage({ method: 'error', params: {} }))
  t.match((unhandled as { code?: string }).code, 'ERR_UNHANDLED_ERROR')
  t.ok(isTargetSessionError(unhandled), 'the "error" event crash (thrown in node:events, called from chrome.js)')
  const notJson = thrownBy(() => JSON.parse('{'))
  const parseInChrome = Object.assign(new SyntaxError('Unexpected end of JSON input'), {
    stack:
      'SyntaxError: Unexpected end of JSON input\n    at JSON.parse (<anonymous>)\n' +
      '    at WebSocket.<anonymous> (/app/node_modules/chrome-remote-interface/lib/chrome.js:227:38)\n' +
      '    at WebSocket.emit (node:events:524:28)\n    at Receiver.receiverOnMessage (/app/node_modules/ws/lib/websocket.js:1098:20)',
  })
  t.ok(isTargetSessionError(parseInChrome), 'the not-JSON crash (its stack as recorded before the fix)')

  // Not from a target: leakwatch's own bugs, wherever they are called from.
  t.notOk(isTargetSessionError(notJson), 'a JSON.parse in our own code')
  t.notOk(isTargetSessionError(new TypeError('x is undefined')), 'a TypeError of ours')
  t.notOk(isTargetSessionError(new TimeoutError('x', 1)), 'a coded error that a bug let escape (not a protocol one)')
  const client = rawClient()
  client.on('Runtime.consoleAPICalled', () => {
    throw new TypeError('bug in a listener')
  })
  const inListener = thrownBy(() => client._handleMessage({ method: 'Runtime.consoleAPICalled', params: {} }))
  t.match(String(inListener), /bug in a listener/)
  t.notOk(isTargetSessionError(inListener), 'a bug in our listener, called by chrome.js')
  const forged = new TypeError('target text\n    at x (/app/node_modules/ws/lib/receiver.js:1:1)')
  t.notOk(isTargetSessionError(forged), 'a message that forges a stack frame')
  t.notOk(isTargetSessionError('a string'), 'not an Error')
  t.notOk(isTargetSessionError(Object.assign(new Error('no stack'), { stack: undefined })), 'no stack')
})

t.test('the handler: logs and survives target errors, exits 1 otherwise, rate-limits its log', async (t) => {
  const emitter = new EventEmitter()
  const proc = emitter as unknown as NodeJS.Process
  const lines: string[] = []
  const exits: number[] = []
  const remove = installLastResort(proc, { log: (line) => lines.push(line), exit: (code) => exits.push(code), maxLogsPerMinute: 3 })
  t.teardown(remove)
  for (let i = 0; i < 5; i++) emitter.emit('uncaughtException', new ProtocolError(`bad frame ${i}\nforged line`))
  emitter.emit('unhandledRejection', new CommandError('no such method'))
  t.same(exits, [], 'no exit for target errors')
  t.equal(lines.length, 3, 'three lines in the minute, the rest counted')
  t.match(lines[0], /^leakwatch: kept serving after an uncaught exception from a target session \(LW_ERR_PROTOCOL\): bad frame 0 forged line\n/)
  emitter.emit('uncaughtException', new TypeError('a real bug'))
  t.same(exits, [1], 'exit 1 for anything else')
  t.match(lines.at(-1), /^leakwatch: uncaught exception, exiting: TypeError: a real bug\n\s+at /)
  emitter.emit('unhandledRejection', 'a string')
  t.same(exits, [1, 1])
  remove()
  t.equal(emitter.listenerCount('uncaughtException'), 0, 'removable')
})

t.test('the CLI survives a target error and exits 1 on a bug', async (t) => {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = { ...process.env, LEAKWATCH_LAST_RESORT_PRELOAD: '1' }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  const child = spawn(
    process.execPath,
    [
      '--import',
      '@tapjs/typescript/import',
      '--import',
      resolve(repoRoot, 'test/inspector/last-resort-preload.ts'),
      resolve(repoRoot, 'src/cli.ts'),
      '--target',
      `127.0.0.1:${port}`,
      '--listen',
      '127.0.0.1:0',
      '--log-level',
      'error',
    ],
    { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  await waitFor(() => /kept serving after an uncaught exception from a target session \(LW_ERR_PROTOCOL\)/.test(err), {
    timeoutMs: 30_000,
    what: `the survived ProtocolError (stderr: ${err})`,
  })
  await waitFor(() => /kept serving after an unhandled rejection from a target session \(LW_ERR_COMMAND\)/.test(err), {
    timeoutMs: 10_000,
    what: 'the survived CommandError',
  })
  await waitFor(() => /^alive after target errors$/m.test(out), { timeoutMs: 10_000, what: `alive (stdout: ${out})` })
  // The preload throws a TypeError once it printed "alive": a bug, exit 1.
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const code = await exited
  clearTimeout(timer)
  t.equal(code, 1, 'a bug exits 1')
  t.match(err, /leakwatch: uncaught exception, exiting: TypeError: a real bug in leakwatch/)
})
