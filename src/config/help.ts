/**
 * `leakwatch --help`, generated from the options table: the flags with their
 * defaults and ranges, every environment variable, and an example config file
 * with every key and its default. The prose around them (precedence,
 * Kubernetes, security) is written here once.
 */
import { DURATION_FORMS } from '../core/duration.js'
import { DEFAULT_TARGET_HOST, hasSource, LIMITS, OPTIONS, TOKEN_RULE, type OptionRow } from './options.js'
import { METRICS_PATH } from './values.js'

const WIDTH = 80
const NAME_COLUMN = 29

/** Words wrapped to the help's width; a `(default …)` group is never split. */
function wrap(text: string, indent: number, firstIndent = indent): string[] {
  const tokens = text.match(/\(default(?:[^()]|\([^()]*\))*\)\S*|\S+/g) ?? []
  const lines: string[] = []
  let line = ''
  let width = WIDTH - firstIndent
  for (const token of tokens) {
    if (line !== '' && line.length + 1 + token.length > width) {
      lines.push(line)
      line = token
      width = WIDTH - indent
    } else line = line === '' ? token : `${line} ${token}`
  }
  if (line !== '') lines.push(line)
  return lines
}

/** `name  text`, the text in its column (or on the next lines when the name is too long). */
function entry(name: string, text: string): string {
  const paragraphs = text.split('\n')
  const lines: string[] = []
  const head = `  ${name}`
  const fits = head.length < NAME_COLUMN - 1
  paragraphs.forEach((paragraph, p) => {
    const wrapped = wrap(paragraph, NAME_COLUMN)
    wrapped.forEach((line, i) => {
      if (p === 0 && i === 0 && fits) lines.push(`${head.padEnd(NAME_COLUMN)}${line}`)
      else lines.push(`${' '.repeat(NAME_COLUMN)}${line}`)
    })
  })
  if (!fits) lines.unshift(head)
  return lines.join('\n')
}

function defaultText(row: OptionRow): string {
  if (row.defaultText !== undefined) return row.defaultText
  if (row.default === undefined) return ''
  const shown = row.type.format(row.default)
  return `(default ${shown}${row.range !== undefined ? `, ${row.range}` : ''})`
}

function optionsSection(): string {
  const lines: string[] = []
  for (const row of OPTIONS) {
    if (!hasSource(row.flag)) continue
    const placeholder = row.placeholder ?? row.type.placeholder
    const name = `--${row.flag}${placeholder === '' ? '' : ` ${placeholder}`}`
    const suffix = defaultText(row)
    lines.push(entry(name, suffix === '' ? row.help : `${row.help} ${suffix}`))
  }
  lines.push(entry('-h, --help', 'Show this help and exit'), entry('-v, --version', 'Show the version and exit'))
  return lines.join('\n')
}

function environmentSection(): string {
  const lines: string[] = []
  for (const row of OPTIONS) {
    if (!hasSource(row.env)) continue
    for (const source of row.env) {
      const text = source.help ?? (hasSource(row.flag) ? `Like --${row.flag}` : row.help)
      const oneLine = `  ${source.name}  ${text}`
      lines.push(source.name.length >= NAME_COLUMN - 3 && oneLine.length <= WIDTH ? oneLine : entry(source.name, text))
    }
  }
  return lines.join('\n')
}

/** A config-file example line with its comment in the column the others use. */
function commented(line: string, comment: string | undefined): string {
  if (comment === undefined || comment === '') return line
  return `${line.length < 31 ? line.padEnd(31) : `${line}   `}# ${comment}`
}

const SECTION_COMMENTS: Readonly<Record<string, string>> = {
  reconnect: 'backoff between reconnects',
  otlp: 'OTLP/HTTP export',
  http: 'who may read what over HTTP (see Security)',
  analysis: 'leak detection on the memory floors',
  attribution: "allocation sites, from V8's sampling heap profiler",
  holders: 'the growing collection, named with its path',
}

