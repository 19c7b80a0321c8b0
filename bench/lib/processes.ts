/**
 * Process plumbing shared by the overhead, cost and soak benchmarks: spawning
 * inspected Node.js targets and a leakwatch sidecar child (`node dist/cli.js`),
 * reading a process's CPU time and RSS from /proc, and HTTP helpers.
 *
 * Every child is tracked and only those children are ever signalled; they are
 * SIGKILLed if the driver exits or is interrupted.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)))
export const CLI_PATH = join(repoRoot, 'dist', 'cli.js')
export const AUTOCANNON_PATH = join(repoRoot, 'node_modules', 'autocannon', 'autocannon.js')
export const TARGET_SERVER_PATH = join(repoRoot, 'bench', 'lib', 'target-server.mjs')

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------------------
// Children

const live = new Set<ChildProcess>()

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  live.clear()
}
process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll()
    process.exit(130)
  })
}

export interface Child {
  readonly proc: ChildProcess
  readonly pid: number
  /** Everything written to stdout / stderr so far. */
  stdout(): string
  stderr(): string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves once `pattern` appears in stdout or stderr (rejects on exit or timeout). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
  /** SIGTERM (or `signal`), SIGKILL after `graceMs`; resolves on exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>
}

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  return env
}

/** Spawn `node ...args` (this Node binary) with output captured. */
export function spawnNode(args: readonly string[], options: { env?: Record<string, string> } = {}): Child {
  const proc = spawn(process.execPath, [...args], { cwd: repoRoot, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] })
  if (proc.pid === undefined) throw new Error(`could not spawn node ${args.join(' ')}`)
  live.add(proc)
  let out = ''
  let err = ''
  const waiters = new Set<() => void>()
  const notify = (): void => {
    for (const waiter of waiters) waiter()
  }
  // Keep only the head and a bounded tail of long outputs (a soak runs for minutes).
  const cap = (text: string): string => (text.length > 256 * 1024 ? text.slice(0, 64 * 1024) + text.slice(-128 * 1024) : text)
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out = cap(out + chunk)
    notify()
  })
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err = cap(err + chunk)
    notify()
  })
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc)
      exitInfo = { code, signal }
      resolveExit(exitInfo)
      notify()
    })
  })
  const child: Child = {
    proc,
    pid: proc.pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolveWait, rejectWait) => {
        const check = (): void => {
          const match = pattern.exec(out) ?? pattern.exec(err)
          if (match) {
            done()
            resolveWait(match)
          } else if (exitInfo !== undefined) {
            done()
            rejectWait(new Error(`node ${args.join(' ')} exited (${JSON.stringify(exitInfo)}) before ${pattern}:\n${err.slice(-2000)}`))
          }
        }
        const timer = setTimeout(() => {
          done()
          rejectWait(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} from node ${args.join(' ')}:\n${err.slice(-2000)}`))
        }, timeoutMs)
        const done = (): void => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    async stop(signal = 'SIGTERM', graceMs = 3_000) {
      if (exitInfo !== undefined) return
      proc.kill(signal)
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
  return child
}

const INSPECTOR_LISTENING = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//

export interface InspectedChild extends Child {
  readonly inspectPort: number
}

/**
 * `node --inspect=127.0.0.1:<port> ...args` (port 0: any free port). Resolves
 * once the inspector listens and, if given, `ready` appeared in the output.
 */
export async function spawnInspected(
  args: readonly string[],
  options: { inspectPort?: number; ready?: RegExp; nodeFlags?: readonly string[]; env?: Record<string, string> } = {},
): Promise<InspectedChild & { readyMatch: RegExpExecArray | undefined }> {
  const child = spawnNode([`--inspect=127.0.0.1:${options.inspectPort ?? 0}`, ...(options.nodeFlags ?? []), ...args], { env: options.env })
  try {
    const match = await child.waitFor(INSPECTOR_LISTENING)
    const readyMatch = options.ready === undefined ? undefined : await child.waitFor(options.ready)
    return Object.assign(child, { inspectPort: Number(match[1]), readyMatch })
  } catch (error) {
    await child.stop('SIGKILL')
    throw error
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

// ---------------------------------------------------------------------------
// The sidecar, as a child process running the built CLI

export interface SidecarSpec {
  readonly targets: ReadonlyArray<{ name: string; port: number }>
  /** Config-file duration, e.g. "15s". */
  readonly interval: string
  readonly attribution?: {
    mode: 'off' | 'on-suspicion' | 'always'
    budget?: number
    minFetchInterval?: string
    samplingInterval?: string
  }
  readonly analysis?: Record<string, unknown>
  readonly logLevel?: string
  /** More config-file settings (e.g. timeout, reconnect), merged over the above. */
  readonly settings?: Record<string, unknown>
}

export interface SidecarChild extends Child {
  readonly url: string
  readonly configPath: string
  getJson<T = unknown>(path: string): Promise<T>
  getText(path: string): Promise<string>
}

/** Warns (once) when dist/ is missing or older than src/: the sidecar child runs dist/cli.js. */
export function checkBuild(): void {
  if (!existsSync(CLI_PATH)) {
    throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first (the npm bench:* scripts do)`)
  }
  const built = statSync(CLI_PATH).mtimeMs
  const newer: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts') && statSync(path).mtimeMs > built) newer.push(path.slice(repoRoot.length + 1))
    }
  }
  walk(join(repoRoot, 'src'))
  if (newer.length > 0) {
    process.stderr.write(
      `warning: dist/ is older than ${newer.length} file(s) in src/ (${newer.slice(0, 3).join(', ')}${newer.length > 3 ? ', …' : ''}); ` +
        'run `npm run build` to measure the current code\n',
    )
  }
}

