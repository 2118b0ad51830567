// What training needs of a model: parameters from a key, and for a minibatch the loss,
// the gradient tree and the outputs. `supervised(layer, loss)` covers every network of
// the notes (target = the batch's y), `autoencoding(layer, loss)` trains against the
// input itself; the RBM provides its own (CD statistics as the gradient).
//
// forward and backward are separate pure functions so the training stream can run
// them as separate steps (streams/steps.ts).

import * as E from 'fp-ts/lib/Either.js'
import type { Batch } from '../core/data.ts'
import type { LayerError } from '../core/errors.ts'
import type { Key } from '../core/rng.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import type { AnyLayer, ForwardCtx, LayerSpec } from './layer.ts'
import type { AnyLoss } from './loss.ts'

export type { Batch } from '../core/data.ts'

/** A JSON description of a model: enough to rebuild it (checkpoints store it). */
export interface ModelSpec {
  readonly kind: string
  readonly inShape: readonly number[]
  readonly [k: string]: unknown
}

export interface Forwarded<S> {
  readonly loss: number
  /** The network's outputs on the batch (logits for classifiers). */
  readonly outputs: Tensor
  readonly saved: S
}

/** What the outputs mean: class scores (accuracy applies) or anything else. */
export type Task = 'classification' | 'regression' | 'reconstruction'

export interface Objective<S = unknown, M = null> {
  readonly spec: ModelSpec
  readonly inShape: Shape
  readonly task: Task
  /** Fresh parameters and model state (e.g. persistent chains) from a key. */
  init(key: Key): E.Either<LayerError, { params: Params; state: M }>
  forward(params: Params, state: M, batch: Batch, ctx: ForwardCtx): Forwarded<S>
  backward(params: Params, state: M, batch: Batch, fwd: Forwarded<S>): { grads: Params; state: M }
  /** Evaluation-mode outputs of a batch of inputs. */
  predict(params: Params, x: Tensor): Tensor
}

export type AnyObjective = Objective<unknown, unknown>

const evaluation: ForwardCtx = { training: false, key: { k0: 0, k1: 0 } }

interface SupervisedSaved {
  readonly layerSaved: unknown
  readonly lossSaved: unknown
}

const layerObjective = (
  kind: 'supervised' | 'autoencoding',
  layer: AnyLayer,
  loss: AnyLoss,
  inShape: Shape,
): Objective<SupervisedSaved, null> => ({
  spec: { kind, inShape: [...inShape], layer: layer.spec as LayerSpec, loss: loss.spec as LayerSpec },
  inShape,
  task: kind === 'autoencoding' ? 'reconstruction' : loss.spec.type === 'softmax_cross_entropy' ? 'classification' : 'regression',
  init: (key) => E.map((r: { params: Params }) => ({ params: r.params, state: null }))(layer.init(key, inShape)),
  forward: (params, _state, batch, ctx) => {
    const { y, saved } = layer.forward(params, batch.x, ctx)
    const r = loss.forward(y, kind === 'autoencoding' ? batch.x : batch.y)
    return { loss: r.loss, outputs: y, saved: { layerSaved: saved, lossSaved: r.saved } }
  },
  backward: (params, state, _batch, fwd) => {
    const dy = loss.vjp(fwd.saved.lossSaved)
    return { grads: layer.vjp(params, fwd.saved.layerSaved, dy).dparams, state }
  },
  predict: (params, x) => layer.forward(params, x, evaluation).y,
})

/** A network and a loss against the batch targets. */
export const supervised = (layer: AnyLayer, loss: AnyLoss, inShape: Shape): Objective<SupervisedSaved, null> =>
  layerObjective('supervised', layer, loss, inShape)

/** A network trained to reproduce its input (autoencoders): the target is batch.x. */
export const autoencoding = (layer: AnyLayer, loss: AnyLoss, inShape: Shape): Objective<SupervisedSaved, null> =>
  layerObjective('autoencoding', layer, loss, inShape)
