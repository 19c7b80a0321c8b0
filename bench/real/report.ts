/**
 * Tables of the detection benchmark on real programs: one row per program over
 * its repeats, then a summary per corpus and method.
 */
import { nearestRank } from '../lib/report.js'
import { METHODS, type ProgramResult } from './run.js'

const minutes = (simS: number): string => (simS >= 5400 ? `${(simS / 3600).toFixed(1)} h` : `${Math.round(simS / 60)} min`)

/** One method over the repeats of one program: "+12 min ×3", "missed", "FALSE ALARM at 2.1 h". */
function cell(runs: readonly ProgramResult[], method: string): string {
  const parts = runs.map((run) => {
    const outcome = run.methods[method]
    if (outcome === undefined) return '?'
    const pieces: string[] = []
    if (run.leaky) pieces.push(outcome.delaySimS === null ? 'missed' : `+${minutes(outcome.delaySimS)}`)
    if (outcome.falseAlarmSimS !== null) pieces.push(`${run.leaky ? 'early alarm' : 'FALSE ALARM'} at ${minutes(outcome.falseAlarmSimS)}`)
    if (!run.leaky && outcome.falseAlarmSimS === null) pieces.push('quiet')
    return pieces.join(', ')
  })
  const distinct = [...new Set(parts)]
  return distinct.length === 1 && parts.length > 1 ? `${distinct[0]} ×${parts.length}` : parts.join('; ')
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

/** Runs grouped by corpus and program, in first-seen order. */
function byProgram(results: readonly ProgramResult[]): Map<string, ProgramResult[]> {
  const groups = new Map<string, ProgramResult[]>()
  for (const result of results) {
    const key = `${result.corpus}/${result.name}`
    groups.set(key, [...(groups.get(key) ?? []), result])
  }
  return groups
}

export function programTable(results: readonly ProgramResult[]): string {
  const rows = [...byProgram(results).values()].map((runs) => {
    const first = runs[0] as ProgramResult
    const raised = [...new Set(runs.flatMap((run) => run.signals))]
    const paths = [...new Set(runs.map((run) => run.firstRaise?.path).filter((p) => p !== null && p !== undefined))]
    const ranks = runs.map((run) => (run.allocatingFunctionRank === null ? '-' : `#${run.allocatingFunctionRank}`))
    return [
      `${first.corpus}/${first.name}`,
      first.leaky ? `leak (${first.signal})` : 'healthy',
      cell(runs, 'leakwatch'),
      raised.join(',') || '-',
      paths.join(',') || '-',
      first.leaky ? [...new Set(ranks)].join(',') : '',
      ...METHODS.slice(1).map((method) => cell(runs, method)),
    ]
  })
  return table(['program', 'truth', 'leakwatch', 'signals', 'path', 'fn rank', ...METHODS.slice(1)], rows)
}

export interface MethodSummary {
  readonly corpus: string
  readonly method: string
  readonly leakRuns: number
  readonly detected: number
  readonly healthyRuns: number
  readonly falseAlarms: number
  readonly earlyAlarms: number
  readonly precision: number | null
  readonly medianDelaySimS: number | null
  readonly p90DelaySimS: number | null
}

export function summarize(results: readonly ProgramResult[]): MethodSummary[] {
  const corpora = [...new Set(results.map((r) => r.corpus))]
  const out: MethodSummary[] = []
  for (const corpus of corpora) {
    const runs = results.filter((r) => r.corpus === corpus)
    for (const method of METHODS) {
      const leaks = runs.filter((r) => r.leaky)
      const healthy = runs.filter((r) => !r.leaky)
      const delays = leaks.map((r) => r.methods[method]?.delaySimS).filter((d): d is number => d !== null && d !== undefined)
      const falseAlarms = healthy.filter((r) => r.methods[method]?.falseAlarmSimS != null).length
      const earlyAlarms = leaks.filter((r) => r.methods[method]?.falseAlarmSimS != null).length
      const fired = runs.filter((r) => r.methods[method]?.delaySimS != null || r.methods[method]?.falseAlarmSimS != null).length
      const right = leaks.filter((r) => r.methods[method]?.delaySimS != null && r.methods[method]?.falseAlarmSimS == null).length
      out.push({
        corpus,
        method,
        leakRuns: leaks.length,
        detected: delays.length,
        healthyRuns: healthy.length,
        falseAlarms,
        earlyAlarms,
        precision: fired === 0 ? null : right / fired,
        medianDelaySimS: nearestRank(delays, 0.5),
        p90DelaySimS: nearestRank(delays, 0.9),
      })
    }
  }
  return out
}

export function summaryTable(summaries: readonly MethodSummary[]): string {
  const rows = summaries.map((s) => [
    s.corpus,
    s.method,
    `${s.detected}/${s.leakRuns}`,
    `${s.falseAlarms}/${s.healthyRuns}`,
    String(s.earlyAlarms),
    s.precision === null ? '-' : `${(s.precision * 100).toFixed(0)} %`,
    s.medianDelaySimS === null ? '-' : minutes(s.medianDelaySimS),
    s.p90DelaySimS === null ? '-' : minutes(s.p90DelaySimS),
  ])
  return table(['corpus', 'method', 'leak runs detected', 'healthy runs alarmed', 'alarms before onset', 'precision', 'median delay', 'p90 delay'], rows)
}

/** The heap verdict on JavaScript-heap leaks, and onset error, for leakwatch alone. */
export function heapTable(results: readonly ProgramResult[]): string {
  const rows = [...byProgram(results).values()]
    .filter((runs) => (runs[0] as ProgramResult).leaky)
    .map((runs) => {
      const first = runs[0] as ProgramResult
      const expected = first.signal ?? 'heap'
      const onExpected = runs.filter((run) => run.signals.includes(expected)).length
      const onsetErrors = runs.map((run) => {
        const estimate = run.firstRaise?.onsetSimS
        if (estimate === null || estimate === undefined || run.onsetSimS === null) return '-'
        const error = estimate - run.onsetSimS
        return `${error < 0 ? '-' : '+'}${minutes(Math.abs(error))}`
      })
      const sources = runs.map((run) => (run.heapFloorSources === null ? '-' : `${run.heapFloorSources['gc'] ?? 0}/${run.heapFloorSources['profile'] ?? 0}/${run.heapFloorSources['forced-gc'] ?? 0}`))
      return [`${first.corpus}/${first.name}`, expected, `${onExpected}/${runs.length}`, onsetErrors.join(', '), sources.join(', ')]
    })
  return table(['leak', 'expected signal', 'raised on it', 'onset error', 'heap floors gc/profile/forced'], rows)
}

/**
 * The holder search per program: leaks — was the true holder named (path, kind, shape, rank
 * among growing holders), how long after the first raise (simulated; wall in brackets), what a
 * search cost the target (median / worst longest pause inside it, target CPU); healthy fillers —
 * holders reported as growing after the plateau (none expected).
 */
export function holderTable(results: readonly ProgramResult[]): string {
  const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value.toFixed(1))
  const rows = [...byProgram(results).values()]
    .filter((runs) => (runs[0] as ProgramResult).leaky || runs.some((run) => run.holders.searches.done > 0))
    .map((runs) => {
      const first = runs[0] as ProgramResult
      const found = runs.map((run) => {
        const traffic = (run.holders.followedTraffic ?? []).length
        const emptied = (run.holders.emptiedBetween ?? []).length
        const byTraffic =
          (traffic === 0 ? '' : ` (${traffic} a flow following the traffic)`) + (emptied === 0 ? '' : ` (${emptied} emptied between searches)`)
        if (!run.leaky) {
          const other = run.holders.otherGrowing
          const verdict = run.holders.judgedSearches === 0 ? 'not judged (no plateau in its manifest)' : other.length === 0 ? 'none growing' : `FALSE: ${other.slice(0, 2).join('; ')}`
          return verdict + byTraffic
        }
        const h = run.holders
        if (h.found === null) return (h.searches.done === 0 ? 'no search' : 'not named') + byTraffic
        const after = h.foundAfterRaiseSimS === null ? '' : ` +${minutes(h.foundAfterRaiseSimS)} (${Math.round(h.foundAfterRaiseWallS ?? 0)} s)`
        return `#${h.found.rank}${after}${byTraffic}`
      })
      const example = runs.find((run) => run.holders.found !== null)?.holders.found
      const costs = runs.map((run) =>
        run.holders.median === null || run.holders.worst === null
          ? '-'
          : `${ms(run.holders.median.pauseMs)}/${ms(run.holders.worst.pauseMs)} ms, cpu ${ms(run.holders.median.targetCpuMs)}/${ms(run.holders.worst.targetCpuMs)} ms`,
      )
      const searches = runs.map((run) => `${run.holders.searches.done}${run.holders.searches.refused > 0 ? ` (${run.holders.searches.refused} refused${(run.holders.refusals ?? []).length > 0 ? `: ${(run.holders.refusals ?? []).join('; ')}` : ''})` : ''}`)
      return [
        `${first.corpus}/${first.name}`,
        first.leaky ? 'leak' : 'healthy',
        found.join('; '),
        example === undefined || example === null ? '-' : `${example.path} [${example.kind}]`,
        example === undefined || example === null ? '-' : example.shape.slice(0, 80),
        example === undefined || example === null || example.allocationSite === undefined
          ? '-'
          : `${example.allocationSite ?? 'none'}${example.siteIsAllocatingFunction === true ? ' ✓' : ''}`,
        searches.join(', '),
        costs.join('; '),
      ]
    })
  return table(['program', 'kind', 'true holder (rank, after raise)', 'path [kind]', 'element shape', 'allocationSite (✓ = the allocating function)', 'searches', 'pause med/worst, target CPU med/worst'], rows)
}
