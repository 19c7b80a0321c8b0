/**
 * Every piece of JavaScript leakwatch ever evaluates inside a target.
 *
 * The inspector is remote code execution, so this list is the whole of it:
 * fixed code written here, never user input. The only value ever spliced in
 * is a non-negative integer (the GC event sequence already read), sanitized
 * by `gcReadSnippet`. The README's threat model lists these snippets.
 *
 * Constraints of `Runtime.evaluate` on Node: `require` is undefined (CJS and
 * ESM alike); `process.getBuiltinModule` exists from Node 20.16 / 22.3, and
 * `process.mainModule.require` only for a CommonJS main module.
 */

/** Key of the agent object on `globalThis`; the version lets a future layout coexist. */
export const AGENT_KEY = 'leakwatch.agent.v1'

/**
 * Sampling period of the delay histogram. Node records the whole interval
 * between its timer ticks, so an idle loop reads as this value: the collector
 * subtracts it to report the delay proper.
 */
export const EVENT_LOOP_RESOLUTION_MS = 10

/** Size of the target-side rings (GC events, post-GC floors): bounded by construction. */
export const AGENT_RING_SIZE = 256

/**
 * Installs, once per process, the GC observer and the event-loop delay
 * histogram under a `Symbol.for` key. Idempotent: a second evaluation (a
 * reconnect, or another leakwatch) finds the agent and leaves it alone.
 * Returns the process identity so the sidecar can tell a restart from a reconnect.
 */
export const INSTALL_AGENT = `(() => {
  const KEY = Symbol.for(${JSON.stringify(AGENT_KEY)});
  const g = globalThis;
  const builtin = (name) => {
    try {
      if (typeof process.getBuiltinModule === 'function') return process.getBuiltinModule(name);
      if (process.mainModule && typeof process.mainModule.require === 'function') return process.mainModule.require(name);
    } catch (e) {}
    return undefined;
  };
  let agent = g[KEY];
  const fresh = agent === undefined;
  if (fresh) {
    const v8 = builtin('v8');
    const perfHooks = builtin('perf_hooks');
    const RING = ${AGENT_RING_SIZE};
    const BOUNDS_MS = [1, 10, 100, 1000, 2000, 5000];
    const KINDS = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };
    const gc = { seq: 0, byKind: {}, events: [], floors: [], lastFloor: null, lastMajorAt: null };
    const record = (entry) => {
      const detail = entry.detail || entry;
      const kind = KINDS[detail.kind] || 'other';
      let stats = gc.byKind[kind];
      if (stats === undefined) {
        stats = gc.byKind[kind] = { count: 0, sumMs: 0, buckets: [0, 0, 0, 0, 0, 0, 0] };
      }
      const ms = entry.duration;
      stats.count += 1;
      stats.sumMs += ms;
      let i = 0;
      while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]) i += 1;
      stats.buckets[i] += 1;
      gc.seq += 1;
      gc.events.push([gc.seq, kind, ms, detail.flags | 0]);
      if (gc.events.length > RING) gc.events.shift();
      if (kind === 'major') {
        // Read in the callback of a major GC: the post-GC floor without forcing a GC.
        const used = v8 ? v8.getHeapStatistics().used_heap_size : process.memoryUsage().heapUsed;
        const at = performance.timeOrigin + entry.startTime + ms;
        gc.lastFloor = used;
        gc.lastMajorAt = at;
        gc.floors.push([gc.seq, at, used]);
        if (gc.floors.length > RING) gc.floors.shift();
      }
    };
    let observer = null;
    if (typeof g.PerformanceObserver === 'function') {
      // Every entry of a batch is handled; the list is not retained, so nothing accumulates.
      observer = new g.PerformanceObserver((list) => { for (const entry of list.getEntries()) record(entry); });
      observer.observe({ entryTypes: ['gc'] });
    }
    let delay = null;
    if (perfHooks && typeof perfHooks.monitorEventLoopDelay === 'function') {
      delay = perfHooks.monitorEventLoopDelay({ resolution: ${EVENT_LOOP_RESOLUTION_MS} });
      delay.enable();
    }
    agent = { version: 1, installedAt: Date.now(), v8, gc, delay, observer };
    Object.defineProperty(g, KEY, { value: agent, configurable: true, enumerable: false, writable: false });
  }
  return {
    fresh,
    pid: process.pid,
    startTime: performance.timeOrigin,
    nodeVersion: process.version,
    gcObserver: agent.observer !== null,
    eventLoopDelay: agent.delay !== null,
    v8: agent.v8 !== undefined,
  };
})()`

