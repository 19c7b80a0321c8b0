/** Small statistics, table printing and Prometheus text parsing for the benchmarks. */

export function quantile(values: readonly number[], q: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const position = (sorted.length - 1) * q
  const low = Math.floor(position)
  const high = Math.ceil(position)
  return (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (position - low)
}

export const median = (values: readonly number[]): number => quantile(values, 0.5)

/**
 * Nearest-rank quantile (q in (0, 1]) of unsorted values, null when empty: an observed value,
 * never one between two. The detection benchmarks (synthetic and real programs) report their
 * delay medians and p90s with it, so that their tables mean the same thing.
 */
export function nearestRank(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}

export function mean(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v))
  return finite.length === 0 ? Number.NaN : finite.reduce((a, b) => a + b, 0) / finite.length
}

export function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a'
}

export const mib = (bytes: number): string => fmt(bytes / (1024 * 1024), 1)

/** Fixed-width text table; numbers (and n/a) are right-aligned. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const numeric = (text: string): boolean => /^[-+]?[\d.,]+[%x]?$|^n\/a$|^[-+]?[\d.]+ ?(ms|s|MiB|KiB|B)$/.test(text)
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (numeric(c) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd()
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export interface PromSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** Parses the Prometheus text exposition format (enough of it for prom-client's output). */
export function parsePrometheus(text: string): PromSample[] {
  const out: PromSample[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line)
    if (!match) continue
    const labels: Record<string, string> = {}
    if (match[3] !== undefined) {
      for (const pair of match[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[pair[1] as string] = (pair[2] as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
      }
    }
    const valueText = match[4] as string
    const value = valueText === '+Inf' ? Number.POSITIVE_INFINITY : valueText === '-Inf' ? Number.NEGATIVE_INFINITY : Number(valueText)
    out.push({ name: match[1] as string, labels, value })
  }
  return out
}

/** The first sample named `name` whose labels include `labels`. */
export function promValue(samples: readonly PromSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

/** Sum of all samples named `name` (across label sets). */
export function promSum(samples: readonly PromSample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0)
}
