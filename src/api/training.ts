// The `training` namespace of the public API: the pieces `train` is built from (keys per
// step, snapshots, minibatch sources, the forward / backward / update steps, augmentation),
// for users who write their own loop.
export * from '../streams/snapshot.ts'
export * from '../streams/source.ts'
export * from '../streams/steps.ts'
export { initialSnapshot } from '../streams/train.ts'
export { batchAugmentKey, randomShift, shiftImages } from '../streams/augment.ts'
export { MAX_CONFUSION_CLASSES } from '../streams/evaluate.ts'
export { webThreadsUnavailable } from '../parallel/web-workers.ts'
