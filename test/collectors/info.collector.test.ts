import t from 'tap'
import infoCollector, { parseProcessInfo } from '../../src/collectors/info.collector.js'
import type { ScalarSample } from '../../src/core/metrics.js'
import { MalformedReplyError } from '../../src/core/errors.js'
import { recordedReply } from '../helpers/replies.js'

t.test('info: identity as one info series', async (t) => {
  const raw = recordedReply('info.1') as { pid: number; nodeVersion: string; startTime: number }
  const samples = infoCollector.parse(raw, undefined, 0).samples as ScalarSample[]
  const info = samples.find((s) => s.key === 'targetInfo')
  t.equal(info?.value, 1)
  t.equal(info?.labels?.['pid'], String(raw.pid))
  t.equal(info?.labels?.['node_version'], raw.nodeVersion)
  t.equal(samples.find((s) => s.key === 'targetStartTime')?.value, raw.startTime / 1000)
  const long = infoCollector.parse({ ...raw, script: `/${'a'.repeat(1000)}/app.js` }, undefined, 0).samples as ScalarSample[]
  t.ok((long[0]?.labels?.['script'] ?? '').length <= 201, 'long label values are clipped')
  t.ok(long[0]?.labels?.['script']?.endsWith('/app.js'), 'clipping keeps the file name')
  t.throws(() => parseProcessInfo({ pid: 0 }), MalformedReplyError)
})
