// The training stream from code: a minibatch source, augmentation, the train operator,
// per-epoch evaluation, early stopping and progress, all as RxJS operators on snapshots.
//
//   npx tsx examples/train-mnist.ts            (the 4-layer CNN, up to 10 epochs, ~1 minute)
//   EPOCHS=2 TRAIN_SAMPLES=1000 npx tsx examples/train-mnist.ts   (a quick look)
import { lastValueFrom, tap } from 'rxjs'
import { arraySource, earlyStopping, evaluateEvery, hashParams, loadMnist, momentum, progress, softmaxCrossEntropy, supervised, train, zoo, training } from '../src/node.ts'

const epochs = Number(process.env.EPOCHS ?? 10)
const limit = Number(process.env.TRAIN_SAMPLES ?? 8000)

// Data: the fixed split of the mnist package's digits (8,000 train / 2,000 test). With
// TRAIN_SAMPLES, an evenly spread subset (the train set is sorted by digit).
const digits = loadMnist()
const stride = Math.floor(8000 / limit)
const { x, labels } = training.gather(digits.train, Int32Array.from({ length: limit }, (_, i) => i * stride), 0, 0)
const subset = { x, labels, classes: 10 }

const source = arraySource(subset, { batchSize: 32 }) // a fresh shuffle every epoch, from the run key
const steps = epochs * source.batchesPerEpoch!
const model = zoo.cnn()
const loss = softmaxCrossEntropy()
const optimizer = momentum({ type: 'cosine', lr: 0.05, steps }, { momentum: 0.9 })

const started = performance.now()
const last = await lastValueFrom(
  train(model, loss, optimizer, {
    data: source,
    epochs,
    seed: 7,
    augment: [(key) => training.randomShift(2, key)], // random translations, drawn from the key per batch
  }).pipe(
    progress((p) => {
      if (p.batch % 50 === 0) console.log(`  epoch ${p.epoch + 1} batch ${p.batch}/${p.batches} loss ${p.loss.toFixed(3)} ${Math.round(p.samplesPerSecond)} samples/s`)
    }, { batchesPerEpoch: source.batchesPerEpoch }),
    evaluateEvery(supervised(model, loss, [28, 28, 1]), digits.test),
    tap((s) => {
      if (s.evaluation) console.log(`epoch ${s.epoch + 1}: test loss ${s.evaluation.loss.toFixed(4)}, test accuracy ${(100 * s.evaluation.accuracy!).toFixed(2)}%`)
    }),
    earlyStopping({ monitor: (s) => s.evaluation?.loss, mode: 'min', patience: 3 }),
  ),
)
console.log(`done: step ${last.step}, ${((performance.now() - started) / 1000).toFixed(1)}s, parameters ${hashParams(last).slice(0, 16)}`)
console.log(`final test accuracy ${(100 * (last.evaluation?.accuracy ?? NaN)).toFixed(2)}%`)
