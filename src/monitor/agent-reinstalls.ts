/**
 * When to install the agent again after it vanished from a target.
 *
 * Each install sets up a GC observer and an event-loop histogram in the target, and an agent
 * that vanished is not removed, only unreachable: a target whose `Symbol.for` returns a fresh
 * symbol on every call (or that deletes the agent on a timer) would get a new one on every poll
 * (750 installs in 150 s, +19 MB). So reinstalls are bounded:
 *
 * - The first time the agent is found missing after it last answered, it is reinstalled at
 *   once (something removed it once: the common case).
 * - If it vanishes again before a poll could read it, each further reinstall waits twice as
 *   long as the previous one: 2, 4, 8... poll intervals after the last install, at most
 *   MAX_SPACING_INTERVALS. Meanwhile the agent's collectors report it missing and the
 *   protocol collectors go on.
 * - At most MAX_REINSTALLS_PER_CONNECTION per session: when one more is due, the session is
 *   dropped instead and the reconnect backs off (the agent never answering, no poll is
 *   healthy, so the backoff keeps growing).
 *
 * A fresh install at a reconnect to the same process also means the agent vanished: it counts
 * for the spacing. Pure: the monitor hands in the times.
 */

/** Reinstalls one session may make before it is dropped. */
export const MAX_REINSTALLS_PER_CONNECTION = 3
/** Longest wait between two reinstalls, in poll intervals (16 min at the default 15 s). */
export const MAX_SPACING_INTERVALS = 64

export type AgentMissingAction =
  | { readonly action: 'reinstall' }
  | { readonly action: 'wait'; readonly untilMs: number }
  | { readonly action: 'drop' }

export class AgentReinstalls {
  /** Installs since the agent last answered a read (0: it answered the latest one). */
  private vanishings = 0
  private lastInstallAtMs: number | undefined
  private thisConnection = 0

  constructor(private readonly intervalMs: number) {}

  /** A new session: its own allowance of reinstalls. */
  connected(nowMs: number, fresh: boolean, sameProcess: boolean): void {
    this.thisConnection = 0
    if (!fresh) return
    // An agent created at a reconnect to the same process had vanished since the last session.
    if (sameProcess) this.vanishings += 1
    else this.vanishings = 0
    this.lastInstallAtMs = nowMs
  }

  /** A poll read the agent: it stays, whatever happened before. */
  answered(): void {
    this.vanishings = 0
  }

  /** A poll found the agent missing: reinstall now, wait, or drop the session. */
  missing(nowMs: number): AgentMissingAction {
    const spacing = this.vanishings === 0 ? 0 : this.intervalMs * Math.min(MAX_SPACING_INTERVALS, 2 ** this.vanishings)
    const dueAtMs = (this.lastInstallAtMs ?? Number.NEGATIVE_INFINITY) + spacing
    if (nowMs < dueAtMs) return { action: 'wait', untilMs: dueAtMs }
    if (this.thisConnection >= MAX_REINSTALLS_PER_CONNECTION) return { action: 'drop' }
    return { action: 'reinstall' }
  }

  /** The agent was installed again on this session (`fresh`: a new agent was created). */
  reinstalled(nowMs: number, fresh: boolean): void {
    this.thisConnection += 1
    if (!fresh) return
    this.vanishings += 1
    this.lastInstallAtMs = nowMs
  }

  /** A new process: nothing of the old one's agent history applies. */
  reset(): void {
    this.vanishings = 0
    this.lastInstallAtMs = undefined
    this.thisConnection = 0
  }
}
