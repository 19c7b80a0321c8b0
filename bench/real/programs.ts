/**
 * The real programs the detection benchmark runs, from two corpora, in one shape.
 *
 * - test/corpus/: the held-out corpus, written by a session that never read the
 *   analysis code, at production rates (`SCENARIO_SPEED=1` is real time). The
 *   benchmark runs it at `SCENARIO_SPEED` = the time scale, and the sidecar with
 *   `--time-scale` the same: an hour of production per wall minute at 60.
 * - test/scenarios/: the project's first corpus, whose programs have fixed wall
 *   rates sized for 60× compression; run only at time scale 60.
 *
 * Times here are in simulated (production) seconds; wall = sim / scale.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { SignalName } from '../../src/analysis/verdict.js'

export type CorpusName = 'corpus' | LaterCorpus | 'scenarios'

export interface Program {
  readonly corpus: CorpusName
  readonly name: string
  readonly path: string
  readonly leaky: boolean
  /** The signal a leak shows on: heap (JavaScript objects), external (buffers) or rss (native memory outside both, e.g. worker threads' isolates). */
  readonly signal: SignalName | null
  /** Leak onset, simulated seconds after start; null when healthy. */
  readonly onsetSimS: number | null
  /** The function that allocates what leaks, as written. */
  readonly allocatingFunction: string | null
  readonly env: Readonly<Record<string, string>>
  readonly nodeArgs: readonly string[]
  /** Watched this long (simulated seconds from start). */
  readonly watchSimS: number
  /** Restarted by the harness: when it exits by itself, or every so many simulated seconds. */
  readonly restart: { readonly kind: 'on-exit' } | { readonly kind: 'every'; readonly simS: number } | null
  /** What a developer would name as holding the leak (the holder search's ground truth); null when unknown or healthy. */
  readonly holder: HolderTruth | null
  /** Healthy fillers: simulated seconds after which nothing should grow; null when not a filler. */
  readonly plateauAfterSimS: number | null
  /** The container's memory limit given to the sidecar and the PromQL rules (512 MiB, more with ballast). */
  readonly memoryLimitBytes: number
}

const MIB = 1024 * 1024
export const DEFAULT_MEMORY_LIMIT_BYTES = 512 * MIB

/**
 * The program with `mb` of static live data (SCENARIO_BALLAST_MB, corpus programs only), a V8
 * heap limit that fits it (test/corpus/README.md: at least 2 × ballast + 600 MB), and a memory
 * limit raised by the same amount, so that costs are measured at a bigger heap without the
 * limit refusing the search.
 */
export function withBallast(program: Program, mb: number): Program {
  if (mb <= 0) return program
  if (program.corpus === 'scenarios') throw new Error(`--ballast: ${program.name} (test/scenarios) has no ballast`)
  const heapMb = 2 * mb + 600
  return {
    ...program,
    env: { ...program.env, SCENARIO_BALLAST_MB: String(mb) },
    nodeArgs: [...program.nodeArgs.filter((arg) => !arg.startsWith('--max-old-space-size')), `--max-old-space-size=${heapMb}`],
    memoryLimitBytes: program.memoryLimitBytes + heapMb * MIB,
  }
}

export interface HolderTruth {
  /** Variable, dotted through properties: `queue.jobs`. */
  readonly variable: string
  readonly script: string
  readonly kind: string
}

const CORPUS = new URL('../../test/corpus/', import.meta.url)
const SCENARIOS = new URL('../../test/scenarios/', import.meta.url)
const HOUR = 3600

/**
 * How long each held-out program is watched (simulated seconds): past its cap
 * for leaks, and over every phase that could look like one for healthy
 * programs (a whole fill for caches, two burst cycles, a day and two hours of
 * diurnal load), long enough that the slow path (4 h window) has its say.
 */
