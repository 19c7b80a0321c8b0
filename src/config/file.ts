/**
 * The config file (YAML or JSON): read with hard bounds, parsed, and walked
 * along the options table, so that every key the table names is accepted with
 * the same value type as its flag and every other key is reported. Everything
 * valid is kept even when other parts are not, so the checks made after
 * merging (duplicate names, loopback, ranges that depend on each other)
 * report their problems in the same round.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { errorMessage } from '../core/errors.js'
import { normalizeTargetHost, parseHost, parseHostPort, type HostPort, type TargetInput } from './hosts.js'
import { DEFAULT_TARGET_HOST, hasSource, LIMITS, OPTIONS, type OptionRow } from './options.js'
import { emptyLayer, type FieldSource, type Layer, type Problems, type TargetList } from './sources.js'
import { duration, typeName, type ParsedEntries } from './values.js'

/** Largest config file read; a real one is a few KB. */
export const MAX_CONFIG_BYTES = 1024 * 1024
/** Deeper than any real config; the YAML parser recurses per level (and can abort V8 near the stack limit). */
const MAX_CONFIG_NESTING = 64
/** A service name is a short identifier; this bounds what one costs on every OTLP resource. */
const MAX_SERVICE_NAME = 255
/** YAML syntax errors reported one by one; the rest are counted. */
const MAX_YAML_ERRORS = 20

/**
 * Reads a regular file of at most `maxBytes` as UTF-8. Reads at most one byte
 * more than the limit, so `/dev/zero` or a log file named by mistake is refused
 * at once rather than read whole; devices, pipes and directories are refused.
 * Opened non-blocking: opening a FIFO for reading otherwise waits for a writer,
 * forever, before fstat could refuse it (no effect on regular files).
 */
export function readBoundedFile(path: string, maxBytes: number, tooLarge = `larger than ${maxBytes} bytes`): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file')
    const buffer = Buffer.alloc(maxBytes + 1)
    let length = 0
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null)
      if (n === 0) break
      length += n
    }
    if (length > maxBytes) throw new Error(tooLarge)
    return buffer.toString('utf8', 0, length)
  } finally {
    closeSync(fd)
  }
}

/** Refuse absurd files before parsing: too large, or flow collections nested too deep. */
function shapeProblem(text: string): string | undefined {
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

/**
 * Parse YAML with plain errors and no stack traces on them: the parser makes one Error per
 * problem, and capturing 80,000 stacks took most of the parse of a file of 80,000 anchors
 * (0.5 s of CPU against 0.15 s; the stacks point into the parser, never into the file).
 */
function parseWithoutStacks(text: string, lineCounter: LineCounter): ReturnType<typeof parseDocument> {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return parseDocument(text, { prettyErrors: false, lineCounter })
  } finally {
    Error.stackTraceLimit = limit
  }
}

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const firstLine = (message: string): string => (message.split('\n')[0] ?? message).replace(/:$/, '')

// The file's layout, derived from the table: top-level keys and sections, in table order.

type FileRow = OptionRow & { file: string }
const FILE_ROWS = OPTIONS.filter((row): row is FileRow => hasSource(row.file))
/** Section name ('' for the top level) → its keys (a key of the top level may name a section). */
const LAYOUT = new Map<string, Map<string, FileRow | 'section'>>([['', new Map()]])
for (const row of FILE_ROWS) {
  const dot = row.file.indexOf('.')
  const top = LAYOUT.get('') as Map<string, FileRow | 'section'>
  if (dot < 0) {
    top.set(row.file, row)
    continue
  }
  const section = row.file.slice(0, dot)
  if (!top.has(section)) {
    top.set(section, 'section')
    LAYOUT.set(section, new Map())
  }
  LAYOUT.get(section)?.set(row.file.slice(dot + 1), row)
}

const TARGET_KEYS = ['name', 'host', 'port', 'address', 'interval', 'timeout', 'disabledCollectors', 'serviceName'] as const
const knownKeys = (keys: Iterable<string>): string => ` (known keys: ${[...keys].join(', ')})`

function unknownKeys(raw: Record<string, unknown>, known: Iterable<string>, at: (key: string) => string, problems: Problems): boolean {
  const allowed = new Set(known)
  let found = false
  for (const key of Object.keys(raw)) {
    if (allowed.has(key)) continue
    problems.push(`${at(key)}: unknown key${knownKeys(allowed)}`)
    found = true
  }
  return found
}

