/**
 * Configuration: command-line flags > environment > config file > defaults.
 *
 * loadConfig() gathers every problem from every source before it gives up, so
 * a user fixes their configuration in one round instead of one error at a time.
 */

import { readFileSync } from 'node:fs'
import { BlockList, isIP, isIPv6 } from 'node:net'
import { parseArgs } from 'node:util'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import type { Config, TargetConfig } from './config-types.js'
import { DURATION_FORMS, formatDuration, parseDuration } from './duration.js'
import { ConfigError, errorMessage } from './errors.js'

export type { Config, TargetConfig } from './config-types.js'

/** Names accepted in a target's `disabledCollectors`. */
export const COLLECTOR_NAMES = ['heap', 'heapStatistics', 'memory', 'gc', 'eventLoop', 'resources', 'info'] as const
export type CollectorName = (typeof COLLECTOR_NAMES)[number]

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = Config['logLevel']

/** Every default, in one place. */
export const DEFAULTS = Object.freeze({
  /** Host of a config-file target that gives only `port`. */
  targetHost: '127.0.0.1',
  listen: Object.freeze({ host: '0.0.0.0', port: 9464 }),
  intervalMs: 15_000,
  timeoutMs: 5_000,
  allowRemoteInspector: false,
  reconnect: Object.freeze({ minDelayMs: 500, maxDelayMs: 30_000 }),
  otlp: Object.freeze({
    endpoint: undefined as string | undefined,
    intervalMs: 15_000,
    headers: Object.freeze({}) as Readonly<Record<string, string>>,
    serviceName: 'leakwatch',
  }),
  logLevel: 'info' as LogLevel,
}) satisfies Omit<Config, 'targets'> & { targetHost: string }

/** Smallest poll (and OTLP export) interval accepted. */
export const MIN_INTERVAL_MS = 100

const METRICS_PATH = '/v1/metrics'

export interface LoadConfigOptions {
  /** Command-line arguments without the node binary and script (`process.argv.slice(2)`). */
  argv: readonly string[]
  env: NodeJS.ProcessEnv
  /** Reads the config file (tests inject this); defaults to readFileSync(path, 'utf8'). */
  readFile?: (path: string) => string
}

// ---------------------------------------------------------------------------
// Help

const d = formatDuration

