// A list endpoint that dribbles its answer (slowloris) is cut off by the same deadline as one
// that never answers: the timeout covers the whole exchange, not the time between bytes. And
// a list body over 1 MiB is refused however fast it comes. The websocket side is bounded the
// same way: a dribbled upgrade answer by the connect timeout, a dribbled reply by the call's.
// (These held before the hardening of issue 12 as well: they guard it.)
import type { Socket } from 'node:net'
import t, { type Test } from 'tap'
import { errorCode } from '../../src/core/errors.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { FakeInspector } from '../fixtures/fake-inspector.js'
import { waitFor } from '../helpers/targets.js'

const TIMEOUT_MS = 500
/** Slack for a loaded 2-core machine: the deadline is TIMEOUT_MS, one slow tick either way. */
const BOUND_MS = TIMEOUT_MS + 1500

/** Write `bytes` one at a time, every `everyMs`, until the socket closes. */
function dribble(socket: { write(chunk: string): boolean; destroyed: boolean; once(event: 'close', f: () => void): unknown }, bytes: string, everyMs: number): void {
  let at = 0
  const timer = setInterval(() => {
    if (socket.destroyed) {
      clearInterval(timer)
      return
    }
    socket.write(bytes[at % bytes.length]!)
    at += 1
  }, everyMs)
  socket.once('close', () => clearInterval(timer))
}

async function timedOpen(fake: FakeInspector): Promise<{ error: unknown; ms: number }> {
  const started = performance.now()
  try {
    const session = await InspectorSession.open(fake.endpoint, TIMEOUT_MS)
    await session.close()
    return { error: undefined, ms: performance.now() - started }
  } catch (error) {
    return { error, ms: performance.now() - started }
  }
}

async function checkCutOff(t: Test, fake: FakeInspector, what: string, message: RegExp): Promise<void> {
  const { error, ms } = await timedOpen(fake)
  t.equal(errorCode(error), 'LW_ERR_TIMEOUT', `${what}: LW_ERR_TIMEOUT (${String(error)})`)
  t.match(String((error as Error | undefined)?.message), message, `${what}: says what timed out`)
  t.ok(ms < BOUND_MS, `${what}: gave up after ${ms.toFixed(0)} ms (timeout ${TIMEOUT_MS} ms)`)
}

/** Sockets the fake still holds open (the sidecar must have let go of its end). */
const openSockets = (fake: FakeInspector): number => (fake as unknown as { sockets: Set<Socket> }).sockets.size

t.test('a /json/list answer dribbled byte by byte is cut off at the timeout', async (t) => {
  const fake = await FakeInspector.start({
    list: (_request, response) => {
      // Headers at once, then a body that never ends (well under the 1 MiB cap).
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('[')
      dribble(response, ' ', 20)
    },
  })
  t.teardown(() => fake.close())
  await checkCutOff(t, fake, 'dribbled body', /GET http:\/\/127\.0\.0\.1:\d+\/json\/list did not answer within 500 ms/)
  await waitFor(() => openSockets(fake) === 0, { timeoutMs: 5000, what: 'the list connection closed' })
  t.pass('the connection was closed')
})

t.test('dribbled response headers are cut off at the timeout', async (t) => {
  const fake = await FakeInspector.start({
    list: (request) => {
      // Raw socket: a status line and headers that never end.
      const socket = request.socket
      socket.write('HTTP/1.1 200 OK\r\n')
      dribble(socket, 'X-Slow: a\r\n', 20)
    },
  })
  t.teardown(() => fake.close())
  await checkCutOff(t, fake, 'dribbled headers', /\/json\/list did not answer within 500 ms/)
  await waitFor(() => openSockets(fake) === 0, { timeoutMs: 5000, what: 'the list connection closed' })
  t.pass('the connection was closed')
})

t.test('a dribbled websocket upgrade answer is cut off at the timeout', async (t) => {
  const fake = await FakeInspector.start({
    upgrade: (_request, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\n')
      dribble(socket, 'X-Slow: a\r\n', 20)
      return false
    },
  })
  t.teardown(() => fake.close())
  await checkCutOff(t, fake, 'dribbled upgrade', /websocket connect to ws:\/\/127\.0\.0\.1:\d+\/fake-target did not answer within 500 ms/)
  await waitFor(() => openSockets(fake) === 0, { timeoutMs: 5000, what: 'the websocket connection closed' })
  t.pass('the connection was closed')
})

t.test('a list body over 1 MiB is refused', async (t) => {
  const fake = await FakeInspector.start({
    list: (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(`[${' '.repeat(2 * 1024 * 1024)}]`)
    },
  })
  t.teardown(() => fake.close())
  const { error } = await timedOpen(fake)
  t.equal(errorCode(error), 'LW_ERR_CONNECT')
  t.match(String((error as Error | undefined)?.message), /sent more than 1048576 bytes/)
})

t.test('a reply dribbled over the websocket is cut off by the call timeout', async (t) => {
  const fake = await FakeInspector.start({
    onCommand: (command, peer) => {
      if (command.method === 'NodeRuntime.notifyWhenWaitingForDisconnect') {
        peer.sendText(JSON.stringify({ id: command.id, result: {} }))
        return
      }
      // A text frame header announcing 60,000 bytes, then a byte every 20 ms.
      peer.socket.write(Buffer.from([0x81, 126, 0xea, 0x60]))
      dribble(peer.socket, 'x', 20)
    },
  })
  t.teardown(() => fake.close())
  const session = await InspectorSession.open(fake.endpoint, 5000)
  t.teardown(() => session.close())
  const started = performance.now()
  await t.rejects(session.send('Runtime.getHeapUsage', {}, TIMEOUT_MS), { code: 'LW_ERR_TIMEOUT' })
  const ms = performance.now() - started
  t.ok(ms < BOUND_MS, `gave up after ${ms.toFixed(0)} ms`)
})
