/**
 * The sidecar's configuration: the config layer (src/config/) bound to the
 * registered collectors, whose names a target's `disabledCollectors` may use
 * and the help lists. The CLI, the demo, the benches and the tests load their
 * configuration through here.
 */
import { COLLECTOR_NAMES } from './collectors/registry.js'
import { helpText, loadConfig as loadWithCollectors, type LoadConfigOptions } from './config/index.js'

export * from './config/index.js'
export { COLLECTOR_NAMES } from './collectors/registry.js'

/** `leakwatch --help`. */
export const HELP: string = helpText(COLLECTOR_NAMES)

/** loadConfig with the registered collectors' names (see src/config/resolve.ts). */
export function loadConfig(options: Omit<LoadConfigOptions, 'collectorNames'>): ReturnType<typeof loadWithCollectors> {
  return loadWithCollectors({ ...options, collectorNames: COLLECTOR_NAMES })
}
