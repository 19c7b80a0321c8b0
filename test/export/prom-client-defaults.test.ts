// prom-client compatibility: every metric of prom-client's default set — the list taken from
// the installed prom-client, collectDefaultMetrics into a fresh registry — appears in the
// /metrics of a sidecar watching a real Node.js process, with prom-client's type, label
// names, bucket bounds and the label values that do not depend on the process (heap space
// names, GC kinds, the Node version: the target runs on this same node binary), plus the
// `target` label. Dashboards written for prom-client then work with a `target` filter.
import { Registry, collectDefaultMetrics } from 'prom-client'
import t from 'tap'
import { Sidecar } from '../../src/sidecar.js'
import { testConfig } from '../helpers/config.js'
import { spawnTarget, waitFor } from '../helpers/targets.js'

interface Family {
  readonly type: string
  /** Every sample of the family, name (with its _bucket/_sum/_count suffix) and labels. */
  readonly samples: Array<{ name: string; labels: Record<string, string> }>
}

/** The text exposition, by family; enough of the format for prom-client's and leakwatch's output. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  let current: Family | undefined
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) {
      current = { type: type[2] as string, samples: [] }
      families.set(type[1] as string, current)
      continue
    }
    if (line === '' || line.startsWith('#') || current === undefined) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line)
    if (sample === null) continue
    const labels: Record<string, string> = {}
    for (const match of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[match[1] as string] = match[2] as string
    current.samples.push({ name: sample[1] as string, labels })
  }
  return families
}

const labelNames = (family: Family | undefined): string[] =>
  [...new Set((family?.samples ?? []).flatMap((sample) => Object.keys(sample.labels)))].filter((name) => name !== 'le' && name !== 'target').sort()

const labelValues = (family: Family | undefined, label: string): string[] =>
  [...new Set((family?.samples ?? []).map((sample) => sample.labels[label]).filter((value): value is string => value !== undefined))].sort()

t.test("every prom-client default metric appears for a watched target, as prom-client exports it", async (t) => {
  // The reference: prom-client's defaults in this very process, on the same node binary as the target.
  const reference = new Registry()
  collectDefaultMetrics({ register: reference })
  // Garbage until prom-client's GC observer has seen a collection, so its histogram has values.
  let garbage: unknown[] = []
  const expected = await waitFor(
    async () => {
      for (let i = 0; i < 20_000; i++) garbage.push({ i, text: `garbage ${i}` })
      garbage = []
      const parsed = parseExposition(await reference.metrics())
      return (parsed.get('nodejs_gc_duration_seconds')?.samples.length ?? 0) > 0 ? parsed : undefined
    },
    { timeoutMs: 10_000, intervalMs: 20, what: "a GC seen by prom-client's observer" },
  )
  t.ok(expected.size >= 20, `prom-client ${expected.size} default metrics`)

  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' })
  const sidecar = new Sidecar(testConfig([{ name: 'app', port: target.port }]), { logger: false })
  const url = await sidecar.start()
  t.teardown(() => sidecar.stop())

  // Counts by type have no sample while nothing of the kind is active (prom-client's neither):
  // those must be declared, and their _total sample must be there.
  const BY_TYPE_ONLY_WHEN_ACTIVE = new Set(['nodejs_active_requests', 'nodejs_active_handles', 'nodejs_active_resources'])
  const names = [...expected.keys()].filter((name) => !BY_TYPE_ONLY_WHEN_ACTIVE.has(name))
  // The target churns garbage, so GCs come within a second; the lag needs a second poll.
  const families = await waitFor(
    async () => {
      const text = await (await fetch(`${url}/metrics`)).text()
      const parsed = parseExposition(text)
      const missing = names.filter((name) => !(parsed.get(name)?.samples ?? []).some((sample) => sample.labels['target'] === 'app'))
      return missing.length === 0 ? parsed : undefined
    },
    { timeoutMs: 20_000, intervalMs: 200, what: 'every prom-client default metric with target="app"' },
  ).catch(async (error: unknown) => {
    const parsed = parseExposition(await (await fetch(`${url}/metrics`)).text())
    t.fail(`missing for the target: ${names.filter((name) => !(parsed.get(name)?.samples ?? []).some((s) => s.labels['target'] === 'app')).join(', ')}`)
    throw error
  })

  for (const [name, reference] of expected) {
    const family = families.get(name)
    t.ok(family !== undefined, `${name} is declared`)
    t.equal(family?.type, reference.type, `${name}: ${reference.type}`)
    if (BY_TYPE_ONLY_WHEN_ACTIVE.has(name) && (family?.samples.length === 0 || reference.samples.length === 0)) continue
    t.same(labelNames(family), labelNames(reference), `${name}: labels ${labelNames(reference).join(', ') || '(none)'} besides target`)
    if (reference.type === 'histogram') {
      t.same(labelValues(family, 'le'), labelValues(reference, 'le'), `${name}: prom-client's buckets`)
    }
  }
  // Label values that do not depend on what the process does.
  for (const name of ['nodejs_heap_space_size_total_bytes', 'nodejs_heap_space_size_used_bytes', 'nodejs_heap_space_size_available_bytes']) {
    t.same(labelValues(families.get(name), 'space'), labelValues(expected.get(name), 'space'), `${name}: prom-client's space names`)
  }
  t.same(
    labelValues(families.get('nodejs_version_info'), 'version').concat(labelValues(families.get('nodejs_version_info'), 'major')),
    labelValues(expected.get('nodejs_version_info'), 'version').concat(labelValues(expected.get('nodejs_version_info'), 'major')),
    'the same version labels',
  )
  const kinds = labelValues(families.get('nodejs_gc_duration_seconds'), 'kind')
  t.ok(kinds.length > 0 && kinds.every((kind) => ['major', 'minor', 'incremental', 'weakcb'].includes(kind)), `GC kinds are prom-client's (${kinds.join(', ')})`)
  t.ok(labelValues(families.get('nodejs_active_handles'), 'type').includes('Server'), 'the target listens: a Server handle, by its class name')
})
