/**
 * Hysteresis in time: when evidence raises a leak, when a raised one is held, and when it
 * clears (split from verdict.ts, which judges one evaluation's evidence; re-exported there).
 */
import type { AnalysisConfig } from '../config/types.js'
import type { SignalEvidence, VerdictPath } from './verdict.js'

/** The fast path's reason when its window holds too few floors to judge (verdict.ts writes it). */
export const TOO_FEW_POINTS = 'too few floor points'
/** The fast path's reason when the floor's shape contradicts growth (levelling off, a step, a cycle). */
export const SHAPE_TEST = 'shape test'
/** How every reason of the load rules begins (verdict.ts, `heldByLoad`). */
export const LOAD_REASON = 'load:'

export interface VerdictState {
  readonly suspected: boolean
  readonly path: VerdictPath | null
  /** Since when each path's evidence has been positive without a break (ms), or null. */
  readonly fastSinceMs: number | null
  readonly slowSinceMs: number | null
  /** Since when neither path has been positive (ms), or null. */
  readonly negativeSinceMs: number | null
  /** When the fast path was last positive (ms), or null: a short break does not restart its hold. */
  readonly fastLastPositiveMs: number | null
  /**
   * The fast hold a shape objection interrupted, while its claim can still be refuted (`resumed`):
   * since when the hold had run, when the first objection came, and the latest objection's claim.
   */
  readonly interrupted: Interruption | null
  /** When the current suspicion was raised (ms), or null. */
  readonly raisedAtMs: number | null
  /** When growth began, from the hinge fit over the whole history (ms), or null. */
  readonly onsetMs: number | null
}

export const INITIAL_VERDICT: VerdictState = {
  suspected: false,
  path: null,
  fastSinceMs: null,
  slowSinceMs: null,
  fastLastPositiveMs: null,
  interrupted: null,
  negativeSinceMs: null,
  raisedAtMs: null,
  onsetMs: null,
}

export type HysteresisSettings = Pick<AnalysisConfig, 'clearAfterMs' | 'slowRaiseAfterMs' | 'minSlopeBytesPerSecond' | 'slowWindowMs'>

/** The fast path could not judge: too few floor points in its window (whatever the slow path said). */
export function unjudged(evidence: SignalEvidence): boolean {
  return evidence.fast.reasons.some((reason) => reason.startsWith(TOO_FEW_POINTS))
}

/** Floors a window must hold for its few points to speak against growth (`fewAndFlat`). */
export const MIN_FLAT_POINTS = 3

/**
 * Too few floors to judge a leak, but the few there are do not grow: their Theil–Sen slope is
 * under the smallest slope worth raising. A fast leak starved of floors has rising ones; a
 * cache that filled under a raised verdict and plateaued, on a heap whose floors come rarely
 * (a floor every ~7 simulated minutes when the budget pays for GCs that do not compress), has
 * flat ones, and without this its verdict was held for good.
 */
export function fewAndFlat(evidence: SignalEvidence, minSlopeBytesPerSecond: number): boolean {
  return evidence.fast.points >= MIN_FLAT_POINTS && evidence.fast.slopeBytesPerSecond < minSlopeBytesPerSecond
}

/**
 * The fast path's only objections are the load's (a busier window, a load that rose with the
 * floor): the floor still grew, significantly and fast enough. Those rules keep a burst from
 * raising a leak; they are no evidence that a raised one stopped. A leak that makes its own
 * process busier (every leaked listener called on each event) looks exactly like this.
 */
export function heldByLoad(evidence: SignalEvidence): boolean {
  const reasons = evidence.fast.reasons
  return reasons.length > 0 && reasons.every((reason) => reason.startsWith(LOAD_REASON))
}

/**
 * The slow path could not compare and found nothing else against growth: its window is full,
 * too few of its recent floors have earlier ones at their load (or too few recent floors at
 * all), and its other tests passed (growth going on over the later half, its lower bound and
 * relative growth above their minimums, no level shown). A slow leak's load often climbs
 * (corpus-outages' chat gateway: raised on the slow path at 4.6 h, then its recent load was above
 * every earlier one and its floors thinned; the fast path, whose slope minimum is three times
 * that leak's 1 MiB/h, saw no significant trend in 6 floors; the verdict cleared 54 minutes
 * later while the floor went on rising). For a leak the slow path raised, that is no evidence
 * that the growth stopped, as a window short of floors is none for the fast path.
 */
export function slowUncompared(evidence: SignalEvidence, slowWindowMs: number): boolean {
  const slow = evidence.slow
  return slow.comparison === null && slow.spanMs >= slowWindowMs && slow.reasons.length === 1
}

