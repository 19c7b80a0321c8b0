// Large messages (over MAX_SMALL_MESSAGE_BYTES, 4 MiB: only while a heap profile or a holder
// search's property list is due) are decoded, parsed and checked on a reader thread and come
// back to the main thread in slices, so a target's 60 MiB profile no longer holds the sidecar's
// event loop for as long as JSON.parse takes (0.5-1 s: /metrics scrapes of 0.5-0.67 s in the
// hostile soak). Small messages are parsed inline as before; the order of messages holds.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { keepProfile } from '../../src/attribution/kept-profile.js'
// Registers the profile reducer: a large profile reply is kept on the reader thread.
import '../../src/attribution/profiler.js'
import { runToEnd } from '../../src/attribution/slices.js'
import { errorCode } from '../../src/core/errors.js'
import { connectClient, PROTOCOL_FAILURE, replyNote, replyReadMs } from '../../src/inspector/client.js'
import { MAX_SMALL_MESSAGE_BYTES } from '../../src/inspector/limits.js'
import { encodeValue, rebuildValue } from '../../src/inspector/message.js'
import { READER_IDLE_MS, readerRunning, readerStarts, readOffThread, readsInFlight } from '../../src/inspector/parse-pool.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { FakeInspector, type FakeCommand, type FakePeer } from '../fixtures/fake-inspector.js'
import { hugeProfileText, SMALL_PROFILE } from '../fixtures/fake-node.js'

const MiB = 1024 * 1024
/** A string field that makes a reply large (over 4 MiB) without changing what matters in it. */
const pad = (bytes = 5 * MiB): string => 'p'.repeat(bytes)

interface Node {
  readonly callFrame: unknown
  readonly children: Node[]
}

type Answer = (command: FakeCommand, peer: FakePeer) => void

/** A fake inspector that answers the session's handshake and lets `answer` handle the rest. */
async function fakeWith(t: Test, answer: Answer): Promise<FakeInspector> {
  const fake = await FakeInspector.start({
    onCommand: (command, peer) => {
      if (command.method === 'NodeRuntime.notifyWhenWaitingForDisconnect') peer.sendText(JSON.stringify({ id: command.id, result: {} }))
      else answer(command, peer)
    },
  })
  t.teardown(() => fake.close())
  return fake
}

async function open(t: Test, fake: FakeInspector): Promise<InspectorSession> {
  const session = await InspectorSession.open(fake.endpoint, 5000)
  t.teardown(() => session.close())
  return session
}

t.test('tokens: a value rebuilt from its batches equals it', async (t) => {
  const deep: unknown[] = []
  let inner = deep
  for (let i = 0; i < 100_000; i++) inner.push((inner = []))
  const values: unknown[] = [
    null, 0, -1.5e300, 'x', '', true, [], {}, [[], {}, [{}]],
    JSON.parse('{"__proto__":{"a":1},"constructor":2,"1":"one","0":"zero","é😀":"\\u0000"}'),
    { many: Array.from({ length: 100_000 }, (_, i) => ({ i, s: `s${i}`, n: null, a: [i] })) },
  ]
  for (const value of values) {
    const batches = [...encodeValue(value)]
    const rebuilt = runToEnd(rebuildValue(batches))
    t.same(rebuilt, value, `${JSON.stringify(value).slice(0, 40)} (${batches.length} batches)`)
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
      t.equal(Object.getPrototypeOf(rebuilt), Object.prototype, '__proto__ stays an own property')
      t.ok(Object.hasOwn(rebuilt as object, '__proto__'))
    }
  }
  // 100,000 arrays deep (deeper than a recursive copy or comparison could go).
  let depth = 0
  for (let a = runToEnd(rebuildValue([...encodeValue(deep)])) as unknown[]; a.length === 1; a = a[0] as unknown[]) depth += 1
  t.equal(depth, 100_000, 'a deep value is rebuilt without recursion')
})