export const HELP = `Usage: leakwatch [options]

Watches Node.js processes over the V8 inspector (node --inspect) and exports
memory, GC and leak metrics to Prometheus (GET /metrics) and OTLP/HTTP.

Options:
  --target [NAME=]HOST:PORT  Inspector to watch; repeat for several. NAME is the
                             "target" label and defaults to HOST:PORT. IPv6 in
                             brackets: [::1]:9229. "localhost" is read as
                             127.0.0.1 (Node's inspector binds 127.0.0.1).
  --listen HOST:PORT         Metrics HTTP server address (default ${DEFAULTS.listen.host}:${DEFAULTS.listen.port})
  --interval DURATION        Poll period of each target (default ${d(DEFAULTS.intervalMs)}, min ${d(MIN_INTERVAL_MS)})
  --timeout DURATION         Timeout of each inspector call (default ${d(DEFAULTS.timeoutMs)})
  --config FILE              YAML or JSON config file (see below)
  --otlp-endpoint URL        Export to this OTLP/HTTP endpoint; ${METRICS_PATH} is
                             appended unless the URL already ends with it
                             (default: no OTLP export)
  --otlp-interval DURATION   OTLP export period (default ${d(DEFAULTS.otlp.intervalMs)})
  --service-name NAME        OTLP service.name (default ${DEFAULTS.otlp.serviceName})
  --allow-remote-inspector   Allow targets on non-loopback hosts (see Security)
  --log-level LEVEL          ${LOG_LEVELS.join(', ')} (default ${DEFAULTS.logLevel})
  -h, --help                 Show this help and exit
  -v, --version              Show the version and exit

Durations: ${DURATION_FORMS}, 1.5s or compounds like 1m30s. A bare number is
refused, except in the config file where a number means milliseconds.

Environment:
  LEAKWATCH_TARGETS          Comma-separated targets, same syntax as --target
  LEAKWATCH_LISTEN           Like --listen
  LEAKWATCH_INTERVAL         Like --interval
  LEAKWATCH_TIMEOUT          Like --timeout
  LEAKWATCH_CONFIG           Like --config
  LEAKWATCH_OTLP_ENDPOINT    Like --otlp-endpoint (${METRICS_PATH} appended)
  LEAKWATCH_SERVICE_NAME     Like --service-name
  LEAKWATCH_ALLOW_REMOTE_INSPECTOR  true, false, 1 or 0
  LEAKWATCH_LOG_LEVEL        Like --log-level
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT  Full metrics URL, used as-is
  OTEL_EXPORTER_OTLP_ENDPOINT          Base URL; ${METRICS_PATH} is appended
  OTEL_EXPORTER_OTLP_HEADERS           k=v,k2=v2 (percent-decoded) sent with
                                       every export; added to the file's headers
  OTEL_SERVICE_NAME                    Like --service-name
  OTEL_METRIC_EXPORT_INTERVAL          OTLP export period in milliseconds
  Empty variables count as unset.

Precedence: flags > environment > config file > defaults.
  The target list comes whole from the first source that has one (--target
  flags, else LEAKWATCH_TARGETS, else the file); lists are never merged.
  OTLP endpoint: --otlp-endpoint > LEAKWATCH_OTLP_ENDPOINT >
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT > OTEL_EXPORTER_OTLP_ENDPOINT > file.
  Service name: --service-name > LEAKWATCH_SERVICE_NAME > OTEL_SERVICE_NAME > file.
  The resolved endpoint is always the full metrics URL (ends with ${METRICS_PATH}
  unless it came from OTEL_EXPORTER_OTLP_METRICS_ENDPOINT).

Config file (all keys optional; unknown keys are errors):
  targets:
    - name: api                # default HOST:PORT
      host: 127.0.0.1          # default ${DEFAULTS.targetHost}
      port: 9229
      interval: 5s             # default: the global interval
      timeout: 2s              # default: the global timeout
      disabledCollectors: [heap]   # of: ${COLLECTOR_NAMES.join(', ')}
    - address: "[::1]:9230"    # HOST:PORT instead of host and port
  listen: 0.0.0.0:9464
  interval: 15s
  timeout: 5s
  allowRemoteInspector: false
  reconnect: { minDelay: ${d(DEFAULTS.reconnect.minDelayMs)}, maxDelay: ${d(DEFAULTS.reconnect.maxDelayMs)} }   # backoff between reconnects
  otlp: { endpoint: "http://collector:4318", interval: 15s, headers: { x-token: abc }, serviceName: leakwatch }
  logLevel: info

Security: the inspector protocol can run any code in the target process.
Targets on a host other than loopback (127.0.0.0/8, ::1, localhost) are refused
unless --allow-remote-inspector (or LEAKWATCH_ALLOW_REMOTE_INSPECTOR=true, or
allowRemoteInspector: true) is given. Never expose --inspect to a network.

Example:
  node --inspect=127.0.0.1:9229 server.js &
  leakwatch --target api=127.0.0.1:9229 --interval 10s --otlp-endpoint http://localhost:4318
`

/** The version from package.json. */
export function readVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version
  /* c8 ignore next */
  throw new Error('package.json has no version')
}

// ---------------------------------------------------------------------------
// Value parsers. Each returns the value or an error text without the field
// name; the caller (flag, env var or file key) adds the field name.

type Problems = string[]
type Parsed<T> = { value: T } | { error: string }

/** The value, or undefined after pushing `field: error`. */
function take<T>(parsed: Parsed<T>, field: string, problems: Problems): T | undefined {
  if ('error' in parsed) {
    problems.push(`${field}: ${parsed.error}`)
    return undefined
  }
  return parsed.value
}

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/**
 * True for 127.0.0.0/8, ::1 (in any spelling, also IPv4-mapped ::ffff:127.x.x.x)
 * and `localhost`. Brackets around IPv6 are ignored. Other host names are not
 * loopback, even if they resolve to it.
 */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (h.toLowerCase() === 'localhost') return true
  const family = isIP(h)
  if (family === 4) return LOOPBACK.check(h, 'ipv4')
  if (family === 6) return LOOPBACK.check(h, 'ipv6')
  return false
}

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$/

/** A host name or IP address (IPv6 with or without brackets); returned without brackets. */
function parseHost(raw: string): Parsed<string> {
  if (raw.startsWith('[') && raw.endsWith(']')) {
    const inner = raw.slice(1, -1)
    return isIPv6(inner) ? { value: inner } : { error: `${JSON.stringify(raw)} is not an IPv6 address` }
  }
  // All-digit-and-dot names that are not IPv4 (e.g. 10.0.0.256) are typos, not host names.
  if (isIP(raw) !== 0 || (HOSTNAME.test(raw) && !/^[\d.]+$/.test(raw))) return { value: raw }
  return { error: `${JSON.stringify(raw)} is not a host name or IP address` }
}

