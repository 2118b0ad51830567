// The W2-W5 networks written directly against TF.js ops, with their weights copied from
// gradstream's initial parameters: both systems start from the very same Glorot-uniform
// draw (zero biases), so their accuracies are comparable number for number, not only in
// distribution. Layouts already agree: dense W is [in, out], conv kernels are
// [kh, kw, inC, outC], images NHWC, and flattening NHWC is row-major in both.

import type { Params } from '../src/node.ts'
import { trees } from '../src/node.ts'
import type { Dataset } from '../src/node.ts'
import { accuracyOf, CLASSES, gatherRows, PIXELS } from './data.ts'
import { tf } from './tfjs.ts'

export interface TfNet {
  readonly vars: tf.Variable[]
  /** Logits [B, 10] of images [B, 28, 28, 1]. */
  logits(x: tf.Tensor4D): tf.Tensor2D
  dispose(): void
}

/** A trainable TF.js variable holding a copy of gradstream's leaf `path`. */
const variableOf = (params: Params, path: string): tf.Variable => {
  const t = trees.getLeaf(params, path)
  if (!t) throw new Error(`TF.js net: gradstream parameters have no leaf ${path}`)
  // Copy: TF.js must never write into gradstream's arrays (or the reverse). The
  // temporary tensor is freed by tidy; the variable (never freed by tidy) keeps the data.
  return tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(t.data), [...t.shape], 'float32')))
}

/** Names of the dense layers fc1..fcK present in params, in order. */
const denseNames = (params: Params): string[] => {
  const names: string[] = []
  for (let i = 1; trees.getLeaf(params, `fc${i}.W`) !== undefined; i++) names.push(`fc${i}`)
  if (names.length === 0) throw new Error('TF.js net: expected dense layers fc1, fc2, ... in the parameters')
  return names
}

const denseStack = (h: tf.Tensor2D, layers: ReadonlyArray<readonly [tf.Variable, tf.Variable]>): tf.Tensor2D => {
  let out = h
  layers.forEach(([W, b], i) => {
    const z = tf.add(tf.matMul(out, W as tf.Tensor2D), b) as tf.Tensor2D
    out = i < layers.length - 1 ? tf.relu(z) : z
  })
  return out
}

/** flatten -> [dense -> ReLU]* -> dense (the W2 and W4 MLPs). */
export const tfMlp = (params: Params): TfNet => {
  const layers = denseNames(params).map((n) => [variableOf(params, `${n}.W`), variableOf(params, `${n}.b`)] as const)
  return {
    vars: layers.flat(),
    logits: (x) => denseStack(tf.reshape(x, [x.shape[0], PIXELS]), layers),
    dispose: () => layers.flat().forEach((v) => v.dispose()),
  }
}

/** The W3 net: conv 5x5x8 -> ReLU -> pool -> conv 5x5x16 -> ReLU -> pool -> 256 -> 120 -> ReLU -> 10. */
export const tfCnn = (params: Params): TfNet => {
  const conv = (['conv1', 'conv2'] as const).map((n) => [variableOf(params, `${n}.k`), variableOf(params, `${n}.b`)] as const)
  const dense = (['fc1', 'fc2'] as const).map((n) => [variableOf(params, `${n}.W`), variableOf(params, `${n}.b`)] as const)
  const vars = [...conv.flat(), ...dense.flat()]
  return {
    vars,
    logits: (x) => {
      let h: tf.Tensor4D = x
      for (const [k, b] of conv) {
        const z = tf.add(tf.conv2d(h, k as tf.Tensor4D, 1, 'valid'), b) as tf.Tensor4D
        h = tf.maxPool(tf.relu(z), 2, 2, 'valid')
      }
      return denseStack(tf.reshape(h, [h.shape[0], -1]), dense)
    },
    dispose: () => vars.forEach((v) => v.dispose()),
  }
}

/**
 * One SGD step on a batch given as flat arrays. Wrapping the arrays as tensors happens
 * here, inside the timed region, as WORKLOADS.md asks. tf.tidy frees every
 * intermediate, so memory stays flat over thousands of steps.
 */
export const tfTrainStep = (net: TfNet, opt: tf.Optimizer, x: Float32Array, y: Float32Array, B: number): void => {
  tf.tidy(() => {
    const xs = tf.tensor4d(x, [B, 28, 28, 1])
    const ys = tf.tensor2d(y, [B, CLASSES])
    // Mean softmax cross-entropy over the batch (the default reduction), as in gradstream.
    opt.minimize(() => tf.losses.softmaxCrossEntropy(ys, net.logits(xs)) as tf.Scalar, false, net.vars)
  })
}

/** Predicted classes of B images (a separate forward pass and argmax). */
export const tfPredict = (net: TfNet, x: Float32Array, B: number): Int32Array => {
  const cls = tf.tidy(() => tf.argMax(net.logits(tf.tensor4d(x, [B, 28, 28, 1])), 1))
  const out = Int32Array.from(cls.dataSync())
  cls.dispose()
  return out
}

/** Softmax probabilities of one image, read out as plain numbers (W5). */
export const tfProbabilities = (net: TfNet, x: Float32Array): number[] => {
  const p = tf.tidy(() => tf.softmax(net.logits(tf.tensor4d(x, [1, 28, 28, 1]))))
  const out = Array.from(p.dataSync())
  p.dispose()
  return out
}

/** Test-set accuracy (evaluation is never timed). */
export const tfAccuracy = (net: TfNet, test: Dataset & { readonly labels: Int32Array }, chunk = 500): number => {
  const N = test.x.shape[0]
  const pred = new Int32Array(N)
  for (let i = 0; i < N; i += chunk) {
    const idx = Array.from({ length: Math.min(chunk, N - i) }, (_, r) => i + r)
    pred.set(tfPredict(net, gatherRows(test.x.data, idx, PIXELS), idx.length), i)
  }
  return accuracyOf(pred, test.labels)
}
