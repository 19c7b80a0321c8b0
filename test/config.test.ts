import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import {
  ATTRIBUTION_MODES,
  BYTE_QUANTITY_FORMS,
  COLLECTOR_NAMES,
  type AnalysisConfig,
  type AttributionConfig,
  type Config,
  DEFAULTS,
  formatByteQuantity,
  HELP,
  isConfig,
  isLoopbackHost,
  loadConfig,
  parseByteQuantity,
  readVersion,
} from '../src/sidecar-config.js'
import { ConfigError } from '../src/core/errors.js'
import { testConfig } from './helpers/config.js'

type Env = NodeJS.ProcessEnv

/** loadConfig, failing the test unless it returns a Config. */
function load(argv: string[], env: Env = {}, files: Record<string, string> = {}): Config {
  const result = loadConfig({ argv, env, readFile: (path) => fileFrom(files, path) })
  if (!isConfig(result)) throw new Error(`expected a Config, got ${JSON.stringify(result)}`)
  return result
}

function fileFrom(files: Record<string, string>, path: string): string {
  const text = files[path]
  if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`)
  return text
}

/** The problems of the ConfigError loadConfig throws (fails if it does not throw one). */
function problems(argv: string[], env: Env = {}, files: Record<string, string> = {}): string[] {
  try {
    loadConfig({ argv, env, readFile: (path) => fileFrom(files, path) })
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
  throw new Error('expected a ConfigError')
}

const T = ['--target', '127.0.0.1:9229']
/** A valid API token (32 hex digits, as `openssl rand -hex 16` makes). */
const TOKEN = '0123456789abcdef0123456789abcdef'
const LOOPBACK_HINT = 'is not a loopback address; the inspector is remote code execution — pass --allow-remote-inspector to allow it'

const target = (over: Partial<Config['targets'][number]> = {}) => ({
  name: '127.0.0.1:9229',
  host: '127.0.0.1',
  port: 9229,
  intervalMs: 15_000,
  timeoutMs: 5_000,
  disabledCollectors: [],
  ...over,
})

/** The default analysis settings, written out (not taken from DEFAULTS), with overrides. */
const analysis = (over: Partial<AnalysisConfig> = {}): AnalysisConfig => ({
  windowMs: 1_800_000,
  minPoints: 12,
  maxPValue: 0.01,
  minSlopeBytesPerSecond: 1024,
  minRelativePerHour: 0.05,
  raiseAfterMs: 300_000,
  clearAfterMs: 900_000,
  warmupMs: 300_000,
  maxWarmupMs: 3_600_000,
  floorWindowMs: 60_000,
  memoryLimitBytes: undefined,
  urgentHorizonMs: 14_400_000,
  fastRelativePerHour: 0.25,
  steadyRaiseAfterMs: undefined,
  slowWindowMs: 14_400_000,
  slowMinSlopeBytesPerSecond: 150,
  slowMinRelativePerHour: 0.0025,
  slowRaiseAfterMs: 1_200_000,
  ...over,
})

/** The default attribution settings, written out, with overrides. */
const attribution = (over: Partial<AttributionConfig> = {}): AttributionConfig => ({
  mode: 'on-suspicion',
  samplingIntervalBytes: 524_288,
  budget: 0.002,
  suspicionBudget: 0.01,
  floorBudget: 0.01,
  minFetchIntervalMs: 30_000,
  topSites: 10,
  maxSites: 500,
  ...over,
})

const KNOWN_TOP_KEYS =
  'targets, listen, interval, timeout, timeScale, allowRemoteInspector, reconnect, otlp, logLevel, maxConcurrentPolls, eventLoopResolution, http, analysis, attribution, holders'

/** The default HTTP access settings, written out, with overrides. */
const holders = (over: Partial<Config['holders']> = {}): Config['holders'] => ({
  mode: 'on-verdict',
  intervalMs: 120_000,
  maxIntervalMs: 3_600_000,
  topHolders: 5,
  minGrowthBytesPerSecond: 18,
  ...over,
})

const http = (over: Partial<Config['http']> = {}): Config['http'] => ({
  apiToken: undefined,
  protectMetrics: false,
  protectHealth: false,
  ...over,
})

t.test('defaults', async (t) => {
  t.strictSame(load(T), {
    targets: [target()],
    listen: { host: '0.0.0.0', port: 9464 },
    intervalMs: 15_000,
    timeoutMs: 5_000,
    timeScale: 1,
    allowRemoteInspector: false,
    reconnect: { minDelayMs: 500, maxDelayMs: 30_000 },
    otlp: { endpoint: undefined, protocol: 'http/protobuf', intervalMs: 15_000, headers: {}, serviceName: 'leakwatch' },
    logLevel: 'info',
    maxConcurrentPolls: 8,
    eventLoopResolutionMs: 100,
    http: http(),
    analysis: analysis(),
    attribution: attribution(),
    holders: holders(),
  })
  t.strictSame(DEFAULTS, {
    targetHost: '127.0.0.1',
    listen: { host: '0.0.0.0', port: 9464 },
    intervalMs: 15_000,
    timeoutMs: 5_000,
    timeScale: 1,
    allowRemoteInspector: false,
    reconnect: { minDelayMs: 500, maxDelayMs: 30_000 },
    otlp: { endpoint: undefined, protocol: 'http/protobuf', intervalMs: 15_000, headers: {}, serviceName: 'leakwatch' },
    logLevel: 'info',
    maxConcurrentPolls: 8,
    eventLoopResolutionMs: 100,
    http: http(),
    analysis: analysis(),
    attribution: attribution(),
    holders: holders(),
  })
  t.ok(Object.isFrozen(DEFAULTS) && Object.isFrozen(DEFAULTS.otlp.headers), 'DEFAULTS cannot be changed by accident')
  t.ok(Object.isFrozen(DEFAULTS.analysis) && Object.isFrozen(DEFAULTS.attribution) && Object.isFrozen(DEFAULTS.http))
})

t.test('the result is frozen and does not share objects with DEFAULTS', async (t) => {
  const config = load(T)
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.targets[0]))
  t.ok(Object.isFrozen(config.otlp.headers))
  t.ok(Object.isFrozen(config.analysis))
  t.ok(Object.isFrozen(config.attribution))
  t.ok(Object.isFrozen(config.http))
  t.not(config.http, DEFAULTS.http)
  t.not(config.listen, DEFAULTS.listen)
  t.not(config.analysis, DEFAULTS.analysis)
  t.not(config.attribution, DEFAULTS.attribution)
  t.not(config.otlp.headers, DEFAULTS.otlp.headers)
})

t.test('no target at all is a problem', async (t) => {
  t.strictSame(problems([]), [
    'targets: at least one target is required (use --target HOST:PORT, LEAKWATCH_TARGETS or targets in the config file)',
  ])
  t.strictSame(problems([], { LEAKWATCH_TARGETS: ' , ' }), [
    'targets: at least one target is required (use --target HOST:PORT, LEAKWATCH_TARGETS or targets in the config file)',
  ])
})

t.test('flags', async (t) => {
  t.test('--target forms', async (t) => {
    const config = load([
      '--target', '127.0.0.1:9229',
      '--target', 'api=127.0.0.1:9230',
      '--target=worker = 127.0.0.2:9231',
      '--target', 'localhost:9232',
      '--target', 'v6=[::1]:9233',
      '--target', '[::1]:9234',
      '--target', 'LocalHost:9235',
    ])
    t.strictSame(
      config.targets.map((x) => [x.name, x.host, x.port]),
      [
        ['127.0.0.1:9229', '127.0.0.1', 9229],
        ['api', '127.0.0.1', 9230],
        ['worker', '127.0.0.2', 9231],
        ['127.0.0.1:9232', '127.0.0.1', 9232],
        ['v6', '::1', 9233],
        ['[::1]:9234', '::1', 9234],
        ['127.0.0.1:9235', '127.0.0.1', 9235],
      ],
    )
  })

  t.test('every other flag', async (t) => {
    const config = load([
      ...T,
      '--listen', '127.0.0.1:9000',
      '--interval', '1m30s',
      '--timeout', '1.5s',
      '--otlp-endpoint', 'http://collector:4318',
      '--otlp-interval', '30s',
      '--otlp-protocol', 'http/json',
      '--service-name', 'checkout',
      '--allow-remote-inspector',
      '--log-level', 'debug',
      '--window', '10m',
      '--warmup', '0s',
      '--floor-window', '30s',
      '--memory-limit', '512Mi',
      '--attribution', 'always',
      '--sampling-interval', '64Ki',
      '--profile-budget', '0.5%',
      '--top-sites', '25',
      '--holders', 'off',
      '--holder-interval', '1m',
      '--holder-max-interval', '2h',
      '--top-holders', '7',
      '--holder-min-growth', '300',
      '--max-concurrent-polls', '3',
      '--event-loop-resolution', '10ms',
      '--api-token-file', '/run/secrets/token',
      '--protect-metrics',
      '--protect-health',
    ], {}, { '/run/secrets/token': `${TOKEN}\n` })
    t.strictSame(config, {
      targets: [target({ intervalMs: 90_000, timeoutMs: 1_500 })],
      listen: { host: '127.0.0.1', port: 9000 },
      intervalMs: 90_000,
      timeoutMs: 1_500,
      timeScale: 1,
      allowRemoteInspector: true,
      reconnect: { minDelayMs: 500, maxDelayMs: 30_000 },
      otlp: { endpoint: 'http://collector:4318/v1/metrics', protocol: 'http/json', intervalMs: 30_000, headers: {}, serviceName: 'checkout' },
      logLevel: 'debug',
      maxConcurrentPolls: 3,
      eventLoopResolutionMs: 10,
      http: http({ apiToken: TOKEN, protectMetrics: true, protectHealth: true }),
      analysis: analysis({ windowMs: 600_000, warmupMs: 0, floorWindowMs: 30_000, memoryLimitBytes: 536_870_912 }),
      attribution: attribution({ mode: 'always', samplingIntervalBytes: 65_536, budget: 0.005, topSites: 25 }),
      holders: holders({ mode: 'off', intervalMs: 60_000, maxIntervalMs: 7_200_000, topHolders: 7, minGrowthBytesPerSecond: 300 }),
    })
  })

  t.test('--listen accepts IPv6 and port 0', async (t) => {
    t.strictSame(load([...T, '--listen', '[::]:0']).listen, { host: '::', port: 0 })
    t.strictSame(load([...T, '--listen=localhost:9464']).listen, { host: 'localhost', port: 9464 })
  })

  t.test('a repeated single-value flag: the last wins', async (t) => {
    t.equal(load([...T, '--interval', '5s', '--interval', '7s']).intervalMs, 7_000)
  })

  t.test('--log-level is case-insensitive and checked', async (t) => {
    t.equal(load([...T, '--log-level', 'WARN']).logLevel, 'warn')
    t.strictSame(problems([...T, '--log-level', 'verbose']), [
      '--log-level: "verbose" is not one of fatal, error, warn, info, debug, trace, silent',
    ])
  })

  t.test('--otlp-endpoint normalizes to the full metrics URL', async (t) => {
    const endpoint = (url: string) => load([...T, '--otlp-endpoint', url]).otlp.endpoint
    t.equal(endpoint('http://collector:4318'), 'http://collector:4318/v1/metrics')
    t.equal(endpoint('http://collector:4318/'), 'http://collector:4318/v1/metrics')
    t.equal(endpoint('https://otel.example.com/prefix/'), 'https://otel.example.com/prefix/v1/metrics')
    t.equal(endpoint('http://collector:4318/v1/metrics'), 'http://collector:4318/v1/metrics')
    t.equal(endpoint('http://collector:4318/v1/metrics/'), 'http://collector:4318/v1/metrics')
    t.equal(endpoint('http://collector:4318?tenant=a'), 'http://collector:4318/v1/metrics?tenant=a')
    t.strictSame(problems([...T, '--otlp-endpoint', 'collector:4318', '--otlp-interval', '50ms']), [
      '--otlp-endpoint: "collector:4318" is not an http:// or https:// URL',
      '--otlp-interval: must be at least 100ms',
    ])
    t.strictSame(problems([...T, '--otlp-endpoint', 'not a url']), [
      '--otlp-endpoint: "not a url" is not a URL (e.g. http://localhost:4318)',
    ])
  })

  t.test('bad flag values', async (t) => {
    t.strictSame(
      problems([
        '--target', 'nohost',
        '--target', '127.0.0.1:0',
        '--target', '127.0.0.1:99999',
        '--target', '=127.0.0.1:1',
        '--target', '::1:9229',
        '--target', ':9229',
        '--target', 'bad host:1',
        '--target', '[nope]:1',
        '--target', '127.0.0.1:port',
        '--listen', '9464',
        '--interval', '15',
        '--timeout', '0s',
        '--service-name', ' ',
        '--config', '',
      ]),
      [
        '--target: "nohost" is not HOST:PORT (e.g. 127.0.0.1:9229 or [::1]:9229)',
        '--target: "127.0.0.1:0": port must be 1..65535',
        '--target: "127.0.0.1:99999": port must be 1..65535',
        '--target: "=127.0.0.1:1" has an empty name (use NAME=HOST:PORT or HOST:PORT)',
        '--target: "::1:9229": put an IPv6 address in brackets, e.g. [::1]:9229',
        '--target: ":9229" has no host (use HOST:PORT)',
        '--target: "bad host:1": "bad host" is not a host name or IP address',
        '--target: "[nope]:1": "[nope]" is not an IPv6 address',
        '--target: "127.0.0.1:port": port must be 1..65535',
        '--listen: "9464" is not HOST:PORT (e.g. 127.0.0.1:9229 or [::1]:9229)',
        '--interval: "15" is not a duration (use 500ms, 15s, 5m, 1h)',
        '--timeout: must be > 0',
        '--config: must not be empty',
        '--service-name: must not be empty',
      ],
    )
  })

  t.test('--interval below 100ms', async (t) => {
    t.strictSame(problems([...T, '--interval', '99ms']), ['--interval: must be at least 100ms'])
    t.equal(load([...T, '--interval', '100ms']).intervalMs, 100)
  })

  t.test('timeout may exceed interval', async (t) => {
    const config = load([...T, '--interval', '1s', '--timeout', '10s'])
    t.equal(config.intervalMs, 1_000)
    t.equal(config.timeoutMs, 10_000)
  })

  t.test('unknown flags, stray arguments and missing values are all reported', async (t) => {
    t.strictSame(problems([...T, '--verbose', '-x', 'stray', '--interval', '--timeout', '5s', '--allow-remote-inspector=yes', '--listen']), [
      '--verbose: unknown flag (see --help)',
      '-x: unknown flag (see --help)',
      '"stray": unexpected argument (flags take the form --name VALUE; see --help)',
      // Like strict parseArgs: a value that looks like a flag is not taken as the value.
      '--interval: needs a value',
      '"5s": unexpected argument (flags take the form --name VALUE; see --help)',
      '--allow-remote-inspector: takes no value',
      '--listen: needs a value',
    ])
  })

  t.test('an inline value may start with a dash', async (t) => {
    t.equal(load([...T, '--service-name=-x-']).otlp.serviceName, '-x-')
  })
})

t.test('--help and --version', async (t) => {
  t.strictSame(loadConfig({ argv: ['--help'], env: {} }), { help: HELP })
  t.strictSame(loadConfig({ argv: ['-h'], env: {} }), { help: HELP })
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  t.strictSame(loadConfig({ argv: ['--version'], env: {} }), { version: pkg.version })
  t.strictSame(loadConfig({ argv: ['-v'], env: {} }), { version: pkg.version })
  t.equal(readVersion(), pkg.version)
  t.match(pkg.version, /^\d+\.\d+\.\d+/)
  // Help wins over everything, even invalid flags, env and a missing file.
  t.strictSame(
    loadConfig({ argv: ['--bogus', '--interval', '15', '--version', '--help'], env: { LEAKWATCH_INTERVAL: 'x', LEAKWATCH_CONFIG: '/nope' } }),
    { help: HELP },
  )
  t.strictSame(loadConfig({ argv: ['--bogus', '-v'], env: { LEAKWATCH_CONFIG: '/nope' } }), { version: pkg.version })
})

t.test('HELP documents every flag, env var, default and the precedence', async (t) => {
  const flags = [
    '--target [NAME=]HOST:PORT', '--listen HOST:PORT', '--interval DURATION', '--timeout DURATION', '--config FILE',
    '--otlp-endpoint URL', '--otlp-interval DURATION', '--service-name NAME', '--allow-remote-inspector',
    '--log-level LEVEL', '-h, --help', '-v, --version',
    '--memory-limit BYTES', '--window DURATION', '--warmup DURATION', '--floor-window DURATION', '--attribution MODE',
    '--sampling-interval BYTES', '--profile-budget PERCENT', '--top-sites N',
    '--max-concurrent-polls N', '--api-token-file FILE', '--protect-metrics', '--protect-health',
    '--event-loop-resolution DURATION',
  ]
  for (const flag of flags) t.ok(HELP.includes(flag), `documents ${flag}`)
  const vars = [
    'LEAKWATCH_TARGETS', 'LEAKWATCH_LISTEN', 'LEAKWATCH_INTERVAL', 'LEAKWATCH_TIMEOUT', 'LEAKWATCH_CONFIG',
    'LEAKWATCH_OTLP_ENDPOINT', 'LEAKWATCH_ALLOW_REMOTE_INSPECTOR', 'LEAKWATCH_LOG_LEVEL', 'LEAKWATCH_SERVICE_NAME',
    'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_HEADERS',
    'OTEL_SERVICE_NAME', 'OTEL_METRIC_EXPORT_INTERVAL',
    'LEAKWATCH_MEMORY_LIMIT', 'LEAKWATCH_WINDOW', 'LEAKWATCH_WARMUP', 'LEAKWATCH_ATTRIBUTION', 'LEAKWATCH_PROFILE_BUDGET',
    'LEAKWATCH_MAX_CONCURRENT_POLLS', 'LEAKWATCH_API_TOKEN', 'LEAKWATCH_PROTECT_METRICS', 'LEAKWATCH_PROTECT_HEALTH',
    'LEAKWATCH_EVENT_LOOP_RESOLUTION',
  ]
  for (const name of vars) t.ok(HELP.includes(name), `documents ${name}`)
  for (const text of [
    '(default 0.0.0.0:9464)', '(default 15s, min 100ms)', '(default 5s)', '(default leakwatch)', '(default info)',
    '    minDelay: 500ms', '    maxDelay: 30s', 'flags > environment > config file > defaults', '/v1/metrics', 'Example:',
    'disabledCollectors', COLLECTOR_NAMES.join(', '),
    '(default 30m, min 1s)', '(default 5m)', '(default 1m, 100ms..window)', '(default on-suspicion)', 'off, on-suspicion, always',
    '(default 512Ki, 1Ki..64Mi)', '(default 0.2%, max 10%)', '(default 10, max 100)', '512Mi', 'Ki, Mi, Gi, Ti', 'k, M, G, T',
    'resourceFieldRef', 'limits.memory', "node's allocatable memory", '0 counts as unset',
    '(default 8, 1..1000)', 'Authorization: Bearer TOKEN', 'no --api-token flag', 'ps and /proc/PID/cmdline',
    'API token: --api-token-file > LEAKWATCH_API_TOKEN > http.apiToken or', '16..1024 printable ASCII characters without spaces',
    'openssl rand -hex 32', '(default 100ms, 1ms..1s)',
  ]) {
    t.ok(HELP.includes(text), `mentions ${text}`)
  }
  t.notOk(HELP.split('\n').some((line) => line.length > 120), 'no overlong lines')
  // Every key of the analysis and attribution sections is shown, with its default.
  for (const line of [
    '    window: 30m ', '    minPoints: 12 ', '    maxPValue: 0.01 ', '    minSlopeBytesPerSecond: 1024 ', '    minRelativePerHour: 0.05 ',
    '    raiseAfter: 5m ', '    clearAfter: 15m ', '    warmup: 5m ', '    floorWindow: 1m ', '    memoryLimit: ',
    '    mode: on-suspicion ', '    samplingInterval: 512Ki ', '    budget: 0.2% ', '    suspicionBudget: 1% ', '    minFetchInterval: 30s ',
    '    topSites: 10 ', '    maxSites: 500 ',
    '  maxConcurrentPolls: 8 ', '  eventLoopResolution: 100ms ', '  http: ', '    apiTokenFile: ', '    protectMetrics: false ', '    protectHealth: false ',
  ]) {
    t.ok(HELP.includes(`\n${line}`), `file key ${line.trim()}`)
  }
})

t.test('environment', async (t) => {
  const config = load([], {
    LEAKWATCH_TARGETS: 'api=127.0.0.1:9229, [::1]:9230,,',
    LEAKWATCH_LISTEN: '127.0.0.1:9100',
    LEAKWATCH_INTERVAL: '30s',
    LEAKWATCH_TIMEOUT: '2s',
    LEAKWATCH_OTLP_ENDPOINT: 'http://collector:4318',
    LEAKWATCH_ALLOW_REMOTE_INSPECTOR: 'true',
    LEAKWATCH_LOG_LEVEL: 'trace',
    LEAKWATCH_SERVICE_NAME: 'svc',
    LEAKWATCH_WINDOW: '1h',
    LEAKWATCH_WARMUP: '90s',
    LEAKWATCH_MEMORY_LIMIT: '268435456',
    LEAKWATCH_ATTRIBUTION: 'off',
    LEAKWATCH_PROFILE_BUDGET: '0.001',
    LEAKWATCH_HOLDERS: 'off',
    LEAKWATCH_HOLDER_INTERVAL: '5m',
    LEAKWATCH_HOLDER_MAX_INTERVAL: '30m',
    LEAKWATCH_TOP_HOLDERS: '2',
    LEAKWATCH_HOLDER_MIN_GROWTH: '0',
    LEAKWATCH_MAX_CONCURRENT_POLLS: '50',
    LEAKWATCH_EVENT_LOOP_RESOLUTION: '1s',
    LEAKWATCH_API_TOKEN: TOKEN,
    LEAKWATCH_PROTECT_METRICS: 'true',
    LEAKWATCH_PROTECT_HEALTH: '0',
  })
  t.strictSame(config, {
    targets: [
      target({ name: 'api', intervalMs: 30_000, timeoutMs: 2_000 }),
      target({ name: '[::1]:9230', host: '::1', port: 9230, intervalMs: 30_000, timeoutMs: 2_000 }),
    ],
    listen: { host: '127.0.0.1', port: 9100 },
    intervalMs: 30_000,
    timeoutMs: 2_000,
    timeScale: 1,
    allowRemoteInspector: true,
    reconnect: { minDelayMs: 500, maxDelayMs: 30_000 },
    otlp: { endpoint: 'http://collector:4318/v1/metrics', protocol: 'http/protobuf', intervalMs: 15_000, headers: {}, serviceName: 'svc' },
    logLevel: 'trace',
    maxConcurrentPolls: 50,
    eventLoopResolutionMs: 1_000,
    http: http({ apiToken: TOKEN, protectMetrics: true }),
    analysis: analysis({ windowMs: 3_600_000, warmupMs: 90_000, memoryLimitBytes: 268_435_456 }),
    attribution: attribution({ mode: 'off', budget: 0.001 }),
    holders: holders({ mode: 'off', intervalMs: 300_000, maxIntervalMs: 1_800_000, topHolders: 2, minGrowthBytesPerSecond: 0 }),
  })
})

t.test('LEAKWATCH_ALLOW_REMOTE_INSPECTOR values', async (t) => {
  const allow = (value: string) => load(T, { LEAKWATCH_ALLOW_REMOTE_INSPECTOR: value }).allowRemoteInspector
  t.equal(allow('true'), true)
  t.equal(allow('TRUE'), true)
  t.equal(allow('1'), true)
  t.equal(allow('false'), false)
  t.equal(allow('0'), false)
  t.strictSame(problems(T, { LEAKWATCH_ALLOW_REMOTE_INSPECTOR: 'yes' }), [
    'LEAKWATCH_ALLOW_REMOTE_INSPECTOR: "yes" is not a boolean (use true, false, 1 or 0)',
  ])
})

t.test('empty environment variables count as unset', async (t) => {
  t.strictSame(load(T, { LEAKWATCH_INTERVAL: '', LEAKWATCH_LISTEN: '  ', OTEL_EXPORTER_OTLP_ENDPOINT: '', LEAKWATCH_TARGETS: '' }), load(T))
})

t.test('bad environment values are all reported with the variable name', async (t) => {
  t.strictSame(
    problems([], {
      LEAKWATCH_TARGETS: '127.0.0.1:9229,oops',
      LEAKWATCH_LISTEN: 'nope',
      LEAKWATCH_INTERVAL: '15',
      LEAKWATCH_TIMEOUT: 'soon',
      LEAKWATCH_LOG_LEVEL: 'loud',
      LEAKWATCH_OTLP_ENDPOINT: 'ftp://x',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'nope',
      OTEL_EXPORTER_OTLP_HEADERS: 'a=1,novalue,=x',
      OTEL_METRIC_EXPORT_INTERVAL: '10s',
    }),
    [
      'LEAKWATCH_TARGETS: "oops" is not HOST:PORT (e.g. 127.0.0.1:9229 or [::1]:9229)',
      'LEAKWATCH_LISTEN: "nope" is not HOST:PORT (e.g. 127.0.0.1:9229 or [::1]:9229)',
      'LEAKWATCH_INTERVAL: "15" is not a duration (use 500ms, 15s, 5m, 1h)',
      'LEAKWATCH_TIMEOUT: "soon" is not a duration (use 500ms, 15s, 5m, 1h)',
      // In the options table's order: the OTLP settings come before the log level.
      'LEAKWATCH_OTLP_ENDPOINT: "ftp://x" is not an http:// or https:// URL',
      'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "nope" is not a URL (e.g. http://localhost:4318)',
      'OTEL_METRIC_EXPORT_INTERVAL: "10s" is not a whole number of milliseconds',
      'OTEL_EXPORTER_OTLP_HEADERS: "novalue" is not key=value; "=x" is not key=value',
      'LEAKWATCH_LOG_LEVEL: "loud" is not one of fatal, error, warn, info, debug, trace, silent',
    ],
  )
})

t.test('OpenTelemetry variables', async (t) => {
  t.test('OTEL_EXPORTER_OTLP_ENDPOINT is a base URL', async (t) => {
    t.equal(load(T, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' }).otlp.endpoint, 'http://otel:4318/v1/metrics')
  })
  t.test('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is used as-is and beats the base one', async (t) => {
    const env = { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://otel:4318/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318' }
    t.equal(load(T, env).otlp.endpoint, 'http://otel:4318/custom')
  })
  t.test('LEAKWATCH_OTLP_ENDPOINT beats both; --otlp-endpoint beats all', async (t) => {
    const env = {
      LEAKWATCH_OTLP_ENDPOINT: 'http://lw:4318',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://otel:4318/custom',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318',
    }
    t.equal(load(T, env).otlp.endpoint, 'http://lw:4318/v1/metrics')
    t.equal(load([...T, '--otlp-endpoint', 'https://flag:4318/'], env).otlp.endpoint, 'https://flag:4318/v1/metrics')
  })
  t.test('OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf by default, http/json on request, grpc refused', async (t) => {
    t.equal(load(T).otlp.protocol, 'http/protobuf', "the spec's default")
    t.equal(load(T, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlp.protocol, 'http/json')
    t.equal(load(T, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' }).otlp.protocol, 'http/protobuf', 'the metrics-specific variable wins')
    t.match(problems(T, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).join('\n'), /OTEL_EXPORTER_OTLP_PROTOCOL: .*grpc/)
  })
  t.test('OTEL_EXPORTER_OTLP_HEADERS', async (t) => {
    t.strictSame(load(T, { OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc, x-scope = team%3Da%2Cb ,' }).otlp.headers, {
      'api-key': 'abc',
      'x-scope': 'team=a,b',
    })
    t.strictSame(load(T, { OTEL_EXPORTER_OTLP_HEADERS: 'k=a=b' }).otlp.headers, { k: 'a=b' })
    t.strictSame(problems(T, { OTEL_EXPORTER_OTLP_HEADERS: 'k=%E0%A4%A' }), [
      'OTEL_EXPORTER_OTLP_HEADERS: "k=%E0%A4%A" has a bad percent-encoding',
    ])
  })
  t.test('OTEL_SERVICE_NAME, below LEAKWATCH_SERVICE_NAME and --service-name', async (t) => {
    t.equal(load(T, { OTEL_SERVICE_NAME: 'otel-name' }).otlp.serviceName, 'otel-name')
    t.equal(load(T, { OTEL_SERVICE_NAME: 'otel-name', LEAKWATCH_SERVICE_NAME: 'lw-name' }).otlp.serviceName, 'lw-name')
    t.equal(
      load([...T, '--service-name', 'flag-name'], { OTEL_SERVICE_NAME: 'otel-name', LEAKWATCH_SERVICE_NAME: 'lw' }).otlp.serviceName,
      'flag-name',
    )
  })
  t.test('OTEL_METRIC_EXPORT_INTERVAL is milliseconds', async (t) => {
    t.equal(load(T, { OTEL_METRIC_EXPORT_INTERVAL: '60000' }).otlp.intervalMs, 60_000)
    t.equal(load([...T, '--otlp-interval', '5s'], { OTEL_METRIC_EXPORT_INTERVAL: '60000' }).otlp.intervalMs, 5_000)
    t.strictSame(problems(T, { OTEL_METRIC_EXPORT_INTERVAL: '50' }), ['OTEL_METRIC_EXPORT_INTERVAL: must be at least 100ms'])
  })
})

t.test('config file', async (t) => {
  const yaml = `
# every key
targets:
  - name: api
    port: 9229
    interval: 5s
    timeout: 1s
    disabledCollectors: [heap, gc]
    serviceName: " checkout-api "
  - host: localhost
    port: 9230
  - address: "[::1]:9231"
    interval: 2500      # a number is milliseconds
listen: 127.0.0.1:9100
interval: 20s
timeout: 3s
allowRemoteInspector: false
reconnect:
  minDelay: 1s
  maxDelay: 1m
otlp:
  endpoint: http://collector:4318
  interval: 1m
  headers:
    authorization: Bearer abc
    x-number: 42
  serviceName: from-file
logLevel: warn
maxConcurrentPolls: 16
eventLoopResolution: 20ms
http:
  apiTokenFile: secrets/token   # relative to the config file
  protectMetrics: true
  protectHealth: false
analysis:
  window: 45m
  minPoints: 20
  maxPValue: 0.001
  minSlopeBytesPerSecond: 512.5
  minRelativePerHour: 2%
  raiseAfter: 4
  clearAfter: 6
  warmup: 10m
  floorWindow: 2m
  memoryLimit: 1.5Gi
attribution:
  mode: on-suspicion
  samplingInterval: 256Ki
  budget: 0.3%
  suspicionBudget: 0.05
  minFetchInterval: 1m
  topSites: 5
  maxSites: 50
holders:
  mode: off
  interval: 30s
  maxInterval: 10m
  topHolders: 3
  minGrowthBytesPerSecond: 40
`
  const expected: Config = {
    targets: [
      target({ name: 'api', intervalMs: 5_000, timeoutMs: 1_000, disabledCollectors: ['heap', 'gc'], serviceName: 'checkout-api' }),
      target({ name: '127.0.0.1:9230', port: 9230, intervalMs: 20_000, timeoutMs: 3_000 }),
      target({ name: '[::1]:9231', host: '::1', port: 9231, intervalMs: 2_500, timeoutMs: 3_000 }),
    ],
    listen: { host: '127.0.0.1', port: 9100 },
    intervalMs: 20_000,
    timeoutMs: 3_000,
    timeScale: 1,
    allowRemoteInspector: false,
    reconnect: { minDelayMs: 1_000, maxDelayMs: 60_000 },
    otlp: {
      endpoint: 'http://collector:4318/v1/metrics',
      protocol: 'http/protobuf',
      intervalMs: 60_000,
      headers: { authorization: 'Bearer abc', 'x-number': '42' },
      serviceName: 'from-file',
    },
    logLevel: 'warn',
    maxConcurrentPolls: 16,
    eventLoopResolutionMs: 20,
    http: { apiToken: TOKEN, protectMetrics: true, protectHealth: false },
    analysis: {
      windowMs: 2_700_000,
      minPoints: 20,
      maxPValue: 0.001,
      minSlopeBytesPerSecond: 512.5,
      minRelativePerHour: 0.02,
      // Counts of evaluations, as before: one per floor window (2m).
      raiseAfterMs: 480_000,
      clearAfterMs: 720_000,
      warmupMs: 600_000,
      maxWarmupMs: 3_600_000,
      floorWindowMs: 120_000,
      memoryLimitBytes: 1_610_612_736,
      urgentHorizonMs: 14_400_000,
      fastRelativePerHour: 0.25,
      steadyRaiseAfterMs: undefined,
      slowWindowMs: 14_400_000,
      slowMinSlopeBytesPerSecond: 150,
      slowMinRelativePerHour: 0.0025,
      slowRaiseAfterMs: 1_200_000,
    },
    attribution: {
      mode: 'on-suspicion',
      samplingIntervalBytes: 262_144,
      budget: 0.003,
      suspicionBudget: 0.05,
      floorBudget: 0.01,
      minFetchIntervalMs: 60_000,
      topSites: 5,
      maxSites: 50,
    },
    holders: { mode: 'off', intervalMs: 30_000, maxIntervalMs: 600_000, topHolders: 3, minGrowthBytesPerSecond: 40 },
  }
  const json = JSON.stringify({
    targets: [
      { name: 'api', port: 9229, interval: '5s', timeout: '1s', disabledCollectors: ['heap', 'gc'], serviceName: 'checkout-api' },
      { host: 'localhost', port: 9230 },
      { address: '[::1]:9231', interval: 2500 },
    ],
    listen: '127.0.0.1:9100',
    interval: '20s',
    timeout: 3000,
    timeScale: 1,
    allowRemoteInspector: false,
    reconnect: { minDelay: '1s', maxDelay: '1m' },
    otlp: { endpoint: 'http://collector:4318', interval: '1m', headers: { authorization: 'Bearer abc', 'x-number': 42 }, serviceName: 'from-file' },
    logLevel: 'warn',
    maxConcurrentPolls: 16,
    eventLoopResolution: 20,
    http: { apiToken: TOKEN, protectMetrics: true, protectHealth: false },
    analysis: {
      window: 2_700_000, // numbers: milliseconds and bytes
      minPoints: 20,
      maxPValue: 0.001,
      minSlopeBytesPerSecond: 512.5,
      minRelativePerHour: 0.02,
      raiseAfter: 4,
      clearAfter: 6,
      warmup: '10m',
      floorWindow: 120_000,
      memoryLimit: 1_610_612_736,
    },
    attribution: {
      mode: 'on-suspicion',
      samplingInterval: 262_144,
      budget: '0.003',
      suspicionBudget: '5%',
      minFetchInterval: '1m',
      topSites: 5,
      maxSites: 50,
    },
    holders: { mode: 'off', interval: 30_000, maxInterval: '10m', topHolders: 3, minGrowthBytesPerSecond: 40 },
  })
  const dir = t.testdir({
    'leakwatch.yaml': yaml,
    'leakwatch.json': json,
    'empty.yaml': '',
    'list.yaml': '- 1\n',
    'broken.json': '{"targets": [',
    secrets: { token: ` ${TOKEN}\n` },
  })

  t.test('YAML via --config (real file system)', async (t) => {
    t.strictSame(loadConfig({ argv: ['--config', join(dir, 'leakwatch.yaml')], env: {} }), expected)
  })
  t.test('JSON via LEAKWATCH_CONFIG (real file system)', async (t) => {
    t.strictSame(loadConfig({ argv: [], env: { LEAKWATCH_CONFIG: join(dir, 'leakwatch.json') } }), expected)
  })
  t.test('--config beats LEAKWATCH_CONFIG', async (t) => {
    const config = loadConfig({
      argv: ['--config', join(dir, 'leakwatch.yaml')],
      env: { LEAKWATCH_CONFIG: join(dir, 'missing.yaml') },
    })
    t.strictSame(config, expected)
  })
  t.test('an empty file is fine', async (t) => {
    t.strictSame(loadConfig({ argv: [...T, '--config', join(dir, 'empty.yaml')], env: {} }), load(T))
  })
  t.test('a missing file', async (t) => {
    const path = join(dir, 'missing.yaml')
    const found = problems(['--config', path])
    t.equal(found.length, 1, 'no "at least one target" noise')
    t.match(found[0], `--config: cannot read ${JSON.stringify(path)}: ENOENT`)
  })
  t.test('a file that is not a mapping', async (t) => {
    const path = join(dir, 'list.yaml')
    let error: unknown
    try {
      loadConfig({ argv: [], env: { LEAKWATCH_CONFIG: path } })
    } catch (e) {
      error = e
    }
    t.strictSame((error as ConfigError).problems, [`LEAKWATCH_CONFIG: ${JSON.stringify(path)} must hold a mapping of settings, not a list`])
  })
  t.test('a syntax error', async (t) => {
    const path = join(dir, 'broken.json')
    let error: unknown
    try {
      loadConfig({ argv: ['--config', path], env: {} })
    } catch (e) {
      error = e
    }
    t.ok(error instanceof ConfigError)
    const found = (error as ConfigError).problems
    t.ok(found.length >= 1)
    for (const p of found) t.ok(p.startsWith(`--config: ${JSON.stringify(path)} is not valid YAML or JSON: `), p)
    t.match(found[0], /line 1, column/)
  })
  t.test('duplicate keys and unresolved aliases are errors', async (t) => {
    t.strictSame(problems(['--config', 'c.yaml'], {}, { 'c.yaml': 'interval: 1s\ninterval: 2s\n' }), [
      '--config: "c.yaml" is not valid YAML or JSON: Map keys must be unique at line 2, column 1',
    ])
    t.match(problems(['--config', 'c.yaml'], {}, { 'c.yaml': 'interval: *nope\n' }), [/^--config: "c.yaml" is not valid YAML or JSON: /])
  })
})

t.test('config file: targets may use host alone, defaulting to 127.0.0.1, and one of address or port', async (t) => {
  const files = { 'c.yaml': 'targets:\n  - port: 9229\n' }
  t.strictSame(load(['--config', 'c.yaml'], {}, files).targets, [target()])
  t.strictSame(
    problems(['--config', 'c.yaml'], {}, {
      'c.yaml': 'targets:\n  - name: a\n  - address: 127.0.0.1:1\n    port: 1\n  - address: "nope"\n  - host: "bad host"\n    port: 1\n',
    }),
    [
      'targets[0].port: is required (or give address: "HOST:PORT")',
      'targets[1].address: give either address or host and port, not both',
      'targets[2].address: "nope" is not HOST:PORT (e.g. 127.0.0.1:9229 or [::1]:9229)',
      'targets[3].host: "bad host" is not a host name or IP address',
    ],
  )
})

t.test('config file: bracketed IPv6 host and duplicate collectors', async (t) => {
  const files = { 'c.yaml': 'targets:\n  - host: "[::1]"\n    port: 9229\n    disabledCollectors: [gc, gc, info]\n' }
  t.strictSame(load(['--config', 'c.yaml'], {}, files).targets, [
    target({ name: '[::1]:9229', host: '::1', disabledCollectors: ['gc', 'info'] }),
  ])
})

t.test('config file: every problem is reported, with its path', async (t) => {
  const file = `
targets:
  - port: 99999
  - name: x
    port: 1
    nmae: typo
  - port: 2
    disabledCollectors: [hep, 3]
  - name: dup
    port: 3
    interval: "15"
  - name: dup
    port: 4
    timeout: 0
  - port: 5
    serviceName: "  "
  - port: 6
    serviceName: 7
bogus: 1
listen: 9464
interval: 50
timeout: soon
allowRemoteInspector: "yes"
reconnect: {minDelay: 1m, tries: 3}
otlp: {headers: {a: {}}, intervall: 3, endpoint: 4318, serviceName: ""}
logLevel: verbose
`
  t.strictSame(problems(['--config', 'c.yaml'], {}, { 'c.yaml': file }), [
    'targets[0].port: must be 1..65535',
    'targets[1].nmae: unknown key (known keys: name, host, port, address, interval, timeout, disabledCollectors, serviceName)',
    'targets[2].disabledCollectors[0]: "hep" is not a collector (known: heap, memory, gc, heapStatistics, resources, http, info, eventLoop, process)',
    'targets[2].disabledCollectors[1]: number 3 is not a collector (known: heap, memory, gc, heapStatistics, resources, http, info, eventLoop, process)',
    'targets[3].interval: "15" is not a duration (use 500ms, 15s, 5m, 1h)',
    'targets[4].timeout: 0 must be > 0 (a bare number means milliseconds)',
    'targets[5].serviceName: must not be empty',
    'targets[6].serviceName: must be a string, not number 7',
    'listen: must be a "HOST:PORT" string, not number 9464',
    'interval: 50 must be at least 100ms (a bare number means milliseconds)',
    'timeout: "soon" is not a duration (use 500ms, 15s, 5m, 1h)',
    'allowRemoteInspector: must be true or false, not string "yes"',
    'reconnect.tries: unknown key (known keys: minDelay, maxDelay)',
    'otlp.endpoint: must be a URL, not number 4318',
    'otlp.headers.a: must be a string, not a mapping',
    'otlp.serviceName: must not be empty',
    'otlp.intervall: unknown key (known keys: endpoint, protocol, interval, headers, serviceName)',
    'logLevel: "verbose" is not one of fatal, error, warn, info, debug, trace, silent',
    `bogus: unknown key (known keys: ${KNOWN_TOP_KEYS})`,
    // The valid keys of an invalid section are kept for the checks after merging.
    'reconnect.minDelay: 1m is more than reconnect.maxDelay (30s)',
  ])
})

t.test('config file: checks after merging still run when other parts are invalid', async (t) => {
  const file = `
targets:
  - {name: a, port: 1}
  - {name: a, port: 2}
  - {host: 10.0.0.5, port: 3}
  - {port: 0}
reconnect: {minDelay: 1m}
`
  t.strictSame(problems(['--config', 'c.yaml'], {}, { 'c.yaml': file }), [
    'targets[3].port: must be 1..65535',
    'reconnect.minDelay: 1m is more than reconnect.maxDelay (30s)',
    'targets[1].name: "a" is already used by targets[0]',
    `targets[2].host: 10.0.0.5 ${LOOPBACK_HINT}`,
  ])
})

t.test('config file: wrong types', async (t) => {
  t.strictSame(problems(['--config', 'c.yaml'], {}, { 'c.yaml': 'targets: {port: 1}\nreconnect: 5\notlp: [1]\ninterval: [1]\n' }), [
    'targets: must be a list, not a mapping',
    'interval: must be a duration like 15s (or a number of milliseconds), not a list',
    'reconnect: must be a mapping, not number 5',
    'otlp: must be a mapping, not a list',
  ])
  t.strictSame(problems(['--config', 'c.yaml'], {}, { 'c.yaml': 'targets: []\n' }), [
    'targets: at least one target is required (use --target HOST:PORT, LEAKWATCH_TARGETS or targets in the config file)',
  ])
  t.strictSame(problems([...T, '--config', 'c.yaml'], {}, { 'c.yaml': 'interval: -5\ntimeout: .inf\n' }), [
    'interval: -5 is not a duration (use 500ms, 15s, 5m, 1h, or a number of milliseconds)',
    'timeout: Infinity is not a duration (use 500ms, 15s, 5m, 1h, or a number of milliseconds)',
  ])
  t.strictSame(problems([...T, '--config', 'c.yaml'], {}, { 'c.yaml': 'interval: 15\ntimeout: 0\n' }), [
    'interval: 15 must be at least 100ms (a bare number means milliseconds)',
    'timeout: 0 must be > 0 (a bare number means milliseconds)',
  ])
})

t.test('reconnect: min must not exceed max; min must be > 0', async (t) => {
  const run = (text: string) => problems([...T, '--config', 'c.yaml'], {}, { 'c.yaml': text })
  t.strictSame(run('reconnect: {minDelay: 10s, maxDelay: 5s}'), ['reconnect.minDelay: 10s is more than reconnect.maxDelay (5s)'])
  t.strictSame(run('reconnect: {maxDelay: 100ms}'), ['reconnect.minDelay: 500ms is more than reconnect.maxDelay (100ms)'])
  t.strictSame(run('reconnect: {minDelay: 0s}'), ['reconnect.minDelay: must be > 0'])
  t.strictSame(load([...T, '--config', 'c.yaml'], {}, { 'c.yaml': 'reconnect: {minDelay: 5s, maxDelay: 5s}' }).reconnect, {
    minDelayMs: 5_000,
    maxDelayMs: 5_000,
  })
})

t.test('precedence: flags > env > file > defaults', async (t) => {
  const files = {
    'c.yaml': 'targets: [{name: file, port: 1}]\nlisten: 127.0.0.1:1\ninterval: 1s\ntimeout: 1s\nlogLevel: error\n' +
      'otlp: {endpoint: "http://file:4318", interval: 1s, serviceName: file, headers: {a: file, b: file}}\n',
  }
  const env = {
    LEAKWATCH_CONFIG: 'c.yaml',
    LEAKWATCH_TARGETS: 'env=127.0.0.1:2',
    LEAKWATCH_LISTEN: '127.0.0.1:2',
    LEAKWATCH_INTERVAL: '2s',
    LEAKWATCH_TIMEOUT: '2s',
    LEAKWATCH_LOG_LEVEL: 'warn',
    LEAKWATCH_OTLP_ENDPOINT: 'http://env:4318',
    LEAKWATCH_SERVICE_NAME: 'env',
    OTEL_METRIC_EXPORT_INTERVAL: '2000',
    OTEL_EXPORTER_OTLP_HEADERS: 'b=env,c=env',
  }
  const flags = [
    '--target', 'flag=127.0.0.1:3', '--listen', '127.0.0.1:3', '--interval', '3s', '--timeout', '3s', '--log-level', 'debug',
    '--otlp-endpoint', 'http://flag:4318', '--service-name', 'flag', '--otlp-interval', '3s',
  ]

  t.test('file over defaults', async (t) => {
    const c = load([], { LEAKWATCH_CONFIG: 'c.yaml' }, files)
    t.strictSame(
      [c.targets.map((x) => x.name), c.listen.port, c.intervalMs, c.timeoutMs, c.logLevel, c.otlp],
      [['file'], 1, 1_000, 1_000, 'error', { endpoint: 'http://file:4318/v1/metrics', protocol: 'http/protobuf', intervalMs: 1_000, headers: { a: 'file', b: 'file' }, serviceName: 'file' }],
    )
  })
  t.test('env over file', async (t) => {
    const c = load([], env, files)
    t.strictSame(
      [c.targets.map((x) => x.name), c.listen.port, c.intervalMs, c.timeoutMs, c.logLevel, c.otlp],
      [['env'], 2, 2_000, 2_000, 'warn', { endpoint: 'http://env:4318/v1/metrics', protocol: 'http/protobuf', intervalMs: 2_000, headers: { a: 'file', b: 'env', c: 'env' }, serviceName: 'env' }],
    )
    t.strictSame(c.targets[0], target({ name: 'env', port: 2, intervalMs: 2_000, timeoutMs: 2_000 }), 'targets get the env interval')
  })
  t.test('flags over env', async (t) => {
    const c = load(flags, env, files)
    t.strictSame(
      [c.targets.map((x) => x.name), c.listen.port, c.intervalMs, c.timeoutMs, c.logLevel, c.otlp],
      [['flag'], 3, 3_000, 3_000, 'debug', { endpoint: 'http://flag:4318/v1/metrics', protocol: 'http/protobuf', intervalMs: 3_000, headers: { a: 'file', b: 'env', c: 'env' }, serviceName: 'flag' }],
    )
  })
  t.test('target lists replace, never merge', async (t) => {
    const many = { 'c.yaml': 'targets: [{name: f1, port: 1}, {name: f2, port: 2}]\n' }
    t.strictSame(load([], { LEAKWATCH_CONFIG: 'c.yaml', LEAKWATCH_TARGETS: 'e1=127.0.0.1:3' }, many).targets.map((x) => x.name), ['e1'])
    t.strictSame(
      load(['--target', 'x=127.0.0.1:4', '--target', 'y=127.0.0.1:5'], { LEAKWATCH_CONFIG: 'c.yaml', LEAKWATCH_TARGETS: 'e1=127.0.0.1:3' }, many)
        .targets.map((x) => x.name),
      ['x', 'y'],
    )
  })
  t.test('per-target settings in the file beat global flags', async (t) => {
    const file = { 'c.yaml': 'targets: [{port: 1, interval: 7s}]\n' }
    const c = load(['--config', 'c.yaml', '--interval', '3s', '--timeout', '2s'], {}, file)
    t.strictSame(c.targets[0], target({ name: '127.0.0.1:1', port: 1, intervalMs: 7_000, timeoutMs: 2_000 }))
  })
  t.test('the file can enable remote inspectors; env can switch it off again', async (t) => {
    const file = { 'c.yaml': 'allowRemoteInspector: true\ntargets: [{host: 10.0.0.5, port: 9229}]\n' }
    t.equal(load(['--config', 'c.yaml'], {}, file).allowRemoteInspector, true)
    t.strictSame(problems(['--config', 'c.yaml'], { LEAKWATCH_ALLOW_REMOTE_INSPECTOR: '0' }, file), [`targets[0].host: 10.0.0.5 ${LOOPBACK_HINT}`])
  })
})

t.test('target names must be unique', async (t) => {
  t.strictSame(problems(['--target', 'a=127.0.0.1:1', '--target', 'b=127.0.0.1:2', '--target', 'a=127.0.0.1:3']), [
    'targets[2].name: "a" is already used by targets[0]',
  ])
  t.strictSame(problems(['--target', 'localhost:9229', '--target', '127.0.0.1:9229']), [
    'targets[1].name: "127.0.0.1:9229" is already used by targets[0]',
  ])
})

t.test('security: non-loopback targets', async (t) => {
  t.strictSame(problems(['--target', '10.0.0.5:9229']), [`targets[0].host: 10.0.0.5 ${LOOPBACK_HINT}`])
  t.strictSame(problems(['--target', '127.0.0.1:1', '--target', 'db.internal:9229', '--target', '[fe80::1]:1']), [
    `targets[1].host: db.internal ${LOOPBACK_HINT}`,
    `targets[2].host: fe80::1 ${LOOPBACK_HINT}`,
  ])
  const remote = load(['--target', '10.0.0.5:9229', '--allow-remote-inspector'])
  t.equal(remote.allowRemoteInspector, true)
  t.strictSame(remote.targets, [target({ name: '10.0.0.5:9229', host: '10.0.0.5' })])
  t.equal(load([], { LEAKWATCH_TARGETS: 'db.internal:9229', LEAKWATCH_ALLOW_REMOTE_INSPECTOR: '1' }).targets[0]?.host, 'db.internal')
})

t.test('isLoopbackHost', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
    t.equal(isLoopbackHost(host), true, host)
  }
  for (const host of ['10.0.0.5', '128.0.0.1', '0.0.0.0', '::', '::2', 'fe80::1', '::ffff:10.0.0.1', 'localhost.example.com', '127.0.0.1.nip.io', 'example.com', '']) {
    t.equal(isLoopbackHost(host), false, host)
  }
})

t.test('many problems from every source are reported at once', async (t) => {
  const error = (() => {
    try {
      loadConfig({
        argv: ['--target', '10.0.0.5:9229', '--interval', '15', '--wat'],
        env: { LEAKWATCH_TIMEOUT: '5', LEAKWATCH_CONFIG: 'c.yaml' },
        readFile: () => 'listen: nope\ntargets: [{port: 99999}, {port: 1}]\nextra: true\n',
      })
    } catch (e) {
      return e
    }
    return undefined
  })()
  t.ok(error instanceof ConfigError)
  const e = error as ConfigError
  t.equal(e.code, 'LW_ERR_CONFIG')
  t.strictSame(e.problems, [
    '--wat: unknown flag (see --help)',
    '--interval: "15" is not a duration (use 500ms, 15s, 5m, 1h)',
    'LEAKWATCH_TIMEOUT: "5" is not a duration (use 500ms, 15s, 5m, 1h)',
    'targets[0].port: must be 1..65535',
    'listen: "nope" is not HOST:PORT (e.g. 127.0.0.1:9229 or [::1]:9229)',
    `extra: unknown key (known keys: ${KNOWN_TOP_KEYS})`,
    `targets[0].host: 10.0.0.5 ${LOOPBACK_HINT}`,
  ])
  t.equal(e.message, `invalid configuration:\n${e.problems.map((p) => `  - ${p}`).join('\n')}`)
})

t.test('parseByteQuantity: plain bytes and Kubernetes quantities, exactly', async (t) => {
  const cases: Array<[string, number]> = [
    ['0', 0], ['007', 7], ['1048576', 1_048_576], [' 536870912 ', 536_870_912], ['9007199254740991', 9_007_199_254_740_991],
    ['64Ki', 65_536], ['512Mi', 536_870_912], ['1Gi', 1_073_741_824], ['2Ti', 2_199_023_255_552], ['1Pi', 1_125_899_906_842_624],
    ['1k', 1_000], ['500M', 500_000_000], ['1G', 1_000_000_000], ['3T', 3_000_000_000_000], ['2P', 2_000_000_000_000_000],
    ['1.5Gi', 1_610_612_736], ['0.5Ki', 512], ['.25Mi', 262_144], ['2.5k', 2_500], ['2.2G', 2_200_000_000], ['4.Ki', 4_096],
    ['1e9', 1_000_000_000], ['1E3', 1_000], ['5e+2', 500], ['1000e-3', 1], ['1.5e3', 1_500], ['0e999999999999', 0],
  ]
  for (const [text, bytes] of cases) t.equal(parseByteQuantity(text), bytes, text)

  const problemOf = (text: string): string[] => {
    try {
      parseByteQuantity(text)
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems]
      throw error
    }
    throw new Error(`${text}: expected a ConfigError`)
  }
  t.equal(BYTE_QUANTITY_FORMS, '1048576, 64Ki, 512Mi, 1Gi, 500M, 1G')
  for (const text of ['', ' ', 'x', 'Gi', '1K', '1KB', '1MiB', '1m', '1mi', '-1', '+1', '1 Gi', '1.2.3', '0x10', '1e', '1e1.5', 'Infinity', 'NaN']) {
    t.strictSame(problemOf(text), [`${JSON.stringify(text)} is not a byte size (use 1048576, 64Ki, 512Mi, 1Gi, 500M, 1G)`], text)
  }
  for (const text of ['0.5', '1.1Ki', '1e-3', '0.0001k', '1e-999999999999']) {
    t.strictSame(problemOf(text), [`${JSON.stringify(text)} is not a whole number of bytes`], text)
  }
  for (const text of ['9007199254740992', '8Pi', '1E', '1Ei', '10P', '1e16', '1e99999999999']) {
    t.strictSame(problemOf(text), [`${JSON.stringify(text)} is too large a byte size`], text)
  }
})

t.test('formatByteQuantity', async (t) => {
  t.equal(formatByteQuantity(0), '0')
  t.equal(formatByteQuantity(1000), '1000')
  t.equal(formatByteQuantity(1024), '1Ki')
  t.equal(formatByteQuantity(1536), '1536')
  t.equal(formatByteQuantity(524_288), '512Ki')
  t.equal(formatByteQuantity(67_108_864), '64Mi')
  t.equal(formatByteQuantity(3 * 1024 ** 3), '3Gi')
  t.equal(formatByteQuantity(2 * 1024 ** 4), '2Ti')
  t.equal(formatByteQuantity(1024 ** 5), '1Pi')
  for (const bytes of [0, 1, 1023, 1024, 1536, 524_288, 1_000_000_000, 5 * 1024 ** 4]) {
    t.equal(parseByteQuantity(formatByteQuantity(bytes)), bytes, `round trip ${bytes}`)
  }
  t.throws(() => formatByteQuantity(-1), RangeError)
  t.throws(() => formatByteQuantity(1.5), RangeError)
})

t.test('analysis and attribution flags', async (t) => {
  t.test('--memory-limit takes bytes or a quantity', async (t) => {
    const limit = (text: string) => load([...T, '--memory-limit', text]).analysis.memoryLimitBytes
    t.equal(limit('1073741824'), 1_073_741_824)
    t.equal(limit('512Mi'), 536_870_912)
    t.equal(limit('1.5Gi'), 1_610_612_736)
    t.equal(limit('1G'), 1_000_000_000)
    t.equal(limit('1e9'), 1_000_000_000)
    t.equal(limit('1'), 1)
    t.strictSame(problems([...T, '--memory-limit', '0']), ['--memory-limit: must be > 0'])
    t.strictSame(problems([...T, '--memory-limit', '1.5']), ['--memory-limit: "1.5" is not a whole number of bytes'])
    t.strictSame(problems([...T, '--memory-limit', '1GB']), [
      '--memory-limit: "1GB" is not a byte size (use 1048576, 64Ki, 512Mi, 1Gi, 500M, 1G)',
    ])
  })

  t.test('--window, --warmup and --floor-window', async (t) => {
    t.strictSame(load([...T, '--window', '2m', '--warmup', '0s', '--floor-window', '500ms']).analysis,
      analysis({ windowMs: 120_000, warmupMs: 0, floorWindowMs: 500 }))
    t.equal(load([...T, '--window', '1s']).analysis.windowMs, 1_000)
    t.equal(load([...T, '--floor-window', '100ms']).analysis.floorWindowMs, 100)
    t.equal(load([...T, '--floor-window', '30m']).analysis.floorWindowMs, 1_800_000, 'the floor window may equal the window')
    t.equal(load([...T, '--warmup', '1h']).analysis.warmupMs, 3_600_000)
    t.strictSame(
      problems([...T, '--window', '999ms', '--warmup', '5', '--floor-window', '99ms']),
      ['--window: must be at least 1s', '--warmup: "5" is not a duration (use 500ms, 15s, 5m, 1h)', '--floor-window: must be at least 100ms'],
    )
  })

  t.test('a window shorter than the default floor window shortens it, unless one is given', async (t) => {
    t.strictSame(load([...T, '--window', '30s']).analysis, analysis({ windowMs: 30_000, floorWindowMs: 30_000 }))
    t.equal(load([...T, '--window', '2m']).analysis.floorWindowMs, 60_000)
    t.strictSame(problems([...T, '--window', '30s', '--floor-window', '40s']), [
      'analysis.floorWindow: 40s is more than analysis.window (30s)',
    ])
  })

  t.test('--attribution', async (t) => {
    t.equal(load([...T, '--attribution', 'off']).attribution.mode, 'off')
    t.equal(load([...T, '--attribution', 'on-suspicion']).attribution.mode, 'on-suspicion')
    t.equal(load([...T, '--attribution', ' Always ']).attribution.mode, 'always')
    t.strictSame(ATTRIBUTION_MODES, ['off', 'on-suspicion', 'always'])
    t.strictSame(problems([...T, '--attribution', 'sometimes']), [
      '--attribution: "sometimes" is not one of off, on-suspicion, always',
    ])
  })

  t.test('--sampling-interval', async (t) => {
    const interval = (text: string) => load([...T, '--sampling-interval', text]).attribution.samplingIntervalBytes
    t.equal(interval('1Ki'), 1_024)
    t.equal(interval('1024'), 1_024)
    t.equal(interval('128k'), 128_000)
    t.equal(interval('64Mi'), 67_108_864)
    for (const text of ['1023', '67108865', '65Mi', '0']) {
      t.strictSame(problems([...T, '--sampling-interval', text]), ['--sampling-interval: must be 1Ki..64Mi (1024..67108864 bytes)'], text)
    }
    t.strictSame(problems([...T, '--sampling-interval', '512KB']), [
      '--sampling-interval: "512KB" is not a byte size (use 1048576, 64Ki, 512Mi, 1Gi, 500M, 1G)',
    ])
  })

  t.test('--profile-budget takes a percentage or a fraction', async (t) => {
    const budget = (text: string) => load([...T, '--profile-budget', text]).attribution
    t.strictSame(budget('0.2%'), attribution({ budget: 0.002 }))
    t.strictSame(budget('0.002'), attribution({ budget: 0.002 }))
    t.equal(budget('.5%').budget, 0.005)
    t.equal(budget('0.7%').budget, 0.007)
    t.equal(budget('10%').budget, 0.1)
    t.equal(budget('0.1').budget, 0.1)
    t.strictSame(budget('1%'), attribution({ budget: 0.01, suspicionBudget: 0.01 }))
    // Above the default suspicion budget, the suspicion budget follows instead of being a problem.
    t.strictSame(budget('2%'), attribution({ budget: 0.02, suspicionBudget: 0.02 }))
    for (const text of ['0', '0%', '10.1%', '0.2', '1']) {
      t.strictSame(problems([...T, '--profile-budget', text]), ['--profile-budget: must be more than 0 and at most 0.1 (10%)'], text)
    }
    for (const text of ['-1%', 'abc', '0.2 %', '%', '1e-3']) {
      t.strictSame(
        problems([...T, `--profile-budget=${text}`]),
        [`--profile-budget: ${JSON.stringify(text)} is not a fraction or percentage (e.g. 0.002 or 0.2%)`],
        text,
      )
    }
  })

  t.test('--top-sites', async (t) => {
    t.equal(load([...T, '--top-sites', '1']).attribution.topSites, 1)
    t.equal(load([...T, '--top-sites', '100']).attribution.topSites, 100)
    t.strictSame(problems([...T, '--top-sites', '0']), ['--top-sites: must be 1..100'])
    t.strictSame(problems([...T, '--top-sites', '101']), ['--top-sites: must be 1..100'])
    t.strictSame(problems([...T, '--top-sites', '1.5']), ['--top-sites: "1.5" is not a whole number'])
    t.strictSame(problems([...T, '--top-sites', 'ten']), ['--top-sites: "ten" is not a whole number'])
  })

  t.test('the new flags need values like the others', async (t) => {
    t.strictSame(problems([...T, '--window', '--warmup', '1s']), ['--window: needs a value', '"1s": unexpected argument (flags take the form --name VALUE; see --help)'])
    t.strictSame(problems([...T, '--top-sites']), ['--top-sites: needs a value'])
    t.strictSame(problems([...T, '--memory-limit', '-1']), ['--memory-limit: needs a value'])
    t.strictSame(problems([...T, '--memory-limit=-1']), ['--memory-limit: "-1" is not a byte size (use 1048576, 64Ki, 512Mi, 1Gi, 500M, 1G)'])
  })
})

t.test('analysis and attribution environment variables', async (t) => {
  t.test('LEAKWATCH_MEMORY_LIMIT: bytes from the downward API; 0 and empty are unset', async (t) => {
    const limit = (value: string) => load(T, { LEAKWATCH_MEMORY_LIMIT: value }).analysis.memoryLimitBytes
    t.equal(limit('536870912'), 536_870_912)
    t.equal(limit('512Mi'), 536_870_912)
    t.equal(limit('2G'), 2_000_000_000)
    t.equal(limit('0'), undefined)
    t.equal(limit('0Mi'), undefined)
    t.equal(limit(''), undefined)
    t.equal(limit('  '), undefined)
    t.strictSame(problems(T, { LEAKWATCH_MEMORY_LIMIT: 'unlimited' }), [
      'LEAKWATCH_MEMORY_LIMIT: "unlimited" is not a byte size (use 1048576, 64Ki, 512Mi, 1Gi, 500M, 1G)',
    ])
  })
  t.test('the others', async (t) => {
    const config = load(T, {
      LEAKWATCH_WINDOW: '45s',
      LEAKWATCH_WARMUP: '0ms',
      LEAKWATCH_ATTRIBUTION: 'ALWAYS',
      LEAKWATCH_PROFILE_BUDGET: '1%',
    })
    t.strictSame(config.analysis, analysis({ windowMs: 45_000, warmupMs: 0, floorWindowMs: 45_000 }))
    t.strictSame(config.attribution, attribution({ mode: 'always', budget: 0.01 }))
  })
  t.test('bad values are all reported with the variable name', async (t) => {
    t.strictSame(
      problems(T, {
        LEAKWATCH_WINDOW: '1',
        LEAKWATCH_WARMUP: 'later',
        LEAKWATCH_MEMORY_LIMIT: '-1',
        LEAKWATCH_ATTRIBUTION: 'on',
        LEAKWATCH_PROFILE_BUDGET: '20%',
      }),
      [
        'LEAKWATCH_WINDOW: "1" is not a duration (use 500ms, 15s, 5m, 1h)',
        'LEAKWATCH_WARMUP: "later" is not a duration (use 500ms, 15s, 5m, 1h)',
        'LEAKWATCH_MEMORY_LIMIT: "-1" is not a byte size (use 1048576, 64Ki, 512Mi, 1Gi, 500M, 1G)',
        'LEAKWATCH_ATTRIBUTION: "on" is not one of off, on-suspicion, always',
        'LEAKWATCH_PROFILE_BUDGET: must be more than 0 and at most 0.1 (10%)',
      ],
    )
    t.strictSame(problems(T, { LEAKWATCH_WINDOW: '500ms' }), ['LEAKWATCH_WINDOW: must be at least 1s'])
  })
})

t.test('config file: analysis and attribution', async (t) => {
  const run = (text: string, argv: string[] = []) => load([...T, ...argv, '--config', 'c.yaml'], {}, { 'c.yaml': text })
  const fail = (text: string, argv: string[] = []) => problems([...T, ...argv, '--config', 'c.yaml'], {}, { 'c.yaml': text })

  t.test('sections may be partial or empty', async (t) => {
    t.strictSame(run('analysis: {}\nattribution: {}\n').analysis, analysis())
    t.strictSame(run('analysis: {memoryLimit: 512Mi}\n').analysis, analysis({ memoryLimitBytes: 536_870_912 }))
    t.strictSame(run('analysis: {memoryLimit: "1e9", window: 20s}\n').analysis, analysis({ memoryLimitBytes: 1e9, windowMs: 20_000, floorWindowMs: 20_000 }))
    t.strictSame(run('attribution: {mode: "off", samplingInterval: 1024}\n').attribution, attribution({ mode: 'off', samplingIntervalBytes: 1_024 }))
    t.strictSame(run('attribution: {budget: 5%}\n').attribution, attribution({ budget: 0.05, suspicionBudget: 0.05 }))
    t.strictSame(run('analysis: {minRelativePerHour: 1}\n').analysis, analysis({ minRelativePerHour: 1 }))
    t.strictSame(run('analysis: {minRelativePerHour: 150%}\n').analysis, analysis({ minRelativePerHour: 1.5 }))
  })

  t.test('limits that are allowed', async (t) => {
    t.strictSame(
      run('analysis: {window: 1s, floorWindow: 1s, minPoints: 4, maxPValue: 0.999, minSlopeBytesPerSecond: 0, minRelativePerHour: 0, ' +
        'raiseAfter: 1, clearAfter: 1, warmup: 0, memoryLimit: 1}\n').analysis,
      analysis({ windowMs: 1_000, floorWindowMs: 1_000, minPoints: 4, maxPValue: 0.999, minSlopeBytesPerSecond: 0, minRelativePerHour: 0,
        raiseAfterMs: 1_000, clearAfterMs: 1_000, warmupMs: 0, memoryLimitBytes: 1 }),
    )
    t.strictSame(
      run('attribution: {samplingInterval: 64Mi, budget: 10%, suspicionBudget: 0.1, minFetchInterval: 100, topSites: 100, maxSites: 100}\n')
        .attribution,
      attribution({ samplingIntervalBytes: 67_108_864, budget: 0.1, suspicionBudget: 0.1, minFetchIntervalMs: 100, topSites: 100, maxSites: 100 }),
    )
    t.equal(run('attribution: {maxSites: 10000}\n').attribution.maxSites, 10_000)
  })

  t.test('every problem is reported, with its path', async (t) => {
    const file = `
analysis:
  window: 999
  minPoints: 3
  maxPValue: 1
  minSlopeBytesPerSecond: -1
  minRelativePerHour: "-5%"
  raiseAfter: 0
  clearAfter: 1.5
  warmup: soon
  floorWindow: 50ms
  memoryLimit: 0
  windw: 1m
attribution:
  mode: sometimes
  samplingInterval: 128Mi
  budget: 0
  suspicionBudget: 15%
  floorBudget: 0
  minFetchInterval: 10ms
  topSites: 101
  maxSites: 10001
  extra: 1
`
    t.strictSame(fail(file), [
      'analysis.window: 999 must be at least 1s (a bare number means milliseconds)',
      'analysis.minPoints: must be at least 4',
      'analysis.maxPValue: must be more than 0 and less than 1',
      'analysis.minSlopeBytesPerSecond: must not be negative',
      'analysis.minRelativePerHour: "-5%" is not a fraction or percentage (e.g. 0.002 or 0.2%)',
      'analysis.raiseAfter: must be at least 1',
      'analysis.clearAfter: must be a whole number, not number 1.5',
      'analysis.warmup: "soon" is not a duration (use 500ms, 15s, 5m, 1h)',
      'analysis.floorWindow: must be at least 100ms',
      'analysis.memoryLimit: must be > 0',
      'analysis.windw: unknown key (known keys: window, minPoints, maxPValue, minSlopeBytesPerSecond, minRelativePerHour, ' +
        'raiseAfter, clearAfter, warmup, maxWarmup, floorWindow, memoryLimit, urgentHorizon, fastRelativePerHour, steadyRaiseAfter, slowWindow, ' +
        'slowMinSlopeBytesPerSecond, slowMinRelativePerHour, slowRaiseAfter)',
      'attribution.mode: "sometimes" is not one of off, on-suspicion, always',
      'attribution.samplingInterval: must be 1Ki..64Mi (1024..67108864 bytes)',
      'attribution.budget: must be more than 0 and at most 0.1 (10%)',
      'attribution.suspicionBudget: must be more than 0 and at most 0.1 (10%)',
      'attribution.floorBudget: must be more than 0 and at most 0.1 (10%)',
      'attribution.minFetchInterval: must be at least 100ms',
      'attribution.topSites: must be 1..100',
      'attribution.maxSites: must be 1..10000',
      'attribution.extra: unknown key (known keys: mode, samplingInterval, budget, suspicionBudget, floorBudget, minFetchInterval, topSites, maxSites)',
    ])
  })

  t.test('wrong types', async (t) => {
    t.strictSame(fail('analysis: 5\nattribution: [1]\n'), [
      'analysis: must be a mapping, not number 5',
      'attribution: must be a mapping, not a list',
    ])
    t.strictSame(
      fail('analysis: {memoryLimit: true, maxPValue: "0.01", window: [1], minSlopeBytesPerSecond: .nan, minRelativePerHour: .inf, ' +
        'minPoints: .inf}\nattribution: {mode: 1, samplingInterval: null, budget: {}, topSites: "10", suspicionBudget: -.inf}\n'),
      [
        'analysis.window: must be a duration like 15s (or a number of milliseconds), not a list',
        'analysis.minPoints: must be a whole number, not number Infinity',
        'analysis.maxPValue: must be a number, not string "0.01"',
        'analysis.minSlopeBytesPerSecond: NaN is not a finite number',
        'analysis.minRelativePerHour: Infinity is not a finite number',
        'analysis.memoryLimit: must be a byte size like 512Mi (or a number of bytes), not boolean true',
        'attribution.mode: must be one of off, on-suspicion, always, not number 1',
        'attribution.samplingInterval: must be a byte size like 512Mi (or a number of bytes), not null',
        'attribution.budget: must be a fraction like 0.002 or a percentage like "0.2%", not a mapping',
        'attribution.suspicionBudget: -Infinity is not a finite number',
        'attribution.topSites: must be a whole number, not string "10"',
      ],
    )
    t.strictSame(fail('analysis: {memoryLimit: 1.5}\nattribution: {samplingInterval: 2048.5}\n'), [
      'analysis.memoryLimit: 1.5 is not a whole number of bytes',
      'attribution.samplingInterval: 2048.5 is not a whole number of bytes',
    ])
  })

  t.test('settings that depend on each other', async (t) => {
    t.strictSame(fail('analysis: {window: 1m, floorWindow: 2m}\n'), ['analysis.floorWindow: 2m is more than analysis.window (1m)'])
    t.strictSame(fail('analysis: {floorWindow: 31m}\n'), ['analysis.floorWindow: 31m is more than analysis.window (30m)'])
    t.strictSame(fail('attribution: {budget: 2%, suspicionBudget: 1%}\n'), [
      'attribution.suspicionBudget: 0.01 is less than attribution.budget (0.02)',
    ])
    t.strictSame(fail('attribution: {suspicionBudget: 0.001}\n'), [
      'attribution.suspicionBudget: 0.001 is less than attribution.budget (0.002)',
    ])
    t.strictSame(fail('attribution: {topSites: 50, maxSites: 20}\n'), ['attribution.maxSites: 20 is less than attribution.topSites (50)'])
    t.strictSame(fail('attribution: {maxSites: 5}\n'), ['attribution.maxSites: 5 is less than attribution.topSites (10)'])
    // Across sources: the window from a flag, the floor window from the file.
    t.strictSame(fail('analysis: {floorWindow: 2m}\n', ['--window', '1m']), ['analysis.floorWindow: 2m is more than analysis.window (1m)'])
    t.strictSame(fail('attribution: {maxSites: 20}\n', ['--top-sites', '21']), ['attribution.maxSites: 20 is less than attribution.topSites (21)'])
    t.strictSame(fail('attribution: {suspicionBudget: 1%}\n', ['--profile-budget', '2%']), [
      'attribution.suspicionBudget: 0.01 is less than attribution.budget (0.02)',
    ])
    // Equal is fine.
    const c = run('analysis: {window: 1m, floorWindow: 1m}\nattribution: {budget: 1%, suspicionBudget: 1%, topSites: 20, maxSites: 20}\n')
    t.strictSame([c.analysis.floorWindowMs, c.attribution.suspicionBudget, c.attribution.maxSites], [60_000, 0.01, 20])
  })

  t.test('the valid keys of an invalid section still take part in those checks', async (t) => {
    t.strictSame(fail('analysis: {window: 1m, floorWindow: 2m, minPoints: 2}\nattribution: {topSites: 30, maxSites: 20, mode: x}\n'), [
      'analysis.minPoints: must be at least 4',
      'attribution.mode: "x" is not one of off, on-suspicion, always',
      'analysis.floorWindow: 2m is more than analysis.window (1m)',
      'attribution.maxSites: 20 is less than attribution.topSites (30)',
    ])
  })
})

t.test('precedence of analysis and attribution settings: flags > env > file > defaults', async (t) => {
  const files = {
    'c.yaml': 'targets: [{port: 9229}]\n' +
      'analysis: {window: 10m, warmup: 1m, floorWindow: 30s, memoryLimit: 1Gi, minPoints: 8}\n' +
      'attribution: {mode: always, budget: 0.5%, suspicionBudget: 0.8%, topSites: 5, samplingInterval: 128Ki}\n',
  }
  const env = {
    LEAKWATCH_CONFIG: 'c.yaml',
    LEAKWATCH_WINDOW: '20m',
    LEAKWATCH_WARMUP: '2m',
    LEAKWATCH_MEMORY_LIMIT: '2147483648',
    LEAKWATCH_ATTRIBUTION: 'off',
    LEAKWATCH_PROFILE_BUDGET: '0.6%',
  }
  const flags = [
    '--window', '40m', '--warmup', '3m', '--floor-window', '45s', '--memory-limit', '3Gi', '--attribution', 'on-suspicion',
    '--profile-budget', '0.7%', '--top-sites', '7', '--sampling-interval', '256Ki',
  ]

  t.test('file over defaults', async (t) => {
    const c = load([], { LEAKWATCH_CONFIG: 'c.yaml' }, files)
    t.strictSame(c.analysis, analysis({ windowMs: 600_000, warmupMs: 60_000, floorWindowMs: 30_000, memoryLimitBytes: 1_073_741_824, minPoints: 8 }))
    t.strictSame(c.attribution, attribution({ mode: 'always', budget: 0.005, suspicionBudget: 0.008, topSites: 5, samplingIntervalBytes: 131_072 }))
  })
  t.test('env over file', async (t) => {
    const c = load([], env, files)
    t.strictSame(c.analysis, analysis({ windowMs: 1_200_000, warmupMs: 120_000, floorWindowMs: 30_000, memoryLimitBytes: 2_147_483_648, minPoints: 8 }))
    t.strictSame(c.attribution, attribution({ mode: 'off', budget: 0.006, suspicionBudget: 0.008, topSites: 5, samplingIntervalBytes: 131_072 }))
  })
  t.test('flags over env', async (t) => {
    const c = load(flags, env, files)
    t.strictSame(c.analysis, analysis({ windowMs: 2_400_000, warmupMs: 180_000, floorWindowMs: 45_000, memoryLimitBytes: 3_221_225_472, minPoints: 8 }))
    t.strictSame(c.attribution, attribution({ mode: 'on-suspicion', budget: 0.007, suspicionBudget: 0.008, topSites: 7, samplingIntervalBytes: 262_144 }))
  })
  t.test('LEAKWATCH_MEMORY_LIMIT=0 is unset, so the file limit applies', async (t) => {
    t.equal(load([], { ...env, LEAKWATCH_MEMORY_LIMIT: '0' }, files).analysis.memoryLimitBytes, 1_073_741_824)
    t.equal(load([], { LEAKWATCH_CONFIG: 'c.yaml', LEAKWATCH_MEMORY_LIMIT: '' }, files).analysis.memoryLimitBytes, 1_073_741_824)
  })
  t.test('an invalid flag is reported alone: the lower layers fill in without causing other problems', async (t) => {
    t.strictSame(problems(['--window', '1'], env, files), ['--window: "1" is not a duration (use 500ms, 15s, 5m, 1h)'])
  })
})

t.test('analysis and attribution problems from every source are reported together', async (t) => {
  t.strictSame(
    problems(
      [...T, '--window', '500ms', '--top-sites', '0', '--memory-limit', '1.5', '--profile-budget', '20%', '--config', 'c.yaml'],
      { LEAKWATCH_WARMUP: '-1s', LEAKWATCH_ATTRIBUTION: 'never', LEAKWATCH_MEMORY_LIMIT: '1GB' },
      { 'c.yaml': 'analysis: {minPoints: 2, floorWindow: 1h}\nattribution: {maxSites: 0, suspicionBudget: 0}\n' },
    ),
    [
      '--window: must be at least 1s',
      '--memory-limit: "1.5" is not a whole number of bytes',
      '--profile-budget: must be more than 0 and at most 0.1 (10%)',
      '--top-sites: must be 1..100',
      'LEAKWATCH_WARMUP: "-1s" is not a duration (use 500ms, 15s, 5m, 1h)',
      'LEAKWATCH_MEMORY_LIMIT: "1GB" is not a byte size (use 1048576, 64Ki, 512Mi, 1Gi, 500M, 1G)',
      'LEAKWATCH_ATTRIBUTION: "never" is not one of off, on-suspicion, always',
      'analysis.minPoints: must be at least 4',
      'attribution.suspicionBudget: must be more than 0 and at most 0.1 (10%)',
      'attribution.maxSites: must be 1..10000',
      // The window flag was invalid, so the default window (30m) is checked against the file's floor window.
      'analysis.floorWindow: 1h is more than analysis.window (30m)',
    ],
  )
})

t.test('testConfig (test/helpers/config.ts) is valid and takes overrides', async (t) => {
  const config = testConfig([{ name: 'api', port: 9229 }])
  t.strictSame(config.analysis, {
    windowMs: 20_000, minPoints: 6, maxPValue: 0.05, minSlopeBytesPerSecond: 16 * 1024, minRelativePerHour: 0.05,
    raiseAfterMs: 1_000, clearAfterMs: 1_500, warmupMs: 0, maxWarmupMs: 0, floorWindowMs: 500, memoryLimitBytes: undefined,
    urgentHorizonMs: 36_000_000_000, fastRelativePerHour: 25, steadyRaiseAfterMs: undefined, slowWindowMs: 144_000, slowMinSlopeBytesPerSecond: 15_000,
    slowMinRelativePerHour: 0.25, slowRaiseAfterMs: 12_000,
  })
  t.strictSame(config.attribution, {
    mode: 'off', samplingIntervalBytes: 32_768, budget: 0.05, suspicionBudget: 0.1, floorBudget: 0.1, minFetchIntervalMs: 1_000, topSites: 10, maxSites: 200,
  })
  // The same values pass loadConfig's checks.
  const a = config.analysis
  const { samplingIntervalBytes, minFetchIntervalMs, ...attributionRest } = config.attribution
  const file = JSON.stringify({
    analysis: {
      window: a.windowMs,
      minPoints: a.minPoints,
      maxPValue: a.maxPValue,
      minSlopeBytesPerSecond: a.minSlopeBytesPerSecond,
      minRelativePerHour: a.minRelativePerHour,
      raiseAfter: `${a.raiseAfterMs}ms`,
      clearAfter: `${a.clearAfterMs}ms`,
      warmup: a.warmupMs,
      maxWarmup: a.maxWarmupMs,
      floorWindow: a.floorWindowMs,
      urgentHorizon: a.urgentHorizonMs,
      fastRelativePerHour: a.fastRelativePerHour,
      slowWindow: a.slowWindowMs,
      slowMinSlopeBytesPerSecond: a.slowMinSlopeBytesPerSecond,
      slowMinRelativePerHour: a.slowMinRelativePerHour,
      slowRaiseAfter: a.slowRaiseAfterMs,
    },
    attribution: { ...attributionRest, samplingInterval: samplingIntervalBytes, minFetchInterval: minFetchIntervalMs },
  })
  const loaded = load([...T, '--config', 'c.json'], {}, { 'c.json': file })
  t.strictSame([loaded.analysis, loaded.attribution], [config.analysis, config.attribution])

  const changed = testConfig([{ name: 'api', port: 9229 }], { analysis: { windowMs: 5_000 }, attribution: { mode: 'always' }, intervalMs: 100 })
  t.equal(changed.analysis.windowMs, 5_000)
  t.equal(changed.analysis.minPoints, 6, 'other analysis settings are kept')
  t.equal(changed.attribution.mode, 'always')
  t.equal(changed.attribution.minFetchIntervalMs, 1_000)
  t.equal(changed.intervalMs, 100)
})

t.test('COLLECTOR_NAMES: every registered collector can be disabled by name', async (t) => {
  t.ok(COLLECTOR_NAMES.includes('gc') && COLLECTOR_NAMES.includes('heap'), COLLECTOR_NAMES.join(', '))
  const files = { 'c.yaml': `targets: [{port: 1, disabledCollectors: [${COLLECTOR_NAMES.join(', ')}]}]` }
  t.strictSame(load(['--config', 'c.yaml'], {}, files).targets[0]?.disabledCollectors, [...COLLECTOR_NAMES])
})

t.test('HTTP access: the API token and what it protects', async (t) => {
  const file = (text: string, extra: Record<string, string> = {}) => ({ 'c.yaml': text, ...extra })

  t.test('from a token file (trimmed), the environment or the config file', async (t) => {
    t.strictSame(load([...T, '--api-token-file', 'token'], {}, { token: `\n  ${TOKEN} \r\n` }).http, http({ apiToken: TOKEN }))
    t.strictSame(load(T, { LEAKWATCH_API_TOKEN: ` ${TOKEN} ` }).http, http({ apiToken: TOKEN }))
    t.strictSame(load([...T, '--config', 'c.yaml'], {}, file(`http: {apiToken: "${TOKEN}"}\n`)).http, http({ apiToken: TOKEN }))
    t.strictSame(load([...T, '--config', 'c.yaml'], {}, file('http: {apiTokenFile: /abs/token}\n', { '/abs/token': TOKEN })).http, http({ apiToken: TOKEN }))
    // Relative to the config file's directory, not the working directory.
    t.strictSame(
      load([...T, '--config', 'conf/c.yaml'], {}, { 'conf/c.yaml': 'http: {apiTokenFile: token}\n', 'conf/token': TOKEN }).http,
      http({ apiToken: TOKEN }),
    )
    t.strictSame(load([...T, '--config', 'c.yaml'], {}, file('http: {}\n')).http, http(), 'an empty section')
  })

  t.test('precedence: --api-token-file > LEAKWATCH_API_TOKEN > the file', async (t) => {
    const other = 'ffffffffffffffffffffffffffffffff'
    const third = 'https://x.example/tokenlike_value'
    const files = file(`http: {apiToken: "${third}"}\n`, { token: TOKEN })
    t.equal(load([...T, '--config', 'c.yaml'], {}, files).http.apiToken, third)
    t.equal(load([...T, '--config', 'c.yaml'], { LEAKWATCH_API_TOKEN: other }, files).http.apiToken, other)
    t.equal(load([...T, '--config', 'c.yaml', '--api-token-file', 'token'], { LEAKWATCH_API_TOKEN: other }, files).http.apiToken, TOKEN)
    t.equal(load([...T, '--api-token-file', 'a', '--api-token-file', 'token'], {}, { token: TOKEN }).http.apiToken, TOKEN, 'the last flag wins')
  })

  t.test('token rules: 16..1024 printable ASCII characters without spaces; problems never show the token', async (t) => {
    const cases: Array<[string, string]> = [
      ['short-token', 'must be at least 16 characters long (has 11; make one with: openssl rand -hex 32)'],
      ['x'.repeat(1025), 'must be at most 1024 characters long (has 1025)'],
      ['has a space inside it!', 'must be printable ASCII without spaces (character 4 is not)'],
      ['tab\tinside-the-token', 'must be printable ASCII without spaces (character 4 is not)'],
      ['ünicode-token-value-here', 'must be printable ASCII without spaces (character 1 is not)'],
      ['nul\u0000-in-the-token-value', 'must be printable ASCII without spaces (character 4 is not)'],
    ]
    for (const [token, error] of cases) {
      t.strictSame(problems(T, { LEAKWATCH_API_TOKEN: token }), [`LEAKWATCH_API_TOKEN: ${error}`], JSON.stringify(token))
      t.strictSame(problems([...T, '--api-token-file', 'f'], {}, { f: token }), [`--api-token-file: the token in "f" ${error}`])
      const found = problems([...T, '--config', 'c.yaml'], {}, file(`http: {apiToken: ${JSON.stringify(token)}}\n`))
      t.strictSame(found, [`http.apiToken: ${error}`])
    }
    // Exactly at the limits.
    t.equal(load(T, { LEAKWATCH_API_TOKEN: '!'.repeat(16) }).http.apiToken, '!'.repeat(16))
    t.equal(load(T, { LEAKWATCH_API_TOKEN: '~'.repeat(1024) }).http.apiToken, '~'.repeat(1024))
    t.equal(load(T, { LEAKWATCH_API_TOKEN: 'A-Za-z0-9._~+/=!#$%&*' }).http.apiToken, 'A-Za-z0-9._~+/=!#$%&*')
    // An almost valid secret must not end up in logs through the error message.
    const secret = 'Sup3r-S3cret value'
    const all = [
      ...problems(T, { LEAKWATCH_API_TOKEN: secret }),
      ...problems([...T, '--api-token-file', 'f'], {}, { f: secret }),
      ...problems([...T, '--config', 'c.yaml'], {}, file(`http: {apiToken: "${secret}"}\n`)),
      ...problems([...T, '--config', 'c.yaml'], {}, file('http: {apiToken: 123456789012345678901}\n')),
    ]
    t.equal(all.length, 4)
    for (const p of all) t.notMatch(p, /Sup3r|S3cret|123456789012345678901/, p)
  })

  t.test('token file problems', async (t) => {
    t.match(problems([...T, '--api-token-file', 'missing']), [/^--api-token-file: cannot read "missing": ENOENT/])
    t.strictSame(problems([...T, '--api-token-file', 'f'], {}, { f: ' \n\n' }), ['--api-token-file: "f" is empty'])
    t.strictSame(problems([...T, '--api-token-file', '']), ['--api-token-file: must not be empty'])
    t.strictSame(problems([...T, '--api-token-file']), ['--api-token-file: needs a value'])
    t.match(problems([...T, '--config', 'c.yaml'], {}, file('http: {apiTokenFile: gone}\n')), [/^http.apiTokenFile: cannot read "gone": ENOENT/])
    t.strictSame(problems([...T, '--config', 'c.yaml'], {}, file(`http: {apiToken: "${TOKEN}", apiTokenFile: t}\n`, { t: TOKEN })), [
      'http.apiTokenFile: give either http.apiToken or http.apiTokenFile, not both',
    ])
  })

  t.test('the real file system: a token file of at most 4 KiB', async (t) => {
    const dir = t.testdir({ token: `${TOKEN}\n`, big: `${TOKEN}\n${' '.repeat(5000)}`, empty: '' })
    const run = (path: string) => loadConfig({ argv: [...T, '--api-token-file', join(dir, path)], env: {} })
    t.equal((run('token') as Config).http.apiToken, TOKEN)
    const error = (path: string): string[] => {
      try {
        run(path)
      } catch (e) {
        if (e instanceof ConfigError) return [...e.problems]
        throw e
      }
      throw new Error('expected a ConfigError')
    }
    t.strictSame(error('big'), [
      `--api-token-file: cannot read ${JSON.stringify(join(dir, 'big'))}: larger than 4096 bytes; it should hold just the token`,
    ])
    t.strictSame(error('empty'), [`--api-token-file: ${JSON.stringify(join(dir, 'empty'))} is empty`])
    t.match(error('nope'), [/cannot read .*ENOENT/])
    t.match(error('.'), [/cannot read .*not a regular file/])
  })

  t.test('there is no --api-token flag: a token on the command line leaks through ps', async (t) => {
    const hint = 'not supported: a token on the command line is visible to every local user through ps and /proc/PID/cmdline; ' +
      'use --api-token-file FILE or LEAKWATCH_API_TOKEN'
    t.strictSame(problems([...T, '--api-token', TOKEN]), [
      `--api-token: ${hint}`,
      `${JSON.stringify(TOKEN)}: unexpected argument (flags take the form --name VALUE; see --help)`,
    ])
    const inline = problems([...T, `--api-token=${TOKEN}`])
    t.strictSame(inline, [`--api-token: ${hint}`])
  })

  t.test('--protect-metrics and --protect-health, with every source', async (t) => {
    t.strictSame(load([...T, '--protect-metrics'], { LEAKWATCH_API_TOKEN: TOKEN }).http, http({ apiToken: TOKEN, protectMetrics: true }))
    t.strictSame(load([...T, '--protect-health'], { LEAKWATCH_API_TOKEN: TOKEN }).http, http({ apiToken: TOKEN, protectHealth: true }))
    const files = file(`http: {apiToken: "${TOKEN}", protectMetrics: true, protectHealth: true}\n`)
    t.strictSame(load([...T, '--config', 'c.yaml'], {}, files).http, http({ apiToken: TOKEN, protectMetrics: true, protectHealth: true }))
    // env over file, flags over env.
    const env = { LEAKWATCH_PROTECT_METRICS: 'false', LEAKWATCH_PROTECT_HEALTH: 'FALSE' }
    t.strictSame(load([...T, '--config', 'c.yaml'], env, files).http, http({ apiToken: TOKEN }))
    t.strictSame(load([...T, '--config', 'c.yaml', '--protect-health'], env, files).http, http({ apiToken: TOKEN, protectHealth: true }))
    t.strictSame(problems([...T, '--protect-metrics=yes']), ['--protect-metrics: takes no value'])
    t.strictSame(problems(T, { LEAKWATCH_API_TOKEN: TOKEN, LEAKWATCH_PROTECT_HEALTH: 'yes' }), [
      'LEAKWATCH_PROTECT_HEALTH: "yes" is not a boolean (use true, false, 1 or 0)',
    ])
  })

  t.test('protecting without a token is a problem (unless the token given is itself invalid)', async (t) => {
    const sources = '--api-token-file, LEAKWATCH_API_TOKEN, http.apiToken or http.apiTokenFile'
    t.strictSame(problems([...T, '--protect-metrics', '--protect-health']), [
      `http.protectMetrics: needs an API token (${sources}); without one nothing is protected`,
      `http.protectHealth: needs an API token (${sources}); without one nothing is protected`,
    ])
    t.strictSame(problems(T, { LEAKWATCH_PROTECT_HEALTH: '1' }), [
      `http.protectHealth: needs an API token (${sources}); without one nothing is protected`,
    ])
    t.strictSame(problems([...T, '--config', 'c.yaml'], {}, file('http: {protectMetrics: true}\n')), [
      `http.protectMetrics: needs an API token (${sources}); without one nothing is protected`,
    ])
    // Switched on and off again: fine without a token.
    t.strictSame(load([...T, '--config', 'c.yaml'], { LEAKWATCH_PROTECT_METRICS: '0' }, file('http: {protectMetrics: true}\n')).http, http())
    // The token problem alone, not also "needs a token".
    t.strictSame(problems([...T, '--protect-metrics'], { LEAKWATCH_API_TOKEN: 'short' }), [
      'LEAKWATCH_API_TOKEN: must be at least 16 characters long (has 5; make one with: openssl rand -hex 32)',
    ])
    t.match(problems([...T, '--protect-metrics', '--api-token-file', 'missing']), [/^--api-token-file: cannot read "missing"/])
    t.strictSame(problems([...T, '--config', 'c.yaml'], {}, file('http: {apiToken: 5, protectMetrics: true}\n')), [
      'http.apiToken: must be a string, not a number',
    ])
    t.strictSame(problems([...T, '--config', 'c.yaml'], {}, file('http: [1]\n')), ['http: must be a mapping, not a list'])
  })

  t.test('config file: wrong types and unknown keys in http', async (t) => {
    t.strictSame(
      problems([...T, '--config', 'c.yaml'], {}, file('http: {apiToken: [a], apiTokenFile: 3, protectMetrics: "yes", protectHealth: 1, token: x}\n')),
      [
        'http.apiToken: must be a string, not a list',
        'http.apiTokenFile: must be a file path, not number 3',
        'http.protectMetrics: must be true or false, not string "yes"',
        'http.protectHealth: must be true or false, not number 1',
        'http.token: unknown key (known keys: apiToken, apiTokenFile, protectMetrics, protectHealth)',
      ],
    )
  })
})

t.test('maxConcurrentPolls: 1..1000 from a flag, the environment or the file', async (t) => {
  t.equal(load(T).maxConcurrentPolls, 8)
  t.equal(load([...T, '--max-concurrent-polls', '1']).maxConcurrentPolls, 1)
  t.equal(load([...T, '--max-concurrent-polls', '1000']).maxConcurrentPolls, 1_000)
  t.equal(load(T, { LEAKWATCH_MAX_CONCURRENT_POLLS: ' 20 ' }).maxConcurrentPolls, 20)
  t.equal(load([...T, '--config', 'c.yaml'], {}, { 'c.yaml': 'maxConcurrentPolls: 64\n' }).maxConcurrentPolls, 64)
  // flags > env > file
  t.equal(load([...T, '--config', 'c.yaml'], { LEAKWATCH_MAX_CONCURRENT_POLLS: '20' }, { 'c.yaml': 'maxConcurrentPolls: 64\n' }).maxConcurrentPolls, 20)
  t.equal(
    load([...T, '--config', 'c.yaml', '--max-concurrent-polls', '2'], { LEAKWATCH_MAX_CONCURRENT_POLLS: '20' }, { 'c.yaml': 'maxConcurrentPolls: 64\n' })
      .maxConcurrentPolls,
    2,
  )
  t.strictSame(problems([...T, '--max-concurrent-polls', '0']), ['--max-concurrent-polls: must be 1..1000'])
  t.strictSame(problems([...T, '--max-concurrent-polls', '1001']), ['--max-concurrent-polls: must be 1..1000'])
  t.strictSame(problems([...T, '--max-concurrent-polls', '2.5']), ['--max-concurrent-polls: "2.5" is not a whole number'])
  t.strictSame(problems([...T, '--max-concurrent-polls']), ['--max-concurrent-polls: needs a value'])
  t.strictSame(problems(T, { LEAKWATCH_MAX_CONCURRENT_POLLS: 'many' }), ['LEAKWATCH_MAX_CONCURRENT_POLLS: "many" is not a whole number'])
  t.strictSame(problems(T, { LEAKWATCH_MAX_CONCURRENT_POLLS: '-1' }), ['LEAKWATCH_MAX_CONCURRENT_POLLS: "-1" is not a whole number'])
  const cases: Array<[string, string]> = [
    ['0', 'must be 1..1000'],
    ['1001', 'must be 1..1000'],
    ['1.5', 'must be a whole number, not number 1.5'],
    ['"8"', 'must be a whole number, not string "8"'],
    ['.inf', 'must be a whole number, not number Infinity'],
  ]
  for (const [value, error] of cases) {
    t.strictSame(problems([...T, '--config', 'c.yaml'], {}, { 'c.yaml': `maxConcurrentPolls: ${value}\n` }), [`maxConcurrentPolls: ${error}`], value)
  }
})

t.test('--event-loop-resolution: every layer, with bounds', async (t) => {
  t.equal(load(T).eventLoopResolutionMs, 100)
  t.equal(load([...T, '--event-loop-resolution', '1ms']).eventLoopResolutionMs, 1)
  t.equal(load([...T, '--event-loop-resolution', '1s']).eventLoopResolutionMs, 1_000)
  t.equal(load(T, { LEAKWATCH_EVENT_LOOP_RESOLUTION: '50ms' }).eventLoopResolutionMs, 50)
  t.equal(load([...T, '--config', 'c.yaml'], {}, { 'c.yaml': 'eventLoopResolution: 20\n' }).eventLoopResolutionMs, 20)
  // flags > env > file
  t.equal(
    load([...T, '--config', 'c.yaml', '--event-loop-resolution', '10ms'], { LEAKWATCH_EVENT_LOOP_RESOLUTION: '50ms' }, { 'c.yaml': 'eventLoopResolution: 20ms\n' })
      .eventLoopResolutionMs,
    10,
  )
  t.equal(
    load([...T, '--config', 'c.yaml'], { LEAKWATCH_EVENT_LOOP_RESOLUTION: '50ms' }, { 'c.yaml': 'eventLoopResolution: 20ms\n' }).eventLoopResolutionMs,
    50,
  )
  t.strictSame(problems([...T, '--event-loop-resolution', '0s']), ['--event-loop-resolution: must be 1ms..1s'])
  t.strictSame(problems([...T, '--event-loop-resolution', '2s']), ['--event-loop-resolution: must be 1ms..1s'])
  t.strictSame(problems(T, { LEAKWATCH_EVENT_LOOP_RESOLUTION: '5m' }), ['LEAKWATCH_EVENT_LOOP_RESOLUTION: must be 1ms..1s'])
  t.match(problems(T, { LEAKWATCH_EVENT_LOOP_RESOLUTION: 'fast' }), [/^LEAKWATCH_EVENT_LOOP_RESOLUTION: /])
  t.strictSame(problems([...T, '--config', 'c.yaml'], {}, { 'c.yaml': 'eventLoopResolution: 5000\n' }), [
    'eventLoopResolution: 5000 must be 1ms..1s (a bare number means milliseconds)',
  ])
})

t.test('--steady-raise-after: how long growth not heading for the limit holds; unset by default', async (t) => {
  t.equal(load(T).analysis.steadyRaiseAfterMs, undefined)
  t.equal(load([...T, '--steady-raise-after', '2h']).analysis.steadyRaiseAfterMs, 7_200_000)
  t.equal(load(T, { LEAKWATCH_STEADY_RAISE_AFTER: '90m' }).analysis.steadyRaiseAfterMs, 5_400_000)
  t.equal(load([...T, '--config', 'c.yaml'], {}, { 'c.yaml': 'analysis: {steadyRaiseAfter: 3h}\n' }).analysis.steadyRaiseAfterMs, 10_800_000)
  t.throws(() => load([...T, '--steady-raise-after', 'soon']), /steady-raise-after/)
})

t.test('--time-scale N: every duration of polling, analysis and attribution N times shorter, every rate threshold N times larger', async (t) => {
  const scaled = load([...T, '--time-scale', '60'])
  t.equal(scaled.timeScale, 60)
  t.equal(scaled.intervalMs, 250)
  t.equal(scaled.timeoutMs, 5_000, 'timeouts are not scaled: the inspector answers as fast as ever')
  t.equal(scaled.targets[0]?.intervalMs, 250)
  t.strictSame(scaled.analysis, {
    ...analysis(),
    windowMs: 30_000,
    raiseAfterMs: 5_000,
    clearAfterMs: 15_000,
    warmupMs: 5_000,
    maxWarmupMs: 60_000,
    floorWindowMs: 1_000,
    urgentHorizonMs: 240_000,
    slowWindowMs: 240_000,
    slowRaiseAfterMs: 20_000,
    minSlopeBytesPerSecond: 1024 * 60,
    minRelativePerHour: 0.05 * 60,
    fastRelativePerHour: 0.25 * 60,
    slowMinSlopeBytesPerSecond: 150 * 60,
    slowMinRelativePerHour: 0.0025 * 60,
  })
  t.equal(scaled.holders.minGrowthBytesPerSecond, 18 * 60, "a holder's smallest growth too")
  t.equal(scaled.attribution.minFetchIntervalMs, 500)
  t.equal(scaled.attribution.budget, 0.002, "the profile budgets' shares of time stay")
  t.equal(scaled.attribution.suspicionBudget, 0.01)
  // A forced GC of the same heap does not get cheaper under compression: the floor budget grows N times, up to the cap.
  t.equal(scaled.attribution.floorBudget, 0.1, 'the floor budget: 1 % × 60, capped at 10 %')
  t.equal(load([...T, '--time-scale', '2']).attribution.floorBudget, 0.02)
  t.equal(load([...T, '--floor-budget', '0.5%', '--time-scale', '3']).attribution.floorBudget, 0.015, 'a given floor budget too')
  // Given values are scaled like defaults; counts of evaluations follow the scaled floor window.
  const given = load(['--target', 'a=127.0.0.1:1', '--window', '1h', '--raise-after', '3'], { LEAKWATCH_TIME_SCALE: '10' }, {})
  t.equal(given.analysis.windowMs, 360_000)
  t.equal(given.analysis.raiseAfterMs, 3 * 6_000)
  t.equal(load([...T, '--steady-raise-after', '2h', '--time-scale', '60']).analysis.steadyRaiseAfterMs, 120_000, 'the steady hold too')
  const file = load(['--config', 'c.yaml'], {}, { 'c.yaml': 'timeScale: 2\ntargets: [{port: 1, interval: 4s}]\n' })
  t.equal(file.targets[0]?.intervalMs, 2_000, "a target's own interval too")
  t.strictSame(problems([...T, '--time-scale', '0']), ['--time-scale: must be 1..3600'])
  t.strictSame(problems([...T, '--time-scale', 'fast']), ['--time-scale: "fast" is not a number'])
})

t.test('raiseAfter and clearAfter: a count of evaluations (as before) or a duration', async (t) => {
  t.equal(load([...T, '--raise-after', '10m']).analysis.raiseAfterMs, 600_000)
  t.equal(load([...T, '--raise-after', '4', '--floor-window', '30s']).analysis.raiseAfterMs, 120_000)
  t.equal(load([...T, '--config', 'c.yaml'], {}, { 'c.yaml': 'analysis: {clearAfter: 20m}\n' }).analysis.clearAfterMs, 1_200_000)
  t.strictSame(problems([...T, '--raise-after', 'soon']), [
    '--raise-after: "soon" is neither a count of evaluations nor a duration (use 3 or 500ms, 15s, 5m, 1h)',
  ])
  t.strictSame(problems([...T, '--clear-after', '0']), ['--clear-after: must be at least 1'])
})

t.test('holders: mode, the two intervals (time-scaled, max at least the first) and the exported top-K', async (t) => {
  t.strictSame(load([...T, '--config', 'c.yaml'], {}, { 'c.yaml': 'holders: {interval: 10s, maxInterval: 10s}\n' }).holders, holders({ intervalMs: 10_000, maxIntervalMs: 10_000 }))
  t.strictSame(
    load([...T, '--time-scale', '60']).holders,
    holders({ intervalMs: 2_000, maxIntervalMs: 60_000, minGrowthBytesPerSecond: 18 * 60 }),
    'durations and the smallest growth scale, the count does not',
  )
  t.strictSame(problems([...T, '--holder-min-growth=-1']), ['--holder-min-growth: must not be negative'])
  t.strictSame(problems([...T, '--holder-interval', '2h']), ['holders.maxInterval: 1h is less than holders.interval (2h)'])
  t.strictSame(problems([...T, '--holder-interval', '500ms']), ['--holder-interval: must be at least 1s'])
  t.strictSame(problems([...T, '--top-holders', '51']), ['--top-holders: must be 1..50'])
  t.match(problems([...T, '--holders', 'always']), [/^--holders: "always" is not one of off, on-verdict/])
  t.match(problems(T, { LEAKWATCH_HOLDERS: 'sometimes' }), [/^LEAKWATCH_HOLDERS: /])
})
