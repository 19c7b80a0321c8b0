import { z } from 'zod'
import type { Collector, Sample } from './types.js'
import { checkReply } from './reply.js'

/** More distinct types than this is not a real process; cap the label values anyway. */
const MAX_RESOURCE_TYPES = 64

const ActiveResourcesReply = z.object({
  counts: z.record(z.string().min(1).max(100), z.number().int().nonnegative()),
})

/** `process.getActiveResourcesInfo()`, counted by type: handles and requests keeping the loop alive. */
export const resourcesCollector: Collector = {
  name: 'resources',
  description: 'Active resources by type (process.getActiveResourcesInfo)',
  part: 'resources',
  parse(raw) {
    const { counts } = checkReply('process.getActiveResourcesInfo', ActiveResourcesReply, raw)
    const samples: Sample[] = Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .slice(0, MAX_RESOURCE_TYPES)
      .map(([type, value]) => ({ key: 'activeResources', labels: { type }, value }))
    return { samples, state: undefined }
  },
}