function normalizeTargetHost(host: string): string {
  return host.toLowerCase() === 'localhost' ? '127.0.0.1' : host
}

/** `HOST:PORT`, with IPv6 hosts in brackets. */
function hostPort(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`
}

interface HostPort {
  host: string
  port: number
}

/** `HOST:PORT` (IPv6 as `[::1]:9229`) with the port in minPort..65535. */
function parseHostPort(input: string, minPort: number): Parsed<HostPort> {
  const text = input.trim()
  const shown = JSON.stringify(text)
  let hostText: string
  let portText: string
  const bracketed = /^(\[[^\]]*\]):([^:]*)$/.exec(text)
  if (bracketed) {
    hostText = bracketed[1]!
    portText = bracketed[2]!
  } else {
    const colon = text.lastIndexOf(':')
    if (colon < 0) return { error: `${shown} is not HOST:PORT (e.g. 127.0.0.1:9229 or [::1]:9229)` }
    hostText = text.slice(0, colon)
    portText = text.slice(colon + 1)
    if (hostText.includes(':')) return { error: `${shown}: put an IPv6 address in brackets, e.g. [::1]:9229` }
  }
  if (hostText === '') return { error: `${shown} has no host (use HOST:PORT)` }
  const host = parseHost(hostText)
  if ('error' in host) return { error: `${shown}: ${host.error}` }
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port < minPort || port > 65535) {
    return { error: `${shown}: port must be ${minPort}..65535` }
  }
  return { value: { host: host.value, port } }
}

interface TargetInput {
  name: string | undefined
  host: string
  port: number
  intervalMs?: number | undefined
  timeoutMs?: number | undefined
  disabledCollectors?: readonly string[] | undefined
}

/** `[NAME=]HOST:PORT`, as in --target and LEAKWATCH_TARGETS. */
function parseTargetSpec(spec: string): Parsed<TargetInput> {
  const text = spec.trim()
  const eq = text.indexOf('=')
  const name = eq >= 0 ? text.slice(0, eq).trim() : undefined
  if (name === '') return { error: `${JSON.stringify(text)} has an empty name (use NAME=HOST:PORT or HOST:PORT)` }
  const hp = parseHostPort(eq >= 0 ? text.slice(eq + 1) : text, 1)
  if ('error' in hp) return hp
  return { value: { name, host: normalizeTargetHost(hp.value.host), port: hp.value.port } }
}

interface Minimum {
  ms: number
  error: string
}
const INTERVAL_MIN: Minimum = { ms: MIN_INTERVAL_MS, error: `must be at least ${formatDuration(MIN_INTERVAL_MS)}` }
const POSITIVE: Minimum = { ms: 1, error: 'must be > 0' }

function checkMin(ms: number, min: Minimum): Parsed<number> {
  return ms < min.ms ? { error: min.error } : { value: ms }
}

function parseDurationText(text: string, min: Minimum): Parsed<number> {
  try {
    return checkMin(parseDuration(text), min)
  } catch (error) {
    return { error: error instanceof ConfigError ? error.problems.join('; ') : errorMessage(error) }
  }
}

function parseLogLevel(text: string): Parsed<LogLevel> {
  const level = text.trim().toLowerCase()
  return (LOG_LEVELS as readonly string[]).includes(level)
    ? { value: level as LogLevel }
    : { error: `${JSON.stringify(text)} is not one of ${LOG_LEVELS.join(', ')}` }
}

function parseBoolean(text: string): Parsed<boolean> {
  const value = text.trim().toLowerCase()
  if (value === 'true' || value === '1') return { value: true }
  if (value === 'false' || value === '0') return { value: false }
  return { error: `${JSON.stringify(text)} is not a boolean (use true, false, 1 or 0)` }
}

function parseNonEmpty(text: string): Parsed<string> {
  const value = text.trim()
  return value === '' ? { error: 'must not be empty' } : { value }
}

/** An http(s) URL. With `appendMetricsPath`, the full metrics URL (…/v1/metrics) is returned. */
function parseEndpoint(text: string, appendMetricsPath: boolean): Parsed<string> {
  const value = text.trim()
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return { error: `${JSON.stringify(text)} is not a URL (e.g. http://localhost:4318)` }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { error: `${JSON.stringify(text)} is not an http:// or https:// URL` }
  }
  if (!appendMetricsPath) return { value }
  const path = url.pathname.replace(/\/+$/, '')
  url.pathname = path.endsWith(METRICS_PATH) ? path : path + METRICS_PATH
  return { value: url.toString() }
}

