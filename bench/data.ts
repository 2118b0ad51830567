// The data every system trains on (WORKLOADS.md, "Data"): the fixed MNIST split of
// loadMnist and one seeded Fisher-Yates order of the 8,000 training samples, used every
// epoch and by every system. All of it is loaded before any timing starts; only
// wrapping a batch as a system's input is timed (gather* below, called inside loops).

import type { Dataset } from '../src/node.ts'
import { key, loadMnist, random } from '../src/node.ts'

/** Seed of the training order (the same order for every system and epoch). */
export const ORDER_SEED = 0
/** Seed of every gradstream run key; TF.js copies the initial weights it produces. */
export const RUN_SEED = 0

export const PIXELS = 784
export const CLASSES = 10

export interface BenchData {
  /** 8,000 images [N, 28, 28, 1], labels 0-9. */
  readonly train: Dataset & { readonly labels: Int32Array }
  /** 2,000 images. */
  readonly test: Dataset & { readonly labels: Int32Array }
  /** permutation(key(ORDER_SEED), 8000): the order of every epoch. */
  readonly order: Int32Array
}

const withLabels = (ds: Dataset, what: string): Dataset & { readonly labels: Int32Array } => {
  if (!ds.labels) throw new Error(`bench data: expected the ${what} split to have labels`)
  return { ...ds, labels: ds.labels }
}

export const loadBenchData = (): BenchData => {
  const { train, test } = loadMnist()
  const n = train.x.shape[0]
  return { train: withLabels(train, 'train'), test: withLabels(test, 'test'), order: random.permutation(key(ORDER_SEED), n) }
}

/**
 * The first `samples` samples of the fixed order as their own data set, in that order
 * (used when a run covers fewer than 8,000 samples per epoch: --quick). With all
 * samples it is the data set and order unchanged, so the real pipeline sees exactly
 * arraySource(train, { order }).
 */
export const orderedSubset = (
  data: BenchData,
  samples: number,
): { readonly train: Dataset; readonly order: Int32Array } => {
  const n = data.order.length
  if (samples === n) return { train: data.train, order: data.order }
  if (!(Number.isInteger(samples) && samples > 0 && samples < n))
    throw new Error(`orderedSubset: expected 1..${n} samples, got ${samples}`)
  const idx = data.order.subarray(0, samples)
  return {
    train: {
      x: { shape: [samples, ...data.train.x.shape.slice(1)], data: gatherRows(data.train.x.data, idx, PIXELS) },
      labels: Int32Array.from(idx, (i) => data.train.labels[i]),
      classes: CLASSES,
    },
    order: Int32Array.from({ length: samples }, (_, i) => i),
  }
}

/** Rows idx of a row-major [N, S] array, copied into one new Float32Array. */
export const gatherRows = (x: Float32Array | Float64Array, idx: ArrayLike<number>, S: number): Float32Array => {
  const out = new Float32Array(idx.length * S)
  for (let r = 0; r < idx.length; r++) out.set(x.subarray(idx[r] * S, (idx[r] + 1) * S), r * S)
  return out
}

/** One-hot rows [B, C] of the labels of samples idx. */
export const oneHotRows = (labels: Int32Array, idx: ArrayLike<number>, C: number = CLASSES): Float32Array => {
  const out = new Float32Array(idx.length * C)
  for (let r = 0; r < idx.length; r++) out[r * C + labels[idx[r]]] = 1
  return out
}

/** Fraction of rows of predicted class indices equal to the labels. */
export const accuracyOf = (pred: ArrayLike<number>, labels: ArrayLike<number>): number => {
  let hit = 0
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) hit++
  return hit / pred.length
}
