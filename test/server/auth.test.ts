import { createHash } from 'node:crypto'
import { Writable } from 'node:stream'
import type { InjectOptions } from 'fastify'
import t from 'tap'
import { createPrometheusRegistry } from '../../src/export/prometheus.js'
import { buildApp } from '../../src/server/app.js'
import { bearerToken, routeClass, SECURITY_HEADERS, tokenMatches } from '../../src/server/security.js'
import { bearer, http, testApp, TOKEN } from './helpers.js'

const API = ['/api/targets', '/api/targets/app', '/api/targets/app/sites', '/api/targets/app/profile', '/']
const HEALTH = ['/healthz', '/readyz']

t.test('without a token every endpoint is open', async (t) => {
  for (const options of [{}, { http: { apiToken: undefined, protectMetrics: false, protectHealth: false } }]) {
    const app = await testApp(t, { ...options, targets: ['app'] })
    for (const url of ['/metrics', ...HEALTH, '/api/targets', '/api/targets/app', '/api/targets/app/sites', '/']) {
      const res = await app.inject({ url })
      t.equal(res.statusCode, 200, url)
    }
    t.equal((await app.inject({ url: '/api/targets/app/profile' })).statusCode, 404, 'no profile yet, but not refused')
  }
})

t.test('with a token: /api/* and / need it, /metrics and the probes stay open', async (t) => {
  const app = await testApp(t, { http: http(), targets: ['app'] })

  for (const url of API) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 401, `${url} without a token`)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="leakwatch"')
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    t.strictSame(res.json(), { error: 'unauthorized', message: 'this endpoint needs an API token: send "Authorization: Bearer <token>"' })
    t.notMatch(res.body, TOKEN)

    const ok = await app.inject({ url, headers: bearer(TOKEN) })
    t.equal(ok.statusCode, url.endsWith('/profile') ? 404 : 200, `${url} with the token`)
  }
  const targets = await app.inject({ url: '/api/targets', headers: bearer(TOKEN) })
  t.equal((targets.json() as { targets: Array<{ name: string }> }).targets[0]?.name, 'app', 'a real (never started) monitor')
  t.match((await app.inject({ url: '/api/targets/app/profile', headers: bearer(TOKEN) })).json(), { error: 'no_profile' })

  for (const url of ['/metrics', ...HEALTH]) t.equal((await app.inject({ url })).statusCode, 200, `${url} stays open`)
  t.match((await app.inject({ url: '/metrics' })).body, /leakwatch_target_up\{target="app"\} 0/, 'the real registry')
})

t.test('wrong, malformed and near-miss credentials are all refused', async (t) => {
  const app = await testApp(t, { http: http() })
  const refused: Array<[string, string]> = [
    ['wrong token', 'Bearer ffffffffffffffffffffffffffffffff'],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token plus a character', `Bearer ${TOKEN}x`],
    ['a one-character token', 'Bearer x'],
    ['a very long token', `Bearer ${'a'.repeat(8000)}`],
    ['the token with the wrong case', `Bearer ${TOKEN.toUpperCase()}`],
    ['Basic instead of Bearer', `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`],
    ['the token without a scheme', TOKEN],
    ['an empty bearer', 'Bearer '],
    ['two tokens', `Bearer ${TOKEN} ${TOKEN}`],
    ['Bearer with a comma list', `Bearer ${TOKEN}, Bearer ${TOKEN}`],
    ['an empty header', ''],
  ]
  for (const [what, authorization] of refused) {
    const res = await app.inject({ url: '/api/targets', headers: { authorization } })
    t.equal(res.statusCode, 401, what)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="leakwatch", error="invalid_token"', what)
    t.strictSame(res.json(), { error: 'unauthorized', message: 'the bearer token is missing from the Authorization header or does not match' })
  }
  // The scheme is case-insensitive (RFC 7235); extra spaces around the token are fine.
  for (const authorization of [`bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer   ${TOKEN}  `]) {
    t.equal((await app.inject({ url: '/api/targets', headers: { authorization } })).statusCode, 200, JSON.stringify(authorization))
  }
  // A token in the query string or a cookie is not a credential.
  t.equal((await app.inject({ url: `/api/targets?access_token=${TOKEN}` })).statusCode, 401)
  t.equal((await app.inject({ url: '/api/targets', headers: { cookie: `token=${TOKEN}` } })).statusCode, 401)
})