/** `k=v,k2=v2` as in OTEL_EXPORTER_OTLP_HEADERS (keys and values percent-decoded). */
function parseHeaders(text: string): Parsed<Record<string, string>> {
  const headers: Record<string, string> = {}
  const errors: string[] = []
  for (const raw of text.split(',')) {
    const item = raw.trim()
    if (item === '') continue
    const eq = item.indexOf('=')
    const key = eq < 0 ? '' : item.slice(0, eq).trim()
    if (key === '') {
      errors.push(`${JSON.stringify(item)} is not key=value`)
      continue
    }
    try {
      headers[decodeURIComponent(key)] = decodeURIComponent(item.slice(eq + 1).trim())
    } catch {
      errors.push(`${JSON.stringify(item)} has a bad percent-encoding`)
    }
  }
  return errors.length > 0 ? { error: errors.join('; ') } : { value: headers }
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return `${typeof value} ${JSON.stringify(value)}`
}

// ---------------------------------------------------------------------------
// One layer per source; loadConfig picks each setting from the first layer that has it.

/** Targets as given by one source; invalid entries are undefined, so indexes match the source. */
type TargetList = (TargetInput | undefined)[]

interface Layer {
  targets?: TargetList
  listen?: HostPort
  intervalMs?: number
  timeoutMs?: number
  allowRemoteInspector?: boolean
  reconnect?: { minDelayMs?: number; maxDelayMs?: number }
  otlpEndpoint?: string
  otlpIntervalMs?: number
  otlpHeaders?: Record<string, string>
  serviceName?: string
  logLevel?: LogLevel
  configPath?: { path: string; field: string }
  /** The config file could not be read or parsed (so "no targets" would be noise). */
  unreadable?: true
}

/** Sets layer[key] unless value is undefined, so pick() falls through to the next layer. */
function set<K extends keyof Layer>(layer: Layer, key: K, value: Layer[K] | undefined): void {
  if (value !== undefined) layer[key] = value
}

function targetList(specs: readonly string[], field: string, problems: Problems): TargetList {
  return specs.map((spec) => take(parseTargetSpec(spec), field, problems))
}

