/**
 * Configuration: command-line flags > environment > config file > defaults.
 *
 * loadConfig() gathers every problem from every source before it gives up, so
 * a user fixes their configuration in one round instead of one error at a time.
 */

import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { BlockList, isIP, isIPv6 } from 'node:net'
import { dirname, isAbsolute, join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import type { AnalysisConfig, AttributionConfig, AttributionMode, Config, HttpConfig, TargetConfig } from './config-types.js'
import { DURATION_FORMS, formatDuration, parseDuration } from './duration.js'
import { ConfigError, errorMessage } from './errors.js'
import {
  DEFAULT_EVENT_LOOP_RESOLUTION_MS,
  MAX_EVENT_LOOP_RESOLUTION_MS,
  MIN_EVENT_LOOP_RESOLUTION_MS,
} from './inspector/snippets.js'

export type { AnalysisConfig, AttributionConfig, AttributionMode, Config, HttpConfig, TargetConfig } from './config-types.js'

/** Names accepted in a target's `disabledCollectors`. */
export const COLLECTOR_NAMES = ['heap', 'heapStatistics', 'memory', 'gc', 'eventLoop', 'resources', 'info'] as const
export type CollectorName = (typeof COLLECTOR_NAMES)[number]

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = Config['logLevel']

export const ATTRIBUTION_MODES = ['off', 'on-suspicion', 'always'] as const satisfies readonly AttributionMode[]

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
  maxConcurrentPolls: 8,
  eventLoopResolutionMs: DEFAULT_EVENT_LOOP_RESOLUTION_MS,
  http: Object.freeze({ apiToken: undefined as string | undefined, protectMetrics: false, protectHealth: false }),
  analysis: Object.freeze({
    windowMs: 30 * 60_000,
    minPoints: 12,
    maxPValue: 0.01,
    minSlopeBytesPerSecond: 1024,
    minRelativePerHour: 0.05,
    raiseAfter: 3,
    clearAfter: 5,
    warmupMs: 5 * 60_000,
    /** Used only when the window is at least this long; otherwise the floor window defaults to the window. */
    floorWindowMs: 60_000,
    memoryLimitBytes: undefined as number | undefined,
  }),
  attribution: Object.freeze({
    mode: 'on-suspicion' as AttributionMode,
    samplingIntervalBytes: 512 * 1024,
    budget: 0.002,
    /** Used only when the budget is at most this; otherwise the suspicion budget defaults to the budget. */
    suspicionBudget: 0.01,
    minFetchIntervalMs: 30_000,
    topSites: 10,
    maxSites: 500,
  }),
}) satisfies Omit<Config, 'targets'> & { targetHost: string }

