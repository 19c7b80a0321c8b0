/**
 * When a holder is called growing: its growth between two searches against what churn moves by
 * chance (measured turnover), a flow's run of rises, its floor when it fell in between, and a
 * new high of its history (see isGrowing).
 */
import type { Backing, Holder, Stayers, Turnover } from './types.js'

/**
 * Whether a holder grew enough to be called growing: since its previous measurement, by at least
 * GROWING_MIN_ELEMENTS elements, GROWING_MIN_FRACTION of its previous size, and more than a
 * collection that only churns would move by chance. In a collection whose members come and go
 * independently (in-flight requests, timers of a fixed duration, sessions with a TTL) the size
 * is Poisson-like, and when a fraction f of the n members present at one measurement has left
 * by the next (replaced by as many, on average), the difference of the two sizes varies by
 * √(2·f·n). Growth must exceed GROWING_NOISE_SIGMAS such deviations (a chance of ~3·10⁻⁵ per
 * comparison).
 *
 * f is 1 unless measured: a Set, Map, Array, dictionary or timer list carries its `turnover`, how
 * many of 64 members sampled across it (all of them, up to 256, or 1 024 once a census has
 * started) when it was last reported have left since; f is then the upper 99.9 % (Wilson)
 * bound of that share. A timer list of 600 moving by 40 between two searches is churn; a Set of 2 000 subscribers of which none of 64
 * sampled left, growing by 120, is not. When every member present then was probed (a census: up
 * to 256 members) the share is a count, not a sample, and f is that share: a Map of 40 of which
 * 1 left, grown by 9, moved by more than its churn (4·√2 ≈ 5.7).
 * Small leaking collections without a measured turnover need a longer interval to be called
 * growing; the scheduler doubles the gap between searches while a leak stays raised.
 *
 * Heavy members: GROWING_MIN_ELEMENTS guards against calling a small collection growing for a
 * handful of small members. When what the members added weighs HEAVY_GROWTH_BYTES or more (at
 * the collection's estimated bytes per member: an upload's chunks, a memoized report, a decoded
 * frame), HEAVY_MIN_ELEMENTS of them suffice; the churn and fraction tests still apply. A Map of
 * abandoned uploads of ~400 KB gains a few an hour: a leak of megabytes an hour that 32 members
 * would take most of a day to show. Stores that gain fewer between two searches are judged over
 * their last few measurements (growthSpan).
 */
export const GROWING_MIN_ELEMENTS = 32
export const HEAVY_MIN_ELEMENTS = 8
export const HEAVY_GROWTH_BYTES = 1024 * 1024
export const GROWING_MIN_FRACTION = 0.05
export const GROWING_NOISE_SIGMAS = 4
/** One-sided normal quantile of the turnover bound (99.9 %). */
const TURNOVER_Z = 3.09

/**
 * One bound of the share of members gone (Wilson score interval, one-sided 99.9 %): `side` +1
 * for the upper, −1 for the lower; the share itself for a census; undefined when nothing was
 * sampled.
 */
function wilsonBound(turnover: Turnover | undefined, side: 1 | -1): number | undefined {
  if (turnover === undefined || turnover.sampled <= 0) return undefined
  const n = turnover.sampled
  const p = Math.min(1, Math.max(0, turnover.gone / n))
  if (turnover.census === true) return p
  const z2 = TURNOVER_Z * TURNOVER_Z
  const bound = (p + z2 / (2 * n) + side * TURNOVER_Z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n)
  return Math.min(1, Math.max(0, bound))
}

/** Upper bound of the share of members gone; 1 (all may have left) when not measured. */
export function turnoverBound(turnover: Turnover | undefined): number {
  return wilsonBound(turnover, 1) ?? 1
}

/** A collection's estimated bytes per member (its retained-bytes estimate over its size; 0 when empty). */
export function bytesPerMember(h: { readonly retainedBytes: number; readonly size: number }): number {
  return h.size > 0 ? Math.max(0, h.retainedBytes) / h.size : 0
}