const FLAG_OPTIONS = {
  target: { type: 'string', multiple: true },
  listen: { type: 'string' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  config: { type: 'string' },
  'otlp-endpoint': { type: 'string' },
  'otlp-interval': { type: 'string' },
  'service-name': { type: 'string' },
  'allow-remote-inspector': { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const

type FlagName = keyof typeof FLAG_OPTIONS

function readFlags(argv: readonly string[], problems: Problems): { layer: Layer; help: boolean; version: boolean } {
  // parseArgs in strict mode throws on the first bad argument; run it
  // non-strict with tokens and apply the same checks here to report them all.
  const { tokens } = parseArgs({ args: [...argv], options: FLAG_OPTIONS, strict: false, allowPositionals: true, tokens: true })
  const values: Partial<Record<FlagName, string[]>> = {}
  for (const token of tokens) {
    if (token.kind === 'positional') {
      problems.push(`${JSON.stringify(token.value)}: unexpected argument (flags take the form --name VALUE; see --help)`)
      continue
    }
    if (token.kind !== 'option') continue
    if (!Object.hasOwn(FLAG_OPTIONS, token.name)) {
      problems.push(`${token.rawName}: unknown flag (see --help)`)
      continue
    }
    const name = token.name as FlagName
    if (FLAG_OPTIONS[name].type === 'boolean') {
      if (token.value !== undefined) problems.push(`--${name}: takes no value`)
      else (values[name] ??= []).push('')
    } else if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
      // Like strict parseArgs: `--interval --timeout 5s` is a missing value, not the value "--timeout".
      problems.push(`--${name}: needs a value`)
    } else {
      ;(values[name] ??= []).push(token.value)
    }
  }

  const layer: Layer = {}
  if (values.target) layer.targets = targetList(values.target, '--target', problems)
  // A repeated single-value flag: the last one wins.
  const last = (name: FlagName): string | undefined => values[name]?.at(-1)
  let v: string | undefined
  if ((v = last('listen')) !== undefined) set(layer, 'listen', take(parseHostPort(v, 0), '--listen', problems))
  if ((v = last('interval')) !== undefined) set(layer, 'intervalMs', take(parseDurationText(v, INTERVAL_MIN), '--interval', problems))
  if ((v = last('timeout')) !== undefined) set(layer, 'timeoutMs', take(parseDurationText(v, POSITIVE), '--timeout', problems))
  if ((v = last('config')) !== undefined) {
    const path = take(parseNonEmpty(v), '--config', problems)
    if (path !== undefined) layer.configPath = { path, field: '--config' }
  }
  if ((v = last('otlp-endpoint')) !== undefined) {
    set(layer, 'otlpEndpoint', take(parseEndpoint(v, true), '--otlp-endpoint', problems))
  }
  if ((v = last('otlp-interval')) !== undefined) {
    set(layer, 'otlpIntervalMs', take(parseDurationText(v, INTERVAL_MIN), '--otlp-interval', problems))
  }
  if ((v = last('service-name')) !== undefined) set(layer, 'serviceName', take(parseNonEmpty(v), '--service-name', problems))
  if (values['allow-remote-inspector']) layer.allowRemoteInspector = true
  if ((v = last('log-level')) !== undefined) set(layer, 'logLevel', take(parseLogLevel(v), '--log-level', problems))
  return { layer, help: values.help !== undefined, version: values.version !== undefined }
}

function readEnv(env: NodeJS.ProcessEnv, problems: Problems): Layer {
  /** Empty counts as unset (as in the OpenTelemetry spec). */
  const get = (name: string): string | undefined => {
    const value = env[name]
    return value === undefined || value.trim() === '' ? undefined : value
  }
  const layer: Layer = {}
  let v: string | undefined
  if ((v = get('LEAKWATCH_TARGETS')) !== undefined) {
    layer.targets = targetList(
      v.split(',').filter((s) => s.trim() !== ''),
      'LEAKWATCH_TARGETS',
      problems,
    )
  }
  if ((v = get('LEAKWATCH_LISTEN')) !== undefined) set(layer, 'listen', take(parseHostPort(v, 0), 'LEAKWATCH_LISTEN', problems))
  if ((v = get('LEAKWATCH_INTERVAL')) !== undefined) {
    set(layer, 'intervalMs', take(parseDurationText(v, INTERVAL_MIN), 'LEAKWATCH_INTERVAL', problems))
  }
  if ((v = get('LEAKWATCH_TIMEOUT')) !== undefined) {
    set(layer, 'timeoutMs', take(parseDurationText(v, POSITIVE), 'LEAKWATCH_TIMEOUT', problems))
  }
  if ((v = get('LEAKWATCH_CONFIG')) !== undefined) layer.configPath = { path: v.trim(), field: 'LEAKWATCH_CONFIG' }
  if ((v = get('LEAKWATCH_ALLOW_REMOTE_INSPECTOR')) !== undefined) {
    set(layer, 'allowRemoteInspector', take(parseBoolean(v), 'LEAKWATCH_ALLOW_REMOTE_INSPECTOR', problems))
  }
  if ((v = get('LEAKWATCH_LOG_LEVEL')) !== undefined) set(layer, 'logLevel', take(parseLogLevel(v), 'LEAKWATCH_LOG_LEVEL', problems))

  // Endpoint: every variable set is validated; the first by precedence wins.
  const endpoints = [
    ['LEAKWATCH_OTLP_ENDPOINT', true],
    ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', false], // full URL, as-is
    ['OTEL_EXPORTER_OTLP_ENDPOINT', true],
  ] as const
  for (const [name, append] of endpoints) {
    if ((v = get(name)) === undefined) continue
    const url = take(parseEndpoint(v, append), name, problems)
    if (layer.otlpEndpoint === undefined) set(layer, 'otlpEndpoint', url)
  }
  if ((v = get('OTEL_EXPORTER_OTLP_HEADERS')) !== undefined) {
    set(layer, 'otlpHeaders', take(parseHeaders(v), 'OTEL_EXPORTER_OTLP_HEADERS', problems))
  }
  const serviceName = get('LEAKWATCH_SERVICE_NAME') ?? get('OTEL_SERVICE_NAME')
  if (serviceName !== undefined) layer.serviceName = serviceName.trim()
  if ((v = get('OTEL_METRIC_EXPORT_INTERVAL')) !== undefined) {
    const text = v.trim()
    const parsed: Parsed<number> = /^\d+$/.test(text)
      ? checkMin(Number(text), INTERVAL_MIN)
      : { error: `${JSON.stringify(v)} is not a whole number of milliseconds` }
    set(layer, 'otlpIntervalMs', take(parsed, 'OTEL_METRIC_EXPORT_INTERVAL', problems))
  }
  return layer
}

// ---------------------------------------------------------------------------
// Config file

/** A zod leaf running one of the parsers above; its error becomes the issue message. */
function leaf<T>(parse: (value: unknown) => Parsed<T>) {
  return z.unknown().transform((value, ctx) => {
    const parsed = parse(value)
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', message: parsed.error })
      return z.NEVER
    }
    return parsed.value
  })
}

/** A leaf that must be a string, then parsed by `parse`. */
function stringLeaf<T>(what: string, parse: (text: string) => Parsed<T>) {
  return leaf<T>((value) => (typeof value === 'string' ? parse(value) : { error: `must be ${what}, not ${typeName(value)}` }))
}

const fileDuration = (min: Minimum) =>
  leaf<number>((value) => {
    if (typeof value === 'number') {
      if (!Number.isFinite(value) || value < 0) {
        return { error: `${value} is not a duration (use ${DURATION_FORMS}, or a number of milliseconds)` }
      }
      const checked = checkMin(Math.round(value), min)
      return 'error' in checked ? { error: `${value} ${checked.error} (a bare number means milliseconds)` } : checked
    }
    if (typeof value === 'string') return parseDurationText(value, min)
    return { error: `must be a duration like 15s (or a number of milliseconds), not ${typeName(value)}` }
  })

const filePort = leaf<number>((value) =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535
    ? { value }
    : { error: 'must be 1..65535' },
)

const fileTargetHost = stringLeaf('a host name or IP address', (text) => {
  const host = parseHost(text.trim())
  return 'error' in host ? host : { value: normalizeTargetHost(host.value) }
})

const fileAddress = stringLeaf('a "HOST:PORT" string', (text) => {
  const hp = parseHostPort(text, 1)
  return 'error' in hp ? hp : { value: { host: normalizeTargetHost(hp.value.host), port: hp.value.port } }
})

const fileCollector = leaf<CollectorName>((value) =>
  typeof value === 'string' && (COLLECTOR_NAMES as readonly string[]).includes(value)
    ? { value: value as CollectorName }
    : { error: `${typeof value === 'string' ? JSON.stringify(value) : typeName(value)} is not a collector (known: ${COLLECTOR_NAMES.join(', ')})` },
)

const fileHeaderValue = leaf<string>((value) =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? { value: String(value) }
    : { error: `must be a string, not ${typeName(value)}` },
)

const fileBoolean = leaf<boolean>((value) =>
  typeof value === 'boolean' ? { value } : { error: `must be true or false, not ${typeName(value)}` },
)

const TargetSchema = z
  .strictObject({
    name: stringLeaf('a string', parseNonEmpty).optional(),
    host: fileTargetHost.optional(),
    port: filePort.optional(),
    address: fileAddress.optional(),
    interval: fileDuration(INTERVAL_MIN).optional(),
    timeout: fileDuration(POSITIVE).optional(),
    disabledCollectors: z.array(fileCollector).optional(),
  })
  .transform((t, ctx): TargetInput => {
    let where: HostPort
    if (t.address !== undefined) {
      if (t.host !== undefined || t.port !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['address'], message: 'give either address or host and port, not both' })
        return z.NEVER
      }
      where = t.address
    } else if (t.port !== undefined) {
      where = { host: t.host ?? DEFAULTS.targetHost, port: t.port }
    } else {
      ctx.addIssue({ code: 'custom', path: ['port'], message: 'is required (or give address: "HOST:PORT")' })
      return z.NEVER
    }
    return {
      name: t.name,
      ...where,
      intervalMs: t.interval,
      timeoutMs: t.timeout,
      disabledCollectors: t.disabledCollectors && [...new Set(t.disabledCollectors)],
    }
  })

