/**
 * Reference sections of the README, generated from the code that defines
 * them (the metric catalog, the snippet list, the CLI help) so the README can
 * never drift: `npm run docs` rewrites them and a test fails when they differ.
 */
import { HELP } from '../config.js'
import { TARGET_LABEL, catalog } from '../export/catalog.js'
import { SNIPPETS } from '../inspector/snippets.js'

const cell = (text: string): string => text.replaceAll('|', '\\|')

export function metricReference(): string {
  const rows = catalog.map((metric) => {
    const labels = [TARGET_LABEL, ...metric.labels].map((label) => `\`${label}\``).join(', ')
    return `| \`${metric.prom}\` | \`${metric.otel}\` | ${metric.type} | ${labels} | ${metric.collector} | ${cell(metric.help)} |`
  })
  return [
    '| Prometheus | OpenTelemetry | type | labels | collector | meaning |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n')
}

export function snippetReference(): string {
  return SNIPPETS.map(
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

/** Replace every `<!-- generated:NAME -->…<!-- /generated:NAME -->` block with fresh content. */
export function renderGeneratedSections(readme: string): string {
  let out = readme
  for (const [name, render] of Object.entries(GENERATED_SECTIONS)) {
    const pattern = new RegExp(`(<!-- generated:${name} -->)[\\s\\S]*?(<!-- /generated:${name} -->)`)
    if (!pattern.test(out)) throw new Error(`README has no generated:${name} block`)
    out = out.replace(pattern, (_match, start: string, end: string) => `${start}\n${render()}\n${end}`)
  }
  return out
}
