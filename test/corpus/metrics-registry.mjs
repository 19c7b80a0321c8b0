// Per-tenant metrics for the webhook dispatcher (slow-leak-5mb-h.mjs).
//
// Each tenant gets a TenantMetrics holding its raw samples; flush() exports
// the samples recorded since the last flush (count, sum, p50/p99) and moves a
// cursor. The raw samples were kept "so /debug/metrics can show history", but
// nothing ever truncates `samples`: every sample recorded stays reachable from
// registry.tenants → TenantMetrics.samples.

const MAX_SAMPLES = 1_000_000; // across tenants; beyond it samples are dropped (corpus safety cap)

export class TenantMetrics {
  constructor(tenant, region) {
    this.tenant = tenant;
    this.region = region;
    this.samples = [];
    this.exportedUpTo = 0;
    this.dropped = 0;
  }

  record(name, value, status, registry) {
    if (registry.totalSamples >= MAX_SAMPLES) {
      this.dropped++;
      return;
    }
    this.samples.push({
      name,
      value,
      at: Date.now(),
      tags: { status, region: this.region, tenant: this.tenant },
    });
    registry.totalSamples++;
  }

  flush() {
    const fresh = this.samples.slice(this.exportedUpTo);
    this.exportedUpTo = this.samples.length;
    const byName = new Map();
    for (const sample of fresh) {
      let values = byName.get(sample.name);
      if (values === undefined) byName.set(sample.name, (values = []));
      values.push(sample.value);
    }
    const series = [];
    for (const [name, values] of byName) {
      values.sort((a, b) => a - b);
      const sum = values.reduce((s, v) => s + v, 0);
      series.push({ name, count: values.length, sum, p50: values[values.length >> 1], p99: values[Math.floor(values.length * 0.99)] });
    }
    return { tenant: this.tenant, series };
  }
}

export class MetricsRegistry {
  constructor(region) {
    this.region = region;
    this.tenants = new Map();
    this.totalSamples = 0;
  }

  forTenant(tenant) {
    let metrics = this.tenants.get(tenant);
    if (metrics === undefined) {
      metrics = new TenantMetrics(tenant, this.region);
      this.tenants.set(tenant, metrics);
    }
    return metrics;
  }

  observe(tenant, name, value, status) {
    this.forTenant(tenant).record(name, value, status, this);
  }

  flushAll() {
    const out = [];
    for (const metrics of this.tenants.values()) out.push(metrics.flush());
    return out;
  }

  get capped() {
    return this.totalSamples >= MAX_SAMPLES;
  }
}

export const registry = new MetricsRegistry('eu-west-1');
