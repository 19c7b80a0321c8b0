/**
 * Limits on what a target may make the sidecar hold. A target is a process leakwatch
 * watches, not one it trusts: whatever it sends is bounded here, in one place.
 */

/**
 * Longest text kept from a target: protocol error messages, exception descriptions,
 * `/json/list` fields, URLs it names. It ends up in `lastError`, logs and the JSON API; a
 * real one is a line (a Node.js error message, `node[1234]`, a file URL).
 */
export const TARGET_TEXT_LIMIT = 300

/**
 * Text from a target, made safe to keep: at most `limit` characters (then `…`), control
 * characters (newlines included, which could forge log lines) as spaces, and always a fresh
 * copy. The copy matters: V8's `slice` of a long string is a view that keeps the whole
 * original alive (measured: clipping a 50 MB message with `slice` kept 50 MB per message).
 */
export function clipTargetText(text: unknown, limit: number = TARGET_TEXT_LIMIT): string {
  const whole = typeof text === 'string' ? text : String(text)
  const clipped = whole.length > limit ? `${whole.slice(0, limit)}…` : whole
  // Re-encoding copies the characters (and turns a surrogate pair split by the clip into U+FFFD).
  // eslint-disable-next-line no-control-regex
  return Buffer.from(clipped, 'utf8').toString('utf8').replace(/[\u0000-\u001f\u007f]/g, ' ')
}

/**
 * Largest `/json/list` body accepted: a real one is a few hundred bytes per target.
 */
export const MAX_LIST_BYTES = 1024 * 1024

/**
 * Largest websocket message accepted from a target (ws `maxPayload`; chrome-remote-interface
 * itself allows 256 MiB). A bigger one closes that target's session with LW_ERR_PROTOCOL and is
 * never buffered: the websocket reads the length from the frame header and stops there.
 *
 * Sized on the largest reply leakwatch asks for, a sampling heap profile
 * (`HeapProfiler.getSamplingProfile`), measured with test/inspector/profile-size.probe.ts on
 * Node v20.20.2: a 200 MB live heap built after sampling started (so every sample is live),
 * from 200 allocation sites at call depth 8 and from 2000 sites at depth 24 (a stack tree of
 * 1k and 32–76k nodes):
 *
 * | sampling interval       | samples  | profile message  |
 * |-------------------------|----------|------------------|
 * | 512 KiB (the default)   | ~450     | 0.13–0.71 MiB    |
 * | 64 KiB                  | ~3,700   | 0.29–4.4 MiB     |
 * | 1 KiB (the minimum)     | ~230,000 | 10–20 MiB        |
 *
 * A profile is ~44 bytes per live sample plus ~140 per stack node. 64 MiB is 14× the largest
 * at 64 KiB and 3× the largest at the minimum interval; only the minimum interval on a heap
 * of more than ~1 GB would reach it, and then the session says so (LW_ERR_PROTOCOL, naming
 * the limit) instead of failing silently. Cost of the limit: a message up to it is held a few
 * times over while it is decoded and parsed, per session.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024

/**
 * Largest message accepted while no command that may have a large reply is in flight (see
 * `LARGE_REPLY_METHODS` in client.ts): everything else leakwatch asks for answers in kilobytes
 * (the agent's read of every part ~5-20 KB, its install, the heap usage, a holder report page).
 * A bigger message then is refused as a protocol error before it is parsed: a target that
 * answered every poll with 40-50 MB was otherwise parsed each time (~0.3 s of the event loop
 * per poll, RSS ~400 MB). Messages up to this size are parsed inline (JSON.parse: tens of ms at
 * most); larger ones, accepted only while a large reply is due, are read
 * on the reader thread (parse-worker.ts) so that no event-loop step grows with them.
 */
export const MAX_SMALL_MESSAGE_BYTES = 4 * 1024 * 1024
