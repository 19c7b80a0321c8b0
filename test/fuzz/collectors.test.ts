/**
 * Every collector's `parse` against arbitrary values, broken recorded replies,
 * huge and hostile replies, and arbitrary previous states: a valid output
 * (finite numbers, catalog keys and labels, bounded label values and sizes) or
 * a coded error — never a crash, never slow, never prototype pollution.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import t from 'tap'
import { COLLECTORS as nodeCollectors } from '../../src/collectors/registry.js'
import { checkReply } from '../../src/collectors/reply.js'
import { AGENT_RING_SIZE, type Collector, type CollectorOutput } from '../../src/collectors/types.js'
import { isHistogramSample } from '../../src/core/metrics.js'
import { catalog } from '../../src/export/catalog.js'
import { z } from 'zod'
import {
  holds,
  REPLY_ERROR_CODES,
  anyValue,
  assertCoded,
  assertNoPollution,
  deepArray,
  deepObject,
  hostileNumber,
  hugeRecord,
  mutate,
  mutationsArb,
  outcome,
  protoKeys,
  runs,
  setOwn,
} from './fixtures/helpers.js'

type AnyCollector = Collector<unknown>

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/replies/${name}.json`, import.meta.url), 'utf8'))

/** Longest label value: 200 characters, plus the leading `…` that info's clip() adds when it cuts. */
const MAX_LABEL_VALUE = 201
/** Most samples one parse may return, per collector (heapStatistics: 5 + 64 spaces × 4; the by-type counts: 64 types and their total). */
const MAX_SAMPLES: Record<string, number> = {
  heap: 2,
  memory: 3,
  gc: 8,
  heapStatistics: 5 + 64 * 4,
  eventLoop: 11,
  resources: 64 + 1,
  http: 1,
  info: 3,
  process: 3 + 4 + 2 * (64 + 1),
}
const definitions = new Map(catalog.map((metric) => [metric.key, metric]))

/** Every invariant of a successful parse. */
function checkOutput(collector: AnyCollector, output: CollectorOutput<unknown>): void {
  const name = collector.name
  assert.ok(Array.isArray(output.samples), `${name}: samples is not an array`)
  assert.ok(output.samples.length <= (MAX_SAMPLES[name] ?? 0), `${name}: ${output.samples.length} samples`)
  const series = new Set<string>()
  for (const sample of output.samples) {
    const definition = definitions.get(sample.key)
    assert.ok(definition, `${name}: unknown metric key ${sample.key}`)
    assert.equal(definition.collector, name, `${sample.key} belongs to ${definition.collector}, not ${name}`)
    const labels: Readonly<Record<string, string>> = sample.labels ?? {}
    assert.deepEqual(Object.keys(labels).sort(), [...definition.labels].sort(), `${sample.key}: label names`)
    for (const [label, value] of Object.entries(labels)) {
      assert.equal(typeof value, 'string', `${sample.key}{${label}} is not a string`)
      assert.ok(value.length <= MAX_LABEL_VALUE, `${sample.key}{${label}} is ${value.length} characters long`)
    }
    series.add(`${sample.key}${JSON.stringify(labels)}`)
    if (isHistogramSample(sample)) {
      assert.equal(definition.type, 'histogram', `${sample.key} is not a histogram`)
      assert.equal(sample.buckets.length, (definition.buckets?.length ?? 0) + 1, `${sample.key}: bucket count`)
      for (const n of [...sample.buckets, sample.count, sample.sum]) {
        assert.ok(Number.isFinite(n) && n >= 0, `${sample.key}: histogram number ${n}`)
      }
    } else {
      assert.notEqual(definition.type, 'histogram', `${sample.key} must be a histogram`)
      assert.ok(Number.isFinite(sample.value), `${sample.key}${JSON.stringify(labels)} = ${sample.value}`)
    }
  }
  if (name === 'resources') assert.ok(series.size === output.samples.length, 'resources: a type twice')
  for (const list of [output.gcEvents, output.floors]) {
    if (list === undefined) continue
    assert.ok(list.length <= AGENT_RING_SIZE, `${name}: ${list.length} events`)
    for (const item of list) {
      for (const n of Object.values(item)) if (typeof n === 'number') assert.ok(Number.isFinite(n), `${name}: event number ${n}`)
    }
  }
  checkState(name, output.state)
}

