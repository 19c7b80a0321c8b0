/** Rewrites the generated reference blocks of the docs (GENERATED_DOCUMENTS) and the generated files under docs/. */
import { readFileSync, writeFileSync } from 'node:fs'
import { GENERATED_DOCUMENTS, GENERATED_FILES, renderGeneratedSections } from '../src/docs/reference.js'

const root = new URL('../', import.meta.url)
for (const document of GENERATED_DOCUMENTS) {
  const path = new URL(document, root)
  const before = readFileSync(path, 'utf8')
  const after = renderGeneratedSections(before)
  if (after !== before) writeFileSync(path, after)
  console.log(before === after ? `${document} is up to date` : `${document} updated`)
}
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
