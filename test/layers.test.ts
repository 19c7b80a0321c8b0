// Layers point one way. Data flows config → sessions → collectors → monitor → analysis →
// attribution → leak evidence → export and server; shared types live at the bottom (src/core).
// A module may import from its own layer or a lower one, never a higher one: a lower layer that
// needs a type of a higher one gets the type moved down instead.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import t from 'tap'
import { repoRoot } from './helpers/targets.js'

/** Every top-level entry of src/, lowest first. A new folder or file must be placed here. */
export const LAYERS: ReadonlyArray<readonly string[]> = [
  ['core'],
  ['config'],
  ['inspector'],
  ['collectors'],
  ['monitor'],
  ['analysis'],
  ['attribution', 'holders'],
  ['leak'],
  ['export'],
  ['server'],
  ['sidecar.ts', 'sidecar-config.ts', 'docs'],
  ['cli.ts', 'demo.ts', 'inject'],
]

const SRC = join(repoRoot, 'src')

function rankOf(file: string): number {
  const top = relative(SRC, file).split('/')[0] ?? ''
  return LAYERS.findIndex((layer) => layer.includes(top))
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return name.endsWith('.ts') ? [path] : []
  })
}

/** Relative imports of a module: static `from '…'` (types included) and literal dynamic `import('…')`. */
export function importsOf(source: string): string[] {
  const found: string[] = []
  for (const match of source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)'(\.[^']+)'/gm)) found.push(match[1] as string)
  return found
}

t.test('every part of src/ has a layer', async (t) => {
  const placed = new Set(LAYERS.flat())
  for (const name of readdirSync(SRC)) t.ok(placed.has(name), `src/${name} is in LAYERS (test/layers.test.ts)`)
})

t.test('no module imports from a higher layer', async (t) => {
  const backwards: string[] = []
  let checked = 0
  for (const file of sourceFiles(SRC)) {
    const rank = rankOf(file)
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))
      checked += 1
      const targetRank = rankOf(target)
      if (targetRank > rank) backwards.push(`${relative(repoRoot, file)} → ${relative(repoRoot, target)}`)
    }
  }
  t.ok(checked > 100, `${checked} imports checked`)
  t.strictSame(backwards, [], 'imports against the flow')
})

t.test('the check finds a backward import', async (t) => {
  t.strictSame(importsOf("import type { X } from '../leak/metrics.js'\nconst m = await import('./a.js')\nimport './side.js'\n"), [
    '../leak/metrics.js',
    './a.js',
    './side.js',
  ])
  t.ok(rankOf(join(SRC, 'collectors/gc.collector.ts')) < rankOf(join(SRC, 'export/catalog.ts')))
})
