import type { Sample } from '../core/metrics.js'

/** What the exporters read: each target's latest samples. */
export interface MetricSource {
  targets(): Iterable<{ readonly name: string; samples(): readonly Sample[] }>
}

export interface LabeledSample {
  readonly target: string
  readonly sample: Sample
}

/**
 * Group every target's samples by metric key. Exporters read one snapshot per
 * export, so a scrape sees each target at one instant.
 */
export function snapshotByKey(source: MetricSource): Map<string, LabeledSample[]> {
  const grouped = new Map<string, LabeledSample[]>()
  for (const target of source.targets()) {
    for (const sample of target.samples()) {
      let list = grouped.get(sample.key)
      if (list === undefined) grouped.set(sample.key, (list = []))
      list.push({ target: target.name, sample })
    }
  }
  return grouped
}
