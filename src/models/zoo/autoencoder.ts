// The zoo's tied-weight autoencoder (deep-learning-lecture-notes eqs 55-60), and
// pretraining: an MLP whose first dense layer starts as a trained encoder.
//
// Loss: euclidean('mean') = 1/2 sum (r - x)^2 / B (eq 59 averaged over the batch), so
// the learning rate does not depend on the batch size.

import * as E from 'fp-ts/lib/Either.js'
import { LayerError } from '../../core/errors.ts'
import { sigmoidForward } from '../../ops/activations.ts'
import { gemm } from '../../ops/gemm.ts'
import type { Key } from '../../core/rng.ts'
import type { Shape, Tensor } from '../../core/tensor.ts'
import { alloc, dtypeOf, shapeEquals, showShape, size } from '../../core/tensor.ts'
import type { Params } from '../../core/tree.ts'
import { tiedAutoencoder } from '../autoencoder.ts'
import { flattenedInputs } from '../flattened-inputs.ts'
import { euclidean } from '../loss.ts'
import type { AnyObjective } from '../objective.ts'
import { autoencoding } from '../objective.ts'
import type { Sequential } from '../sequential.ts'

export interface AutoencoderZooOptions {
  /** Hidden units (default 64). */
  readonly hidden?: number
  /** Masking-noise probability of the denoising variant (default 0). */
  readonly corruption?: number
}

/**
 * The autoencoder on inputs of any per-sample shape (e.g. [28, 28, 1] digits): each
 * sample is read as a vector of size(inShape) values (a reshape: no copy).
 */
export const autoencoder = (o: AutoencoderZooOptions, inShape: Shape): AnyObjective => {
  const m = size(inShape)
  const inner = autoencoding(tiedAutoencoder({ hidden: o.hidden ?? 64, corruption: o.corruption ?? 0 }), euclidean('mean'), [m]) as AnyObjective
  return inShape.length === 1 ? inner : flattenedInputs(inner, inShape)
}


/** A dense layer's parameters: what a pretrained encoder (autoencoder or RBM) provides. */
export interface DenseInit {
  readonly W: Tensor
  readonly b: Tensor
}

/**
 * Parameters for `layer` (e.g. mlp({ hidden: [64], activation: 'sigmoid' })) from
 * init(key), except its first dense layer, which is exactly the encoder's W [in, n] and
 * b [n] (the same arrays: nothing is copied here; training copies into its own buffer).
 * For the autoencoder pass encoderParams(p); for an RBM, { W: p.W, b: p.b }.
 */
export const withPretrainedFirstLayer = (
  layer: Sequential,
  inShape: Shape,
  key: Key,
  encoder: DenseInit,
): E.Either<LayerError, Params> => {
  const first = layer.children.find((c) => c.layer.spec.type === 'dense')
  if (first === undefined) return E.left(new LayerError('pretrain', 'expected a network with a dense layer'))
  return E.chain(({ params }: { params: Params }) => {
    const old = params[first.name] as { W: Tensor; b: Tensor }
    if (!shapeEquals(old.W.shape, encoder.W.shape) || !shapeEquals(old.b.shape, encoder.b.shape))
      return E.left(
        new LayerError(
          'pretrain',
          `expected an encoder with W ${showShape(old.W.shape)} and b ${showShape(old.b.shape)} for ${first.name}, ` +
            `got W ${showShape(encoder.W.shape)} and b ${showShape(encoder.b.shape)}`,
        ),
      )
    return E.right({ ...params, [first.name]: { W: encoder.W, b: encoder.b } })
  })(layer.init(key, inShape))
}

/** The codes sigma(x W + b) [B, n] of x [B, ...] (eq 55): an encoder's features. */
export const encode = (p: DenseInit, x: Tensor): Tensor => {
  const [m, n] = p.W.shape
  const B = x.shape[0]
  if (x.shape.length < 2 || !(B >= 1) || size(x.shape.slice(1)) !== m)
    throw new LayerError('encode', `expected input of shape [B, ...] with ${m} values per sample, got ${showShape(x.shape)}`)
  const h = alloc(dtypeOf(x.data), B * n)
  gemm(h, x.data, p.W.data, B, n, m)
  for (let r = 0; r < B; r++) for (let j = 0; j < n; j++) h[r * n + j] += p.b.data[j]
  sigmoidForward(h, h, B * n)
  return { shape: [B, n], data: h }
}