t.test('protectMetrics and protectHealth', async (t) => {
  const metrics = await testApp(t, { http: http({ protectMetrics: true }) })
  t.equal((await metrics.inject({ url: '/metrics' })).statusCode, 401)
  t.equal((await metrics.inject({ method: 'HEAD', url: '/metrics' })).statusCode, 401)
  t.equal((await metrics.inject({ url: '/metrics', headers: bearer(TOKEN) })).statusCode, 200)
  for (const url of HEALTH) t.equal((await metrics.inject({ url })).statusCode, 200, `${url} still open`)
  t.equal((await metrics.inject({ url: '/api/targets' })).statusCode, 401)

  const health = await testApp(t, { http: http({ protectHealth: true }) })
  for (const url of HEALTH) {
    t.equal((await health.inject({ url })).statusCode, 401, url)
    t.equal((await health.inject({ url, headers: bearer(TOKEN) })).statusCode, 200, url)
  }
  t.equal((await health.inject({ url: '/metrics' })).statusCode, 200, '/metrics still open')

  const both = await testApp(t, { http: http({ protectMetrics: true, protectHealth: true }) })
  for (const url of ['/metrics', ...HEALTH, ...API]) t.equal((await both.inject({ url })).statusCode, 401, url)
})

t.test('access follows the matched route: no other spelling of an open path is open, unknown paths need the token', async (t) => {
  const app = await testApp(t, { http: http() })
  for (const url of ['/METRICS', '/metrics/', '//metrics', '/metrics;x', '/healthz/', '/readyz/../api/targets', '/nope', '/api']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 401, `${url} without the token`)
    t.equal((await app.inject({ url, headers: bearer(TOKEN) })).statusCode, url === '/readyz/../api/targets' ? 200 : 404, `${url} with it`)
  }
  // Percent-encoding is decoded before routing: an encoded API path is the API path, and protected.
  t.equal((await app.inject({ url: '/%61pi/targets' })).statusCode, 401)
  t.equal((await app.inject({ url: '/%61pi/targets', headers: bearer(TOKEN) })).statusCode, 200)
  t.equal((await app.inject({ url: '/%6detrics' })).statusCode, 200, 'an encoded /metrics is /metrics')
  // A query string does not change the route.
  t.equal((await app.inject({ url: '/metrics?x=1' })).statusCode, 200)
  t.equal(routeClass('/metrics'), 'metrics')
  t.equal(routeClass('/healthz'), 'health')
  t.equal(routeClass('/readyz'), 'health')
  t.equal(routeClass('/api/targets/:target'), 'api')
  t.equal(routeClass('/'), 'api')
  t.equal(routeClass(undefined), 'api')
  t.equal(routeClass('constructor'), 'api')
  t.equal(routeClass('__proto__'), 'api')
})

t.test('the token is checked before the request is validated or its body read', async (t) => {
  const app = await testApp(t, { http: http() })
  t.equal((await app.inject({ url: '/api/targets/app/sites?limit=0' })).statusCode, 401, 'not 400')
  t.equal((await app.inject({ url: '/api/targets/nope' })).statusCode, 401, 'not 404: target names do not leak')
  const big = await app.inject({ method: 'POST', url: '/api/targets', payload: 'x'.repeat(64 * 1024), headers: { 'content-type': 'text/plain' } })
  t.equal(big.statusCode, 401, 'not 413')
  t.equal((await app.inject({ url: '/api/targets/app/sites?limit=0', headers: bearer(TOKEN) })).statusCode, 400)
})

