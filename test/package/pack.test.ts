/**
 * The npm package as a user gets it: the committed HEAD (git archive, so nothing uncommitted or
 * ignored leaks in) → `npm ci` → `npm pack` (prepack builds dist/) → `npm install <tarball>` in
 * an empty directory → `npx leakwatch --help`. Also checks what the tarball holds: dist/, LICENSE,
 * README, the sources the source maps name, no tests; and that main/exports resolve.
 * Uses the npm cache first (--prefer-offline); the registry is reachable for what it lacks.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; main: string; exports: Record<string, string> }

t.setTimeout(300_000) // npm ci + build + install: ~1 min here, more on a loaded machine

interface Ran {
  code: number
  stdout: string
  stderr: string
}

/** Run a command (no shell); never rejects, the exit code tells. */
function run(file: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Ran> {
  return new Promise((resolve) => {
    // npm must not see this test's npm_* variables (npm_config_*, set by `npm test`) nor tap's.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|TAP|NODE_OPTIONS$|NODE_V8_COVERAGE$)/i.test(key)))
    execFile(file, args, { cwd, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

const work = mkdtempSync(join(tmpdir(), 'leakwatch-pack-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const clone = join(work, 'clone')
const packed = join(work, 'packed')
const user = join(work, 'user')

t.test('npm pack from a clean checkout installs and runs: npx leakwatch --help', async (t) => {
  // 1. The committed HEAD, and only that.
  const head = await run('git', ['rev-parse', 'HEAD'], ROOT, 30_000)
  t.equal(head.code, 0, 'a git checkout', { stderr: head.stderr })
  await run('mkdir', ['-p', clone, packed, user], work)
  const archive = await new Promise<Ran>((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', 'git archive --format=tar HEAD | tar -x -C "$1"', 'archive', clone], { cwd: ROOT })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: '', stderr }))
  })
  t.equal(archive.code, 0, `git archive HEAD (${head.stdout.trim().slice(0, 12)})`, { stderr: archive.stderr })

  // 2. npm ci, 3. npm pack (prepack builds dist/).
  const ci = await run('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], clone)
  t.equal(ci.code, 0, 'npm ci', { stderr: ci.stderr.slice(-2000) })
  if (ci.code !== 0) return
  const pack = await run('npm', ['pack', '--json', '--pack-destination', packed, '--loglevel=error'], clone)
  t.equal(pack.code, 0, 'npm pack', { stderr: pack.stderr.slice(-2000) })
  if (pack.code !== 0) return
  const [report] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>
  const files = new Set(report!.files.map((file) => file.path))
  const tarball = join(packed, report!.filename)

  // What the tarball holds.
  for (const file of ['package.json', 'LICENSE', 'README.md', 'dist/cli.js', 'dist/inject/cli.js', 'dist/inject/index.js', 'deploy/demo/app.mjs']) {
    t.ok(files.has(file), `ships ${file}`)
  }
  t.match(readFileSync(join(clone, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/, 'LICENSE is the Apache-2.0 text')
  t.same([...files].filter((file) => /^(test|bench|scripts|helm|docs|\.ci)\//.test(file) || file.startsWith('node_modules')), [], 'no tests, benchmarks, chart or CI files')
  t.equal(pkg.main, 'dist/cli.js')
  t.ok(files.has(pkg.main), `main (${pkg.main}) is in the package`)
  for (const [entry, target] of Object.entries(pkg.exports)) t.ok(files.has(target.replace(/^\.\//, '')), `exports["${entry}"] (${target}) is in the package`)
  const maps = [...files].filter((file) => file.endsWith('.js.map'))
  t.ok(maps.length > 10, `${maps.length} source maps`)
  const missing: string[] = []
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(clone, map), 'utf8')) as { sources: string[] }
    for (const source of sources) {
      const resolved = join(map, '..', source)
      if (!files.has(resolved)) missing.push(`${map} → ${resolved}`)
    }
  }
  t.same(missing, [], 'every source a source map names is shipped')

  // 4. Install the tarball where there is nothing else, 5. run it.
  const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball], user)
  t.equal(install.code, 0, 'npm install <tarball>', { stderr: install.stderr.slice(-2000) })
  if (install.code !== 0) return
  const help = await run('npx', ['--no-install', 'leakwatch', '--help'], user, 60_000)
  t.equal(help.code, 0, 'npx leakwatch --help exits 0', { stderr: help.stderr })
  t.match(help.stdout, /^Usage: leakwatch \[options\]/, 'prints the usage')
  for (const flag of ['--target', '--listen', '--memory-limit', 'LEAKWATCH_TARGETS']) t.ok(help.stdout.includes(flag), `documents ${flag}`)
  const version = await run('npx', ['--no-install', 'leakwatch', '--version'], user, 60_000)
  t.equal(version.stdout.trim(), pkg.version, 'npx leakwatch --version')

  const imports = await run(
    process.execPath,
    ['--input-type=module', '-e', "const cli = await import('leakwatch'); const inject = await import('leakwatch/inject'); console.log(typeof cli.main, typeof inject.runInject, typeof inject.injectText)"],
    user,
    60_000,
  )
  t.equal(imports.stdout.trim(), 'function function function', 'main and exports resolve', { stderr: imports.stderr })
})
