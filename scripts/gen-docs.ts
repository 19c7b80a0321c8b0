/** Rewrites the generated reference sections of README.md and the generated files under docs/. */
import { readFileSync, writeFileSync } from 'node:fs'
import { GENERATED_FILES, renderGeneratedSections } from '../src/docs/reference.js'

const root = new URL('../', import.meta.url)
const readme = new URL('README.md', root)
const before = readFileSync(readme, 'utf8')
const after = renderGeneratedSections(before)
writeFileSync(readme, after)
console.log(before === after ? 'README.md is up to date' : 'README.md updated')
for (const [file, render] of Object.entries(GENERATED_FILES)) {
  const path = new URL(file, root)
  let old = ''
  try {
    old = readFileSync(path, 'utf8')
  } catch {
    // a new file
  }
  const text = render()
  if (old !== text) writeFileSync(path, text)
  console.log(old === text ? `${file} is up to date` : `${file} written`)
}
