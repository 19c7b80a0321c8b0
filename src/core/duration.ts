/**
 * Human-readable durations: `500ms`, `15s`, `5m`, `1h`, `1.5s` and compounds
 * such as `1m30s` or `1h15m`. A bare number is refused on purpose: `15` could
 * mean seconds or milliseconds, so users must say which.
 */

import { ConfigError } from './errors.js'

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const
type Unit = keyof typeof UNIT_MS

/** One `<number><unit>` part; `ms` must be tried before `m`. */
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y
const WHOLE = /^(?:(?:\d+(?:\.\d+)?|\.\d+)(?:ms|s|m|h))+$/

/** The hint shown in every duration error. */
export const DURATION_FORMS = '500ms, 15s, 5m, 1h'

/**
 * Parses a duration into milliseconds (rounded to a whole millisecond).
 * Surrounding whitespace is ignored; units are case-sensitive.
 * @throws ConfigError (one problem, without a field name) when `text` is not a duration.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim()
  if (!WHOLE.test(trimmed)) {
    throw new ConfigError([`${JSON.stringify(text)} is not a duration (use ${DURATION_FORMS})`])
  }
  let total = 0
  PART.lastIndex = 0
  for (let match = PART.exec(trimmed); match !== null; match = PART.exec(trimmed)) {
    total += Number(match[1]) * UNIT_MS[match[2] as Unit]
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) {
    throw new ConfigError([`${JSON.stringify(text)} is too long a duration`])
  }
  return Math.round(total)
}

/**
 * Formats milliseconds the way parseDuration reads them, largest units first:
 * `15000` → `15s`, `90000` → `1m30s`, `1500` → `1s500ms`, `0` → `0ms`.
 * Fractions of a millisecond are rounded.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot format ${ms} as a duration`)
  let rest = Math.round(ms)
  if (rest === 0) return '0ms'
  let out = ''
  for (const unit of ['h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit]
    const count = Math.floor(rest / size)
    if (count > 0) {
      out += `${count}${unit}`
      rest -= count * size
    }
  }
  return out
}

/**
 * A span for a reason text, to the second, as durations are written in the configuration
 * (`27m15s`, `0s` below half a second): under --time-scale a window of 4 h is 4 min, and a fixed
 * unit would print it as `0.1 h`.
 */
export function formatSpan(ms: number): string {
  const seconds = Math.round(Math.max(0, ms) / 1000)
  return seconds === 0 ? '0s' : formatDuration(seconds * 1000)
}
