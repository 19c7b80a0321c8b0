/**
 * loadConfig against generated argv arrays, environments and config files:
 * a valid Config (every bound holds), help/version, or a ConfigError whose
 * `problems` is a non-empty list of non-empty strings — never another exception.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { stringify } from 'yaml'
import { ATTRIBUTION_MODES, COLLECTOR_NAMES, LOG_LEVELS, isLoopbackHost, loadConfig, type Config } from '../../src/sidecar-config.js'
import { ConfigError } from '../../src/core/errors.js'
import { CONFIG_PATH, MISSING_PATH, TOKEN_PATH, configInputArb, type GeneratedConfig } from './fixtures/config-arbitraries.js'
import { assertNoPollution, holds, outcome, runs } from './fixtures/helpers.js'

/** Reads the generated config file and token file; anything else is missing. */
function fakeReadFile(input: Pick<GeneratedConfig, 'file' | 'token'>): (path: string) => string {
  return (path) => {
    if (path === CONFIG_PATH || path.endsWith(`/${CONFIG_PATH}`)) return input.file
    if (path === TOKEN_PATH || path.endsWith(`/${TOKEN_PATH}`)) return input.token
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' })
  }
}

/** Every bound loadConfig promises for a Config it returns. */
function checkConfig(config: Config): void {
  const finite = (name: string, n: number, min = 0): void => assert.ok(Number.isFinite(n) && n >= min, `${name} = ${n}`)
  assert.ok(config.targets.length >= 1, 'at least one target')
  const names = new Set<string>()
  for (const target of config.targets) {
    assert.ok(typeof target.name === 'string' && target.name.length > 0, `target name ${JSON.stringify(target.name)}`)
    assert.ok(!names.has(target.name), `target name ${target.name} twice`)
    names.add(target.name)
    assert.ok(Number.isInteger(target.port) && target.port >= 1 && target.port <= 65535, `port ${target.port}`)
    assert.ok(config.allowRemoteInspector || isLoopbackHost(target.host), `remote host ${target.host} without --allow-remote-inspector`)
    finite('target intervalMs', target.intervalMs, 100)
    finite('target timeoutMs', target.timeoutMs, 1)
    for (const name of target.disabledCollectors) assert.ok((COLLECTOR_NAMES as readonly string[]).includes(name), `collector ${name}`)
  }
  assert.ok(Number.isInteger(config.listen.port) && config.listen.port >= 0 && config.listen.port <= 65535)
  finite('intervalMs', config.intervalMs, 100)
  finite('timeoutMs', config.timeoutMs, 1)
  assert.ok(config.reconnect.minDelayMs <= config.reconnect.maxDelayMs, 'reconnect min ≤ max')
  if (config.otlp.endpoint !== undefined) assert.match(config.otlp.endpoint, /^https?:\/\//)
  finite('otlp.intervalMs', config.otlp.intervalMs, 100)
  for (const value of Object.values(config.otlp.headers)) assert.equal(typeof value, 'string')
  assert.ok(config.otlp.serviceName.length > 0, 'service name')
  assert.ok((LOG_LEVELS as readonly string[]).includes(config.logLevel))
  assert.ok(Number.isInteger(config.maxConcurrentPolls) && config.maxConcurrentPolls >= 1)
  const token = config.http.apiToken
  assert.ok(token === undefined || (token.length >= 16 && /^[\x21-\x7e]+$/.test(token)), 'api token shape')
  if (config.http.protectMetrics || config.http.protectHealth) assert.ok(token !== undefined, 'protection without a token')
  const a = config.analysis
  finite('analysis.windowMs', a.windowMs, 1_000)
  assert.ok(Number.isInteger(a.minPoints) && a.minPoints >= 4, `minPoints ${a.minPoints}`)
  assert.ok(a.maxPValue > 0 && a.maxPValue < 1, `maxPValue ${a.maxPValue}`)
  finite('minSlopeBytesPerSecond', a.minSlopeBytesPerSecond)
  finite('minRelativePerHour', a.minRelativePerHour)
  assert.ok(Number.isFinite(a.raiseAfterMs) && a.raiseAfterMs >= 0 && Number.isFinite(a.clearAfterMs) && a.clearAfterMs >= 0)
  finite('warmupMs', a.warmupMs)
  assert.ok(a.floorWindowMs >= 1 && a.floorWindowMs <= a.windowMs, `floorWindow ${a.floorWindowMs} / window ${a.windowMs}`)
  assert.ok(a.memoryLimitBytes === undefined || (Number.isSafeInteger(a.memoryLimitBytes) && a.memoryLimitBytes > 0))
  const p = config.attribution
  assert.ok((ATTRIBUTION_MODES as readonly string[]).includes(p.mode))
  assert.ok(p.samplingIntervalBytes >= 1024 && p.samplingIntervalBytes <= 64 * 1024 * 1024)
  assert.ok(p.budget > 0 && p.budget <= p.suspicionBudget && p.suspicionBudget <= 0.1, `budgets ${p.budget} / ${p.suspicionBudget}`)
  finite('minFetchIntervalMs', p.minFetchIntervalMs, 100)
  assert.ok(Number.isInteger(p.topSites) && p.topSites >= 1 && p.topSites <= p.maxSites && p.maxSites <= 10_000, `sites ${p.topSites} / ${p.maxSites}`)
}

/** Runs loadConfig and checks the outcome; returns the problems when refused. */
function checkLoad(input: GeneratedConfig): readonly string[] | undefined {
  const result = outcome('loadConfig', () => loadConfig({ argv: input.argv, env: input.env, readFile: fakeReadFile(input) }))
  assertNoPollution('loadConfig')
  if (result.ok) {
    const value = result.value
    if ('help' in value) assert.ok(value.help.length > 0)
    else if ('version' in value) assert.match(value.version, /^\d+\.\d+\.\d+/)
    else checkConfig(value)
    return undefined
  }
  const error = result.error
  if (!(error instanceof ConfigError)) {
    assert.fail(`loadConfig threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`)
  }
  assert.equal(error.code, 'LW_ERR_CONFIG')
  assert.ok(Array.isArray(error.problems) && error.problems.length > 0, 'no problems listed')
  const lines = new Set(error.message.split('\n'))
  for (const problem of error.problems) {
    if (!(typeof problem === 'string' && problem.trim().length > 0)) assert.fail(`empty problem in ${JSON.stringify(error.problems).slice(0, 2_000)}`)
    assert.ok(lines.has(`  - ${problem}`) || error.message.includes(problem), 'every problem is in the message')
  }
  return error.problems
}

t.test('loadConfig: generated argv, env and config files → Config, help/version, or a ConfigError listing problems', async (t) => {
  const outcomes = { config: 0, refused: 0, other: 0 }
  fc.assert(
    fc.property(configInputArb, (input) => {
      const problems = checkLoad(input)
      if (problems !== undefined) outcomes.refused += 1
      else if (input.argv.some((a) => a === '-h' || a === '--version')) outcomes.other += 1
      else outcomes.config += 1
    }),
    runs(1500),
  )
  t.ok(outcomes.refused > 0 && outcomes.config > 0, `outcomes: ${JSON.stringify(outcomes)}`)
})

t.test('loadConfig: arbitrary argv strings and env maps (not config-shaped at all)', async (t) => {
  holds(
    t,
    fc.property(
      fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string().map((s) => `--${s}`), fc.string().map((s) => `-${s}`)), { maxLength: 10 }),
      fc.dictionary(fc.string(), fc.string()),
      fc.string(),
      (argv, env, file) => {
        checkLoad({ argv, env, file, token: '' })
      },
    ),
    runs(500),
    'holds: loadConfig: arbitrary argv strings and env maps (not config-shaped at all)',
  )
})

