/**
 * Generates deploy/kubernetes/base/prometheusrule.yaml (a Prometheus Operator PrometheusRule)
 * from the canonical rules file deploy/prometheus/leakwatch-rules.yaml, keeping its comments
 * and scalar styles.
 *
 *   node --import @tapjs/typescript/import scripts/gen-manifests.ts           # write
 *   node --import @tapjs/typescript/import scripts/gen-manifests.ts --check   # exit 1 if stale
 *
 * test/deploy/manifests.test.ts fails when the committed file differs from what this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Document, isMap, isSeq, parseDocument } from 'yaml'

export const RULES_PATH = 'deploy/prometheus/leakwatch-rules.yaml'
export const PROMETHEUS_RULE_PATH = 'deploy/kubernetes/base/prometheusrule.yaml'

/** Helm reads files only inside the chart: verbatim copies of the canonical rules and dashboard. */
export const CHART_COPIES: ReadonlyArray<readonly [from: string, to: string]> = [
  [RULES_PATH, 'helm/leakwatch/files/leakwatch-rules.yaml'],
  ['deploy/grafana/leakwatch-dashboard.json', 'helm/leakwatch/files/leakwatch-dashboard.json'],
]

const HEADER = [
  ` Generated from ${RULES_PATH} by scripts/gen-manifests.ts: do not edit.`,
  ' Regenerate: node --import @tapjs/typescript/import scripts/gen-manifests.ts',
  ' kube-prometheus-stack selects rules by label (ruleSelector, often release: <helm release>):',
  ' add the label your Prometheus selects on, e.g. with a kustomize `labels` entry.',
].join('\n')

/** Render the PrometheusRule manifest for the text of a Prometheus rules file. */
export function renderPrometheusRule(rulesText: string): string {
  const source = parseDocument(rulesText, { prettyErrors: true })
  if (source.errors.length > 0) throw new Error(`${RULES_PATH}: ${source.errors.map((e) => e.message).join('; ')}`)
  if (!isMap(source.contents)) throw new Error(`${RULES_PATH}: expected a mapping with "groups"`)
  const groups = source.contents.get('groups', true)
  if (!isSeq(groups) || groups.items.length === 0) throw new Error(`${RULES_PATH}: expected a non-empty "groups" list`)

  const doc = new Document({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'leakwatch',
      labels: { 'app.kubernetes.io/name': 'leakwatch', 'app.kubernetes.io/component': 'alerting' },
    },
    spec: { groups: null },
  })
  doc.setIn(['spec', 'groups'], groups.clone())
  doc.commentBefore = HEADER
  return doc.toString({ lineWidth: 100 })
}

/** CLI: write the file, or with `--check` report whether it is current. Returns the exit code. */
export function run(
  args: readonly string[],
  root: URL = new URL('../', import.meta.url),
  /* c8 ignore next */
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): number {
  const outputs: Array<[path: string, content: string]> = [
    [PROMETHEUS_RULE_PATH, renderPrometheusRule(readFileSync(new URL(RULES_PATH, root), 'utf8'))],
    ...CHART_COPIES.map(([from, to]): [string, string] => [to, readFileSync(new URL(from, root), 'utf8')]),
  ]
  const check = args.includes('--check')
  let stale = 0
  for (const [path, rendered] of outputs) {
    const target = new URL(path, root)
    let current: string | undefined
    try {
      current = readFileSync(target, 'utf8')
    } catch {
      current = undefined
    }
    const ok = current === rendered
    if (check) {
      if (!ok) stale += 1
      print(`${path} is ${ok ? 'up to date' : 'stale: run scripts/gen-manifests.ts'}`)
      continue
    }
    if (!ok) writeFileSync(target, rendered)
    print(`${path} ${ok ? 'is up to date' : 'written'}`)
  }
  return stale === 0 ? 0 : 1
}

/* c8 ignore next 3 */
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = run(process.argv.slice(2))
}