t.test('every response carries the security headers', async (t) => {
  const app = await testApp(t, { http: http(), targets: ['app'] })
  const requests: Array<[string, InjectOptions]> = [
    ['200 metrics', { url: '/metrics' }],
    ['200 health', { url: '/healthz' }],
    ['200 api', { url: '/api/targets/app', headers: bearer(TOKEN) }],
    ['401', { url: '/api/targets' }],
    ['404 target', { url: '/api/targets/nope', headers: bearer(TOKEN) }],
    ['404 route', { url: '/nope', headers: bearer(TOKEN) }],
    ['400 query', { url: '/api/targets?x=1', headers: bearer(TOKEN) }],
    ['400 bad url', { url: '/api/targets/%E0%A4%A' }],
    ['414 long param', { url: `/api/targets/${'a'.repeat(300)}` }],
    ['413 body', { method: 'POST', url: '/api/targets', payload: 'x'.repeat(20_000), headers: { ...bearer(TOKEN), 'content-type': 'text/plain' } }],
    ['HEAD', { method: 'HEAD', url: '/metrics' }],
  ]
  for (const [what, request] of requests) {
    const res = await app.inject(request)
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) t.equal(res.headers[name], value, `${what}: ${name}`)
  }
  t.strictSame(SECURITY_HEADERS, {
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  })
})

t.test('the token never reaches the logs', async (t) => {
  let logged = ''
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged += chunk.toString()
      done()
    },
  })
  const app = await testApp(t, { http: http({ protectMetrics: true }), logger: { level: 'trace', stream } })
  await app.inject({ url: '/api/targets', headers: bearer(TOKEN) })
  await app.inject({ url: '/metrics', headers: bearer(TOKEN) })
  await app.inject({ url: '/api/targets', headers: bearer(`${TOKEN}-wrong`) })
  await app.inject({ url: '/api/targets', headers: { authorization: `Basic ${TOKEN}` } })
  await app.inject({ url: '/api/targets' })
  const lines = logged.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; req?: Record<string, unknown> })
  t.ok(lines.filter((line) => line.msg === 'incoming request').length >= 5, 'requests are logged at this level')
  t.equal(lines.filter((line) => line.msg === 'unauthorized request').length, 3, 'refusals are logged')
  const incoming = lines.find((line) => line.msg === 'incoming request')
  const logs = Object.keys(incoming?.req ?? {})
  t.ok(logs.includes('method') && logs.includes('url'), `the request is logged as ${logs.join(', ')}`)
  t.strictSame(logs.filter((key) => !['host', 'method', 'remoteAddress', 'remotePort', 'url'].includes(key)), [], 'fastify logs no request headers')
  t.notMatch(logged, TOKEN)
  t.notMatch(logged, /authorization|bearer/i)
})

t.test('buildApp refuses protection without a token', async (t) => {
  const registry = createPrometheusRegistry({ targets: () => [] })
  const base = { registry, version: '0', targets: { list: () => [], get: () => undefined } }
  t.throws(() => buildApp({ ...base, http: { apiToken: undefined, protectMetrics: true, protectHealth: false } }), /nothing is protected/)
  t.throws(() => buildApp({ ...base, http: { apiToken: undefined, protectMetrics: false, protectHealth: true } }), /nothing is protected/)
  t.throws(() => buildApp({ ...base, http: { apiToken: '', protectMetrics: false, protectHealth: false } }), /must not be empty/)
})

t.test('tokenMatches compares SHA-256 digests, so any two lengths compare without error', async (t) => {
  const digest = createHash('sha256').update(TOKEN).digest()
  t.equal(tokenMatches(TOKEN, digest), true)
  for (const other of ['', 'x', TOKEN.slice(1), `${TOKEN}${TOKEN}`, 'z'.repeat(100_000), TOKEN.replace('5', '6')]) {
    t.equal(tokenMatches(other, digest), false, `length ${other.length}`)
  }
  t.equal(tokenMatches('ümlaut', createHash('sha256').update('ümlaut').digest()), true, 'compared as UTF-8')
})

t.test('bearerToken', async (t) => {
  t.equal(bearerToken(undefined), undefined)
  t.equal(bearerToken(''), undefined)
  t.equal(bearerToken('Bearer abc'), 'abc')
  t.equal(bearerToken('bEaReR abc '), 'abc')
  t.equal(bearerToken('Bearer  a.b~c+/=='), 'a.b~c+/==')
  t.equal(bearerToken('Bearer'), undefined)
  t.equal(bearerToken('Bearerabc'), undefined)
  t.equal(bearerToken('Bearer a b'), undefined)
  t.equal(bearerToken('Bearer\tabc'), undefined)
  t.equal(bearerToken('Bearer ü'), undefined)
  t.equal(bearerToken('Basic abc'), undefined)
})