/** The hint shown in every byte-size error. */
export const BYTE_QUANTITY_FORMS = '1048576, 64Ki, 512Mi, 1Gi, 500M, 1G'
/** Largest first, for formatByteQuantity (declared before HELP, which uses it). */
const BINARY_UNITS = [['Pi', 1024 ** 5], ['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]] as const

/** Bounds of the analysis and attribution settings (checked in every source). */
const LIMITS = Object.freeze({
  minWindowMs: 1_000,
  minMinPoints: 4,
  minFloorWindowMs: 100,
  minFetchIntervalMs: 100,
  minSamplingIntervalBytes: 1024,
  maxSamplingIntervalBytes: 64 * 1024 * 1024,
  maxBudget: 0.1,
  maxTopSites: 100,
  maxMaxSites: 10_000,
  maxConcurrentPolls: 1_000,
  minTokenLength: 16,
  maxTokenLength: 1_024,
  /** Largest API token file read (it should hold just the token). */
  maxTokenFileBytes: 4_096,
})

/** Smallest poll (and OTLP export) interval accepted. */
export const MIN_INTERVAL_MS = 100

const METRICS_PATH = '/v1/metrics'

export interface LoadConfigOptions {
  /** Command-line arguments without the node binary and script (`process.argv.slice(2)`). */
  argv: readonly string[]
  env: NodeJS.ProcessEnv
  /**
   * Reads the config file and the API token file (tests inject this); defaults to
   * readFileSync(path, 'utf8'), at most 4 KiB for the token file.
   */
  readFile?: (path: string) => string
}

// ---------------------------------------------------------------------------
// Help

const d = formatDuration
const b = formatByteQuantity
const pct = formatPercent
const A = DEFAULTS.analysis
const P = DEFAULTS.attribution
/** A config-file example line with its comment in the column the others use. */
function c(line: string, comment: string): string {
  return `${line.length < 31 ? line.padEnd(31) : `${line}   `}# ${comment}`
}

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
  --max-concurrent-polls N   Polls (of all targets together) that may run at once
                             (default ${DEFAULTS.maxConcurrentPolls}, 1..${LIMITS.maxConcurrentPolls})
  --event-loop-resolution DURATION
                             Sampling period of the event-loop delay histogram
                             installed in targets; finer costs the target more
                             CPU (default ${d(DEFAULTS.eventLoopResolutionMs)}, ${d(MIN_EVENT_LOOP_RESOLUTION_MS)}..${d(MAX_EVENT_LOOP_RESOLUTION_MS)})
  --config FILE              YAML or JSON config file (see below)
  --otlp-endpoint URL        Export to this OTLP/HTTP endpoint; ${METRICS_PATH} is
                             appended unless the URL already ends with it
                             (default: no OTLP export)
  --otlp-interval DURATION   OTLP export period (default ${d(DEFAULTS.otlp.intervalMs)})
  --service-name NAME        OTLP service.name (default ${DEFAULTS.otlp.serviceName})
  --allow-remote-inspector   Allow targets on non-loopback hosts (see Security)
  --log-level LEVEL          ${LOG_LEVELS.join(', ')} (default ${DEFAULTS.logLevel})
  --api-token-file FILE      Require "Authorization: Bearer TOKEN" on the JSON API
                             (/api/* and the index /), with TOKEN read from FILE
                             (trimmed), e.g. a mounted Kubernetes Secret
                             (default: no token, the API is open).
                             There is deliberately no --api-token flag: a token
                             on the command line is visible to every local user
                             through ps and /proc/PID/cmdline.
  --protect-metrics          Require the token on /metrics too
  --protect-health           Require the token on /healthz and /readyz too
                             (the probes must then send it)
  --window DURATION          Leak analysis window (default ${d(A.windowMs)}, min ${d(LIMITS.minWindowMs)})
  --warmup DURATION          No leak verdict this long after a (re)start (default ${d(A.warmupMs)})
  --floor-window DURATION    Memory floors are minimums over this (default ${d(A.floorWindowMs)}, ${d(LIMITS.minFloorWindowMs)}..window)
  --memory-limit BYTES       Memory limit of the watched container, e.g. 512Mi (default: unknown)
  --attribution MODE         Allocation sites: ${ATTRIBUTION_MODES.join(', ')} (default ${P.mode})
  --sampling-interval BYTES  Heap profiler sampling interval (default ${b(P.samplingIntervalBytes)}, ${b(LIMITS.minSamplingIntervalBytes)}..${b(LIMITS.maxSamplingIntervalBytes)})
  --profile-budget PERCENT   Share of the target's time heap-profile reads may cost
                             (their pause or the target's CPU during them, the
                             larger), 0.2% or 0.002 (default ${pct(P.budget)}, max ${pct(LIMITS.maxBudget)})
  --top-sites N              Allocation sites exported per target (default ${P.topSites}, max ${LIMITS.maxTopSites})
  -h, --help                 Show this help and exit
  -v, --version              Show the version and exit

Durations: ${DURATION_FORMS}, 1.5s or compounds like 1m30s. A bare number is
refused, except in the config file where a number means milliseconds.

Byte sizes: a number of bytes or a Kubernetes quantity such as 64Ki, 512Mi, 1Gi
(powers of 1024: Ki, Mi, Gi, Ti), 500M, 1G (powers of 1000: k, M, G, T) or 1e9.

Environment:
  LEAKWATCH_TARGETS          Comma-separated targets, same syntax as --target
  LEAKWATCH_LISTEN           Like --listen
  LEAKWATCH_INTERVAL         Like --interval
  LEAKWATCH_TIMEOUT          Like --timeout
  LEAKWATCH_MAX_CONCURRENT_POLLS  Like --max-concurrent-polls
  LEAKWATCH_EVENT_LOOP_RESOLUTION  Like --event-loop-resolution
  LEAKWATCH_CONFIG           Like --config
  LEAKWATCH_OTLP_ENDPOINT    Like --otlp-endpoint (${METRICS_PATH} appended)
  LEAKWATCH_SERVICE_NAME     Like --service-name
  LEAKWATCH_ALLOW_REMOTE_INSPECTOR  true, false, 1 or 0
  LEAKWATCH_LOG_LEVEL        Like --log-level
  LEAKWATCH_API_TOKEN        The API token itself (instead of --api-token-file)
  LEAKWATCH_PROTECT_METRICS  true, false, 1 or 0 (like --protect-metrics)
  LEAKWATCH_PROTECT_HEALTH   true, false, 1 or 0 (like --protect-health)
  LEAKWATCH_WINDOW           Like --window
  LEAKWATCH_WARMUP           Like --warmup
  LEAKWATCH_MEMORY_LIMIT     Like --memory-limit; 0 counts as unset (see Kubernetes below)
  LEAKWATCH_ATTRIBUTION      Like --attribution
  LEAKWATCH_PROFILE_BUDGET   Like --profile-budget
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
  API token: --api-token-file > LEAKWATCH_API_TOKEN > http.apiToken or
  http.apiTokenFile in the file.

Kubernetes: fill LEAKWATCH_MEMORY_LIMIT from the downward API, valueFrom:
  resourceFieldRef: {containerName: app, resource: limits.memory} (divisor 1,
  the default, gives bytes). If that container has no memory limit, Kubernetes
  reports the node's allocatable memory instead (not 0), which is no limit at
  all: give the container a limit, or leave the variable out.

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
${c(`  maxConcurrentPolls: ${DEFAULTS.maxConcurrentPolls}`, `1..${LIMITS.maxConcurrentPolls}`)}
${c(`  eventLoopResolution: ${d(DEFAULTS.eventLoopResolutionMs)}`, `${d(MIN_EVENT_LOOP_RESOLUTION_MS)}..${d(MAX_EVENT_LOOP_RESOLUTION_MS)}`)}
  http:                        # who may read what over HTTP (see Security)
${c('    apiTokenFile: /etc/leakwatch/token', 'relative to this file; or apiToken: "..." (not both)')}
${c('    protectMetrics: false', 'require the token on /metrics too')}
${c('    protectHealth: false', 'and on /healthz and /readyz')}
  analysis:                    # leak detection on the memory floors
${c(`    window: ${d(A.windowMs)}`, `min ${d(LIMITS.minWindowMs)}`)}
${c(`    minPoints: ${A.minPoints}`, `floor points needed in the window (min ${LIMITS.minMinPoints})`)}
${c(`    maxPValue: ${A.maxPValue}`, 'Mann-Kendall p-value that counts as a trend (0 < p < 1)')}
${c(`    minSlopeBytesPerSecond: ${A.minSlopeBytesPerSecond}`, 'smallest growth raised, in bytes per second')}
${c(`    minRelativePerHour: ${A.minRelativePerHour}`, 'smallest growth raised, relative to the floor per hour (or "5%")')}
${c(`    raiseAfter: ${A.raiseAfter}`, 'positive evaluations in a row that raise a leak')}
${c(`    clearAfter: ${A.clearAfter}`, 'negative evaluations in a row that clear it')}
${c(`    warmup: ${d(A.warmupMs)}`, 'no verdict this long after a (re)start')}
${c(`    floorWindow: ${d(A.floorWindowMs)}`, `${d(LIMITS.minFloorWindowMs)}..window; default ${d(A.floorWindowMs)}, or the window if shorter`)}
${c('    memoryLimit: 1Gi', 'byte size; default: unknown')}
  attribution:                 # allocation sites, from V8's sampling heap profiler
${c(`    mode: ${P.mode}`, ATTRIBUTION_MODES.join(', '))}
${c(`    samplingInterval: ${b(P.samplingIntervalBytes)}`, `${b(LIMITS.minSamplingIntervalBytes)}..${b(LIMITS.maxSamplingIntervalBytes)}`)}
${c(`    budget: ${pct(P.budget)}`, `time share profile reads may cost (pause or target CPU), max ${pct(LIMITS.maxBudget)}`)}
${c(`    suspicionBudget: ${pct(P.suspicionBudget)}`, `while a floor trends up: budget..${pct(LIMITS.maxBudget)}, default max(${pct(P.suspicionBudget)}, budget)`)}
${c(`    minFetchInterval: ${d(P.minFetchIntervalMs)}`, `min ${d(LIMITS.minFetchIntervalMs)}`)}
${c(`    topSites: ${P.topSites}`, `sites exported per target, 1..${LIMITS.maxTopSites}`)}
${c(`    maxSites: ${P.maxSites}`, `sites tracked per target, topSites..${LIMITS.maxMaxSites}`)}

Security: the inspector protocol can run any code in the target process.
Targets on a host other than loopback (127.0.0.0/8, ::1, localhost) are refused
unless --allow-remote-inspector (or LEAKWATCH_ALLOW_REMOTE_INSPECTOR=true, or
allowRemoteInspector: true) is given. Never expose --inspect to a network.
The API token must have ${LIMITS.minTokenLength}..${LIMITS.maxTokenLength} printable ASCII characters without spaces;
make one with: openssl rand -hex 32

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

/** Deeper than any real config; the YAML parser recurses per level (and can abort V8 near the stack limit). */
const MAX_CONFIG_NESTING = 64
const MAX_CONFIG_BYTES = 1024 * 1024

/** Refuse absurd files before parsing: too large, or flow collections nested too deep. */
function nestingProblem(text: string): string | undefined {
  if (text.length > MAX_CONFIG_BYTES) return `larger than ${MAX_CONFIG_BYTES} bytes`
  let depth = 0
  let quote: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i += 1
      else if (c === quote) quote = undefined
      continue
    }
    if (c === '"' || c === "'") quote = c
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) {
      while (i < text.length && text[i] !== '\n') i += 1
    } else if (c === '[' || c === '{') {
      depth += 1
      if (depth > MAX_CONFIG_NESTING) return `nested more than ${MAX_CONFIG_NESTING} levels deep`
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1)
  }
  const indent = Math.max(0, ...text.split('\n').map((line) => /^ */.exec(line)?.[0].length ?? 0))
  return indent > 4 * MAX_CONFIG_NESTING ? `indented more than ${4 * MAX_CONFIG_NESTING} spaces` : undefined
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
  /** An upper bound too, when there is one. */
  max?: { ms: number; error: string }
}
const INTERVAL_MIN: Minimum = { ms: MIN_INTERVAL_MS, error: `must be at least ${formatDuration(MIN_INTERVAL_MS)}` }
const POSITIVE: Minimum = { ms: 1, error: 'must be > 0' }
const WINDOW_MIN: Minimum = { ms: LIMITS.minWindowMs, error: `must be at least ${formatDuration(LIMITS.minWindowMs)}` }
const FLOOR_WINDOW_MIN: Minimum = { ms: LIMITS.minFloorWindowMs, error: `must be at least ${formatDuration(LIMITS.minFloorWindowMs)}` }
const FETCH_INTERVAL_MIN: Minimum = { ms: LIMITS.minFetchIntervalMs, error: `must be at least ${formatDuration(LIMITS.minFetchIntervalMs)}` }
const ANY_DURATION: Minimum = { ms: 0, error: '' }
const RESOLUTION_ERROR = `must be ${formatDuration(MIN_EVENT_LOOP_RESOLUTION_MS)}..${formatDuration(MAX_EVENT_LOOP_RESOLUTION_MS)}`
const RESOLUTION_RANGE: Minimum = {
  ms: MIN_EVENT_LOOP_RESOLUTION_MS,
  error: RESOLUTION_ERROR,
  max: { ms: MAX_EVENT_LOOP_RESOLUTION_MS, error: RESOLUTION_ERROR },
}

