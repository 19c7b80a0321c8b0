import t from 'tap'
import infoCollector, { parseProcessInfo, parseResourceAttributes, processResource, type ProcessInfo } from '../../src/collectors/info.collector.js'
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
  t.equal(samples.find((s) => s.key === 'processStartTime')?.value, raw.startTime / 1000)
  const [major, minor, patch] = raw.nodeVersion.slice(1).split('.')
  t.same(samples.find((s) => s.key === 'nodejsVersionInfo')?.labels, { version: raw.nodeVersion, major, minor, patch }, "prom-client's version labels")
  const long = infoCollector.parse({ ...raw, script: `/${'a'.repeat(1000)}/app.js` }, undefined, 0).samples as ScalarSample[]
  t.ok((long[0]?.labels?.['script'] ?? '').length <= 201, 'long label values are clipped')
  t.ok(long[0]?.labels?.['script']?.endsWith('/app.js'), 'clipping keeps the file name')
  t.throws(() => parseProcessInfo({ pid: 0 }), MalformedReplyError)
})

t.test("info: the target's OpenTelemetry resource, as its own SDK would describe it", async (t) => {
  const raw = recordedReply('info.2') as ProcessInfo
  const { resource } = infoCollector.parse(raw, undefined, 0)
  t.match(resource, {
    'process.pid': raw.pid,
    'process.executable.path': raw.execPath,
    'process.runtime.name': 'nodejs',
    'process.runtime.version': raw.nodeVersion.slice(1),
    'process.runtime.description': 'Node.js',
    'process.creation.time': new Date(raw.startTime).toISOString(),
  })
  t.same(resource?.['process.command_args'], [raw.argv0, ...(raw.execArgv ?? []), ...(raw.args ?? [])], 'executable, node options, script and arguments')
  t.notOk(resource !== undefined && 'service.name' in resource, 'no service.name of its own: the sidecar names it after the target')
  const named = processResource({ ...raw, otelServiceName: ' checkout ', otelResourceAttributes: 'service.name=ignored,deployment.environment.name=prod%2Deu,broken,=x' })
  t.equal(named['service.name'], 'checkout', 'OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES, as in the SDKs')
  t.equal(named['deployment.environment.name'], 'prod-eu', 'percent-decoded')
  t.same(parseResourceAttributes('service.name=api, team = core ,bad=%E0%A4%A,=v,novalue'), { 'service.name': 'api', team: 'core' })
  t.equal(processResource({ ...raw, otelResourceAttributes: 'service.name=from-attributes' })['service.name'], 'from-attributes')
  t.throws(() => parseProcessInfo({ ...raw, args: new Array(65).fill('x') }), MalformedReplyError, 'argument lists are bounded')
})