/** The value of one file key, or undefined after pushing its problems. */
function fileValue(row: OptionRow, value: unknown, path: string, problems: Problems): unknown {
  const parsed = row.type.parseFile(value) as ParsedEntries<unknown>
  if ('value' in parsed) return parsed.value
  if ('error' in parsed) problems.push(`${path}: ${parsed.error}`)
  else for (const { key, error } of parsed.entryErrors) problems.push(`${path}.${key}: ${error}`)
  return undefined
}

interface FileContext {
  readonly configPath: string
  readonly collectorNames: readonly string[]
  readonly problems: Problems
}

function setFromFile(layer: Layer, row: FileRow, value: unknown, ctx: FileContext): void {
  const parsed = fileValue(row, value, row.file, ctx.problems)
  if (row.key === 'http.apiTokenFile') {
    if (parsed === undefined) layer.apiTokenInvalid = true
    else {
      const path = parsed as string
      layer.apiTokenFile = { path: isAbsolute(path) ? path : join(dirname(ctx.configPath), path), field: row.file }
    }
    return
  }
  if (parsed === undefined) {
    if (row.key === 'http.apiToken') layer.apiTokenInvalid = true
    return
  }
  layer.values.set(row.key, parsed)
}

const TARGET_INTERVAL = duration({ minMs: LIMITS.minIntervalMs })
const TARGET_TIMEOUT = duration({ minMs: 1 })

function readTarget(raw: unknown, at: string, ctx: FileContext): TargetInput | undefined {
  const { problems } = ctx
  if (!isMapping(raw)) {
    problems.push(`${at}: must be a mapping, not ${typeName(raw)}`)
    return undefined
  }
  const before = problems.length
  const fail = (key: string, error: string): undefined => void problems.push(`${at}.${key}: ${error}`)
  const str = (key: string): string | undefined => {
    const value = raw[key]
    if (value === undefined) return undefined
    if (typeof value === 'string') return value
    return fail(key, `must be ${key === 'address' ? 'a "HOST:PORT" string' : key === 'host' ? 'a host name or IP address' : 'a string'}, not ${typeName(value)}`)
  }
  let name = str('name')
  if (name !== undefined) {
    name = name.trim()
    if (name === '') name = fail('name', 'must not be empty')
  }
  let serviceName = str('serviceName')
  if (serviceName !== undefined) {
    serviceName = serviceName.trim()
    if (serviceName === '') serviceName = fail('serviceName', 'must not be empty')
    else if (serviceName.length > MAX_SERVICE_NAME) serviceName = fail('serviceName', `must be at most ${MAX_SERVICE_NAME} characters`)
  }
  let host = str('host')
  if (host !== undefined) {
    const parsed = parseHost(host.trim())
    host = 'error' in parsed ? fail('host', parsed.error) : normalizeTargetHost(parsed.value)
  }
  let port: number | undefined
  if (raw.port !== undefined) {
    const value = raw.port
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) port = value
    else fail('port', 'must be 1..65535')
  }
  let address: HostPort | undefined
  const addressText = str('address')
  if (addressText !== undefined) {
    const parsed = parseHostPort(addressText, 1)
    if ('error' in parsed) fail('address', parsed.error)
    else address = { host: normalizeTargetHost(parsed.value.host), port: parsed.value.port }
  }
  const durationOf = (key: string, type: typeof TARGET_INTERVAL): number | undefined => {
    if (raw[key] === undefined) return undefined
    const parsed = type.parseFile(raw[key])
    return 'value' in parsed ? parsed.value : 'error' in parsed ? fail(key, parsed.error) : undefined
  }
  const intervalMs = durationOf('interval', TARGET_INTERVAL)
  const timeoutMs = durationOf('timeout', TARGET_TIMEOUT)
  let disabledCollectors: string[] | undefined
  if (raw.disabledCollectors !== undefined) {
    if (!Array.isArray(raw.disabledCollectors)) fail('disabledCollectors', `must be a list, not ${typeName(raw.disabledCollectors)}`)
    else {
      const known = ctx.collectorNames
      raw.disabledCollectors.forEach((item: unknown, i) => {
        if (typeof item !== 'string' || !known.includes(item)) {
          fail(`disabledCollectors[${i}]`, `${typeof item === 'string' ? JSON.stringify(item) : typeName(item)} is not a collector (known: ${known.join(', ')})`)
        }
      })
      disabledCollectors = [...new Set(raw.disabledCollectors as string[])]
    }
  }
  unknownKeys(raw, TARGET_KEYS, (key) => `${at}.${key}`, problems)
  if (problems.length > before) return undefined

  let where: HostPort
  if (address !== undefined) {
    if (host !== undefined || port !== undefined) return fail('address', 'give either address or host and port, not both')
    where = address
  } else if (port !== undefined) {
    where = { host: host ?? DEFAULT_TARGET_HOST, port }
  } else {
    return fail('port', 'is required (or give address: "HOST:PORT")')
  }
  return { name, ...where, intervalMs, timeoutMs, disabledCollectors, ...(serviceName === undefined ? {} : { serviceName }) }
}

