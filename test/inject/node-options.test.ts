/**
 * NODE_OPTIONS and node command lines as inject reads them (src/inject/node-options.ts):
 * splitting like Node, the inspector flags and the address they set, and the package managers
 * that would take the inspector port (npm start).
 */
import t from 'tap'
import { inspectorFlags, nodeCommandFlags, packageManagerOf, splitNodeOptions } from '../../src/inject/node-options.js'

t.test('splitNodeOptions splits on whitespace and keeps double-quoted parts together', async (t) => {
  t.same(splitNodeOptions(''), [])
  t.same(splitNodeOptions('  --a   --b=1\t--c\n'), ['--a', '--b=1', '--c'])
  t.same(splitNodeOptions('--require "./my dir/hook.js" --x'), ['--require', './my dir/hook.js', '--x'])
  t.same(splitNodeOptions('--title="a \\"b\\" c"'), ['--title=a "b" c'], 'backslash escapes inside quotes')
  t.same(splitNodeOptions('""'), [''], 'an empty quoted token is a token')
})

t.test('inspectorFlags: which flag, which address (later flags win), and what cannot be read', async (t) => {
  const cases: Array<[string, Partial<ReturnType<typeof inspectorFlags>>]> = [
    ['--max-old-space-size=400', { flags: [], enabled: false, host: '127.0.0.1', port: 9229 }],
    ['--inspect', { enabled: true, host: '127.0.0.1', port: 9229, waits: undefined }],
    ['--inspect=9230', { enabled: true, host: '127.0.0.1', port: 9230 }],
    ['--inspect=0.0.0.0', { enabled: true, host: '0.0.0.0', port: 9229 }],
    ['--inspect=0.0.0.0:9300', { enabled: true, host: '0.0.0.0', port: 9300 }],
    ['--inspect=[::1]:9300', { enabled: true, host: '::1', port: 9300 }],
    ['--inspect=[::1]', { enabled: true, host: '::1', port: 9229 }],
    ['--inspect-port=9231', { enabled: false, port: 9231, flags: ['--inspect-port=9231'] }],
    ['--inspect=127.0.0.1:9229 --inspect-port=9240', { enabled: true, port: 9240 }],
    ['--debug-port=127.0.0.1:9241 --inspect', { enabled: true, port: 9241 }],
    ['--inspect-brk', { enabled: true, waits: '--inspect-brk' }],
    ['--inspect-wait=9229', { enabled: true, waits: '--inspect-wait=9229' }],
    ['--inspect=127.0.0.1:70000', { invalid: '--inspect=127.0.0.1:70000' }],
    ['--inspect=:9229', { invalid: '--inspect=:9229' }],
    ['--inspect=', { invalid: '--inspect=' }],
    ['--inspect=[::1]:99999', { invalid: '--inspect=[::1]:99999' }],
    ['--inspect=999999', { invalid: '--inspect=999999' }],
    ['--inspect=a:b:9229', { invalid: '--inspect=a:b:9229' }],
    ['--inspector-something --inspection', { flags: [] }],
  ]
  for (const [options, expected] of cases) t.match(inspectorFlags(splitNodeOptions(options)), expected, options)
})

t.test('nodeCommandFlags: the options before the script of a node command', async (t) => {
  t.same(nodeCommandFlags(['node', '--inspect=9230', '--enable-source-maps', 'server.js', '--inspect=1']), ['--inspect=9230', '--enable-source-maps'])
  t.same(nodeCommandFlags(['/usr/local/bin/node', 'server.js']), [])
  t.same(nodeCommandFlags(['nodejs', '--inspect']), ['--inspect'])
  t.same(nodeCommandFlags(['python', '--inspect']), [], 'not node')
  t.same(nodeCommandFlags([]), [])
})

t.test('packageManagerOf: npm, yarn, pnpm directly or in a shell script', async (t) => {
  const cases: Array<[string[], string | undefined]> = [
    [['npm', 'start'], 'npm'],
    [['/usr/local/bin/yarn', 'start'], 'yarn'],
    [['npx', 'ts-node', 'app.ts'], 'npx'],
    [['pnpm', 'start'], 'pnpm'],
    [['sh', '-c', 'npm start'], 'npm'],
    [['/bin/bash', '-lc', 'exec yarn start'], 'yarn'],
    [['/bin/bash', '-c', 'cd /app && exec yarn start'], 'yarn'],
    [['sh', '-c', 'node migrate.js; /usr/bin/npm run serve'], 'npm'],
    [['sh', '-c', 'exec node server.js'], undefined],
    [['sh', '-c', 'echo npm is not used'], undefined],
    [['sh', 'start.sh'], undefined],
    [['sh'], undefined],
    [['node', 'server.js'], undefined],
    [[], undefined],
  ]
  for (const [commandLine, expected] of cases) t.equal(packageManagerOf(commandLine), expected, commandLine.join(' ') || '(none)')
})
