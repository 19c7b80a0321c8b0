/**
 * Configuration: command-line flags > environment > config file > defaults.
 *
 * loadConfig() gathers every problem from every source before it gives up, so
 * a user fixes their configuration in one round instead of one error at a time.
 */
import { readFileSync } from 'node:fs'
import { formatDuration } from '../core/duration.js'
import { ConfigError } from '../core/errors.js'
import { MAX_CONFIG_BYTES, readBoundedFile, readConfigFile } from './file.js'
import { helpText } from './help.js'
import { hostPort, isLoopbackHost } from './hosts.js'
import { DEFAULT_TARGET_HOST, LIMITS, OPTIONS } from './options.js'
import { emptyLayer, readEnv, readFlags, type Layer, type Problems } from './sources.js'
import type { Config, HttpConfig, TargetConfig } from './types.js'
import { TOKEN_LIMITS, parseToken, type CountOrDuration } from './values.js'

export interface LoadConfigOptions {
  /** Command-line arguments without the node binary and script (`process.argv.slice(2)`). */
  argv: readonly string[]
  env: NodeJS.ProcessEnv
  /** Names accepted in a target's `disabledCollectors`: the registered collectors. */
  collectorNames: readonly string[]
  /**
   * Reads the config file and the API token file (tests inject this); defaults to
   * a bounded read of a regular file (1 MiB for the config, 4 KiB for the token file).
   */
  readFile?: (path: string) => string
}

/** Sets `object.a.b` for the key `a.b`. */
function setPath(object: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.')
  let node = object
  for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>
  node[parts.at(-1) as string] = value
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}

/** The options that are part of the resolved Config (not the target list, the file path or the token file). */
const CONFIG_ROWS = OPTIONS.filter((row) => !['targets', 'config', 'http.apiTokenFile'].includes(row.key))

type Defaults = Omit<Config, 'targets'> & { readonly targetHost: string }

/** Every default, derived from the options table. */
export const DEFAULTS: Defaults = (() => {
  const defaults: Record<string, unknown> = { targetHost: DEFAULT_TARGET_HOST }
  // A count-or-duration default is a duration: DEFAULTS holds resolved values, as a Config does.
  for (const row of CONFIG_ROWS) {
    const value = row.default
    setPath(defaults, row.key, typeof value === 'object' && value !== null && 'ms' in value ? (value as { ms: number }).ms : value)
  }
  return deepFreeze(defaults) as unknown as Defaults
})()

/** The version from package.json. */
export function readVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version
  /* c8 ignore next */
  throw new Error('package.json has no version')
}

