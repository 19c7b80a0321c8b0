/**
 * Every option, once: one row per setting with its flag, environment
 * variable, config-file key, value type, default, range and help line. The
 * flag parser, the environment reader, the config-file reader, `--help`, the
 * reference in docs/configuration.md and DEFAULTS are all derived from this table, so adding an
 * option is one row plus its use. The rows live in options-general.ts (targets, polling, HTTP,
 * OTLP, logging) and options-analysis.ts (analysis, attribution, holders); the row type and the
 * shared value types in option-kit.ts.
 *
 * A source an option deliberately lacks says why (`{ none: reason }`).
 * Options whose reading is more than "parse one value" (the target list, the
 * config file itself, the API token and its file) have rows too, for the help
 * and the docs; src/config/sources.ts reads them by key.
 */
import { TOKEN_LIMITS } from './values.js'
import { ANALYSIS_OPTIONS } from './options-analysis.js'
import { GENERAL_OPTIONS } from './options-general.js'
import type { Missing, OptionRow } from './option-kit.js'

export * from './option-kit.js'

export const OPTIONS: readonly OptionRow[] = [...GENERAL_OPTIONS, ...ANALYSIS_OPTIONS]

/** Host of a config-file target that gives only `port`. */
export const DEFAULT_TARGET_HOST = '127.0.0.1'

export const TOKEN_RULE = `${TOKEN_LIMITS.minLength}..${TOKEN_LIMITS.maxLength} printable ASCII characters without spaces`

export function optionByKey(key: string): OptionRow {
  const row = OPTIONS.find((option) => option.key === key)
  /* c8 ignore next */
  if (row === undefined) throw new Error(`no option ${key}`)
  return row
}

export const hasSource = <T>(source: T | Missing): source is T => !(typeof source === 'object' && source !== null && 'none' in source)