function checkMin(ms: number, min: Minimum): Parsed<number> {
  if (ms < min.ms) return { error: min.error }
  if (min.max !== undefined && ms > min.max.ms) return { error: min.max.error }
  return { value: ms }
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

/**
 * An API token: surrounding whitespace is ignored, the rest must be printable
 * ASCII without spaces (what fits an `Authorization: Bearer` header as is).
 * Errors never show the token, only its length or the position of a bad character.
 */
function parseToken(text: string): Parsed<string> {
  const token = text.trim()
  const { minTokenLength: min, maxTokenLength: max } = LIMITS
  if (token.length < min) return { error: `must be at least ${min} characters long (has ${token.length}; make one with: openssl rand -hex 32)` }
  if (token.length > max) return { error: `must be at most ${max} characters long (has ${token.length})` }
  const bad = token.search(/[^\x21-\x7e]/)
  if (bad >= 0) return { error: `must be printable ASCII without spaces (character ${bad + 1} is not)` }
  return { value: token }
}

/**
 * Reads a file of at most `maxBytes` as UTF-8 (the token file: pointing it at
 * /dev/zero or a log file by mistake must not read gigabytes).
 */
function readSmallFile(path: string, maxBytes: number): string {
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.alloc(maxBytes + 1)
    let length = 0
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null)
      if (n === 0) break
      length += n
    }
    if (length > maxBytes) throw new Error(`larger than ${maxBytes} bytes; it should hold just the token`)
    return buffer.toString('utf8', 0, length)
  } finally {
    closeSync(fd)
  }
}

