#!/usr/bin/env node
// Runs tap with the TAP reporter, passes its output through, and ends with the
// plain closing line CI reads: "N passed, N failed" (leaf test points: the
// assertions, not the files and subtests that group them). Exits with tap's code.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

const tap = spawn('npx', ['tap', '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
let passed = 0
let failed = 0
let skipped = 0
const openSubtests = new Set()
const lines = createInterface({ input: tap.stdout })
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`)
  const subtest = /^(\s*)# Subtest: (.*)$/.exec(line)
  if (subtest) {
    openSubtests.add(`${subtest[1].length}:${subtest[2]}`)
    return
  }
  const point = /^(\s*)(not ok|ok) \d+(?: - (.*?))?(?: # (\w+).*)?$/.exec(line)
  if (!point) return
  const key = `${point[1].length}:${(point[3] ?? '').replace(/ # time=.*$/, '')}`
  if (openSubtests.delete(key)) return // closes a group, not a test point of its own
  const directive = (point[4] ?? '').toLowerCase()
  if (directive === 'skip' || directive === 'todo') skipped += 1
  else if (point[2] === 'ok') passed += 1
  else failed += 1
})
tap.on('close', (code) => {
  lines.close()
  // A failing file that crashed before reporting its points still has to fail the run.
  if (code !== 0 && failed === 0) failed = 1
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`)
  process.exit(code ?? 1)
})
