/**
 * Seeded generator of labelled synthetic memory series for the detection
 * benchmark: hundreds of simulated Node.js processes, each a few hours of poll
 * readings in exactly the shape `TargetAnalysis.afterPoll` consumes (RSS,
 * external memory and the heap limit per poll, plus the post-major-GC heap
 * floors read since the previous poll).
 *
 * Every series is a deterministic function of (corpus seed, index): the same
 * seed gives byte-identical series on every machine (the PRNG is mulberry32,
 * Gaussians are Box–Muller; no Math.random, no wall clock).
 *
 * Model of one process (t in seconds since process start):
 *   heap floor  H(t) = heapBase + heapShape(t)                   (family-specific shape)
 *   external    E(t) = extBase + extShape(t)
 *   major GCs   at random times, gaps uniform in [gcGapMin, gcGapMax] (one to a few per poll)
 *   post-GC heap reading at each GC g:  H(g) + floorNoise·|N(0,1)|   (floating garbage is never negative)
 *   RSS at a poll  = nonHeap + H(t) + rssSawFactor·garbage(t) + E(t) + rssNoise·N(0,1)
 *     where garbage(t) fills linearly from 0 after the last major GC to this cycle's
 *     sawtooth amplitude (sawtooth·U(0.7,1.3)) at the next one: the GC sawtooth.
 *   external at a poll = E(t) + a small buffer sawtooth on the same GC cycle + noise
 *   load (event-loop utilization) at a poll = L(t) + N(0, 0.03) (at a low level, N(0, 0.15·L(t) + 0.002)),
 *     clipped to [0, 1]; in the
 *     families whose memory follows the load (bursts, the daily cycle), the heap floor carries
 *     loadCoupling·(L(t) − L(0)): traffic brings its own buffers and caches, and takes them away.
 *   HTTP requests (two series in three, index mod 3 ≠ 2): a counter growing by
 *     Poisson(R·T(t)·poll) per poll, R ~ U(2, 50)/s, T(t) = L(t)/L(0) where the loop's work is
 *     the requests', 1 where it is not (a batch cycle; a leak whose handlers load the loop).
 *     Drawn from its own random stream: every other reading is as without the counter.
 */

/** Default seed of the benchmark corpus. */
export const DEFAULT_SEED = 20_240_601
/** Default number of series (spread round-robin over the families). */
export const DEFAULT_COUNT = 378
/** Poll interval of the simulated sidecar (leakwatch's default `--interval`). */
export const POLL_INTERVAL_MS = 15_000
/** Simulated duration of a series (families with longer cycles run longer: FAMILY_DURATION_MS). */
export const DURATION_MS = 8 * 3_600_000
/** Simulated wall-clock start of every series (the process starts at the first poll's previous tick). */
export const START_MS = Date.UTC(2025, 0, 6, 8, 0, 0)

const MB = 1024 * 1024
const MIN = 60
const HOUR = 3600

// ---------------------------------------------------------------------------
// Randomness

/** mulberry32: a tiny 32-bit PRNG with a full 2^32 period; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  uniform(min: number, max: number): number
  /** Integer uniform in [min, max]. */
  int(min: number, max: number): number
  /** Standard normal, Box–Muller. */
  gauss(): number
}

export function createRng(seed: number): Rng {
  const next = mulberry32(seed)
  let spare: number | undefined
  return {
    next,
    uniform: (min, max) => min + (max - min) * next(),
    int: (min, max) => min + Math.floor((max - min + 1) * next()),
    gauss: () => {
      if (spare !== undefined) {
        const value = spare
        spare = undefined
        return value
      }
      // 1 - u keeps the logarithm's argument in (0, 1].
      const radius = Math.sqrt(-2 * Math.log(1 - next()))
      const angle = 2 * Math.PI * next()
      spare = radius * Math.sin(angle)
      return radius * Math.cos(angle)
    },
  }
}