const AGENT = `globalThis[Symbol.for(${JSON.stringify(AGENT_KEY)})]`

/** `v8.getHeapStatistics()` and `v8.getHeapSpaceStatistics()`, through the agent's module handle. */
export const READ_HEAP_STATISTICS = `(() => {
  const agent = ${AGENT};
  if (agent === undefined) return { agentMissing: true };
  if (!agent.v8) return { unavailable: 'the v8 module is not reachable (needs process.getBuiltinModule, Node >= 20.16, or a CommonJS main module)' };
  return { heap: agent.v8.getHeapStatistics(), spaces: agent.v8.getHeapSpaceStatistics() };
})()`

/** `process.memoryUsage()`: rss, heapTotal, heapUsed, external, arrayBuffers. */
export const READ_MEMORY_USAGE = `process.memoryUsage()`

/** GC counters, plus the events and floors recorded after sequence number `since`. */
export function gcReadSnippet(since: number): string {
  const safeSince = Number.isSafeInteger(since) && since > 0 ? since : 0
  return `(() => {
  const agent = ${AGENT};
  if (agent === undefined) return { agentMissing: true };
  if (agent.observer === null) return { unavailable: 'PerformanceObserver is not available' };
  const gc = agent.gc;
  return {
    seq: gc.seq,
    byKind: gc.byKind,
    lastFloor: gc.lastFloor,
    lastMajorAt: gc.lastMajorAt,
    events: gc.events.filter((e) => e[0] > ${safeSince}),
    floors: gc.floors.filter((f) => f[0] > ${safeSince}),
  };
})()`
}

/**
 * Event-loop utilization (cumulative; the sidecar takes deltas) and the delay
 * histogram of the window since the previous read, which it then resets.
 */
export const READ_EVENT_LOOP = `(() => {
  const agent = ${AGENT};
  if (agent === undefined) return { agentMissing: true };
  const elu = typeof performance.eventLoopUtilization === 'function' ? performance.eventLoopUtilization() : null;
  let delay = null;
  const h = agent.delay;
  if (h !== null && h.count > 0) {
    delay = { count: h.count, min: h.min, max: h.max, mean: h.mean, stddev: h.stddev,
      p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99) };
  }
  if (h !== null) h.reset();
  if (elu === null && h === null) return { unavailable: 'neither eventLoopUtilization nor monitorEventLoopDelay is available' };
  return { elu, delay, delayAvailable: h !== null };
})()`

/** Counts of `process.getActiveResourcesInfo()` by type, counted in the target to keep the reply small. */
export const READ_ACTIVE_RESOURCES = `(() => {
  if (typeof process.getActiveResourcesInfo !== 'function') return { unavailable: 'process.getActiveResourcesInfo needs Node >= 17.3' };
  const counts = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] || 0) + 1;
  return { counts };
})()`

/** Identity of the process: a change of pid or start time means it restarted. */
export const READ_PROCESS_INFO = `({
  pid: process.pid,
  nodeVersion: process.version,
  title: process.title,
  script: process.argv[1] || '',
  startTime: performance.timeOrigin,
})`

/** Every snippet with a one-line purpose, for the README's threat model. */
export const SNIPPETS: ReadonlyArray<{ name: string; purpose: string; source: string }> = [
  { name: 'INSTALL_AGENT', purpose: 'install the GC observer and event-loop delay histogram once', source: INSTALL_AGENT },
  { name: 'READ_HEAP_STATISTICS', purpose: 'v8 heap and heap-space statistics', source: READ_HEAP_STATISTICS },
  { name: 'READ_MEMORY_USAGE', purpose: 'process.memoryUsage()', source: READ_MEMORY_USAGE },
  { name: 'READ_GC', purpose: 'GC counters, recent GC events and post-GC floors', source: gcReadSnippet(0) },
  { name: 'READ_EVENT_LOOP', purpose: 'event-loop utilization and delay', source: READ_EVENT_LOOP },
  { name: 'READ_ACTIVE_RESOURCES', purpose: 'active resources by type', source: READ_ACTIVE_RESOURCES },
  { name: 'READ_PROCESS_INFO', purpose: 'pid, Node version, title, script, start time', source: READ_PROCESS_INFO },
]
