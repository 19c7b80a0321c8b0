// Which scripts a search lists through the Debugger domain, and that the domain is always
// turned off again. The listing itself on a real ES module target is in leaky.test.ts.
import t from 'tap'
import { keepListed, listScripts, unnamedScripts, worthListing } from '../../src/holders/script-list.js'
import type { FunctionRef, WalkerItem } from '../../src/holders/report.js'
import type { TargetSession } from '../../src/inspector/session.js'

const refs: FunctionRef[] = [
  { scriptId: '40', line: 0, name: 'a' },
  { scriptId: '99', line: 3, name: 'handle' },
  { scriptId: '120', line: 9, name: '' },
  { scriptId: '0', line: 0, name: 'native' },
]

function item(partial: Partial<WalkerItem>): WalkerItem {
  return {
    id: 1,
    kind: 'Map',
    size: 10,
    previousSize: -1,
    intervalS: 0,
    growthPerSecond: null,
    elementShape: [],
    keyShape: [],
    retainedBytes: 0,
    sampled: 0,
    via: 'walk',
    root: null,
    steps: [],
    ...partial,
  }
}

t.test('unnamed scripts: module roots, closure steps and timer callbacks without a file', async (t) => {
  const items = [
    item({ root: { type: 'module', name: 'pending', ref: 1, scope: 'Module', kind: 'Map' } }),
    item({ root: { type: 'global', name: 'x', kind: '' }, steps: ['.a', { closure: 'c', ref: 2, scope: 'Closure (f)' }] }),
    item({ kind: 'Timers', root: { type: 'timers' }, callbacks: [0, 3] }),
  ]
  t.same([...unnamedScripts(items, refs, new Map())].sort(), ['120', '40', '99'], 'script 0 (no script) is never asked for')
  t.same([...unnamedScripts(items, refs, new Map([['99', '/app/a.mjs'], ['40', '/app/b.js']]))], ['120'], 'named ones are not')
  t.same([...unnamedScripts([item({ root: { type: 'global', name: 'x', kind: '' } })], refs, new Map())], [], 'a global root needs no script')
  t.same([...unnamedScripts(items, refs, new Map(), new Set(['40', '120']))], ['99'], "Node's own scripts are not asked for")
})

t.test('worth listing: once per process, again only for a script compiled after the last listing', async (t) => {
  t.equal(worthListing(new Set(), null), false, 'nothing unnamed')
  t.equal(worthListing(new Set(['99']), null), true, 'never listed')
  t.equal(worthListing(new Set(['99']), 150), false, 'listed since it was compiled: it has no file (eval, a data: URL)')
  t.equal(worthListing(new Set(['99', '151']), 150), true, 'a newer script')
})

/** A target whose Debugger domain answers as configured, and which records what it was sent. */
function fakeDebugger(fail: Set<string>, scripts: unknown[]): TargetSession & { sent: string[] } {
  let listener: ((params: unknown) => void) | undefined
  const sent: string[] = []
  return {
    sent,
    evaluate: async () => undefined,
    send: async (method) => {
      sent.push(method)
      if (fail.has(method)) throw new Error(`${method} failed`)
      if (method === 'Debugger.enable') for (const s of scripts) listener?.(s)
      return {}
    },
    onEvent: (_method, l) => {
      listener = l
      return () => (listener = undefined)
    },
  }
}

t.test('listing: files from file URLs and paths; node: and malformed events left out', async (t) => {
  const session = fakeDebugger(new Set(), [
    { scriptId: '7', url: 'node:internal/timers' },
    { scriptId: '99', url: 'file:///app/src/bus.mjs' },
    { scriptId: '100', url: '/app/src/a.js' },
    { scriptId: '101', url: '' },
    { scriptId: 102, url: 'file:///x.mjs' },
    { scriptId: '130', url: 'data:text/javascript,1' },
  ])
  const listing = await listScripts(session, 1000)
  t.same([...(listing?.files ?? [])], [
    ['99', '/app/src/bus.mjs'],
    ['100', '/app/src/a.js'],
  ])
  t.equal(listing?.upTo, 130)
  t.same(session.sent, ['Debugger.enable', 'Debugger.setSkipAllPauses', 'Debugger.disable'])
})

t.test('a failing enable: no listing, and the domain is still turned off; a failing disable is sent again', async (t) => {
  const noEnable = fakeDebugger(new Set(['Debugger.enable']), [])
  t.equal(await listScripts(noEnable, 1000), undefined)
  t.ok(noEnable.sent.includes('Debugger.disable'))
  const noDisable = fakeDebugger(new Set(['Debugger.disable']), [{ scriptId: '99', url: 'file:///a.mjs' }])
  t.equal(await listScripts(noDisable, 1000), undefined, 'not trusted when the domain may still be on')
  t.same(noDisable.sent, ['Debugger.enable', 'Debugger.setSkipAllPauses', 'Debugger.disable', 'Debugger.disable'])
  t.equal(await listScripts({ evaluate: async () => undefined, send: async () => ({}) }, 1000), undefined, 'a session without events cannot list')
})

t.test('a listing keeps the files the paths need, and the others only up to a bound', async (t) => {
  const listed = new Map(Array.from({ length: 50 }, (_, i) => [String(100 + i), `/app/m${i}.mjs`]))
  const scripts = new Map([['1', '/app/main.js']])
  keepListed(scripts, listed, new Set(['149', '148']), 10)
  t.equal(scripts.get('149'), '/app/m49.mjs', 'a needed one, even past the bound')
  t.equal(scripts.get('148'), '/app/m48.mjs')
  t.equal(scripts.size, 10, 'the others fill up to the bound')
  keepListed(scripts, new Map([['200', '/app/late.mjs']]), new Set(['200']), 10)
  t.equal(scripts.get('200'), '/app/late.mjs', 'a later needed one is kept at the bound too')
  keepListed(scripts, new Map([['201', '/app/other.mjs']]), new Set(), 10)
  t.notOk(scripts.has('201'), 'but not one nothing needs')
})