const CORPUS_WATCH_S: Readonly<Record<string, number>> = {
  'fast-heap-leak': 0.75 * HOUR,
  'slow-leak-2mb-h': 6.5 * HOUR,
  'slow-leak-5mb-h': 6.5 * HOUR,
  'late-onset': 6 * HOUR,
  'hot-helper-leak': 2 * HOUR,
  'dead-consumer-queue': 1.5 * HOUR,
  'dependency-cache': 2 * HOUR,
  'buffer-array-leak': 1.5 * HOUR,
  'leak-under-sawtooth': 5 * HOUR,
  'closure-timer-leak': 3 * HOUR,
  'cache-warm-plateau': 5 * HOUR,
  'cache-warm-long': 7 * HOUR,
  'long-burst-drain': 14 * HOUR,
  'diurnal-load': 26 * HOUR,
  'sawtooth-temporaries': 3 * HOUR,
  'restarts-often': 3 * HOUR,
  'step-up-once': 6 * HOUR,
  'full-lru-churn': 4 * HOUR,
}

/**
 * test/scenarios programs are watched four simulated hours after their onset (four wall minutes
 * at 60×). One hour was shorter than what the analysis needs to hold growth of their 5–10 MB/h
 * (simulated) leaks: the leaks outlasted the watch, which measured the watch, not the verdict.
 */
const SCENARIO_WATCH_AFTER_ONSET_S = 4 * HOUR

interface CorpusEntry {
  name: string
  file: string
  leaky: boolean
  signal: SignalName | null
  onsetSeconds: number | null
  restartEverySeconds: number | null
  allocatingFunction: string | null
  nodeArgs?: string[]
  holder?: HolderTruth | null
  plateauAfterSeconds?: number | null
  /**
   * The container limit the program needs (MiB), where its own peak RSS at the benchmark's speed
   * is above the default 512 MiB: a real deployment sizes the limit above the peak.
   */
  memoryLimitMiB?: number
}

interface ScenarioEntry {
  name: string
  file: string
  leaky: boolean
  signal: SignalName | null
  leakingFunction: string | null
  onsetSeconds: number | null
  restartEverySeconds: number | null
  env: Record<string, string>
}

function readManifest<T>(dir: URL): T[] {
  return JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8')) as T[]
}

/** How long a corpus without a watch table watches: leaks this many hours past their onset, healthy programs this many hours. */
interface WatchHours {
  readonly pastOnset: number
  readonly healthy: number
}

