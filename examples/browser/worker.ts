// The training worker of the browser example: receives the digits, trains the 4-layer CNN
// of the zoo with the package's core entry (the same code as in Node; every random draw
// from the seed), and posts the loss of every step and the test accuracy of every epoch.
// Training in a worker keeps the page responsive; the page only draws. It is also what
// lets the run use threads: every minibatch is split into `microbatches` shards (which fix
// the bits), computed on `threads` threads (which never change them): Web Workers sharing
// memory with this one, which blocks while they work (allowed in a worker, not on a page).
// Where the page is not cross-origin isolated the run trains on one thread, same bits.

import { tap } from 'rxjs'
import { arraySource, evaluateEvery, hashParams, momentum, softmaxCrossEntropy, supervised, train, zoo, datasets, training } from '../../src/index.ts'

export interface Start {
  readonly type: 'start'
  /** Digit d's images (count x 784 floats), d = 0..9: the `mnist` package's files. */
  readonly digits: readonly Float32Array[]
  readonly epochs: number
  readonly seed: number
  /** Threads (this worker included) and shards of every minibatch. */
  readonly threads: number
  readonly microbatches: number
}

export type Progress =
  | { readonly type: 'step'; readonly step: number; readonly epoch: number; readonly loss: number }
  | {
      readonly type: 'epoch'
      readonly epoch: number
      readonly step: number
      readonly accuracy: number
      readonly testLoss: number
      readonly samplesPerSecond: number
      readonly hash: string
    }
  | { readonly type: 'done'; readonly step: number; readonly hash: string }
  | { readonly type: 'error'; readonly message: string }

interface WorkerScope {
  onmessage: ((e: { data: Start }) => void) | null
  postMessage(message: Progress): void
}
const scope = globalThis as unknown as WorkerScope

const run = ({ digits, epochs, seed, threads, microbatches }: Start): void => {
  const { train: trainSet, test } = datasets.mnistSplit(digits)
  const source = arraySource(trainSet, { batchSize: 32 })
  const steps = epochs * (source.batchesPerEpoch ?? 1)
  const model = zoo.cnn()
  const loss = softmaxCrossEntropy()
  // Samples per second of training alone: the clock restarts after each evaluation.
  let clock = performance.now()
  let samples = 0
  let rate = NaN
  let last = { step: 0, hash: '' }
  train(model, loss, momentum({ type: 'cosine', lr: 0.05, steps }, { momentum: 0.9 }), {
    data: source,
    epochs,
    seed,
    augment: [(key) => training.randomShift(2, key)],
    threads,
    microbatches,
  })
    .pipe(
      tap((s) => {
        samples += s.metrics.samples
        if (s.endOfEpoch) rate = samples / ((performance.now() - clock) / 1000)
        scope.postMessage({ type: 'step', step: s.step, epoch: s.epoch, loss: s.metrics.loss })
      }),
      evaluateEvery(supervised(model, loss, [28, 28, 1]), test),
    )
    .subscribe({
      next: (s) => {
        last = { step: s.step, hash: '' }
        if (s.evaluation === undefined) return
        last = { step: s.step, hash: hashParams(s) }
        scope.postMessage({
          type: 'epoch',
          epoch: s.epoch,
          step: s.step,
          accuracy: s.evaluation.accuracy ?? NaN,
          testLoss: s.evaluation.loss,
          samplesPerSecond: rate,
          hash: last.hash,
        })
        clock = performance.now()
        samples = 0
      },
      error: (e: unknown) => scope.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) }),
      complete: () => scope.postMessage({ type: 'done', step: last.step, hash: last.hash }),
    })
}

scope.onmessage = (e) => {
  if (e.data.type === 'start') run(e.data)
}
