import t from 'tap'
import resources from '../../src/collectors/resources.collector.js'
import type { ScalarSample } from '../../src/core/metrics.js'
import { MalformedReplyError, UnavailableError } from '../../src/core/errors.js'
import { recordedReply } from '../helpers/replies.js'

t.test('resources: counts by type, bounded', async (t) => {
  const all = resources.parse(recordedReply('resources.1'), undefined, 0).samples as ScalarSample[]
  const samples = all.filter((s) => s.key === 'activeResources')
  t.equal(all.find((s) => s.key === 'activeResourcesTotal')?.value, 2, "prom-client's total")
  t.same(
    samples.map((s) => [s.labels?.['type'], s.value]).sort(),
    [
      ['TCPServerWrap', 1],
      ['Timeout', 1],
    ],
  )
  const many: Record<string, number> = {}
  for (let i = 0; i < 500; i++) many[`Type${i}`] = i
  const capped = (resources.parse({ counts: many }, undefined, 0).samples as ScalarSample[]).filter((s) => s.key === 'activeResources')
  t.equal(capped.length, 64, 'label values are capped')
  t.equal(capped[0]?.value, 499, 'the largest types are kept')
  t.throws(() => resources.parse({ unavailable: 'old node' }, undefined, 0), UnavailableError)
  t.throws(() => resources.parse({ counts: { Timeout: -1 } }, undefined, 0), MalformedReplyError)
})

