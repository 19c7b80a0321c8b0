import t from 'tap'
import heap from '../../src/collectors/heap.collector.js'
import type { ScalarSample } from '../../src/core/metrics.js'
import { MalformedReplyError } from '../../src/core/errors.js'
import { recordedReply } from '../helpers/replies.js'

const value = (samples: readonly unknown[], key: string, labels?: Record<string, string>): number | undefined =>
  (samples as ScalarSample[]).find(
    (s) => s.key === key && JSON.stringify(s.labels ?? {}) === JSON.stringify(labels ?? {}),
  )?.value

t.test('heap: Runtime.getHeapUsage reply', async (t) => {
  const raw = recordedReply('heap.1') as { usedSize: number; totalSize: number }
  const { samples } = heap.parse(raw, undefined, 0)
  t.equal(value(samples, 'heapUsed'), raw.usedSize)
  t.equal(value(samples, 'heapTotal'), raw.totalSize)
  t.throws(() => heap.parse({ usedSize: 'big' }, undefined, 0), MalformedReplyError)
  t.throws(() => heap.parse({ usedSize: -1, totalSize: 1 }, undefined, 0), MalformedReplyError)
  t.throws(() => heap.parse(undefined, undefined, 0), MalformedReplyError)
})

