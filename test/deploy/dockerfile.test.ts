/**
 * The Dockerfile, checked without a Docker engine: linted with dockerfile-utils, then its
 * structure (stages, user, entrypoint, labels, the production-only install) and its consistency
 * with package.json, .dockerignore and the imports of the code it ships.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { validate, ValidationSeverity } from 'dockerfile-utils'
import t from 'tap'

const root = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')
const dockerfile = read('Dockerfile')
const pkg = JSON.parse(read('package.json')) as {
  version: string
  license: string
  engines: { node: string }
  bin: Record<string, string>
  files: string[]
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
}

interface Instruction {
  readonly keyword: string
  readonly args: string
  readonly line: number
}

interface Stage {
  readonly from: string
  readonly name: string | undefined
  readonly instructions: Instruction[]
}

/** Logical instructions: comments and blank lines dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = []
  let pending: { text: string; line: number } | undefined
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim()
    if (line.startsWith('#') || (line === '' && pending === undefined)) return
    const continued = line.endsWith('\\')
    const body = continued ? line.slice(0, -1).trim() : line
    pending = pending === undefined ? { text: body, line: index + 1 } : { text: `${pending.text} ${body}`, line: pending.line }
    if (continued) return
    const match = /^(\S+)\s*(.*)$/.exec(pending.text)
    if (match !== null) out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: pending.line })
    pending = undefined
  })
  return out
}

function stages(list: readonly Instruction[]): { globals: Instruction[]; stages: Stage[] } {
  const globals: Instruction[] = []
  const out: Stage[] = []
  for (const instruction of list) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args)
      out.push({ from: match?.[1] ?? '', name: match?.[2], instructions: [] })
    } else if (out.length === 0) {
      globals.push(instruction)
    } else {
      out[out.length - 1]!.instructions.push(instruction)
    }
  }
  return { globals, stages: out }
}

/** `KEY=value KEY2="quoted value"` pairs of LABEL, ENV and ARG instructions. */
function pairs(args: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const match of args.matchAll(/([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const value = match[2]!
    out.set(match[1]!, value.startsWith('"') ? (JSON.parse(value) as string) : value)
  }
  return out
}

const all = instructions(dockerfile)
const parsed = stages(all)
const build = parsed.stages.find((stage) => stage.name === 'build')
const runtime = parsed.stages[parsed.stages.length - 1]!
const of = (stage: Stage | undefined, keyword: string): Instruction[] =>
  stage === undefined ? [] : stage.instructions.filter((instruction) => instruction.keyword === keyword)

t.test('dockerfile-utils finds no error or warning, even with every optional check raised to error', async (t) => {
  const strict = {
    deprecatedMaintainer: ValidationSeverity.ERROR,
    directiveCasing: ValidationSeverity.ERROR,
    emptyContinuationLine: ValidationSeverity.ERROR,
    instructionCasing: ValidationSeverity.ERROR,
    instructionCmdMultiple: ValidationSeverity.ERROR,
    instructionEntrypointMultiple: ValidationSeverity.ERROR,
    instructionHealthcheckMultiple: ValidationSeverity.ERROR,
    instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
    instructionWorkdirRelative: ValidationSeverity.ERROR,
  }
  for (const [name, settings] of [
    ['default settings', undefined],
    ['strict settings', strict],
  ] as const) {
    const problems = validate(dockerfile, settings).filter((d) => d.severity === 1 || d.severity === 2)
    t.same(
      problems.map((d) => `${d.range.start.line + 1}: ${d.message}`),
      [],
      `${name}: no diagnostics of severity error or warning`,
    )
  }
  // The linter really lints: a broken Dockerfile is reported.
  const broken = validate('FROM node:20-slim\nEXPOSE port\nUSER\nENTRYPOINT [\'node\', \'x.js\']\n', strict)
  t.ok(broken.filter((d) => d.severity === 1).length >= 2, 'a broken Dockerfile has errors')
})

t.test('multi-stage: a build stage with dev dependencies, a production runtime stage', async (t) => {
  t.ok(parsed.stages.length >= 2, 'at least two stages')
  t.ok(build, 'a stage named "build"')
  t.equal(runtime.name, 'runtime', 'the last stage is "runtime"')

  for (const stage of parsed.stages) t.equal(stage.from, '${NODE_IMAGE}', `stage ${stage.name} uses the base image ARG`)

  const buildRuns = of(build, 'RUN').map((instruction) => instruction.args)
  t.ok(buildRuns.some((run) => /^npm ci\b/.test(run) && !run.includes('--omit=dev')), 'build: npm ci with dev dependencies')
  t.ok(buildRuns.some((run) => run === 'npm run build'), 'build: npm run build')
  t.equal(pkg.bin.leakwatch, 'dist/cli.js', 'package.json bin is what ENTRYPOINT runs')

  const runtimeRuns = of(runtime, 'RUN').map((instruction) => instruction.args)
  t.equal(runtimeRuns.length, 1, 'runtime: a single RUN')
  t.match(runtimeRuns[0], /^npm ci --omit=dev\b/, 'runtime: npm ci --omit=dev')
  const copies = of(runtime, 'COPY').map((instruction) => instruction.args)
  t.ok(copies.includes('--from=build /src/dist ./dist'), 'runtime: dist/ from the build stage')
  t.ok(copies.includes('deploy/demo ./deploy/demo'), 'runtime: the demo app')
  t.ok(copies.includes('package.json package-lock.json ./'), 'runtime: package.json (read at run time for the version) and the lock file')
  for (const shipped of ['dist', 'deploy/demo']) t.ok(pkg.files.includes(shipped), `the npm package ships ${shipped} too, as the image does`)
  t.same(
    of(runtime, 'WORKDIR').map((instruction) => instruction.args),
    ['/app'],
    'runtime: absolute WORKDIR',
  )
  t.equal(pairs(of(runtime, 'ENV').map((i) => i.args).join(' ')).get('NODE_ENV'), 'production', 'NODE_ENV=production')
})

const baseArg = parsed.globals.find((instruction) => instruction.keyword === 'ARG' && instruction.args.startsWith('NODE_IMAGE='))
const base = baseArg === undefined ? '' : (pairs(baseArg.args).get('NODE_IMAGE') ?? '')

t.test('base image: an exact Node LTS version on Debian slim, digest optional, documented', async (t) => {
  const match = /^node:(\d+)\.(\d+)\.(\d+)-(bookworm|trixie)-slim(?:@sha256:([0-9a-f]{64}))?$/.exec(base)
  t.ok(match, `node:<major.minor.patch>-<debian>-slim[@sha256:<digest>], not a moving tag (${base})`)
  const major = Number(match?.[1])
  t.ok(major % 2 === 0 && major >= 26, `an even (LTS) line, at least 26, the Active LTS since 2026-10-28 (${major})`)
  const engines = /^>=(\d+)\./.exec(pkg.engines.node)
  t.ok(engines !== null && major >= Number(engines[1]), `inside package.json engines (${pkg.engines.node})`)
  const comment = dockerfile.slice(0, dockerfile.indexOf('ARG NODE_IMAGE='))
  t.match(comment, /Active LTS/, 'the comment says which LTS line and why')
  t.match(comment, /alpine[\s\S]*musl|musl[\s\S]*alpine/, 'and why not alpine')
  t.match(comment, /digest[\s\S]*docs\/kubernetes\.md/, 'and where the digest pinning procedure is')
  const docs = readFileSync(new URL('docs/kubernetes.md', root), 'utf8')
  for (const tool of ['docker buildx imagetools inspect', 'crane digest']) t.ok(docs.includes(tool), `docs/kubernetes.md: how to get the digest with ${tool}`)
  t.ok(docs.includes(base.split('@')[0]!), 'docs/kubernetes.md names the same tag')

  const runtimeArgs = of(runtime, 'ARG').map((instruction) => instruction.args)
  t.ok(runtimeArgs.includes('NODE_IMAGE'), 'the runtime stage re-declares NODE_IMAGE (for the label)')
  const labels = pairs(of(runtime, 'LABEL').map((instruction) => instruction.args).join(' '))
  t.equal(labels.get('org.opencontainers.image.base.name'), 'docker.io/library/${NODE_IMAGE}', 'base.name label follows the ARG')
})

t.test('runtime: non-root numeric user, port, entrypoint, no healthcheck, no shell at run time', async (t) => {
  const users = of(runtime, 'USER').map((instruction) => instruction.args)
  t.same(users, ['65532:65532'], 'USER 65532:65532')
  const [uid, gid] = (users[0] ?? '').split(':').map(Number)
  t.ok(uid !== undefined && Number.isInteger(uid) && uid > 0, 'numeric non-root UID')
  t.ok(gid !== undefined && Number.isInteger(gid) && gid > 0, 'numeric non-root GID')
  const userLine = of(runtime, 'USER')[0]?.line ?? 0
  t.ok(
    runtime.instructions.every((instruction) => !['RUN', 'COPY', 'ADD'].includes(instruction.keyword) || instruction.line < userLine),
    'files are installed (as root, read-only for the user) before USER',
  )
  t.same(of(runtime, 'EXPOSE').map((instruction) => instruction.args), ['9464'], 'EXPOSE 9464')
  t.same(all.filter((instruction) => instruction.keyword === 'HEALTHCHECK'), [], 'no HEALTHCHECK (Kubernetes probes instead)')

  const entrypoints = of(runtime, 'ENTRYPOINT')
  t.equal(entrypoints.length, 1, 'one ENTRYPOINT')
  t.same(JSON.parse(entrypoints[0]?.args ?? 'null'), ['node', 'dist/cli.js'], 'exec-form ENTRYPOINT ["node", "dist/cli.js"]')
  t.same(of(runtime, 'CMD'), [], 'no CMD: arguments come from the pod spec')
  t.same(all.filter((instruction) => instruction.keyword === 'SHELL'), [], 'no SHELL override')
})

t.test('OCI labels', async (t) => {
  const labels = pairs(of(runtime, 'LABEL').map((instruction) => instruction.args).join(' '))
  for (const key of ['title', 'description', 'source', 'licenses', 'version', 'revision', 'url', 'documentation']) {
    const value = labels.get(`org.opencontainers.image.${key}`)
    t.ok(value !== undefined && value !== '', `org.opencontainers.image.${key}`)
  }
  t.equal(labels.get('org.opencontainers.image.licenses'), pkg.license, 'licenses label matches package.json')
  t.equal(labels.get('org.opencontainers.image.version'), '${VERSION}', 'version label from the VERSION build arg')
  const versionArg = of(runtime, 'ARG').find((instruction) => instruction.args.startsWith('VERSION='))
  t.equal(versionArg === undefined ? undefined : pairs(versionArg.args).get('VERSION'), pkg.version, 'VERSION defaults to the package version')
  for (const key of labels.keys()) t.match(key, /^org\.opencontainers\.image\.[a-z.]+$/, `${key} is an OCI annotation key`)
})

t.test('.dockerignore lets in exactly what the Dockerfile copies', async (t) => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  t.equal(patterns[0], '*', 'allow-list: everything is excluded first')
  const allowed = patterns.filter((pattern) => pattern.startsWith('!')).map((pattern) => pattern.slice(1))
  const sources = all
    .filter((instruction) => instruction.keyword === 'COPY' && !instruction.args.startsWith('--from='))
    .flatMap((instruction) => instruction.args.split(/\s+/).slice(0, -1))
  t.ok(sources.length > 0, 'the Dockerfile copies files from the context')
  for (const source of sources) {
    t.ok(allowed.includes(source.replace(/\/$/, '')), `${source} is allowed in the build context`)
    t.ok(existsSync(new URL(source, root)), `${source} exists`)
  }
  for (const excluded of ['node_modules', 'dist', '.git', 'test', 'helm']) {
    t.notOk(allowed.some((pattern) => pattern === excluded || pattern.startsWith(`${excluded}/`)), `${excluded} stays out`)
  }
  const buildConfig = JSON.parse(read('tsconfig.build.json')) as { extends: string; include: string[] }
  t.same(buildConfig.include, ['src'], 'npm run build compiles src/ only (copied)')
  t.ok(sources.includes(buildConfig.extends.replace(/^\.\//, '')), 'the tsconfig the build extends is copied')
})

t.test('`npm ci --omit=dev` is enough at run time: the shipped code imports production dependencies only', async (t) => {
  const builtins = new Set(builtinModules)
  const packageOf = (specifier: string): string =>
    specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(new URL(dir, root), { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(`${path}/`)
      else if (/\.(ts|mjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) files.push(path)
    }
  }
  walk('src/')
  walk('deploy/demo/')
  const seen = new Set<string>()
  for (const file of files) {
    // Type-only imports vanish at compile time; everything else must resolve at run time.
    const code = read(file).replace(/^\s*(import|export)\s+type\b[\s\S]*?from\s+['"][^'"]+['"]/gm, '')
    for (const match of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm)) {
      const specifier = match[1] ?? match[2] ?? match[3]!
      if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier)) continue
      const name = packageOf(specifier)
      seen.add(name)
      t.ok(name in pkg.dependencies, `${file}: ${specifier} is a production dependency`)
    }
  }
  t.ok(seen.has('fastify') && seen.has('prom-client'), 'the scan finds the real imports')
  const demo = read('deploy/demo/app.mjs')
  t.notMatch(demo, /from\s+['"](?!node:)[^'"]+['"]/, 'the demo app uses Node builtins only')
})
