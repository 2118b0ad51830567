// The Node entry's `checkpoint` namespace: the bytes API plus checkpoint files.
export * from './checkpoint.ts'
export { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../io/checkpoint-file.ts'