/** The fewest elements a change must be by: HEAVY_MIN_ELEMENTS when they weigh HEAVY_GROWTH_BYTES (see above). */
function minElements(by: number, bytesPerMember: number): number {
  return by * bytesPerMember >= HEAVY_GROWTH_BYTES ? HEAVY_MIN_ELEMENTS : GROWING_MIN_ELEMENTS
}

/**
 * A change of `by` elements from `from` is more than chance: at least GROWING_MIN_ELEMENTS (or
 * HEAVY_MIN_ELEMENTS heavy ones), GROWING_MIN_FRACTION of `from`, and more than a churning
 * collection moves (see above).
 */
function movedBy(by: number, from: number, turnover: Turnover | undefined, bytesPerMember = 0, intervals = 1): boolean {
  const churn = GROWING_NOISE_SIGMAS * Math.sqrt(2 * Math.min(1, intervals * turnoverBound(turnover)) * Math.max(0, from))
  return by >= minElements(by, bytesPerMember) && by >= GROWING_MIN_FRACTION * from && by > churn
}

/**
 * A collection's floors between searches. At each poll between two searches the sidecar reads
 * the sizes of the collections it tracks (the walker's `sample`: one read each) and keeps each
 * one's lowest, the sizes at both searches included (`low`); `previousLow` is the same of the
 * interval before (null when that one was not sampled). A collection that fell between two
 * searches by as much as would count as growth (`fellBetween`) was emptied or drained in between
 * (a batch flushed every few seconds, a buffer cleared and refilled with the same keys, which its
 * turnover cannot tell): its sizes at two searches are two points taken at random in its cycle.
 * Its growth must then be in its floor too: `low` against `previousLow` (or the previous size,
 * which it fell below), judged as two sizes of unmeasured turnover.
 */
export interface Floors {
  readonly low: number
  readonly previousLow: number | null
  /** The polls of the interval at which it rose to a new high (see stoppedRising). */
  readonly rises?: number
  /** The share of the interval since it last rose to a new high (0 when at the measurement). */
  readonly flatShare?: number
}

/**
 * Stopped rising. The polls between two searches also count the times a collection rose to a
 * new high, and when it last did. A store still gaining members at its pace rises at polls spread
 * over the interval; one that rose at r polls, none of them in the last share q of the interval,
 * would do so by chance with P = (1 − q)^r (the rises of a steady pace fall anywhere in it). Under
 * SPAN_SLOWED_ALPHA it has stopped: a cache that filled early in the interval and has held its
 * size since (tenants onboarded until a quarter of an hour before the search) is not growing now;
 * a leak adding heavy uploads three times an interval, the last a while ago, is (0.5³). Rises, not
 * elements: a batch of a hundred added at once is one rise.
 */
export function stoppedRising(floors: Floors | undefined): boolean {
  if (floors?.rises === undefined || floors.flatShare === undefined || floors.rises <= 0) return false
  return Math.pow(1 - Math.min(1, Math.max(0, floors.flatShare)), floors.rises) < SPAN_SLOWED_ALPHA
}

/** Whether the collection fell between two searches by as much as would count as growth. */
export function fellBetween(previousSize: number, floors: Floors, turnover?: Turnover, bytesPerMember = 0): boolean {
  return movedBy(previousSize - floors.low, previousSize, turnover, bytesPerMember)
}

/**
 * A flow, not a store: a collection most of whose sampled members left between two searches
 * (the lower 99.9 % bound of the share gone above FLOW_GONE_SHARE) holds what is passing
 * through it (a queue drained by its consumer, a batch being worked off), and its size is the
 * level of that flow now. Bursts move that level by any amount, so two sizes tell nothing: such
 * a collection is growing only when its size rose at each of its last FLOW_RISES measurements in
 * a row (`earlierSizes`), each rise by GROWING_MIN_ELEMENTS and GROWING_MIN_FRACTION; sizes
 * sampled at random from a level that only fluctuates rise FLOW_RISES times in a row with a
 * chance under 1/(FLOW_RISES + 1)! (1/120). A queue whose consumer died keeps its members (a
 * store) and is judged on two sizes.
 */
