// A target that sends one malformed websocket message must cost only its own session: the
// session closes with LW_ERR_PROTOCOL, the call in flight fails with that error, onClose
// listeners hear why, and the process goes on (here: opens a session to a real target).
//
// Before the fix each of the first three frames killed the process: chrome-remote-interface
// runs JSON.parse in its websocket 'message' listener (a throw there is uncaught), emits every
// event under its method name (an event named "error" with no listener throws), and keeps
// reply callbacks in a plain object (an id of "__proto__" finds Object.prototype and calls it).
// test/inspector/survivor.test.ts checks the same frames in a process without tap's handlers.
import t, { type Test } from 'tap'
import { errorCode, LeakwatchError } from '../../src/core/errors.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { CRASHING_FRAMES, FakeInspector, type FakeCommand, type FakePeer } from '../fixtures/fake-inspector.js'
import { COLLECTORS as nodeCollectors } from '../../src/collectors/registry.js'
import { TargetMonitor } from '../../src/monitor/monitor.js'
import { silentLogger } from '../helpers/monitor.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

/** More frames no inspector sends; each must close the session the same way. */
const OTHER_FRAMES: ReadonlyArray<{ name: string; frame: (command: FakeCommand) => string }> = [
  { name: 'a JSON array', frame: () => '[1,2,3]' },
  { name: 'JSON null', frame: () => 'null' },
  { name: 'a JSON number', frame: () => '42' },
  { name: 'a negative id', frame: () => JSON.stringify({ id: -1, result: {} }) },
  { name: 'a fractional id', frame: (c) => JSON.stringify({ id: c.id + 0.5, result: {} }) },
  { name: 'the id as a string', frame: (c) => JSON.stringify({ id: String(c.id), result: {} }) },
  { name: 'an id beyond 2^53', frame: () => '{"id":9007199254740993,"result":{}}' },
  { name: 'a result that is not an object', frame: (c) => JSON.stringify({ id: c.id, result: 'x' }) },
  { name: 'an error that is not an object', frame: (c) => JSON.stringify({ id: c.id, error: 'x' }) },
  { name: 'an error without a message', frame: (c) => JSON.stringify({ id: c.id, error: { code: 1 } }) },
  // The client used to build its error text with `${data}`: this one throws in String().
  { name: 'error data that is not a string', frame: (c) => JSON.stringify({ id: c.id, error: { message: 'x', data: { toString: 1 } } }) },
  { name: 'a method that is not a string', frame: () => JSON.stringify({ method: 42, params: {} }) },
  { name: 'an event named "disconnect"', frame: () => JSON.stringify({ method: 'disconnect', params: {} }) },
  { name: 'an event named "__proto__"', frame: () => JSON.stringify({ method: '__proto__', params: {} }) },
  { name: 'event params that are not an object', frame: () => JSON.stringify({ method: 'Runtime.consoleAPICalled', params: 5 }) },
  { name: 'a session id that is not a string', frame: () => JSON.stringify({ method: 'Runtime.consoleAPICalled', params: {}, sessionId: {} }) },
  { name: 'neither id nor method', frame: () => JSON.stringify({ result: {} }) },
  { name: `a 1 MB frame of garbage`, frame: () => `<${'x'.repeat(1024 * 1024)}>` },
]

/** A fake that answers the session's opening command and sends `frame` in reply to the next. */
async function fakeSending(t: Test, frame: (command: FakeCommand) => string, binary = false): Promise<FakeInspector> {
  const fake = await FakeInspector.start({
    onCommand: (command: FakeCommand, peer: FakePeer) => {
      if (command.method === 'NodeRuntime.notifyWhenWaitingForDisconnect') {
        peer.sendText(JSON.stringify({ id: command.id, result: {} }))
        return
      }
      if (binary) peer.sendBinary(Buffer.from(frame(command)))
      else peer.sendText(frame(command))
    },
  })
  t.teardown(() => fake.close())
  return fake
}

/** Open a session to `fake`, make one call, and report how it ended. */
async function oneCall(fake: FakeInspector): Promise<{ session: InspectorSession; error: unknown; reasons: unknown[] }> {
  const session = await InspectorSession.open(fake.endpoint, 2000)
  const reasons: unknown[] = []
  session.onClose((reason?: unknown) => reasons.push(reason))
  let error: unknown
  try {
    await session.evaluate('1 + 1', 2000)
  } catch (caught) {
    error = caught
  }
  return { session, error, reasons }
}

