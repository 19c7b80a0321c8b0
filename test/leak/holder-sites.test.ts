import t from 'tap'
import type { RankedSite } from '../../src/attribution/tracker.js'
import { siteOfHolder } from '../../src/leak/holder-sites.js'

const frame = (functionName: string, url: string, line = 1) => ({ functionName, url, line, column: 1 })

function site(label: string, slopeBytesPerSecond: number, stack: RankedSite['stack']): RankedSite {
  return { key: label, label, frame: stack[0]!, stack, bytes: 1e6, slopeBytesPerSecond, slopeOverMs: 60_000, points: 5, firstSeenMs: 0, rank: 0 }
}

const SITES: readonly RankedSite[] = [
  // Fastest first, as SiteTracker.ranked() gives them.
  site('render (src/pages.js:9)', 9000, [frame('render', 'file:///srv/src/pages.js'), frame('handle', 'file:///srv/main.js')]),
  site('enqueue (src/queue.mjs:12)', 4000, [frame('enqueue', 'file:///srv/src/queue.mjs'), frame('onOrder', 'file:///srv/main.js')]),
  site('memoized (node_modules/tiny-memo/index.js:5)', 2000, [frame('computeQuote', '/srv/main.js'), frame('memoized', '/srv/node_modules/tiny-memo/index.js')]),
  site('shrinking (src/old.js:1)', -50, [frame('shrinking', 'file:///srv/src/old.js')]),
]

t.test('a growing holder gets the fastest growing site whose stack passes through its module', async (t) => {
  t.equal(siteOfHolder({ growing: true, rootFile: '/srv/src/queue.mjs' }, SITES)?.label, 'enqueue (src/queue.mjs:12)')
  // A dependency's cache: the application function is the site, the memo wrapper on its stack.
  t.equal(siteOfHolder({ growing: true, rootFile: '/srv/node_modules/tiny-memo/index.js' }, SITES)?.label, 'memoized (node_modules/tiny-memo/index.js:5)')
  // The main module is on two stacks: the faster one.
  const main = siteOfHolder({ growing: true, rootFile: '/srv/main.js' }, SITES)
  t.equal(main?.label, 'render (src/pages.js:9)')
  t.match(main?.basis, /stack passes through the holder's module/)
})

t.test('no site: not growing, no module, or no growing stack through it', async (t) => {
  t.equal(siteOfHolder({ growing: false, rootFile: '/srv/src/queue.mjs' }, SITES), null)
  t.equal(siteOfHolder({ growing: true, rootFile: null }, SITES), null)
  t.equal(siteOfHolder({ growing: true, rootFile: '/srv/src/old.js' }, SITES), null, 'a shrinking site is not a source')
  t.equal(siteOfHolder({ growing: true, rootFile: '/srv/src/queue.mjs' }, []), null)
})
