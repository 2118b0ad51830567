// The `registry` namespace of the public API: reading and extending the open layer registry
// (models/define.ts), the checks and Either helpers a layer's code uses (models/layer.ts),
// and the spec rebuilders that checkpoints and workers use.
export * from '../models/layer.ts'
export { buildLayer, checkData, drawsFromKey, elementwiseKernels, layerType, layerTypes, trainsDifferently } from '../models/define.ts'
export { elementwise } from '../models/activations.ts'
export { layerFromSpec, lossFromSpec } from '../models/registry.ts'
export { optimizerFromSpec } from '../models/optimizers.ts'
export { scheduleFromSpec } from '../models/schedule.ts'
export { objectiveFromSpec, registerObjective } from '../models/objective-spec.ts'
