/**
 * Records real inspector replies of every collector into test/fixtures/replies,
 * so the pure parsers are tested on what Node actually sends.
 *
 *   node --import @tapjs/typescript/import scripts/record-replies.ts
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { nodeCollectors } from '../src/collectors/index.js'
import { InspectorSession } from '../src/inspector/session.js'
import { INSTALL_AGENT } from '../src/inspector/snippets.js'

const TARGET = `
const http = require('node:http');
const keep = [];
const server = http.createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1');
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
  writeFileSync(new URL('install-agent.json', out), JSON.stringify(await session.evaluate(INSTALL_AGENT, 5000), null, 2) + '\n')
  // Let the churn produce minor and major GCs, and the delay histogram fill.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const states = new Map<string, unknown>()
  for (const round of [1, 2]) {
    for (const collector of nodeCollectors) {
      const raw = await collector.fetch(session, states.get(collector.name) as never, 5000)
      states.set(collector.name, collector.parse(raw, states.get(collector.name) as never, Date.now()).state)
      writeFileSync(new URL(`${collector.name}.${round}.json`, out), JSON.stringify(raw, null, 2) + '\n')
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  await session.close()
  console.log(`recorded replies into ${out.pathname}`)
} finally {
  child.kill('SIGKILL')
}
