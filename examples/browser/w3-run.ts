// W3 of ../shared/WORKLOADS.md (the 4-layer CNN, batch 32, SGD lr 0.05, one thread) on
// the digits: trains `epochs` epochs and returns samples/s of each (training only) and
// the final parameter hash. Shared by Node and the Chromium page of measure-w3.ts.
// `threads` / `microbatches` run the same workload sharded (microbatches fix the bits,
// threads do not change them); Node passes its worker threads as `executor`.

import type { ExecutorFactory } from '../../src/index.ts'
import { arraySource, hashParams, sgd, softmaxCrossEntropy, train, zoo, datasets } from '../../src/index.ts'

export interface W3Options {
  readonly threads?: number
  readonly microbatches?: number
  readonly executor?: ExecutorFactory
}

export const runW3 = (digits: readonly Float32Array[], epochs: number, options: W3Options = {}): Promise<{ rates: number[]; hash: string }> => {
  const { train: data } = datasets.mnistSplit(digits)
  const rates: number[] = []
  let t0 = performance.now()
  let hash = ''
  return new Promise((resolve, reject) =>
    train(zoo.cnn(), softmaxCrossEntropy(), sgd(0.05), { data: arraySource(data, { batchSize: 32 }), epochs, seed: 0, ...options }).subscribe({
      next: (s) => {
        if (!s.endOfEpoch) return
        rates.push(8000 / ((performance.now() - t0) / 1000))
        hash = hashParams(s)
        t0 = performance.now()
      },
      error: reject,
      complete: () => resolve({ rates, hash }),
    }),
  )
}
