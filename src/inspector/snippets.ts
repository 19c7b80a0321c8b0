/**
 * Fixed snippets the sidecar evaluates in a target besides the agent (which
 * is assembled from the collectors' parts in src/collectors/agent.ts). The
 * inspector is remote code execution: everything evaluated in a target is
 * fixed code written in this repository, never user input.
 */

/**
 * `process.cpuUsage()`, read before and after a profile fetch: the target's CPU
 * during the fetch is charged to the attribution budget.
 */
export const READ_CPU_USAGE = 'process.cpuUsage()'

/**
 * In-target source that defines `builtin(name)`: a Node built-in module from inside a target, in
 * CommonJS and ES modules alike (process.getBuiltinModule from Node 20.16 / 22.3, else the main
 * module's require); undefined when neither works. Shared by the agent and the holder walker.
 */
export const BUILTIN_LOADER_SOURCE = `const builtin = (name) => {
    try {
      if (typeof process.getBuiltinModule === 'function') return process.getBuiltinModule(name);
      if (process.mainModule && typeof process.mainModule.require === 'function') return process.mainModule.require(name);
    } catch (e) {}
    return undefined;
  };`

/** These snippets with a one-line purpose, for the threat model in docs/security.md. */
export const INSPECTOR_SNIPPETS: ReadonlyArray<{ name: string; purpose: string; source: string }> = [
  { name: 'READ_CPU_USAGE', purpose: 'process.cpuUsage() around a profile fetch, charged to the attribution budget', source: READ_CPU_USAGE },
]