/** Share of the hold a break in the fast path's evidence may last without restarting the hold (`withinGrace`). */
export const HOLD_GRACE_SHARE = 0.25

/**
 * A negative evaluation that does not restart the fast path's hold: the growth was positive
 * within the last quarter of the hold (HOLD_GRACE_SHARE of `holdMs`) and nothing speaks against
 * it but the tests' own noise — a trend p-value just above its threshold, a slope bound dipping
 * under the floor, a window short of floors. A shape that contradicts growth (levelling off, a
 * step, a cycle: SHAPE_TEST), a load objection (LOAD_REASON) and warming up restart it, as
 * before: bridging load objections too raised corpus/diurnal-load on its morning ramp. Without
 * this a leak whose evidence flickers never held a whole hold: sdk-event-collector (held-out,
 * 9 MiB/h) was positive at every 30-min trace and never raised in a 2-h watch.
 */
function withinGrace(state: VerdictState, evidence: SignalEvidence): boolean {
  if (state.fastSinceMs === null || state.fastLastPositiveMs === null || evidence.warmingUp) return false
  if (evidence.fast.reasons.some((reason) => reason.startsWith(SHAPE_TEST) || reason.startsWith(LOAD_REASON))) return false
  return evidence.evaluatedAtMs - state.fastLastPositiveMs <= HOLD_GRACE_SHARE * evidence.fast.holdMs
}

/**
 * What a shape objection claims the floor will do: stay under `levelBytes` (approaching a level,
 * a step and flat since), or grow from `baseBytes` at no more than `slopePerMs` (growth that
 * slowed), give or take `marginBytes` (twice the noise around the fitted shape).
 */
export interface Interruption {
  readonly sinceMs: number
  readonly atMs: number
  readonly claimAtMs: number
  readonly baseBytes: number
  readonly levelBytes: number
  readonly slopePerMs: number
  readonly marginBytes: number
}

/** Noise margins around a shape's claim, in residual RMS. */
const CLAIM_MARGIN_RMS = 2

/**
 * The claim of this evaluation's shape objection, or undefined when it makes none a floor can
 * refute (no objection; a cycle, whose claim is about falls, not highs).
 */
function claimOf(evidence: SignalEvidence): Omit<Interruption, 'sinceMs' | 'atMs'> | undefined {
  const shape = evidence.fast.shape
  const floor = evidence.floorBytes
  if (floor === null || !evidence.fast.reasons.some((reason) => reason.startsWith(SHAPE_TEST))) return undefined
  const margin = CLAIM_MARGIN_RMS * shape.residualRms
  const claim = { claimAtMs: evidence.evaluatedAtMs, baseBytes: floor, levelBytes: floor, slopePerMs: 0, marginBytes: margin }
  switch (shape.model) {
    case 'saturating':
      return { ...claim, levelBytes: Math.max(floor, shape.level ?? floor) }
    case 'step':
      return claim
    case 'two-segment':
      return shape.slopeBefore > 0 ? { ...claim, slopePerMs: Math.max(0, shape.slopeAfter) } : undefined
    default:
      return undefined
  }
}

/** A pending interruption younger than the hold, or null. */
function live(pending: Interruption | null, evidence: SignalEvidence): Interruption | null {
  return pending !== null && evidence.evaluatedAtMs - pending.atMs <= evidence.fast.holdMs ? pending : null
}

/**
 * Whether a fast hold that a shape objection interrupted goes on from where it was: the shape
 * said the growth stopped, slowed or was approaching a level, and since then the floor has
 * risen above what it claimed (by more than twice the noise around the fit, at most one hold
 * after the first objection), with the evidence positive again. The claim was about the growth
 * to come, and the floor refuted it: a leak whose floor grows in stairs (Buffers kept a batch at
 * a time) bends a curve into each landing. Without this services/upload-retry-buffers-leak
 * (~19 MB/h of external memory, positive and urgent at most evaluations from 30 min) had its
 * hold restarted at every other landing and was raised between +1.8 and +2.9 h. A cache that
 * levels off stays under its level; its objection stands.
 */
function resumed(state: VerdictState, evidence: SignalEvidence): boolean {
  const pending = live(state.interrupted, evidence)
  if (pending === null || !evidence.fast.positive || evidence.warmingUp || evidence.floorBytes === null) return false
  const claimed = Math.max(pending.levelBytes, pending.baseBytes + pending.slopePerMs * (evidence.evaluatedAtMs - pending.claimAtMs))
  return evidence.floorBytes > claimed + pending.marginBytes
}

/**
 * The interruption pending after this evaluation: kept until it is resumed, older than the
 * hold, or ended by another negative (a later objection replaces its claim); a new one when a
 * shape objection breaks a running hold.
 */