/** The token in a file (trimmed), or undefined after pushing the problem. */
function readTokenFile(path: string, field: string, readFile: (path: string) => string, problems: Problems): string | undefined {
  const shown = JSON.stringify(path)
  let text: string
  try {
    text = readFile(path)
  } catch (error) {
    problems.push(`${field}: cannot read ${shown}: ${error instanceof Error ? error.message : String(error)}`)
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

/**
 * The API token (read from a token file where one is given) and what it
 * protects. Every token source given is checked, also those a higher one overrides.
 */
function resolveHttp(layers: readonly Layer[], pick: (key: string) => unknown, readFile: (path: string) => string, problems: Problems): HttpConfig {
  let invalid = false
  let apiToken: string | undefined
  for (const layer of layers) {
    let token = layer.values.get('http.apiToken') as string | undefined
    if (layer.apiTokenFile !== undefined) {
      if (token !== undefined) {
        const other = layer.apiTokenFile.field.startsWith('http.') ? 'http.apiToken' : 'LEAKWATCH_API_TOKEN'
        problems.push(`${layer.apiTokenFile.field}: give either ${other} or ${layer.apiTokenFile.field}, not both`)
      }
      token = readTokenFile(layer.apiTokenFile.path, layer.apiTokenFile.field, readFile, problems)
      if (token === undefined) invalid = true
    }
    if (layer.apiTokenInvalid) invalid = true
    apiToken ??= token
  }
  const protectMetrics = pick('http.protectMetrics') as boolean
  const protectHealth = pick('http.protectHealth') as boolean
  if (apiToken === undefined && !invalid) {
    const sources = '--api-token-file, LEAKWATCH_API_TOKEN, http.apiToken or http.apiTokenFile'
    if (protectMetrics) problems.push(`http.protectMetrics: needs an API token (${sources}); without one nothing is protected`)
    if (protectHealth) problems.push(`http.protectHealth: needs an API token (${sources}); without one nothing is protected`)
  }
  return { apiToken, protectMetrics, protectHealth }
}

function resolveTargets(layers: readonly Layer[], file: Layer, config: Record<string, unknown>, problems: Problems): TargetConfig[] {
  const chosen = layers.find((layer) => layer.targets !== undefined)?.targets
  const targets: TargetConfig[] = []
  if (chosen === undefined || chosen.length === 0) {
    // An unreadable config file was probably meant to hold the targets; don't add noise.
    if (chosen !== undefined || !file.unreadable) {
      problems.push('targets: at least one target is required (use --target HOST:PORT, LEAKWATCH_TARGETS or targets in the config file)')
    }
    return targets
  }
  if (chosen.length > LIMITS.maxTargets) {
    problems.push(`targets: ${chosen.length} targets is more than one sidecar watches (at most ${LIMITS.maxTargets}); split them over several sidecars`)
    return targets
  }
  const seen = new Map<string, number>()
  chosen.forEach((t, i) => {
    if (t === undefined) return // already reported
    const name = t.name ?? hostPort(t.host, t.port)
    const earlier = seen.get(name)
    if (earlier !== undefined) problems.push(`targets[${i}].name: ${JSON.stringify(name)} is already used by targets[${earlier}]`)
    else seen.set(name, i)
    if (config.allowRemoteInspector !== true && !isLoopbackHost(t.host)) {
      problems.push(
        `targets[${i}].host: ${t.host} is not a loopback address; the inspector is remote code execution — pass --allow-remote-inspector to allow it`,
      )
    }
    targets.push({
      name,
      host: t.host,
      port: t.port,
      // The global interval is already time-scaled; a target's own interval is scaled here.
      intervalMs: t.intervalMs === undefined ? (config.intervalMs as number) : Math.max(1, Math.round(t.intervalMs / (config.timeScale as number))),
      timeoutMs: t.timeoutMs ?? (config.timeoutMs as number),
      disabledCollectors: [...(t.disabledCollectors ?? [])],
      ...(t.serviceName === undefined ? {} : { serviceName: t.serviceName }),
    })
  })
  return targets
}

/** Reads `object.a.b` for the key `a.b`. */
function getPath(object: Record<string, unknown>, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], object)
}

/**
 * --time-scale N: durations run N times faster, rate thresholds grow N times. Applied to
 * given values and defaults alike, so "compressed 60×" means one thing everywhere. The floor
 * budget (a share of the target's time) grows N times too, up to LIMITS.maxBudget: a forced GC of
 * the same heap does not get cheaper under compression, so at the same share a compressed run
 * bought N times fewer floors per simulated hour than production does. The profile budgets stay:
 * reads at 10 % took the load evidence away during a morning ramp (docs/benchmarks/detection.md).
 */
function applyTimeScale(config: Record<string, unknown>): void {
  const scale = config.timeScale as number
  if (scale === 1) return
  for (const row of CONFIG_ROWS) {
    if (row.timeScaled === undefined) continue
    const value = getPath(config, row.key)
    if (typeof value === 'number') {
      const scaled = row.timeScaled === 'duration' ? Math.max(1, Math.round(value / scale)) : value * scale
      setPath(config, row.key, row.timeScaled === 'share' ? Math.min(LIMITS.maxBudget, scaled) : scaled)
    }
    else if (typeof value === 'object' && value !== null && 'ms' in value && row.timeScaled === 'duration') {
      setPath(config, row.key, { ms: Math.round((value as { ms: number }).ms / scale) })
    }
  }
}

/** raiseAfter / clearAfter given as counts of evaluations: about one evaluation per floor window. */
function resolveCountOrDuration(analysis: Record<string, unknown>): void {
  for (const key of ['raiseAfterMs', 'clearAfterMs']) {
    const value = analysis[key] as CountOrDuration
    analysis[key] = 'ms' in value ? value.ms : value.count * (analysis.floorWindowMs as number)
  }
}