export const FLOW_GONE_SHARE = 0.5
export const FLOW_RISES = 4

/** Lower bound of the share of members gone; 0 when not measured. */
export function turnoverLowerBound(turnover: Turnover | undefined): number {
  return wilsonBound(turnover, -1) ?? 0
}

/** Whether the turnover shows a flow (see FLOW_GONE_SHARE). */
export function isFlow(turnover: Turnover | undefined): boolean {
  return turnoverLowerBound(turnover) > FLOW_GONE_SHARE
}

/**
 * Growth over a span. A store (not a flow) that gains a few members an interval never moves
 * enough between two searches: abandoned uploads of megabytes each, three an hour, searches an
 * hour apart. When two sizes do not tell, its size now is compared with its size k measurements
 * ago (k = 2 … GROWTH_SPAN, from `earlierSizes`), when it fell at none of the measurements
 * between (nor, sampled between the last two, by as much as would count: `floors`), by the same
 * tests, the share of members that may have left scaled to the span (k·f, at most 1: the turnover
 * measured over the last interval stands for each of them). A collection that only churns falls
 * at one of k steps with a chance of at least 1 − 2^−k; growth must still beat its churn.
 * And it must still be growing at that pace: a cache filling ever more slowly towards its size
 * (a catalogue's items seen once each) gained 800 over three intervals and 31 in the last. The
 * last interval's gain is compared with the span's mean gain an interval as a Poisson count:
 * under SPAN_SLOWED_ALPHA below it (31 where 268 were expected) it is slowing to a level, not
 * growing; a leak of three uploads an interval that added one in the last is not (P ≈ 0.2). One
 * that added none in the last interval is not growing now (the next interval judges it again).
 * From four intervals on, the last half's gain is tested the same way (`paceHolds`).
 * Whatever the span, its size now must be above every earlier one it carries (`atNewHigh`).
 */
export const GROWTH_SPAN = FLOW_RISES
export const SPAN_SLOWED_ALPHA = 0.001

/** P(X ≤ x) for a Poisson count X of the given mean (summed in log space: means of thousands). */
export function poissonAtMost(x: number, mean: number): number {
  if (x < 0) return 0
  if (!(mean > 0)) return 1
  const logMean = Math.log(mean)
  let term = -mean
  let sum = term
  for (let k = 1; k <= Math.floor(x); k++) {
    term += logMean - Math.log(k)
    sum = Math.max(sum, term) + Math.log1p(Math.exp(-Math.abs(sum - term)))
  }
  return Math.min(1, Math.exp(sum))
}

/**
 * Still growing at the span's pace. Given a span's sizes (oldest first, k + 1 of them, rising
 * overall), its gains at its end are compared with the span's mean gain an interval as Poisson
 * counts: the last interval's, and from four intervals on the last half's (⌊k/2⌋ intervals). A
 * fill that slows towards its size front-loads its span: an LRU filling 146, 196, 212, 212, 227
 * gained 81 over four intervals, 15 over the last (20 expected: not refuted) but 15 over the last
 * two, where 40 were expected (P ≈ 10⁻⁵): the span reached back into its fill. A steady leak's
 * later half holds half its gain; one that started inside the span holds more.
 */
export function paceHolds(span: readonly number[]): boolean {
  const k = span.length - 1
  if (k < 2) return true
  const gain = span[k]! - span[0]!
  const refuted = (intervals: number): boolean =>
    poissonAtMost(span[k]! - span[k - intervals]!, (gain * intervals) / k) < SPAN_SLOWED_ALPHA
  return !refuted(1) && !(k >= 4 && refuted(Math.floor(k / 2)))
}

/**
 * The number of intervals the holder was judged growing over: 1 between its last two
 * measurements, k over its last k (see GROWTH_SPAN); 0 when not growing. `earlierSizes`: its
 * sizes at the searches before its previous measurement, oldest first. `bytesPerMember`: its
 * estimated bytes per member (0 when unknown: only GROWING_MIN_ELEMENTS then).
 */