t.test('a large profile reply is kept on the reader thread exactly as keepProfile keeps it', async (t) => {
  const profiles: Array<[string, string]> = [
    ['a recorded profile', JSON.stringify(SMALL_PROFILE)],
    ['a profile of 60,000 nodes', hugeProfileText(60_000, 30_000)],
    ['malformed nodes', '{"head":{"callFrame":{"functionName":1},"id":"x","children":[{"id":2,"children":null},7,null]},"samples":[1,{"size":-1},{"size":2,"nodeId":5}]}'],
    ['no head', '{"samples":[{"size":1,"nodeId":1,"ordinal":1}]}'],
  ]
  let profileText = ''
  const fake = await fakeWith(t, (command, peer) => {
    peer.sendTextBytes(Buffer.from(`{"id":${command.id},"result":{"profile":${profileText},"pad":"${pad()}"}}`))
  })
  const session = await open(t, fake)
  const startsBefore = readerStarts
  for (const [name, text] of profiles) {
    profileText = text
    const expected = JSON.parse(`{"profile":${text}}`) as { profile: unknown }
    const reply = (await session.send('HeapProfiler.getSamplingProfile', {}, 30_000)) as { profile: unknown; pad: string }
    t.equal(reply.pad.length, 5 * MiB, `${name}: the rest of the reply came`)
    const note = replyNote(reply) as { keptProfile: unknown } | undefined
    if (name === 'no head') {
      // Not a profile the profiler would keep (it reports a malformed reply): left as parsed.
      t.equal(note, undefined, `${name}: not reduced`)
      t.same(reply.profile, expected.profile, `${name}: the profile equals JSON.parse's`)
      continue
    }
    const kept = runToEnd(keepProfile(expected.profile))
    t.same(reply.profile, kept.profile, `${name}: the profile is the kept copy of JSON.parse's`)
    t.same(note?.keptProfile, kept.stats, `${name}: the note says what was kept (${JSON.stringify(kept.stats)})`)
    // The kept copy shares each call frame between its nodes; so does what came back.
    const frames = new Set<unknown>()
    let nodes = 0
    for (const stack = [(reply.profile as { head: Node }).head]; stack.length > 0; ) {
      const node = stack.pop()!
      nodes += 1
      frames.add(node.callFrame)
      stack.push(...node.children)
    }
    t.ok(frames.size <= nodes, `${name}: ${frames.size} call frames for ${nodes} nodes`)
  }
  t.same(replyNote(JSON.parse('{"profile":{}}')), undefined, 'no note on anything else')
  t.ok(readerStarts > startsBefore, 'the replies went through the reader thread')
  t.equal(readsInFlight(), 0, 'nothing left in flight')
  t.notOk(session.isClosed)
})

t.test("a huge profile does not hold the main thread's event loop for its JSON.parse", async (t) => {
  // The hostile soak's profile: a million nodes, ~60 MiB of JSON.
  const text = `{"id":2,"result":{"profile":${hugeProfileText(1_000_000, 200_000)}}}`
  const bytes = Buffer.from(text)
  t.ok(bytes.length > 50 * MiB, `${(bytes.length / MiB).toFixed(1)} MiB`)
  const fake = await fakeWith(t, (command, peer) => peer.sendTextBytes(command.id === 2 ? bytes : Buffer.from(`{"id":${command.id},"result":{}}`)))
  const session = await open(t, fake)
  // What one inline JSON.parse of the same text costs on this machine, now.
  let started = performance.now()
  JSON.parse(text)
  const inlineMs = performance.now() - started
  const delay = monitorEventLoopDelay({ resolution: 5 })
  delay.enable()
  started = performance.now()
  const reply = (await session.send('HeapProfiler.getSamplingProfile', {}, 60_000)) as { profile: { samples: unknown[] } }
  const readMs = performance.now() - started
  // The histogram records a stall when its next timer runs: let it run once more.
  await new Promise((resolve) => setTimeout(resolve, 20))
  delay.disable()
  const maxStallMs = delay.max / 1e6
  t.equal(reply.profile.samples.length, 100_000, 'the kept profile came (its samples up to the limit)')
  t.match(replyNote(reply), { keptProfile: { nodes: 100_000, truncated: true } }, 'kept on the reader thread')
  const readTime = replyReadMs(reply)
  t.ok(readTime !== undefined && readTime > 0 && readTime <= readMs, `the read's own time is known (${readTime?.toFixed(0)} ms), for the profiler to leave out of the target's pause`)
  t.comment(`inline JSON.parse ${inlineMs.toFixed(0)} ms; read through the reader thread ${readMs.toFixed(0)} ms with the longest event-loop stall ${maxStallMs.toFixed(0)} ms`)
  t.ok(maxStallMs < inlineMs / 3, `longest stall ${maxStallMs.toFixed(0)} ms < a third of the inline parse (${inlineMs.toFixed(0)} ms)`)
})