/** The state a parse hands to the next one must be of the right shape and finite. */
function checkState(name: string, state: unknown): void {
  if (name === 'gc') {
    const s = state as { lastSeq: number; dropped: number }
    assert.ok(Number.isSafeInteger(s.lastSeq) && s.lastSeq >= 0, `gc state lastSeq ${s.lastSeq}`)
    assert.ok(Number.isFinite(s.dropped) && s.dropped >= 0, `gc state dropped ${s.dropped}`)
  } else if (name === 'eventLoop') {
    const s = state as { idleMs: number; activeMs: number }
    assert.ok(Number.isFinite(s.idleMs) && s.idleMs >= 0 && Number.isFinite(s.activeMs) && s.activeMs >= 0, `eventLoop state ${JSON.stringify(s)}`)
  } else {
    assert.equal(state, undefined, `${name}: state`)
  }
}

/** Parse within the time bound; either a valid output or a coded error. */
function parseChecked(collector: AnyCollector, raw: unknown, state: unknown): CollectorOutput<unknown> | undefined {
  const result = outcome(`${collector.name}.parse`, () => collector.parse(raw, state, 1_700_000_000_000))
  assertNoPollution(collector.name)
  if (!result.ok) {
    assertCoded(result.error, REPLY_ERROR_CODES, `${collector.name}.parse`)
    return undefined
  }
  checkOutput(collector, result.value)
  return result.value
}

/** States the collector itself can hand over (and undefined after a restart), at their extremes too. */
function stateArb(name: string): fc.Arbitrary<unknown> {
  const count = fc.oneof(fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))
  const ms = fc.oneof(fc.double({ min: 0, max: 1e9, noNaN: true }), fc.constantFrom(0, Number.MAX_VALUE))
  if (name === 'gc') return fc.option(fc.record({ lastSeq: count, dropped: count }), { nil: undefined })
  if (name === 'eventLoop') return fc.option(fc.record({ idleMs: ms, activeMs: ms }), { nil: undefined })
  return fc.constant(undefined)
}

const collectors = nodeCollectors as ReadonlyArray<AnyCollector>

t.test('every registered collector has recorded replies that parse cleanly', async (t) => {
  t.ok(collectors.length >= 7, `${collectors.length} collectors`)
  for (const collector of collectors) {
    const first = parseChecked(collector, fixture(`${collector.name}.1`), undefined)
    t.ok(first, `${collector.name}.1 parses`)
    t.ok(parseChecked(collector, fixture(`${collector.name}.2`), first?.state), `${collector.name}.2 parses after .1`)
  }
})

for (const collector of collectors) {
  const name = collector.name
  const replies = [fixture(`${name}.1`), fixture(`${name}.2`)]

  t.test(`${name}.parse: arbitrary values → output or coded error`, async (t) => {
    holds(
      t,
      fc.property(anyValue, stateArb(name), (raw, state) => {
        parseChecked(collector, raw, state)
      }),
      runs(400),
      '400 arbitrary values',
    )
  })

  t.test(`${name}.parse: mutated recorded replies (dropped fields, hostile numbers, huge and deep values, __proto__ keys)`, async (t) => {
    let accepted = 0
    let refused = 0
    holds(
      t,
      fc.property(fc.nat(1), mutationsArb, stateArb(name), (which, mutations, state) => {
        if (parseChecked(collector, mutate(replies[which], mutations), state) === undefined) refused += 1
        else accepted += 1
      }),
      runs(600),
      `holds: ${name}.parse: mutated recorded replies (dropped fields, hostile numbers, huge and deep values, __proto__ keys)`,
    )
    // Both outcomes were exercised (a mutation can hit an ignored field, or break a checked one).
    t.ok(accepted > 0 && refused > 0, `600 mutated replies: ${accepted} accepted, ${refused} refused`)
  })

  t.test(`${name}.parse: every number field replaced by a hostile number, one at a time`, async (t) => {
    const base = replies[0] as Record<string, unknown>
    const paths = numberPaths(base)
    t.ok(paths.length > 0, `${paths.length} number fields`)
    let refused = 0
    holds(
      t,
      fc.property(fc.constantFrom(...paths), fc.oneof(hostileNumber, fc.constantFrom('1', '', null, '1e3')), (path, value) => {
        const raw = structuredClone(base)
        setPath(raw, path, value)
        if (parseChecked(collector, raw, undefined) === undefined) refused += 1
      }),
      runs(Math.min(300, paths.length * 20)),
      'no number field crashes the parser',
    )
    t.ok(refused > 0, 'hostile numbers are refused')
  })

  t.test(`${name}.parse: sequences of replies, each with the state the previous parse returned`, async (t) => {
    // Unbroken recorded replies (no mutations) and broken ones, in any order.
    const reply = fc.record({ which: fc.nat(1), mutations: fc.oneof(fc.constant([]), mutationsArb) })
    holds(
      t,
      fc.property(stateArb(name), fc.array(reply, { minLength: 1, maxLength: 6 }), (initial, sequence) => {
        let state = initial
        for (const { which, mutations } of sequence) {
          const output = parseChecked(collector, mutate(replies[which], mutations), state)
          // A refused reply leaves the previous state in place (as the monitor does).
          if (output !== undefined) state = output.state
        }
      }),
      runs(200),
      '200 sequences',
    )
  })
}

