import { z } from 'zod'
import type { MetricDefinition, Sample } from '../core/metrics.js'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

/** More distinct handle or request types than this is not a real process; cap the label values anyway. */
const MAX_TYPES = 64
const MAX_TYPE_NAME = 100

const count = z.number().int().nonnegative()
const bytes = z.number().nonnegative()
const byType = z.record(z.string().min(1).max(MAX_TYPE_NAME), count)

const ProcessReply = z.object({
  cpu: z.object({ user: z.number().nonnegative(), system: z.number().nonnegative() }),
  /** From /proc/self/status (Linux), in bytes; null elsewhere. */
  status: z.object({ VmSize: bytes.optional(), VmRSS: bytes.optional(), VmData: bytes.optional() }).nullable(),
  openFds: count.nullable(),
  maxFds: count.nullable(),
  handles: byType.nullable(),
  requests: byType.nullable(),
})

const MICROSECONDS_PER_SECOND = 1e6

/**
 * In the target: prom-client's process metrics, read the way prom-client reads them in
 * the process itself (process.cpuUsage, /proc/self/status, /proc/self/fd, /proc/self/limits,
 * process._getActiveHandles/_getActiveRequests by type). The type of a handle is the name
 * of its constructor, read from own data properties only: no getter, so no application
 * code, ever runs.
 */
const SETUP = `(env) => {
  const fs = process.platform === 'linux' ? env.builtin('fs') : undefined;
  let maxFds = null;
  if (fs) {
    try {
      for (const line of fs.readFileSync('/proc/self/limits', 'utf8').split('\\n')) {
        if (line.startsWith('Max open files')) {
          const n = Number(line.split(/  +/)[1]);
          if (Number.isSafeInteger(n) && n >= 0) maxFds = n;
          break;
        }
      }
    } catch (e) {}
  }
  const typeName = (o) => {
    try {
      let proto = Object.getPrototypeOf(o);
      for (let depth = 0; proto !== null && depth < 10; depth += 1) {
        const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor');
        if (ctor !== undefined && typeof ctor.value === 'function') {
          const name = Object.getOwnPropertyDescriptor(ctor.value, 'name');
          return name !== undefined && typeof name.value === 'string' && name.value !== '' ? name.value.slice(0, ${MAX_TYPE_NAME}) : 'Unknown';
        }
        proto = Object.getPrototypeOf(proto);
      }
    } catch (e) {}
    return 'Unknown';
  };
  const byType = (list) => {
    const counts = {};
    for (const item of list) {
      if (item === null || item === undefined) continue;
      const name = typeName(item);
      counts[name] = (counts[name] || 0) + 1;
    }
    return counts;
  };
  return { fs, maxFds, byType };
}`

const READ = `(state) => {
  const cpu = process.cpuUsage();
  let status = null;
  let openFds = null;
  if (state.fs) {
    try {
      status = {};
      for (const line of state.fs.readFileSync('/proc/self/status', 'utf8').split('\\n')) {
        const m = /^(VmSize|VmRSS|VmData):\\s*(\\d+)\\s*kB/.exec(line);
        if (m) status[m[1]] = Number(m[2]) * 1024;
      }
    } catch (e) { status = null; }
    // Minus the descriptor readdirSync itself had open, as prom-client counts.
    try { openFds = state.fs.readdirSync('/proc/self/fd').length - 1; } catch (e) {}
  }
  const handles = typeof process._getActiveHandles === 'function' ? state.byType(process._getActiveHandles()) : null;
  const requests = typeof process._getActiveRequests === 'function' ? state.byType(process._getActiveRequests()) : null;
  return { cpu: { user: cpu.user, system: cpu.system }, status, openFds, maxFds: state.maxFds, handles, requests };
}`

const metric = (definition: Omit<MetricDefinition, 'collector' | 'promClient'>): MetricDefinition => ({ ...definition, promClient: true, collector: 'process' })

const cpuTime = (key: string, mode: 'user' | 'system'): MetricDefinition =>
  metric({
    key,
    prom: `process_cpu_${mode}_seconds_total`,
    otel: 'process.cpu.time',
    otelConstantAttributes: { 'cpu.mode': mode },
    help: `Total ${mode} CPU time spent in seconds.`,
    unit: 's',
    type: 'counter',
    labels: [],
  })