t.test('a small event sent right after a large reply comes after it', async (t) => {
  const fake = await fakeWith(t, (command, peer) => {
    peer.sendTextBytes(Buffer.from(`{"id":${command.id},"result":{"result":[],"pad":"${pad()}"}}`))
    peer.sendText('{"method":"Runtime.executionContextDestroyed","params":{"n":1}}')
    peer.sendText('{"method":"Runtime.executionContextDestroyed","params":{"n":2}}')
  })
  const client = await connectClient(fake.webSocketUrl, fake.endpoint, 5000)
  t.teardown(() => client.close())
  const seen: string[] = []
  client.on('Runtime.executionContextDestroyed', (params: { n: number }) => seen.push(`event ${params.n}`))
  // The callback itself, not a promise's continuation (a microtask runs after what the same
  // socket read delivered, inline as well).
  await new Promise<void>((resolve) =>
    client._enqueueCommand('Runtime.getProperties', { objectId: '1' }, undefined, () => {
      seen.push('reply')
      resolve()
    }),
  )
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(seen, ['reply', 'event 1', 'event 2'], 'in the order sent')
})

t.test('a large message that breaks the protocol fails the session as an inline one does', async (t) => {
  const cases: Array<[string, (id: number) => Buffer, RegExp]> = [
    ['not JSON', (id) => Buffer.from(`{"id":${id},"result":{"pad":"${pad()}"`), /^inspector target sent a websocket message that is not JSON: "\{\\"id\\":\d+,\\"result\\":\{\\"pad\\":\\"p+…"$/],
    ['not a command id', (id) => Buffer.from(`{"id":"${id}","result":{"pad":"${pad()}"}}`), /^inspector target sent a reply whose id is not a command id: "/],
    ['result not an object', (id) => Buffer.from(`{"id":${id},"result":["${pad()}"]}`), /^inspector target sent a reply whose result is not an object: "/],
    ['not UTF-8', (id) => Buffer.concat([Buffer.from(`{"id":${id},"result":{"pad":"${pad()}`), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]), /^inspector target broke the websocket protocol \(Invalid WebSocket frame: invalid UTF-8 sequence\)$/],
  ]
  for (const [name, message, expected] of cases) {
    const fake = await fakeWith(t, (command, peer) => peer.sendTextBytes(message(command.id)))
    const session = await open(t, fake)
    const failures: unknown[] = []
    session.onClose((reason) => failures.push(reason))
    const error = await session.send('HeapProfiler.getSamplingProfile', {}, 30_000).catch((e: unknown) => e)
    t.equal(errorCode(error), 'LW_ERR_PROTOCOL', `${name}: LW_ERR_PROTOCOL`)
    t.match(String((error as Error).message), expected, `${name}: ${String((error as Error).message).slice(0, 100)}`)
    t.ok(session.isClosed, `${name}: the session is closed`)
    t.equal(failures.length, 1, `${name}: told once`)
  }
})

t.test('a client that closes while a large message is read drops it cleanly', async (t) => {
  const fake = await fakeWith(t, (command, peer) => {
    peer.sendTextBytes(Buffer.from(`{"id":${command.id},"result":{"profile":${hugeProfileText(300_000, 100_000)}}}`))
    peer.sendText('{"method":"Runtime.executionContextDestroyed","params":{}}')
    // Gone while the sidecar reads the reply.
    setTimeout(() => peer.destroy(), 100)
  })
  const client = await connectClient(fake.webSocketUrl, fake.endpoint, 5000)
  let calls = 0
  let events = 0
  client.on('Runtime.executionContextDestroyed', () => (events += 1))
  const failures: unknown[] = []
  client.on(PROTOCOL_FAILURE, (error: unknown) => failures.push(error))
  const result = await new Promise<unknown>((resolve) => {
    client._enqueueCommand('HeapProfiler.getSamplingProfile', {}, undefined, (error, response) => {
      calls += 1
      resolve(error === false ? response : error)
    })
  })
  await new Promise((resolve) => setTimeout(resolve, 3000))
  t.equal(calls, 1, 'the callback ran once')
  t.match(String(result), /closed/i, `it was told the connection closed (${String(result)})`)
  t.equal(events, 0, 'nothing was dispatched after the close')
  t.same(failures, [], 'not a protocol failure')
  t.equal(readsInFlight(), 0, 'the read was dropped')
})

t.test('small messages stay inline; the size rule holds per large reply due', async (t) => {
  const small = `{"id":1,"result":{"pad":"${pad(MAX_SMALL_MESSAGE_BYTES - 40)}"}}`
  t.ok(small.length <= MAX_SMALL_MESSAGE_BYTES)
  const fake = await fakeWith(t, (command, peer) => {
    if (command.method === 'Runtime.evaluate') {
      peer.sendText(small.replace('"id":1', `"id":${command.id}`))
      return
    }
    // Two large messages for one large reply due: the second is refused.
    const large = Buffer.from(`{"id":${command.id},"result":{"pad":"${pad()}"}}`)
    peer.sendTextBytes(large)
    peer.sendTextBytes(large)
  })
  const session = await open(t, fake)
  const startsBefore = readerStarts
  const inFlightBefore = readsInFlight()
  const reply = (await session.send('Runtime.evaluate', { expression: '1' }, 10_000)) as { pad: string }
  t.ok(reply.pad.length > 0, 'a message of just 4 MiB is read')
  t.equal(readsInFlight(), inFlightBefore, 'inline')
  t.equal(readerStarts, startsBefore)
  // The second arrives while the first is still being read: refused on arrival (so no more than
  // one large message per large reply due is ever held), which ends the session and the call.
  const error = await session.send('Runtime.getProperties', { objectId: '1' }, 30_000).catch((e: unknown) => e)
  t.equal(errorCode(error), 'LW_ERR_PROTOCOL')
  t.ok(session.isClosed, 'the second large message closed the session')
  t.match(String(session.closeReason?.message), /sent a message of 5 MiB while only small replies were due/)
})

t.test('reads given to the reader thread directly: pieces, cancelling', async (t) => {
  const read = readOffThread([Buffer.from('{"id":1,'), Buffer.from('"result":{}}')])
  t.same(await read.done, { message: { id: 1, result: {} } }, 'bytes in pieces are joined')
  // Cancelling one of two: the worker forgets it and reads the other.
  const first = readOffThread(`{"id":1,"result":{"pad":"${pad()}"}}`)
  const second = readOffThread('{"id":2,"result":{}}')
  first.cancel()
  t.same(await second.done, { message: { id: 2, result: {} } }, 'the other read goes on')
  // Cancelling the only one: the worker is ended (it may be stuck in a long parse).
  const cancelled = readOffThread('{"id":1,"result":{}}')
  cancelled.cancel()
  cancelled.cancel()
  t.notOk(readerRunning(), 'the worker is ended')
  const settled = await Promise.race([
    Promise.all([first.done, cancelled.done]).then(() => 'settled'),
    new Promise((resolve) => setTimeout(() => resolve('never'), 500)),
  ])
  t.equal(settled, 'never', 'a cancelled read never settles')
  t.equal(readsInFlight(), 0)
  t.same(await readOffThread('{"id":3,"result":{}}').done, { message: { id: 3, result: {} } }, 'a new worker reads the next')
})

t.test('the reader thread ends when idle', async (t) => {
  const read = readOffThread(`{"id":1,"result":{"pad":"${pad()}"}}`)
  await read.done
  t.ok(readerRunning(), 'running after a read')
  await new Promise((resolve) => setTimeout(resolve, READER_IDLE_MS + 500))
  t.notOk(readerRunning(), `gone ${READER_IDLE_MS / 1000} s later`)
  t.same(await readOffThread(`{"id":2,"result":{"pad":"${pad()}"}}`).done.then((r) => Object.keys(r)), ['message'], 'and started again when needed')
})

t.test('a large message in several websocket frames is read off-thread whole', async (t) => {
  /** A frame header with a 64-bit length: FIN as given, opcode 1 (text) or 0 (continuation). */
  const header = (fin: boolean, opcode: number, length: number): Buffer => {
    const bytes = Buffer.alloc(10)
    bytes[0] = (fin ? 0x80 : 0) | opcode
    bytes[1] = 127
    bytes.writeBigUInt64BE(BigInt(length), 2)
    return bytes
  }
  const fake = await fakeWith(t, (command, peer) => {
    const text = Buffer.from(`{"id":${command.id},"result":{"result":[],"pad":"${pad(7 * MiB)}","end":"é"}}`)
    // 1 MiB (joined as ws does), 100 bytes, ~6 MiB (a large frame, taken as it came), then the
    // last 4 bytes: the second byte of the é and the end.
    const cuts = [0, MiB, MiB + 100, text.length - 4, text.length]
    for (let i = 0; i + 1 < cuts.length; i++) {
      const part = text.subarray(cuts[i], cuts[i + 1])
      peer.socket.write(Buffer.concat([header(i === cuts.length - 2, i === 0 ? 1 : 0, part.length), part]))
    }
  })
  const session = await open(t, fake)
  const reply = (await session.send('Runtime.getProperties', { objectId: '1' }, 30_000)) as { pad: string; end: string }
  t.equal(reply.pad.length, 7 * MiB)
  t.equal(reply.end, 'é', 'a character split across frames is whole')
  t.notOk(session.isClosed)
})
