/**
 * SiteTracker under arbitrary sequences of ingest / rank / resetSeries / clear:
 * never more than maxSites sites, never more than topSites exported, ranks
 * 1..n over every tracked site, each site once.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { SiteTracker } from '../../src/attribution/tracker.js'
import { hostileNumber, runs, timed } from './fixtures/helpers.js'
import { checkRanking, snapshot } from './fixtures/tracker.js'

type Command =
  | { readonly kind: 'ingest'; readonly dtMs: number; readonly sites: ReadonlyArray<{ readonly key: number; readonly bytes: number }> }
  | { readonly kind: 'rank'; readonly dtMs: number; readonly windowMs: number; readonly longWindowMs: number }
  | { readonly kind: 'resetSeries' }
  | { readonly kind: 'clear' }

const bytesArb = fc.oneof(
  { weight: 6, arbitrary: fc.nat(1 << 30) },
  { weight: 1, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.double() },
)

function commandArb(keyPool: number): fc.Arbitrary<Command> {
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('ingest' as const),
        // Mostly forward in time; sometimes the same instant or a clock step back.
        dtMs: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 120_000 }) }, { weight: 1, arbitrary: fc.integer({ min: -60_000, max: 0 }) }),
        sites: fc.uniqueArray(fc.record({ key: fc.nat(keyPool - 1), bytes: bytesArb }), { selector: (s) => s.key, maxLength: keyPool }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('rank' as const),
        dtMs: fc.integer({ min: -1_000, max: 60_000 }),
        windowMs: fc.oneof(fc.integer({ min: 0, max: 10 * 3_600_000 }), fc.constantFrom(Number.POSITIVE_INFINITY, -1)),
        longWindowMs: fc.oneof(fc.integer({ min: 0, max: 24 * 3_600_000 }), fc.constantFrom(Number.POSITIVE_INFINITY, -1)),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'resetSeries' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
  )
}

t.test('SiteTracker: arbitrary command sequences keep every bound', async (t) => {
  const setup = fc
    .record({ maxSites: fc.integer({ min: 1, max: 40 }), topFraction: fc.double({ min: 0, max: 1, noNaN: true }), maxPoints: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }) })
    .map(({ maxSites, topFraction, maxPoints }) => ({ maxSites, topSites: Math.max(1, Math.round(topFraction * maxSites)), maxPoints }))
  let ranks = 0
  fc.assert(
    fc.property(
      setup.chain((options) => fc.tuple(fc.constant(options), fc.array(commandArb(options.maxSites * 3), { minLength: 1, maxLength: 60, size: 'large' }))),
      ([options, commands]) => {
        const tracker = new SiteTracker(options.maxPoints === undefined ? { maxSites: options.maxSites, topSites: options.topSites } : options)
        let now = 1_700_000_000_000
        for (const command of commands) {
          switch (command.kind) {
            case 'ingest':
              now += command.dtMs
              timed('ingest', () => tracker.ingest(now, snapshot(command.sites)))
              assert.ok(tracker.size <= options.maxSites, `size ${tracker.size} > maxSites ${options.maxSites} after ingest`)
              break
            case 'rank': {
              now += command.dtMs
              const ranked = timed('rank', () => tracker.rank(now, command.windowMs, command.longWindowMs))
              assert.equal(ranked.length, tracker.size, 'every tracked site is ranked')
              ranks += 1
              break
            }
            case 'resetSeries':
              tracker.resetSeries()
              assert.equal(tracker.ranked().length, 0)
              break
            case 'clear':
              tracker.clear()
              assert.equal(tracker.size, 0)
              break
          }
          checkRanking(tracker, options.topSites, options.maxSites)
        }
      },
    ),
    runs(400),
  )
  t.ok(ranks > 100, `${ranks} rankings checked`)
})
