/**
 * The hostile target of the soak (bench/hostile-soak.ts): a fake Node.js inspector
 * (test/fixtures/fake-inspector.ts) that cycles through every bad behaviour of issue 12, one
 * phase at a time, answering like Node 20 whenever the phase has nothing to say about a
 * command. Runs in its own process so that its work (building and streaming 60-96 MB frames)
 * never delays the driver's measurements.
 *
 *   node --import @tapjs/typescript/import bench/lib/hostile-inspector.ts [--phase-seconds 20] [--only a,b]
 *
 * Prints `listening PORT`, then `phase N NAME` at each change.
 */
import type http from 'node:http'
import { parseArgs } from 'node:util'
import { CRASHING_FRAMES, FakeInspector, defaultTarget, sendJson, type FakeCommand, type FakePeer } from '../../test/fixtures/fake-inspector.js'
import { answer, answerLikeNode, hugeProfileText } from '../../test/fixtures/fake-node.js'
import { isInstallSnippet } from '../../src/collectors/agent.js'

const { values } = parseArgs({ options: { 'phase-seconds': { type: 'string', default: '20' }, only: { type: 'string' } } })
const phaseMs = Number(values['phase-seconds']) * 1000
if (!(phaseMs > 0)) throw new Error('--phase-seconds must be positive')

