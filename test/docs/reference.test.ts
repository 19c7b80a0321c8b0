import { existsSync, readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { catalog } from '../../src/export/catalog.js'
import { ERROR_CODES } from '../../src/core/errors.js'
import { errorsReference, GENERATED_DOCUMENTS, GENERATED_FILES, GENERATED_SECTIONS, generatedBlocksIn, metricReference, renderGeneratedSections } from '../../src/docs/reference.js'

const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')

t.test('the generated reference blocks match the code (run `npm run docs` to refresh)', async (t) => {
  for (const document of GENERATED_DOCUMENTS) t.equal(read(document), renderGeneratedSections(read(document)), `${document}: generated blocks are current`)
})

t.test('every generated block lives in exactly one document, none in the README', async (t) => {
  const holders = Object.keys(GENERATED_SECTIONS).map((name) => [name, GENERATED_DOCUMENTS.filter((document) => generatedBlocksIn(read(document)).includes(name))] as const)
  for (const [name, documents] of holders) t.equal(documents.length, 1, `generated:${name} is in one document (${documents.join(', ') || 'none'})`)
  t.same(generatedBlocksIn(read('README.md')), [], 'the README keeps no generated reference')
  t.same(generatedBlocksIn('no markers'), [])
  t.equal(renderGeneratedSections('no markers'), 'no markers')
})

t.test('the README stays a first read: small, with the two commands and links to docs/', async (t) => {
  const readme = read('README.md')
  t.ok(Buffer.byteLength(readme) < 30_000, `README.md is ${Buffer.byteLength(readme)} bytes (< 30 KB)`)
  t.match(readme, /npm ci && npm run demo/)
  t.match(readme, /npm ci && npm test/)
  for (const [, link] of readme.matchAll(/\]\((docs\/[^)#]+)/g)) t.ok(existsSync(new URL(`../../${link}`, import.meta.url)), `${link} exists`)
  // The excerpt of /metrics shows real metric names.
  const excerpt = /## What \/metrics looks like[\s\S]*?```text\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
  const names = [...excerpt.matchAll(/^([a-z_]+?)(?:_bucket|_count|_sum)?\{/gm)].map((match) => match[1] as string)
  t.ok(names.length >= 10, `${names.length} sample lines`)
  const known = new Set(catalog.map((metric) => metric.prom))
  for (const name of names) t.ok(known.has(name), `${name} is in the catalog`)
})

t.test('the metric reference lists every catalog metric once', async (t) => {
  const table = metricReference()
  for (const metric of catalog) t.equal(table.split(`\`${metric.prom}\``).length - 1, 1, metric.prom)
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