/**
 * The production-time corpora written after test/corpus, in the order they were written (same
 * protocol, each by a session that read neither the analysis code nor the other corpora's
 * programs, after the changes it judges): their folder under test/, and how long the benchmark
 * watches their programs: leaks `pastOnset` simulated hours past their onset, healthy programs
 * `healthy` hours.
 *
 * - heldout (written for the holder search): leaks two hours past their onset, healthy programs
 *   seven (past a fill, and two cycles of a 3-hour load pattern).
 * - fresh: its leaks run from 5.5 to 37 MB/h, and the issue asks for leaks of a few MB/h within
 *   6 h: six hours past their onset, healthy programs seven.
 * - traffic: HTTP services whose traffic moves (a peak, a burst, a step, a cycle) or stays while
 *   the loop gets busier; every phase is within 4 simulated hours.
 * - floors: services whose heap floor is hard to read (rare big temporaries, small heaps with rare
 *   GCs, a registry that balloons and drains); its leaks are 2.7–3.4 MB/h.
 * - selfload: HTTP services whose event loop gets busier at the same traffic (leaked subscribers
 *   and listeners that run on every event; a batch job every few hours; heavier requests for 90
 *   minutes; long-polls that ramp up and hold); leaks of 2.8–3.2 MB/h.
 * - slowsmall: HTTP services with small heaps (5-40 MB): leaks of 2.1-2.9 MiB/h (a memo Map, retry
 *   records of closed clients, an audit trail whose acks stopped) and healthy memory that fills
 *   slowly (sessions with a 2 h TTL, a 3 h morning ramp, an LRU that fills over 90 minutes).
 * - siblings: state kept per key in many sibling collections (per-user rate-limit windows,
 *   per-room presence Sets, per-tenant log rings, healthy; per-tenant samples, per-connection
 *   pending acks, one of 16 shards' in-flight maps, leaking).
 * - services: six HTTP services written after the one-window-hold change of 2026-12-05 (a
 *   search cache that fills for 40 minutes, an export built every 2 h, a chat gateway following
 *   a business day, healthy; per-URL route stats, broker listeners left by reconnects from 45
 *   minutes, Buffers of failed uploads kept for a retry that never runs, leaking).
 * - stairs: five services written after the shape test's stair change of 2026-12-05 (a product
 *   cache filled in bursts by a catalogue sync, an hour's midday peak of slow requests, a batch
 *   loaded every 90 minutes, healthy; Buffers of webhooks failed in outage bursts, rejected
 *   records of a partner's broken files, leaking).
 * - flows: five services written after the holder search's flow change of 2026-12-05 (queues and
 *   buffers that work items pass through: an export queue swelling at every full hour, a metrics
 *   write-behind buffer following a daily curve, per-connection chat outboxes, healthy; a FIFO
 *   whose consumer keeps ~85 % of the pace, a retry queue re-queueing dead endpoints forever,
 *   leaking ~1 MB/h).
 * - keyed: six services written after the holder search's turnover change for dictionaries and
 *   big Maps of 2026-12-05 (thousands to tens of thousands of keys: a session Map with an idle
 *   TTL on a daily curve, a rate limiter's per-IP dictionary pruned of idle clients, a full LRU
 *   of rendered fragments, healthy; a never-pruned Set of webhook idempotency keys, a never-pruned
 *   last-seen dictionary, a websocket registry keeping timed-out connections, leaking ~1-2 MB/h).
 * - ramps: four services written after that change (collections whose level follows a morning
 *   traffic ramp: in-flight orders, a push fan-out backlog, typing indicators with a 5-second
 *   expiry, healthy; a dedupe registry keeping the ~2 % of requests that fail, leaking).
 * - peaks: five HTTP services written after the holder search's traffic rule of 2026-12-05 (card
 *   authorisations pending through a lunchtime peak, per-tenant log buffers through a morning
 *   ramp, uploads in progress through a ramp, healthy; an export backlog behind a worker at
 *   ~90 % of the pace, an RPC client keeping timed-out calls, leaking).
 * - fills: seven services written after the change of 2026-12-05 that counts the fast hold of
 *   growth since the start only from the warm-up's end (caches filling steadily from the start
 *   for 70 minutes to 2 hours: an LRU of product documents, parsed GraphQL queries, geo shards
 *   loaded lazily, a morning's permissions, healthy; a listener per request, a results array,
 *   a Set of closed sockets, leaking from the start).
 * - waits: six services whose event loop mostly waits (1–3 % busy in production), written while
 *   the changes of 2026-12-05 were made that let a mostly idle loop half as busy again within the
 *   window explain a rising floor and learn no load sensitivity from a load that never came back,
 *   and run only after them (a
 *   gateway through two traffic peaks, a webhook retry queue through a partner outage, a
 *   notifier's morning burst, healthy; a listener per connection run on every config tick, an
 *   upstream-error cache, sessions left behind by each peak, leaking).
 * - drifts: six services written while the change of 2026-12-05 that takes 1/4, not 1/2, as the
 *   slow path's chance of a floor above the earlier highs was measured, and run only after it
 *   (users connected, a job queue and a TTL cache's entries wandering for hours without a trend,
 *   healthy; an audit trail, per-URL metric series, a listener per reconnect, leaking slowly from
 *   the start).
 * - natives: six programs written after the change of 2026-12-06 that asks RSS outside the heap
 *   for a new high (not a climb back from a dip while V8 commits pages ahead), and run only after
 *   it (a reconciliation job's ledger loaded and dropped, clustered big reports, zlib streams
 *   under a load ramp, healthy; idle worker threads piling up, gzip streams never closed on log
 *   rotation, a sandbox worker per customer kept in a Map, leaking outside the JS heap: the
 *   first corpus with `rss` leaks).
 * - creeps: six programs written after the change of 2026-12-06 that bounds the slow path's growth
 *   over the whole window when a line fits it, and run only after it (a help-centre search index
 *   growing for three hours, a session store with a 4-hour idle TTL under a morning ramp, per-minute
 *   latency histograms for a sliding 2-hour window, healthy; a feature-flag exposure log never
 *   flushed, a job history whose trim compares seconds with milliseconds, rate-limiter buckets of
 *   users who never return, leaking about 1-3 MB an hour).
 * - flushes: six programs written after the change of 2026-12-06 that judges a collection emptied
 *   between two holder searches by its floor, and run only after it (a metrics agent's per-label
 *   aggregates cleared every 10 s, an analytics beacon batcher, a write-behind cache's dirty-key
 *   Set cleared every 30 s, healthy; a log shipper's retry list never replayed, a usage meter
 *   whose flush skips deleted tenants, a fan-out hub keeping the buffers of connections that
 *   dropped without a goodbye, leaking ~5 MiB an hour in the JS heap).
 * - tempos: six programs written after the change of 2026-12-06 that buys heap floors for a
 *   window short of them whose slope estimate is worth raising, and run only after it (a memo
 *   cache filling for two hours behind an LRU, a metrics aggregator following a daily traffic
 *   curve, a search index rebuilt and swapped every 45 minutes, healthy; per-route stats keyed by
 *   raw paths with ids, archived chat rooms' histories never cleaned up from 40 min, finished
 *   jobs kept for an audit page, leaking ~2.7-5.7 MiB an hour in the JS heap).
 * - quiets: six programs written during the session of 2026-12-06 that tried budgets grown with
 *   --time-scale (not kept), run only after it, on the code as committed: low-load services
 *   with bursts (a webhook fan-out idle at night with ticket-sale bursts, a render queue's
 *   lunchtime burst that drains, a per-tenant flag cache warming for 40 minutes), healthy; a
 *   mostly idle API's token audit array, a device-shadow Map keeping decommissioned devices, a
 *   retry wrapper keeping each retried call's closure from 30 min, leaking ~1.4-5.9 MiB an hour.
 * - pools: six programs written while bought floors got an account of their own (the floor
 *   budget, grown with --time-scale), run only after it: a reverse proxy's upstream connection
 *   pools filling in the first hour, a price table rebuilt and swapped every 10 minutes, chat
 *   rooms that fill in the morning and empty in the evening, healthy; an A/B service's exposure
 *   arrays, a DNS cache keyed by per-customer subdomains, per-request dataloaders kept in a
 *   module-level Set, leaking ~2.1-7.1 MB an hour.
 * - shapes: seven programs written while the holder search learnt linked lists, run only after
 *   it, holding data in shapes other than Arrays and Maps: request metadata in a WeakMap, an LRU
 *   kept as a linked list filling for 43 minutes, a slab pool of Buffers growing at a midday peak,
 *   healthy; a linked-list job queue whose worker stalled (from 90 min), a log forwarder's
 *   backlog kept in one string (from 2 h), listeners never removed from a shutdown AbortSignal,
 *   a tracer whose contexts chain through closures, leaking ~4.5-23 MB an hour.
 * - hidden: seven programs written while the holder search learnt private fields and chains of
 *   closures, run only after it, holding data where JavaScript cannot look: a connection pool's
 *   #private Set of checked-out connections, a notification hub's #private Map of subscribers, an
 *   editor's undo history as a chain of closures, a hand-written doubly linked LRU that stops
 *   evicting, leaking; a #private price cache filling for 40 minutes, short-lived chains of span
 *   contexts beside a middleware pipeline of closures, a #private linked priority queue drained
 *   by workers through a midday peak, healthy.
 * - buffers: seven programs written while the holder search learnt to judge Arrays of Buffers by
 *   their backing stores and to count long linked lists over several slices, run only after it,
 *   holding binary data: an MQTT ingest's replay logs of packet slices, a metrics exporter's
 *   retry queue of small pooled Buffers, a resumable upload service's abandoned Uint8Array
 *   chunks, leaking ~5.6-7.6 MB an hour (external); a frame encoder's slab pool through a daily
 *   peak, a segment relay's ring of Buffers and per-client write queues, an object-storage block
 *   cache filling for an hour, a thumbnail service's large short-lived scratch Buffers, healthy.
 * - heavy: eight programs written after the holder search learnt to judge few heavy members
 *   (bcba239), run only after it: an image service's originals of jobs whose webhook failed, a
 *   report memo with no eviction, a transcoder's abandoned streams of decoded frames, an audit
 *   trail whose flush skips some users, leaking; an upload service's chunked uploads in flight, a
 *   model server loading 20 blobs over three hours, an edge cache bounded by bytes, a similarity
 *   cache filling for three hours at a diminishing rate, healthy.
 * - tails: eight programs written while the holder search learnt to sample a Map's and a Set's
 *   last members, to judge a store over its last few searches and to probe long-keyed Maps by
 *   value, run only after it: a notification hub's undrained queues of connections opened after
 *   a reload, a rate limiter keeping the timestamps of a new plan's customers, an invoice render
 *   cache keyed by a timestamp, OAuth sessions without expiry, an event projector's aggregates
 *   never snapshotted, leaking; per-tenant metrics buffers flushed every minute with tenants
 *   onboarded over two hours, a lease map following a working day, a 200-document LRU of parsed
 *   documents, healthy.
 * - members: eight programs written after the holder search learnt to name a family grown by its
 *   parent's new members and to walk Node's request, response and socket objects after the
 *   application's, run only after it, holding what leaks in per-member collections: a support
 *   chat's rooms of an email channel never closed with their messages, a job table keeping the
 *   records and log lines of jobs retried once, a gateway's connections closed during
 *   authentication with their send queues, a trace collector's spans of traces whose root was
 *   dropped, a tenant's LRU configured without a bound, leaking; a game server's matches with
 *   their moves through an evening peak, carts expiring after 30 idle minutes through a day,
 *   per-host connection pools discovered over an hour, healthy.
 * - jumps: four programs written after the slow path learnt that a level must show in the
 *   window's later half, run only after it: a billing API whose migrated cohort's usage audit logs
 *   are never trimmed (a jump as the backlog lands, then growth), a gateway's replay buffers left
 *   untrimmed for a protocol version clients move to gradually, leaking; an autocomplete cache
 *   filling for three hours, a pricing service loading 13 regions' rule tables one by one over the
 *   first hours, healthy.
 * - churn: four programs written by a helper (reading no analysis code) while the holder search
 *   learnt to count the members of a small collection that outlive every departure, run only
 *   after it: a whiteboard server's rooms of
 *   clients that time out instead of leaving, never deleted, with their snapshot Buffers; a job
 *   runner's crashed jobs with their logs, leaking; uploads in flight holding chunk Buffers through
 *   a daily curve, exports' rows held until their download link expires, healthy.
 * - levels: four programs written by a helper (reading no analysis code) after the slow path
 *   learnt that a level must show in the window's later half (passed level, new highs), to judge
 *   those rules, run only after them: a job-history store whose compaction skips a renamed
 *   tenant (growth in lumps), a dedup Map left unpruned when a reconnect drops the ack listener
 *   (growth with a daily curve), leaking; a catalogue cache loaded in four steps when a
 *   marketplace onboards, a session store with a 3 h sliding expiry filling for three hours,
 *   healthy.
 * - keeps: four programs written by a helper (reading no analysis code) while the holder search
 *   learnt to judge a small collection's stayers over eight searches and to keep measuring a small
 *   collection that holds still (so not shaped by it), run only after it: a print spooler's cancelled jobs with their
 *   rendered pages and a chat gateway's sessions of clients whose connection reset, leaking; a
 *   byte-budget response cache and per-key token buckets through a daily curve, healthy.
 */