/** The token in a file (trimmed), or undefined after pushing the problem. */
function readTokenFile(path: string, field: string, readFile: (path: string) => string, problems: Problems): string | undefined {
  const shown = JSON.stringify(path)
  let text: string
  try {
    text = readFile(path)
  } catch (error) {
    problems.push(`${field}: cannot read ${shown}: ${errorMessage(error)}`)
    return undefined
  }
  if (text.trim() === '') {
    problems.push(`${field}: ${shown} is empty`)
    return undefined
  }
  const parsed = parseToken(text)
  if ('error' in parsed) {
    problems.push(`${field}: the token in ${shown} ${parsed.error}`)
    return undefined
  }
  return parsed.value
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
  if (typeof value === 'number' && !Number.isFinite(value)) return `number ${value}` // JSON.stringify gives null
  return `${typeof value} ${JSON.stringify(value)}`
}

// Byte sizes ----------------------------------------------------------------

/** `<number>[suffix]`: a binary (Ki…Ei) or decimal (k…E) SI suffix, or a decimal exponent (e3, E+3). */
const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(?:([KMGTPE])i|([kMGTPE])|[eE]([+-]?\d+))?$/
const SI_PREFIXES = { binary: 'KMGTPE', decimal: 'kMGTPE' } as const

/**
 * Parses a byte size: a plain number of bytes (`1048576`) or a Kubernetes
 * quantity (`64Ki`, `512Mi`, `1Gi`, `1.5Gi`, `500M`, `1G`, `1e9`). Binary
 * suffixes (Ki, Mi, Gi, Ti, Pi, Ei) are powers of 1024, decimal ones (k, M, G,
 * T, P, E) powers of 1000. The arithmetic is exact; the result must be a whole
 * number of bytes (`0.5Ki` is 512, `0.1Ki` is refused) and a safe integer.
 * Surrounding whitespace is ignored; suffixes are case-sensitive (`K` and `m`
 * are refused: Kubernetes reads `m` as milli).
 * @throws ConfigError (one problem, without a field name) when `text` is not a byte size.
 */
export function parseByteQuantity(text: string): number {
  const shown = JSON.stringify(text)
  const match = QUANTITY.exec(text.trim())
  if (!match) throw new ConfigError([`${shown} is not a byte size (use ${BYTE_QUANTITY_FORMS})`])
  const [, mantissa = '', binary, decimal, exponent] = match
  const [whole = '', fraction = ''] = mantissa.split('.')
  const digits = `${whole}${fraction}`.replace(/^0+/, '')
  if (digits === '') return 0
  const tooLarge = () => new ConfigError([`${shown} is too large a byte size`])
  // value = digits × factor × 10^scale, exactly.
  let factor = 1n
  let scale = -fraction.length
  if (binary !== undefined) factor = 1024n ** BigInt(SI_PREFIXES.binary.indexOf(binary) + 1)
  else if (decimal !== undefined) factor = 1000n ** BigInt(SI_PREFIXES.decimal.indexOf(decimal) + 1)
  else if (exponent !== undefined) scale += Number(exponent)
  if (scale > 16) throw tooLarge() // digits ≥ 1, so ≥ 10^17
  // digits × factor < 10^(digits.length + 19): a larger divisor cannot divide it.
  if (-scale > digits.length + 19) throw new ConfigError([`${shown} is not a whole number of bytes`])
  const product = BigInt(digits) * factor
  let bytes: bigint
  if (scale >= 0) {
    bytes = product * 10n ** BigInt(scale)
  } else {
    const divisor = 10n ** BigInt(-scale)
    if (product % divisor !== 0n) throw new ConfigError([`${shown} is not a whole number of bytes`])
    bytes = product / divisor
  }
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw tooLarge()
  return Number(bytes)
}

/**
 * Formats bytes the way parseByteQuantity reads them, with the largest binary
 * suffix that divides them: `524288` → `512Ki`, `1073741824` → `1Gi`, `1000` → `1000`.
 */
export function formatByteQuantity(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`cannot format ${bytes} as a byte size`)
  for (const [suffix, size] of BINARY_UNITS) if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`
  return String(bytes)
}

/** `0.002` → `0.2%`. */
function formatPercent(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(12))}%`
}

/** A byte size (see parseByteQuantity) checked by `check`. */
function parseBytesText(text: string, check: Check): Parsed<number> {
  try {
    return check(parseByteQuantity(text))
  } catch (error) {
    return { error: error instanceof ConfigError ? error.problems.join('; ') : errorMessage(error) }
  }
}

const FRACTION = /^(\d+(?:\.\d*)?|\.\d+)(%?)$/

/** A fraction (`0.002`) or a percentage (`0.2%`), checked by `check`. */
function parseFraction(text: string, check: Check): Parsed<number> {
  const match = FRACTION.exec(text.trim())
  if (!match) return { error: `${JSON.stringify(text)} is not a fraction or percentage (e.g. 0.002 or 0.2%)` }
  // `0.2e-2` rather than 0.2 / 100, so that 0.2% is exactly the double nearest 0.002.
  return check(Number(match[2] ? `${match[1]}e-2` : match[1]))
}

