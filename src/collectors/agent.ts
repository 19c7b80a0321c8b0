/**
 * The in-target agent, assembled from the registered collectors' parts: the
 * one piece of JavaScript leakwatch installs in a target, once per process,
 * and the one evaluation a poll makes to read it.
 *
 * The inspector is remote code execution, so this is fixed code written in
 * the collector files, never user input. The only values spliced in are
 * integers within bounds (the event-loop resolution at install, the parts'
 * integer arguments) and part names from the registered list, all checked
 * here. The threat model in docs/security.md lists these snippets.
 *
 * The agent's key on `globalThis` carries a hash of its source, so a changed
 * agent never mistakes an older one (left by an earlier leakwatch, or by a
 * sidecar of another version watching the same process) for itself: it
 * installs beside it.
 *
 * Each part is set up and read in its own `try`: a part whose setup throws in
 * the target (a patched PerformanceObserver, say) fails only its collector.
 *
 * Constraints of `Runtime.evaluate` on Node: `require` is undefined (CJS and
 * ESM alike); `process.getBuiltinModule` exists from Node 20.16 / 22.3, and
 * `process.mainModule.require` only for a CommonJS main module.
 */
import { createHash } from 'node:crypto'
import { DEFAULT_EVENT_LOOP_RESOLUTION_MS, LIMITS } from '../config/options.js'
import { BUILTIN_LOADER_SOURCE } from '../inspector/snippets.js'
import { COLLECTORS } from './registry.js'
import { AGENT_RING_SIZE, isAgentCollector, type AgentCollector } from './types.js'

/** Longest error text a part reports from inside the target. */
const MAX_PART_ERROR = 200
const SETUP_TRIES = 30
const RESOLUTION_SLOT = '__RESOLUTION_MS__'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const PART_COLLECTORS = COLLECTORS.filter(isAgentCollector) as ReadonlyArray<AgentCollector<any>>

/** What one batched read can ask the agent for: the agent collectors' names. */
export const AGENT_PARTS: readonly string[] = PART_COLLECTORS.map((collector) => collector.name)

const indent = (source: string, spaces: string): string => source.split('\n').join(`\n${spaces}`)

const TEMPLATE = `(() => {
  const KEY = Symbol.for(__KEY__);
  const g = globalThis;
  let agent = g[KEY];
  const fresh = agent === undefined;
  if (fresh) {
    ${BUILTIN_LOADER_SOURCE}
    const env = { builtin, v8: builtin('v8'), perfHooks: builtin('perf_hooks'), resolutionMs: ${RESOLUTION_SLOT}, RING: ${AGENT_RING_SIZE} };
    const message = (e) => String((e && e.message) || e).slice(0, ${MAX_PART_ERROR});
    const definitions = {
${PART_COLLECTORS.map(
  (c) => `      ${JSON.stringify(c.name)}: {\n        setup: ${c.part.setup === undefined ? 'null' : indent(c.part.setup, '        ')},\n        read: ${indent(c.part.read, '        ')},\n      },`,
).join('\n')}
    };
    const parts = {};
    for (const name of Object.keys(definitions)) {
      const definition = definitions[name];
      try {
        parts[name] = { read: definition.read, state: definition.setup === null ? undefined : definition.setup(env) };
      } catch (e) {
        parts[name] = { setupError: message(e), setup: definition.setup, read: definition.read, tries: 1, triedAt: Date.now() };
      }
    }
    // A setup that threw is tried again, once a second, ${SETUP_TRIES} times at most: the inspector
    // answers before the main module runs, and a part set up that early can meet Node half
    // started (seen: the GC observer's PerformanceObserver throwing "setDispatchBufferFull is
    // not a function"). Until then its reads fail (and are retried); after, it is unavailable.
    const retrySetup = (part) => {
      // Only a part whose setup threw gets here: its setup is a function.
      if (part.tries >= ${SETUP_TRIES} || Date.now() - part.triedAt < 1000) return;
      part.tries += 1;
      part.triedAt = Date.now();
      try {
        part.state = part.setup(env);
        part.setupError = undefined;
      } catch (e) {
        part.setupError = message(e);
      }
    };
    // One call per poll: every part asked for, each in its own try, with its time in the target.
    const read = (ask) => {
      const replies = {};
      const tookMs = {};
      for (const name of Object.keys(ask)) {
        const part = parts[name];
        const started = performance.now();
        try {
          if (part !== undefined && part.setupError !== undefined) retrySetup(part);
          if (part === undefined) replies[name] = { unavailable: 'this agent has no reader for ' + name };
          else if (part.setupError !== undefined && part.tries < ${SETUP_TRIES}) replies[name] = { threw: 'its setup threw in the target (tried again within a second): ' + part.setupError };
          else if (part.setupError !== undefined) replies[name] = { unavailable: 'its setup threw in the target: ' + part.setupError };
          else replies[name] = part.read(part.state, ask[name], env);
        } catch (e) {
          replies[name] = { threw: message(e) };
        }
        tookMs[name] = performance.now() - started;
      }
      return { parts: replies, tookMs };
    };
    agent = { installedAt: Date.now(), env, parts, read };
    Object.defineProperty(g, KEY, { value: agent, configurable: true, enumerable: false, writable: false });
  }
  const failed = {};
  for (const name of Object.keys(agent.parts)) if (agent.parts[name].setupError !== undefined) failed[name] = agent.parts[name].setupError;
  return { fresh, pid: process.pid, startTime: performance.timeOrigin, nodeVersion: process.version,
    eventLoopResolutionMs: agent.env.resolutionMs, failedParts: failed };
})()`

