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
import type { AnyLayer, ForwardCtx, LayerSpec, LayerState } from './layer.ts'
import type { AnyLoss } from './loss.ts'
import { evaluationForward } from './predictor.ts'

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
  /** Evaluation-mode outputs of a batch of inputs (with the model state, e.g. batch norm's statistics). */
  predict(params: Params, x: Tensor, state?: M): Tensor
  /**
   * How the states of a sharded step's shards combine (streams/shards.ts): 'mean' is
   * their shard-size weighted mean, summed in shard order. Absent: a model with state
   * trains with one shard (an RBM's persistent chains are one per batch row).
   */
  readonly shardedState?: 'mean'
}

export type AnyObjective = Objective<unknown, unknown>

const evaluation: ForwardCtx = { training: false, key: { k0: 0, k1: 0 } }

interface SupervisedSaved {
  readonly layerSaved: unknown
  readonly lossSaved: unknown
  /** The layer's state after this forward (its input state when it returned none). */
  readonly state: LayerState | null
}

const layerObjective = (
  kind: 'supervised' | 'autoencoding',
  layer: AnyLayer,
  loss: AnyLoss,
  inShape: Shape,
): Objective<SupervisedSaved, LayerState | null> => {
  // Evaluation forwards in an arena of their own, y copied out (models/predictor.ts).
  const evaluate = evaluationForward(layer, evaluation)
  return {
    spec: { kind, inShape: [...inShape], layer: layer.spec as LayerSpec, loss: loss.spec as LayerSpec },
    inShape,
    task: kind === 'autoencoding' ? 'reconstruction' : loss.spec.type === 'softmax_cross_entropy' ? 'classification' : 'regression',
    // The layer's state (batch norm's running statistics) is the snapshot's modelState.
    init: (key) =>
      E.map((r: { params: Params; state?: LayerState }) => ({ params: r.params, state: r.state ?? null }))(layer.init(key, inShape)),
    forward: (params, state, batch, ctx) => {
      const { y, saved, state: next } = layer.forward(params, batch.x, ctx, state)
      const r = loss.forward(y, kind === 'autoencoding' ? batch.x : batch.y)
      return { loss: r.loss, outputs: y, saved: { layerSaved: saved, lossSaved: r.saved, state: next ?? state } }
    },
    backward: (params, _state, _batch, fwd) => {
      const dy = loss.vjp(fwd.saved.lossSaved)
      return { grads: layer.vjp(params, fwd.saved.layerSaved, dy).dparams, state: fwd.saved.state }
    },
    predict: (params, x, state) => evaluate(params, x, state ?? null),
    shardedState: 'mean',
  }
}

/** A network and a loss against the batch targets. */
export const supervised = (layer: AnyLayer, loss: AnyLoss, inShape: Shape): Objective<SupervisedSaved, LayerState | null> =>
  layerObjective('supervised', layer, loss, inShape)

/** A network trained to reproduce its input (autoencoders): the target is batch.x. */
export const autoencoding = (layer: AnyLayer, loss: AnyLoss, inShape: Shape): Objective<SupervisedSaved, LayerState | null> =>
  layerObjective('autoencoding', layer, loss, inShape)