const ReconnectSchema = z.strictObject({
  minDelay: fileDuration(POSITIVE).optional(),
  maxDelay: fileDuration(POSITIVE).optional(),
})

const OtlpSchema = z.strictObject({
  endpoint: stringLeaf('a URL', (text) => parseEndpoint(text, true)).optional(),
  interval: fileDuration(INTERVAL_MIN).optional(),
  headers: z.record(z.string(), fileHeaderValue).optional(),
  serviceName: stringLeaf('a string', parseNonEmpty).optional(),
})

const FileSchema = z.strictObject({
  targets: z.array(TargetSchema).optional(),
  listen: stringLeaf('a "HOST:PORT" string', (text) => parseHostPort(text, 0)).optional(),
  interval: fileDuration(INTERVAL_MIN).optional(),
  timeout: fileDuration(POSITIVE).optional(),
  allowRemoteInspector: fileBoolean.optional(),
  reconnect: ReconnectSchema.optional(),
  otlp: OtlpSchema.optional(),
  logLevel: stringLeaf(`one of ${LOG_LEVELS.join(', ')}`, parseLogLevel).optional(),
})

type FileData = z.output<typeof FileSchema>

/** Keys allowed in each section, for the "unknown key" hint. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(FileSchema.shape),
  targets: Object.keys(TargetSchema.in.shape),
  reconnect: Object.keys(ReconnectSchema.shape),
  otlp: Object.keys(OtlpSchema.shape),
}

/** `['targets', 1, 'port']` → `targets[1].port`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out
}

function formatIssue(issue: z.core.$ZodIssue): string[] {
  const where = formatPath(issue.path)
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = KNOWN_KEYS[typeof issue.path[0] === 'string' ? issue.path[0] : '']
      const hint = known ? ` (known keys: ${known.join(', ')})` : ''
      return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown key${hint}`)
    }
    case 'invalid_type': {
      const expected =
        issue.expected === 'array' ? 'a list' : issue.expected === 'object' || issue.expected === 'record' ? 'a mapping' : issue.expected
      return [`${where}: must be ${expected}, not ${typeName(issue.input)}`]
    }
    default:
      return [`${where}: ${issue.message}`]
  }
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:$/, '')
}

function readConfigFile(source: { path: string; field: string }, readFile: (path: string) => string, problems: Problems): Layer {
  const { path, field } = source
  const shown = JSON.stringify(path)
  let text: string
  try {
    text = readFile(path)
  } catch (error) {
    problems.push(`${field}: cannot read ${shown}: ${errorMessage(error)}`)
    return { unreadable: true }
  }
  const invalid = (detail: string): Layer => {
    problems.push(`${field}: ${shown} is not valid YAML or JSON: ${detail}`)
    return { unreadable: true }
  }
  let raw: unknown
  try {
    const doc = parseDocument(text)
    if (doc.errors.length > 0) {
      for (const error of doc.errors.slice(0, -1)) invalid(firstLine(error.message))
      return invalid(firstLine(doc.errors.at(-1)!.message))
    }
    raw = doc.toJS()
  } catch (error) {
    return invalid(errorMessage(error)) // e.g. an unresolved alias
  }
  if (raw === null || raw === undefined) return {} // an empty file
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(`${field}: ${shown} must hold a mapping of settings, not ${typeName(raw)}`)
    return { unreadable: true }
  }
  const parsed = FileSchema.safeParse(raw, { reportInput: true })
  if (parsed.success) return fileLayer(parsed.data)
  for (const issue of parsed.error.issues) problems.push(...formatIssue(issue))
  return partialFileLayer(raw as Record<string, unknown>)
}

/**
 * The valid parts of an invalid file, so that the checks made after merging
 * (duplicate names, loopback, reconnect order) report their problems too.
 */