/** Seed of series `index` of a corpus: an integer hash of both, so neighbouring series are unrelated. */
export function seriesSeed(corpusSeed: number, index: number): number {
  let h = (corpusSeed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}

// ---------------------------------------------------------------------------
// Families

export const LEAKY_FAMILIES = [
  'leak-slow',
  'leak-medium',
  'leak-fast',
  'leak-late-onset',
  'leak-staircase',
  'leak-external',
  'leak-heavy-sawtooth',
  'leak-diurnal',
  'leak-low-load',
  'leak-self-loading',
] as const
export const HEALTHY_FAMILIES = [
  'flat',
  'heavy-sawtooth',
  'cache-warming',
  'cache-warming-late',
  'cache-filling-linear',
  'load-burst',
  'load-burst-long',
  'step-up',
  'periodic',
  'diurnal',
  'waiting-load',
] as const
export const FAMILIES = [...LEAKY_FAMILIES, ...HEALTHY_FAMILIES] as const
export type FamilyName = (typeof FAMILIES)[number]

export const FAMILY_DESCRIPTIONS: Readonly<Record<FamilyName, string>> = {
  'leak-slow': 'linear heap leak of 1-5 MB/h on a 50-200 MB heap, onset 10-60 min',
  'leak-medium': 'linear heap leak of 10-40 MB/h, onset 10-60 min',
  'leak-fast': 'linear heap leak of 50-300 MB/h, onset 10-60 min',
  'leak-late-onset': 'linear heap leak of 10-60 MB/h after a flat 90-150 min',
  'leak-staircase': 'heap leak in steps every 2-10 min, 10-60 MB/h on average, onset 10-60 min',
  'leak-external': 'external memory (Buffers) leak of 10-60 MB/h, heap flat, RSS grows with it',
  'leak-heavy-sawtooth': 'linear heap leak of 10-60 MB/h under a GC sawtooth of 50-150 % of the heap',
  'leak-diurnal': 'linear heap leak of 5-20 MB/h on top of a daily load cycle that moves the floor by +/-10-25 % of the heap (30 h)',
  flat: 'flat heap, GC sawtooth of 5-30 %, noise',
  'heavy-sawtooth': 'flat heap under a GC sawtooth of 50-150 % of the heap',
  'cache-warming': 'cache filling to +20-60 % of the heap, exponential approach with a 10-20 min time constant, from 0-10 min',
  'cache-warming-late': 'cache filling to +20-60 % of the heap over 10 min-3 h (exponential approach), starting at 0-2 h',
  'cache-filling-linear':
    'a size-capped cache (an LRU under steady new keys) filling at a constant rate to +20-60 % of the heap over 20 min-2 h, from 0-30 min, then flat at its cap',
  'load-burst': '1-3 load bursts: heap +10-50 % over 5-15 min, held 0-10 min, drained over 5-20 min',
  'load-burst-long': '1-2 long bursts of load lasting 30 min-2 h: heap +10-40 % with the load, drained with it',
  'step-up': 'one deploy-sized allocation of +10-40 % of the heap over 30-120 s at 20-180 min, then flat',
  periodic: 'sinusoid of +/-5-15 % of the heap with a 2-4 h period, the event loop busier with it (a batch cycle)',
  diurnal: 'daily load cycle (24 h, low at night, peak in the afternoon) moving the floor by +/-10-25 % of the heap with it (30 h)',
  'leak-low-load':
    'linear heap leak of 10-60 MB/h, onset 10-60 min, in a service that mostly waits (event loop 1-5 % busy) with the waiting-load peaks',
  'leak-self-loading':
    'linear heap leak of 10-60 MB/h, onset 10-60 min, that makes the event loop busier as it grows (leaked listeners called on every event): utilization x1.5-3 once the leak doubles the heap',
  'waiting-load':
    'a service that mostly waits (event loop 1-5 % busy): 1-2 peaks of 2-3x the traffic for 30 min-2 h, the floor +10-40 % of the heap with the requests in flight',
}

/** Families that need more than DURATION_MS to show what they are. */
export const FAMILY_DURATION_MS: Partial<Readonly<Record<FamilyName, number>>> = {
  diurnal: 30 * 3_600_000,
  'leak-diurnal': 30 * 3_600_000,
}

export const isLeakyFamily = (family: FamilyName): boolean => (LEAKY_FAMILIES as readonly string[]).includes(family)

/** The parameters one series is drawn with. Sizes in bytes, times in seconds since process start. */
export interface SeriesModel {
  readonly heapBase: number
  readonly extBase: number
  readonly nonHeap: number
  /** Peak garbage between two major GCs (sawtooth amplitude), bytes. */
  readonly sawtooth: number
  /** Share of the heap sawtooth visible in RSS. */
  readonly rssSawFactor: number
  readonly gcGapMin: number
  readonly gcGapMax: number
  readonly floorNoise: number
  readonly rssNoise: number
  readonly extNoise: number
  readonly heapLimit: number
  /** When the leak starts (s), or null for healthy series. */
  readonly onset: number | null
  /** Family-specific parameters, for the record. */
  readonly params: Readonly<Record<string, number>>
  /** Event-loop utilization (0..1) at time t (s), before measurement noise. */
  load(t: number): number
  /** Standard deviation of the utilization's measurement noise at time t (s). */
  loadNoise(t: number): number
  /** Heap floor bytes per unit of utilization above the start's (0 where memory ignores the load). */
  readonly loadCoupling: number
  /**
   * HTTP traffic at time t (s) relative to the start's, for series that serve HTTP: the load's
   * own ratio where the event loop's work is the requests', 1 where it is not (a batch cycle; a
   * leak whose leaked handlers make the loop busier at the same traffic).
   */
  traffic(t: number): number
  /** Heap floor above heapBase at time t (s). */
  heapShape(t: number): number
  /** External memory above extBase at time t (s). */
  extShape(t: number): number
}

const zero = (): number => 0
/** Mixed into a seed for the request counter's own random stream. */
const HTTP_STREAM = 0x5bd1e995
const linear = (rate: number, onset: number) => (t: number) => (t < onset ? 0 : rate * (t - onset))

interface Common {
  heapBase: number
  extBase: number
  nonHeap: number
  sawtooth: number
  rssSawFactor: number
  gcGapMin: number
  gcGapMax: number
  floorNoise: number
  rssNoise: number
  extNoise: number
  heapLimit: number
}

function common(rng: Rng, heavySawtooth: boolean): Common {
  const heapBase = rng.uniform(50, 200) * MB
  const gcGapMin = rng.uniform(3, 6)
  return {
    heapBase,
    extBase: rng.uniform(5, 40) * MB,
    nonHeap: rng.uniform(30, 70) * MB,
    sawtooth: heapBase * (heavySawtooth ? rng.uniform(0.5, 1.5) : rng.uniform(0.05, 0.3)),
    rssSawFactor: rng.uniform(0.5, 1),
    gcGapMin,
    gcGapMax: gcGapMin + rng.uniform(2, 8), // at most 14 s: at least one major GC per 15 s poll
    floorNoise: heapBase * rng.uniform(0.002, 0.01),
    rssNoise: rng.uniform(0.5, 2) * MB,
    extNoise: rng.uniform(0.05, 0.3) * MB,
    heapLimit: Math.round(rng.uniform(1.5, 4) * 4) * 256 * MB,
  }
}

type Shapes = Pick<SeriesModel, 'onset' | 'params' | 'heapShape' | 'extShape'> & Partial<Pick<SeriesModel, 'load' | 'loadCoupling' | 'loadNoise' | 'traffic'>>

/** The utilization's noise most families get: 3 points, whatever the level. */
const LOAD_NOISE = 0.03
/** At a low level the noise is a share of it (a mostly idle loop measures steadily) plus a floor. */
const relativeNoise = (load: (t: number) => number) => (t: number) => 0.15 * load(t) + 0.002

/** A burst's level at t: 0 before `start`, rising linearly over `rise` to 1, held for `hold`, drained linearly over `drain`. */
function trapezoid(p: { readonly start: number; readonly rise: number; readonly hold: number; readonly drain: number }, t: number): number {
  const x = t - p.start
  if (x <= 0) return 0
  if (x < p.rise) return x / p.rise
  if (x < p.rise + p.hold) return 1
  const d = x - p.rise - p.hold
  return d < p.drain ? 1 - d / p.drain : 0
}

/** A service that mostly waits: 1-5 % busy, with 1-2 peaks of 2-3x the traffic (their shape and the floor they add). */
function waitingPeaks(rng: Rng, c: Common): { load: (t: number) => number; floorOfLoad: (t: number) => number; loadCoupling: number; params: Record<string, number> } {
  const base = rng.uniform(0.01, 0.05)
  const peaks = Array.from({ length: rng.int(1, 2) }, () => ({
    start: rng.uniform(20, 300) * MIN,
    rise: rng.uniform(5, 20) * MIN,
    hold: rng.uniform(30, 120) * MIN,
    drain: rng.uniform(10, 30) * MIN,
    factor: rng.uniform(2, 3),
  }))
  const load = (t: number): number => base * (1 + peaks.reduce((sum, p) => sum + (p.factor - 1) * trapezoid(p, t), 0))
  const peakExtra = Math.max(...peaks.map((p) => (p.factor - 1) * base))
  const loadCoupling = (c.heapBase * rng.uniform(0.1, 0.4)) / peakExtra
  const params: Record<string, number> = { baseLoad: base, peaks: peaks.length }
  peaks.forEach((p, i) => {
    params[`peak${i}StartMin`] = p.start / MIN
    params[`peak${i}HoldMin`] = p.hold / MIN
    params[`peak${i}Factor`] = p.factor
  })
  return { load, floorOfLoad: (t) => loadCoupling * (load(t) - base), loadCoupling, params }
}

/** A daily cycle of utilization: low at night, a morning ramp, an afternoon peak. */
function dailyLoad(base: number, swing: number, phase: number): (t: number) => number {
  return (t) => base + swing * Math.sin((2 * Math.PI * (t + phase)) / (24 * HOUR))
}

/** A healthy cache: the floor rises by `amplitude` from `start`, `progress` (0..1) of the time since. */
function cacheFill(amplitude: number, start: number, progress: (sinceStart: number) => number, params: Record<string, number>): Shapes {
  return {
    onset: null,
    params: { amplitudeMB: amplitude / MB, ...params, startMin: start / MIN },
    heapShape: (t) => (t < start ? 0 : amplitude * progress(t - start)),
    extShape: zero,
  }
}

function makeShapes(family: FamilyName, rng: Rng, c: Common): Shapes {
  const earlyOnset = (): number => rng.uniform(10, 60) * MIN
  switch (family) {
    case 'leak-slow':
    case 'leak-medium':
    case 'leak-fast':
    case 'leak-heavy-sawtooth': {
      const [lo, hi] = family === 'leak-slow' ? [1, 5] : family === 'leak-medium' ? [10, 40] : family === 'leak-fast' ? [50, 300] : [10, 60]
      const rateMBh = rng.uniform(lo, hi)
      const onset = earlyOnset()
      return { onset, params: { rateMBh, onsetMin: onset / MIN }, heapShape: linear((rateMBh * MB) / HOUR, onset), extShape: zero }
    }
    case 'leak-late-onset': {
      const rateMBh = rng.uniform(10, 60)
      const onset = rng.uniform(90, 150) * MIN
      return { onset, params: { rateMBh, onsetMin: onset / MIN }, heapShape: linear((rateMBh * MB) / HOUR, onset), extShape: zero }
    }
    case 'leak-staircase': {
      const rateMBh = rng.uniform(10, 60)
      const period = rng.uniform(2, 10) * MIN
      const step = (rateMBh * MB * period) / HOUR
      const onset = earlyOnset()
      return {
        onset,
        params: { rateMBh, stepPeriodMin: period / MIN, stepMB: step / MB, onsetMin: onset / MIN },
        heapShape: (t) => (t < onset ? 0 : step * (Math.floor((t - onset) / period) + 1)),
        extShape: zero,
      }
    }
    case 'leak-external': {
      const rateMBh = rng.uniform(10, 60)
      const onset = earlyOnset()
      return { onset, params: { rateMBh, onsetMin: onset / MIN }, heapShape: zero, extShape: linear((rateMBh * MB) / HOUR, onset) }
    }
    case 'flat':
    case 'heavy-sawtooth':
      return { onset: null, params: {}, heapShape: zero, extShape: zero }
    case 'diurnal':
    case 'leak-diurnal': {
      const swing = rng.uniform(0.15, 0.3)
      const base = rng.uniform(0.3, 0.45)
      const phase = rng.uniform(0, 24 * HOUR)
      const load = dailyLoad(base, swing, phase)
      // The floor moves +/-10-25 % of the heap over the day with the load.
      const loadCoupling = (c.heapBase * rng.uniform(0.1, 0.25)) / swing
      const start = load(0)
      const floorOfLoad = (t: number): number => loadCoupling * (load(t) - start)
      if (family === 'diurnal') {
        return { onset: null, params: { swing, base, phaseH: phase / HOUR }, heapShape: floorOfLoad, extShape: zero, load, loadCoupling }
      }
      const rateMBh = rng.uniform(5, 20)
      const onset = earlyOnset()
      const leak = linear((rateMBh * MB) / HOUR, onset)
      return {
        onset,
        params: { rateMBh, onsetMin: onset / MIN, swing, phaseH: phase / HOUR },
        heapShape: (t) => floorOfLoad(t) + leak(t),
        extShape: zero,
        load,
        loadCoupling,
      }
    }
    case 'cache-warming-late': {
      const amplitude = c.heapBase * rng.uniform(0.2, 0.6)
      const fill = rng.uniform(10, 180) * MIN
      const start = rng.uniform(0, 120) * MIN
      return cacheFill(amplitude, start, (x) => 1 - Math.exp(-x / (fill / 3)), { fillMin: fill / MIN })
    }
    case 'cache-filling-linear': {
      // The cache most services have: a cap, and new keys arriving at a steady rate, so it fills
      // linearly and stops at once (no exponential approach for the shape test to see).
      const amplitude = c.heapBase * rng.uniform(0.2, 0.6)
      const fill = rng.uniform(20, 120) * MIN
      const start = rng.uniform(0, 30) * MIN
      return cacheFill(amplitude, start, (x) => Math.min(1, x / fill), { fillMin: fill / MIN })
    }
    case 'load-burst-long': {
      const base = rng.uniform(0.2, 0.35)
      const bursts = Array.from({ length: rng.int(1, 2) }, () => ({
        start: rng.uniform(30, 300) * MIN,
        rise: rng.uniform(5, 20) * MIN,
        hold: rng.uniform(30, 120) * MIN,
        drain: rng.uniform(10, 30) * MIN,
        extra: rng.uniform(0.2, 0.45),
      }))
      const load = (t: number): number => Math.min(0.95, base + bursts.reduce((sum, b) => sum + b.extra * trapezoid(b, t), 0))
      const loadCoupling = (c.heapBase * rng.uniform(0.1, 0.4)) / 0.3
      const params: Record<string, number> = { bursts: bursts.length }
      bursts.forEach((b, i) => {
        params[`burst${i}StartMin`] = b.start / MIN
        params[`burst${i}HoldMin`] = b.hold / MIN
      })
      return { onset: null, params, heapShape: (t) => loadCoupling * (load(t) - load(0)), extShape: zero, load, loadCoupling }
    }
    case 'cache-warming': {
      const amplitude = c.heapBase * rng.uniform(0.2, 0.6)
      const tau = rng.uniform(10, 20) * MIN
      const start = rng.uniform(0, 10) * MIN
      return cacheFill(amplitude, start, (x) => 1 - Math.exp(-x / tau), { tauMin: tau / MIN })
    }
    case 'load-burst': {
      const bursts = Array.from({ length: rng.int(1, 3) }, () => ({
        start: rng.uniform(10, 200) * MIN,
        amplitude: c.heapBase * rng.uniform(0.1, 0.5),
        rise: rng.uniform(5, 15) * MIN,
        hold: rng.uniform(0, 10) * MIN,
        drain: rng.uniform(5, 20) * MIN,
      }))
      const burst = (b: (typeof bursts)[number], t: number): number => {
        const x = t - b.start
        if (x <= 0) return 0
        if (x < b.rise) return (b.amplitude * x) / b.rise
        if (x < b.rise + b.hold) return b.amplitude
        const d = x - b.rise - b.hold
        return d < b.drain ? b.amplitude * (1 - d / b.drain) : 0
      }
      const params: Record<string, number> = { bursts: bursts.length }
      bursts.forEach((b, i) => {
        params[`burst${i}StartMin`] = b.start / MIN
        params[`burst${i}MB`] = b.amplitude / MB
      })
      // Overlapping bursts add up (two waves of load); the event loop is busier while they last.
      const heapShape = (t: number): number => bursts.reduce((sum, b) => sum + burst(b, t), 0)
      const base = rng.uniform(0.2, 0.35)
      const peak = Math.max(...bursts.map((b) => b.amplitude))
      return { onset: null, params, heapShape, extShape: zero, load: (t) => Math.min(0.95, base + (0.3 * heapShape(t)) / peak) }
    }
    case 'step-up': {
      const amplitude = c.heapBase * rng.uniform(0.1, 0.4)
      const at = rng.uniform(20, 180) * MIN
      const ramp = rng.uniform(30, 120)
      return {
        onset: null,
        params: { amplitudeMB: amplitude / MB, atMin: at / MIN, rampS: ramp },
        heapShape: (t) => (t <= at ? 0 : t >= at + ramp ? amplitude : (amplitude * (t - at)) / ramp),
        extShape: zero,
      }
    }
    case 'waiting-load': {
      const { load, floorOfLoad, loadCoupling, params } = waitingPeaks(rng, c)
      return { onset: null, params, heapShape: floorOfLoad, extShape: zero, load, loadCoupling, loadNoise: relativeNoise(load) }
    }
    case 'leak-low-load': {
      const { load, floorOfLoad, loadCoupling, params } = waitingPeaks(rng, c)
      const rateMBh = rng.uniform(10, 60)
      const onset = earlyOnset()
      const leak = linear((rateMBh * MB) / HOUR, onset)
      return {
        onset,
        params: { ...params, rateMBh, onsetMin: onset / MIN },
        heapShape: (t) => floorOfLoad(t) + leak(t),
        extShape: zero,
        load,
        loadCoupling,
        loadNoise: relativeNoise(load),
      }
    }
    case 'leak-self-loading': {
      const rateMBh = rng.uniform(10, 60)
      const onset = earlyOnset()
      const leak = linear((rateMBh * MB) / HOUR, onset)
      const base = rng.uniform(0.05, 0.3)
      // Utilization grows by `perHeap` of its level for each heapBase the leak adds.
      const perHeap = rng.uniform(0.5, 2)
      const load = (t: number): number => Math.min(0.95, base * (1 + (perHeap * leak(t)) / c.heapBase))
      return {
        onset,
        params: { rateMBh, onsetMin: onset / MIN, baseLoad: base, loadPerHeap: perHeap },
        heapShape: leak,
        extShape: zero,
        load,
        loadNoise: relativeNoise(load),
        traffic: () => 1,
      }
    }
    case 'periodic': {
      const amplitude = c.heapBase * rng.uniform(0.05, 0.15)
      const period = rng.uniform(2, 4) * HOUR
      const phase = rng.uniform(0, 2 * Math.PI)
      const base = rng.uniform(0.3, 0.45)
      const swing = rng.uniform(0.1, 0.25)
      const wave = (t: number): number => Math.sin((2 * Math.PI * t) / period + phase)
      return {
        onset: null,
        params: { amplitudeMB: amplitude / MB, periodH: period / HOUR, phase },
        heapShape: (t) => amplitude * wave(t),
        extShape: zero,
        // A batch cycle: the event loop is busier while its work (and memory) builds up.
        load: (t) => base + swing * wave(t),
        traffic: () => 1,
      }
    }
  }
}

export function drawModel(family: FamilyName, rng: Rng): SeriesModel {
  const c = common(rng, family === 'heavy-sawtooth' || family === 'leak-heavy-sawtooth')
  const baseLoad = rng.uniform(0.15, 0.4)
  const shapes = makeShapes(family, rng, c)
  const load = shapes.load ?? (() => baseLoad)
  const atStart = load(0)
  return { load, loadCoupling: 0, loadNoise: () => LOAD_NOISE, traffic: (t) => load(t) / atStart, ...c, ...shapes }
}

// ---------------------------------------------------------------------------
// Series

/** One poll, shaped like `PollContext` minus the process identity. */
export interface SyntheticPoll {
  readonly nowMs: number
  readonly samples: ReadonlyArray<{ readonly key: 'rss' | 'external' | 'heapLimit' | 'eventLoopUtilization' | 'httpServerRequests'; readonly value: number }>
  readonly floors: ReadonlyArray<{ readonly seq: number; readonly timeMs: number; readonly bytes: number }>
}

export interface SyntheticSeries {
  readonly id: string
  readonly index: number
  readonly seed: number
  readonly family: FamilyName
  readonly leaky: boolean
  /** When the leak starts (ms since the epoch), null when healthy. */
  readonly onsetMs: number | null
  readonly processStartMs: number
  readonly pollIntervalMs: number
  readonly durationMs: number
  /** Container memory limit given to this series: 2-4x its starting RSS. */
  readonly memoryLimitBytes: number
  /** A leak that, at its onset, heads to the memory or heap limit within 4 h. */
  readonly urgent: boolean
  readonly heapLimitBytes: number
  readonly model: SeriesModel
  /** HTTP requests per second at the start, for the two series in three that serve HTTP (null for the others). */
  readonly requestsPerSecond: number | null
  /** The readings, rendered on demand (deterministic; not cached, to keep the corpus small in memory). */
  polls(): SyntheticPoll[]
}

export interface CorpusOptions {
  readonly seed?: number
  readonly count?: number
  /** Only these families (round-robin over them). */
  readonly families?: readonly FamilyName[]
  readonly durationMs?: number
  readonly pollIntervalMs?: number
}

export function makeSeries(
  index: number,
  family: FamilyName,
  seed: number,
  durationMs = FAMILY_DURATION_MS[family] ?? DURATION_MS,
  pollIntervalMs = POLL_INTERVAL_MS,
): SyntheticSeries {
  const rng = createRng(seed)
  const model = drawModel(family, rng)
  const startRss = model.nonHeap + model.heapBase + model.extBase + (model.rssSawFactor * model.sawtooth) / 2
  const memoryLimitBytes = Math.round(startRss * rng.uniform(2, 4))
  const renderSeed = (rng.next() * 4_294_967_296) >>> 0
  // Two series in three serve HTTP (a request counter beside the utilization), drawn from their own
  // stream so that every other reading of the series is what it was before the counter existed.
  const requestsPerSecond = index % 3 === 2 ? null : createRng(seed ^ HTTP_STREAM).uniform(2, 50)
  const rateBytesPerSecond = (model.params['rateMBh'] ?? 0) * (MB / HOUR)
  const urgent =
    model.onset !== null &&
    rateBytesPerSecond > 0 &&
    Math.min((memoryLimitBytes - startRss) / rateBytesPerSecond, (model.heapLimit - model.heapBase) / rateBytesPerSecond) <= 4 * HOUR
  return {
    id: `${family}#${index}`,
    index,
    seed,
    family,
    leaky: model.onset !== null,
    onsetMs: model.onset === null ? null : START_MS + model.onset * 1000,
    processStartMs: START_MS,
    pollIntervalMs,
    durationMs,
    memoryLimitBytes,
    urgent,
    heapLimitBytes: model.heapLimit,
    model,
    requestsPerSecond,
    polls: () => renderPolls(model, createRng(renderSeed), durationMs, pollIntervalMs, requestsPerSecond === null ? undefined : { perSecond: requestsPerSecond, rng: createRng(renderSeed ^ HTTP_STREAM) }),
  }
}

function renderPolls(m: SeriesModel, rng: Rng, durationMs: number, pollIntervalMs: number, http?: { readonly perSecond: number; readonly rng: Rng }): SyntheticPoll[] {
  const polls: SyntheticPoll[] = []
  let requests = 0
  // GC cycles: [lastGc, nextGc] with this cycle's sawtooth amplitude.
  let lastGc = -rng.uniform(0, m.gcGapMin)
  let nextGc = lastGc + rng.uniform(m.gcGapMin, m.gcGapMax)
  let cycleAmplitude = m.sawtooth * rng.uniform(0.7, 1.3)
  let seq = 0
  const pollS = pollIntervalMs / 1000
  const pollCount = Math.floor(durationMs / pollIntervalMs)
  for (let k = 1; k <= pollCount; k++) {
    const t = k * pollS
    const floors: Array<{ seq: number; timeMs: number; bytes: number }> = []
    // Whole milliseconds, as the GC observer reports them: a GC belongs to the poll its rounded time precedes.
    while (Math.round(nextGc * 1000) <= k * pollIntervalMs) {
      seq += 1
      floors.push({
        seq,
        timeMs: START_MS + Math.round(nextGc * 1000),
        bytes: Math.round(m.heapBase + m.heapShape(nextGc) + m.floorNoise * Math.abs(rng.gauss())),
      })
      lastGc = nextGc
      nextGc = lastGc + rng.uniform(m.gcGapMin, m.gcGapMax)
      cycleAmplitude = m.sawtooth * rng.uniform(0.7, 1.3)
    }
    const phase = (t - lastGc) / (nextGc - lastGc)
    const external = Math.max(0, m.extBase + m.extShape(t) + 0.1 * m.extBase * phase + m.extNoise * rng.gauss())
    const heap = m.heapBase + m.heapShape(t) + m.rssSawFactor * cycleAmplitude * phase
    const rss = m.nonHeap + heap + external + m.rssNoise * rng.gauss()
    const utilization = Math.min(1, Math.max(0, m.load(t) + m.loadNoise(t) * rng.gauss()))
    const samples: SyntheticPoll['samples'][number][] = [
      { key: 'rss', value: Math.round(rss) },
      { key: 'external', value: Math.round(external) },
      { key: 'heapLimit', value: m.heapLimit },
      { key: 'eventLoopUtilization', value: utilization },
    ]
    if (http !== undefined) {
      // Requests begun over the poll: Poisson, by its normal approximation (at least 30 a poll).
      const expected = http.perSecond * m.traffic(t) * pollS
      requests += Math.max(0, Math.round(expected + Math.sqrt(expected) * http.rng.gauss()))
      samples.push({ key: 'httpServerRequests', value: requests })
    }
    polls.push({ nowMs: START_MS + k * pollIntervalMs, samples, floors })
  }
  return polls
}

/** The corpus: `count` series spread round-robin over the families, each with its own derived seed. */
export function generateCorpus(options: CorpusOptions = {}): SyntheticSeries[] {
  const seed = options.seed ?? DEFAULT_SEED
  const count = options.count ?? DEFAULT_COUNT
  const families = options.families ?? FAMILIES
  return Array.from({ length: count }, (_, index) => {
    const family = families[index % families.length] as FamilyName
    return makeSeries(index, family, seriesSeed(seed, index), options.durationMs ?? FAMILY_DURATION_MS[family] ?? DURATION_MS, options.pollIntervalMs)
  })
}