/** A whole number (digits only), checked by `check`. */
function parseCount(text: string, check: Check): Parsed<number> {
  const value = text.trim()
  return /^\d+$/.test(value) ? check(Number(value)) : { error: `${JSON.stringify(text)} is not a whole number` }
}

function parseMode(text: string): Parsed<AttributionMode> {
  const mode = text.trim().toLowerCase()
  return (ATTRIBUTION_MODES as readonly string[]).includes(mode)
    ? { value: mode as AttributionMode }
    : { error: `${JSON.stringify(text)} is not one of ${ATTRIBUTION_MODES.join(', ')}` }
}

// Range checks of the analysis and attribution settings, shared by every source.

type Check = (value: number) => Parsed<number>
const check =
  (ok: (value: number) => boolean, error: string): Check =>
  (value) =>
    ok(value) ? { value } : { error }

const MIN_POINTS = check((n) => n >= LIMITS.minMinPoints, `must be at least ${LIMITS.minMinPoints}`)
const EVALUATIONS = check((n) => n >= 1, 'must be at least 1')
const P_VALUE = check((n) => n > 0 && n < 1, 'must be more than 0 and less than 1')
const NOT_NEGATIVE = check((n) => n >= 0, 'must not be negative')
const ANY = check(() => true, '')
const MEMORY_LIMIT = check((n) => n > 0, 'must be > 0')
const SAMPLING_INTERVAL = check(
  (n) => n >= LIMITS.minSamplingIntervalBytes && n <= LIMITS.maxSamplingIntervalBytes,
  `must be ${formatByteQuantity(LIMITS.minSamplingIntervalBytes)}..${formatByteQuantity(LIMITS.maxSamplingIntervalBytes)} ` +
    `(${LIMITS.minSamplingIntervalBytes}..${LIMITS.maxSamplingIntervalBytes} bytes)`,
)
const BUDGET = check(
  (n) => n > 0 && n <= LIMITS.maxBudget,
  `must be more than 0 and at most ${LIMITS.maxBudget} (${formatPercent(LIMITS.maxBudget)})`,
)
const TOP_SITES = check((n) => n >= 1 && n <= LIMITS.maxTopSites, `must be 1..${LIMITS.maxTopSites}`)
const MAX_SITES = check((n) => n >= 1 && n <= LIMITS.maxMaxSites, `must be 1..${LIMITS.maxMaxSites}`)
const CONCURRENCY = check((n) => n >= 1 && n <= LIMITS.maxConcurrentPolls, `must be 1..${LIMITS.maxConcurrentPolls}`)

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
  maxConcurrentPolls?: number
  eventLoopResolutionMs?: number
  /** The API token, already checked. */
  apiToken?: string
  /** A file holding the API token, read (and checked) by loadConfig. */
  apiTokenFile?: { path: string; field: string }
  /** An API token was given here but is invalid (so "needs a token" would be noise). */
  apiTokenInvalid?: true
  protectMetrics?: boolean
  protectHealth?: boolean
  configPath?: { path: string; field: string }
  analysis?: Settings<AnalysisConfig>
  attribution?: Settings<AttributionConfig>
  /** The config file could not be read or parsed (so "no targets" would be noise). */
  unreadable?: true
}