function checkProtocolClose(t: Test, what: string, outcome: Awaited<ReturnType<typeof oneCall>>): void {
  const { session, error, reasons } = outcome
  t.equal(errorCode(error), 'LW_ERR_PROTOCOL', `${what}: the call in flight failed with LW_ERR_PROTOCOL (${String(error)})`)
  t.ok(session.isClosed, `${what}: the session is closed`)
  t.equal(reasons.length, 1, `${what}: onClose fired once`)
  t.equal(errorCode(reasons[0]), 'LW_ERR_PROTOCOL', `${what}: onClose was told why`)
  t.equal(reasons[0], error, `${what}: the same error for the call and the session`)
  if (error instanceof LeakwatchError) t.ok(error.message.length <= 400, `${what}: message clipped (${error.message.length} chars)`)
  t.equal(errorCode(session.closeReason), 'LW_ERR_PROTOCOL', `${what}: closeReason`)
}

const errors: unknown[] = []
const onUncaught = (error: unknown): void => {
  errors.push(error)
}

t.test('frames that crashed the sidecar close only their session', async (t) => {
  // tap reports an uncaught exception as a failure of the running test and goes on; count
  // them here as well, so the assertion names the frame that caused it.
  process.on('uncaughtException', onUncaught)
  t.teardown(() => void process.off('uncaughtException', onUncaught))
  for (const { name, frame } of CRASHING_FRAMES) {
    const before = errors.length
    const fake = await fakeSending(t, frame)
    checkProtocolClose(t, name, await oneCall(fake))
    t.equal(errors.length, before, `${name}: no uncaught exception (${errors.slice(before).map(String).join('; ')})`)
  }
})

t.test('other malformed frames close the session the same way', async (t) => {
  for (const { name, frame } of OTHER_FRAMES) {
    checkProtocolClose(t, name, await oneCall(await fakeSending(t, frame)))
  }
  checkProtocolClose(t, 'a binary frame', await oneCall(await fakeSending(t, (c) => JSON.stringify({ id: c.id, result: {} }), true)))
})

t.test('a frame that breaks the websocket protocol itself closes the session the same way', async (t) => {
  const fake = await FakeInspector.start({
    onCommand: (command, peer) => {
      if (command.method === 'NodeRuntime.notifyWhenWaitingForDisconnect') peer.sendText(JSON.stringify({ id: command.id, result: {} }))
      // A final frame of the reserved opcode 3.
      else peer.socket.write(Buffer.from([0x83, 0x00]))
    },
  })
  t.teardown(() => fake.close())
  const outcome = await oneCall(fake)
  checkProtocolClose(t, 'a reserved opcode', outcome)
  t.match(String(outcome.error), /broke the websocket protocol \(Invalid WebSocket frame: invalid opcode 3\)/)
})

t.test('well-formed events are dispatched and leave the session open', async (t) => {
  const fake = await FakeInspector.start({
    onCommand: (command, peer) => {
      if (command.method === 'Runtime.evaluate') {
        peer.sendText(JSON.stringify({ method: 'Runtime.consoleAPICalled', params: { type: 'log' }, sessionId: 'abc' }))
        peer.sendText(JSON.stringify({ method: 'Runtime.executionContextCreated', params: {} }))
        peer.sendText(JSON.stringify({ id: command.id, result: { result: { type: 'number', value: 2 } } }))
        return
      }
      peer.sendText(JSON.stringify({ id: command.id, result: {} }))
    },
  })
  t.teardown(() => fake.close())
  const session = await InspectorSession.open(fake.endpoint, 2000)
  t.teardown(() => session.close())
  t.equal(await session.evaluate('1 + 1', 2000), 2)
  t.notOk(session.isClosed, 'still open')
  // The one event leakwatch acts on: the target waits for debuggers to leave before exiting.
  const reasons: unknown[] = []
  session.onClose((reason) => reasons.push(reason))
  fake.peers[0]!.sendText(JSON.stringify({ method: 'NodeRuntime.waitingForDisconnect', params: {} }))
  await waitFor(() => session.isClosed, { timeoutMs: 5000, what: 'the session let go of an exiting target' })
  t.equal(errorCode(reasons[0]), 'LW_ERR_SESSION_CLOSED', 'closed by leakwatch, not as a protocol error')
})

