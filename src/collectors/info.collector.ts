import { z } from 'zod'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

const MAX_LABEL_LENGTH = 200

const ProcessInfoReply = z.object({
  pid: z.number().int().positive(),
  nodeVersion: z.string(),
  title: z.string(),
  script: z.string(),
  startTime: z.number().positive(),
})

export type ProcessInfo = z.infer<typeof ProcessInfoReply>

export function parseProcessInfo(raw: unknown): ProcessInfo {
  return checkReply('process info', ProcessInfoReply, raw)
}

/** Keep the end (the file name of a path), at most MAX_LABEL_LENGTH characters, never half a surrogate pair. */
const clip = (text: string): string => {
  if (text.length <= MAX_LABEL_LENGTH) return text
  let tail = text.slice(-(MAX_LABEL_LENGTH - 1))
  if (/^[\uDC00-\uDFFF]/.test(tail)) tail = tail.slice(1)
  return `…${tail}`
}

/** pid, Node version, title, script and start time as one info metric (not labels on every series). */
const info: Collector = {
  name: 'info',
  description: 'Target identity: pid, Node.js version, title, script, start time',
  order: 70,
  metrics: [
    {
      key: 'targetInfo',
      prom: 'leakwatch_target_info',
      otel: 'leakwatch.target.info',
      help: 'Identity of the watched process; always 1. Join on `target` to label other series.',
      unit: '1',
      type: 'gauge',
      labels: ['pid', 'node_version', 'title', 'script'],
      otelAttributes: {
        pid: 'process.pid',
        node_version: 'process.runtime.version',
        title: 'process.title',
        script: 'process.executable.path',
      },
      collector: 'info',
    },
    {
      key: 'targetStartTime',
      prom: 'leakwatch_target_start_time_seconds',
      otel: 'leakwatch.target.start_time',
      help: 'Unix time the watched process started.',
      unit: 's',
      type: 'gauge',
      labels: [],
      collector: 'info',
    },
  ],
  // A change of pid or start time means the process restarted.
  part: {
    read: `() => ({ pid: process.pid, nodeVersion: process.version, title: process.title,
  script: process.argv[1] || '', startTime: performance.timeOrigin })`,
  },
  parse(raw) {
    const info = parseProcessInfo(raw)
    return {
      samples: [
        {
          key: 'targetInfo',
          labels: {
            pid: String(info.pid),
            node_version: clip(info.nodeVersion),
            title: clip(info.title),
            script: clip(info.script),
          },
          value: 1,
        },
        { key: 'targetStartTime', value: info.startTime / 1000 },
      ],
      state: undefined,
    }
  },
}

export default info
