/**
 * Reference sections of the docs (docs/configuration.md, docs/metrics.md,
 * docs/security.md), generated from the code that defines them (the metric
 * catalog, the snippet list, the CLI help) so they can never drift: `npm run
 * docs` rewrites them and a test fails when they differ.
 */
import { ERROR_CODES } from '../core/errors.js'
import { API_ERRORS } from '../server/security.js'
import { HELP } from '../sidecar-config.js'
import { TARGET_LABEL, catalog } from '../export/catalog.js'
import { otelInstrumentOf } from '../core/metrics.js'
import { AGENT_SNIPPETS } from '../collectors/agent.js'
import { INSPECTOR_SNIPPETS } from '../inspector/snippets.js'

const cell = (text: string): string => text.replaceAll('|', '\\|')

export function metricReference(): string {
  const rows = catalog.map((metric) => {
    const labels = [TARGET_LABEL, ...metric.labels].map((label) => `\`${label}\``).join(', ')
    const otel = metric.otel === undefined ? '—' : `\`${metric.otel}\` (${otelInstrumentOf(metric)}${metric.otelResource === 'sidecar' ? ', sidecar resource' : ''})`
    return `| \`${metric.prom}\`${metric.promClient === true ? ' ¹' : ''} | ${otel} | ${metric.type} | ${labels} | ${metric.collector} | ${cell(metric.help)} |`
  })
  return [
    '¹ prom-client\'s default metric of that name, type and labels. OpenTelemetry: the instrument, and the resource',
    'when it is the sidecar\'s (every other metric goes out under its target\'s own resource); — for a Prometheus-only series.',
    '',
    '| Prometheus | OpenTelemetry | type | labels | collector | meaning |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n')
}

export function snippetReference(): string {
  return [...AGENT_SNIPPETS, ...INSPECTOR_SNIPPETS].map(
    (snippet) => `<details><summary><code>${snippet.name}</code>: ${snippet.purpose}</summary>\n\n\`\`\`js\n${snippet.source}\n\`\`\`\n</details>`,
  ).join('\n\n')
}

export function helpReference(): string {
  return `\`\`\`text\n${HELP.trimEnd()}\n\`\`\``
}

export const GENERATED_SECTIONS: Record<string, () => string> = {
  metrics: metricReference,
  snippets: snippetReference,
  help: helpReference,
}

/** The documents that hold the generated blocks, each block in exactly one of them. */
export const GENERATED_DOCUMENTS: readonly string[] = ['docs/configuration.md', 'docs/metrics.md', 'docs/security.md']

const blockPattern = (name: string): RegExp => new RegExp(`(<!-- generated:${name} -->)[\\s\\S]*?(<!-- /generated:${name} -->)`)

/** Names of the generated blocks a document holds. */
export function generatedBlocksIn(text: string): string[] {
  return Object.keys(GENERATED_SECTIONS).filter((name) => blockPattern(name).test(text))
}

/** Replace every `<!-- generated:NAME -->…<!-- /generated:NAME -->` block the text holds with fresh content. */
export function renderGeneratedSections(text: string): string {
  let out = text
  for (const name of generatedBlocksIn(text)) {
    const render = GENERATED_SECTIONS[name] as () => string
    out = out.replace(blockPattern(name), (_match, start: string, end: string) => `${start}\n${render()}\n${end}`)
  }
  return out
}

/** docs/errors.md: every error code with its meaning and remedy, and the API's error names. */
export function errorsReference(): string {
  const codes = Object.entries(ERROR_CODES).map(([code, doc]) => `## \`${code}\`\n\n${doc.meaning}\n\n**What to do:** ${doc.remedy}\n`)
  const api = Object.entries(API_ERRORS).map(([name, doc]) => `| \`${name}\` | ${doc.status} | ${cell(doc.meaning)} |`)
  return [
    '<!-- Generated from src/core/errors.ts and src/server/security.ts by `npm run docs`; do not edit. -->',
    '# Error codes',
    '',
    'Every error leakwatch raises on purpose carries a stable code: in its logs (`err.code`), in the',
    '`lastError` fields of `GET /api/targets`, and in the exit message of the CLI. Search this page for it.',
    '',
    ...codes,
    '## Errors of the HTTP API',
    '',
    'Every error answer of the HTTP API is JSON: `{"error": "<name>", "message": "<text>"}`. Besides the',
    'names below, an error is named after its HTTP status (`bad_request`, `uri_too_long`,',
    '`payload_too_large`, `internal_server_error`, …).',
    '',
    '| error | status | meaning |',
    '|---|---|---|',
    ...api,
    '',
  ].join('\n')
}

/** Whole files under docs/ generated from the code; `npm run docs` writes them and a test compares. */
export const GENERATED_FILES: Record<string, () => string> = {
  'docs/errors.md': errorsReference,
}
