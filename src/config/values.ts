/**
 * Value types of the options table: how one setting's value is read from a
 * flag or an environment variable (text) and from the config file (any YAML
 * value), and how it is shown in the help. Each parser returns the value or an
 * error text without the field name; the caller adds the field name.
 */
import { ConfigError, errorMessage } from '../core/errors.js'
import { DURATION_FORMS, formatDuration, parseDuration } from '../core/duration.js'
import { parseHostPort, type HostPort } from './hosts.js'

export type Parsed<T> = { value: T } | { error: string }
/** A file value whose entries failed one by one (`otlp.headers.a: …`). */
export type ParsedEntries<T> = Parsed<T> | { entryErrors: ReadonlyArray<{ key: string; error: string }> }

export interface ValueType<T> {
  /** The placeholder in the help: `--interval DURATION`. */
  readonly placeholder: string
  /** A flag of this type takes no value: given means true. */
  readonly presence?: true
  /** From a flag or an environment variable. */
  parseText(text: string): Parsed<T>
  /** From the config file (a number of milliseconds is a duration there, and so on). */
  parseFile(value: unknown): ParsedEntries<T>
  /** As the help and the config example show it. */
  format(value: T): string
}

export function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'number' && !Number.isFinite(value)) return `number ${value}` // JSON.stringify gives null
  return `${typeof value} ${JSON.stringify(value)}`
}

/** Names a value's kind without showing it (for values that may be secrets). */
export function kindName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return `a ${typeof value}`
}

/** A range check shared by every source; `error` is shown after the field name. */
export type Check = (value: number) => Parsed<number>
export const check =
  (ok: (value: number) => boolean, error: string): Check =>
  (value) =>
    ok(value) ? { value } : { error }
export const ANY: Check = check(() => true, '')

/** A value type whose file form must be a string read like the text form. */
function stringType<T>(placeholder: string, what: string, parse: (text: string) => Parsed<T>, format: (value: T) => string): ValueType<T> {
  return {
    placeholder,
    parseText: parse,
    parseFile: (value) => (typeof value === 'string' ? parse(value) : { error: `must be ${what}, not ${typeName(value)}` }),
    format,
  }
}

// Durations -------------------------------------------------------------------

export interface DurationRange {
  readonly minMs: number
  readonly maxMs?: number
  /** The error for out-of-range values; default "must be at least MIN". */
  readonly error?: string
}

function checkDuration(ms: number, range: DurationRange): Parsed<number> {
  const error = range.error ?? (range.minMs <= 1 ? 'must be > 0' : `must be at least ${formatDuration(range.minMs)}`)
  if (ms < range.minMs) return { error: range.minMs === 0 ? '' : error }
  if (range.maxMs !== undefined && ms > range.maxMs) return { error }
  return { value: ms }
}

export function parseDurationText(text: string, range: DurationRange): Parsed<number> {
  try {
    return checkDuration(parseDuration(text), range)
  } catch (error) {
    return { error: error instanceof ConfigError ? error.problems.join('; ') : errorMessage(error) }
  }
}

/** `15s`, `1m30s`; in the file also a number of milliseconds. */
export function duration(range: DurationRange = { minMs: 0 }): ValueType<number> {
  return {
    placeholder: 'DURATION',
    parseText: (text) => parseDurationText(text, range),
    parseFile(value) {
      if (typeof value === 'number') {
        if (!Number.isFinite(value) || value < 0) {
          return { error: `${value} is not a duration (use ${DURATION_FORMS}, or a number of milliseconds)` }
        }
        const checked = checkDuration(Math.round(value), range)
        return 'error' in checked ? { error: `${value} ${checked.error} (a bare number means milliseconds)` } : checked
      }
      if (typeof value === 'string') return parseDurationText(value, range)
      return { error: `must be a duration like 15s (or a number of milliseconds), not ${typeName(value)}` }
    },
    format: formatDuration,
  }
}

// Byte sizes ------------------------------------------------------------------

