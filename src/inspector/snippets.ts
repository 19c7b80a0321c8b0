/**
 * Every piece of JavaScript leakwatch ever evaluates inside a target.
 *
 * The inspector is remote code execution, so this list is the whole of it:
 * fixed code written here, never user input. The only values ever spliced in
 * are integers within bounds (the event-loop resolution at install, the GC
 * event sequence already read) and part names from a fixed list, all checked
 * here. The README's threat model lists these snippets.
 *
 * A poll is one evaluation: the agent installed once per process holds a
 * reader per part, and `readSnippet` asks it for the parts the enabled
 * collectors need (one round trip and one tiny compile instead of one
 * evaluation per collector).
 *
 * Constraints of `Runtime.evaluate` on Node: `require` is undefined (CJS and
 * ESM alike); `process.getBuiltinModule` exists from Node 20.16 / 22.3, and
 * `process.mainModule.require` only for a CommonJS main module.
 */

/**
 * Key of the agent object on `globalThis`. The version is part of the key: v2
 * reads every part in one call, so it installs beside a v1 agent left by an
 * older leakwatch rather than misreading it.
 */
export const AGENT_KEY = 'leakwatch.agent.v2'

/**
 * Default sampling period of the event-loop delay histogram. Its timer is the
 * main fixed cost of being watched (measured on an idle target: 3.2 ms CPU per
 * second at 10 ms, 1 ms/s at 50 ms, 0.3 ms/s at 100 ms), so the default is
 * coarse; `--event-loop-resolution` sets it. Node records the whole interval
 * between ticks, so an idle loop reads as the resolution: the reply carries the
 * resolution in force and the collector subtracts it.
 */
export const DEFAULT_EVENT_LOOP_RESOLUTION_MS = 100
export const MIN_EVENT_LOOP_RESOLUTION_MS = 1
export const MAX_EVENT_LOOP_RESOLUTION_MS = 1000

/** Size of the target-side rings (GC events, post-GC floors): bounded by construction. */
export const AGENT_RING_SIZE = 256

/** What one batched read can ask the agent for, each the source of one collector. */
export const AGENT_PARTS = ['memory', 'gc', 'heapStatistics', 'eventLoop', 'resources', 'info'] as const
export type AgentPart = (typeof AGENT_PARTS)[number]

/** Longest error text a part reports from inside the target. */
const MAX_PART_ERROR = 200

const sanitizeResolution = (ms: number): number =>
  Number.isSafeInteger(ms) && ms >= MIN_EVENT_LOOP_RESOLUTION_MS && ms <= MAX_EVENT_LOOP_RESOLUTION_MS
    ? ms
    : DEFAULT_EVENT_LOOP_RESOLUTION_MS

/**
 * Installs, once per process, the GC observer, the event-loop delay histogram
 * and the readers of every part under a `Symbol.for` key. Idempotent: a second
 * evaluation (a reconnect, or another leakwatch) finds the agent and leaves it
 * alone, including its resolution. Returns the process identity so the sidecar
 * can tell a restart from a reconnect.
 *
 * The only value spliced in is the resolution, an integer within bounds.
 */
