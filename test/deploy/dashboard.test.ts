/**
 * The Grafana dashboard (deploy/grafana/leakwatch-dashboard.json): its structure, the PromQL
 * syntax of every query it contains (checked by the real `promtool check rules`, one recording
 * rule per query), and that every metric it uses exists in the catalog.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { stringify } from 'yaml'
import { catalog } from '../../src/export/catalog.js'
import { promtoolPath } from '../helpers/promtool.js'

const DASHBOARD_PATH = fileURLToPath(new URL('../../deploy/grafana/leakwatch-dashboard.json', import.meta.url))
const DATASOURCE = '${datasource}'
const FILTER_VARIABLES = ['cluster', 'namespace', 'pod', 'target'] as const
/**
 * The sidecar's own process metrics (`leakwatch_process_*`, `leakwatch_nodejs_*`) are not in the
 * catalog and carry no `target` label. The dashboard uses none; adding one means listing it here.
 */
const SIDECAR_SELF_METRICS_USED = new Set<string>()
/** Values for Grafana's built-in variables: any valid value will do for a syntax check. */
const BUILTIN_VARIABLES: Readonly<Record<string, string>> = {
  __rate_interval: '5m',
  __interval: '1m',
  __interval_ms: '60000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
}
/** Metrics the issue asks the dashboard to show (heap floor vs raw heap, RSS vs limit, ...). */
const REQUIRED_METRICS = [
  'leakwatch_floor_bytes',
  'nodejs_heap_size_used_bytes',
  'process_resident_memory_bytes',
  'leakwatch_memory_limit_bytes',
  'leakwatch_leak_slope_bytes_per_second',
  'leakwatch_leak_suspected',
  'leakwatch_leak_trend_confidence',
  'leakwatch_leak_onset_timestamp_seconds',
  'leakwatch_time_to_heap_limit_seconds',
  'leakwatch_time_to_memory_limit_seconds',
  'leakwatch_site_growth_bytes_per_second',
  'leakwatch_site_live_bytes',
  'nodejs_gc_duration_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_utilization_ratio',
  'leakwatch_profiler_pause_seconds_total',
  'leakwatch_target_up',
  'leakwatch_collector_success',
]
const PANEL_TYPES = new Set(['row', 'timeseries', 'stat', 'table', 'state-timeline', 'bargauge', 'gauge', 'text'])

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

interface Panel {
  id: number
  type: string
  title: string
  description?: string
  collapsed?: boolean
  gridPos?: { x: number; y: number; w: number; h: number }
  datasource?: Json
  targets?: Array<{ refId?: string; expr?: string; datasource?: Json; instant?: boolean; format?: string }>
  panels?: Panel[]
  fieldConfig?: {
    defaults?: { unit?: string }
    overrides?: Array<{ properties?: Array<{ id: string; value?: Json }> }>
  }
  transformations?: Array<{ id: string; options?: JsonObject }>
}

interface Variable {
  name: string
  type: string
  query?: string | { query?: string }
  datasource?: Json
  multi?: boolean
  includeAll?: boolean
  refresh?: number
}

interface Dashboard {
  uid: string
  title: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: Variable[] }
  annotations?: { list?: Array<{ name: string; expr?: string; datasource?: Json }> }
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard
const dashboardJson = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Json

/** Every panel, rows' nested panels included (collapsed rows keep theirs in `panels`). */
function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])])
}
const panels = allPanels(dashboard.panels)
const queryPanels = panels.filter((panel) => panel.type !== 'row')

interface Query {
  /** Where it comes from, for messages. */
  readonly where: string
  /** As written in the dashboard, template variables included. */
  readonly raw: string
  /** The PromQL Prometheus would receive (variables substituted), or undefined when Grafana-only. */
  readonly promql: string | undefined
  /** Whether it queries target metrics that must be narrowed by the three filter variables. */
  readonly filtered: boolean
}

function variableQuery(variable: Variable): string | undefined {
  return typeof variable.query === 'string' ? variable.query : variable.query?.query
}

/**
 * The PromQL inside a Prometheus variable query: `label_values(selector, label)` and
 * `query_result(expr)` are Grafana functions wrapped around PromQL; `label_values(label)`,
 * `label_names()` and `metrics(regex)` contain none.
 */
