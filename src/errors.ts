/**
 * Coded errors. Every error leakwatch raises on purpose has a stable `code`
 * (shown in logs, the JSON API and `last_error`) so users can search for it.
 */

export class LeakwatchError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** An inspector call did not answer in time (a stopped or overloaded target). */
export class TimeoutError extends LeakwatchError {
  constructor(what: string, timeoutMs: number) {
    super('LW_ERR_TIMEOUT', `${what} did not answer within ${timeoutMs} ms`)
  }
}

/** The target answered, but not with what the collector expects. */
export class MalformedReplyError extends LeakwatchError {
  constructor(what: string, detail: string) {
    super('LW_ERR_MALFORMED_REPLY', `${what}: malformed reply: ${detail}`)
  }
}

/** The target lacks a feature a collector needs (e.g. an old Node.js). Not retried each poll. */
export class UnavailableError extends LeakwatchError {
  constructor(what: string, reason: string) {
    super('LW_ERR_UNAVAILABLE', `${what} unavailable: ${reason}`)
  }
}

/** The inspector endpoint could not be reached or listed no Node.js target. */
export class ConnectError extends LeakwatchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LW_ERR_CONNECT', message, options)
  }
}

/** A JavaScript exception thrown by one of leakwatch's snippets inside the target. */
export class EvaluateError extends LeakwatchError {
  constructor(message: string) {
    super('LW_ERR_EVALUATE', message)
  }
}

/** The session closed while a call was in flight. */
export class SessionClosedError extends LeakwatchError {
  constructor(message = 'inspector session closed') {
    super('LW_ERR_SESSION_CLOSED', message)
  }
}

/** The configuration is invalid; `problems` lists every problem found. */
export class ConfigError extends LeakwatchError {
  readonly problems: readonly string[]
  constructor(problems: readonly string[]) {
    super('LW_ERR_CONFIG', `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.problems = problems
  }
}

export function errorCode(error: unknown): string {
  return error instanceof LeakwatchError ? error.code : 'LW_ERR_UNKNOWN'
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The in-target agent is gone (should not happen without a restart): reinstall it. */
export class AgentMissingError extends LeakwatchError {
  constructor(what: string) {
    super('LW_ERR_AGENT_MISSING', `${what}: leakwatch agent not installed in target`)
  }
}

/** A holder search could not complete (the walker threw, lost its state, or answered nonsense). */
export class HolderSearchError extends LeakwatchError {
  constructor(message: string) {
    super('LW_ERR_HOLDER_SEARCH', message)
  }
}
