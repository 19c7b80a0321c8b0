/** Slicing long computations now lives in core (the inspector layer slices large replies too). */
export { ITEMS_PER_STEP, SLICE_MS, runInSlices, runToEnd, type Steps } from '../core/slices.js'
