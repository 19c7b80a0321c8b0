import { z } from 'zod'
import type { ResourceAttributes, Sample } from '../core/metrics.js'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

const MAX_LABEL_LENGTH = 200
/** Bounds of what the target reports about itself (each string, the argument lists, the OTel variables). */
const MAX_TEXT = 1000
const MAX_ARGS = 64
const MAX_OTEL_ENV = 4096

const text = z.string().max(MAX_TEXT)

const ProcessInfoReply = z.object({
  pid: z.number().int().positive(),
  nodeVersion: z.string(),
  title: z.string(),
  script: z.string(),
  // Within what a Date can hold (±8.64e15 ms): the resource gives it as an ISO time.
  startTime: z.number().positive().max(8.64e15),
  // The rest describes the process for its OpenTelemetry resource; absent from older agents' replies.
  execPath: text.optional(),
  argv0: text.optional(),
  execArgv: z.array(text).max(MAX_ARGS).optional(),
  args: z.array(text).max(MAX_ARGS).optional(),
  otelServiceName: z.string().max(MAX_OTEL_ENV).nullable().optional(),
  otelResourceAttributes: z.string().max(MAX_OTEL_ENV).nullable().optional(),
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

/**
 * `OTEL_RESOURCE_ATTRIBUTES` as the OpenTelemetry SDKs read it: `key=value` pairs
 * separated by commas, values percent-decoded; a malformed pair is skipped.
 */
export function parseResourceAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {}
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=')
    if (at <= 0) continue
    const key = pair.slice(0, at).trim()
    try {
      const value = decodeURIComponent(pair.slice(at + 1).trim())
      if (key !== '') attributes[key] = value
    } catch {
      // not percent-decodable: skipped, as the SDKs do
    }
  }
  return attributes
}

/**
 * The target's OpenTelemetry resource, as its own SDK would describe it: what its
 * `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` say, and the process attributes
 * of the SDK's process detector (executable path, command arguments, runtime).
 * `service.name` falls back to the target's name in the sidecar (see src/export/otel-resource.ts).
 */
export function processResource(info: ProcessInfo): ResourceAttributes {
  const fromEnv = info.otelResourceAttributes ? parseResourceAttributes(info.otelResourceAttributes) : {}
  const serviceName = info.otelServiceName?.trim()
  return {
    ...fromEnv,
    ...(serviceName ? { 'service.name': serviceName } : {}),
    'process.pid': info.pid,
    'process.creation.time': new Date(info.startTime).toISOString(),
    'process.runtime.name': 'nodejs',
    'process.runtime.version': info.nodeVersion.replace(/^v/, ''),
    'process.runtime.description': 'Node.js',
    ...(info.title !== '' ? { 'process.title': info.title } : {}),
    ...(info.execPath !== undefined ? { 'process.executable.path': info.execPath } : {}),
    ...(info.argv0 !== undefined && info.args !== undefined
      ? { 'process.command_args': [info.argv0, ...(info.execArgv ?? []), ...info.args] }
      : {}),
  }
}

/** `v20.20.2` → prom-client's nodejs_version_info labels. */
function versionLabels(nodeVersion: string): Record<string, string> {
  const [major = '', minor = '', patch = ''] = nodeVersion.replace(/^v/, '').split('.')
  return { version: clip(nodeVersion), major: clip(major), minor: clip(minor), patch: clip(patch) }
}

/** pid, Node version, title, script and start time as info metrics (not labels on every series), and the OTel resource. */
const info: Collector = {
  name: 'info',
  description: 'Target identity: pid, Node.js version, title, script, start time, and its OpenTelemetry resource',
  order: 70,
  metrics: [
    {
      key: 'targetInfo',
      prom: 'leakwatch_target_info',
      help: 'Identity of the watched process; always 1. Join on `target` to label other series.',
      unit: '1',
      type: 'gauge',
      labels: ['pid', 'node_version', 'title', 'script'],
      collector: 'info',
    },
    {
      key: 'processStartTime',
      prom: 'process_start_time_seconds',
      help: 'Start time of the process since unix epoch in seconds.',
      unit: 's',
      type: 'gauge',
      labels: [],
      promClient: true,
      collector: 'info',
    },
    {
      key: 'nodejsVersionInfo',
      prom: 'nodejs_version_info',
      help: 'Node.js version info.',
      unit: '1',
      type: 'gauge',
      labels: ['version', 'major', 'minor', 'patch'],
      promClient: true,
      collector: 'info',
    },
  ],
  // A change of pid or start time means the process restarted. Everything is read from the
  // process object: no application code runs, and the lists and texts are cut to size here.
  part: {
    read: `() => {
  const cut = (s) => String(s).slice(0, ${MAX_TEXT});
  const list = (a) => (Array.isArray(a) ? a.slice(0, ${MAX_ARGS}).map(cut) : []);
  const env = (name) => { const v = process.env[name]; return typeof v === 'string' ? v.slice(0, ${MAX_OTEL_ENV}) : null; };
  return { pid: process.pid, nodeVersion: process.version, title: process.title,
    script: process.argv[1] || '', startTime: performance.timeOrigin,
    execPath: cut(process.execPath), argv0: cut(process.argv0), execArgv: list(process.execArgv), args: list(process.argv.slice(1)),
    otelServiceName: env('OTEL_SERVICE_NAME'), otelResourceAttributes: env('OTEL_RESOURCE_ATTRIBUTES') };
}`,
  },
  parse(raw) {
    const info = parseProcessInfo(raw)
    const samples: Sample[] = [
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
      { key: 'processStartTime', value: info.startTime / 1000 },
      { key: 'nodejsVersionInfo', labels: versionLabels(info.nodeVersion), value: 1 },
    ]
    return { samples, state: undefined, resource: processResource(info) }
  },
}

export default info
