/**
 * Tracks allocation sites across profile fetches: each site's live sampled
 * bytes over time, ranked by robust slope. Bounded everywhere: at most
 * `maxSites` sites, `maxPoints` points each, and a top-K of metric labels that
 * changes only with hysteresis, so the `site` label never churns. Pure.
 */
import { RingSeries } from '../analysis/series.js'
import { theilSen, thinIndexes } from '../analysis/stats.js'
import type { SiteFrame, SiteSnapshot } from './sites.js'

export interface TrackerOptions {
  readonly maxSites: number
  readonly topSites: number
  /** Points kept per site. */
  readonly maxPoints?: number
}

export interface RankedSite {
  readonly key: string
  readonly label: string
  readonly frame: SiteFrame
  readonly stack: readonly SiteFrame[]
  /** Live sampled bytes at the latest fetch. */
  readonly bytes: number
  /** Theil–Sen slope of the live bytes: the higher of the one over the window and over the long window. */
  readonly slopeBytesPerSecond: number
  /** The span the slope was taken over: the window, or the long window when that one's is higher. */
  readonly slopeOverMs: number
  /** Points in that span. */
  readonly points: number
  readonly firstSeenMs: number
  readonly rank: number
}

interface TrackedSite {
  label: string
  frame: SiteFrame
  stack: readonly SiteFrame[]
  bytes: number
  firstSeenMs: number
  readonly series: RingSeries
}

/** A slope needs a few points; fewer and the site is listed with slope 0. */
const MIN_POINTS_FOR_SLOPE = 3
const MAX_SLOPE_POINTS = 120

/** Theil–Sen slope (bytes a second) of a site's live bytes at `times` (ms); 0 under MIN_POINTS_FOR_SLOPE points. */
function slopeOf(times: readonly number[], values: readonly number[]): { slope: number; points: number } {
  if (times.length < MIN_POINTS_FOR_SLOPE) return { slope: 0, points: times.length }
  const keep = thinIndexes(times.length, MAX_SLOPE_POINTS)
  const fit = theilSen(
    keep.map((i) => times[i] as number),
    keep.map((i) => values[i] as number),
  )
  return { slope: fit.slope * 1000, points: times.length }
}

export class SiteTracker {
  private readonly options: Required<TrackerOptions>
  private readonly sites = new Map<string, TrackedSite>()
  private exportedKeys: string[] = []
  private ranking: RankedSite[] = []

  constructor(options: TrackerOptions) {
    this.options = { maxPoints: 240, ...options }
  }

  get size(): number {
    return this.sites.size
  }

  /** Add one profile's sites at `timeMs`; tracked sites missing from it have 0 live bytes now. */
  ingest(timeMs: number, snapshot: ReadonlyMap<string, SiteSnapshot>): void {
    for (const [key, site] of this.sites) {
      if (!snapshot.has(key)) {
        site.bytes = 0
        site.series.push(timeMs, 0)
      }
    }
    for (const [key, incoming] of snapshot) {
      let site = this.sites.get(key)
      if (site === undefined) {
        site = {
          label: incoming.label,
          frame: incoming.frame,
          stack: incoming.stack,
          bytes: 0,
          firstSeenMs: timeMs,
          series: new RingSeries(this.options.maxPoints),
        }
        this.sites.set(key, site)
      }
      site.bytes = incoming.bytes
      site.stack = incoming.stack
      site.series.push(timeMs, incoming.bytes)
    }
    this.evict()
  }

  /** The sampling profiler restarted: live bytes restart from zero, so old points are not comparable. */
  resetSeries(): void {
    for (const site of this.sites.values()) site.series.clear()
    this.ranking = []
  }

  clear(): void {
    this.sites.clear()
    this.exportedKeys = []
    this.ranking = []
  }

  /**
   * Rank every site by the slope of its live bytes over the last `windowMs`, or over the last
   * `longWindowMs` when that slope is higher. A sampled site's live bytes move in steps of the
   * sampling interval (512 KiB by default): a leak of 1 MiB an hour adds a step every half hour,
   * so over a 30-minute window most pairs of reads lie on one step and the median slope is 0
   * (corpus-churn's job log and corpus-trickles' retry backlog: no growing site in 6 hours),
   * while over hours its steps make a staircase. The same when reads are sparse (a budget that
   * allows one every few minutes, fewer than three in the window). A site that grew and stopped
   * (a cache that filled) has its long slope fall as its flat part fills the long window.
   */
  rank(nowMs: number, windowMs: number, longWindowMs: number): readonly RankedSite[] {
    const ranked = [...this.sites].map(([key, site]) => {
      const { times, values } = site.series.since(nowMs - Math.max(windowMs, longWindowMs))
      let from = 0
      while (from < times.length && (times[from] as number) < nowMs - windowMs) from += 1
      const short = slopeOf(times.slice(from), values.slice(from))
      const long = from > 0 ? slopeOf(times, values) : short
      const best = long.slope > short.slope ? { ...long, overMs: longWindowMs } : { ...short, overMs: windowMs }
      return { key, site, slope: best.slope, overMs: best.overMs, points: best.points }
    })
    ranked.sort((a, b) => b.slope - a.slope || b.site.bytes - a.site.bytes)
    this.ranking = ranked.map(({ key, site, slope, overMs, points }, index) => ({
      key,
      label: site.label,
      frame: site.frame,
      stack: site.stack,
      bytes: site.bytes,
      slopeBytesPerSecond: slope,
      slopeOverMs: overMs,
      points,
      firstSeenMs: site.firstSeenMs,
      rank: index + 1,
    }))
    this.updateExported()
    return this.ranking
  }

  /** The latest ranking (from the last `rank` call). */
  ranked(): readonly RankedSite[] {
    return this.ranking
  }

  /**
   * Sites exported as metric labels: the growing top-K, where a site already
   * exported stays while it ranks within 2·K and still grows.
   */
  exported(): readonly RankedSite[] {
    const byKey = new Map(this.ranking.map((site) => [site.key, site]))
    return this.exportedKeys.map((key) => byKey.get(key)).filter((site): site is RankedSite => site !== undefined)
  }

  private updateExported(): void {
    const k = this.options.topSites
    const growing = this.ranking.filter((site) => site.slopeBytesPerSecond > 0)
    const keep = new Set(growing.slice(0, 2 * k).map((site) => site.key))
    const next = this.exportedKeys.filter((key) => keep.has(key)).slice(0, k)
    for (const site of growing) {
      if (next.length >= k) break
      if (!next.includes(site.key)) next.push(site.key)
    }
    this.exportedKeys = next
  }

  private evict(): void {
    const excess = this.sites.size - this.options.maxSites
    if (excess <= 0) return
    const protectedKeys = new Set(this.exportedKeys)
    const candidates = [...this.sites]
      .filter(([key]) => !protectedKeys.has(key))
      .sort(([, a], [, b]) => a.bytes - b.bytes || a.firstSeenMs - b.firstSeenMs)
    for (const [key] of candidates.slice(0, excess)) this.sites.delete(key)
  }
}