function promqlOfVariableQuery(query: string): string | undefined {
  const labelValues = /^\s*label_values\(\s*(.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/s.exec(query)
  if (labelValues !== null) return labelValues[1]
  if (/^\s*(label_values|label_names|metrics)\(/.test(query)) return undefined
  const queryResult = /^\s*query_result\((.*)\)\s*$/s.exec(query)
  if (queryResult !== null) return queryResult[1]
  return query
}

/** Substitutes `$name`, `${name}`, `${name:format}` and `[[name]]`; throws on unknown variables. */
function substituteVariables(expr: string, dashboardVariables: ReadonlySet<string>): string {
  return expr.replace(
    /\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)/g,
    (match, braced?: string, bracketed?: string, bare?: string) => {
      const name = braced ?? bracketed ?? bare ?? ''
      if (/^\d+$/.test(name)) return match // `$1` in a label_replace replacement is PromQL's own
      const builtin = BUILTIN_VARIABLES[name]
      if (builtin !== undefined) return builtin
      if (dashboardVariables.has(name)) return '.*'
      throw new Error(`unknown template variable ${match} in ${expr}`)
    },
  )
}

const variableNames = new Set(dashboard.templating.list.map((variable) => variable.name))

const queries: Query[] = [
  ...queryPanels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      where: `panel ${panel.id} "${panel.title}" query ${target.refId ?? '?'}`,
      raw: target.expr ?? '',
      filtered: true,
    })),
  ),
  ...(dashboard.annotations?.list ?? [])
    .filter((annotation) => annotation.expr !== undefined)
    .map((annotation) => ({ where: `annotation "${annotation.name}"`, raw: annotation.expr ?? '', filtered: true })),
].map((query) => ({ ...query, promql: substituteVariables(query.raw, variableNames) }))

const variableQueries: Query[] = dashboard.templating.list
  .filter((variable) => variable.type === 'query')
  .map((variable) => {
    const raw = variableQuery(variable) ?? ''
    const inner = promqlOfVariableQuery(raw)
    return {
      where: `variable ${variable.name}`,
      raw,
      promql: inner === undefined ? undefined : substituteVariables(inner, variableNames),
      filtered: false,
    }
  })

const allQueries = [...queries, ...variableQueries]

/** Metric names a query uses, histogram series mapped back to their family. */
const METRIC_TOKEN = /(?<![A-Za-z0-9_:])(?:leakwatch|nodejs|process)_[a-z0-9_]+/g
const catalogNames = new Map(catalog.map((metric) => [metric.prom, metric]))

function metricFamily(name: string): string {
  if (catalogNames.has(name)) return name
  const family = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1]
  if (family !== undefined && catalogNames.get(family)?.type === 'histogram') return family
  return name
}

function walk(value: Json, visit: (key: string, value: Json, path: string) => void, path = '$'): void {
  if (Array.isArray(value)) value.forEach((item, index) => walk(item, visit, `${path}[${index}]`))
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      visit(key, child, `${path}.${key}`)
      walk(child, visit, `${path}.${key}`)
    }
  }
}

function isDatasourceVariableRef(value: Json | undefined): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    value.type === 'prometheus' &&
    value.uid === DATASOURCE
  )
}