function partialFileLayer(raw: Record<string, unknown>): Layer {
  const data: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(FileSchema.shape)) {
    const r = key === 'targets' ? undefined : (schema as z.ZodType).safeParse(raw[key])
    if (r?.success) data[key] = r.data
  }
  if (Array.isArray(raw.targets)) {
    data.targets = raw.targets.map((t: unknown) => {
      const r = TargetSchema.safeParse(t)
      return r.success ? r.data : undefined
    })
  } else if (raw.targets !== undefined) {
    data.targets = [undefined] // given but not a list (already reported): not "no targets"
  }
  return fileLayer(data as Omit<FileData, 'targets'> & { targets?: TargetList })
}

function fileLayer(file: Omit<FileData, 'targets'> & { targets?: TargetList }): Layer {
  const layer: Layer = {}
  set(layer, 'targets', file.targets)
  set(layer, 'listen', file.listen)
  set(layer, 'intervalMs', file.interval)
  set(layer, 'timeoutMs', file.timeout)
  set(layer, 'allowRemoteInspector', file.allowRemoteInspector)
  if (file.reconnect) {
    const reconnect: NonNullable<Layer['reconnect']> = {}
    if (file.reconnect.minDelay !== undefined) reconnect.minDelayMs = file.reconnect.minDelay
    if (file.reconnect.maxDelay !== undefined) reconnect.maxDelayMs = file.reconnect.maxDelay
    layer.reconnect = reconnect
  }
  set(layer, 'otlpEndpoint', file.otlp?.endpoint)
  set(layer, 'otlpIntervalMs', file.otlp?.interval)
  set(layer, 'otlpHeaders', file.otlp?.headers)
  set(layer, 'serviceName', file.otlp?.serviceName)
  set(layer, 'logLevel', file.logLevel)
  return layer
}