/** Some settings of a section; an undefined one falls through to the next layer. */
type Settings<T> = { -readonly [K in keyof T]?: T[K] | undefined }

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
  'event-loop-resolution': { type: 'string' },
  'max-concurrent-polls': { type: 'string' },
  'api-token-file': { type: 'string' },
  'protect-metrics': { type: 'boolean' },
  'protect-health': { type: 'boolean' },
  window: { type: 'string' },
  warmup: { type: 'string' },
  'floor-window': { type: 'string' },
  'memory-limit': { type: 'string' },
  attribution: { type: 'string' },
  'sampling-interval': { type: 'string' },
  'profile-budget': { type: 'string' },
  'top-sites': { type: 'string' },
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
    if (token.name === 'api-token') {
      problems.push(
        `${token.rawName}: not supported: a token on the command line is visible to every local user through ps and ` +
          '/proc/PID/cmdline; use --api-token-file FILE or LEAKWATCH_API_TOKEN',
      )
      continue
    }
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
  if ((v = last('max-concurrent-polls')) !== undefined) {
    set(layer, 'maxConcurrentPolls', take(parseCount(v, CONCURRENCY), '--max-concurrent-polls', problems))
  }
  if ((v = last('event-loop-resolution')) !== undefined) {
    set(layer, 'eventLoopResolutionMs', take(parseDurationText(v, RESOLUTION_RANGE), '--event-loop-resolution', problems))
  }
  if ((v = last('api-token-file')) !== undefined) {
    const path = take(parseNonEmpty(v), '--api-token-file', problems)
    if (path !== undefined) layer.apiTokenFile = { path, field: '--api-token-file' }
    else layer.apiTokenInvalid = true
  }
  if (values['protect-metrics']) layer.protectMetrics = true
  if (values['protect-health']) layer.protectHealth = true

  const analysis: Settings<AnalysisConfig> = (layer.analysis = {})
  if ((v = last('window')) !== undefined) analysis.windowMs = take(parseDurationText(v, WINDOW_MIN), '--window', problems)
  if ((v = last('warmup')) !== undefined) analysis.warmupMs = take(parseDurationText(v, ANY_DURATION), '--warmup', problems)
  if ((v = last('floor-window')) !== undefined) {
    analysis.floorWindowMs = take(parseDurationText(v, FLOOR_WINDOW_MIN), '--floor-window', problems)
  }
  if ((v = last('memory-limit')) !== undefined) {
    analysis.memoryLimitBytes = take(parseBytesText(v, MEMORY_LIMIT), '--memory-limit', problems)
  }
  const attribution: Settings<AttributionConfig> = (layer.attribution = {})
  if ((v = last('attribution')) !== undefined) attribution.mode = take(parseMode(v), '--attribution', problems)
  if ((v = last('sampling-interval')) !== undefined) {
    attribution.samplingIntervalBytes = take(parseBytesText(v, SAMPLING_INTERVAL), '--sampling-interval', problems)
  }
  if ((v = last('profile-budget')) !== undefined) attribution.budget = take(parseFraction(v, BUDGET), '--profile-budget', problems)
  if ((v = last('top-sites')) !== undefined) attribution.topSites = take(parseCount(v, TOP_SITES), '--top-sites', problems)
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
  if ((v = get('LEAKWATCH_MAX_CONCURRENT_POLLS')) !== undefined) {
    set(layer, 'maxConcurrentPolls', take(parseCount(v, CONCURRENCY), 'LEAKWATCH_MAX_CONCURRENT_POLLS', problems))
  }
  if ((v = get('LEAKWATCH_EVENT_LOOP_RESOLUTION')) !== undefined) {
    set(layer, 'eventLoopResolutionMs', take(parseDurationText(v, RESOLUTION_RANGE), 'LEAKWATCH_EVENT_LOOP_RESOLUTION', problems))
  }
  if ((v = get('LEAKWATCH_API_TOKEN')) !== undefined) {
    set(layer, 'apiToken', take(parseToken(v), 'LEAKWATCH_API_TOKEN', problems))
    if (layer.apiToken === undefined) layer.apiTokenInvalid = true
  }
  if ((v = get('LEAKWATCH_PROTECT_METRICS')) !== undefined) {
    set(layer, 'protectMetrics', take(parseBoolean(v), 'LEAKWATCH_PROTECT_METRICS', problems))
  }
  if ((v = get('LEAKWATCH_PROTECT_HEALTH')) !== undefined) {
    set(layer, 'protectHealth', take(parseBoolean(v), 'LEAKWATCH_PROTECT_HEALTH', problems))
  }

  const analysis: Settings<AnalysisConfig> = (layer.analysis = {})
  if ((v = get('LEAKWATCH_WINDOW')) !== undefined) analysis.windowMs = take(parseDurationText(v, WINDOW_MIN), 'LEAKWATCH_WINDOW', problems)
  if ((v = get('LEAKWATCH_WARMUP')) !== undefined) analysis.warmupMs = take(parseDurationText(v, ANY_DURATION), 'LEAKWATCH_WARMUP', problems)
  if ((v = get('LEAKWATCH_MEMORY_LIMIT')) !== undefined) {
    // Filled from the downward API (resourceFieldRef limits.memory, divisor 1): a byte count. 0 means unset.
    const limit = take(parseBytesText(v, ANY), 'LEAKWATCH_MEMORY_LIMIT', problems)
    if (limit !== 0) analysis.memoryLimitBytes = limit
  }
  const attribution: Settings<AttributionConfig> = (layer.attribution = {})
  if ((v = get('LEAKWATCH_ATTRIBUTION')) !== undefined) attribution.mode = take(parseMode(v), 'LEAKWATCH_ATTRIBUTION', problems)
  if ((v = get('LEAKWATCH_PROFILE_BUDGET')) !== undefined) {
    attribution.budget = take(parseFraction(v, BUDGET), 'LEAKWATCH_PROFILE_BUDGET', problems)
  }

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

/** A finite number, checked by `ok`. */
const fileNumber = (ok: Check) =>
  leaf<number>((value) => {
    if (typeof value !== 'number') return { error: `must be a number, not ${typeName(value)}` }
    return Number.isFinite(value) ? ok(value) : { error: `${value} is not a finite number` }
  })

/** A whole number, checked by `ok`. */
const fileCount = (ok: Check) =>
  leaf<number>((value) =>
    typeof value === 'number' && Number.isInteger(value) ? ok(value) : { error: `must be a whole number, not ${typeName(value)}` },
  )

/** A number (a fraction) or a string such as "0.2%" or "0.002", checked by `ok`. */
const fileFraction = (ok: Check) =>
  leaf<number>((value) => {
    if (typeof value === 'number') return Number.isFinite(value) ? ok(value) : { error: `${value} is not a finite number` }
    if (typeof value === 'string') return parseFraction(value, ok)
    return { error: `must be a fraction like 0.002 or a percentage like "0.2%", not ${typeName(value)}` }
  })

/** A number of bytes or a quantity string such as "512Mi", checked by `ok`. */
const fileBytes = (ok: Check) =>
  leaf<number>((value) => {
    if (typeof value === 'number') return Number.isSafeInteger(value) ? ok(value) : { error: `${value} is not a whole number of bytes` }
    if (typeof value === 'string') return parseBytesText(value, ok)
    return { error: `must be a byte size like 512Mi (or a number of bytes), not ${typeName(value)}` }
  })

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

const AnalysisSchema = z.strictObject({
  window: fileDuration(WINDOW_MIN).optional(),
  minPoints: fileCount(MIN_POINTS).optional(),
  maxPValue: fileNumber(P_VALUE).optional(),
  minSlopeBytesPerSecond: fileNumber(NOT_NEGATIVE).optional(),
  minRelativePerHour: fileFraction(NOT_NEGATIVE).optional(),
  raiseAfter: fileCount(EVALUATIONS).optional(),
  clearAfter: fileCount(EVALUATIONS).optional(),
  warmup: fileDuration(ANY_DURATION).optional(),
  floorWindow: fileDuration(FLOOR_WINDOW_MIN).optional(),
  memoryLimit: fileBytes(MEMORY_LIMIT).optional(),
})

