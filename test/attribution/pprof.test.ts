import { readFileSync } from 'node:fs'
import t from 'tap'
import { Profile } from 'pprof-format'
import { toHeapProfileJson, toPprof, type HeapProfile, type ProfileNode } from '../../src/attribution/pprof.js'

const INTERVAL = 32768
const TIME_MS = 1_700_000_000_123

/** Recorded with HeapProfiler.getSamplingProfile from a `node -e` target (url `[eval]`), 1 s apart. */
function fixture(name: string): HeapProfile {
  return JSON.parse(readFileSync(new URL(`../fixtures/profiles/${name}`, import.meta.url), 'utf8')) as HeapProfile
}

function node(id: number, functionName: string, selfSize: number, children: ProfileNode[] = [], lineNumber = 0): ProfileNode {
  return {
    callFrame: { functionName, scriptId: '1', url: 'file:///app.js', lineNumber, columnNumber: 0 },
    selfSize,
    id,
    children,
  }
}

function rootOf(children: ProfileNode[]): ProfileNode {
  return {
    callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 },
    selfSize: 0,
    id: 1,
    children,
  }
}

/** Decoded pprof with string indices resolved. */
function decode(bytes: Uint8Array) {
  const p = Profile.decode(bytes)
  const str = (i: number | bigint) => {
    const s = p.stringTable.strings[Number(i)]
    if (s === undefined) throw new Error(`string index ${i} out of range`)
    return s
  }
  const functions = new Map(p.function.map((f) => [Number(f.id), f]))
  const locations = new Map(p.location.map((l) => [Number(l.id), l]))
  /** Each sample's stack as [name, file, line] frames, leaf first; throws on dangling ids. */
  const stacks = p.sample.map((s) =>
    s.locationId.map((id) => {
      const location = locations.get(Number(id))
      if (location === undefined) throw new Error(`location ${id} missing`)
      const line = location.line[0]
      if (line === undefined || location.line.length !== 1) throw new Error(`location ${id} has ${location.line.length} lines`)
      const fn = functions.get(Number(line.functionId))
      if (fn === undefined) throw new Error(`function ${line.functionId} missing`)
      return { name: str(fn.name), file: str(fn.filename), line: Number(line.line) }
    }),
  )
  const totals = p.sample.reduce(
    (acc, s) => ({ count: acc.count + Number(s.value[0]), bytes: acc.bytes + Number(s.value[1]) }),
    { count: 0, bytes: 0 },
  )
  return { p, str, functions, locations, stacks, totals }
}

function walk(head: ProfileNode, visit: (node: ProfileNode, parent: ProfileNode | undefined) => void): void {
  const stack: Array<[ProfileNode, ProfileNode | undefined]> = [[head, undefined]]
  while (stack.length > 0) {
    const [n, parent] = stack.pop()!
    visit(n, parent)
    for (const c of n.children) stack.push([c, n])
  }
}

for (const name of ['sampling-1.json', 'sampling-2.json']) {
  t.test(`toPprof: ${name}`, async (t) => {
    const profile = fixture(name)
    const { p, str, functions, stacks, totals } = decode(toPprof(profile, { timeMs: TIME_MS, samplingIntervalBytes: INTERVAL }))

    t.same(
      p.sampleType.map((v) => [str(v.type), str(v.unit)]),
      [['objects', 'count'], ['space', 'bytes']],
    )
    t.same(p.periodType && [str(p.periodType.type), str(p.periodType.unit)], ['space', 'bytes'])
    t.equal(Number(p.period), INTERVAL)
    t.equal(str(p.defaultSampleType), 'space')
    t.equal(BigInt(p.timeNanos), BigInt(TIME_MS) * 1_000_000n)

    const sampleBytes = profile.samples.reduce((sum, s) => sum + s.size, 0)
    t.equal(totals.bytes, sampleBytes, 'space adds up to the sum of sample sizes')
    t.equal(totals.count, profile.samples.length, 'objects adds up to the number of samples')

    // Functions are unique by (name, file).
    const keys = [...functions.values()].map((f) => `${str(f.name)}\0${str(f.filename)}`)
    t.equal(new Set(keys).size, keys.length)

    // The named functions of the recorded program, with 1-based lines.
    const byName = new Map([...functions.values()].map((f) => [str(f.name), f]))
    for (const [fn, zeroBased] of [['leakyPush', 3], ['cacheGrow', 6]] as const) {
      const f = byName.get(fn)
      t.ok(f, `${fn} is a function`)
      t.equal(f && str(f.filename), '[eval]')
      t.equal(f && Number(f.startLine), zeroBased + 1)
    }
    t.ok(byName.has('(anonymous)'), 'the unnamed setInterval callback is (anonymous)')
    t.notOk(byName.has(''), 'no function has an empty name')
    t.notOk(byName.has('(root)'), 'the synthetic root is not a frame')

    // Stacks resolve and run leaf first: every sample ends in the frame that allocated.
    t.equal(stacks.length, p.sample.length)
    const leaky = stacks.find((s) => s[0]?.name === 'leakyPush')
    t.ok(leaky, 'a sample allocated by leakyPush itself')
    t.same(
      leaky?.map((f) => f.name),
      ['leakyPush', '(anonymous)', 'listOnTimeout', 'processTimers'],
    )
    t.same(leaky?.[0], { name: 'leakyPush', file: '[eval]', line: 4 })
    const repeat = stacks.find((s) => s[0]?.name === 'repeat')
    t.same(repeat?.slice(0, 2).map((f) => f.name), ['repeat', 'leakyPush'], 'native callee first, then its caller')
    t.equal(repeat?.[0]?.line, 0, 'unknown line (-1) becomes 0')

    // One pprof sample per allocating node, with that node's bytes.
    const byNode = new Map<number, number>()
    for (const s of profile.samples) byNode.set(s.nodeId, (byNode.get(s.nodeId) ?? 0) + s.size)
    t.equal(p.sample.length, byNode.size)
    const leakyNode: number[] = []
    walk(profile.head, (n) => {
      if (n.callFrame.functionName === 'leakyPush') leakyNode.push(n.id)
    })
    t.equal(leakyNode.length, 1)
    const leakyIndex = stacks.indexOf(leaky!)
    t.equal(Number(p.sample[leakyIndex]!.value[1]), byNode.get(leakyNode[0]!))
  })

  t.test(`toHeapProfileJson: ${name} round-trips`, async (t) => {
    const profile = fixture(name)
    const json = toHeapProfileJson(profile)
    t.same(JSON.parse(json), profile)
    t.strictSame(JSON.parse(json), JSON.parse(JSON.stringify({ head: profile.head, samples: profile.samples })))
  })
}

