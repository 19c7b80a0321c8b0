// An existing Node.js dashboard works on leakwatch's metrics: every panel query of the
// community "NodeJS Application Dashboard" (grafana.com 11159, written down in
// test/fixtures/dashboards/) returns data from a real Prometheus scraping a real sidecar
// that watches a real Node.js process — the target's own code exports nothing.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { Sidecar } from '../../src/sidecar.js'
import { testConfig } from '../helpers/config.js'
import { prometheusBinary, startPrometheus } from '../helpers/prometheus.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

interface CommunityDashboard {
  readonly variables: ReadonlyArray<{ name: string; query: string }>
  readonly panels: ReadonlyArray<{ title: string; queries: readonly string[] }>
}

const dashboard = JSON.parse(readFileSync(new URL('../fixtures/dashboards/nodejs-application-dashboard.json', import.meta.url), 'utf8')) as CommunityDashboard

/** A regex matcher value that matches exactly `text`. */
const exactly = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')

t.test('every panel of the community NodeJS Application Dashboard returns data for a watched target', async (t) => {
  t.ok(prometheusBinary, 'prometheus is installed (Debian package prometheus; .ci/run installs it)')
  t.ok(dashboard.panels.length >= 8 && dashboard.panels.every((panel) => panel.queries.length > 0), `${dashboard.panels.length} panels written down`)

  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const sidecar = new Sidecar(testConfig([{ name: 'app', port: target.port }]), { logger: false })
  const instance = new URL(await sidecar.start()).host
  t.teardown(() => sidecar.stop())
  const prometheus = await startPrometheus(t, { scrape: [instance] })

  // The dashboard's variable lists the sidecar as an instance, as it would list an app that runs prom-client.
  const variable = dashboard.variables.find((candidate) => candidate.name === 'instance')
  const [, metric, label] = /^label_values\((\w+), (\w+)\)$/.exec(variable?.query ?? '') ?? []
  t.equal(label, 'instance', 'the variable lists instances')
  const instances = await waitFor(
    async () => {
      const values = (await prometheus.get(`/label/${label}/values?match[]=${encodeURIComponent(metric ?? '')}`)) as string[]
      return values.includes(instance) ? values : undefined
    },
    { timeoutMs: 20_000, intervalMs: 250, what: `${variable?.query} listing ${instance}` },
  )
  t.ok(instances.includes(instance), `$instance offers ${instance}`)

  for (const panel of dashboard.panels) {
    for (const query of panel.queries) {
      const promql = query.replaceAll('$instance', exactly(instance))
      // irate over [2m] needs two scrapes of a counter that moved: poll, within bounds, until it has.
      const result = await waitFor(
        async () => {
          const data = (await prometheus.get(`/query?query=${encodeURIComponent(promql)}`)) as { result: Array<{ metric: Record<string, string>; value: [number, string] }> }
          return data.result.length > 0 && data.result.every((series) => Number.isFinite(Number(series.value[1]))) ? data.result : undefined
        },
        { timeoutMs: 20_000, intervalMs: 250, what: `panel "${panel.title}": ${promql} returning data (Prometheus log: ${prometheus.log().slice(-500)})` },
      ).catch((error: unknown) => {
        t.fail(`panel "${panel.title}": ${query} returns nothing`)
        throw error
      })
      t.ok(result.length > 0, `panel "${panel.title}": ${query}`)
    }
  }

  // The series carry the target, so a dashboard filtered by it tells several watched processes apart.
  const heap = (await prometheus.get(`/query?query=${encodeURIComponent(`nodejs_heap_size_used_bytes{instance="${instance}"}`)}`)) as { result: Array<{ metric: Record<string, string> }> }
  t.same(heap.result.map((series) => series.metric['target']), ['app'], 'one series, labelled with its target')
})
