// Text from a target is kept clipped, at one place (src/inspector/limits.ts): a protocol
// error message from send(), an exception description from evaluate(), the fields of
// /json/list. Before the fix a 1 MB error message became a 1 MB lastError (and 100 MB made
// the API answer 500), and a clip made with `slice` would still keep the whole text alive.
import t, { type Test } from 'tap'
import { errorCode } from '../../src/core/errors.js'
import { TARGET_TEXT_LIMIT, clipTargetText } from '../../src/inspector/limits.js'
import { InspectorSession, listTargets } from '../../src/inspector/session.js'
import { FakeInspector, defaultTarget, sendJson, type FakeCommand, type FakePeer } from '../fixtures/fake-inspector.js'
import { heapAfterGc, kib } from '../helpers/heap.js'

const MB = 1024 * 1024
/** Clipped text: the limit plus the ellipsis. */
const MAX_CLIPPED = TARGET_TEXT_LIMIT + 1

/** A fake whose answer to every call after the opening one is `reply(command)`. */
async function fakeAnswering(t: Test, reply: (command: FakeCommand) => unknown): Promise<FakeInspector> {
  const fake = await FakeInspector.start({
    onCommand: (command: FakeCommand, peer: FakePeer) => {
      if (command.method === 'NodeRuntime.notifyWhenWaitingForDisconnect') peer.sendText(JSON.stringify({ id: command.id, result: {} }))
      else peer.sendText(JSON.stringify(reply(command)))
    },
  })
  t.teardown(() => fake.close())
  return fake
}

t.test('clipTargetText', async (t) => {
  t.equal(clipTargetText('short'), 'short')
  t.equal(clipTargetText('x'.repeat(TARGET_TEXT_LIMIT)), 'x'.repeat(TARGET_TEXT_LIMIT), 'at the limit: whole')
  t.equal(clipTargetText('x'.repeat(TARGET_TEXT_LIMIT + 1)), `${'x'.repeat(TARGET_TEXT_LIMIT)}…`, 'over: clipped, with an ellipsis')
  t.equal(clipTargetText('abcdef', 3), 'abc…', 'a limit of its own')
  t.equal(clipTargetText('line 1\nline 2\r\u0000'), 'line 1 line 2  ', 'control characters as spaces (no forged log lines)')
  t.equal(clipTargetText(42), '42', 'not a string: its text')
  t.equal(clipTargetText(`${'x'.repeat(TARGET_TEXT_LIMIT - 1)}😀`), `${'x'.repeat(TARGET_TEXT_LIMIT - 1)}\ufffd…`, 'a split surrogate pair becomes U+FFFD')
})

t.test('a clipped text does not keep the whole text alive', async (t) => {
  const kept: string[] = []
  // A fresh flat 10 MB string each time, as JSON.parse makes them (made in a function of its
  // own so that no register of this one still holds the last).
  const clipOneHuge = (i: number): string => clipTargetText(JSON.parse(JSON.stringify(`${i}${'y'.repeat(10 * MB)}`)) as string)
  const before = heapAfterGc()
  for (let i = 0; i < 5; i++) kept.push(clipOneHuge(i))
  const grown = heapAfterGc() - before
  t.ok(grown < MB, `5 clipped 10 MB texts kept ${kib(grown)}`)
  t.equal(kept.length, 5)
})

t.test("a target's error message is clipped in send()", async (t) => {
  const fake = await fakeAnswering(t, (c) => ({ id: c.id, error: { code: -32000, message: `no such thing ${'m'.repeat(MB)}`, data: 'd'.repeat(MB) } }))
  const session = await InspectorSession.open(fake.endpoint, 5000)
  t.teardown(() => session.close())
  const error = await session.send('HeapProfiler.getSamplingProfile', {}, 5000).then(
    () => undefined,
    (e: unknown) => e as Error,
  )
  t.equal(errorCode(error), 'LW_ERR_COMMAND', 'a coded error')
  t.ok(error !== undefined && error.message.length <= MAX_CLIPPED, `message of ${error?.message.length} chars`)
  t.match(error?.message, /^no such thing mmm/, 'it starts with the target text')
  t.notOk(session.isClosed, 'an error reply is no protocol violation: the session stays open')
  // And what the error keeps is its clipped text, not the megabytes.
  const heldBefore = heapAfterGc()
  const errors: unknown[] = []
  for (let i = 0; i < 5; i++) errors.push(await session.send('Runtime.x', {}, 5000).catch((e: unknown) => e))
  const held = heapAfterGc() - heldBefore
  t.ok(held < MB, `5 such errors kept ${kib(held)}`)
})

t.test("a target's exception description is clipped in evaluate()", async (t) => {
  const description = `Error: ${'e'.repeat(MB)}\n    at somewhere (file.js:1:1)`
  const fake = await fakeAnswering(t, (c) => ({
    id: c.id,
    result: { result: { type: 'object' }, exceptionDetails: { text: 'Uncaught', exception: { type: 'object', description } } },
  }))
  const session = await InspectorSession.open(fake.endpoint, 5000)
  t.teardown(() => session.close())
  const error = await session.evaluate('x', 5000).then(
    () => undefined,
    (e: unknown) => e as Error,
  )
  t.equal(errorCode(error), 'LW_ERR_EVALUATE')
  t.ok(error !== undefined && error.message.length <= 'snippet threw in target: '.length + MAX_CLIPPED, `message of ${error?.message.length} chars`)
  t.match(error?.message, /^snippet threw in target: Error: eee/)
})

t.test('exception details of the wrong shape are still an evaluate error', async (t) => {
  const shapes: unknown[] = [null, 'text', 42, { exception: null, text: 7 }, { exception: { description: { a: 1 } } }]
  let next = 0
  const fake = await fakeAnswering(t, (c) => ({ id: c.id, result: { result: { type: 'undefined' }, exceptionDetails: shapes[next++] } }))
  const session = await InspectorSession.open(fake.endpoint, 5000)
  t.teardown(() => session.close())
  for (const shape of shapes) {
    await t.rejects(session.evaluate('x', 5000), { code: 'LW_ERR_EVALUATE' }, JSON.stringify(shape))
  }
})

t.test('/json/list fields are validated and clipped', async (t) => {
  const fake = await FakeInspector.start({
    list: (_request, response, self) =>
      sendJson(response, [
        null,
        'a string',
        { id: 7, webSocketDebuggerUrl: self.webSocketUrl },
        defaultTarget(self, { id: `id-${'i'.repeat(300_000)}`, title: `t-${'t'.repeat(300_000)}`, url: { not: 'a string' } }),
      ]),
  })
  t.teardown(() => fake.close())
  const targets = await listTargets(fake.endpoint, 5000)
  t.equal(targets.length, 1, 'only the entry with a string id and websocket URL')
  const [target] = targets
  t.ok(target!.id.length <= MAX_CLIPPED && target!.id.startsWith('id-iii'), `id of ${target!.id.length} chars`)
  t.ok(target!.title.length <= MAX_CLIPPED && target!.title.startsWith('t-ttt'), `title of ${target!.title.length} chars`)
  t.equal(target!.url, '', 'a url that is not a string is left out')
  t.equal(target!.webSocketDebuggerUrl, fake.webSocketUrl)
  const session = await InspectorSession.open(fake.endpoint, 5000)
  t.teardown(() => session.close())
  t.ok(session.description.title.length <= MAX_CLIPPED, 'the session keeps the clipped description')
})
