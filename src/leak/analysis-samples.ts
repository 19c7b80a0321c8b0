/**
 * What one target's analysis exports as metrics samples: per signal its floor, the fast path's
 * evidence and the verdict; the attribution's cost counters and its exported sites. Pure (split
 * from target-analysis.ts, which owns the state).
 */
import type { SignalEvidence, SignalName, VerdictState } from '../analysis/verdict.js'
import type { ProfilerController } from '../attribution/profiler.js'
import type { RankedSite } from '../attribution/tracker.js'
import type { Sample } from '../core/metrics.js'

/** One signal's samples: its latest floor, and once evaluated, the evidence's figures and the verdict. */
export function signalSamples(signal: SignalName, lastFloor: number | undefined, evidence: SignalEvidence | undefined, verdict: VerdictState): Sample[] {
  const labels = { signal }
  const out: Sample[] = []
  if (lastFloor !== undefined) out.push({ key: 'floorBytes', labels, value: lastFloor })
  if (evidence === undefined) return out
  out.push(
    { key: 'leakSlope', labels, value: evidence.fast.slopeBytesPerSecond },
    { key: 'leakRelativeGrowth', labels, value: evidence.fast.relativePerHour },
    { key: 'leakTrendConfidence', labels, value: 1 - evidence.fast.pValue },
    { key: 'leakWindowPoints', labels, value: evidence.fast.points },
    { key: 'leakSuspected', labels, value: verdict.suspected ? 1 : 0 },
  )
  const comparison = evidence.slow.comparison
  if (comparison !== null) out.push({ key: 'leakSlowGrowth', labels, value: comparison.rate * 1000 })
  if (verdict.suspected && verdict.onsetMs !== null) out.push({ key: 'leakOnset', labels, value: verdict.onsetMs / 1000 })
  return out
}

/** The forced GCs always; with attribution on, the profiler's counters and the exported sites. */
export function attributionSamples(profiler: Pick<ProfilerController, 'counters' | 'running'>, attributionOn: boolean, sites: readonly RankedSite[]): Sample[] {
  const counters = profiler.counters
  const out: Sample[] = [
    { key: 'forcedGcs', value: counters.forcedGcs },
    { key: 'forcedGcPause', value: counters.forcedGcPauseMs / 1000 },
  ]
  if (!attributionOn) return out
  out.push(
    { key: 'profilerRunning', value: profiler.running ? 1 : 0 },
    { key: 'profilerPause', value: counters.pauseTotalMs / 1000 },
    { key: 'profilerTargetCpu', value: counters.cpuTotalMs / 1000 },
    { key: 'profilerFetches', value: counters.fetches },
    { key: 'profilerInterruptions', value: counters.interruptions },
    { key: 'profilerTruncatedProfiles', value: counters.truncatedProfiles },
  )
  if (counters.fetches > 0) out.push({ key: 'profilerLastFetch', value: counters.lastPauseMs / 1000 })
  for (const site of sites) {
    const labels = { site: site.label }
    out.push(
      { key: 'siteLiveBytes', labels, value: site.bytes },
      { key: 'siteGrowth', labels, value: site.slopeBytesPerSecond },
    )
  }
  return out
}
