// One test ties the registered collectors, the catalog and the agent's parts together: a
// collector file is all it takes to add a collector, and nothing can be half-added.
import { existsSync, readdirSync } from 'node:fs'
import t from 'tap'
import { AGENT_PARTS, INSTALL_AGENT } from '../../src/collectors/agent.js'
import { COLLECTOR_METRICS, COLLECTOR_NAMES, COLLECTORS } from '../../src/collectors/registry.js'
import { isAgentCollector } from '../../src/collectors/types.js'
import { catalog } from '../../src/export/catalog.js'

const SRC = new URL('../../src/collectors/', import.meta.url)
const TESTS = new URL('./', import.meta.url)
const FIXTURES = new URL('../fixtures/replies/', import.meta.url)

t.test('every *.collector.ts file is registered, in poll order, under a unique name', async (t) => {
  const files = readdirSync(SRC).filter((file) => file.endsWith('.collector.ts'))
  t.equal(COLLECTORS.length, files.length, `${files.length} collector files, ${COLLECTORS.length} registered`)
  t.equal(new Set(COLLECTOR_NAMES).size, COLLECTOR_NAMES.length, 'names are unique')
  const orders = COLLECTORS.map((collector) => collector.order)
  t.strictSame(orders, [...orders].sort((a, b) => a - b), 'poll order')
  t.strictSame(COLLECTOR_NAMES, COLLECTORS.map((collector) => collector.name))
})

t.test("each collector's metrics are in the catalog, and name the collector", async (t) => {
  const inCatalog = new Set(catalog.map((metric) => metric.key))
  for (const collector of COLLECTORS) {
    t.ok(collector.metrics.length > 0, `${collector.name} declares its metrics`)
    for (const metric of collector.metrics) {
      t.ok(inCatalog.has(metric.key), `${metric.key} (${collector.name}) is in the catalog`)
      t.equal(metric.collector, collector.name, `${metric.prom} names its collector`)
    }
  }
  t.equal(COLLECTOR_METRICS.length, COLLECTORS.reduce((n, c) => n + c.metrics.length, 0))
  const producedByCollectors = new Set(COLLECTOR_NAMES)
  for (const metric of catalog) {
    if (!['monitor', 'analysis', 'attribution', 'holders'].includes(metric.collector)) {
      t.ok(producedByCollectors.has(metric.collector), `${metric.prom}: produced by a registered collector (${metric.collector})`)
    }
  }
})

t.test('the agent has exactly the agent collectors as parts', async (t) => {
  t.strictSame(AGENT_PARTS, COLLECTORS.filter(isAgentCollector).map((collector) => collector.name))
  for (const part of AGENT_PARTS) t.ok(INSTALL_AGENT.includes(`${JSON.stringify(part)}: {`), `${part} is in the install snippet`)
})

t.test('each collector has its recorded replies and its own test file', async (t) => {
  for (const collector of COLLECTORS) {
    for (const round of [1, 2]) t.ok(existsSync(new URL(`${collector.name}.${round}.json`, FIXTURES)), `fixtures/replies/${collector.name}.${round}.json`)
  }
  const sources = readdirSync(SRC).filter((file) => file.endsWith('.collector.ts'))
  for (const file of sources) t.ok(existsSync(new URL(file.replace(/\.ts$/, '.test.ts'), TESTS)), `test/collectors/${file.replace(/\.ts$/, '.test.ts')}`)
})
