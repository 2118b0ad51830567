// Losses: a scalar of (prediction, target), and its gradient w.r.t. the prediction.
//   softmaxCrossEntropy: fused, on logits (cnn-layers-softmax eqs 13-15), batch mean.
//   euclidean: 1/2 sum (x - t)^2 (deep-learning-lecture-notes eq 11), 'sum' or 'mean'
//              ('mean' divides by the batch size B, not the element count).

import { LayerError } from '../core/errors.ts'
import { euclideanBackward, euclideanForward } from '../ops/euclidean.ts'
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from '../ops/softmax.ts'
import type { Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, shapeEquals, showShape } from '../core/tensor.ts'
import type { LayerSpec } from './layer.ts'

export interface LossResult<S> {
  readonly loss: number
  readonly saved: S
  /** Auxiliary outputs (e.g. `probs` for cross-entropy). */
  readonly aux: { readonly [name: string]: Tensor }
}

export interface Loss<S = unknown> {
  readonly spec: LayerSpec
  forward(prediction: Tensor, target: Tensor): LossResult<S>
  /** Gradient w.r.t. the prediction, times the loss cotangent dL (default 1). */
  vjp(saved: S, dL?: number): Tensor
}

export type AnyLoss = Loss<unknown>

const checkPair = (name: string, x: Tensor, t: Tensor): void => {
  if (x.shape.length < 1 || x.shape[0] < 1)
    throw new LayerError(name, `expected a prediction of shape [B, ...], got ${showShape(x.shape)}`)
  if (!shapeEquals(x.shape, t.shape))
    throw new LayerError(name, `expected a target of shape ${showShape(x.shape)} (the prediction's), got ${showShape(t.shape)}`)
}

export interface SceSaved {
  readonly probs: Tensor
  readonly target: Tensor
}

/** Softmax cross-entropy on logits [B, C] against one-hot or soft targets [B, C]. */
export const softmaxCrossEntropy = (): Loss<SceSaved> => {
  const name = 'softmax_cross_entropy'
  return {
    spec: { type: name, reduction: 'mean' },
    forward: (x, target) => {
      checkPair(name, x, target)
      if (x.shape.length !== 2) throw new LayerError(name, `expected logits of shape [B, C], got ${showShape(x.shape)}`)
      const [B, C] = x.shape
      const p = alloc(dtypeOf(x.data), B * C)
      const loss = softmaxCrossEntropyForward(p, x.data, target.data, B, C)
      const probs = { shape: x.shape, data: p }
      return { loss, saved: { probs, target }, aux: { probs } }
    },
    vjp: ({ probs, target }, dL = 1) => {
      const [B, C] = probs.shape
      const dx = alloc(dtypeOf(probs.data), B * C)
      softmaxCrossEntropyBackward(dx, probs.data, target.data, B, C, dL)
      return { shape: probs.shape, data: dx }
    },
  }
}

export interface EuclideanSaved {
  readonly x: Tensor
  readonly target: Tensor
}

export type Reduction = 'sum' | 'mean'

/** 1/2 sum (x - t)^2 over batch and units; 'mean' divides by the batch size. */
export const euclidean = (reduction: Reduction = 'mean'): Loss<EuclideanSaved> => {
  const name = 'euclidean'
  if (reduction !== 'sum' && reduction !== 'mean')
    throw new LayerError(name, `expected reduction 'sum' or 'mean', got ${String(reduction)}`)
  const div = (x: Tensor): number => (reduction === 'mean' ? x.shape[0] : 1)
  return {
    spec: { type: name, reduction },
    forward: (x, target) => {
      checkPair(name, x, target)
      return { loss: euclideanForward(x.data, target.data, x.data.length) / div(x), saved: { x, target }, aux: {} }
    },
    vjp: ({ x, target }, dL = 1) => {
      const dx = alloc(dtypeOf(x.data), x.data.length)
      euclideanBackward(dx, x.data, target.data, dx.length, dL / div(x))
      return { shape: x.shape, data: dx }
    },
  }
}