// ---------------------------------------------------------------------------

/**
 * Resolves the configuration from flags > env > config file > defaults.
 * Returns `{ help }` / `{ version }` when asked for (nothing else is checked then).
 * @throws ConfigError listing every problem found.
 */
export function loadConfig(options: LoadConfigOptions): Config | { help: string } | { version: string } {
  const problems: Problems = []
  const flagResult = readFlags(options.argv, problems)
  if (flagResult.help) return { help: HELP }
  if (flagResult.version) return { version: readVersion() }
  const flags = flagResult.layer
  const env = readEnv(options.env, problems)

  const configSource = flags.configPath ?? env.configPath
  const file = configSource
    ? readConfigFile(configSource, options.readFile ?? ((path) => readFileSync(path, 'utf8')), problems)
    : {}

  const layers = [flags, env, file] as const
  const pick = <K extends keyof Layer>(key: K): Layer[K] => {
    for (const layer of layers) if (layer[key] !== undefined) return layer[key]
    return undefined
  }

  const intervalMs = pick('intervalMs') ?? DEFAULTS.intervalMs
  const timeoutMs = pick('timeoutMs') ?? DEFAULTS.timeoutMs
  const allowRemoteInspector = pick('allowRemoteInspector') ?? DEFAULTS.allowRemoteInspector
  const reconnect = {
    minDelayMs: file.reconnect?.minDelayMs ?? DEFAULTS.reconnect.minDelayMs,
    maxDelayMs: file.reconnect?.maxDelayMs ?? DEFAULTS.reconnect.maxDelayMs,
  }
  if (reconnect.minDelayMs > reconnect.maxDelayMs) {
    problems.push(
      `reconnect.minDelay: ${formatDuration(reconnect.minDelayMs)} is more than reconnect.maxDelay (${formatDuration(reconnect.maxDelayMs)})`,
    )
  }

  const chosen = pick('targets')
  const targets: TargetConfig[] = []
  if (chosen === undefined || chosen.length === 0) {
    // An unreadable config file was probably meant to hold the targets; don't add noise.
    if (chosen !== undefined || !file.unreadable) {
      problems.push('targets: at least one target is required (use --target HOST:PORT, LEAKWATCH_TARGETS or targets in the config file)')
    }
  } else {
    const seen = new Map<string, number>()
    chosen.forEach((t, i) => {
      if (t === undefined) return // already reported
      const name = t.name ?? hostPort(t.host, t.port)
      const earlier = seen.get(name)
      if (earlier !== undefined) problems.push(`targets[${i}].name: ${JSON.stringify(name)} is already used by targets[${earlier}]`)
      else seen.set(name, i)
      if (!allowRemoteInspector && !isLoopbackHost(t.host)) {
        problems.push(
          `targets[${i}].host: ${t.host} is not a loopback address; the inspector is remote code execution — pass --allow-remote-inspector to allow it`,
        )
      }
      targets.push(
        Object.freeze({
          name,
          host: t.host,
          port: t.port,
          intervalMs: t.intervalMs ?? intervalMs,
          timeoutMs: t.timeoutMs ?? timeoutMs,
          disabledCollectors: Object.freeze([...(t.disabledCollectors ?? [])]),
        }),
      )
    })
  }

  if (problems.length > 0) throw new ConfigError(problems)

  const listen = pick('listen') ?? DEFAULTS.listen
  return Object.freeze({
    targets: Object.freeze(targets),
    listen: Object.freeze({ host: listen.host, port: listen.port }),
    intervalMs,
    timeoutMs,
    allowRemoteInspector,
    reconnect: Object.freeze(reconnect),
    otlp: Object.freeze({
      endpoint: pick('otlpEndpoint') ?? DEFAULTS.otlp.endpoint,
      intervalMs: pick('otlpIntervalMs') ?? DEFAULTS.otlp.intervalMs,
      headers: Object.freeze({ ...DEFAULTS.otlp.headers, ...file.otlpHeaders, ...env.otlpHeaders }),
      serviceName: pick('serviceName') ?? DEFAULTS.otlp.serviceName,
    }),
    logLevel: pick('logLevel') ?? DEFAULTS.logLevel,
  })
}

/** Narrows loadConfig's result. */
export function isConfig(result: ReturnType<typeof loadConfig>): result is Config {
  return 'targets' in result
}
