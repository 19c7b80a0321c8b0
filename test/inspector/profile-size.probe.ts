// Not a test: measures the largest reply leakwatch asks a target for, a sampling heap profile
// (HeapProfiler.getSamplingProfile), to size the websocket message limit (src/inspector/limits.ts).
// Run: LEAKWATCH_PROFILE_PROBE=1 node --import @tapjs/typescript/import test/inspector/profile-size.probe.ts
// (INTERVALS=65536 and SHAPES=200x8,2000x24 by default, HEAP_MB=200; the limits.ts table also used INTERVALS=524288,1024). Takes minutes.
// For each sampling interval, a fresh target starts sampling, then builds a live heap of
// HEAP_MB megabytes of small objects from SITES allocation sites reached through stacks of
// DEPTH frames (a service's code: many helpers, each allocation at the end of a call chain);
// the raw websocket frame of the profile reply is measured as it arrives.
import { spawnTarget } from '../helpers/targets.js'
import { InspectorSession } from '../../src/inspector/session.js'

if (process.env.LEAKWATCH_PROFILE_PROBE !== '1') {
  // Not a test (`tap test/inspector` runs every file there): a measurement, run on purpose.
  process.stdout.write('profile-size probe: set LEAKWATCH_PROFILE_PROBE=1 to run it\n')
  process.exit(0)
}
const HEAP_MB = Number(process.env.HEAP_MB ?? 200)
const teardowns: Array<() => unknown> = []
const fakeT = { teardown: (fn: () => unknown) => void teardowns.push(fn) }

const TARGET = `
const SITES = Number(process.env.SITES), DEPTH = Number(process.env.DEPTH), HEAP_MB = Number(process.env.HEAP_MB)
const keep = []
const fns = []
for (let i = 0; i < SITES; i++) {
  fns.push(new Function('fns', 'keep', 'SITES', \`return function site\${i}(depth, n) {
    if (depth > 0) return fns[(\${i} * 31 + depth * 7 + n) % SITES](depth - 1, n)
    const list = []
    for (let k = 0; k < 64; k++) list.push({ id: n + k, name: 'item-' + (n + k), tags: [n, k] })
    keep.push(list)
  }\`)(fns, keep, SITES))
}
globalThis.build = () => {
  let n = 0
  const target = HEAP_MB * 1024 * 1024
  while (process.memoryUsage().heapUsed < target) {
    for (let j = 0; j < 2000; j++) fns[n % SITES](n % DEPTH, n++)
  }
  return process.memoryUsage().heapUsed
}
setInterval(() => undefined, 1000)
process.stdout.write('ready\\n')
`

async function measure(intervalBytes: number, sites: number, depth: number): Promise<void> {
  const fs = await import('node:fs')
  const path = `/tmp/leakwatch-profile-probe-${process.pid}.cjs`
  fs.writeFileSync(path, TARGET)
  const target = await spawnTarget(fakeT, {
    script: path,
    env: { SITES: String(sites), DEPTH: String(depth), HEAP_MB: String(HEAP_MB) },
    nodeArgs: ['--max-old-space-size=4096'],
  })
  const session = await InspectorSession.open({ host: target.host, port: target.port }, 10_000)
  const ws = (session as unknown as { client: { _ws: { on(e: string, f: (d: string | Buffer) => void): void } } }).client._ws
  let largest = 0
  ws.on('message', (data) => (largest = Math.max(largest, data.length)))
  await session.send('HeapProfiler.startSampling', { samplingInterval: intervalBytes }, 10_000)
  const heap = (await session.evaluate('build()', 600_000)) as number
  const started = performance.now()
  const reply = (await session.send('HeapProfiler.getSamplingProfile', {}, 600_000)) as { profile: { samples: unknown[] } }
  const ms = performance.now() - started
  let nodes = 0
  const count = (node: { children?: unknown[] }): void => {
    nodes += 1
    for (const child of node.children ?? []) count(child as { children?: unknown[] })
  }
  count((reply.profile as unknown as { head: { children?: unknown[] } }).head)
  process.stdout.write(
    `interval ${intervalBytes / 1024} KiB, ${sites} sites, depth ${depth}: heap ${(heap / 1048576).toFixed(0)} MB, ` +
      `${reply.profile.samples.length} samples, ${nodes} nodes, frame ${(largest / 1024).toFixed(0)} KiB (${(largest / 1048576).toFixed(2)} MiB), ${ms.toFixed(0)} ms\n`,
  )
  await session.close()
  await target.kill('SIGKILL')
  fs.unlinkSync(path)
}

try {
  const intervals = (process.env.INTERVALS ?? '65536').split(',').map(Number)
  const shapes = (process.env.SHAPES ?? '200x8,2000x24').split(',').map((s) => s.split('x').map(Number) as [number, number])
  for (const interval of intervals) for (const [sites, depth] of shapes) await measure(interval, sites, depth)
} finally {
  for (const fn of teardowns.reverse()) await fn()
}