/** The hint shown in every byte-size error. */
export const BYTE_QUANTITY_FORMS = '1048576, 64Ki, 512Mi, 1Gi, 500M, 1G'
/** Largest first, for formatByteQuantity. */
const BINARY_UNITS = [['Pi', 1024 ** 5], ['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]] as const
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

function parseBytesText(text: string, ok: Check): Parsed<number> {
  try {
    return ok(parseByteQuantity(text))
  } catch (error) {
    return { error: error instanceof ConfigError ? error.problems.join('; ') : errorMessage(error) }
  }
}

/** A byte size (see parseByteQuantity); in the file also a number of bytes. */
export function bytes(ok: Check = ANY): ValueType<number> {
  return {
    placeholder: 'BYTES',
    parseText: (text) => parseBytesText(text, ok),
    parseFile(value) {
      if (typeof value === 'number') return Number.isSafeInteger(value) ? ok(value) : { error: `${value} is not a whole number of bytes` }
      if (typeof value === 'string') return parseBytesText(value, ok)
      return { error: `must be a byte size like 512Mi (or a number of bytes), not ${typeName(value)}` }
    },
    format: formatByteQuantity,
  }
}

// Numbers ---------------------------------------------------------------------

/** `0.002` → `0.2%`. */
export function formatPercent(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(12))}%`
}

const FRACTION = /^(\d+(?:\.\d*)?|\.\d+)(%?)$/

function parseFraction(text: string, ok: Check): Parsed<number> {
  const match = FRACTION.exec(text.trim())
  if (!match) return { error: `${JSON.stringify(text)} is not a fraction or percentage (e.g. 0.002 or 0.2%)` }
  // `0.2e-2` rather than 0.2 / 100, so that 0.2% is exactly the double nearest 0.002.
  return ok(Number(match[2] ? `${match[1]}e-2` : match[1]))
}

/** A fraction (`0.002`) or a percentage (`0.2%`). */
export function fraction(ok: Check, show: 'percent' | 'number' = 'percent'): ValueType<number> {
  return {
    placeholder: 'PERCENT',
    parseText: (text) => parseFraction(text, ok),
    parseFile(value) {
      if (typeof value === 'number') return Number.isFinite(value) ? ok(value) : { error: `${value} is not a finite number` }
      if (typeof value === 'string') return parseFraction(value, ok)
      return { error: `must be a fraction like 0.002 or a percentage like "0.2%", not ${typeName(value)}` }
    },
    format: show === 'percent' ? formatPercent : String,
  }
}

/** A whole number. */
export function count(ok: Check): ValueType<number> {
  return {
    placeholder: 'N',
    parseText(text) {
      const value = text.trim()
      return /^\d+$/.test(value) ? ok(Number(value)) : { error: `${JSON.stringify(text)} is not a whole number` }
    },
    parseFile: (value) =>
      typeof value === 'number' && Number.isInteger(value) ? ok(value) : { error: `must be a whole number, not ${typeName(value)}` },
    format: String,
  }
}

const DECIMAL = /^[+-]?(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

/** A finite number. */
export function number(ok: Check): ValueType<number> {
  return {
    placeholder: 'NUMBER',
    parseText(text) {
      const value = text.trim()
      return DECIMAL.test(value) ? ok(Number(value)) : { error: `${JSON.stringify(text)} is not a number` }
    },
    parseFile(value) {
      if (typeof value !== 'number') return { error: `must be a number, not ${typeName(value)}` }
      return Number.isFinite(value) ? ok(value) : { error: `${value} is not a finite number` }
    },
    format: String,
  }
}

// Others ----------------------------------------------------------------------

export const boolean: ValueType<boolean> = {
  placeholder: '',
  presence: true,
  parseText(text) {
    const value = text.trim().toLowerCase()
    if (value === 'true' || value === '1') return { value: true }
    if (value === 'false' || value === '0') return { value: false }
    return { error: `${JSON.stringify(text)} is not a boolean (use true, false, 1 or 0)` }
  },
  parseFile: (value) => (typeof value === 'boolean' ? { value } : { error: `must be true or false, not ${typeName(value)}` }),
  format: String,
}

/** One of a fixed list of words (case-insensitive in text). */
export function oneOf<T extends string>(placeholder: string, words: readonly T[]): ValueType<T> {
  const parse = (text: string): Parsed<T> => {
    const word = text.trim().toLowerCase()
    return (words as readonly string[]).includes(word)
      ? { value: word as T }
      : { error: `${JSON.stringify(text)} is not one of ${words.join(', ')}` }
  }
  return stringType(placeholder, `one of ${words.join(', ')}`, parse, String)
}

export function parseNonEmpty(text: string): Parsed<string> {
  const value = text.trim()
  return value === '' ? { error: 'must not be empty' } : { value }
}

/** A non-empty string (trimmed). */
export function text(placeholder: string, what = 'a string'): ValueType<string> {
  return stringType(placeholder, what, parseNonEmpty, String)
}

/** `HOST:PORT` with the port in minPort..65535. */
export function hostPortType(minPort: number): ValueType<HostPort> {
  return stringType('HOST:PORT', 'a "HOST:PORT" string', (text) => parseHostPort(text, minPort), (hp) => `${hp.host}:${hp.port}`)
}

/** Appended to OTLP base URLs. */
export const METRICS_PATH = '/v1/metrics'

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

export function endpoint(appendMetricsPath: boolean): ValueType<string> {
  return stringType('URL', 'a URL', (text) => parseEndpoint(text, appendMetricsPath), String)
}

/** `k=v,k2=v2` as in OTEL_EXPORTER_OTLP_HEADERS (keys and values percent-decoded); a mapping in the file. */
export const headers: ValueType<Record<string, string>> = {
  placeholder: 'K=V,...',
  parseText(text) {
    const out: Record<string, string> = {}
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
        out[decodeURIComponent(key)] = decodeURIComponent(item.slice(eq + 1).trim())
      } catch {
        errors.push(`${JSON.stringify(item)} has a bad percent-encoding`)
      }
    }
    return errors.length > 0 ? { error: errors.join('; ') } : { value: out }
  },
  parseFile(value) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: `must be a mapping, not ${typeName(value)}` }
    const out: Record<string, string> = {}
    const entryErrors: Array<{ key: string; error: string }> = []
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') out[key] = String(item)
      else entryErrors.push({ key, error: `must be a string, not ${typeName(item)}` })
    }
    return entryErrors.length > 0 ? { entryErrors } : { value: out }
  },
  format: (value) => Object.entries(value).map(([k, v]) => `${k}=${v}`).join(','),
}

/** Token length bounds, and the largest token file read (it should hold just the token). */
export const TOKEN_LIMITS = Object.freeze({ minLength: 16, maxLength: 1_024, maxFileBytes: 4_096 })

/**
 * An API token: surrounding whitespace is ignored, the rest must be printable
 * ASCII without spaces (what fits an `Authorization: Bearer` header as is).
 * Errors never show the token, only its length or the position of a bad character.
 */
export function parseToken(text: string): Parsed<string> {
  const token = text.trim()
  const { minLength: min, maxLength: max } = TOKEN_LIMITS
  if (token.length < min) return { error: `must be at least ${min} characters long (has ${token.length}; make one with: openssl rand -hex 32)` }
  if (token.length > max) return { error: `must be at most ${max} characters long (has ${token.length})` }
  const bad = token.search(/[^\x21-\x7e]/)
  if (bad >= 0) return { error: `must be printable ASCII without spaces (character ${bad + 1} is not)` }
  return { value: token }
}

export const token: ValueType<string> = {
  placeholder: 'TOKEN',
  parseText: parseToken,
  parseFile: (value) => (typeof value === 'string' ? parseToken(value) : { error: `must be a string, not ${kindName(value)}` }),
  format: () => '…',
}

/** A count of evaluations (the old meaning of raiseAfter/clearAfter) or a duration. */
export type CountOrDuration = { readonly count: number } | { readonly ms: number }

/**
 * A whole number (a count of evaluations, about one per floor window: the meaning these keys
 * had before they took durations) or a duration such as `10m`.
 */
export function countOrDuration(minCount: number): ValueType<CountOrDuration> {
  const countCheck = (n: number): Parsed<CountOrDuration> => (n >= minCount ? { value: { count: n } } : { error: `must be at least ${minCount}` })
  const asDuration = duration({ minMs: 0 })
  const fromText = (text: string): Parsed<CountOrDuration> => {
    const value = text.trim()
    if (/^\d+$/.test(value)) return countCheck(Number(value))
    const parsed = asDuration.parseText(text)
    return 'error' in parsed ? { error: `${JSON.stringify(text)} is neither a count of evaluations nor a duration (use 3 or ${DURATION_FORMS})` } : { value: { ms: parsed.value } }
  }
  return {
    placeholder: 'DURATION|N',
    parseText: fromText,
    parseFile(value) {
      if (typeof value === 'number') return Number.isInteger(value) ? countCheck(value) : { error: `must be a whole number, not ${typeName(value)}` }
      if (typeof value === 'string') return fromText(value)
      return { error: `must be a duration like 10m (or a count of evaluations), not ${typeName(value)}` }
    },
    format: (value) => ('count' in value ? String(value.count) : formatDuration(value.ms)),
  }
}