t.test('toPprof: a sample whose node is not in the tree is kept under (unknown)', async (t) => {
  // sampling-1.json really has one: V8 listed a sample of node 18 but pruned the node.
  const profile = fixture('sampling-1.json')
  const ids = new Set<number>()
  walk(profile.head, (n) => ids.add(n.id))
  const orphans = profile.samples.filter((s) => !ids.has(s.nodeId))
  t.ok(orphans.length > 0, 'the fixture has an orphan sample')
  const { p, stacks } = decode(toPprof(profile, { timeMs: TIME_MS, samplingIntervalBytes: INTERVAL }))
  const i = stacks.findIndex((s) => s.length === 1 && s[0]!.name === '(unknown)')
  t.ok(i >= 0)
  t.equal(Number(p.sample[i]!.value[1]), orphans.reduce((sum, s) => sum + s.size, 0))
})

t.test('toPprof: without samples, falls back to selfSize', async (t) => {
  const profile = fixture('sampling-2.json')
  const selfTotal = { bytes: 0, nodes: 0, count: 0 }
  walk(profile.head, (n) => {
    if (n.selfSize > 0) {
      selfTotal.bytes += n.selfSize
      selfTotal.nodes += 1
      selfTotal.count += Math.round(n.selfSize / INTERVAL)
    }
  })
  const { p, totals } = decode(toPprof({ head: profile.head, samples: [] }, { timeMs: TIME_MS, samplingIntervalBytes: INTERVAL }))
  t.equal(p.sample.length, selfTotal.nodes, 'one sample per node with selfSize > 0')
  t.equal(totals.bytes, selfTotal.bytes)
  t.equal(totals.count, selfTotal.count)
})

t.test('toPprof: functions are shared by (name, url), locations by (function, line)', async (t) => {
  const head = rootOf([
    node(2, 'outer', 0, [node(3, 'alloc', 100, [], 9), node(4, 'alloc', 100, [], 9), node(5, 'alloc', 100, [], 19)]),
    node(6, '', 100, [], 29),
  ])
  const { p, str, stacks } = decode(toPprof({ head, samples: [] }, { timeMs: 0, samplingIntervalBytes: 100 }))
  t.equal(p.sample.length, 4)
  t.same(p.function.map((f) => str(f.name)).sort(), ['(anonymous)', 'alloc', 'outer'])
  t.equal(p.location.length, 4, 'outer:1, alloc:10, alloc:20, (anonymous):30')
  t.same(
    stacks.map((s) => s.map((f) => `${f.name}:${f.line}`)),
    [['alloc:10', 'outer:1'], ['alloc:10', 'outer:1'], ['alloc:20', 'outer:1'], ['(anonymous):30']],
  )
  t.same(p.sample.map((s) => s.value.map(Number)), [[1, 100], [1, 100], [1, 100], [1, 100]])
})

t.test('toPprof: an empty profile gives a valid, empty pprof', async (t) => {
  const bytes = toPprof({ head: rootOf([]), samples: [] }, { timeMs: TIME_MS, samplingIntervalBytes: INTERVAL })
  t.ok(bytes instanceof Uint8Array)
  const { p, str } = decode(bytes)
  t.equal(p.sample.length, 0)
  t.equal(p.location.length, 0)
  t.equal(p.function.length, 0)
  t.same(p.sampleType.map((v) => str(v.type)), ['objects', 'space'])
  t.equal(Number(p.period), INTERVAL)
})

