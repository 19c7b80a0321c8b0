import { readFileSync } from 'node:fs'

/** A reply recorded from a real Node.js target by scripts/record-replies.ts. */
export function recordedReply(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/replies/${name}.json`, import.meta.url), 'utf8'))
}

/** A deep copy of a recorded reply, for tests that break it on purpose. */
export function mutableReply(name: string): Record<string, unknown> {
  return recordedReply(name) as Record<string, unknown>
}
