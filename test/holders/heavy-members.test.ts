// Collections of few, heavy members (an upload's chunks): named growing on fewer members when
// what they added weighs megabytes (growth.ts), never for the churn of heavy members in progress.
import t from 'tap'
import type { Test } from 'tap'
import type { Holder } from '../../src/holders/types.js'
import { describeHolder } from '../../src/holders/report.js'
import { bytesPerMember } from '../../src/holders/growth.js'
import { nothingGrowing, openFixture, search, searchSeries, searchUntil } from './lib.js'

t.test('uploads: a few heavy members a second, never expired, named growing before 32 have been added between searches', async (t) => {
  // ~2 abandoned uploads a second (each one or two 256 KiB chunks) beside the few in progress; 6 s
  // apart a search sees ~12 more. Counted every member (a census, under 64): one or two left.
  const { session } = await openFixture(t, 'uploads')
  const first = await search(session)
  const { last, holder } = await searchUntil(session, first, (h: Holder) => h.growing, { spacingMs: 6000, timeoutMs: 40_000 })
  t.comment(holder !== undefined ? `${describeHolder(holder)}; turnover ${JSON.stringify(holder.turnover)}` : last.holders.slice(0, 3).map(describeHolder).join(' | '))
  t.equal(holder?.path.join(' → '), 'uploads (Map, test/fixtures/holders/uploads/main.js)')
  t.match(holder?.elementShape.join(' | '), /^Upload \{id, length, offset, chunks, createdAt\}$/)
  t.ok(holder !== undefined && holder.previousSize !== null && holder.size - holder.previousSize < 32, `grown by ${holder !== undefined ? holder.size - (holder.previousSize ?? 0) : '?'} members`)
  t.ok((holder?.retainedBytes ?? 0) > 4 * 2 ** 20, 'megabytes retained')
  t.equal(holder?.turnover?.census, true, 'every member was probed')
  t.equal(last.holders[0], holder, 'ranked first')
})

t.test('uploads in progress, a few dozen chunked ones at a time, each dropped once complete: heavy members, never growing', async (t) => {
  // ~10 uploads a second of 4-7 chunks of 256 KiB, a chunk every 0-2 s: ~50 in progress, each up
  // to 1.75 MiB. Between two searches the Map moves by more than eight heavy members, and nearly
  // all it held has left (a census: it is under 64).
  const { session } = await openFixture(t, 'uploads', { ABANDON: '0', RATE: '10', PACE_TICKS: '40' })
  const results = await searchSeries(session, 5, 4000)
  nothingGrowing(t, results)
  let moved = 0
  for (const [i, r] of results.entries()) {
    const uploads = r.holders.find((h) => /^uploads \(Map, .*uploads\/main\.js\)$/.test(h.path.join(' → ')))
    if (uploads === undefined) continue
    t.comment(`search ${i + 1}: ${describeHolder(uploads)}; turnover ${JSON.stringify(uploads.turnover)}`)
    if (uploads.previousSize !== null && Math.abs(uploads.size - uploads.previousSize) >= 8) moved++
  }
  t.comment(`it moved by eight or more members between ${moved} pairs of searches`)
})

t.test('report-memo: reports of 2 000 rows memoized under a key never asked again, weighed by their rows, named growing on a dozen members', async (t) => {
  // ~2 reports a second of ~100 KB each (their rows: an estimate of 8 rows alone would weigh a
  // report at ~20 KB, a dozen of them far under the 1 MiB that lets 8 members count); 6 s apart.
  const { session } = await openFixture(t, 'report-memo')
  const first = await search(session)
  const { last, holder } = await searchUntil(session, first, (h: Holder) => h.growing, { spacingMs: 6000, timeoutMs: 30_000 })
  t.comment(holder !== undefined ? describeHolder(holder) : last.holders.slice(0, 3).map(describeHolder).join(' | '))
  t.equal(holder?.path.join(' → '), 'memo (Map, test/fixtures/holders/report-memo/main.js)')
  t.ok(holder !== undefined && holder.previousSize !== null && holder.size - holder.previousSize < 32, `grown by ${holder !== undefined ? holder.size - (holder.previousSize ?? 0) : '?'} members`)
  t.ok((holder?.retainedBytes ?? 0) / (holder?.size ?? 1) > 80_000, `~${Math.round((holder?.retainedBytes ?? 0) / (holder?.size ?? 1) / 1000)} KB a report`)
  // Its keys are JSON queries of ~130 characters: its members are probed by their values.
  t.ok((holder?.turnover?.sampled ?? 0) > 0 && holder?.turnover?.gone === 0, `turnover measured: ${JSON.stringify(holder?.turnover)}`)
})

/** The fixture's `jobs` Map once it has `minSize` members, and what a member of it weighs. */
async function weighedJobs(t: Test, fixture: string, minSize: number): Promise<{ jobs: Holder | undefined; perJob: number }> {
  const { session } = await openFixture(t, fixture)
  const path = new RegExp(`^jobs \\(Map, .*${fixture}/main\\.js\\)$`)
  const isJobs = (h: Holder): boolean => path.test(h.path.join(' → ')) && h.size >= minSize
  const { last, holder: jobs } = await searchUntil(session, await search(session), isJobs, { spacingMs: 1000, timeoutMs: 20_000 })
  t.comment(jobs !== undefined ? describeHolder(jobs) : last.holders.slice(0, 3).map(describeHolder).join(' | '))
  t.ok(jobs !== undefined, 'reported')
  return { jobs, perJob: jobs !== undefined ? bytesPerMember(jobs) : 0 }
}

t.test('job-logs: a record whose heavy field comes after its eighth is weighed by it', async (t) => {
  // Job {id, type, tenant, params, attempt, state, submittedAt, startedAt, workerId,
  // lastHeartbeatAt, logs, progress, crash}: 400 log lines of ~150 B each are its 11th field.
  const { perJob } = await weighedJobs(t, 'job-logs', 8)
  t.ok(perJob > 20_000, `~${Math.round(perJob)} B a job`)
})

t.test('print-pages: what a job weighs three levels below it is weighed', async (t) => {
  // PrintJob {…, pages} → page {…, bands} → 12 base64 strings of ~4 KB: ~200 KB a job.
  const { perJob } = await weighedJobs(t, 'print-pages', 16)
  t.ok(perJob > 150_000 && perJob < 400_000, `~${Math.round(perJob)} B a job (~200 KB of bands)`)
})
