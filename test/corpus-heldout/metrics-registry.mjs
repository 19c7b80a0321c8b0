// In-process metrics registry for the latency collector (latency-collector.mjs).
//
// One RouteMetrics per route label ("GET /v1/orders/:id"), kept in the Map
// `routes`. record() appends the raw sample so that /metrics can report exact
// quantiles; the quantiles only look at the last `window` samples, but the
// array itself is never trimmed.
export class RouteMetrics {
  constructor(label) {
    this.label = label;
    this.method = label.slice(0, label.indexOf(' '));
    this.samples = [];
    this.count = 0;
    this.errors = 0;
    this.sumMs = 0;
    this.maxMs = 0;
    this.firstSeenAt = Date.now();
  }
}

export class MetricsRegistry {
  constructor({ window = 1024, maxSamples = Infinity } = {}) {
    this.window = window;
    this.maxSamples = maxSamples;
    this.routes = new Map();
    this.totalSamples = 0;
    this.dropped = 0;
  }

  route(label) {
    let route = this.routes.get(label);
    if (route === undefined) {
      route = new RouteMetrics(label);
      this.routes.set(label, route);
    }
    return route;
  }

  record(label, ms, status, at) {
    const route = this.route(label);
    route.count++;
    route.sumMs += ms;
    if (ms > route.maxMs) route.maxMs = ms;
    if (status >= 500) route.errors++;
    if (this.totalSamples >= this.maxSamples) {
      this.dropped++; // memory guard: stop keeping raw samples
      return;
    }
    route.samples.push({ at, ms, status });
    this.totalSamples++;
  }

  quantiles(route) {
    const recent = route.samples.slice(-this.window).map((s) => s.ms);
    recent.sort((a, b) => a - b);
    const at = (q) => (recent.length === 0 ? 0 : recent[Math.min(recent.length - 1, Math.floor(q * recent.length))]);
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
  }

  exposition() {
    const lines = [];
    for (const route of this.routes.values()) {
      const q = this.quantiles(route);
      const labels = `route="${route.label}"`;
      lines.push(`http_request_duration_ms{${labels},quantile="0.5"} ${q.p50}`);
      lines.push(`http_request_duration_ms{${labels},quantile="0.9"} ${q.p90}`);
      lines.push(`http_request_duration_ms{${labels},quantile="0.99"} ${q.p99}`);
      lines.push(`http_request_duration_ms_sum{${labels}} ${route.sumMs.toFixed(3)}`);
      lines.push(`http_request_duration_ms_count{${labels}} ${route.count}`);
      lines.push(`http_requests_errors_total{${labels}} ${route.errors}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
