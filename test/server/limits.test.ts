import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { createPrometheusRegistry } from '../../src/export/prometheus.js'
import { buildApp, MAX_PARAM_LENGTH } from '../../src/server/app.js'
import { bearer, http, testApp, TOKEN } from './helpers.js'

type Reply = LightMyRequestResponse

/** A small JSON error body `{error, message}` (plus nothing that echoes the request at length). */
function jsonError(t: Test, res: Reply, status: number, error: string, what: string): void {
  t.equal(res.statusCode, status, `${what}: status`)
  t.match(res.headers['content-type'], /^application\/json/, `${what}: JSON`)
  const body = res.json() as { error: string; message: string }
  t.equal(body.error, error, `${what}: error`)
  t.type(body.message, 'string', `${what}: message`)
  t.ok(res.body.length < 400, `${what}: small (${res.body.length} bytes)`)
}

t.test('the server limits: body size, timeouts, parameter length', async (t) => {
  const app = await testApp(t)
  t.equal(app.initialConfig.bodyLimit, 16 * 1024)
  t.equal(app.initialConfig.connectionTimeout, 10_000)
  t.equal(app.server.requestTimeout, 10_000, 'the node server enforces the request timeout (headers included)')
  t.equal(MAX_PARAM_LENGTH, 256)
})

t.test('a large body: 413 JSON, before any handler', async (t) => {
  const app = await testApp(t, { targets: ['app'] })
  for (const url of ['/api/targets', '/nope', '/metrics']) {
    for (const [type, payload] of [
      ['text/plain', 'x'.repeat(64 * 1024)],
      ['application/json', JSON.stringify({ x: 'y'.repeat(64 * 1024) })],
    ] as const) {
      const res = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': type } })
      jsonError(t, res, 413, 'payload_too_large', `POST ${url} ${type}`)
    }
  }
  // Small bodies to GET-only routes: 404 JSON (there is no POST route at all).
  jsonError(t, await app.inject({ method: 'POST', url: '/api/targets', payload: 'x' }), 404, 'not_found', 'small POST')
  jsonError(t, await app.inject({ method: 'DELETE', url: '/api/targets/app' }), 404, 'not_found', 'DELETE')
})

t.test('an overlong path parameter: 414 JSON that does not echo it', async (t) => {
  const app = await testApp(t, { targets: ['app'] })
  const long = 'a'.repeat(MAX_PARAM_LENGTH + 1)
  for (const url of [`/api/targets/${long}`, `/api/targets/${long}/sites`, `/api/targets/${long}/profile?format=pprof`]) {
    const res = await app.inject({ url })
    jsonError(t, res, 414, 'uri_too_long', url.slice(0, 40))
    t.notMatch(res.body, long)
  }
  // At the limit it is an ordinary unknown target.
  jsonError(t, await app.inject({ url: `/api/targets/${'a'.repeat(MAX_PARAM_LENGTH)}` }), 404, 'not_found', 'at the limit')
  // A long unknown path is a 404 whose message is cut short.
  const res = await app.inject({ url: `/${'b'.repeat(5000)}` })
  jsonError(t, res, 404, 'not_found', 'long path')
})

t.test('bad query parameters: 400 JSON', async (t) => {
  const app = await testApp(t, { targets: ['app'] })
  const bad = [
    '/api/targets?x=1',
    '/api/targets/app?verbose=true',
    '/?a=b',
    '/api/targets/app/sites?limit=0',
    '/api/targets/app/sites?limit=1001',
    '/api/targets/app/sites?limit=ten',
    '/api/targets/app/sites?limit=1&limit=2',
    '/api/targets/app/sites?limit=5&x=1',
    '/api/targets/app/profile?format=svg',
    '/api/targets/app/profile?format=pprof&download=1',
    '/api/targets/nope/sites?unknown=1',
  ]
  for (const url of bad) {
    const res = await app.inject({ url })
    jsonError(t, res, 400, 'bad_request', url)
  }
  t.match((await app.inject({ url: '/api/targets?x=1' })).json(), { message: 'querystring must NOT have additional properties' })
  t.equal((await app.inject({ url: '/api/targets/app/sites?limit=5' })).statusCode, 200)
  // The probes and /metrics take no parameters but tolerate them (scrapers and probes may add some).
  t.equal((await app.inject({ url: '/metrics?name[]=x' })).statusCode, 200)
  t.equal((await app.inject({ url: '/healthz?x=1' })).statusCode, 200)
})

