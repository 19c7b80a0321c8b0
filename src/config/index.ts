/** The configuration: the options table, its three sources, and the resolved Config. */
export type { AnalysisConfig, AttributionConfig, AttributionMode, Config, HttpConfig, TargetConfig } from './types.js'
export { DEFAULTS, isConfig, loadConfig, readVersion, type LoadConfigOptions } from './resolve.js'
export { helpText } from './help.js'
export { isLoopbackHost } from './hosts.js'
export {
  ATTRIBUTION_MODES,
  DEFAULT_EVENT_LOOP_RESOLUTION_MS,
  LIMITS,
  LOG_LEVELS,
  OPTIONS,
  type LogLevel,
  type OptionRow,
} from './options.js'
export { BYTE_QUANTITY_FORMS, formatByteQuantity, formatPercent, parseByteQuantity } from './values.js'
