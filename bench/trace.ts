/**
 * One synthetic series traced through the real analysis: its drawn parameters, then every few
 * simulated minutes each signal's verdict, evidence figures and reasons; the lines a session
 * reads to see why a series was raised or missed (`npm run bench:synthetic -- --trace ID`).
 */
import type { AnalysisConfig } from '../src/config/types.js'
import { seriesAnalysis } from './evaluate.js'
import type { SyntheticSeries } from './synthetic.js'

const MIB = 1024 * 1024

export interface TraceOptions {
  /** Print every this many simulated minutes (default 5). */
  readonly everyMin?: number
  /** Only from / until these simulated minutes. */
  readonly fromMin?: number
  readonly toMin?: number
  /** Overrides of the analysis settings (as evaluateSeries takes them). */
  readonly analysis?: Partial<AnalysisConfig>
}

/** Traces `series`, writing one line per signal at each step; returns the lines written. */
export async function traceSeries(series: SyntheticSeries, write: (line: string) => void, options: TraceOptions = {}): Promise<number> {
  const everyMs = (options.everyMin ?? 5) * 60_000
  const fromMs = (options.fromMin ?? 0) * 60_000
  const toMs = (options.toMin ?? Number.POSITIVE_INFINITY) * 60_000
  let lines = 0
  const out = (line: string): void => {
    lines += 1
    write(line)
  }
  const onset = series.onsetMs === null ? 'healthy' : `onset ${((series.onsetMs - series.processStartMs) / 60_000).toFixed(1)} min`
  out(
    `${series.id} (${onset}): memory limit ${(series.memoryLimitBytes / MIB).toFixed(0)} MiB, heap limit ${(series.heapLimitBytes / MIB).toFixed(0)} MiB, ` +
      `${series.requestsPerSecond === null ? 'no HTTP' : `HTTP ${series.requestsPerSecond.toFixed(1)} requests/s at the start`}; ${JSON.stringify(series.model.params)}`,
  )
  const { analysis, feed } = seriesAnalysis(series, options.analysis)
  for (const poll of series.polls()) {
    await feed(poll)
    const sinceStart = poll.nowMs - series.processStartMs
    if (sinceStart < fromMs || sinceStart > toMs || sinceStart % everyMs !== 0) continue
    for (const signal of analysis.view().signals) {
      const evidence = signal.evidence
      if (evidence === null) continue
      const fast = evidence.fast
      const state = signal.suspected ? `RAISED (${signal.path})` : fast.positive ? 'positive' : 'quiet'
      const toLimit = fast.secondsToLimit === null ? '' : ` to limit ${(fast.secondsToLimit / 3600).toFixed(1)} h`
      out(
        `  ${(sinceStart / 60_000).toFixed(0).padStart(4)} min ${signal.signal.padEnd(8)} ${state.padEnd(14)} floor ${((evidence.floorBytes ?? 0) / MIB).toFixed(1)} MiB ` +
          `slope ${(fast.slopeBytesPerSecond / 1024).toFixed(1)} KiB/s (lower ${(fast.slopeLowerBytesPerSecond / 1024).toFixed(1)})${toLimit} | ${evidence.reasons.join(' | ')}`,
      )
    }
  }
  return lines
}
