// The `checkpoint` namespace of the public API: checkpoints as bytes (files: the Node entry).
export { checkLayout, checkpointName, CheckpointError, decodeCheckpoint, encodeCheckpoint, LIBRARY_VERSION } from '../io/checkpoint.ts'