/** Counts by type, largest first and capped, plus their sum. */
function typeSamples(counts: Record<string, number> | null, key: string, totalKey: string): Sample[] {
  if (counts === null) return []
  const samples: Sample[] = Object.entries(counts)
    .sort(([, a], [, b]) => b - a)
    .slice(0, MAX_TYPES)
    .map(([type, value]) => ({ key, labels: { type }, value }))
  samples.push({ key: totalKey, value: Object.values(counts).reduce((sum, n) => sum + n, 0) })
  return samples
}

/**
 * The rest of prom-client's default metrics for the target (the others come from the
 * collectors that already read the same facts): CPU time, virtual and data memory, file
 * descriptors, and active libuv handles and requests by type.
 */
const processCollector: Collector = {
  name: 'process',
  description: "CPU time, virtual memory, file descriptors, active handles and requests (prom-client's process metrics)",
  order: 80,
  metrics: [
    cpuTime('processCpuUser', 'user'),
    cpuTime('processCpuSystem', 'system'),
    metric({ key: 'processCpuTotal', prom: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', unit: 's', type: 'counter', labels: [] }),
    metric({
      key: 'processVirtualMemory',
      prom: 'process_virtual_memory_bytes',
      otel: 'process.memory.virtual',
      otelInstrument: 'updowncounter',
      help: 'Virtual memory size in bytes (VmSize; Linux).',
      unit: 'By',
      type: 'gauge',
      labels: [],
    }),
    metric({ key: 'processHeap', prom: 'process_heap_bytes', help: 'Process heap size in bytes (VmData; Linux).', unit: 'By', type: 'gauge', labels: [] }),
    metric({
      key: 'processOpenFds',
      prom: 'process_open_fds',
      otel: 'process.unix.file_descriptor.count',
      otelInstrument: 'updowncounter',
      help: 'Number of open file descriptors (Linux).',
      unit: '{file_descriptor}',
      type: 'gauge',
      labels: [],
    }),
    metric({ key: 'processMaxFds', prom: 'process_max_fds', help: 'Maximum number of open file descriptors (Linux).', unit: '{file_descriptor}', type: 'gauge', labels: [] }),
    metric({
      key: 'activeHandles',
      prom: 'nodejs_active_handles',
      help: 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.',
      unit: '{handle}',
      type: 'gauge',
      labels: ['type'],
    }),
    metric({ key: 'activeHandlesTotal', prom: 'nodejs_active_handles_total', help: 'Total number of active handles (a gauge despite its name).', unit: '{handle}', type: 'gauge', labels: [] }),
    metric({
      key: 'activeRequests',
      prom: 'nodejs_active_requests',
      help: 'Number of active libuv requests grouped by request type. Every request type is C++ class name.',
      unit: '{request}',
      type: 'gauge',
      labels: ['type'],
    }),
    metric({ key: 'activeRequestsTotal', prom: 'nodejs_active_requests_total', help: 'Total number of active requests (a gauge despite its name).', unit: '{request}', type: 'gauge', labels: [] }),
  ],
  part: { setup: SETUP, read: READ },
  parse(raw) {
    const reply = checkReply('process metrics', ProcessReply, raw)
    const user = reply.cpu.user / MICROSECONDS_PER_SECOND
    const system = reply.cpu.system / MICROSECONDS_PER_SECOND
    const samples: Sample[] = [
      { key: 'processCpuUser', value: user },
      { key: 'processCpuSystem', value: system },
      { key: 'processCpuTotal', value: user + system },
    ]
    if (reply.status?.VmSize !== undefined) samples.push({ key: 'processVirtualMemory', value: reply.status.VmSize })
    if (reply.status?.VmData !== undefined) samples.push({ key: 'processHeap', value: reply.status.VmData })
    if (reply.openFds !== null) samples.push({ key: 'processOpenFds', value: reply.openFds })
    if (reply.maxFds !== null) samples.push({ key: 'processMaxFds', value: reply.maxFds })
    samples.push(...typeSamples(reply.handles, 'activeHandles', 'activeHandlesTotal'), ...typeSamples(reply.requests, 'activeRequests', 'activeRequestsTotal'))
    return { samples, state: undefined }
  },
}

export default processCollector
