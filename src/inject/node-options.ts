/**
 * Node.js inspector flags in NODE_OPTIONS and on a `node` command line: what `leakwatch inject`
 * must know before it adds `--inspect=127.0.0.1:<port>` (pure string handling).
 */

/** Node's default inspector address. */
export const DEFAULT_INSPECTOR_HOST = '127.0.0.1'
export const DEFAULT_INSPECTOR_PORT = 9229

/**
 * Split NODE_OPTIONS the way Node does: on whitespace, with double-quoted parts kept together
 * (a backslash escapes the next character inside quotes).
 */
export function splitNodeOptions(value: string): string[] {
  const tokens: string[] = []
  let current = ''
  let inToken = false
  let quoted = false
  for (let i = 0; i < value.length; i += 1) {
    const char = value[i]!
    if (quoted) {
      if (char === '\\' && i + 1 < value.length) {
        current += value[i + 1]
        i += 1
      } else if (char === '"') quoted = false
      else current += char
    } else if (char === '"') {
      quoted = true
      inToken = true
    } else if (/\s/.test(char)) {
      if (inToken) tokens.push(current)
      current = ''
      inToken = false
    } else {
      current += char
      inToken = true
    }
  }
  if (inToken) tokens.push(current)
  return tokens
}

/** What the inspector flags among some Node.js options say. */
export interface InspectorFlags {
  /** The inspector-related flags found, as written. */
  readonly flags: readonly string[]
  /** An --inspect, --inspect-brk or --inspect-wait flag opens the inspector at start-up. */
  readonly enabled: boolean
  /** A flag that makes the process wait for a debugger before running (--inspect-brk, --inspect-wait). */
  readonly waits: string | undefined
  /** The address the inspector would listen on (Node's defaults filled in). */
  readonly host: string
  readonly port: number
  /** A flag whose address cannot be read. */
  readonly invalid: string | undefined
}

const ENABLE = /^--(inspect|inspect-brk|inspect-wait|debug-brk)(?:=(.*))?$/
const PORT_ONLY = /^--(inspect-port|debug-port)(?:=(.*))?$/

/** `[host:]port`, `host`, or `[v6]:port`, as --inspect and --inspect-port take them. */
function parseAddress(text: string): { host?: string; port?: number } | undefined {
  const port = (digits: string): number | undefined => {
    if (!/^\d{1,5}$/.test(digits)) return undefined
    const n = Number(digits)
    return n <= 65535 ? n : undefined
  }
  if (/^\d+$/.test(text)) {
    const p = port(text)
    return p === undefined ? undefined : { port: p }
  }
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (v6 !== null) {
    if (v6[2] === undefined) return { host: v6[1]! }
    const p = port(v6[2])
    return p === undefined ? undefined : { host: v6[1]!, port: p }
  }
  const colon = text.lastIndexOf(':')
  if (colon < 0) return text === '' ? undefined : { host: text }
  const host = text.slice(0, colon)
  const p = port(text.slice(colon + 1))
  return p === undefined || host === '' || host.includes(':') ? undefined : { host, port: p }
}

/**
 * The inspector flags among `tokens` (NODE_OPTIONS first, then command-line flags: later flags
 * win, as in Node).
 */
export function inspectorFlags(tokens: readonly string[]): InspectorFlags {
  const flags: string[] = []
  let enabled = false
  let waits: string | undefined
  let host = DEFAULT_INSPECTOR_HOST
  let port = DEFAULT_INSPECTOR_PORT
  let invalid: string | undefined
  for (const token of tokens) {
    const enable = ENABLE.exec(token)
    const portOnly = enable === null ? PORT_ONLY.exec(token) : null
    const match = enable ?? portOnly
    if (match === null) continue
    flags.push(token)
    if (enable !== null) {
      enabled = true
      if (enable[1] !== 'inspect') waits = token
    }
    if (match[2] === undefined) continue
    const address = parseAddress(match[2])
    if (address === undefined) {
      invalid ??= token
      continue
    }
    if (address.host !== undefined) host = address.host
    if (address.port !== undefined) port = address.port
  }
  return { flags, enabled, waits, host, port, invalid }
}

/** The options before the script of a `node ...` command line (empty when it is not node). */
export function nodeCommandFlags(commandLine: readonly string[]): string[] {
  const [program, ...rest] = commandLine
  if (program === undefined || !/^(node|nodejs)$/.test(basename(program))) return []
  const flags: string[] = []
  for (const token of rest) {
    if (!token.startsWith('-')) break
    flags.push(token)
  }
  return flags
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/** Package managers that are Node.js programs themselves (they read NODE_OPTIONS too). */
const PACKAGE_MANAGERS = new Set(['npm', 'npx', 'yarn', 'pnpm', 'corepack'])

/**
 * The package manager a container's command line starts the app with, if any: `npm start`
 * directly, or in a `sh -c` script. With NODE_OPTIONS=--inspect the package manager binds the
 * inspector port first and the app cannot ("address already in use").
 */
export function packageManagerOf(commandLine: readonly string[]): string | undefined {
  const [program, ...rest] = commandLine
  if (program === undefined) return undefined
  const name = basename(program)
  if (PACKAGE_MANAGERS.has(name)) return name
  if (/^(sh|bash|ash|dash|zsh)$/.test(name)) {
    const script = rest.find((token, index) => index > 0 && rest[index - 1] === '-c') ?? rest.find((token) => !token.startsWith('-'))
    if (script === undefined) return undefined
    // A package manager at the start of any command of the script (after ;, &&, ||, |, exec, newline).
    const found = /(?:^|[;&|\n(]|\bexec)\s*(?:\S*\/)?(npm|npx|yarn|pnpm|corepack)(?=\s|$)/.exec(script)
    return found?.[1]
  }
  return undefined
}
