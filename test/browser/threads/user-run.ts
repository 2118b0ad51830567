// A run with layer types defined outside src/ (test/fixtures/user-layer.ts), shared by the
// browser's training worker and Node: the final parameter hash of 2 epochs, 2 microbatches.
import type { ExecutorFactory } from '../../../src/index.ts'
import { arraySource, dense, hashParams, momentum, sequential, softmaxCrossEntropy, supervised, trainObjective } from '../../../src/index.ts'
import { jitterScale, softsign } from '../../fixtures/user-layer.ts'
import { blobs } from '../../helpers.ts'

export const userLayerRun = (threads: number, executor?: ExecutorFactory): Promise<string> =>
  new Promise((resolve, reject) => {
    let hash = ''
    const objective = supervised(sequential(dense(10), jitterScale(0.1), softsign(), dense(3)), softmaxCrossEntropy(), [6])
    trainObjective(objective, momentum(0.05, { momentum: 0.9 }), {
      data: arraySource(blobs(40, 3, 6, 5), { batchSize: 12 }),
      epochs: 2,
      seed: 4,
      microbatches: 2,
      threads,
      ...(executor === undefined ? {} : { executor }),
    }).subscribe({ next: (s) => (hash = hashParams(s)), error: reject, complete: () => resolve(hash) })
  })