/** Paths of every number inside a JSON value. */
function numberPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value === 'number') return [prefix]
  if (Array.isArray(value)) return value.flatMap((child, i) => numberPaths(child, [...prefix, i]))
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, child]) => numberPaths(child, [...prefix, key]))
  }
  return []
}

function setPath(root: unknown, path: ReadonlyArray<string | number>, value: unknown): void {
  let at = root as Record<string | number, unknown>
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>
  at[path[path.length - 1] as string | number] = value
}

const byName = new Map(collectors.map((c) => [c.name, c]))
const get = (name: string): AnyCollector => byName.get(name) as AnyCollector

t.test('huge and hostile replies, deterministic', async (t) => {
  const resources = get('resources')
  // 10^5 resource types: at most 64 label values, the biggest counts, fast.
  const many = parseChecked(resources, { counts: hugeRecord(100_000, (i) => i) }, undefined)
  t.equal(many?.samples.filter((sample) => sample.key === 'activeResources').length, 64, '10^5 types → 64 series')
  t.equal((many?.samples.find((sample) => sample.key === 'activeResourcesTotal') as { value: number } | undefined)?.value, (100_000 * 99_999) / 2, 'and their total')
  t.equal((many?.samples[0] as { value: number }).value, 99_999, 'the largest count first')
  // 10^5 types with hostile values or names: refused quickly.
  for (const [what, counts] of [
    ['negative counts', hugeRecord(100_000, () => -1)],
    ['string counts', hugeRecord(100_000, () => '1')],
    ['fractional counts', hugeRecord(100_000, () => 0.5)],
    ['long type names', Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`${'t'.repeat(101)}${i}`, 1]))],
  ] as const) {
    t.equal(parseChecked(resources, { counts }, undefined), undefined, `resources: ${what} refused`)
  }
  // __proto__ / constructor keys: counted as (odd) types or dropped, never a prototype change.
  const proto = JSON.parse('{"counts":{"__proto__":5,"constructor":3,"toString":1,"hasOwnProperty":2,"Timeout":1}}') as unknown
  const out = parseChecked(resources, proto, undefined)
  t.ok(out, 'proto-named types parse')
  assertNoPollution('resources')
  const polluting = JSON.parse('{"counts":{"__proto__":{"polluted":1},"Timeout":1}}') as unknown
  parseChecked(resources, polluting, undefined)
  assertNoPollution('resources')

  // GC events: more than the ring holds → refused; deep and huge values anywhere → refused.
  const gc = get('gc')
  const gcReply = fixture('gc.1') as Record<string, unknown>
  t.equal(parseChecked(gc, { ...gcReply, events: new Array(100_000).fill([1, 'minor', 1, 0]) }, undefined), undefined)
  t.equal(parseChecked(gc, { ...gcReply, byKind: hugeRecord(100_000, () => ({ count: 1, sumMs: 1, buckets: [1, 0, 0, 0, 0, 0, 0] })) }, undefined), undefined)
  const byKindProto = structuredClone(gcReply.byKind) as Record<string, unknown>
  setOwn(byKindProto, '__proto__', { count: 1 })
  parseChecked(gc, { ...gcReply, byKind: byKindProto }, undefined)
  assertNoPollution('gc')

  // heapStatistics: more spaces than V8 has → refused.
  const stats = get('heapStatistics')
  const statsReply = fixture('heapStatistics.1') as { spaces: unknown[] }
  t.equal(parseChecked(stats, { ...statsReply, spaces: new Array(65).fill(statsReply.spaces[0]) }, undefined), undefined, '65 spaces refused')
  t.equal(parseChecked(stats, { ...statsReply, spaces: new Array(100_000).fill(statsReply.spaces[0]) }, undefined), undefined)

  // Deep nesting where an object or a number belongs: refused, no stack overflow.
  for (const collector of collectors) {
    for (const deep of [deepArray(100_000), deepObject(100_000), deepObject(100_000, '__proto__')]) {
      parseChecked(collector, deep, undefined)
      const reply = structuredClone(fixture(`${collector.name}.1`)) as Record<string, unknown>
      for (const key of Object.keys(reply)) {
        parseChecked(collector, { ...reply, [key]: deep }, undefined)
      }
    }
    // A reply that is all __proto__ keys.
    parseChecked(collector, protoKeys(), undefined)
    parseChecked(collector, { ...(fixture(`${collector.name}.1`) as object), ...protoKeys() }, undefined)
  }
  assertNoPollution('all collectors')
})

