/**
 * The three sources of settings, each read into a Layer of the same shape:
 * command-line flags, environment variables and the config file. Every row of
 * the options table is read the same way from each; loadConfig then takes each
 * setting from the first layer that has it.
 */
import { parseArgs } from 'node:util'
import { parseTargetSpec, type TargetInput } from './hosts.js'
import { hasSource, OPTIONS, type OptionRow } from './options.js'
import type { Parsed } from './values.js'

/** Targets as given by one source; invalid entries are undefined, so indexes match the source. */
export type TargetList = (TargetInput | undefined)[]

export interface FieldSource {
  readonly path: string
  /** The flag, variable or file key it came from, for problems found later. */
  readonly field: string
}

export interface Layer {
  /** Option key → value, for every row this source set (and could parse). */
  readonly values: Map<string, unknown>
  targets?: TargetList
  configPath?: FieldSource
  /** A file holding the API token, read (and checked) by loadConfig. */
  apiTokenFile?: FieldSource
  /** An API token was given here but is invalid (so "needs a token" would be noise). */
  apiTokenInvalid?: true
  /** The config file could not be read or parsed (so "no targets" would be noise). */
  unreadable?: true
}

export type Problems = string[]

export const emptyLayer = (): Layer => ({ values: new Map() })

/** The value, or undefined after pushing `field: error`. */
export function take<T>(parsed: Parsed<T>, field: string, problems: Problems): T | undefined {
  if ('error' in parsed) {
    problems.push(`${field}: ${parsed.error}`)
    return undefined
  }
  return parsed.value
}

function targetList(specs: readonly string[], field: string, problems: Problems): TargetList {
  return specs.map((spec) => take(parseTargetSpec(spec), field, problems))
}

/** Sets a special row's value from text (the target list, the config and token file paths, the token). */
function setSpecial(layer: Layer, row: OptionRow, texts: readonly string[], field: string, problems: Problems): void {
  const last = texts.at(-1) ?? ''
  switch (row.key) {
    case 'targets':
      layer.targets = targetList(texts, field, problems)
      return
    case 'config': {
      const path = take(row.type.parseText(last), field, problems) as string | undefined
      if (path !== undefined) layer.configPath = { path, field }
      return
    }
    case 'http.apiTokenFile': {
      const path = take(row.type.parseText(last), field, problems) as string | undefined
      if (path !== undefined) layer.apiTokenFile = { path, field }
      else layer.apiTokenInvalid = true
      return
    }
    case 'http.apiToken': {
      const token = take(row.type.parseText(last), field, problems)
      if (token !== undefined) layer.values.set(row.key, token)
      else layer.apiTokenInvalid = true
      return
    }
    /* c8 ignore next 2 */
    default:
      throw new Error(`no reader for special option ${row.key}`)
  }
}

// Flags -------------------------------------------------------------------------

const FLAG_ROWS = OPTIONS.filter((row): row is OptionRow & { flag: string } => hasSource(row.flag))
const FLAG_OPTIONS = Object.fromEntries([
  ...FLAG_ROWS.map((row) => [row.flag, { type: row.type.presence ? 'boolean' : 'string', multiple: row.key === 'targets' }] as const),
  ['help', { type: 'boolean', short: 'h' }],
  ['version', { type: 'boolean', short: 'v' }],
]) as Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>

export function readFlags(argv: readonly string[], problems: Problems): { layer: Layer; help: boolean; version: boolean } {
  // parseArgs in strict mode throws on the first bad argument; run it
  // non-strict with tokens and apply the same checks here to report them all.
  const { tokens } = parseArgs({ args: [...argv], options: FLAG_OPTIONS, strict: false, allowPositionals: true, tokens: true })
  const values = new Map<string, string[]>()
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
    const option = Object.hasOwn(FLAG_OPTIONS, token.name) ? FLAG_OPTIONS[token.name] : undefined
    if (option === undefined) {
      problems.push(`${token.rawName}: unknown flag (see --help)`)
      continue
    }
    const name = token.name
    if (option.type === 'boolean') {
      if (token.value !== undefined) problems.push(`--${name}: takes no value`)
      else values.set(name, [...(values.get(name) ?? []), ''])
    } else if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
      // Like strict parseArgs: `--interval --timeout 5s` is a missing value, not the value "--timeout".
      problems.push(`--${name}: needs a value`)
    } else {
      values.set(name, [...(values.get(name) ?? []), token.value])
    }
  }

  const layer = emptyLayer()
  for (const row of FLAG_ROWS) {
    const texts = values.get(row.flag)
    if (texts === undefined) continue
    const field = `--${row.flag}`
    if (row.special) setSpecial(layer, row, texts, field, problems)
    else if (row.type.presence) layer.values.set(row.key, true)
    else {
      // A repeated single-value flag: the last one wins.
      const value = take(row.type.parseText(texts.at(-1) ?? ''), field, problems)
      if (value !== undefined) layer.values.set(row.key, value)
    }
  }
  return { layer, help: values.has('help'), version: values.has('version') }
}

// Environment -------------------------------------------------------------------

export function readEnv(env: NodeJS.ProcessEnv, problems: Problems): Layer {
  /** Empty counts as unset (as in the OpenTelemetry spec). */
  const get = (name: string): string | undefined => {
    const value = env[name]
    return value === undefined || value.trim() === '' ? undefined : value
  }
  const layer = emptyLayer()
  for (const row of OPTIONS) {
    if (!hasSource(row.env)) continue
    // Every variable set is checked; the first one (in the row's order) wins.
    for (const source of row.env) {
      const text = get(source.name)
      if (text === undefined) continue
      if (row.special) {
        const texts = row.key === 'targets' ? text.split(',').filter((spec) => spec.trim() !== '') : [text]
        setSpecial(layer, row, texts, source.name, problems)
        continue
      }
      const value = take((source.type ?? row.type).parseText(text), source.name, problems)
      if (value !== undefined && !layer.values.has(row.key)) layer.values.set(row.key, value)
    }
  }
  return layer
}
