// Rolling latency percentiles for the search API (search-api.mjs).
//
// Samples go into a preallocated per-second window (a Float64Array of
// `capacity` slots, the most one instance serves in a second); every second
// the window is closed and a fresh one started. p50/p95/p99 over the last
// `keep` windows feed the /metrics endpoint.
export class LatencyAggregator {
  constructor({ capacity = 4096, keep = 60, maxWindows = Infinity } = {}) {
    this.capacity = capacity;
    this.keep = keep;
    this.maxWindows = maxWindows;
    this.windows = [];
    this.counts = [];
    this.current = new Float64Array(capacity);
    this.filled = 0;
    this.dropped = 0;
  }

  record(ms) {
    if (this.filled < this.capacity) this.current[this.filled++] = ms;
    else this.dropped++;
  }

  rotate() {
    if (this.windows.length < this.maxWindows) {
      this.windows.push(this.current);
      this.counts.push(this.filled);
    }
    if (this.windows.length > this.keep) {
      // keep only the last minute
      this.windows.slice(-this.keep);
      this.counts.slice(-this.keep);
    }
    this.current = new Float64Array(this.capacity);
    this.filled = 0;
  }

  percentiles() {
    const from = Math.max(0, this.windows.length - this.keep);
    let n = 0;
    for (let i = from; i < this.windows.length; i++) n += this.counts[i];
    const all = new Float64Array(n);
    let k = 0;
    for (let i = from; i < this.windows.length; i++) {
      all.set(this.windows[i].subarray(0, this.counts[i]), k);
      k += this.counts[i];
    }
    all.sort();
    const at = (q) => (n === 0 ? 0 : all[Math.min(n - 1, Math.floor(q * n))]);
    return { count: n, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
  }
}