function interruption(state: VerdictState, evidence: SignalEvidence, resume: boolean, bridged: boolean): Interruption | null {
  if (resume || evidence.warmingUp) return null
  const claim = claimOf(evidence)
  const pending = live(state.interrupted, evidence)
  if (pending !== null) {
    if (claim !== undefined) return { ...pending, ...claim }
    // Only the shape's objections, positive evidence or the tests' noise keep it: any other
    // negative (no trend, too slow, the load) is the growth's own absence, not a refuted claim.
    return evidence.fast.positive || bridged ? pending : null
  }
  return claim !== undefined && state.fastSinceMs !== null ? { sinceMs: state.fastSinceMs, atMs: evidence.evaluatedAtMs, ...claim } : null
}

/**
 * Hysteresis in time: a path raises once its evidence has held for its
 * raise duration (the fast path's through breaks of a quarter of it that only the tests' noise
 * caused: `withinGrace`, and through a shape objection the floor then refuted: `resumed`); a
 * raised leak clears once neither path has been positive for
 * the clear duration. `blocked` (still warming up: a floor that has risen ever since the start
 * is presumed to be a cache filling, up to `--max-warmup`) holds a raise back, and the fast
 * path's hold counts only from when it ends: growth the presumption explains is no evidence of
 * a leak until the presumption is over. Counted from the first positive evaluation instead (as before), a linear fill of an
 * hour (fresh/cache-hour-plateau) had held its 30 minutes by the time the warm-up ended and was
 * raised at 64 minutes in every run, before its plateau could show.
 *
 * A raised leak is held, not cleared, while the fast path cannot judge (too few floor
 * points): a fast heap leak makes major GCs rare, so its floors thin out exactly while it
 * grows, and the absence of points is no evidence that the growth stopped; and while only the
 * load objects (`heldByLoad`); and, raised by the slow path, while the slow path cannot compare
 * its recent floors at their load but finds growth going on (`slowUncompared`). Only a negative
 * judged on the floor itself starts the clear duration, or a window of too few floors that do not
 * grow (`fewAndFlat`).
 */
export function nextVerdict(state: VerdictState, evidence: SignalEvidence, config: HysteresisSettings, blocked = false): VerdictState {
  const now = evidence.evaluatedAtMs
  const fastNow = evidence.fast.positive && !evidence.warmingUp
  // While the presumption holds, the hold (and what would resume or bridge it) does not start;
  // growth that reaches its limit within the urgent horizon keeps its (short) hold.
  const presumed = blocked && !state.suspected && !evidence.fast.urgentByLimit
  const bridged = !fastNow && !presumed && withinGrace(state, evidence)
  const resume = fastNow && !presumed && resumed(state, evidence)
  const fastSinceMs = presumed
    ? null
    : fastNow
      ? Math.min(state.fastSinceMs ?? now, resume ? (state.interrupted?.sinceMs ?? now) : now)
      : bridged
        ? state.fastSinceMs
        : null
  const interrupted = presumed ? null : interruption(state, evidence, resume, bridged)
  const fastLastPositiveMs = fastNow && !presumed ? now : bridged ? state.fastLastPositiveMs : null
  const slowSinceMs = evidence.slow.positive && !evidence.warmingUp ? (state.slowSinceMs ?? now) : null
  const anyPositive = fastNow || slowSinceMs !== null
  const held =
    (unjudged(evidence) && !fewAndFlat(evidence, config.minSlopeBytesPerSecond)) ||
    heldByLoad(evidence) ||
    (state.path === 'slow' && slowUncompared(evidence, config.slowWindowMs))
  if (state.suspected && !anyPositive && held) return { ...state, fastSinceMs, slowSinceMs, fastLastPositiveMs, interrupted }
  const negativeSinceMs = anyPositive ? null : (state.negativeSinceMs ?? now)
  const next = { ...state, fastSinceMs, slowSinceMs, negativeSinceMs, fastLastPositiveMs, interrupted }
  if (!state.suspected && !blocked) {
    const path: VerdictPath | null =
      fastNow && fastSinceMs !== null && now - fastSinceMs >= evidence.fast.holdMs
        ? 'fast'
        : slowSinceMs !== null && now - slowSinceMs >= config.slowRaiseAfterMs
          ? 'slow'
          : null
    if (path !== null) return { ...next, suspected: true, path, raisedAtMs: now }
  }
  if (state.suspected && negativeSinceMs !== null && now - negativeSinceMs >= config.clearAfterMs) {
    return { ...next, suspected: false, path: null, raisedAtMs: null, onsetMs: null }
  }
  return next
}

