/**
 * Writes test/fixtures/golden/metrics.prom, the golden exposition
 * test/export/golden.test.ts compares with (see test/helpers/golden.ts).
 *
 *   npm run golden
 */
import { writeFileSync } from 'node:fs'
import { GOLDEN_FILE, goldenExposition } from '../test/helpers/golden.js'

writeFileSync(GOLDEN_FILE, await goldenExposition())
console.log(`wrote ${GOLDEN_FILE.pathname}`)
