// gradstream's Node entry (re-exports only): the browser-safe core (index.ts) plus what
// needs Node - files (checkpoints, safetensors, CSV/NDJSON tables, PNG), the digits of the
// `mnist` package, and worker threads. `import ... from 'gradstream'` in Node resolves here
// (the package's `node` export condition); `gradstream/node` names it explicitly.
// The names below shadow the core's of the same name (ES modules let a local export win
// over `export *`): the Node `train` has worker threads, and the Node namespaces add files.

export * from './index.ts'
// train / trainObjective with worker threads as the default executor for `threads` > 1
export { keptWorkerThreads, train, trainObjective, workerThreads } from './parallel/threads.ts'
export type { KeptWorkerThreads } from './parallel/threads.ts'
// Root names a README reader uses in Node
export { loadMnist } from './io/mnist.ts'
export { loadTabular } from './io/tabular.ts'
export { loadCheckpoint, saveCheckpoint } from './io/checkpoint-file.ts'
// Namespaces with their file parts
export * as checkpoint from './api/checkpoint-node.ts'
export * as safetensors from './api/safetensors-node.ts'
export * as datasets from './api/data-node.ts'
export * as png from './io/png.ts'
export type { GrayImage } from './io/png.ts'