export function growthSpan(
  size: number,
  previousSize: number | null,
  turnover?: Turnover,
  earlierSizes: readonly number[] = [],
  floors?: Floors,
  bytesPerMember = 0,
): number {
  // Grown from (nearly) empty: a queue refilled after its consumer drained it does that too, and
  // a collection that small had no members sampled for its turnover; the next search judges it.
  if (previousSize === null) return 0
  const sizes = sizeHistory({ size, previousSize, earlierSizes })
  const fewest = minElements(size - previousSize, bytesPerMember)
  const fell = floors !== undefined && fellBetween(previousSize, floors, turnover, bytesPerMember)
  if (!fell && !atNewHigh(sizes)) return 0
  if (previousSize >= fewest && movedBy(size - previousSize, previousSize, turnover, bytesPerMember)) {
    if (fell) {
      const before = floors.previousLow ?? previousSize
      if (before < fewest || !movedBy(floors.low - before, before, undefined, bytesPerMember)) return 0
    }
    if (!isFlow(turnover)) return stoppedRising(floors) ? 0 : 1
    const rises = sizes.slice(-(FLOW_RISES + 1))
    if (rises.length < FLOW_RISES + 1) return 0
    for (let i = 1; i < rises.length; i++) {
      const rise = rises[i]! - rises[i - 1]!
      if (!(rise >= GROWING_MIN_ELEMENTS && rise >= GROWING_MIN_FRACTION * rises[i - 1]!)) return 0
    }
    return 1
  }
  if (fell || isFlow(turnover) || size <= previousSize) return 0
  for (let k = 2; k <= GROWTH_SPAN && k < sizes.length; k++) {
    const from = sizes[sizes.length - 1 - k]!
    if (sizes[sizes.length - k]! < from) return 0 // it fell after this one
    if (from >= minElements(size - from, bytesPerMember) && movedBy(size - from, from, turnover, bytesPerMember, k)) {
      return paceHolds(sizes.slice(-(k + 1))) && !stoppedRising(floors) ? k : 0
    }
  }
  return 0
}

/**
 * At a new high. A collection that held more at an earlier search of its history (`earlierSizes`:
 * up to STAYERS_SPAN − 1 of them) has not grown, whatever its last rise: its size moves by that
 * much either way. The churn test bounds a rise for members that come and go independently; a
 * collection bounded by something else moves by more. A byte-budget LRU of bodies from 200 B to
 * 1.4 MB holds 1 650 to 2 050 of them as its mix of sizes drifts: one large body evicted makes
 * room for hundreds of small ones, and it went 1 945, 1 654, 1 650, 1 599, 1 705, 1 655, 1 651,
 * 1 849 (+198 past a churn bound of ~182). This needs no model of how it moves: sampled from a
 * level that does not rise, the last of n sizes is the highest with a chance of 1/n (1/9 over a
 * full history), and a leak, however it fluctuates, keeps reaching new highs. A collection that
 * fell between the last two searches (`fellBetween`) is judged by its floors instead: its sizes
 * at searches are points taken at random in its cycle.
 */
export function atNewHigh(sizes: readonly number[]): boolean {
  const now = sizes[sizes.length - 1]
  return now !== undefined && sizes.slice(0, -1).every((s) => s < now)
}

/**
 * Its size at the start of the span it was judged growing over: `growingOver` measurements back
 * (its previous size when judged between the last two); undefined when not known.
 */
export function spanStartSize(h: Pick<Holder, 'size' | 'previousSize' | 'earlierSizes' | 'growingOver'>): number | undefined {
  if (h.previousSize === null) return undefined
  const sizes = sizeHistory(h)
  return sizes[sizes.length - 1 - (h.growingOver ?? 1)]
}

/** Its sizes at its measurements, oldest first, now last (`earlierSizes`, `previousSize` when known, `size`). */
export function sizeHistory(h: Pick<Holder, 'size' | 'previousSize' | 'earlierSizes'>): number[] {
  return [...(h.earlierSizes ?? []), ...(h.previousSize !== null ? [h.previousSize] : []), h.size]
}

/** The fewest bytes an element is weighed at: its slot, however little it holds. */
export const SLOT_BYTES = 8