const VALID_FILE = {
  targets: [{ name: 'api', port: 9229 }, { address: '[::1]:9230' }],
  listen: '127.0.0.1:9464',
  interval: '15s',
  timeout: '5s',
  reconnect: { minDelay: '500ms', maxDelay: '30s' },
  otlp: { endpoint: 'http://collector:4318', interval: '15s', headers: { 'x-token': 'abc' }, serviceName: 'svc' },
  logLevel: 'info',
  analysis: { window: '30m', minPoints: 12, maxPValue: 0.01, warmup: '5m', floorWindow: '1m', memoryLimit: '1Gi' },
  attribution: { mode: 'on-suspicion', samplingInterval: '512Ki', budget: '0.2%', minFetchInterval: '30s', topSites: 10, maxSites: 500 },
}

/** Paths into VALID_FILE, as the problems name them. */
const FIELD_PATHS: ReadonlyArray<readonly (string | number)[]> = [
  ['targets'], ['targets', 0], ['targets', 0, 'name'], ['targets', 0, 'port'], ['targets', 1, 'address'], ['listen'], ['interval'],
  ['timeout'], ['reconnect'], ['reconnect', 'minDelay'], ['reconnect', 'maxDelay'], ['otlp', 'endpoint'], ['otlp', 'interval'],
  ['otlp', 'headers'], ['otlp', 'serviceName'], ['logLevel'], ['analysis', 'window'], ['analysis', 'minPoints'],
  ['analysis', 'maxPValue'], ['analysis', 'warmup'], ['analysis', 'floorWindow'], ['analysis', 'memoryLimit'], ['attribution', 'mode'],
  ['attribution', 'samplingInterval'], ['attribution', 'budget'], ['attribution', 'minFetchInterval'], ['attribution', 'topSites'],
  ['attribution', 'maxSites'],
]