const AttributionSchema = z.strictObject({
  mode: stringLeaf(`one of ${ATTRIBUTION_MODES.join(', ')}`, parseMode).optional(),
  samplingInterval: fileBytes(SAMPLING_INTERVAL).optional(),
  budget: fileFraction(BUDGET).optional(),
  suspicionBudget: fileFraction(BUDGET).optional(),
  minFetchInterval: fileDuration(FETCH_INTERVAL_MIN).optional(),
  topSites: fileCount(TOP_SITES).optional(),
  maxSites: fileCount(MAX_SITES).optional(),
})

/** Names a value's kind without showing it (for values that may be secrets). */
function kindName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return `a ${typeof value}`
}

const fileToken = leaf<string>((value) =>
  typeof value === 'string' ? parseToken(value) : { error: `must be a string, not ${kindName(value)}` },
)

const HttpSchema = z.strictObject({
  apiToken: fileToken.optional(),
  apiTokenFile: stringLeaf('a file path', parseNonEmpty).optional(),
  protectMetrics: fileBoolean.optional(),
  protectHealth: fileBoolean.optional(),
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
  maxConcurrentPolls: fileCount(CONCURRENCY).optional(),
  eventLoopResolution: fileDuration(RESOLUTION_RANGE).optional(),
  http: HttpSchema.optional(),
  analysis: AnalysisSchema.optional(),
  attribution: AttributionSchema.optional(),
})

type FileData = z.output<typeof FileSchema>

/** The mapping sections of the file (besides targets). */
const SECTIONS: Record<string, z.ZodObject> = {
  reconnect: ReconnectSchema,
  otlp: OtlpSchema,
  http: HttpSchema,
  analysis: AnalysisSchema,
  attribution: AttributionSchema,
}

/** Keys allowed in each section, for the "unknown key" hint. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(FileSchema.shape),
  targets: Object.keys(TargetSchema.in.shape),
  ...Object.fromEntries(Object.entries(SECTIONS).map(([name, schema]) => [name, Object.keys(schema.shape)])),
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
  const tooDeep = nestingProblem(text)
  if (tooDeep !== undefined) return invalid(tooDeep)
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
  if (parsed.success) return fileLayer(parsed.data, path)
  for (const issue of parsed.error.issues) problems.push(...formatIssue(issue))
  return partialFileLayer(raw as Record<string, unknown>, path)
}

/**
 * The valid parts of an invalid file, so that the checks made after merging
 * (duplicate names, loopback, reconnect order, floor window within the
 * window…) report their problems too. Sections keep their valid keys.
 */
function partialFileLayer(raw: Record<string, unknown>, path: string): Layer {
  const data: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(FileSchema.shape)) {
    if (key === 'targets') continue
    const value = raw[key]
    const section = SECTIONS[key]
    if (section && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const valid: Record<string, unknown> = {}
      for (const [name, field] of Object.entries(section.shape)) {
        const r = (field as z.ZodType).safeParse((value as Record<string, unknown>)[name])
        if (r.success) valid[name] = r.data
      }
      data[key] = valid
    } else {
      const r = (schema as z.ZodType).safeParse(value)
      if (r.success) data[key] = r.data
    }
  }
  if (Array.isArray(raw.targets)) {
    data.targets = raw.targets.map((t: unknown) => {
      const r = TargetSchema.safeParse(t)
      return r.success ? r.data : undefined
    })
  } else if (raw.targets !== undefined) {
    data.targets = [undefined] // given but not a list (already reported): not "no targets"
  }
  const layer = fileLayer(data as Omit<FileData, 'targets'> & { targets?: TargetList }, path)
  const http = raw.http
  if (typeof http === 'object' && http !== null && !Array.isArray(http)) {
    const given = http as Record<string, unknown>
    const kept = data.http as Record<string, unknown>
    if (['apiToken', 'apiTokenFile'].some((key) => given[key] !== undefined && kept[key] === undefined)) layer.apiTokenInvalid = true
  } else if (http !== undefined) {
    layer.apiTokenInvalid = true // the section is invalid (already reported): don't add "needs a token" to it
  }
  return layer
}

/** @param path the config file, against which a relative `http.apiTokenFile` is resolved */
function fileLayer(file: Omit<FileData, 'targets'> & { targets?: TargetList }, path: string): Layer {
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
  set(layer, 'maxConcurrentPolls', file.maxConcurrentPolls)
  set(layer, 'eventLoopResolutionMs', file.eventLoopResolution)
  const http = file.http
  if (http) {
    set(layer, 'apiToken', http.apiToken)
    if (http.apiTokenFile !== undefined) {
      const tokenPath = isAbsolute(http.apiTokenFile) ? http.apiTokenFile : join(dirname(path), http.apiTokenFile)
      layer.apiTokenFile = { path: tokenPath, field: 'http.apiTokenFile' }
    }
    set(layer, 'protectMetrics', http.protectMetrics)
    set(layer, 'protectHealth', http.protectHealth)
  }
  const analysis = file.analysis
  if (analysis) {
    layer.analysis = {
      windowMs: analysis.window,
      minPoints: analysis.minPoints,
      maxPValue: analysis.maxPValue,
      minSlopeBytesPerSecond: analysis.minSlopeBytesPerSecond,
      minRelativePerHour: analysis.minRelativePerHour,
      raiseAfter: analysis.raiseAfter,
      clearAfter: analysis.clearAfter,
      warmupMs: analysis.warmup,
      floorWindowMs: analysis.floorWindow,
      memoryLimitBytes: analysis.memoryLimit,
    }
  }
  const attribution = file.attribution
  if (attribution) {
    layer.attribution = {
      mode: attribution.mode,
      samplingIntervalBytes: attribution.samplingInterval,
      budget: attribution.budget,
      suspicionBudget: attribution.suspicionBudget,
      minFetchIntervalMs: attribution.minFetchInterval,
      topSites: attribution.topSites,
      maxSites: attribution.maxSites,
    }
  }
  return layer
}

