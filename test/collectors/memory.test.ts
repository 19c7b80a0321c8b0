import t from 'tap'
import { memoryCollector } from '../../src/collectors/memory.js'
import { resourcesCollector } from '../../src/collectors/resources.js'
import { infoCollector, parseProcessInfo } from '../../src/collectors/info.js'
import type { ScalarSample } from '../../src/collectors/types.js'
import { MalformedReplyError, UnavailableError } from '../../src/errors.js'
import { recordedReply } from '../helpers/replies.js'

t.test('memory: process.memoryUsage reply', async (t) => {
  const raw = recordedReply('memory.1') as Record<string, number>
  const samples = memoryCollector.parse(raw, undefined, 0).samples as ScalarSample[]
  t.same(
    samples.map((s) => [s.key, s.value]),
    [
      ['rss', raw['rss']],
      ['external', raw['external']],
      ['arrayBuffers', raw['arrayBuffers']],
    ],
  )
  const old = memoryCollector.parse({ rss: 10, external: 2 }, undefined, 0).samples as ScalarSample[]
  t.equal(old.find((s) => s.key === 'arrayBuffers')?.value, 0, 'arrayBuffers absent on old Node → 0')
  t.throws(() => memoryCollector.parse({ rss: Number.NaN, external: 1 }, undefined, 0), MalformedReplyError)
})

t.test('resources: counts by type, bounded', async (t) => {
  const samples = resourcesCollector.parse(recordedReply('resources.1'), undefined, 0).samples as ScalarSample[]
  t.same(
    samples.map((s) => [s.labels?.['type'], s.value]).sort(),
    [
      ['TCPServerWrap', 1],
      ['Timeout', 1],
    ],
  )
  const many: Record<string, number> = {}
  for (let i = 0; i < 500; i++) many[`Type${i}`] = i
  const capped = resourcesCollector.parse({ counts: many }, undefined, 0).samples as ScalarSample[]
  t.equal(capped.length, 64, 'label values are capped')
  t.equal(capped[0]?.value, 499, 'the largest types are kept')
  t.throws(() => resourcesCollector.parse({ unavailable: 'old node' }, undefined, 0), UnavailableError)
  t.throws(() => resourcesCollector.parse({ counts: { Timeout: -1 } }, undefined, 0), MalformedReplyError)
})

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
