/** `leakwatch inject`: add the leakwatch native sidecar to Kubernetes workloads (YAML in, YAML out). */
export { runInject, INJECT_HELP, type InjectIo } from './cli.js'
export { injectText, InjectInputError, POD_SPEC_PATHS, type InjectOptions, type InjectResult } from './inject.js'
export { DEFAULT_IMAGE, SIDECAR_DEFAULTS, sidecarContainer, type SidecarContainer, type SidecarOptions } from './sidecar.js'
