// The loopback rule cannot be bypassed through the target: whatever answers on a watched
// port may not send the sidecar to another host or port. The websocket URL that /json/list
// gives must be ws: on the endpoint's own host and port (a Node.js inspector always lists its
// own address), and neither the list request nor the websocket upgrade follows a redirect.
// A refused URL is named (clipped) in a ConnectError, and the place it pointed to sees no
// connection — nor does chrome-remote-interface's default, localhost:9222.
//
// Before the fix the URL was used as given, chrome-remote-interface's websocket followed
// redirects of the upgrade, and a URL that is not ws: (empty, relative, http:) made the
// client list targets on localhost:9222.
import net from 'node:net'
import type http from 'node:http'
import t, { type Test } from 'tap'
import { errorCode } from '../../src/core/errors.js'
import { InspectorSession } from '../../src/inspector/session.js'
import { checkWebSocketUrl } from '../../src/inspector/client.js'
import { FakeInspector, defaultTarget, sendJson } from '../fixtures/fake-inspector.js'

/** A listener that only counts connections (and drops them). */
class Counter {
  connections = 0
  private constructor(private readonly server: net.Server) {}
  static async listen(host: string, port: number): Promise<Counter | undefined> {
    const server = net.createServer()
    const counter = new Counter(server)
    server.on('connection', (socket) => {
      counter.connections += 1
      socket.destroy()
    })
    return new Promise((resolve) => {
      server.once('error', () => resolve(undefined))
      server.listen(port, host, () => resolve(counter))
    })
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

async function fakeListing(t: Test, webSocketDebuggerUrl: (fake: FakeInspector) => unknown): Promise<FakeInspector> {
  const fake = await FakeInspector.start({
    list: (_request: http.IncomingMessage, response: http.ServerResponse, self: FakeInspector) =>
      sendJson(response, [defaultTarget(self, { webSocketDebuggerUrl: webSocketDebuggerUrl(self) })]),
  })
  t.teardown(() => fake.close())
  return fake
}

async function refused(t: Test, fake: FakeInspector, what: string, message: RegExp): Promise<void> {
  let error: unknown
  try {
    const session = await InspectorSession.open(fake.endpoint, 2000)
    await session.close()
  } catch (caught) {
    error = caught
  }
  t.equal(errorCode(error), 'LW_ERR_CONNECT', `${what}: refused with LW_ERR_CONNECT (${String(error)})`)
  t.match(String((error as Error | undefined)?.message), message, `${what}: the message names the URL`)
  t.ok(String((error as Error | undefined)?.message).length <= 400, `${what}: the message is clipped`)
}

t.test('a websocket URL elsewhere than the endpoint is refused and never connected to', async (t) => {
  // One fake endpoint lists, in turn, each URL below. Another inspector on another port of
  // 127.0.0.1, and one on the fake's own port of 127.0.0.2: both would accept the websocket.
  const elsewhere = await FakeInspector.start()
  t.teardown(() => elsewhere.close())
  let listed: (fake: FakeInspector) => unknown = () => elsewhere.webSocketUrl
  const fake = await fakeListing(t, (self) => listed(self))
  const sameAddress = await FakeInspector.start({ host: '127.0.0.2', port: fake.port }).catch(() => undefined)
  if (sameAddress !== undefined) t.teardown(() => sameAddress.close())
  // chrome-remote-interface's default endpoint: counted if this test can listen there.
  const defaultPort = await Counter.listen('127.0.0.1', 9222)
  if (defaultPort === undefined) t.comment('127.0.0.1:9222 is taken on this machine: the default-port check is skipped')
  else t.teardown(() => defaultPort.close())

  const cases: ReadonlyArray<[string, (fake: FakeInspector) => string, RegExp]> = [
    ['another port', () => elsewhere.webSocketUrl, /refused inspector websocket URL "ws:\/\/127\.0\.0\.1:\d+\/fake-target" .*not on 127\.0\.0\.1:\d+/],
    ['another loopback address, same port', (self) => `ws://127.0.0.2:${self.port}/fake-target`, /"ws:\/\/127\.0\.0\.2:\d+\/fake-target" .*not on 127\.0\.0\.1/],
    ['an http: URL', () => `http://127.0.0.1:${elsewhere.port}/fake-target`, /"http:\/\/127\.0\.0\.1:\d+\/fake-target" .*not a ws: URL/],
    ['a wss: URL on the endpoint', (self) => `wss://127.0.0.1:${self.port}/fake-target`, /"wss:.*not a ws: URL/],
    ['an empty URL', () => '', /URL "" .*not a plain URL/],
    ['a relative URL', () => '/fake-target', /URL "\/fake-target" .*not an absolute URL/],
    ['a bare target id', () => 'fake-target', /URL "fake-target" .*not an absolute URL/],
    ['credentials in the URL', (self) => `ws://user:secret@127.0.0.1:${self.port}/fake-target`, /has credentials/],
    ['a host spelled with a backslash', (self) => `ws://127.0.0.1:${elsewhere.port}\\@127.0.0.1:${self.port}/x`, /refused/],
    ['a URL longer than the text limit', (self) => `ws://127.0.0.1:${self.port}/${'a'.repeat(5000)}`, /refused .*not a plain URL/],
  ]
  for (const [what, url, message] of cases) {
    if (what.startsWith('another loopback address') && sameAddress === undefined) {
      t.comment('127.0.0.2 cannot be bound here: the other-address case is skipped')
      continue
    }
    listed = url
    await refused(t, fake, what, message)
    t.equal(fake.upgradeRequests, 0, `${what}: no websocket upgrade on the endpoint either`)
    t.equal(elsewhere.connections, 0, `${what}: the other port saw no connection`)
    if (sameAddress !== undefined) t.equal(sameAddress.connections, 0, `${what}: the other address saw no connection`)
    if (defaultPort !== undefined) t.equal(defaultPort.connections, 0, `${what}: localhost:9222 saw no connection`)
  }
  // A target entry without a string URL is no target at all: said so.
  listed = () => 42
  await t.rejects(InspectorSession.open(fake.endpoint, 2000), { code: 'LW_ERR_CONNECT', message: /lists no target/ }, 'a URL that is not a string')

  // The counters do count (so the zeros above mean something).
  await InspectorSession.open(elsewhere.endpoint, 2000).then((session) => session.close())
  t.ok(elsewhere.connections > 0, 'a session to the other fake itself is counted')
  if (sameAddress !== undefined) {
    await InspectorSession.open(sameAddress.endpoint, 2000).then((session) => session.close())
    t.ok(sameAddress.connections > 0, 'a session to the fake on 127.0.0.2 is counted')
  }
})

t.test('redirects are refused: of the list request and of the websocket upgrade', async (t) => {
  const elsewhere = await FakeInspector.start()
  t.teardown(() => elsewhere.close())
  const listRedirect = await FakeInspector.start({
    list: (_request, response) => {
      response.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/json/list` })
      response.end()
    },
  })
  t.teardown(() => listRedirect.close())
  await refused(t, listRedirect, 'a 302 on /json/list', /\/json\/list answered HTTP 302/)

  const upgradeRedirect = await FakeInspector.start({
    upgrade: (_request, socket) => {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${elsewhere.webSocketUrl}\r\nContent-Length: 0\r\n\r\n`)
      return false
    },
  })
  t.teardown(() => upgradeRedirect.close())
  await refused(t, upgradeRedirect, 'a 302 on the websocket upgrade', /cannot open inspector websocket ws:\/\/127\.0\.0\.1:\d+\/fake-target: .*302/)
  t.equal(upgradeRedirect.upgradeRequests, 1, 'one upgrade request, answered with the redirect')
  t.equal(elsewhere.connections, 0, 'the redirect targets saw no connection')
  t.equal(elsewhere.listRequests + elsewhere.upgradeRequests, 0, 'and no request')
})

t.test('the URL check itself', async (t) => {
  const endpoint = { host: '127.0.0.1', port: 9229 }
  t.equal(checkWebSocketUrl('ws://127.0.0.1:9229/2f1c', endpoint), 'ws://127.0.0.1:9229/2f1c', 'what Node lists')
  t.equal(checkWebSocketUrl('ws://127.0.0.1:9229', endpoint), 'ws://127.0.0.1:9229/', 'normalized')
  t.equal(checkWebSocketUrl('WS://127.0.0.1:9229/x', endpoint), 'ws://127.0.0.1:9229/x', 'scheme in capitals')
  t.equal(checkWebSocketUrl('ws://[::1]:9229/x', { host: '::1', port: 9229 }), 'ws://[::1]:9229/x', 'IPv6')
  t.equal(checkWebSocketUrl('ws://[0:0:0:0:0:0:0:1]:9229/x', { host: '::1', port: 9229 }), 'ws://[::1]:9229/x', 'IPv6, long form')
  t.equal(checkWebSocketUrl('ws://node.internal:9229/x', { host: 'node.internal', port: 9229 }), 'ws://node.internal:9229/x', 'an allowed remote host')
  t.equal(checkWebSocketUrl('ws://127.0.0.1/x', { host: '127.0.0.1', port: 80 }), 'ws://127.0.0.1/x', 'default port')
  for (const bad of [
    'ws://127.0.0.1:9230/x',
    'ws://127.0.0.2:9229/x',
    'ws://localhost:9229/x',
    'ws://127.1:9230/x',
    'ws://[::1]:9229/x',
    'ws://127.0.0.1/x',
    'wss://127.0.0.1:9229/x',
    'http://127.0.0.1:9229/x',
    'ws://a@127.0.0.1:9229/x',
    'ws://127.0.0.1:9229/x y',
    'ws://127.0.0.1:9229/\u2026',
    '',
    '//127.0.0.1:9229/x',
  ]) {
    t.throws(() => checkWebSocketUrl(bad, endpoint), { code: 'LW_ERR_CONNECT' }, JSON.stringify(bad))
  }
  // 127.1 is 127.0.0.1 to the WHATWG parser (and to ws): the same place, so accepted.
  t.equal(checkWebSocketUrl('ws://127.1:9229/x', endpoint), 'ws://127.0.0.1:9229/x', '127.1 is 127.0.0.1')
  t.throws(() => checkWebSocketUrl('ws://127.0.0.1:9229/x', { host: 'localhost', port: 9229 }), { code: 'LW_ERR_CONNECT' }, 'localhost is a name, not 127.0.0.1')
  t.doesNotThrow(() => checkWebSocketUrl('ws://localhost:9229/x', { host: 'localhost', port: 9229 }), 'localhost as configured')

  // The endpoint itself must make a /json/list URL on that host and port.
  for (const endpoint of [
    { host: '127.0.0.1/x', port: 9229 },
    { host: '127.0.0.1#', port: 9229 },
    { host: 'user@127.0.0.1', port: 9229 },
    { host: '127.0.0.1', port: 0 },
    { host: '127.0.0.1', port: 70000 },
    { host: '127.0.0.1', port: 9229.5 },
  ]) {
    await t.rejects(InspectorSession.open(endpoint, 1000), { code: 'LW_ERR_CONNECT', message: /not an inspector endpoint/ }, JSON.stringify(endpoint))
  }
})
