// gradstream's Node entry (re-exports only): the browser-safe core (index.ts) plus what
// needs Node - files (checkpoints, safetensors, CSV/NDJSON tables, PNG), the digits of the
// `mnist` package, and atomic writes. `import ... from 'gradstream'` in Node resolves here
// (the package's `node` export condition); `gradstream/node` names it explicitly.

export * from './index.ts'
// train / trainObjective with worker threads as the default executor for `threads` > 1
// (these names shadow the core's, which need an executor passed in).
export { train, trainObjective, workerThreads } from './parallel/threads.ts'

export { loadMnist, mnistDigitsDir } from './io/mnist.ts'
export { loadTabular } from './io/tabular.ts'
export { decodePng, encodePng, writePng } from './io/png.ts'
export type { GrayImage } from './io/png.ts'
export { loadSafetensors, readSafetensorsHeader, saveSafetensors } from './io/safetensors-file.ts'
export { isTempFile, writeFileAtomic } from './io/atomic-write.ts'
export { listCheckpoints, loadCheckpoint, saveCheckpoint } from './io/checkpoint-file.ts'

