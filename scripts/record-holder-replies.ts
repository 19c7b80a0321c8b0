/**
 * Records a real transcript of two holder searches (every protocol call and its reply)
 * against the broker fixture into test/fixtures/holders/replies/, so the driver and the
 * report are tested on what Node actually sends.
 *
 *   node --import @tapjs/typescript/import scripts/record-holder-replies.ts
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { searchHolders } from '../src/holders/search.js'
import { InspectorSession } from '../src/inspector/session.js'
import { RecordingSession } from '../test/holders/lib.js'

const out = new URL('../test/fixtures/holders/replies/', import.meta.url)
mkdirSync(out, { recursive: true })
const script = fileURLToPath(new URL('../test/fixtures/holders/broker/main.js', import.meta.url))
const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', script], { stdio: ['ignore', 'pipe', 'pipe'] })
const port = await new Promise<number>((resolve, reject) => {
  let text = ''
  let ready = false
  let found: number | undefined
  const check = (): void => {
    if (ready && found !== undefined) resolve(found)
  }
  child.stdout.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('ready')) ready = true
    check()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    text += chunk.toString()
    const match = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(text)
    if (match?.[1] !== undefined) found = Number(match[1])
    check()
  })
  child.on('exit', () => reject(new Error(`target exited: ${text}`)))
})
try {
  const session = await InspectorSession.open({ host: '127.0.0.1', port }, 5000)
  // A second of publishing first: a queue grown from empty is judged only at the next search
  // (report.ts isGrowing), so the pair must find the leaking queue already filling.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const first = new RecordingSession(session)
  const a = await searchHolders(first, {})
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const second = new RecordingSession(session)
  const b = await searchHolders(second, {}, a)
  // Function descriptions are their source text: cut them, the driver never reads them.
  const cut = (key: string, value: unknown): unknown =>
    key === 'description' && typeof value === 'string' && value.length > 80 ? `${value.slice(0, 80)}…` : value
  writeFileSync(
    new URL('broker.json', out),
    `${JSON.stringify({ first: first.calls, second: second.calls, results: [a, b] }, cut, 1)}\n`,
  )
  await session.close()
} finally {
  child.kill()
}
