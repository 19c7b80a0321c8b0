/**
 * The registered collectors: every `*.collector.ts` (built: `*.collector.js`)
 * file in this folder, whose default export is a Collector. Adding a collector
 * is adding its file (with its reply fixture and its test); the poll order,
 * the catalog, the config's collector names, the agent's parts and the docs
 * all follow from this list.
 */
import { readdirSync } from 'node:fs'
import type { MetricDefinition } from '../core/metrics.js'
import type { AnyCollector } from './types.js'

const FOLDER = new URL('./', import.meta.url)
/** `.ts` when run from source (tests, benches), `.js` when built; never both in one folder. */
const COLLECTOR_FILE = /^[a-z0-9-]+\.collector\.(ts|js)$/

const files = readdirSync(FOLDER).filter((file) => COLLECTOR_FILE.test(file)).sort()
const loaded = await Promise.all(files.map(async (file) => ({ file, module: (await import(new URL(file, FOLDER).href)) as { default?: AnyCollector } })))

for (const { file, module } of loaded) {
  const collector = module.default
  if (collector === undefined || typeof collector.name !== 'string' || typeof collector.parse !== 'function') {
    throw new Error(`src/collectors/${file} must export a collector as its default export`)
  }
}

/** Every collector of the Node.js target kind, in poll order (cheapest first). */
export const COLLECTORS: readonly AnyCollector[] = loaded
  .map(({ module }) => module.default as AnyCollector)
  .sort((a, b) => a.order - b.order || a.name.localeCompare(b.name))

/** Names accepted in a target's `disabledCollectors`. */
export const COLLECTOR_NAMES: readonly string[] = COLLECTORS.map((collector) => collector.name)

/** The metrics the collectors produce, in poll order. */
export const COLLECTOR_METRICS: readonly MetricDefinition[] = COLLECTORS.flatMap((collector) => collector.metrics)

const duplicate = COLLECTOR_NAMES.find((name, i) => COLLECTOR_NAMES.indexOf(name) !== i)
if (duplicate !== undefined) throw new Error(`two collectors are named ${duplicate}`)
