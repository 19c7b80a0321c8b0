'use strict';
// Medians (min–max) of the walk approach per heap size and search: node summarize-walk.js [suffix]
const fs = require('fs');
const path = require('path');
const suffix = process.argv[2] || '';
const file = path.join(__dirname, 'results', `walk${suffix}.jsonl`);
const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const med = (a) => { a = a.filter((x) => typeof x === 'number').sort((x, y) => x - y); return a.length ? a[(a.length - 1) >> 1] * (a.length % 2 ? 1 : 0.5) + (a.length % 2 ? 0 : a[a.length >> 1] * 0.5) : NaN; };
const span = (a, d = 0) => { a = a.filter((x) => typeof x === 'number'); return `${med(a).toFixed(d)} (${Math.min(...a).toFixed(d)}–${Math.max(...a).toFixed(d)})`; };
console.log('| heap MB (live) | search | n | wall ms | longest pause (target tick gap) ms | its baseline gap ms | longest slice (in target) ms | target CPU ms (/proc) | HWM increase MB | objects visited | functions opened | growing Map ranked first |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
const groups = new Map();
for (const r of rows) { const k = `${r.heapMB}|${r.op}`; if (!groups.has(k)) groups.set(k, []); groups.get(k).push(r); }
for (const [k, g] of [...groups].sort((a, b) => Number(a[0].split('|')[0]) - Number(b[0].split('|')[0]) || a[0].localeCompare(b[0]))) {
  const [mb, op] = k.split('|');
  const ok = g.filter((r) => !r.error && r.cost);
  const live = span(ok.map((r) => r.targetHeapUsedMB));
  const first = op === 'walk#2' ? `${ok.filter((r) => r.foundLeak).length}/${ok.length}` : '(growth unknown at the first search)';
  console.log(`| ${mb} (${live}) | ${op} | ${g.length} | ${span(ok.map((r) => r.wallMs))} | ${span(ok.map((r) => r.maxStallMs), 1)} | ${span(ok.map((r) => r.baselineMaxGapMs), 1)} | ${span(ok.map((r) => r.cost.longestSliceMs), 1)} | ${span(ok.map((r) => r.tgtCpuMs))} | ${span(ok.map((r) => r.tgtHwmDeltaMB), 1)} | ${span(ok.map((r) => r.cost.objectsVisited))} | ${span(ok.map((r) => r.cost.functionsOpened))} | ${first} |`);
}
const errs = rows.filter((r) => r.error || r.fatal);
if (errs.length) console.log('\nerrors:', errs.map((r) => (r.error || r.fatal).slice(0, 200)));
