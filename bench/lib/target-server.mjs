/**
 * The target of the overhead benchmark: a small plain node:http JSON service.
 *
 *   node --inspect=127.0.0.1:0 bench/lib/target-server.mjs [--heap-mb 32] [--port 0]
 *
 * Prints `ready port=<port>` on stdout once it listens (127.0.0.1 only).
 *
 *   GET /          a little JSON work per request: parse a small request document,
 *                  build a ~1 KB answer, keep it in a bounded LRU cache (old-space
 *                  churn, like a real service's cache), stringify it.
 *   GET /__stats   this process's own counters (process.cpuUsage() of all threads,
 *                  memoryUsage, requests served) for the benchmark driver.
 *
 * `--heap-mb N` retains about N MB of long-lived objects from the start (a real
 * service's data: config, caches, compiled templates). It matters because reading
 * a heap profile forces a full GC whose pause grows with the live heap.
 */
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    'heap-mb': { type: 'string', default: '32' },
    port: { type: 'string', default: '0' },
  },
})
const heapMb = Number(values['heap-mb'])
const port = Number(values.port)

// Long-lived data: ~heapMb MB of small objects in a tree of arrays (realistic for the GC to mark).
const retained = []
{
  const perObject = 120 // bytes, roughly: an object with 4 fields plus a short string
  const count = Math.floor((heapMb * 1024 * 1024) / perObject)
  for (let i = 0; i < count; i += 1000) {
    const chunk = []
    for (let j = 0; j < 1000 && i + j < count; j++) {
      chunk.push({ id: i + j, name: `item-${i + j}`, score: (i + j) % 97, tags: null })
    }
    retained.push(chunk)
  }
}

/** Bounded LRU of recent answers: objects survive a while, then die in old space. */
const CACHE_SIZE = 2000
const cache = new Map()
let served = 0

const REQUEST_DOC = JSON.stringify({
  user: { id: 42, name: 'Ada', roles: ['admin', 'dev'] },
  items: Array.from({ length: 12 }, (_, i) => ({ sku: `sku-${i}`, qty: (i % 3) + 1, price: 9.99 + i })),
})

function handle() {
  served += 1
  const doc = JSON.parse(REQUEST_DOC)
  let total = 0
  const lines = []
  for (const item of doc.items) {
    const amount = Math.round(item.qty * item.price * 100) / 100
    total += amount
    lines.push({ sku: item.sku, amount, note: `${doc.user.name} x${item.qty}` })
  }
  const answer = { id: served, user: doc.user.id, total: Math.round(total * 100) / 100, lines, at: Date.now() }
  const key = served % (CACHE_SIZE * 4)
  cache.delete(key)
  cache.set(key, answer)
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value)
  return JSON.stringify(answer)
}

const server = createServer((request, response) => {
  if (request.url === '/__stats') {
    const cpu = process.cpuUsage()
    const body = JSON.stringify({
      pid: process.pid,
      served,
      cpuUserMicros: cpu.user,
      cpuSystemMicros: cpu.system,
      memory: process.memoryUsage(),
      retainedChunks: retained.length,
    })
    response.writeHead(200, { 'content-type': 'application/json' }).end(body)
    return
  }
  const body = handle()
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
})
server.keepAliveTimeout = 60_000
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready port=${server.address().port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
