// Layers and losses rebuilt from their JSON specs (the conformance `layer` objects, and
// what checkpoints store). `layerFromSpec(layer.spec)` gives back an equivalent layer.
//
// Every layer type declares itself in its own file (define.ts, `defineLayer`); this
// module only makes sure the built-in ones are loaded, so a spec naming any of them
// rebuilds wherever this module is imported (workers, checkpoint loaders). A user's
// layer type is registered when the module declaring it is imported.

import * as E from 'fp-ts/lib/Either.js'
import { GradstreamError } from '../core/errors.ts'
import { buildLayer } from './define.ts'
import type { AnyLayer, LayerSpec } from './layer.ts'
import type { AnyLoss } from './loss.ts'
import { euclidean, softmaxCrossEntropy } from './loss.ts'
import './activations.ts'
import './autoencoder.ts'
import './batch-norm.ts'
import './conv1d.ts'
import './conv2d.ts'
import './dense.ts'
import './dropout.ts'
import './flatten.ts'
import './global-pool.ts'
import './parallel.ts'
import './pool.ts'
import './prelu.ts'
import './residual.ts'
import './rrelu.ts'
import './sequential.ts'
import './softmax.ts'
import './standardize-online.ts'
import './subsample.ts'
import './swish.ts'

export { defineLayer, drawsFromKey, layerType, layerTypes } from './define.ts'

const bad = (type: string, what: string, got: unknown): GradstreamError =>
  new GradstreamError(`${type} spec: expected ${what}, got ${JSON.stringify(got)}`)

const asSpec = (v: unknown): LayerSpec => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as { type?: unknown }).type !== 'string')
    throw new GradstreamError(`loss spec: expected an object with a string "type", got ${JSON.stringify(v)}`)
  return v as LayerSpec
}

/** The layer a spec describes, or a Left naming what is wrong with the spec. */
export const layerFromSpec = (spec: unknown): E.Either<GradstreamError, AnyLayer> =>
  E.tryCatch(
    () => buildLayer(spec),
    (e) => (e instanceof GradstreamError ? e : new GradstreamError(String(e))),
  )

/** The loss a spec describes ({type: 'softmax_cross_entropy'} or {type: 'euclidean', reduction}). */
export const lossFromSpec = (spec: unknown): E.Either<GradstreamError, AnyLoss> =>
  E.tryCatch(
    () => {
      const s = asSpec(spec)
      if (s.type === 'softmax_cross_entropy') {
        if ((s.reduction ?? 'mean') !== 'mean') throw bad(s.type, `"reduction" 'mean'`, s.reduction)
        return softmaxCrossEntropy() as AnyLoss
      }
      if (s.type === 'euclidean') {
        const r = s.reduction ?? 'mean'
        if (r !== 'sum' && r !== 'mean') throw bad(s.type, `"reduction" 'sum' or 'mean'`, r)
        return euclidean(r) as AnyLoss
      }
      throw bad('loss', `"type" 'softmax_cross_entropy' or 'euclidean'`, s.type)
    },
    (e) => (e instanceof GradstreamError ? e : new GradstreamError(String(e))),
  )