const MiB = 1024 * 1024
const isRead = (command: FakeCommand): boolean =>
  command.method === 'Runtime.evaluate' && /agent\.read\(/.test(String((command.params as { expression?: unknown } | undefined)?.expression ?? ''))
const isInstall = (command: FakeCommand): boolean =>
  command.method === 'Runtime.evaluate' && isInstallSnippet(String((command.params as { expression?: unknown } | undefined)?.expression ?? ''))

/** A phase: what it does to commands (true: handled), to `/json/list`, to websocket upgrades. */
interface Phase {
  readonly name: string
  readonly command?: (command: FakeCommand, peer: FakePeer) => boolean
  readonly list?: (response: http.ServerResponse, fake: FakeInspector) => void
  readonly refuseUpgrade?: (socket: import('node:net').Socket) => void
}

/** The 1,000,000-node profile: 200,000 whole nodes and 800,000 bare ones, ~60 MiB (built once). */
let hugeProfile: string | undefined
const crash = (index: number) => (command: FakeCommand, peer: FakePeer): boolean => {
  if (command.method !== 'Runtime.evaluate') return false
  peer.sendText(CRASHING_FRAMES[index]!.frame(command))
  return true
}
let listCalls = 0

const ALL_PHASES: readonly Phase[] = [
  { name: 'healthy' },
  // The three frames that each crashed the whole sidecar.
  { name: 'reply-not-json', command: crash(0) },
  { name: 'event-named-error', command: crash(1) },
  { name: 'reply-id-__proto__', command: crash(2) },
  {
    // Discovery and redirects that lead off the watched loopback port.
    name: 'websocket-elsewhere',
    list: (response, fake) => {
      const urls = ['ws://10.255.255.1:9229/x', `ws://127.0.0.2:${fake.port}/x`, `ws://127.0.0.1:${fake.port + 1}/x`, `http://127.0.0.1:${fake.port}/x`, '', 'fake-target']
      sendJson(response, [defaultTarget(fake, { webSocketDebuggerUrl: urls[listCalls++ % urls.length] })])
    },
  },
  {
    name: 'upgrade-redirect',
    refuseUpgrade: (socket) => socket.end('HTTP/1.1 302 Found\r\nLocation: ws://10.255.255.1:9229/x\r\nContent-Length: 0\r\n\r\n'),
  },
  {
    // Target text of a megabyte: errors, exception descriptions, titles.
    name: 'huge-text',
    list: (response, fake) => sendJson(response, [defaultTarget(fake, { title: 't'.repeat(500_000), url: `file:///${'u'.repeat(400_000)}` })]),
    command: (command, peer) => {
      if (isRead(command)) {
        peer.sendText(JSON.stringify({ id: command.id, result: { result: { type: 'object' }, exceptionDetails: { text: 'x', exception: { description: 'E'.repeat(MiB) } } } }))
        return true
      }
      if (command.method === 'Runtime.getHeapUsage' || command.method === 'HeapProfiler.getSamplingProfile') {
        peer.sendText(JSON.stringify({ id: command.id, error: { code: -32000, message: 'M'.repeat(MiB), data: 'D'.repeat(MiB) } }))
        return true
      }
      return false
    },
  },
  {
    name: 'profile-1M-nodes',
    command: (command, peer) => {
      if (command.method !== 'HeapProfiler.getSamplingProfile') return false
      hugeProfile ??= hugeProfileText(1_000_000, 200_000)
      peer.sendText(`{"id":${command.id},"result":{"profile":${hugeProfile}}}`)
      return true
    },
  },
  {
    // Over the 64 MiB message limit: announced in the frame header, streamed until cut off.
    name: 'message-96MiB',
    command: (command, peer) => {
      if (!isRead(command)) return false
      void peer.streamFrame(96 * MiB, `{"id":${command.id},"result":{"result":{"type":"string","value":"`, '"}}}', 'a')
      return true
    },
  },
  {
    // Under the limit, every poll: 40 MB replies to a read that needs a few KB.
    name: 'replies-40MB',
    command: (command, peer) => {
      if (!isRead(command)) return false
      void peer.streamFrame(40 * 1000 * 1000, `{"id":${command.id},"result":{"result":{"type":"string","value":"`, '"}}}', 'b')
      return true
    },
  },
  {
    // The agent is never found again after its install (a patched Symbol.for).
    name: 'agent-vanishing',
    command: (command, peer) => {
      if (isInstall(command)) {
        answer(peer, command, { result: { type: 'object', value: { fresh: true, pid: 4242, startTime: 1_780_000_000_000.5, nodeVersion: 'v20.20.2', eventLoopResolutionMs: 100, failedParts: {} } } })
        return true
      }
      if (!isRead(command)) return false
      answer(peer, command, { result: { type: 'object', value: { agentMissing: true } } })
      return true
    },
  },
  {
    // process.memoryUsage never returns: the read is ended by V8 at the timeout.
    name: 'poll-never-returns',
    command: (command, peer) => {
      if (!isRead(command)) return false
      const timeout = Number((command.params as { timeout?: unknown } | undefined)?.timeout ?? 1000)
      setTimeout(() => peer.sendText(JSON.stringify({ id: command.id, error: { code: -32000, message: 'Execution was terminated' } })), timeout).unref()
      return true
    },
  },
  {
    // A PerformanceObserver constructor that throws: the GC part of the agent fails alone.
    name: 'observer-throws',
    command: (command, peer) => {
      if (!isInstall(command)) return false
      answer(peer, command, { result: { type: 'object', value: { fresh: false, pid: 4242, startTime: 1_780_000_000_000.5, nodeVersion: 'v20.20.2', eventLoopResolutionMs: 100, failedParts: { gc: 'PerformanceObserver is patched' } } } })
      return true
    },
  },
  {
    // Stopped (SIGSTOP-like): connections are accepted, nothing is ever answered.
    name: 'frozen',
    list: () => undefined,
    command: () => true,
  },
]

/** `--only a,b`: just those behaviours (for a look at one of them). */
const PHASES = values.only === undefined ? ALL_PHASES : ALL_PHASES.filter((phase) => values.only!.split(',').includes(phase.name))
if (PHASES.length === 0) throw new Error(`--only names none of: ${ALL_PHASES.map((phase) => phase.name).join(', ')}`)

let phaseIndex = 0
let phaseNumber = 0
const current = (): Phase => PHASES[phaseIndex % PHASES.length]!
const state = { installs: 0 }

const fake = await FakeInspector.start({
  list: (request, response, self) => {
    const list = current().list
    if (list !== undefined) list(response, self)
    else sendJson(response, [defaultTarget(self)])
  },
  upgrade: (_request, socket) => {
    const refuse = current().refuseUpgrade
    if (refuse === undefined) return true
    refuse(socket)
    return false
  },
  onCommand: (command, peer) => {
    if (current().command?.(command, peer) === true) return
    answerLikeNode(command, peer, state)
  },
})

const announce = (): void => void process.stdout.write(`phase ${phaseNumber} ${current().name}\n`)
process.stdout.write(`listening ${fake.port}\n`)
announce()
const timer = setInterval(() => {
  phaseIndex += 1
  phaseNumber += 1
  // A new phase starts from clean connections, as a restarted process would.
  for (const peer of fake.peers) peer.destroy()
  fake.peers.length = 0
  announce()
}, phaseMs)
process.on('SIGTERM', () => {
  clearInterval(timer)
  void fake.close().finally(() => process.exit(0))
})