t.test('unknown targets: 404 JSON naming the target', async (t) => {
  const app = await testApp(t, { targets: ['app'] })
  for (const url of ['/api/targets/nope', '/api/targets/nope/sites', '/api/targets/nope/profile', '/api/targets/APP']) {
    const res = await app.inject({ url })
    jsonError(t, res, 404, 'not_found', url)
    t.match(res.json(), { message: /^no target named "/ })
  }
})

t.test('bad percent-encoding: 400 JSON', async (t) => {
  const app = await testApp(t, { targets: ['app'] })
  for (const url of ['/api/targets/%E0%A4%A', '/api/targets/%/sites', '/%zz']) {
    jsonError(t, await app.inject({ url }), 400, 'bad_request', url)
  }
})

t.test('no file is ever served: traversal attempts get 404 JSON', async (t) => {
  for (const options of [{}, { http: http() }]) {
    const app = await testApp(t, { ...options, targets: ['app'] })
    const headers = options.http ? bearer(TOKEN) : {}
    const attempts = [
      '/api/targets/..%2f..%2fetc%2fpasswd/profile',
      '/api/targets/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
      '/api/targets/%2e%2e%2f%2e%2e%2fpackage.json/sites',
      '/api/targets/....//....//etc/passwd',
      '/%2e%2e/package.json',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/../package.json',
      '/..%2fpackage.json',
      '/..%5c..%5cpackage.json',
      '/api/../../package.json',
      '/package.json',
      '/dist/cli.js',
      '/src/config.ts',
      '/.env',
      '/etc/passwd',
      '/%00/etc/passwd',
      '/api/targets/app/../../../package.json',
      '/api/targets/app/profile/..%2f..%2f..%2fpackage.json',
      '/static/..%252f..%252fpackage.json',
    ]
    for (const url of attempts) {
      const res = await app.inject({ url, headers })
      t.equal(res.statusCode, 404, url)
      t.match(res.headers['content-type'], /^application\/json/, `${url}: JSON`)
      t.match(res.json(), { error: 'not_found' }, url)
      t.notMatch(res.body, /root:|"dependencies"|"devDependencies"|#!\/usr\/bin\/env|import /, `${url}: no file contents`)
    }
    // Without the token, the same attempts are refused before routing even matters.
    if (options.http) {
      for (const url of attempts) t.equal((await app.inject({ url })).statusCode, 401, `${url} without the token`)
    }
  }
})

t.test('errors never expose internals: 500 is generic', async (t) => {
  // A target directory that fails unexpectedly.
  const logs: string[] = []
  const broken = buildApp({
    registry: createPrometheusRegistry({ targets: () => [] }),
    version: '0',
    targets: {
      list: () => {
        throw new Error('secret internal detail at /srv/app/db.js:12')
      },
      get: () => undefined,
    },
    logger: { level: 'error', stream: { write: (line: string) => void logs.push(line) } },
  })
  t.teardown(() => broken.close())
  const res = await broken.inject({ url: '/api/targets' })
  jsonError(t, res, 500, 'internal_server_error', '500')
  t.notMatch(res.body, /secret|srv|db\.js/)
  t.match(logs.join(''), /secret internal detail/, 'the detail goes to the log instead')
  t.equal(res.headers['cache-control'], 'no-store')
})
