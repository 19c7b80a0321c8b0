/**
 * The memory limit of a target's cgroup, when the sidecar can see it (same
 * host or a shared process namespace). In Kubernetes the app's limit usually
 * reaches the sidecar through the downward API instead (LEAKWATCH_MEMORY_LIMIT).
 */
import { readFileSync } from 'node:fs'

/** cgroup v1 reports "no limit" as a huge page-aligned number. */
const UNLIMITED_V1 = 2 ** 62

/** Parse `/proc/<pid>/cgroup`: the v2 unified path, or the v1 memory controller's path. */
export function parseProcCgroup(text: string): { version: 2 | 1; path: string } | undefined {
  let v1: string | undefined
  for (const line of text.split('\n')) {
    const [id, controllers, path] = line.split(':', 3)
    if (path === undefined) continue
    if (id === '0' && controllers === '') return { version: 2, path }
    if (controllers?.split(',').includes('memory')) v1 = path
  }
  return v1 === undefined ? undefined : { version: 1, path: v1 }
}

/** `memory.max` (v2) or `memory.limit_in_bytes` (v1): bytes, or undefined for no limit. */
export function parseMemoryLimit(text: string): number | undefined {
  const trimmed = text.trim()
  if (trimmed === 'max' || !/^\d+$/.test(trimmed)) return undefined
  const value = Number(trimmed)
  return value > 0 && value < UNLIMITED_V1 ? value : undefined
}

/** Read the memory limit of process `pid`'s cgroup; undefined when unknown, unlimited or unreadable. */
export function readCgroupMemoryLimit(pid: number, root = '/'): number | undefined {
  try {
    const cgroup = parseProcCgroup(readFileSync(`${root}proc/${pid}/cgroup`, 'utf8'))
    if (cgroup === undefined) return undefined
    const file =
      cgroup.version === 2
        ? `${root}sys/fs/cgroup${cgroup.path}/memory.max`
        : `${root}sys/fs/cgroup/memory${cgroup.path}/memory.limit_in_bytes`
    return parseMemoryLimit(readFileSync(file.replace(/\/+/g, '/'), 'utf8'))
  } catch {
    return undefined
  }
}