/**
 * What it gains in bytes a second: its elements gained over the span it was judged growing on
 * (since `spanStartSize`, over `spanSeconds`), or over its last interval when that was faster,
 * times the bytes it retains per element, at least SLOT_BYTES. Null when first seen now or not
 * grown.
 */
export function growthBytesPerSecond(
  h: Pick<Holder, 'size' | 'previousSize' | 'earlierSizes' | 'growingOver' | 'intervalSeconds' | 'retainedBytes'>,
  spanSeconds: number,
): number | null {
  const from = spanStartSize(h)
  if (from === undefined || h.previousSize === null || !(h.intervalSeconds > 0)) return null
  const perElement = Math.max(SLOT_BYTES, bytesPerMember(h))
  const overSpan = spanSeconds > 0 ? (h.size - from) / spanSeconds : 0
  const overLast = (h.size - h.previousSize) / h.intervalSeconds
  const elements = Math.max(overSpan, overLast)
  return elements > 0 ? elements * perElement : null
}

/** Whether the holder is growing (growthSpan above 0; the same arguments). */
export function isGrowing(...args: Parameters<typeof growthSpan>): boolean {
  return growthSpan(...args) > 0
}

/**
 * A flow's level follows the traffic: a flow's level is its arrival rate times how long a member
 * stays (Little's law), so a queue of work or a map of requests in flight rises with a morning
 * ramp while nothing leaks. Given the flow's last sizes (oldest first, as `isGrowing` judges
 * them) and the target's request rate when each was measured, its level per request did not rise
 * by GROWING_MIN_FRACTION at each step: what rose is explained by the traffic. False when a rate
 * is unknown (NaN: no HTTP server) or not positive, or there are too few sizes: the sizes alone
 * judge then.
 */
export function levelFollowsTraffic(sizes: readonly number[], requestsPerSecond: readonly number[]): boolean {
  const n = Math.min(sizes.length, requestsPerSecond.length, FLOW_RISES + 1)
  if (n < FLOW_RISES + 1) return false
  const level = sizes.slice(-n)
  const rate = requestsPerSecond.slice(-n)
  if (!rate.every((r) => Number.isFinite(r) && r > 0)) return false
  for (let i = 1; i < n; i++) {
    if (!(level[i]! / rate[i]! >= (1 + GROWING_MIN_FRACTION) * (level[i - 1]! / rate[i - 1]!))) return true
  }
  return false
}

/**
 * What an Array of Buffers holds in memory is mostly the backing stores its members view. A
 * pool's free list (chunks cut from slabs allocated once, handed out and taken back) rises when
 * traffic falls and chunks come back, by as many chunks as you like, while the memory it holds
 * stays the slabs it always held: what its members added views stores it viewed at an earlier
 * search (all its earlier reports count: a free list low in a burst views fewer slabs) or that
 * another Array of Buffers holds now and held at an earlier search too (the pool's own list of its
 * slabs: a free list first seen short, in a burst, views slabs that were there all along), and its
 * members together are no bigger than the stores they view (disjoint chunks), the chunks that
 * came back spread over its slabs. Its count grew, its memory did not: it is not growing when
 * the bytes of its members on stores neither it nor such a holder viewed before, plus the most
 * its members gained on any one store (one held elsewhere counts from none), are under
 * VIEWED_BEFORE_SHARE of what its members' bytes grew by. A store that another Array held only
 * at an earlier search (Buffers moved from a queue into a list kept for ever) is new to it.
 * Arrays of Buffers that grow in memory add stores as they add members: Buffers of their own, or
 * small ones cut from Node's 8 KiB pool, filling the slab it viewed last before new ones (that one
 * store's gain counts as growth). Views onto one region kept again and again sum to more than
 * their stores and are judged on their count.
 */
export const VIEWED_BEFORE_SHARE = 0.5

