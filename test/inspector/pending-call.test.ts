// A call that timed out here is still pending in the target (an evaluation it has not finished):
// the session sends nothing more until the target answers it, so a stuck target never gets a
// second evaluation queued behind the first. An evaluation V8 ended at its own timeout
// ("Execution was terminated") is a timeout too, not a command error the poll would shrug off.
import t from 'tap'
import { errorCode } from '../../src/core/errors.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { FakeInspector, type FakeCommand, type FakePeer } from '../fixtures/fake-inspector.js'

const evaluations = (peer: FakePeer): FakeCommand[] => peer.commands.filter((c) => c.method === 'Runtime.evaluate')

t.test('after a timeout, nothing more is sent until the target answers the stalled call', async (t) => {
  const held: FakeCommand[] = []
  const fake = await FakeInspector.start({
    onCommand: (command, peer) => {
      const expression = (command.params as { expression?: string } | undefined)?.expression
      if (command.method === 'Runtime.evaluate' && expression === 'stuck()') held.push(command)
      else peer.sendText(JSON.stringify({ id: command.id, result: { result: { type: 'number', value: 7 } } }))
    },
  })
  t.teardown(() => fake.close())
  const peerConnected = fake.nextPeer()
  const session = await InspectorSession.open(fake.endpoint, 2000)
  t.teardown(() => session.close())
  const peer = await peerConnected

  const first = await session.evaluate('stuck()', 200).catch((error: unknown) => error)
  t.equal(errorCode(first), 'LW_ERR_TIMEOUT', 'the stuck call times out')
  const second = await session.evaluate('1 + 1', 200).catch((error: unknown) => error)
  t.equal(errorCode(second), 'LW_ERR_TIMEOUT', 'the next call fails as a timeout...')
  t.match(String((second as Error).message), /^Runtime\.evaluate not sent: an earlier Runtime\.evaluate timed out and is still pending in the target$/)
  t.equal(evaluations(peer).length, 1, '...without being sent')
  t.notOk(session.isClosed, 'the session itself stays open (its owner decides)')

  // The target answers the stalled call at last: the session is usable again.
  peer.sendText(JSON.stringify({ id: held[0]!.id, result: { result: { type: 'number', value: 1 } } }))
  const third = await (async () => {
    for (let i = 0; i < 50; i++) {
      const value = await session.evaluate('1 + 1', 500).catch((error: unknown) => error)
      if (errorCode(value) !== 'LW_ERR_TIMEOUT') return value
      await new Promise((r) => setTimeout(r, 20))
    }
    return undefined
  })()
  t.equal(third, 7, 'answered once the stalled call was')
  t.equal(evaluations(peer).length, 2, 'sent once the target was free')
})

t.test('an evaluation V8 terminated at its timeout is a timeout', async (t) => {
  const fake = await FakeInspector.start({
    onCommand: (command, peer) => {
      if (command.method === 'Runtime.evaluate') {
        peer.sendText(JSON.stringify({ id: command.id, error: { code: -32000, message: 'Execution was terminated' } }))
      } else peer.sendText(JSON.stringify({ id: command.id, result: {} }))
    },
  })
  t.teardown(() => fake.close())
  const session = await InspectorSession.open(fake.endpoint, 2000)
  t.teardown(() => session.close())
  const error = await session.evaluate('for (;;) {}', 1000).catch((e: unknown) => e)
  t.equal(errorCode(error), 'LW_ERR_TIMEOUT')
  t.equal((error as Error).message, 'Runtime.evaluate ran out of its 1000 ms in the target and was terminated')
  const other = await session.send('Runtime.getHeapUsage', {}, 1000)
  t.same(other, {}, 'not a stalled call: the target answered it')
})