/**
 * Key of the agent object on `globalThis`: its source's hash (without the
 * spliced resolution, which a second installer does not change).
 */
export const AGENT_KEY = `leakwatch.agent.${createHash('sha256').update(TEMPLATE).digest('hex').slice(0, 16)}`

const SOURCE = TEMPLATE.replace('__KEY__', JSON.stringify(AGENT_KEY))

const sanitizeResolution = (ms: number): number =>
  Number.isSafeInteger(ms) && ms >= LIMITS.minEventLoopResolutionMs && ms <= LIMITS.maxEventLoopResolutionMs
    ? ms
    : DEFAULT_EVENT_LOOP_RESOLUTION_MS

/**
 * Installs, once per process, every part's setup under a `Symbol.for` key.
 * Idempotent: a second evaluation (a reconnect, or another leakwatch of the
 * same version) finds the agent and leaves it alone, including its
 * resolution. Returns the process identity so the sidecar can tell a restart
 * from a reconnect, and the parts whose setup failed.
 */
export function installAgentSnippet(resolutionMs: number = DEFAULT_EVENT_LOOP_RESOLUTION_MS): string {
  return SOURCE.replace(RESOLUTION_SLOT, String(sanitizeResolution(resolutionMs)))
}

/** The install snippet at the default resolution (for docs and tests). */
export const INSTALL_AGENT = installAgentSnippet()

/** True for any install snippet, whatever its resolution (scripted test sessions answer it). */
export const isInstallSnippet = (expression: string): boolean => expression.startsWith(SOURCE.slice(0, SOURCE.indexOf(RESOLUTION_SLOT)))

/**
 * The one evaluation of a poll: ask the agent for the given parts. Each part
 * maps to a non-negative integer argument (0 when it takes none). Names
 * outside AGENT_PARTS and any other number are refused here, so nothing but
 * fixed names and integers is ever spliced in.
 */
export function readSnippet(ask: Readonly<Record<string, number>>): string {
  const safe: Record<string, number> = {}
  for (const [name, argument] of Object.entries(ask)) {
    if (!AGENT_PARTS.includes(name)) throw new Error(`not an agent part: ${name}`)
    safe[name] = Number.isSafeInteger(argument) && argument > 0 ? argument : 0
  }
  return `(() => {
  const agent = globalThis[Symbol.for(${JSON.stringify(AGENT_KEY)})];
  if (agent === undefined || typeof agent.read !== 'function') return { agentMissing: true };
  return agent.read(${JSON.stringify(safe)});
})()`
}

/** The agent's snippets with a one-line purpose, for the threat model in docs/security.md. */
export const AGENT_SNIPPETS: ReadonlyArray<{ name: string; purpose: string; source: string }> = [
  {
    name: 'INSTALL_AGENT',
    purpose: `install, once per process, the parts of the registered collectors (${AGENT_PARTS.join(', ')}): setup and reader of each`,
    source: INSTALL_AGENT,
  },
  {
    name: 'READ',
    purpose: 'one call per poll: ask the agent for the parts the enabled collectors need (fixed names, integer arguments)',
    source: readSnippet(Object.fromEntries(AGENT_PARTS.map((part) => [part, 0]))),
  },
]