const formatPath = (path: readonly (string | number)[]): string =>
  path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out === '' ? key : `${out}.${key}`), '')

t.test('config file: one wrong value in a valid file → refused with a problem naming that field (or still valid)', async (t) => {
  t.ok(checkLoad({ argv: ['--config', CONFIG_PATH], env: {}, file: stringify(VALID_FILE), token: '' }) === undefined, 'the base file is valid')
  const wrong = fc.oneof(
    fc.constantFrom(null, true, false, [], {}, [1], { a: 1 }, '', 'x', '-1', -1, 0, 1.5, 1e308, 2 ** 53, 'NaN', '1y', '200%', '9Ei'),
    fc.string({ maxLength: 8 }),
    fc.double(),
  )
  let refused = 0
  fc.assert(
    fc.property(fc.constantFrom(...FIELD_PATHS), wrong, fc.boolean(), (path, value, asJson) => {
      const file = structuredClone(VALID_FILE) as Record<string | number, unknown>
      let at = file
      for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>
      at[path[path.length - 1] as string | number] = value
      const text = asJson ? JSON.stringify(file) : stringify(file)
      const problems = checkLoad({ argv: ['--config', CONFIG_PATH], env: {}, file: text, token: '' })
      if (problems === undefined) return
      refused += 1
      const field = formatPath(path)
      // A section replaced whole, or a value only checked against another (reconnect order, floor window ≤ window,
      // maxSites ≥ topSites), is reported under the parent or the related field.
      const related = [field, field.replace(/\[\d+\].*$/, ''), 'reconnect', 'analysis.window', 'analysis.floorWindow', 'attribution', 'targets']
      if (!problems.some((problem) => related.some((prefix) => problem.startsWith(prefix)))) {
        assert.fail(`${field} = ${JSON.stringify(value)}: no problem names it: ${JSON.stringify(problems)}`)
      }
    }),
    runs(600),
  )
  t.ok(refused > 300, `${refused} of 600 refused`)
})

t.test('config file: huge and alias-bomb YAML is refused (or read) quickly', async (t) => {
  const texts: Array<[string, string]> = [
    ['alias bomb', ['a: &a [x,x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]', 'e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]'].join('\n')],
    ['5 000 unknown keys', Array.from({ length: 5_000 }, (_, i) => `k${i}: ${i}`).join('\n')],
    ['5 000 targets', `targets:\n${Array.from({ length: 5_000 }, (_, i) => `  - {name: t${i}, port: ${(i % 60_000) + 1}}`).join('\n')}`],
    ['1 MB string', `logLevel: "${'x'.repeat(1_000_000)}"`],
    ['100 nested lists', `targets: ${'['.repeat(100)}${']'.repeat(100)}`],
    ['__proto__ keys', '__proto__: {targets: [{port: 9229}], polluted: 1}\nconstructor: {prototype: {polluted: 1}}'],
  ]
  for (const [what, file] of texts) {
    const started = performance.now()
    const problems = checkLoad({ argv: ['--config', CONFIG_PATH], env: {}, file, token: '' })
    t.ok(true, `${what}: ${problems === undefined ? 'valid' : `${problems.length} problem(s)`} in ${(performance.now() - started).toFixed(0)} ms`)
  }
  // Missing and unreadable files are problems too.
  t.ok(checkLoad({ argv: ['--config', MISSING_PATH], env: {}, file: '', token: '' }), 'missing file refused')
})
