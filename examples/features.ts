// Feature quality of unsupervised pretraining on the fixed digit split:
//   1. train the zoo's RBM (784-128, CD-1) and autoencoder (784-64, tied weights) on the
//      8,000 training digits, with their default recipes, labels unused;
//   2. a softmax classifier (dense(10) + softmax cross-entropy) is trained for the same
//      epochs, with the same optimizer, on three representations of the digits: the RBM's
//      hidden probabilities p(h | v), the autoencoder's codes sigma(x W + b), and the raw
//      784 pixels;
//   3. it prints the three test accuracies on the 2,000 test digits.
//
//   npx tsx examples/features.ts
// Smaller runs: FEATURES_TRAIN (digits per class, <= 800), FEATURES_EPOCHS (classifier
// epochs), FEATURES_PRETRAIN_EPOCHS (RBM and autoencoder epochs).

import { lastValueFrom } from 'rxjs'
import type { Dataset, Optimizer, Params, Recipe, Snapshot, Tensor } from '../src/node.ts'
import { arraySource, dense, evaluate, loadMnist, momentum, sequential, softmaxCrossEntropy, supervised, train, trainObjective, zoo, datasets, rbm } from '../src/node.ts'

const intEnv = (name: string, fallback: number): number => {
  const v = process.env[name]
  if (v === undefined || v === '') return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(v)}`)
  return n
}

const PER_CLASS = Math.min(800, intEnv('FEATURES_TRAIN', 800))
const EPOCHS = intEnv('FEATURES_EPOCHS', 10)
const PRETRAIN_EPOCHS = intEnv('FEATURES_PRETRAIN_EPOCHS', zoo.ZOO.rbm.recipe.epochs)
const SEED = 0

// The data: the first PER_CLASS training digits of each class (all 8,000 by default).
const mnist = loadMnist()
const pick = (ds: Dataset, keep: (i: number) => boolean): Dataset => {
  const idx = Array.from({ length: ds.x.shape[0] }, (_, i) => i).filter(keep)
  const m = ds.x.data.length / ds.x.shape[0]
  const x = new Float32Array(idx.length * m)
  idx.forEach((j, r) => x.set(ds.x.data.subarray(j * m, (j + 1) * m), r * m))
  return { x: { shape: [idx.length, m], data: x }, labels: Int32Array.from(idx, (j) => ds.labels![j]), classes: 10 }
}
const trainSet = pick(datasets.flattenImages(mnist.train), (i) => i % 800 < PER_CLASS)
const testSet = datasets.flattenImages(mnist.test)
const unlabelled: Dataset = { x: trainSet.x }

/** A recipe's optimizer: momentum with a cosine decay over the run (and its weight decay). */
const optimizerOf = (r: Recipe, steps: number): Optimizer =>
  momentum({ type: 'cosine', lr: r.lr, steps }, { momentum: r.momentum, weightDecay: r.weightDecay })

const pretrain = async (name: 'rbm' | 'autoencoder', hidden: number): Promise<Params> => {
  const entry = zoo.ZOO[name]
  const batch = entry.recipe.batch
  const { objective } = entry.build({ hidden: [hidden], batch, dataMean: rbm.visibleMean(trainSet.x) }, [784])
  const data = arraySource(unlabelled, { batchSize: batch })
  const steps = PRETRAIN_EPOCHS * (data.batchesPerEpoch ?? 1)
  const t0 = performance.now()
  const last = await lastValueFrom(trainObjective(objective, optimizerOf(entry.recipe, steps), { data, epochs: PRETRAIN_EPOCHS, seed: SEED }))
  // Reconstruction error: squared error summed over pixels, mean over digits (the RBM's
  // loss; twice the autoencoder's euclidean('mean') loss).
  const err = (name === 'rbm' ? 1 : 2) * evaluate(objective, last.params, { x: testSet.x }).loss
  console.log(
    `${name} 784-${hidden}: ${PRETRAIN_EPOCHS} epochs, test reconstruction error ${err.toFixed(2)} (${((performance.now() - t0) / 1000).toFixed(1)}s)`,
  )
  return last.params
}

/** Test accuracy of softmax regression on the given representation of the digits. */
const classify = async (trainX: Tensor, testX: Tensor): Promise<number> => {
  const features = trainX.shape[1]
  const net = sequential(dense(10))
  const data = arraySource({ x: trainX, labels: trainSet.labels, classes: 10 }, { batchSize: 32 })
  const steps = EPOCHS * (data.batchesPerEpoch ?? 1)
  const last: Snapshot = await lastValueFrom(
    train(net, softmaxCrossEntropy(), momentum({ type: 'cosine', lr: 0.05, steps }, { momentum: 0.9 }), { data, epochs: EPOCHS, seed: SEED }),
  )
  const ev = evaluate(supervised(net, softmaxCrossEntropy(), [features]), last.params, { x: testX, labels: testSet.labels, classes: 10 })
  return ev.accuracy ?? NaN
}

console.log(`${trainSet.x.shape[0]} training digits, ${testSet.x.shape[0]} test digits`)
const rbmParams = await pretrain('rbm', 128)
const aeParams = await pretrain('autoencoder', 64)
const aeEncoder = aeParams as unknown as { W: Tensor; b: Tensor }

const pct = (a: number): string => `${(100 * a).toFixed(2)}%`
const rbmAcc = await classify(rbm.rbmFeatures(rbmParams, trainSet.x), rbm.rbmFeatures(rbmParams, testSet.x))
console.log(`softmax on RBM hidden probabilities (128), ${EPOCHS} epochs: test accuracy ${pct(rbmAcc)}`)
const aeAcc = await classify(zoo.encode(aeEncoder, trainSet.x), zoo.encode(aeEncoder, testSet.x))
console.log(`softmax on autoencoder codes (64), ${EPOCHS} epochs: test accuracy ${pct(aeAcc)}`)
const rawAcc = await classify(trainSet.x, testSet.x)
console.log(`softmax on raw pixels (784), ${EPOCHS} epochs: test accuracy ${pct(rawAcc)}`)