export async function startSidecar(spec: SidecarSpec): Promise<SidecarChild> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'leakwatch-bench-'))
  const configPath = join(dir, 'config.json')
  const config: Record<string, unknown> = {
    listen: `127.0.0.1:${port}`,
    interval: spec.interval,
    logLevel: spec.logLevel ?? 'warn',
    targets: spec.targets.map((t) => ({ name: t.name, host: '127.0.0.1', port: t.port })),
  }
  if (spec.attribution !== undefined) config.attribution = spec.attribution
  if (spec.analysis !== undefined) config.analysis = spec.analysis
  Object.assign(config, spec.settings)
  writeFileSync(configPath, JSON.stringify(config, null, 2))
  const child = spawnNode([CLI_PATH, '--config', configPath])
  const url = `http://127.0.0.1:${port}`
  const sidecar: SidecarChild = Object.assign(child, {
    url,
    configPath,
    async getJson<T>(path: string): Promise<T> {
      const response = await fetch(url + path, { signal: AbortSignal.timeout(10_000) })
      if (!response.ok) throw new Error(`GET ${path}: ${response.status}`)
      return (await response.json()) as T
    },
    async getText(path: string): Promise<string> {
      const response = await fetch(url + path, { signal: AbortSignal.timeout(10_000) })
      if (!response.ok) throw new Error(`GET ${path}: ${response.status}`)
      return response.text()
    },
  })
  const originalStop = child.stop
  sidecar.stop = async (signal, graceMs) => {
    await originalStop(signal, graceMs ?? 9_000)
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 15_000
  for (;;) {
    try {
      await sidecar.getText('/healthz')
      return sidecar
    } catch (error) {
      if (Date.now() > deadline || child.proc.exitCode !== null) {
        await sidecar.stop('SIGKILL')
        throw new Error(`sidecar did not come up: ${String(error)}\n${child.stderr().slice(-2000)}${child.stdout().slice(-2000)}`)
      }
      await sleep(50)
    }
  }
}

/** The subset of `GET /api/targets` the benchmarks read. */
export interface ApiTarget {
  name: string
  up: boolean
  phase: string
  polls: number
  pollsSkipped: number
  restarts: number
  connects: number
  lastPollAt: string | null
  lastPollDurationMs: number | null
  collectors: Array<{ name: string; enabled: boolean; success: boolean | null; durationMs: number | null }>
}

/** Resolves once every target of the sidecar is up and has been polled `polls` times. */
export async function waitForPolls(sidecar: SidecarChild, polls = 1, timeoutMs = 60_000): Promise<ApiTarget[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { targets } = await sidecar.getJson<{ targets: ApiTarget[] }>('/api/targets')
    if (targets.every((t) => t.up && t.polls >= polls)) return targets
    if (Date.now() > deadline) {
      throw new Error(`targets not polled within ${timeoutMs} ms: ${targets.filter((t) => !(t.up && t.polls >= polls)).map((t) => `${t.name}(${t.phase}, polls ${t.polls})`).join(', ')}`)
    }
    await sleep(100)
  }
}

// ---------------------------------------------------------------------------
// /proc readings (Linux)

let clockTicks: number | undefined
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** User + system CPU time of a process (all its threads) in ms, from /proc/<pid>/stat; NaN if gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // After "pid (comm) ": index 0 is field 3 (state); utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond()
  } catch {
    return Number.NaN
  }
}

/** Resident set size of a process in bytes (VmRSS); NaN if gone. */
export function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

/** Busy CPU time of the whole machine (all cores) in ms, from /proc/stat. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const values = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = values
  return ((user + nice + system + irq + softirq + steal) * 1000) / ticksPerSecond()
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  } catch {
    return 'n/a'
  }
}