t.test('dashboard identity', async (t) => {
  t.equal(dashboard.uid, 'leakwatch')
  t.equal(dashboard.title, 'leakwatch — Node.js memory leaks')
  t.type(dashboard.schemaVersion, 'number')
  t.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion} is Grafana 9-11`)
})

t.test('the datasource is a variable, and the filter variables chain on it', async (t) => {
  const list = dashboard.templating.list
  const datasource = list.find((variable) => variable.name === 'datasource')
  t.ok(datasource, 'a datasource variable')
  t.equal(datasource?.type, 'datasource')
  t.equal(datasource?.query, 'prometheus')
  t.equal(list[0]?.name, 'datasource', 'declared first: every other variable queries through it')

  const positions = FILTER_VARIABLES.map((name) => list.findIndex((variable) => variable.name === name))
  t.same([...positions].sort((a, b) => a - b), positions, 'cluster, namespace, pod, target in chain order')
  for (const [index, name] of FILTER_VARIABLES.entries()) {
    const variable = list.find((candidate) => candidate.name === name)
    t.ok(variable, `variable ${name}`)
    if (variable === undefined) continue
    t.equal(variable.type, 'query', `${name} is a query variable`)
    t.ok(isDatasourceVariableRef(variable.datasource), `${name} queries \${datasource}`)
    t.equal(variable.multi, true, `${name} is multi-value`)
    t.equal(variable.includeAll, true, `${name} includes All`)
    t.ok((variable.refresh ?? 0) >= 1, `${name} refreshes with the dashboard`)
    const query = variableQuery(variable) ?? ''
    t.match(query, new RegExp(`^label_values\\(.*,\\s*${name}\\)$`), `${name} lists the values of label ${name}`)
    for (const upstream of FILTER_VARIABLES.slice(0, index)) {
      t.ok(query.includes(`${upstream}=~"$${upstream}"`), `${name} is narrowed by $${upstream}`)
    }
  }
})

t.test('no hard-coded datasource anywhere', async (t) => {
  const refs: string[] = []
  walk(dashboardJson, (key, value, path) => {
    if (key === 'datasource') {
      refs.push(path)
      t.ok(isDatasourceVariableRef(value), `${path} is {"type":"prometheus","uid":"${DATASOURCE}"}: ${JSON.stringify(value)}`)
    }
    if (key === 'uid' && path !== '$.uid') {
      t.ok(path.endsWith('.datasource.uid'), `${path}: the only uids are the dashboard's and datasource references`)
      t.equal(value, DATASOURCE, `${path} is ${DATASOURCE}`)
    }
  })
  t.ok(refs.length > queryPanels.length, 'datasource references found')
  t.notMatch(JSON.stringify(dashboardJson), /DS_[A-Z]/, 'no import-time ${DS_...} inputs')
})

