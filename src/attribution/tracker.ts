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
  /** Theil–Sen slope of the live bytes over the window. */
  readonly slopeBytesPerSecond: number
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

  /** Rank every site by the slope of its live bytes over the last `windowMs`. */
  rank(nowMs: number, windowMs: number): readonly RankedSite[] {
    const ranked = [...this.sites].map(([key, site]) => {
      const { times, values } = site.series.since(nowMs - windowMs)
      const keep = thinIndexes(times.length, MAX_SLOPE_POINTS)
      const slope =
        times.length >= MIN_POINTS_FOR_SLOPE
          ? theilSen(
              keep.map((i) => times[i] as number),
              keep.map((i) => values[i] as number),
            ).slope * 1000
          : 0
      return { key, site, slope, points: times.length }
    })
    ranked.sort((a, b) => b.slope - a.slope || b.site.bytes - a.site.bytes)
    this.ranking = ranked.map(({ key, site, slope, points }, index) => ({
      key,
      label: site.label,
      frame: site.frame,
      stack: site.stack,
      bytes: site.bytes,
      slopeBytesPerSecond: slope,
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
