/**
 * Coded errors. Every error leakwatch raises on purpose has a stable `code`
 * (shown in logs, the JSON API and `last_error`) so users can search for it;
 * ERROR_CODES says what each means and what to do, and docs/errors.md is
 * generated from it.
 */

export interface ErrorCodeDoc {
  /** What happened. */
  readonly meaning: string
  /** What the user can do about it. */
  readonly remedy: string
}

/** Every code, with its meaning and remedy (docs/errors.md). */
export const ERROR_CODES = {
  LW_ERR_TIMEOUT: {
    meaning: 'An inspector call did not answer within the timeout: the target is stopped (SIGSTOP), its event loop is blocked, or it is overloaded.',
    remedy: 'Check the target is running and responsive; raise --timeout for a target with long GC pauses. The session is dropped and reopened with backoff.',
  },
  LW_ERR_MALFORMED_REPLY: {
    meaning: 'The target answered, but not with what the collector expects (a patched global, an unexpected Node.js version, something else on the port).',
    remedy: 'Check that the port belongs to the Node.js process you meant; the collector fails alone and the others keep working.',
  },
  LW_ERR_UNAVAILABLE: {
    meaning: "The target lacks a feature a collector needs (an old Node.js, process.getBuiltinModule missing in an ES module, a part of the agent whose setup failed). Not retried until the next connect.",
    remedy: 'Upgrade Node.js (>= 20.16 for the v8 module in ES modules), or disable the collector for the target (disabledCollectors).',
  },
  LW_ERR_CONNECT: {
    meaning: 'The inspector endpoint could not be reached, listed no Node.js target, or pointed somewhere leakwatch refuses to go.',
    remedy: 'Start the target with --inspect=127.0.0.1:PORT (not through npm, which takes the port itself) and check host and port; leakwatch retries with backoff.',
  },
  LW_ERR_EVALUATE: {
    meaning: "One of leakwatch's fixed snippets threw inside the target (for example because the application replaced a global it uses).",
    remedy: 'The message names the snippet and the exception; the collector fails alone. Report it if the application did nothing unusual.',
  },
  LW_ERR_SESSION_CLOSED: {
    meaning: 'The inspector session closed while a call was in flight: the target exited, restarted, or closed its inspector.',
    remedy: 'Nothing, if the target restarted: leakwatch reconnects and counts the restart. Otherwise check the target is still alive.',
  },
  LW_ERR_CONFIG: {
    meaning: 'The configuration is invalid; the message lists every problem found in flags, environment and config file.',
    remedy: 'Fix each problem listed (leakwatch --help shows every option); leakwatch exits with status 2.',
  },
  LW_ERR_AGENT_MISSING: {
    meaning: "leakwatch's agent was gone from the target between polls (something deleted it from globalThis, or the application replaced Symbol.for).",
    remedy:
      'It is installed again at once; if it keeps vanishing, each reinstall waits twice as long as the one before (up to 64 poll intervals), a session gets at most 3, then it is dropped and reconnected with backoff. leakwatch_target_agent_installs_total counts the installs.',
  },
  LW_ERR_HTTP_CONFIG: {
    meaning: 'The HTTP server was asked to protect endpoints without an API token to check.',
    remedy: 'Give an API token (--api-token-file, LEAKWATCH_API_TOKEN or http.apiToken) or drop --protect-metrics / --protect-health.',
  },
  LW_ERR_PROTOCOL: {
    meaning: 'The target broke the inspector protocol (a message that is not JSON, a reply to no command, a message over the size limit, a websocket URL that leads elsewhere): its session was closed.',
    remedy: 'Check what listens on the inspector port: only a Node.js inspector should. The session is retried with backoff; nothing else is affected.',
  },
  LW_ERR_COMMAND: {
    meaning: 'The target answered an inspector command with a protocol error (a method its Node.js lacks, a heap profiler another client stopped).',
    remedy: 'The message says which command; the collector or the profiler step fails alone.',
  },
  LW_ERR_HOLDER_SEARCH: {
    meaning: 'A search for growing holders could not complete: the walker in the target threw, lost its state, or answered something unexpected.',
    remedy: 'The message says which step; the next search starts over. Leak verdicts and allocation sites are not affected.',
  },
  LW_ERR_HOLDER_SEARCH_REFUSED: {
    meaning: "A search for growing holders was refused before it touched the target: the container's memory headroom is below what a search needs, another search is running, or the target lacks WeakRef.",
    remedy: 'The refusal names the reason and the headroom needed; raise the memory limit or wait for the running search.',
  },
  LW_ERR_UNKNOWN: {
    meaning: 'An error without a code of its own (a bug, or a failure in a dependency).',
    remedy: 'The message says more; please report it with the sidecar log.',
  },
} as const satisfies Record<string, ErrorCodeDoc>

export type ErrorCode = keyof typeof ERROR_CODES

export class LeakwatchError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** An inspector call did not answer in time (a stopped or overloaded target). */
export class TimeoutError extends LeakwatchError {
  constructor(what: string, timeoutMs: number, message = `${what} did not answer within ${timeoutMs} ms`) {
    super('LW_ERR_TIMEOUT', message)
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

export function errorCode(error: unknown): ErrorCode {
  return error instanceof LeakwatchError ? error.code : 'LW_ERR_UNKNOWN'
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The in-target agent is gone (should not happen without a restart): reinstall it. */
export class AgentMissingError extends LeakwatchError {
  constructor(what: string, detail?: string) {
    super('LW_ERR_AGENT_MISSING', `${what}: leakwatch agent not installed in target${detail === undefined ? '' : `: ${detail}`}`)
  }
}

/** Protection of HTTP endpoints was asked for without a token that could grant access. */
export class HttpConfigError extends LeakwatchError {
  constructor(message: string) {
    super('LW_ERR_HTTP_CONFIG', message)
  }
}

/**
 * The target broke the inspector protocol (a websocket message that is not a JSON object,
 * a reply id that is not a command id, an event named like one of the client's own, a
 * message over the size limit): its session is closed with this error. `message` is
 * clipped; the offending bytes are never kept.
 */
export class ProtocolError extends LeakwatchError {
  constructor(message: string) {
    super('LW_ERR_PROTOCOL', message)
  }
}

/** The target answered a command with a protocol error (e.g. a method it lacks, a profiler not started). */
export class CommandError extends LeakwatchError {
  constructor(message: string) {
    super('LW_ERR_COMMAND', message)
  }
}

/** A holder search could not complete (the walker threw, lost its state, or answered nonsense). */
export class HolderSearchError extends LeakwatchError {
  constructor(message: string) {
    super('LW_ERR_HOLDER_SEARCH', message)
  }
}
