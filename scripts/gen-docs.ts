/** Rewrites the generated reference sections of README.md (metrics, snippets, CLI help). */
import { readFileSync, writeFileSync } from 'node:fs'
import { renderGeneratedSections } from '../src/docs/reference.js'

const path = new URL('../README.md', import.meta.url)
const before = readFileSync(path, 'utf8')
const after = renderGeneratedSections(before)
writeFileSync(path, after)
console.log(before === after ? 'README.md is up to date' : 'README.md updated')
