import { readFileSync } from 'node:fs'
import t from 'tap'
import { catalog } from '../../src/export/catalog.js'
import { metricReference, renderGeneratedSections } from '../../src/docs/reference.js'

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
    else t.notMatch(metric.prom, /_total$/, `${metric.prom} non-counter has no _total`)
    if (metric.unit === 'By') t.match(metric.prom, /_bytes$/, `${metric.prom} in bytes ends in _bytes`)
    if (metric.unit === 'By/s') t.match(metric.prom, /_bytes_per_second$/, `${metric.prom} is in bytes per second`)
    if (metric.unit === 's') t.match(metric.prom, /_seconds(_total)?$/, `${metric.prom} in seconds ends in _seconds`)
    if (metric.type === 'histogram') t.ok(metric.buckets && metric.buckets.length > 0, `${metric.prom} has buckets`)
  }
})
