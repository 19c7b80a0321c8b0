import { resourceFromAttributes } from '@opentelemetry/resources'
import t from 'tap'
import { targetResource } from '../../src/export/otel-resource.js'

const sdk = resourceFromAttributes({ 'telemetry.sdk.language': 'nodejs', 'service.name': 'leakwatch', 'deployment.environment.name': 'prod' })
const pod = { 'k8s.pod.name': 'api-7d9f8b6c5d-x2k4p' }

t.test("a target's service.name: the config's, else its own, else its name", async (t) => {
  const own = { 'service.name': 'checkout-from-env', 'process.pid': 7 }
  t.equal(targetResource(sdk, pod, 'api', own, 'checkout').attributes['service.name'], 'checkout', 'the config file wins')
  t.equal(targetResource(sdk, pod, 'api', own).attributes['service.name'], 'checkout-from-env', "else the process's own OTEL_SERVICE_NAME")
  t.equal(targetResource(sdk, pod, 'api', { 'service.name': '' }).attributes['service.name'], 'api', 'else the target name')
  t.equal(targetResource(sdk, pod, 'api', undefined).attributes['service.name'], 'api')
  const resource = targetResource(sdk, pod, 'api', own, 'checkout')
  t.match(resource.attributes, { 'leakwatch.target': 'api', 'k8s.pod.name': 'api-7d9f8b6c5d-x2k4p', 'process.pid': 7, 'telemetry.sdk.language': 'nodejs' })
  t.notOk('deployment.environment.name' in resource.attributes, "the sidecar's own attributes stay the sidecar's")
})