/** Whether an Array of Buffers grew mostly by views onto stores it viewed before (see above). */
export function viewsOntoSameStores(backing: Backing | undefined): boolean {
  if (backing === undefined || backing.onNewStoresBytes === null || backing.previousViewBytes === null) return false
  const grew = backing.viewBytes - backing.previousViewBytes
  return (
    backing.viewBytes <= backing.storeBytes &&
    grew > 0 &&
    backing.onNewStoresBytes + backing.mostGainedOnOneStoreBytes < VIEWED_BEFORE_SHARE * grew
  )
}

/**
 * What stays in a flow. A small collection of big members that come and go (streams on air,
 * uploads in flight) into which a few members an hour are left for good (a broadcaster that
 * vanished without closing) hardly moves its size against its churn: four live streams turning
 * over several times an hour, three abandoned ones added an hour. Its members' identities tell
 * what its size cannot: probed whole at searches in a row, each member carries when it was first
 * seen (the walker's census, up to 256 members, then up to 1 024 while it goes on), and the
 * members present now for longer than any member that left may have been present (up to the
 * census that found it gone: it left at some moment since the one before) have outlived every departure. Counting a departed member only
 * to its last census would let a flow slowed for a while (uploads lasting three searches where
 * they lasted two) show eight in-flight members as stayers in one interval. In a flow they are a
 * few, by chance, until one of them leaves and sets a longer bar; in a store inside a flow they
 * are the store. Their count is judged as a store's size with no churn over the last
 * measurements (k = 1 … STAYERS_SPAN): at least STAYERS_MIN_DEPARTURES seen to leave (the bar is
 * the longest of that many), the count never fell over the span, rose by the fewest elements
 * `isGrowing` asks for (HEAVY_MIN_ELEMENTS when they weigh HEAVY_GROWTH_BYTES at the
 * collection's bytes per member) and GROWING_MIN_FRACTION, rose in the last interval, and at a
 * pace the span's mean does not refute (as `growthSpan`). And what stays must add to the
 * collection: its size now is above its lowest over the same span by at least STAYERS_SIZE_SHARE
 * of what the stayers grew by (a flow's level moves either way around it: the lowest, not the
 * first, so that a burst of work in flight at the span's start does not hide what stayed; a job
 * runner's map went 16, 11, 18, 18, 21 while its crashed jobs went 0, 10, 11, 13, 15). A cache
 * at its bound trades a newcomer for every member it keeps: its favourites outlive every member
 * it evicted while its size stays put. Returns the span (0: not growing). `sizes`: its sizes,
 * oldest first, now last.
 */
export const STAYERS_MIN_DEPARTURES = 8
export const STAYERS_SIZE_SHARE = 0.5
/**
 * Stayers are judged over up to twice the span of sizes: their count has no churn to beat (a
 * member that stays never leaves; a flow's count falls each time its longest-lived member
 * leaves and raises the bar), so a longer span only lets a slow store show: crashed jobs of
 * ~60 KB kept ~6 an hour, searches half an hour apart, rose 1, 2, 7, 10, 16, 19: +17 over four
 * intervals, just under a megabyte; +18 over five.
 */
export const STAYERS_SPAN = 2 * GROWTH_SPAN

export function stayersSpan(stayers: Stayers | undefined, bytesPerMember = 0, sizes: readonly number[] = []): number {
  if (stayers === undefined || stayers.departures < STAYERS_MIN_DEPARTURES) return 0
  const counts = [...stayers.earlier, stayers.count] // oldest first
  const n = counts.length
  if (n < 2 || !(counts[n - 1]! > counts[n - 2]!)) return 0
  for (let k = 1; k <= STAYERS_SPAN && k < n; k++) {
    const from = counts[n - 1 - k]!
    if (counts[n - k]! < from) return 0 // it fell after this one
    const by = counts[n - 1]! - from
    if (by >= minElements(by, bytesPerMember) && by >= GROWING_MIN_FRACTION * from) {
      const sizeGrew = k < sizes.length && sizes[sizes.length - 1]! - Math.min(...sizes.slice(-(k + 1), -1)) >= STAYERS_SIZE_SHARE * by
      const pace = paceHolds(counts.slice(-(k + 1)))
      return sizeGrew && pace ? k : 0
    }
  }
  return 0
}