function fileSection(collectorNames: readonly string[]): string {
  const lines = [
    `  targets:                     # at most ${LIMITS.maxTargets} per sidecar`,
    '    - name: api                # default HOST:PORT',
    `      host: 127.0.0.1          # default ${DEFAULT_TARGET_HOST}`,
    '      port: 9229',
    '      interval: 5s             # default: the global interval',
    '      timeout: 2s              # default: the global timeout',
    `      disabledCollectors: [heap]   # of: ${collectorNames.join(', ')}`,
    '      serviceName: checkout    # OTLP service.name; default: the process\'s own, else the name',
    '    - address: "[::1]:9230"    # HOST:PORT instead of host and port',
  ]
  let section: string | undefined
  for (const row of OPTIONS) {
    if (!hasSource(row.file) || row.key === 'targets' || row.key === 'http.apiToken') continue
    const dot = row.file.indexOf('.')
    const key = dot < 0 ? row.file : row.file.slice(dot + 1)
    const current = dot < 0 ? undefined : row.file.slice(0, dot)
    if (current !== undefined && current !== section) lines.push(commented(`  ${current}:`, SECTION_COMMENTS[current]))
    section = current
    const value = row.fileExample ?? (row.default === undefined ? '' : row.type.format(row.default))
    lines.push(commented(`${current === undefined ? '  ' : '    '}${key}: ${value}`, row.fileComment ?? row.range))
  }
  return lines.join('\n')
}

/** The whole `--help` text; the collector names come from the collectors' registry. */
export function helpText(collectorNames: readonly string[]): string {
  return `Usage: leakwatch [options]
       leakwatch inject [options] FILE|-   (add the sidecar to Kubernetes YAML; see inject --help)

Watches Node.js processes over the V8 inspector (node --inspect) and exports
memory, GC and leak metrics to Prometheus (GET /metrics) and OTLP/HTTP.

Options:
${optionsSection()}

Durations: ${DURATION_FORMS}, 1.5s or compounds like 1m30s. A bare number is
refused, except in the config file where a number means milliseconds.

Byte sizes: a number of bytes or a Kubernetes quantity such as 64Ki, 512Mi, 1Gi
(powers of 1024: Ki, Mi, Gi, Ti), 500M, 1G (powers of 1000: k, M, G, T) or 1e9.

Environment:
${environmentSection()}
  Empty variables count as unset.

Precedence: flags > environment > config file > defaults.
  The target list comes whole from the first source that has one (--target
  flags, else LEAKWATCH_TARGETS, else the file); lists are never merged.
  OTLP endpoint: --otlp-endpoint > LEAKWATCH_OTLP_ENDPOINT >
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT > OTEL_EXPORTER_OTLP_ENDPOINT > file.
  Service name: --service-name > LEAKWATCH_SERVICE_NAME > OTEL_SERVICE_NAME > file.
  The resolved endpoint is always the full metrics URL (ends with ${METRICS_PATH}
  unless it came from OTEL_EXPORTER_OTLP_METRICS_ENDPOINT).
  OTLP headers: the file's, then OTEL_EXPORTER_OTLP_HEADERS over them.
  API token: --api-token-file > LEAKWATCH_API_TOKEN > http.apiToken or
  http.apiTokenFile in the file; LEAKWATCH_API_TOKEN_FILE stands with
  LEAKWATCH_API_TOKEN (give one of them).

Kubernetes: fill LEAKWATCH_MEMORY_LIMIT from the downward API, valueFrom:
  resourceFieldRef: {containerName: app, resource: limits.memory} (divisor 1,
  the default, gives bytes). If that container has no memory limit, Kubernetes
  reports the node's allocatable memory instead (not 0), which is no limit at
  all: give the container a limit, or leave the variable out.

Config file (all keys optional; unknown keys are errors):
${fileSection(collectorNames)}

Security: the inspector protocol can run any code in the target process.
Targets on a host other than loopback (127.0.0.0/8, ::1, localhost) are refused
unless --allow-remote-inspector (or LEAKWATCH_ALLOW_REMOTE_INSPECTOR=true, or
allowRemoteInspector: true) is given. Never expose --inspect to a network.
The API token must have ${TOKEN_RULE};
make one with: openssl rand -hex 32

Example:
  node --inspect=127.0.0.1:9229 server.js &
  leakwatch --target api=127.0.0.1:9229 --interval 10s --otlp-endpoint http://localhost:4318
`
}
