// The `drift` namespace of the public API: change detectors on the prequential error stream.
export { detectDrift } from '../streams/drift.ts'
export { adwin } from '../streams/drift-adwin.ts'
export { pageHinkley } from '../streams/drift-page-hinkley.ts'
export { driftWatch, resetKey } from '../streams/drift-reset.ts'
