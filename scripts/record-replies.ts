/**
 * Records real inspector replies of every collector into test/fixtures/replies,
 * so the pure parsers are tested on what Node actually sends.
 *
 *   node --import @tapjs/typescript/import scripts/record-replies.ts [--only NAME ...]
 *
 * `--only` records the named collectors' replies and leaves the others' files as they are.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { INSTALL_AGENT, readSnippet } from '../src/collectors/agent.js'
import { COLLECTORS } from '../src/collectors/registry.js'
import { isAgentCollector } from '../src/collectors/types.js'
import { parseArgs } from 'node:util'
import { InspectorSession } from '../src/inspector/session.js'

const { values } = parseArgs({ options: { only: { type: 'string', multiple: true } } })
const only = values.only ?? COLLECTORS.map((collector) => collector.name)
const unknown = only.filter((name) => !COLLECTORS.some((collector) => collector.name === name))
if (unknown.length > 0) throw new Error(`--only: no collector named ${unknown.join(', ')}`)

const TARGET = `
const http = require('node:http');
const keep = [];
const server = http.createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', () => {
  const agent = new http.Agent({ keepAlive: true });
  setInterval(() => http.get({ host: '127.0.0.1', port: server.address().port, path: '/', agent }, (r) => r.resume()), 20);
});
setInterval(() => { for (let i = 0; i < 2000; i++) keep.push({ i, s: 'x'.repeat(64) }); if (keep.length > 60000) keep.length = 0; }, 5);
`

const out = new URL('../test/fixtures/replies/', import.meta.url)
mkdirSync(out, { recursive: true })

const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', '-e', TARGET], { stdio: ['ignore', 'ignore', 'pipe'] })
const port = await new Promise<number>((resolve, reject) => {
  let text = ''
  child.stderr.on('data', (chunk: Buffer) => {
    text += chunk.toString()
    const match = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(text)
    if (match?.[1] !== undefined) resolve(Number(match[1]))
  })
  child.on('exit', () => reject(new Error(`target exited: ${text}`)))
})
try {
  const session = await InspectorSession.open({ host: '127.0.0.1', port }, 5000)
  const install = await session.evaluate(INSTALL_AGENT, 5000)
  if (values.only === undefined) writeFileSync(new URL('install-agent.json', out), JSON.stringify(install, null, 2) + '\n')
  // Let the churn produce minor and major GCs, and the delay histogram fill.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const states = new Map<string, unknown>()
  for (const round of [1, 2]) {
    // The same one read per poll the monitor makes.
    const ask: Record<string, number> = {}
    for (const collector of COLLECTORS) {
      if (isAgentCollector(collector)) ask[collector.name] = collector.part.argument?.(states.get(collector.name)) ?? 0
    }
    const batch = (await session.evaluate(readSnippet(ask), 5000)) as { parts: Record<string, unknown> }
    for (const collector of COLLECTORS) {
      const raw = isAgentCollector(collector)
        ? batch.parts[collector.name]
        : await collector.fetch(session, states.get(collector.name) as never, 5000)
      states.set(collector.name, collector.parse(raw, states.get(collector.name) as never, Date.now()).state)
      if (only.includes(collector.name)) writeFileSync(new URL(`${collector.name}.${round}.json`, out), JSON.stringify(raw, null, 2) + '\n')
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  await session.close()
  console.log(`recorded replies into ${out.pathname}`)
} finally {
  child.kill('SIGKILL')
}