t.test('panels: known types, unique ids, grid positions, datasource, units, descriptions', async (t) => {
  const ids = panels.map((panel) => panel.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  for (const id of ids) t.ok(Number.isInteger(id) && id > 0, `panel id ${id} is a positive integer`)

  for (const panel of panels) {
    const name = `panel ${panel.id} "${panel.title}"`
    t.ok(PANEL_TYPES.has(panel.type), `${name}: known type ${panel.type}`)
    t.ok(panel.title.trim() !== '', `${name}: titled`)
    const grid = panel.gridPos
    t.ok(grid, `${name}: gridPos`)
    if (grid !== undefined) {
      for (const key of ['x', 'y', 'w', 'h'] as const) t.ok(Number.isInteger(grid[key]) && grid[key] >= 0, `${name}: gridPos.${key}`)
      t.ok(grid.w >= 1 && grid.h >= 1 && grid.x + grid.w <= 24, `${name}: fits the 24-column grid`)
    }
    if (panel.type === 'row') {
      t.ok(Array.isArray(panel.panels), `${name}: rows list their nested panels`)
      if (panel.collapsed !== true) t.equal(panel.panels?.length, 0, `${name}: an expanded row keeps its panels at top level`)
      continue
    }
    t.ok(isDatasourceVariableRef(panel.datasource), `${name}: datasource is \${datasource}`)
    t.ok((panel.description ?? '').trim().length >= 20, `${name}: described`)
    const targets = panel.targets ?? []
    t.ok(targets.length > 0, `${name}: has queries`)
    const refIds = targets.map((target) => target.refId)
    t.equal(new Set(refIds).size, refIds.length, `${name}: unique refIds`)
    for (const target of targets) {
      t.ok(isDatasourceVariableRef(target.datasource), `${name} ${target.refId}: datasource is \${datasource}`)
      t.ok((target.expr ?? '').trim() !== '', `${name} ${target.refId}: has an expr`)
    }
    const units = [
      panel.fieldConfig?.defaults?.unit,
      ...(panel.fieldConfig?.overrides ?? []).flatMap((override) =>
        (override.properties ?? []).filter((property) => property.id === 'unit').map((property) => property.value),
      ),
    ].filter((unit) => typeof unit === 'string' && unit !== '')
    t.ok(units.length > 0, `${name}: sets a unit`)
  }
})

t.test('panels do not overlap', async (t) => {
  // Top-level panels (rows included) share one grid; a collapsed row's panels form their own.
  const layers = [dashboard.panels, ...dashboard.panels.filter((panel) => panel.collapsed === true).map((row) => row.panels ?? [])]
  const overlaps: string[] = []
  let pairs = 0
  for (const layer of layers) {
    const placed = layer.filter((panel) => panel.gridPos !== undefined)
    for (const [i, a] of placed.entries()) {
      for (const b of placed.slice(i + 1)) {
        const ga = a.gridPos!
        const gb = b.gridPos!
        pairs += 1
        if (ga.x < gb.x + gb.w && gb.x < ga.x + ga.w && ga.y < gb.y + gb.h && gb.y < ga.y + ga.h) overlaps.push(`${a.id} "${a.title}" / ${b.id} "${b.title}"`)
      }
    }
  }
  t.ok(pairs > 0, `${pairs} pairs of panels compared`)
  t.strictSame(overlaps, [], 'no two panels overlap')
})

t.test('template variables are substituted into valid values', async (t) => {
  const known = new Set(['namespace', 'pod', 'target'])
  t.equal(substituteVariables('x{a=~"$namespace", b=~"${pod}", c=~"${target:regex}", d=~"[[pod]]"}', known), 'x{a=~".*", b=~".*", c=~".*", d=~".*"}')
  t.equal(substituteVariables('rate(x[$__rate_interval]) + y[$__interval] + z[$__range]', known), 'rate(x[5m]) + y[1m] + z[1h]')
  t.equal(substituteVariables('label_replace(x, "a", "$1", "b", "(.*)")', known), 'label_replace(x, "a", "$1", "b", "(.*)")')
  t.throws(() => substituteVariables('x{a=~"$nope"}', known), /unknown template variable \$nope/)
  t.equal(promqlOfVariableQuery('label_values(up{job="a"}, pod)'), 'up{job="a"}')
  t.equal(promqlOfVariableQuery('label_values(pod)'), undefined)
  t.equal(promqlOfVariableQuery('query_result(topk(3, up))'), 'topk(3, up)')
  for (const query of allQueries) {
    if (query.promql !== undefined) t.notMatch(query.promql, /\$(?!\d)|\[\[/, `${query.where}: no variable left`)
  }
})

t.test('every query is valid PromQL (promtool check rules)', async (t) => {
  const promtool = promtoolPath()
  t.ok(promtool, 'promtool is installed (Debian package prometheus; .ci/run installs it)')
  if (promtool === undefined) return
  const directory = mkdtempSync(join(tmpdir(), 'leakwatch-dashboard-'))
  t.teardown(() => rmSync(directory, { recursive: true, force: true }))

  const check = (name: string, exprs: readonly string[]) => {
    const file = join(directory, `${name}.rules.yml`)
    const rules = exprs.map((expr, index) => ({ record: `dashboard:expr_${index}`, expr }))
    writeFileSync(file, stringify({ groups: [{ name: `dashboard-${name}`, rules }] }))
    const result = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 })
    return { status: result.status, output: `${result.stdout}${result.stderr}` }
  }

  // The check must be able to fail, or a pass would prove nothing.
  const broken = check('broken', ['sum(rate(leakwatch_target_up[5m])', 'leakwatch_target_up'])
  t.not(broken.status, 0, 'promtool rejects a malformed query')

  const checked = allQueries.filter((query) => query.promql !== undefined)
  t.ok(checked.length >= 30, `${checked.length} PromQL expressions found`)
  for (const query of queries) t.ok(query.promql !== undefined, `${query.where} is PromQL`)
  const exprs = checked.map((query) => query.promql!)
  const { status, output } = check('dashboard', exprs)
  t.equal(status, 0, `promtool check rules exits 0:\n${output}\n${exprs.map((e, i) => `expr_${i}: ${e}`).join('\n')}`)
  t.match(output, new RegExp(`SUCCESS: ${exprs.length} rules found`))
})

t.test('every metric used exists in the catalog', async (t) => {
  const used = new Set<string>()
  for (const query of allQueries) {
    const tokens = query.raw.match(METRIC_TOKEN) ?? []
    t.ok(tokens.length > 0 || query.promql === undefined, `${query.where} uses a leakwatch metric`)
    for (const token of tokens) {
      const family = metricFamily(token)
      used.add(family)
      if (/^leakwatch_(process|nodejs)_/.test(family)) {
        t.ok(SIDECAR_SELF_METRICS_USED.has(family), `${query.where}: sidecar self metric ${family} is whitelisted`)
      } else {
        t.ok(catalogNames.has(family), `${query.where}: ${token} is in the catalog`)
      }
    }
  }
  for (const metric of REQUIRED_METRICS) {
    t.ok(catalogNames.has(metric), `${metric} is a catalog metric`)
    t.ok(used.has(metric), `the dashboard shows ${metric}`)
  }
  t.equal(metricFamily('nodejs_gc_duration_seconds_bucket'), 'nodejs_gc_duration_seconds')
  t.equal(metricFamily('leakwatch_target_polls_total'), 'leakwatch_target_polls_total')
  t.equal(metricFamily('leakwatch_target_up_count'), 'leakwatch_target_up_count', 'only histograms have _count series')
})

t.test('every panel query is narrowed by $cluster, $namespace, $pod and $target', async (t) => {
  const selector = /(?<![A-Za-z0-9_:])((?:leakwatch|nodejs|process)_[a-z0-9_]+)\s*(\{[^}]*\})?/g
  for (const query of queries.filter((candidate) => candidate.filtered)) {
    for (const [, metric, matchers] of query.raw.matchAll(selector)) {
      if (SIDECAR_SELF_METRICS_USED.has(metricFamily(metric!))) continue // no target label
      for (const name of FILTER_VARIABLES) {
        t.ok((matchers ?? '').includes(`${name}=~"$${name}"`), `${query.where}: ${metric} filtered by ${name}=~"$${name}"`)
      }
    }
  }
})

