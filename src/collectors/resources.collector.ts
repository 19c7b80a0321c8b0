import { z } from 'zod'
import type { Sample } from '../core/metrics.js'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

/** More distinct types than this is not a real process; cap the label values anyway. */
const MAX_RESOURCE_TYPES = 64

const ActiveResourcesReply = z.object({
  counts: z.record(z.string().min(1).max(100), z.number().int().nonnegative()),
})

/** `process.getActiveResourcesInfo()`, counted by type: handles and requests keeping the loop alive. */
const resources: Collector = {
  name: 'resources',
  description: 'Active resources by type (process.getActiveResourcesInfo)',
  order: 60,
  metrics: [
    {
      key: 'activeResources',
      prom: 'nodejs_active_resources',
      otel: 'v8js.resource.active',
      help: 'Resources keeping the event loop alive, by type (process.getActiveResourcesInfo()).',
      unit: '{resource}',
      type: 'gauge',
      labels: ['type'],
      otelAttributes: { type: 'v8js.resource.type' },
      promClient: true,
      collector: 'resources',
    },
    {
      key: 'activeResourcesTotal',
      prom: 'nodejs_active_resources_total',
      help: 'Total number of active resources (prom-client\'s sum of nodejs_active_resources; a gauge despite its name).',
      unit: '{resource}',
      type: 'gauge',
      labels: [],
      promClient: true,
      collector: 'resources',
    },
  ],
  // Counted by type in the target to keep the reply small.
  part: {
    read: `() => {
  if (typeof process.getActiveResourcesInfo !== 'function') return { unavailable: 'process.getActiveResourcesInfo needs Node >= 17.3' };
  const counts = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] || 0) + 1;
  return { counts };
}`,
  },
  parse(raw) {
    const { counts } = checkReply('process.getActiveResourcesInfo', ActiveResourcesReply, raw)
    const samples: Sample[] = Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .slice(0, MAX_RESOURCE_TYPES)
      .map(([type, value]) => ({ key: 'activeResources', labels: { type }, value }))
    samples.push({ key: 'activeResourcesTotal', value: Object.values(counts).reduce((sum, n) => sum + n, 0) })
    return { samples, state: undefined }
  },
}

export default resources