/** The checks between settings, and the defaults that follow other settings. */
function resolveDependent(config: Record<string, unknown>, given: (key: string) => boolean, problems: Problems): void {
  const analysis = config.analysis as Record<string, number>
  const attribution = config.attribution as Record<string, number>
  const reconnect = config.reconnect as Record<string, number>
  const d = formatDuration
  if (reconnect.minDelayMs! > reconnect.maxDelayMs!) {
    problems.push(`reconnect.minDelay: ${d(reconnect.minDelayMs!)} is more than reconnect.maxDelay (${d(reconnect.maxDelayMs!)})`)
  }
  // A short window without a floor window of its own gets floors over the whole window, not a problem.
  if (!given('analysis.floorWindowMs')) analysis.floorWindowMs = Math.min(analysis.floorWindowMs!, analysis.windowMs!)
  if (analysis.floorWindowMs! > analysis.windowMs!) {
    problems.push(`analysis.floorWindow: ${d(analysis.floorWindowMs!)} is more than analysis.window (${d(analysis.windowMs!)})`)
  }
  // A budget raised above the default suspicion budget (--profile-budget 2%) raises that too, instead of a problem.
  if (!given('attribution.suspicionBudget')) attribution.suspicionBudget = Math.max(attribution.suspicionBudget!, attribution.budget!)
  if (attribution.suspicionBudget! < attribution.budget!) {
    problems.push(`attribution.suspicionBudget: ${attribution.suspicionBudget} is less than attribution.budget (${attribution.budget})`)
  }
  const holders = config.holders as Record<string, number>
  if (holders.maxIntervalMs! < holders.intervalMs!) {
    problems.push(`holders.maxInterval: ${d(holders.maxIntervalMs!)} is less than holders.interval (${d(holders.intervalMs!)})`)
  }
  if (attribution.maxSites! < attribution.topSites!) {
    problems.push(`attribution.maxSites: ${attribution.maxSites} is less than attribution.topSites (${attribution.topSites})`)
  }
  if (analysis.maxWarmupMs! < analysis.warmupMs!) analysis.maxWarmupMs = analysis.warmupMs!
  applyTimeScale(config)
  resolveCountOrDuration(analysis)
}

/**
 * Resolves the configuration from flags > env > config file > defaults.
 * Returns `{ help }` / `{ version }` when asked for (nothing else is checked then).
 * @throws ConfigError listing every problem found.
 */
export function loadConfig(options: LoadConfigOptions): Config | { help: string } | { version: string } {
  const problems: Problems = []
  const flagResult = readFlags(options.argv, problems)
  if (flagResult.help) return { help: helpText(options.collectorNames) }
  if (flagResult.version) return { version: readVersion() }
  const flags = flagResult.layer
  const env = readEnv(options.env, problems)

  const configSource = flags.configPath ?? env.configPath
  const file = configSource
    ? readConfigFile(configSource, options.readFile ?? ((path) => readBoundedFile(path, MAX_CONFIG_BYTES)), problems, options.collectorNames)
    : emptyLayer()

  const layers = [flags, env, file] as const
  const given = (key: string): boolean => layers.some((layer) => layer.values.has(key))
  const pick = (key: string): unknown => {
    for (const layer of layers) if (layer.values.has(key)) return layer.values.get(key)
    return OPTIONS.find((row) => row.key === key)?.default
  }

  const config: Record<string, unknown> = {}
  for (const row of CONFIG_ROWS) {
    const value = pick(row.key)
    // Values from the table (defaults) are shared and frozen: copy objects so the result owns its own.
    setPath(config, row.key, typeof value === 'object' && value !== null ? { ...value } : value)
  }
  // OTLP headers are merged, not replaced: the file's, then the environment's over them.
  setPath(config, 'otlp.headers', { ...(file.values.get('otlp.headers') ?? {}), ...(env.values.get('otlp.headers') ?? {}) })
  resolveDependent(config, given, problems)
  const readSmall = options.readFile ?? ((path: string) => readBoundedFile(path, TOKEN_LIMITS.maxFileBytes, `larger than ${TOKEN_LIMITS.maxFileBytes} bytes; it should hold just the token`))
  config.http = resolveHttp(layers, pick, readSmall, problems)
  config.targets = resolveTargets(layers, file, config, problems)

  if (problems.length > 0) throw new ConfigError(problems)
  return deepFreeze(config) as unknown as Config
}

/** Narrows loadConfig's result. */
export function isConfig(result: ReturnType<typeof loadConfig>): result is Config {
  return 'targets' in result
}