t.test('ranges follow the scrape interval ($__rate_interval), never a fixed window', async (t) => {
  let ranges = 0
  for (const query of queries) {
    for (const [range] of query.raw.matchAll(/\[[^\]]*\]/g)) {
      ranges += 1
      t.equal(range, '[$__rate_interval]', `${query.where}: ${range}`)
    }
  }
  t.ok(ranges >= 5, `${ranges} range selectors checked`)
})

t.test('aggregations keep the cluster apart', async (t) => {
  for (const query of queries) {
    for (const [, labels] of query.raw.matchAll(/\bby \(([^)]*)\)/g)) {
      if ((labels ?? '').includes('namespace')) t.match(labels, /\bcluster\b/, `${query.where}: by (${labels}) keeps cluster`)
    }
  }
})

t.test('top growing sites: an instant table with the site as a column', async (t) => {
  const panel = queryPanels.find((candidate) =>
    (candidate.targets ?? []).some((target) => /topk\(\s*10\s*,[^]*leakwatch_site_growth_bytes_per_second/.test(target.expr ?? '')),
  )
  t.ok(panel, 'a panel ranks sites with topk(10, ...)')
  if (panel === undefined) return
  t.equal(panel.type, 'table')
  const targets = panel.targets ?? []
  t.ok(targets.some((target) => (target.expr ?? '').includes('leakwatch_site_live_bytes')), 'live bytes alongside growth')
  for (const target of targets) {
    t.equal(target.instant, true, `${target.refId} is an instant query`)
    t.equal(target.format, 'table', `${target.refId} is formatted as a table`)
    t.notMatch(target.expr ?? '', /\b(sum|max|min|avg) (by|without) \((?![^)]*\bsite\b)[^)]*\)/, `${target.refId} keeps the site label`)
  }
  const organize = panel.transformations?.find((transformation) => transformation.id === 'organize')?.options
  const excluded = (organize?.excludeByName ?? {}) as JsonObject
  t.not(excluded.site, true, 'the site column is shown')
})

t.test('onset is shown as a time (milliseconds since the epoch)', async (t) => {
  const onset = queryPanels.flatMap((panel) =>
    (panel.targets ?? [])
      .filter((target) => /leakwatch_leak_onset_timestamp_seconds[^]*\*\s*1000/.test(target.expr ?? ''))
      .map(() => panel),
  )
  t.ok(onset.length > 0, 'an onset query scaled to milliseconds')
  for (const panel of onset) {
    const units = JSON.stringify(panel.fieldConfig ?? {})
    t.match(units, /"dateTime(AsIso|AsUS|AsLocal|FromNow)"|"dateTimeAsIso"/, `panel ${panel.id} formats it as a date`)
  }
})
