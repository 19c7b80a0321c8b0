import t from 'tap'
import processCollector from '../../src/collectors/process.collector.js'
import type { ScalarSample } from '../../src/core/metrics.js'
import { MalformedReplyError } from '../../src/core/errors.js'
import { recordedReply } from '../helpers/replies.js'

interface ProcessReply {
  cpu: { user: number; system: number }
  status: { VmSize: number; VmRSS: number; VmData: number } | null
  openFds: number | null
  maxFds: number | null
  handles: Record<string, number> | null
  requests: Record<string, number> | null
}

const value = (samples: readonly unknown[], key: string, labels?: Record<string, string>): number | undefined =>
  (samples as ScalarSample[]).find((s) => s.key === key && JSON.stringify(s.labels ?? {}) === JSON.stringify(labels ?? {}))?.value

t.test("process: prom-client's CPU, memory, descriptors, handles and requests", async (t) => {
  const raw = recordedReply('process.2') as ProcessReply
  const { samples } = processCollector.parse(raw, undefined, 0)
  t.equal(value(samples, 'processCpuUser'), raw.cpu.user / 1e6, 'microseconds to seconds')
  t.equal(value(samples, 'processCpuSystem'), raw.cpu.system / 1e6)
  t.equal(value(samples, 'processCpuTotal'), (raw.cpu.user + raw.cpu.system) / 1e6)
  t.ok(raw.status !== null, 'recorded on Linux')
  t.equal(value(samples, 'processVirtualMemory'), raw.status?.VmSize)
  t.equal(value(samples, 'processHeap'), raw.status?.VmData)
  t.equal(value(samples, 'processOpenFds'), raw.openFds)
  t.equal(value(samples, 'processMaxFds'), raw.maxFds)
  t.equal(value(samples, 'activeHandles', { type: 'Server' }), 1, 'the recorded target listens')
  t.equal(value(samples, 'activeHandlesTotal'), Object.values(raw.handles ?? {}).reduce((a, b) => a + b, 0))
  t.equal(value(samples, 'activeRequestsTotal'), 0)
  t.notOk(samples.some((s) => s.key === 'processResident'), 'RSS is the memory collector\'s')
})

t.test('process: what a platform lacks is left out, never zero', async (t) => {
  const raw = recordedReply('process.1') as ProcessReply
  const { samples } = processCollector.parse({ ...raw, status: null, openFds: null, maxFds: null, handles: null, requests: null }, undefined, 0)
  t.same(samples.map((s) => s.key).sort(), ['processCpuSystem', 'processCpuTotal', 'processCpuUser'])
})

t.test('process: type labels are bounded, and malformed replies refused', async (t) => {
  const raw = recordedReply('process.1') as ProcessReply
  const many: Record<string, number> = {}
  for (let i = 0; i < 200; i++) many[`Type${i}`] = i + 1
  const { samples } = processCollector.parse({ ...raw, handles: many }, undefined, 0)
  t.equal(samples.filter((s) => s.key === 'activeHandles').length, 64, 'at most 64 types')
  t.equal(value(samples, 'activeHandlesTotal'), (200 * 201) / 2, 'the total counts them all')
  t.throws(() => processCollector.parse({ ...raw, cpu: { user: -1, system: 0 } }, undefined, 0), MalformedReplyError)
  t.throws(() => processCollector.parse({ ...raw, handles: { ['x'.repeat(101)]: 1 } }, undefined, 0), MalformedReplyError)
})