t.test('every call in flight fails with the reason; later calls say the session is closed', async (t) => {
  let inFlight = 0
  let peerOf: FakePeer | undefined
  const fake = await FakeInspector.start({
    onCommand: (command, peer) => {
      if (command.method === 'NodeRuntime.notifyWhenWaitingForDisconnect') {
        peer.sendText(JSON.stringify({ id: command.id, result: {} }))
        return
      }
      // Hold three calls, then break the protocol.
      peerOf = peer
      inFlight += 1
      if (inFlight === 3) peer.sendText('not json at all')
    },
  })
  t.teardown(() => fake.close())
  const session = await InspectorSession.open(fake.endpoint, 2000)
  const results = await Promise.allSettled([
    session.send('Runtime.getHeapUsage', {}, 2000),
    session.evaluate('1', 2000),
    session.send('HeapProfiler.getSamplingProfile', {}, 2000),
  ])
  t.strictSame(
    results.map((r) => (r.status === 'rejected' ? errorCode(r.reason) : 'fulfilled')),
    ['LW_ERR_PROTOCOL', 'LW_ERR_PROTOCOL', 'LW_ERR_PROTOCOL'],
  )
  t.match(String(session.closeReason), /not JSON/i)
  await t.rejects(session.send('Runtime.getHeapUsage', {}, 2000), { code: 'LW_ERR_SESSION_CLOSED' })
  // The sidecar hung up on the target.
  await waitFor(() => peerOf!.socket.destroyed, { timeoutMs: 5000, what: 'the websocket to the target closed' })
  t.pass('the websocket to the target was closed')
})

t.test('a late reply to a call that timed out is not a protocol error', async (t) => {
  let held: FakeCommand | undefined
  const fake = await FakeInspector.start({
    onCommand: (command, peer) => {
      if (command.method === 'Runtime.evaluate' && held === undefined) {
        held = command
        // The late answer to the call that will have timed out.
        setTimeout(() => peer.sendText(JSON.stringify({ id: command.id, result: { result: { type: 'number', value: 1 } } })), 300)
        return
      }
      peer.sendText(JSON.stringify({ id: command.id, result: { usedSize: 1, totalSize: 2 } }))
    },
  })
  t.teardown(() => fake.close())
  const session = await InspectorSession.open(fake.endpoint, 2000)
  t.teardown(() => session.close())
  await t.rejects(session.evaluate('1', 100), { code: 'LW_ERR_TIMEOUT' })
  // Nothing is sent while the target has not answered (test/inspector/pending-call.test.ts); then it is.
  const answered = await waitFor(() => session.send('Runtime.getHeapUsage', {}, 2000), { timeoutMs: 5000, intervalMs: 50, what: 'the next call answered' })
  t.strictSame(answered, { usedSize: 1, totalSize: 2 })
  t.notOk(session.isClosed, 'still open')
})

t.test('a monitor watching such a target records LW_ERR_PROTOCOL and keeps retrying', async (t) => {
  // The fake answers the session's opening command and breaks the protocol on the agent install.
  const fake = await fakeSending(t, () => JSON.stringify({ method: 'error', params: {} }))
  const monitor = new TargetMonitor({
    target: { name: 'hostile', host: fake.host, port: fake.port, intervalMs: 1000, timeoutMs: 2000, disabledCollectors: [] },
    collectors: nodeCollectors,
    openSession: (endpoint, timeoutMs) => InspectorSession.open(endpoint, timeoutMs),
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
    logger: silentLogger,
  })
  monitor.start()
  t.teardown(() => monitor.stop())
  const status = await waitFor(() => monitor.status().connectFailures >= 3 && monitor.status(), { timeoutMs: 10_000, what: '3 failed connects' })
  t.equal(status.lastError?.code, 'LW_ERR_PROTOCOL', `lastError: ${status.lastError?.message}`)
  t.ok(status.lastError!.message.length <= 400, 'clipped')
  t.equal(status.up, false)
  t.ok(fake.peers.length >= 3, `${fake.peers.length} sessions opened and dropped`)
})

t.test('after all that, the process opens a session to a real target', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/idle-target.cjs' })
  const session = await InspectorSession.open({ host: target.host, port: target.port }, 5000)
  t.teardown(() => session.close())
  t.equal(await session.evaluate('1 + 1', 5000), 2)
  t.equal(session.closeReason, undefined, 'no close reason while open')
})