export const LATER_CORPORA = {
  heldout: { folder: 'corpus-heldout', watch: { pastOnset: 2, healthy: 7 } },
  fresh: { folder: 'corpus-fresh', watch: { pastOnset: 6, healthy: 7 } },
  traffic: { folder: 'corpus-traffic', watch: { pastOnset: 4, healthy: 6 } },
  floors: { folder: 'corpus-floors', watch: { pastOnset: 6, healthy: 6 } },
  selfload: { folder: 'corpus-selfload', watch: { pastOnset: 6, healthy: 6 } },
  slowsmall: { folder: 'corpus-slowsmall', watch: { pastOnset: 6, healthy: 6 } },
  siblings: { folder: 'corpus-siblings', watch: { pastOnset: 6, healthy: 6 } },
  services: { folder: 'corpus-services', watch: { pastOnset: 6, healthy: 6 } },
  stairs: { folder: 'corpus-stairs', watch: { pastOnset: 6, healthy: 6 } },
  flows: { folder: 'corpus-flows', watch: { pastOnset: 6, healthy: 6 } },
  keyed: { folder: 'corpus-keyed', watch: { pastOnset: 6, healthy: 6 } },
  ramps: { folder: 'corpus-ramps', watch: { pastOnset: 6, healthy: 6 } },
  peaks: { folder: 'corpus-peaks', watch: { pastOnset: 6, healthy: 6 } },
  fills: { folder: 'corpus-fills', watch: { pastOnset: 5, healthy: 6 } },
  waits: { folder: 'corpus-waits', watch: { pastOnset: 6, healthy: 6 } },
  drifts: { folder: 'corpus-drifts', watch: { pastOnset: 6, healthy: 6 } },
  natives: { folder: 'corpus-natives', watch: { pastOnset: 5, healthy: 6 } },
  creeps: { folder: 'corpus-creeps', watch: { pastOnset: 5, healthy: 6 } },
  flushes: { folder: 'corpus-flushes', watch: { pastOnset: 6, healthy: 6 } },
  tempos: { folder: 'corpus-tempos', watch: { pastOnset: 6, healthy: 6 } },
  quiets: { folder: 'corpus-quiets', watch: { pastOnset: 6, healthy: 6 } },
  pools: { folder: 'corpus-pools', watch: { pastOnset: 6, healthy: 6 } },
  shapes: { folder: 'corpus-shapes', watch: { pastOnset: 6, healthy: 6 } },
  hidden: { folder: 'corpus-hidden', watch: { pastOnset: 4, healthy: 5 } },
  buffers: { folder: 'corpus-buffers', watch: { pastOnset: 4, healthy: 6 } },
  heavy: { folder: 'corpus-heavy', watch: { pastOnset: 4, healthy: 6 } },
  tails: { folder: 'corpus-tails', watch: { pastOnset: 4, healthy: 6 } },
  members: { folder: 'corpus-members', watch: { pastOnset: 4, healthy: 6 } },
  jumps: { folder: 'corpus-jumps', watch: { pastOnset: 4, healthy: 6 } },
  churn: { folder: 'corpus-churn', watch: { pastOnset: 4, healthy: 6 } },
  levels: { folder: 'corpus-levels', watch: { pastOnset: 4, healthy: 6 } },
  keeps: { folder: 'corpus-keeps', watch: { pastOnset: 4, healthy: 6 } },
  swings: { folder: 'corpus-swings', watch: { pastOnset: 4, healthy: 6 } },
  crowds: { folder: 'corpus-crowds', watch: { pastOnset: 4, healthy: 6 } },
  trickles: { folder: 'corpus-trickles', watch: { pastOnset: 4, healthy: 6 } },
  outages: { folder: 'corpus-outages', watch: { pastOnset: 4, healthy: 6 } },
} as const satisfies Record<string, { folder: string; watch: WatchHours }>

