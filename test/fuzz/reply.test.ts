/**
 * checkReply: the one gate every snippet reply goes through. Arbitrary values
 * against a few schemas: the agent markers first, then the schema, and every
 * refusal a coded error with a non-empty message naming the reply.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { z } from 'zod'
import { checkReply } from '../../src/collectors/reply.js'
import { AgentMissingError, MalformedReplyError, UnavailableError } from '../../src/core/errors.js'
import { anyValue, assertCoded, assertNoPollution, deepArray, deepObject, hostileScalar, hugeRecord, outcome, protoKeys, resolve, runs } from './fixtures/helpers.js'

const SCHEMAS: ReadonlyArray<[string, z.ZodType]> = [
  ['object', z.object({ usedSize: z.number().nonnegative(), totalSize: z.number().nonnegative() })],
  ['record', z.object({ counts: z.record(z.string().min(1).max(100), z.number().int().nonnegative()) })],
  ['tuples', z.object({ events: z.array(z.tuple([z.number().int(), z.enum(['minor', 'major']), z.number()])).max(8) })],
  ['nullable', z.object({ elu: z.object({ idle: z.number() }).nullable(), ok: z.boolean() })],
  ['partialRecord', z.object({ byKind: z.partialRecord(z.enum(['minor', 'major']), z.object({ count: z.number() })) })],
  ['unknown', z.unknown()],
]

/** Values shaped like replies: a marker, a near-miss of a schema, or anything at all. */
const replyArb: fc.Arbitrary<unknown> = fc.oneof(
  anyValue,
  fc.record(
    { agentMissing: fc.oneof(fc.constant(true), hostileScalar), unavailable: fc.oneof(fc.string(), hostileScalar), usedSize: hostileScalar, totalSize: hostileScalar },
    { requiredKeys: [] },
  ),
  fc.record({ counts: fc.dictionary(fc.oneof(fc.string({ maxLength: 120 }), fc.constantFrom('__proto__', 'constructor', '')), hostileScalar, { maxKeys: 20 }) }),
  fc.record({ events: fc.array(fc.tuple(hostileScalar, fc.constantFrom('minor', 'major', 'bogus'), hostileScalar), { maxLength: 12 }) }),
  fc.record({ byKind: fc.dictionary(fc.constantFrom('minor', 'major', 'other', '__proto__'), fc.record({ count: hostileScalar }), { maxKeys: 4 }) }),
)

function expected(raw: unknown, schema: z.ZodType): 'agent' | 'unavailable' | 'ok' | 'malformed' {
  if (typeof raw === 'object' && raw !== null) {
    const marker = raw as { agentMissing?: unknown; unavailable?: unknown }
    if (marker.agentMissing === true) return 'agent'
    if (typeof marker.unavailable === 'string') return 'unavailable'
  }
  return schema.safeParse(raw).success ? 'ok' : 'malformed'
}

t.test('checkReply: markers first, then the schema; every refusal coded and named', async (t) => {
  const seen = new Map<string, number>()
  fc.assert(
    fc.property(fc.constantFrom(...SCHEMAS), replyArb, ([schemaName, schema], value) => {
      const raw = resolveDeep(value)
      const want = expected(raw, schema)
      seen.set(want, (seen.get(want) ?? 0) + 1)
      const result = outcome('checkReply', () => checkReply('the reply', schema, raw))
      assertNoPollution('checkReply')
      if (result.ok) {
        assert.equal(want, 'ok', `${schemaName}: accepted a reply the schema refuses`)
        assert.deepEqual(result.value, schema.parse(raw))
        return
      }
      assertCoded(result.error, ['LW_ERR_MALFORMED_REPLY', 'LW_ERR_UNAVAILABLE', 'LW_ERR_AGENT_MISSING'], 'checkReply')
      const type = { agent: AgentMissingError, unavailable: UnavailableError, malformed: MalformedReplyError, ok: undefined }[want]
      assert.ok(type !== undefined && result.error instanceof type, `${schemaName}: expected ${want}, got ${result.error.code}`)
      assert.ok(result.error.message.startsWith('the reply'), 'the message names the reply')
    }),
    runs(1500),
  )
  t.ok([...seen.values()].every((n) => n > 0) && seen.size === 4, `every outcome exercised: ${JSON.stringify(Object.fromEntries(seen))}`)
})

t.test('checkReply: huge, deep and __proto__-keyed values are refused quickly, without pollution', async (t) => {
  const record = SCHEMAS[1]![1]
  const cases: Array<[string, unknown]> = [
    ['10^5 valid keys', { counts: hugeRecord(100_000) }],
    ['10^5 invalid values', { counts: hugeRecord(100_000, () => -1) }],
    ['deep array', deepArray(100_000)],
    ['deep object', { counts: deepObject(100_000) }],
    ['deep __proto__ chain', deepObject(100_000, '__proto__')],
    ['proto keys', protoKeys()],
    ['proto keys in the record', { counts: protoKeys() }],
    ['10^6-element array', new Array(1_000_000).fill(0)],
  ]
  for (const [what, raw] of cases) {
    for (const [name, schema] of SCHEMAS) {
      const result = outcome(`${what} / ${name}`, () => checkReply('reply', schema, raw))
      if (!result.ok) assertCoded(result.error, ['LW_ERR_MALFORMED_REPLY'], `${what} / ${name}`)
    }
    assertNoPollution(what)
  }
  const accepted = outcome('10^5 keys', () => checkReply('reply', record, { counts: hugeRecord(100_000) }))
  t.ok(accepted.ok, '10^5 valid keys are accepted (the collector caps them)')
})

/** Replace the long-string tokens inside a generated value. */
function resolveDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveDeep)
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const [key, child] of Object.entries(value)) Object.defineProperty(out, key, { value: resolveDeep(child), enumerable: true, writable: true, configurable: true })
    return out
  }
  return resolve(value)
}