/** The first layer's value of a section setting (flags > env > file), or undefined. */
function firstSet<T, K extends keyof T>(sections: ReadonlyArray<Settings<T> | undefined>, key: K): T[K] | undefined {
  for (const section of sections) {
    const value = section?.[key]
    if (value !== undefined) return value as T[K]
  }
  return undefined
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

  const analysis = resolveAnalysis(layers.map((layer) => layer.analysis), problems)
  const attribution = resolveAttribution(layers.map((layer) => layer.attribution), problems)
  const http = resolveHttp(layers, options.readFile ?? ((path) => readSmallFile(path, LIMITS.maxTokenFileBytes)), problems)

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
    maxConcurrentPolls: pick('maxConcurrentPolls') ?? DEFAULTS.maxConcurrentPolls,
    eventLoopResolutionMs: pick('eventLoopResolutionMs') ?? DEFAULTS.eventLoopResolutionMs,
    http: Object.freeze(http),
    analysis: Object.freeze(analysis),
    attribution: Object.freeze(attribution),
  })
}

/**
 * The API token (read from a token file where one is given) and what it
 * protects. Every token source given is checked, also those a higher one overrides.
 */
function resolveHttp(layers: readonly Layer[], readFile: (path: string) => string, problems: Problems): HttpConfig {
  let invalid = false
  let apiToken: string | undefined
  for (const layer of layers) {
    if (layer.apiTokenFile !== undefined && layer.apiToken !== undefined) {
      problems.push(`${layer.apiTokenFile.field}: give either http.apiToken or http.apiTokenFile, not both`)
    }
    let token = layer.apiToken
    if (layer.apiTokenFile !== undefined) {
      token = readTokenFile(layer.apiTokenFile.path, layer.apiTokenFile.field, readFile, problems)
      if (token === undefined) invalid = true
    }
    if (layer.apiTokenInvalid) invalid = true
    apiToken ??= token
  }
  const first = <K extends 'protectMetrics' | 'protectHealth'>(key: K): boolean => {
    for (const layer of layers) if (layer[key] !== undefined) return layer[key]
    return DEFAULTS.http[key]
  }
  const protectMetrics = first('protectMetrics')
  const protectHealth = first('protectHealth')
  if (apiToken === undefined && !invalid) {
    const sources = '--api-token-file, LEAKWATCH_API_TOKEN, http.apiToken or http.apiTokenFile'
    if (protectMetrics) problems.push(`http.protectMetrics: needs an API token (${sources}); without one nothing is protected`)
    if (protectHealth) problems.push(`http.protectHealth: needs an API token (${sources}); without one nothing is protected`)
  }
  return { apiToken, protectMetrics, protectHealth }
}

/** Merges the analysis settings over the defaults and checks the ones that depend on each other. */
function resolveAnalysis(layers: ReadonlyArray<Settings<AnalysisConfig> | undefined>, problems: Problems): AnalysisConfig {
  const get = <K extends keyof AnalysisConfig>(key: K) => firstSet(layers, key)
  const defaults = DEFAULTS.analysis
  const windowMs = get('windowMs') ?? defaults.windowMs
  // A short window without a floor window of its own gets floors over the whole window, not a problem.
  const floorWindowMs = get('floorWindowMs') ?? Math.min(defaults.floorWindowMs, windowMs)
  if (floorWindowMs > windowMs) {
    problems.push(`analysis.floorWindow: ${formatDuration(floorWindowMs)} is more than analysis.window (${formatDuration(windowMs)})`)
  }
  return {
    windowMs,
    minPoints: get('minPoints') ?? defaults.minPoints,
    maxPValue: get('maxPValue') ?? defaults.maxPValue,
    minSlopeBytesPerSecond: get('minSlopeBytesPerSecond') ?? defaults.minSlopeBytesPerSecond,
    minRelativePerHour: get('minRelativePerHour') ?? defaults.minRelativePerHour,
    raiseAfter: get('raiseAfter') ?? defaults.raiseAfter,
    clearAfter: get('clearAfter') ?? defaults.clearAfter,
    warmupMs: get('warmupMs') ?? defaults.warmupMs,
    floorWindowMs,
    memoryLimitBytes: get('memoryLimitBytes') ?? defaults.memoryLimitBytes,
  }
}

/** Merges the attribution settings over the defaults and checks the ones that depend on each other. */
function resolveAttribution(layers: ReadonlyArray<Settings<AttributionConfig> | undefined>, problems: Problems): AttributionConfig {
  const get = <K extends keyof AttributionConfig>(key: K) => firstSet(layers, key)
  const defaults = DEFAULTS.attribution
  const budget = get('budget') ?? defaults.budget
  // A budget raised above the default suspicion budget (--profile-budget 2%) raises that too, instead of a problem.
  const suspicionBudget = get('suspicionBudget') ?? Math.max(defaults.suspicionBudget, budget)
  if (suspicionBudget < budget) {
    problems.push(`attribution.suspicionBudget: ${suspicionBudget} is less than attribution.budget (${budget})`)
  }
  const topSites = get('topSites') ?? defaults.topSites
  const maxSites = get('maxSites') ?? defaults.maxSites
  if (maxSites < topSites) problems.push(`attribution.maxSites: ${maxSites} is less than attribution.topSites (${topSites})`)
  return {
    mode: get('mode') ?? defaults.mode,
    samplingIntervalBytes: get('samplingIntervalBytes') ?? defaults.samplingIntervalBytes,
    budget,
    suspicionBudget,
    minFetchIntervalMs: get('minFetchIntervalMs') ?? defaults.minFetchIntervalMs,
    topSites,
    maxSites,
  }
}

/** Narrows loadConfig's result. */
export function isConfig(result: ReturnType<typeof loadConfig>): result is Config {
  return 'targets' in result
}
