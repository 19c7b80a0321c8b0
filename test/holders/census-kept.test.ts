// A census goes on past 256 members once it has started (up to 1 024 in the walker): a store
// that keeps members among many that come and go grows out of the first bound exactly while its
// stayers show (corpus-crowds' telemetry ingester: devices gone offline among ~250 running; its
// census stopped at 293 members and its stayers were never seen).
import t from 'tap'
import { describeHolder } from '../../src/holders/report.js'
import { isUploads, search, searchUntil, openFixture } from './lib.js'

t.setTimeout(240_000)

t.test('~225 uploads in progress, three in a hundred abandoned: still probed whole past 256 and named by its stayers there', async (t) => {
  // ~40 uploads a second, a chunk every 0-2 s: ~225 in progress, nearly all gone by the next
  // search 5 s later. ~6 a search stop after a chunk or two and stay, so the Map passes 256
  // members about 30 s in, before its stayers have outlived every upload that completed.
  const { session } = await openFixture(t, 'uploads', { RATE: '40', ABANDON: '0.03', PACE_TICKS: '40', CHUNK_KIB: '64' })
  const first = await search(session)
  const { last, holder, searches } = await searchUntil(session, first, (h) => isUploads(h) && h.growing && h.size > 256, { spacingMs: 5000, timeoutMs: 150_000 })
  const uploads = last.holders.find(isUploads)
  t.comment(`after ${searches} searches: ${uploads !== undefined ? `${describeHolder(uploads)}; turnover ${JSON.stringify(uploads.turnover)}; stayers ${JSON.stringify(uploads.stayers)}` : 'uploads not reported'}`)
  t.ok((holder?.size ?? 0) > 256, 'named past 256 members')
  t.equal(holder?.turnover?.census, true, 'every member probed at the search before (a census goes on past 256 only once started)')
  t.equal(holder?.stayers?.growing, true, 'by the members that stay')
})
