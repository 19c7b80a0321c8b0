import t from 'tap'
import memory from '../../src/collectors/memory.collector.js'
import type { ScalarSample } from '../../src/core/metrics.js'
import { MalformedReplyError } from '../../src/core/errors.js'
import { recordedReply } from '../helpers/replies.js'

t.test('memory: process.memoryUsage reply', async (t) => {
  const raw = recordedReply('memory.1') as Record<string, number>
  const samples = memory.parse(raw, undefined, 0).samples as ScalarSample[]
  t.same(
    samples.map((s) => [s.key, s.value]),
    [
      ['rss', raw['rss']],
      ['external', raw['external']],
      ['arrayBuffers', raw['arrayBuffers']],
    ],
  )
  const old = memory.parse({ rss: 10, external: 2 }, undefined, 0).samples as ScalarSample[]
  t.equal(old.find((s) => s.key === 'arrayBuffers')?.value, 0, 'arrayBuffers absent on old Node → 0')
  t.throws(() => memory.parse({ rss: Number.NaN, external: 1 }, undefined, 0), MalformedReplyError)
})

