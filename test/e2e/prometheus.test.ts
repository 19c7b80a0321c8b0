/**
 * The proof: a real Prometheus (Debian's package) scrapes a real sidecar that
 * watches one leaking and one healthy process, evaluates the shipped alert
 * rules (time-compressed), and raises the leak alert for the leaking target
 * only. Everything is queried through Prometheus's HTTP API.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parseDocument, isMap, isSeq } from 'yaml'
import { Sidecar } from '../../src/sidecar.js'
import { testConfig } from '../helpers/config.js'
import { prometheusBinary, startPrometheus } from '../helpers/prometheus.js'
import { repoRoot, spawnTarget, waitFor } from '../helpers/targets.js'

interface Alert {
  labels: Record<string, string>
  annotations: Record<string, string>
  state: 'pending' | 'firing' | 'inactive'
}

/** The shipped rules with every `for:` shortened to `seconds`. */
function compressedRules(seconds: number): string {
  const doc = parseDocument(readFileSync(`${repoRoot}/deploy/prometheus/leakwatch-rules.yaml`, 'utf8'))
  const groups = doc.get('groups')
  if (!isSeq(groups)) throw new Error('rules file without groups')
  for (const group of groups.items) {
    if (!isMap(group)) continue
    group.set('interval', '1s')
    const rules = group.get('rules')
    if (!isSeq(rules)) continue
    for (const rule of rules.items) if (isMap(rule) && rule.has('for')) rule.set('for', `${seconds}s`)
  }
  return doc.toString()
}

t.test('Prometheus raises NodejsHeapLeakSuspected for the leaking target and nothing for the healthy one', async (t) => {
  t.ok(prometheusBinary, 'prometheus is installed (Debian package prometheus; .ci/run installs it)')
  const leaky = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', env: { LEAK: '1' } })
  const healthy = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const sidecar = new Sidecar(
    testConfig(
      [
        { name: 'leaky', port: leaky.port },
        { name: 'healthy', port: healthy.port },
      ],
      { attribution: { mode: 'on-suspicion' }, analysis: { warmupMs: 3000 } },
    ),
    { logger: false },
  )
  const sidecarUrl = await sidecar.start()
  t.teardown(() => sidecar.stop())

  const { get } = await startPrometheus(t, { scrape: [new URL(sidecarUrl).host], rules: compressedRules(3) })
  const rules = (await get('/rules')) as { groups: Array<{ rules: Array<{ name: string; health: string }> }> }
  const loaded = rules.groups.flatMap((group) => group.rules)
  t.ok(loaded.some((rule) => rule.name === 'NodejsHeapLeakSuspected'), 'the shipped rules are loaded')
  t.same(loaded.filter((rule) => rule.health === 'err').map((rule) => rule.name), [], 'every rule evaluates')

  const alert = await waitFor(
    async () => {
      const { alerts } = (await get('/alerts')) as { alerts: Alert[] }
      return alerts.find((a) => a.labels['alertname'] === 'NodejsHeapLeakSuspected' && a.labels['target'] === 'leaky')
    },
    { timeoutMs: 90_000, intervalMs: 500, what: 'NodejsHeapLeakSuspected for the leaking target' },
  )
  t.ok(['pending', 'firing'].includes(alert.state), `alert ${alert.state}`)
  t.equal(alert.labels['severity'], 'warning')
  t.match(alert.annotations['description'] ?? '', /target leaky/)
  t.match(alert.annotations['runbook_url'] ?? '', /docs\/runbooks\/NodejsHeapLeakSuspected\.md$/)

  const { alerts } = (await get('/alerts')) as { alerts: Alert[] }
  t.same(
    alerts.filter((a) => a.labels['target'] === 'healthy').map((a) => a.labels['alertname']),
    [],
    'no alert for the healthy target',
  )
  const up = (await get('/query?query=leakwatch_target_up')) as { result: Array<{ metric: { target: string }; value: [number, string] }> }
  t.same(
    up.result.map((r) => [r.metric.target, r.value[1]]).sort(),
    [
      ['healthy', '1'],
      ['leaky', '1'],
    ],
  )
})
