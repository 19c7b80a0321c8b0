// Helpers for integration tests that need real Node.js processes with the
// inspector enabled. Every spawned child is registered for teardown on the tap
// test that spawned it, and only that child is ever signalled.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import type { Test } from 'tap';

/** Absolute path of the repository root (no trailing slash). */
export const repoRoot: string = resolve(fileURLToPath(new URL('../../', import.meta.url)));

export interface SpawnedTarget {
  pid: number;
  host: '127.0.0.1';
  /** Inspector port (the actual one when spawned with port 0). */
  port: number;
  child: ChildProcess;
  /** Everything the child wrote to stdout so far. */
  stdout(): string;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Resolves once the child has exited (immediately if it already has). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Sends `signal` (default SIGTERM), escalates to SIGKILL after `graceMs` (default 2 s), and
   * resolves on exit. No-op if the child already exited.
   */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export interface SpawnTargetOptions {
  /** Script path, relative to the repo root or absolute. */
  script: string;
  /** Extra environment (merged over process.env minus NODE_OPTIONS / NODE_V8_COVERAGE). */
  env?: Record<string, string>;
  /** Extra node flags, placed after --inspect and before the script. */
  nodeArgs?: string[];
  /** Inspector port; default 0 (ephemeral). */
  inspectPort?: number;
  /** Bound for inspector + readiness; default 10 000 ms. */
  readyTimeoutMs?: number;
  /**
   * Stdout pattern that signals readiness. Default matches a `ready` line
   * (test fixtures) or the demo app's `demo app listening on ...` line.
   * `false`: only wait for the inspector.
   */
  ready?: RegExp | false;
}

/** Anything with tap's teardown(); a tap `Test` qualifies. */
type Teardownable = Pick<Test, 'teardown'>;

const DEFAULT_READY = /^(?:ready\b|demo app listening on )/m;
const INSPECTOR_LISTENING = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//;
const INSPECTOR_FAILED = /Starting inspector on [^\n]* failed[^\n]*/;
const KILL_GRACE_MS = 2_000;

export async function spawnTarget(t: Teardownable, options: SpawnTargetOptions): Promise<SpawnedTarget> {
  const script = isAbsolute(options.script) ? options.script : resolve(repoRoot, options.script);
  const inspectPort = options.inspectPort ?? 0;
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const readyPattern = options.ready ?? DEFAULT_READY;

  // The test runner's NODE_OPTIONS (loaders, coverage hooks) must not leak into
  // the target; a caller can still pass NODE_OPTIONS explicitly via env.
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_V8_COVERAGE;
  Object.assign(env, options.env);

  const child = spawn(
    process.execPath,
    [`--inspect=127.0.0.1:${inspectPort}`, ...(options.nodeArgs ?? []), script],
    { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );

  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
  });
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;

  let killing: Promise<void> | undefined;
  const kill = (signal: NodeJS.Signals = 'SIGTERM', graceMs = KILL_GRACE_MS): Promise<void> => {
    if (hasExited() || child.pid === undefined) return Promise.resolve();
    killing ??= (async () => {
      child.kill(signal);
      const escalate = setTimeout(() => {
        if (!hasExited()) child.kill('SIGKILL');
      }, graceMs);
      try {
        await exited;
      } finally {
        clearTimeout(escalate);
      }
    })();
    return killing;
  };
  t.teardown(() => kill());

  const describe = (why: string) =>
    new Error(
      `${why} (script ${script}, pid ${child.pid ?? '?'})\n--- stdout ---\n${out}\n--- stderr ---\n${err}`,
    );

  // Wait for the inspector port and readiness, bounded; fail fast on exit,
  // spawn errors, or an inspector that could not bind.
  const port = await new Promise<number>((resolvePort, reject) => {
    let inspectorPort: number | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    const fail = (e: Error) => {
      cleanup();
      void kill('SIGKILL').finally(() => reject(e));
    };
    function check() {
      if (inspectorPort === undefined) {
        const failed = INSPECTOR_FAILED.exec(err);
        if (failed) return fail(describe(`inspector did not start: ${failed[0]}`));
        const m = INSPECTOR_LISTENING.exec(err);
        if (m) inspectorPort = Number(m[1]);
      }
      if (inspectorPort !== undefined && (readyPattern === false || readyPattern.test(out))) {
        cleanup();
        resolvePort(inspectorPort);
      }
    }
    const onExit = () => fail(describe('target exited before it was ready'));
    const onError = (e: Error) => fail(describe(`failed to spawn target: ${e.message}`));
    const timer = setTimeout(
      () => fail(describe(`target not ready within ${readyTimeoutMs} ms`)),
      readyTimeoutMs,
    );
    // Registered after the accumulating listeners above, so `out`/`err` are
    // already updated when check() runs.
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', onExit);
    child.once('error', onError);
    check();
  });

  return {
    pid: child.pid!,
    host: '127.0.0.1',
    port,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill,
  };
}

/** `T` without its falsy members (what waitFor can resolve with). */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

/**
 * Polls `fn` (every `intervalMs`, default 50) until it returns a truthy value
 * and resolves with it. Errors thrown by `fn` count as "not yet". Rejects after
 * `timeoutMs` with a message naming `what` and the last value or error.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: { timeoutMs: number; intervalMs?: number; what: string | (() => string) },
): Promise<Truthy<T>> {
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + opts.timeoutMs;
  let last: { value: unknown } | { error: unknown } = { value: undefined };
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as Truthy<T>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, remaining)));
  }
  const detail =
    'error' in last
      ? `last error: ${last.error instanceof Error ? last.error.stack ?? last.error.message : inspect(last.error)}`
      : `last value: ${inspect(last.value, { depth: 4 })}`;
  const what = typeof opts.what === 'function' ? opts.what() : opts.what;
  throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}; ${detail}`);
}

/** Ports freePort picks from: below Linux's default ephemeral range (32768-60999). */
const FREE_PORT_RANGE = [20_000, 32_000] as const;

/** Listen on `port` and close again: whether it is free now. */
function tryPort(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolveFree(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolveFree(true)));
  });
}

/**
 * A free port on 127.0.0.1, outside the ephemeral range. A port in that range that a test frees
 * and means to listen on again can meanwhile be handed to any outgoing connection on the machine
 * as its local port — even to the sidecar's own retry to that very port, which then connects to
 * itself (TCP simultaneous open) and holds it: CI failed once with EADDRINUSE when a test started
 * a server on a port its sidecar had been retrying (port-takeover, port 35643). Servers that
 * listen on port 0 get ephemeral ports, so they never take these either.
 */
export async function freePort(): Promise<number> {
  const [low, high] = FREE_PORT_RANGE;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await tryPort(port)) return port;
  }
  throw new Error(`no free port in ${low}..${high} after 200 attempts`);
}
