/** What an existing leakwatch sidecar in a pod spec already says (targets, port, memory-limit source). */
import type { YAMLMap } from 'yaml'
import { envEntry, js, stringOf } from './yaml-nodes.js'

/** The port of an existing sidecar's LEAKWATCH_LISTEN, if it has one. */
export function existingListenPort(sidecar: YAMLMap | undefined): number | undefined {
  if (sidecar === undefined) return undefined
  const value = stringOf(envEntry(sidecar, 'LEAKWATCH_LISTEN')?.get('value'))
  const port = value === undefined ? undefined : /:(\d+)$/.exec(value)?.[1]
  return port === undefined ? undefined : Number(port)
}

/** The container an existing sidecar's LEAKWATCH_MEMORY_LIMIT comes from, if it has one. */
export function existingMemoryLimitSource(sidecar: YAMLMap | undefined): string | undefined {
  if (sidecar === undefined) return undefined
  return stringOf(envEntry(sidecar, 'LEAKWATCH_MEMORY_LIMIT')?.getIn(['valueFrom', 'resourceFieldRef', 'containerName']))
}

/** Target names of an existing sidecar: LEAKWATCH_TARGETS, or --target args. */
export function existingTargets(sidecar: YAMLMap): { names: string[]; fromArgs: string[] | undefined } {
  const fromArgs = targetArgs(sidecar)
  const spec = fromArgs ?? (stringOf(envEntry(sidecar, 'LEAKWATCH_TARGETS')?.get('value')) ?? '').split(',')
  const names = spec.flatMap((item) => {
    const eq = item.indexOf('=')
    return eq > 0 ? [item.slice(0, eq).trim()] : []
  })
  return { names, fromArgs }
}

/** The `--target X` / `--target=X` values in a container's args, or undefined when it has none. */
export function targetArgs(container: YAMLMap): string[] | undefined {
  const args = js(container.get('args', true))
  if (!Array.isArray(args)) return undefined
  const targets: string[] = []
  args.map(String).forEach((arg, index, all) => {
    if (arg === '--target' && index + 1 < all.length) targets.push(all[index + 1]!)
    else if (arg.startsWith('--target=')) targets.push(arg.slice('--target='.length))
  })
  return targets.length > 0 ? targets : undefined
}
