import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { catalog } from '../../src/export/catalog.js'
import { ERROR_CODES } from '../../src/core/errors.js'
import { errorsReference, GENERATED_FILES, metricReference, renderGeneratedSections } from '../../src/docs/reference.js'

t.test('README reference sections match the code (run `npm run docs` to refresh)', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  t.equal(readme, renderGeneratedSections(readme), 'README generated sections are current')
})

t.test('the metric reference lists every catalog metric once', async (t) => {
  const table = metricReference()
  for (const metric of catalog) t.equal(table.split(`\`${metric.prom}\``).length - 1, 1, metric.prom)
  t.throws(() => renderGeneratedSections('no markers'), /generated:metrics/)
})

t.test('catalog names follow the conventions', async (t) => {
  const seen = new Set<string>()
  for (const metric of catalog) {
    t.notOk(seen.has(metric.prom), `${metric.prom} unique`)
    seen.add(metric.prom)
    t.match(metric.prom, /^[a-z][a-z0-9_]*$/, `${metric.prom} is snake_case`)
    if (metric.type === 'counter') t.match(metric.prom, /_total$/, `${metric.prom} counter ends in _total`)
    else if (metric.promClient !== true) t.notMatch(metric.prom, /_total$/, `${metric.prom} non-counter has no _total`)
    if (metric.unit === 'By') t.match(metric.prom, /_bytes$/, `${metric.prom} in bytes ends in _bytes`)
    if (metric.unit === 'By/s') t.match(metric.prom, /_bytes_per_second$/, `${metric.prom} is in bytes per second`)
    if (metric.unit === 's') t.match(metric.prom, /_seconds(_total)?$/, `${metric.prom} in seconds ends in _seconds`)
    if (metric.type === 'histogram') t.ok(metric.buckets && metric.buckets.length > 0, `${metric.prom} has buckets`)
  }
})

t.test("metrics marked as prom-client's are prom-client's defaults, with its type", async (t) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const defaults = new Map((await registry.getMetricsAsJSON()).map((metric) => [metric.name, String(metric.type)]))
  for (const metric of catalog.filter((m) => m.promClient === true)) {
    t.equal(defaults.get(metric.prom), metric.type, `${metric.prom} is a prom-client default ${metric.type}`)
  }
})

t.test('generated files under docs/ match the code (run `npm run docs` to refresh)', async (t) => {
  for (const [file, render] of Object.entries(GENERATED_FILES)) {
    t.equal(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'), render(), `${file} is current`)
  }
})

t.test('every error code used in src/ is documented, and every documented code is used', async (t) => {
  const used = new Set<string>()
  const walk = (dir: URL): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(new URL(`${entry.name}/`, dir))
      else if (entry.name.endsWith('.ts')) for (const m of readFileSync(new URL(entry.name, dir), 'utf8').matchAll(/LW_ERR_[A-Z_]+/g)) used.add(m[0])
    }
  }
  walk(new URL('../../src/', import.meta.url))
  const documented = Object.keys(ERROR_CODES)
  t.strictSame([...used].sort(), [...documented].sort(), 'codes in src/ = codes in ERROR_CODES')
  const page = errorsReference()
  for (const code of documented) t.ok(page.includes(`## \`${code}\``), `${code} has a section in docs/errors.md`)
})