function deepChain(depth: number, leafSize: number): { head: ProfileNode; leafId: number } {
  const head = rootOf([])
  let at = head
  for (let i = 0; i < depth; i++) {
    const child = node(i + 2, `f${i}`, i === depth - 1 ? leafSize : 0, [], i)
    at.children.push(child)
    at = child
  }
  return { head, leafId: depth + 1 }
}

t.test('toPprof: a 50 000-deep chain converts without overflowing the stack', async (t) => {
  const depth = 50_000
  const { head, leafId } = deepChain(depth, 4096)
  const samples = [{ size: 4096, nodeId: leafId, ordinal: 1 }]

  const full = decode(toPprof({ head, samples }, { timeMs: 0, samplingIntervalBytes: INTERVAL, maxStackDepth: depth }))
  t.equal(full.stacks.length, 1)
  const stack = full.stacks[0]!
  t.equal(stack.length, depth, 'the whole chain, root excluded')
  t.same(stack[0], { name: `f${depth - 1}`, file: 'file:///app.js', line: depth }, 'leaf first')
  t.same(stack[depth - 1], { name: 'f0', file: 'file:///app.js', line: 1 }, 'outermost last')

  // By default a stack is cut to its 1024 leaf-most frames plus a marker.
  const cut = decode(toPprof({ head, samples }, { timeMs: 0, samplingIntervalBytes: INTERVAL }))
  const cutStack = cut.stacks[0]!
  t.equal(cutStack.length, 1025)
  t.equal(cutStack[0]!.name, `f${depth - 1}`)
  t.equal(cutStack[1023]!.name, `f${depth - 1024}`)
  t.equal(cutStack[1024]!.name, '(truncated)')
  t.equal(cut.totals.bytes, 4096)
})

t.test('toHeapProfileJson: a 50 000-deep chain serializes without overflowing the stack', async (t) => {
  const depth = 50_000
  const { head } = deepChain(depth, 1)
  const json = toHeapProfileJson({ head, samples: [] })
  t.match(json, /^\{"head":\{"callFrame":\{"functionName":"\(root\)"/)
  t.ok(json.endsWith(`${']}'.repeat(depth + 1)},"samples":[]}`))
  t.equal(json.match(/"callFrame"/g)?.length, depth + 1)
})

t.test('a repeated node id does not loop forever', async (t) => {
  // A true cycle: node 3's child is node 2 again.
  const a = node(2, 'a', 10)
  const b = node(3, 'b', 20)
  a.children.push(b)
  b.children.push(a)
  // And a duplicated id elsewhere: the second node 3 is skipped with its subtree.
  const dup = node(3, 'dup', 40, [node(9, 'under-dup', 80)])
  const head = rootOf([a, dup])
  const { p, stacks, totals } = decode(toPprof({ head, samples: [] }, { timeMs: 0, samplingIntervalBytes: 10 }))
  t.same(stacks.map((s) => s.map((f) => f.name)), [['a'], ['b', 'a']])
  t.equal(totals.bytes, 30)
  t.equal(p.sample.length, 2)

  const json = JSON.parse(toHeapProfileJson({ head, samples: [] })) as HeapProfile
  const ids: number[] = []
  walk(json.head, (n) => ids.push(n.id))
  t.same(ids.sort(), [1, 2, 3])

  // The head's own id appearing again below it is skipped too.
  const loop = rootOf([])
  loop.children.push(loop)
  t.equal(decode(toPprof({ head: loop, samples: [] }, { timeMs: 0, samplingIntervalBytes: 10 })).p.sample.length, 0)
  t.same(JSON.parse(toHeapProfileJson({ head: loop, samples: [] })).head.children, [])
})

t.test('toPprof: samples of the head itself are kept under (root)', async (t) => {
  const head = rootOf([node(2, 'f', 0)])
  const { stacks, totals } = decode(
    toPprof({ head, samples: [{ size: 64, nodeId: 1, ordinal: 1 }] }, { timeMs: 0, samplingIntervalBytes: 64 }),
  )
  t.same(stacks.map((s) => s.map((f) => f.name)), [['(root)']])
  t.same(totals, { count: 1, bytes: 64 })
})

t.test('toPprof: refuses a bad sampling interval', async (t) => {
  const profile = { head: rootOf([]), samples: [] }
  t.throws(() => toPprof(profile, { timeMs: 0, samplingIntervalBytes: 0 }), RangeError)
  t.throws(() => toPprof(profile, { timeMs: 0, samplingIntervalBytes: Number.NaN }), RangeError)
  t.throws(() => toPprof(profile, { timeMs: 0, samplingIntervalBytes: 1024, maxStackDepth: 0 }), RangeError)
})