function readTargets(value: unknown, ctx: FileContext): TargetList {
  if (!Array.isArray(value)) {
    ctx.problems.push(`targets: must be a list, not ${typeName(value)}`)
    return [undefined] // given but not a list (reported): not "no targets"
  }
  return value.map((item, i) => readTarget(item, `targets[${i}]`, ctx))
}

/** Walks the parsed document along LAYOUT into a layer; what is invalid is reported and left out. */
function layerOf(raw: Record<string, unknown>, ctx: FileContext): Layer {
  const layer = emptyLayer()
  const top = LAYOUT.get('') as Map<string, FileRow | 'section'>
  for (const [key, entry] of top) {
    const value = raw[key]
    if (value === undefined) continue
    if (key === 'targets') {
      layer.targets = readTargets(value, ctx)
    } else if (entry === 'section') {
      if (!isMapping(value)) {
        ctx.problems.push(`${key}: must be a mapping, not ${typeName(value)}`)
        if (key === 'http') layer.apiTokenInvalid = true // don't add "needs a token" to it
        continue
      }
      const fields = LAYOUT.get(key) as Map<string, FileRow | 'section'>
      for (const [name, row] of fields) if (value[name] !== undefined && row !== 'section') setFromFile(layer, row, value[name], ctx)
      unknownKeys(value, fields.keys(), (name) => `${key}.${name}`, ctx.problems)
    } else {
      setFromFile(layer, entry, value, ctx)
    }
  }
  unknownKeys(raw, top.keys(), (key) => key, ctx.problems)
  return layer
}

export function readConfigFile(
  source: FieldSource,
  readFile: (path: string) => string,
  problems: Problems,
  collectorNames: readonly string[],
): Layer {
  const { path, field } = source
  const shown = JSON.stringify(path)
  const unreadable = (): Layer => ({ ...emptyLayer(), unreadable: true })
  let text: string
  try {
    text = readFile(path)
  } catch (error) {
    problems.push(`${field}: cannot read ${shown}: ${errorMessage(error)}`)
    return unreadable()
  }
  const invalid = (detail: string): Layer => {
    problems.push(`${field}: ${shown} is not valid YAML or JSON: ${detail}`)
    return unreadable()
  }
  const shape = shapeProblem(text)
  if (shape !== undefined) return invalid(shape)
  let raw: unknown
  try {
    // Plain errors with positions from a line counter: pretty ones quote the source around each
    // error, which is quadratic in a file of thousands of errors.
    const lines = new LineCounter()
    const doc = parseWithoutStacks(text, lines)
    if (doc.errors.length > 0) {
      for (const error of doc.errors.slice(0, MAX_YAML_ERRORS)) {
        const { line, col } = lines.linePos(error.pos[0])
        invalid(`${firstLine(error.message)} at line ${line}, column ${col}`)
      }
      const more = doc.errors.length - MAX_YAML_ERRORS
      if (more > 0) problems.push(`${field}: ${shown}: and ${more} more YAML errors, not shown`)
      return unreadable()
    }
    raw = doc.toJS()
  } catch (error) {
    return invalid(errorMessage(error)) // e.g. an unresolved alias
  }
  if (raw === null || raw === undefined) return emptyLayer() // an empty file
  if (!isMapping(raw)) {
    problems.push(`${field}: ${shown} must hold a mapping of settings, not ${typeName(raw)}`)
    return unreadable()
  }
  return layerOf(raw, { configPath: path, collectorNames, problems })
}
