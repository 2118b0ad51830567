// The fixed MNIST split (../shared/WORKLOADS.md) on digits already in memory: for each
// digit d, its samples 0-799 are train (index d*800 + k: 8,000, balanced), all its
// remaining samples are test (concatenated in digit order). No file access: io/mnist.ts
// reads the `mnist` package's files in Node, a browser page hands in the same arrays.

import { GradstreamError } from '../core/errors.ts'
import type { Dataset } from '../core/data.ts'

export const MNIST_TRAIN_PER_CLASS = 800
export const MNIST_PIXELS = 784
const PIXELS = MNIST_PIXELS

export interface MnistSplit {
  /** 8,000 images [N, 28, 28, 1] (NHWC), labels 0-9, 800 per class in digit order. */
  readonly train: Dataset
  /** 2,000 images: every digit's samples after its first 800, in digit order. */
  readonly test: Dataset
  /** Images per digit in the package (1001, 1127, 991, ...). */
  readonly counts: readonly number[]
}

const dataset = (x: Float32Array, labels: number[]): Dataset => ({
  x: { shape: [labels.length, 28, 28, 1], data: x },
  labels: Int32Array.from(labels),
  classes: 10,
})

/** Splits ten arrays of digit images (digit d's images, count x 784 floats in [0, 1]). */
export const mnistSplit = (digits: readonly Float32Array[]): MnistSplit => {
  if (digits.length !== 10) throw new GradstreamError(`mnist: expected 10 arrays of digit images, got ${digits.length}`)
  for (const [d, a] of digits.entries())
    if (a.length % PIXELS !== 0) throw new GradstreamError(`mnist: expected digit ${d}'s images to hold a multiple of 784 values, got ${a.length}`)
  const counts = digits.map((a) => a.length / PIXELS)
  for (const [d, c] of counts.entries())
    if (c < MNIST_TRAIN_PER_CLASS)
      throw new GradstreamError(`mnist: expected at least ${MNIST_TRAIN_PER_CLASS} images of digit ${d}, got ${c}`)
  const nTrain = 10 * MNIST_TRAIN_PER_CLASS
  const nTest = counts.reduce((a, c) => a + c - MNIST_TRAIN_PER_CLASS, 0)
  const trainX = new Float32Array(nTrain * PIXELS)
  const testX = new Float32Array(nTest * PIXELS)
  const trainY: number[] = []
  const testY: number[] = []
  let t = 0
  digits.forEach((a, d) => {
    trainX.set(a.subarray(0, MNIST_TRAIN_PER_CLASS * PIXELS), d * MNIST_TRAIN_PER_CLASS * PIXELS)
    for (let k = 0; k < MNIST_TRAIN_PER_CLASS; k++) trainY.push(d)
    const rest = a.subarray(MNIST_TRAIN_PER_CLASS * PIXELS)
    testX.set(rest, t * PIXELS)
    t += rest.length / PIXELS
    for (let k = 0; k < rest.length / PIXELS; k++) testY.push(d)
  })
  return { train: dataset(trainX, trainY), test: dataset(testX, testY), counts }
}

/** The same data with each image flattened to 784 features (for MLPs). */
export const flattenImages = (ds: Dataset): Dataset => ({
  ...ds,
  x: { shape: [ds.x.shape[0], ds.x.data.length / ds.x.shape[0]], data: ds.x.data },
})