t.test('agent markers win over the schema: agentMissing → LW_ERR_AGENT_MISSING, unavailable → LW_ERR_UNAVAILABLE', async (t) => {
  for (const collector of collectors) {
    const base = fixture(`${collector.name}.1`) as Record<string, unknown>
    const missing = outcome(collector.name, () => collector.parse({ agentMissing: true }, undefined, 0))
    t.equal(!missing.ok && (missing.error as { code?: string }).code, 'LW_ERR_AGENT_MISSING', `${collector.name}: agentMissing`)
    const unavailable = outcome(collector.name, () => collector.parse({ ...base, unavailable: 'old node' }, undefined, 0))
    t.equal(!unavailable.ok && (unavailable.error as { code?: string }).code, 'LW_ERR_UNAVAILABLE', `${collector.name}: unavailable`)
  }
})

// Bugs found by this file -------------------------------------------------------------

t.test('regression (found by fuzzing): info: node_version label value is not clipped (a 1 MB nodeVersion becomes a 1 MB label on every scrape)', async (t) => {
  const info = get('info')
  const raw = { ...(fixture('info.1') as object), nodeVersion: `v${'9'.repeat(1_000_000)}` }
  const result = outcome('info.parse', () => info.parse(raw, undefined, 0))
  if (!result.ok) {
    t.doesNotThrow(() => assertCoded(result.error, REPLY_ERROR_CODES, 'info.parse'), 'refused with a coded error')
    return
  }
  const label = result.value.samples[0]?.labels?.['node_version'] ?? ''
  t.ok(label.length <= MAX_LABEL_VALUE, `node_version label is ${label.length} characters (bound ${MAX_LABEL_VALUE})`)
})

t.test('regression (found by fuzzing): checkReply: coded error messages echo target-controlled text without a bound', async (t) => {
  // The message is kept as lastError (JSON API) and logged; a target controls its size.
  const MAX_MESSAGE = 2_000
  const schema = z.object({ counts: z.record(z.string().max(100), z.number()) })
  const cases: Array<[string, unknown]> = [
    ['unavailable reason of 10^6 characters', { unavailable: 'u'.repeat(1_000_000) }],
    ['record key of 10^6 characters', { counts: { ['k'.repeat(1_000_000)]: 1 } }],
  ]
  for (const [what, raw] of cases) {
    const result = outcome('checkReply', () => checkReply('test reply', schema, raw))
    t.notOk(result.ok, `${what}: refused`)
    if (result.ok) continue
    assertCoded(result.error, REPLY_ERROR_CODES, 'checkReply')
    t.ok(result.error.message.length <= MAX_MESSAGE, `${what}: message is ${result.error.message.length} characters (bound ${MAX_MESSAGE})`)
  }
})