export function installAgentSnippet(resolutionMs: number = DEFAULT_EVENT_LOOP_RESOLUTION_MS): string {
  return `(() => {
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
    const resolutionMs = ${sanitizeResolution(resolutionMs)};
    let delay = null;
    if (perfHooks && typeof perfHooks.monitorEventLoopDelay === 'function') {
      delay = perfHooks.monitorEventLoopDelay({ resolution: resolutionMs });
      delay.enable();
    }
    const readers = {
      // process.memoryUsage(): rss, heapTotal, heapUsed, external, arrayBuffers.
      memory: () => process.memoryUsage(),
      // GC counters, plus the events and floors recorded after sequence number since.
      gc: (since) => {
        if (observer === null) return { unavailable: 'PerformanceObserver is not available' };
        return {
          seq: gc.seq, byKind: gc.byKind, lastFloor: gc.lastFloor, lastMajorAt: gc.lastMajorAt,
          events: gc.events.filter((e) => e[0] > since),
          floors: gc.floors.filter((f) => f[0] > since),
        };
      },
      // v8.getHeapStatistics() and v8.getHeapSpaceStatistics().
      heapStatistics: () => {
        if (!v8) return { unavailable: 'the v8 module is not reachable (needs process.getBuiltinModule, Node >= 20.16, or a CommonJS main module)' };
        return { heap: v8.getHeapStatistics(), spaces: v8.getHeapSpaceStatistics() };
      },
      // Event-loop utilization (cumulative; the sidecar takes deltas) and the delay
      // histogram of the window since the previous read, which is then reset.
      eventLoop: () => {
        const elu = typeof performance.eventLoopUtilization === 'function' ? performance.eventLoopUtilization() : null;
        let stats = null;
        if (delay !== null && delay.count > 0) {
          stats = { count: delay.count, min: delay.min, max: delay.max, mean: delay.mean, stddev: delay.stddev,
            p50: delay.percentile(50), p90: delay.percentile(90), p99: delay.percentile(99) };
        }
        if (delay !== null) delay.reset();
        if (elu === null && delay === null) return { unavailable: 'neither eventLoopUtilization nor monitorEventLoopDelay is available' };
        return { elu, delay: stats, delayAvailable: delay !== null, resolutionMs };
      },
      // process.getActiveResourcesInfo(), counted by type in the target to keep the reply small.
      resources: () => {
        if (typeof process.getActiveResourcesInfo !== 'function') return { unavailable: 'process.getActiveResourcesInfo needs Node >= 17.3' };
        const counts = {};
        for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] || 0) + 1;
        return { counts };
      },
      // Identity: a change of pid or start time means the process restarted.
      info: () => ({ pid: process.pid, nodeVersion: process.version, title: process.title,
        script: process.argv[1] || '', startTime: performance.timeOrigin }),
    };
    // One call per poll: every part asked for, each in its own try, with its time in the target.
    const read = (ask) => {
      const parts = {};
      const tookMs = {};
      for (const name of Object.keys(ask)) {
        const reader = readers[name];
        const started = performance.now();
        try {
          parts[name] = reader === undefined ? { unavailable: 'this agent has no reader for ' + name } : reader(ask[name]);
        } catch (e) {
          parts[name] = { threw: String((e && e.message) || e).slice(0, ${MAX_PART_ERROR}) };
        }
        tookMs[name] = performance.now() - started;
      }
      return { parts, tookMs };
    };
    agent = { version: 2, installedAt: Date.now(), v8, gc, delay, observer, resolutionMs, read };
    Object.defineProperty(g, KEY, { value: agent, configurable: true, enumerable: false, writable: false });
  }
  return {
    fresh,
    pid: process.pid,
    startTime: performance.timeOrigin,
    nodeVersion: process.version,
    gcObserver: agent.observer !== null,
    eventLoopDelay: agent.delay !== null,
    eventLoopResolutionMs: agent.resolutionMs,
    v8: agent.v8 !== undefined,
  };
})()`
}

/** The install snippet at the default resolution (for docs and tests). */
export const INSTALL_AGENT = installAgentSnippet()

/** True for any install snippet, whatever its resolution (scripted test sessions answer it). */
export const isInstallSnippet = (expression: string): boolean =>
  expression.startsWith('(() => {\n  const KEY = Symbol.for(') && expression.includes('const readers = {')

/**
 * The one evaluation of a poll: ask the agent for the given parts. Each part
 * maps to a non-negative integer argument (the GC sequence already read; 0
 * for the others). Names outside AGENT_PARTS and any other number are refused
 * here, so nothing but fixed names and integers is ever spliced in.
 */
export function readSnippet(ask: Readonly<Partial<Record<AgentPart, number>>>): string {
  const safe: Record<string, number> = {}
  for (const [name, argument] of Object.entries(ask)) {
    if (!(AGENT_PARTS as readonly string[]).includes(name)) throw new Error(`not an agent part: ${name}`)
    safe[name] = Number.isSafeInteger(argument) && (argument as number) > 0 ? (argument as number) : 0
  }
  return `(() => {
  const agent = globalThis[Symbol.for(${JSON.stringify(AGENT_KEY)})];
  if (agent === undefined || typeof agent.read !== 'function') return { agentMissing: true };
  return agent.read(${JSON.stringify(safe)});
})()`
}

/**
 * `process.cpuUsage()`, read before and after a profile fetch: the target's CPU
 * during the fetch is charged to the attribution budget.
 */
export const READ_CPU_USAGE = 'process.cpuUsage()'

/** Every snippet with a one-line purpose, for the README's threat model. */
export const SNIPPETS: ReadonlyArray<{ name: string; purpose: string; source: string }> = [
  {
    name: 'INSTALL_AGENT',
    purpose:
      'install, once per process, the GC observer, the event-loop delay histogram and the readers of memory, GC, heap statistics, event loop, active resources and process identity',
    source: INSTALL_AGENT,
  },
  {
    name: 'READ',
    purpose: 'one call per poll: ask the agent for the parts the enabled collectors need (fixed names, integer arguments)',
    source: readSnippet({ memory: 0, gc: 0, heapStatistics: 0, eventLoop: 0, resources: 0, info: 0 }),
  },
  { name: 'READ_CPU_USAGE', purpose: 'process.cpuUsage() around a profile fetch, charged to the attribution budget', source: READ_CPU_USAGE },
]
