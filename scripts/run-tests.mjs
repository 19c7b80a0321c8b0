#!/usr/bin/env node
// Runs tap with the TAP reporter, passes its output through, and ends with the
// plain closing line CI reads: "N passed, N failed" (leaf test points: the
// assertions, not the files and subtests that group them). Exits with tap's code.
//
//   node scripts/run-tests.mjs            the whole suite (npm test, what CI runs)
//   node scripts/run-tests.mjs --unit     the pure tests only (npm run test:unit, under a minute):
//                                         not the *.stress.test.ts files (bounds at their maxima), and
//                                         files that start no process, open no socket and run no tool
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** What makes a test file an integration test: it starts processes, servers, sidecars or tools. */
const INTEGRATION =
  /spawnTarget|spawn\(|spawnSync|execFile|fork\(|startSidecar|startMonitor|new Sidecar|InspectorSession\.open|\.listen\(|promtool|checkMetrics|chromium|helmBinary|kubectl|runCli|runDemo|startOtlp|startNode|new Worker\(|from '\.\.\/helpers\/(targets|cli|k8s-tools|otlp-receiver)\.js'|from '\.\/helpers\/(targets|cli|k8s-tools|otlp-receiver)\.js'|from '\.\/lib\.js'/

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'fixtures' ? [] : testFiles(path)
    return name.endsWith('.test.ts') ? [path] : []
  })
}

const args = process.argv.slice(2)
const unit = args.includes('--unit')
const files = unit
  ? testFiles('test')
      .filter((file) => !file.endsWith('.stress.test.ts') && !INTEGRATION.test(readFileSync(file, 'utf8')))
      .sort()
  : []
// The unit tier checks no coverage: the floors in .taprc are for the whole suite.
const tapArgs = unit ? ['--disable-coverage', ...files] : args

const tap = spawn('npx', ['tap', '--reporter=tap', ...tapArgs], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
let passed = 0
let failed = 0
let skipped = 0
const openSubtests = new Set()
/** The subtests open around the current line, outermost first: [indent, name]. */
const within = []
/** Each failed test point with the file and subtests it sits in, listed again at the end (a long log is often cut). */
const failures = []
const lines = createInterface({ input: tap.stdout })
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`)
  const subtest = /^(\s*)# Subtest: (.*)$/.exec(line)
  if (subtest) {
    openSubtests.add(`${subtest[1].length}:${subtest[2]}`)
    while (within.length > 0 && within.at(-1)[0] >= subtest[1].length) within.pop()
    within.push([subtest[1].length, subtest[2]])
    return
  }
  const point = /^(\s*)(not ok|ok) \d+(?: - (.*?))?(?: # (\w+).*)?$/.exec(line)
  if (!point) return
  const name = (point[3] ?? '').replace(/ # time=.*$/, '')
  const key = `${point[1].length}:${name}`
  while (within.length > 0 && within.at(-1)[0] > point[1].length) within.pop()
  if (openSubtests.delete(key)) {
    // closes a group, not a test point of its own
    if (within.at(-1)?.[0] === point[1].length) within.pop()
    return
  }
  const directive = (point[4] ?? '').toLowerCase()
  if (directive === 'skip' || directive === 'todo') skipped += 1
  else if (point[2] === 'ok') passed += 1
  else {
    failed += 1
    failures.push([...within.map(([, n]) => n), name || '(unnamed)'].join(' > '))
  }
})
tap.on('close', (code) => {
  lines.close()
  // A failing file that crashed before reporting its points still has to fail the run.
  if (code !== 0 && failed === 0) failed = 1
  if (failures.length > 0) {
    process.stdout.write(`\nfailed test points (${failures.length}):\n`)
    for (const failure of failures.slice(0, 50)) process.stdout.write(`  not ok: ${failure}\n`)
    if (failures.length > 50) process.stdout.write(`  … and ${failures.length - 50} more\n`)
  }
  process.stdout.write(`\n${unit ? `unit tier (${files.length} files): ` : ''}${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`)
  process.exit(code ?? 1)
})