export type LaterCorpus = keyof typeof LATER_CORPORA

/** Every corpus the detection benchmark knows, in the order it runs them. */
export const CORPUS_NAMES: readonly CorpusName[] = ['corpus', ...(Object.keys(LATER_CORPORA) as LaterCorpus[]), 'scenarios']

function watchS(entry: CorpusEntry, hours: WatchHours): number {
  return entry.leaky ? (entry.onsetSeconds ?? 0) + hours.pastOnset * HOUR : hours.healthy * HOUR
}

/** A production-time corpus at `scale` (SCENARIO_SPEED = scale): test/corpus or one of LATER_CORPORA. */
export function corpusPrograms(scale: number, which: Exclude<CorpusName, 'scenarios'> = 'corpus'): Program[] {
  const dir = which === 'corpus' ? CORPUS : new URL(`../../test/${LATER_CORPORA[which].folder}/`, import.meta.url)
  return readManifest<CorpusEntry>(dir).map((entry) => {
    const watchSimS = which === 'corpus' ? CORPUS_WATCH_S[entry.name] : watchS(entry, LATER_CORPORA[which].watch)
    if (watchSimS === undefined) throw new Error(`bench/real/programs.ts: no watch time for corpus program ${entry.name}`)
    const env: Record<string, string> = { SCENARIO_SPEED: String(scale) }
    if (entry.restartEverySeconds !== null) env['SCENARIO_LIFETIME_S'] = String(entry.restartEverySeconds)
    return {
      corpus: which,
      name: entry.name,
      path: fileURLToPath(new URL(entry.file, dir)),
      leaky: entry.leaky,
      signal: entry.signal,
      onsetSimS: entry.leaky ? (entry.onsetSeconds ?? 0) : null,
      allocatingFunction: entry.allocatingFunction,
      env,
      nodeArgs: entry.nodeArgs ?? [],
      watchSimS,
      restart: entry.restartEverySeconds === null ? null : { kind: 'on-exit' },
      holder: entry.holder ?? null,
      plateauAfterSimS: entry.plateauAfterSeconds ?? null,
      memoryLimitBytes: entry.memoryLimitMiB !== undefined ? entry.memoryLimitMiB * MIB : DEFAULT_MEMORY_LIMIT_BYTES,
    }
  })
}

/** The first corpus: fixed wall rates made for 60× (a wall second is a simulated minute). */
export function scenarioPrograms(): Program[] {
  const scale = 60
  return readManifest<ScenarioEntry>(SCENARIOS).map((entry) => {
    const onsetSimS = entry.leaky ? (entry.onsetSeconds ?? 0) * scale : null
    return {
      corpus: 'scenarios',
      name: entry.name,
      path: fileURLToPath(new URL(entry.file, SCENARIOS)),
      leaky: entry.leaky,
      signal: entry.signal,
      onsetSimS,
      allocatingFunction: entry.leakingFunction,
      env: entry.env,
      nodeArgs: [],
      watchSimS: (onsetSimS ?? 0) + SCENARIO_WATCH_AFTER_ONSET_S,
      restart: entry.restartEverySeconds === null ? null : { kind: 'every', simS: entry.restartEverySeconds * scale },
      holder: null,
      plateauAfterSimS: null,
      memoryLimitBytes: DEFAULT_MEMORY_LIMIT_BYTES,
    }
  })
}
