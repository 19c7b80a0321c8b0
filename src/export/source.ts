import type { ResourceAttributes, Sample } from '../core/metrics.js'

/** One watched target as the exporters see it. */
export interface SourceTarget {
  readonly name: string
  samples(): readonly Sample[]
  /** What the target said about itself for its OpenTelemetry resource, once known. */
  resource?(): ResourceAttributes | undefined
}

/** What the exporters read: each target's latest samples. */
export interface MetricSource {
  targets(): Iterable<SourceTarget>
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
