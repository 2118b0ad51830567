// The training step as three pure functions, and as RxJS operators:
//
//   {snapshot, batch} --forwardStep--> Forwarded --backwardStep--> Backwarded --updateStep--> Snapshot
//
// trainStep is their composition; `fit` runs it as a scan over a minibatch stream, each
// step starting from the parameters of the previous snapshot. Nothing here mutates an
// input: gradients and new parameters are fresh arrays.

import type { OperatorFunction } from 'rxjs'
import { map, scan } from 'rxjs'
import type { AnyObjective, Batch, Forwarded } from '../models/objective.ts'
import type { Optimizer } from '../models/optimizers.ts'
import { argmaxRows } from '../core/tensor.ts'
import type { F, Tensor } from '../core/tensor.ts'
import { ravelInto, unravel } from '../core/tree.ts'
import type { Snapshot, StepMetrics } from './snapshot.ts'
import { forwardKey, makeSnapshot } from './snapshot.ts'
import { allFinite as allFiniteOp } from '../ops/finite.ts'
import { StepArena, inArena } from '../core/arena.ts'

export interface StepInput {
  readonly snapshot: Snapshot
  readonly batch: Batch
}

export interface ForwardResult extends StepInput {
  readonly fwd: Forwarded<unknown>
}

export interface BackwardResult extends StepInput {
  readonly loss: number
  readonly outputs: Tensor
  /** The gradient, flat, in the snapshot's layout. */
  readonly grads: Float32Array
  readonly modelState: unknown
  /** Whether every gradient entry is finite, when the producer already knows. */
  readonly finite?: boolean
}

/** Fraction of rows whose argmax matches the label. */
export const batchAccuracy = (outputs: Tensor, labels: Int32Array): number => {
  const pred = argmaxRows(outputs)
  let hit = 0
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) hit++
  return hit / pred.length
}

/** Whether every entry is finite (ops/finite.ts: one pass of sum x * 0, SIMD where it pays). */
export const allFinite = (d: F): boolean => allFiniteOp(d)

export const forwardStep =
  (objective: AnyObjective) =>
  ({ snapshot, batch }: StepInput): ForwardResult => ({
    snapshot,
    batch,
    fwd: objective.forward(snapshot.params, snapshot.modelState, batch, {
      training: true,
      key: forwardKey(snapshot.key, snapshot.step),
    }),
  })

export const backwardStep =
  (objective: AnyObjective) =>
  ({ snapshot, batch, fwd }: ForwardResult): BackwardResult => {
    const r = objective.backward(snapshot.params, snapshot.modelState, batch, fwd)
    const grads = new Float32Array(snapshot.flat.length)
    ravelInto(grads, snapshot.layout, r.grads)
    return { snapshot, batch, loss: fwd.loss, outputs: fwd.outputs, grads, modelState: r.state }
  }

/**
 * Applies the optimizer and makes the next snapshot. A non-finite loss or gradient
 * skips the update: parameters and optimizer state stay those of the last good
 * snapshot, and metrics.skipped says why.
 */
export const updateStep =
  (optimizer: Optimizer, classifies = true) =>
  ({ snapshot, batch, loss, outputs, grads, modelState, finite }: BackwardResult): Snapshot => {
    const B = batch.x.shape[0]
    const metrics: StepMetrics = {
      loss,
      samples: B,
      ...(classifies && batch.labels ? { accuracy: batchAccuracy(outputs, batch.labels) } : {}),
    }
    const position = {
      epoch: batch.epoch,
      position: batch.position + 1,
      endOfEpoch: false,
      seen: snapshot.seen + B,
    }
    const lr = optimizer.lr(snapshot.opt.step)
    if (!Number.isFinite(loss) || !(finite ?? allFinite(grads)))
      return makeSnapshot({
        ...snapshot,
        ...position,
        lr,
        metrics: { ...metrics, skipped: Number.isFinite(loss) ? 'non-finite gradient' : 'non-finite loss' },
      })
    // The optimizer sees the tensors (views of the flat buffers) and writes the next
    // values into fresh flat buffers: one for the parameters, one per slot.
    const { layout } = snapshot
    const fresh = (): Float32Array => new Float32Array(layout.size)
    const flat = fresh()
    const params = unravel(layout, flat)
    const slots = Object.fromEntries(Object.keys(snapshot.opt.slots).map((s) => [s, unravel(layout, fresh())]))
    const opt = optimizer.updateInto({ params, slots }, snapshot.params, unravel(layout, grads), snapshot.opt).state
    return makeSnapshot({
      ...snapshot,
      ...position,
      step: snapshot.step + 1,
      flat,
      params,
      opt,
      modelState,
      lr,
      metrics,
    })
  }

/**
 * forward, backward and update composed: one pure training step. The flat gradient lives
 * in a buffer private to this step function, reused from step to step (as in
 * shards.ts's shardedTrainStep): the optimizer reads it and writes fresh parameters, and
 * it never escapes, so no emitted value changes; a fresh 1 MB array per step costs page
 * faults and garbage collections. For the same reason the layers' own arrays (outputs,
 * saved inputs, gradients) come from a step arena (core/arena.ts), as in a shard: of
 * what they allocate only the outputs leave forward and backward, and the update reads
 * them (the batch's accuracy) before the next step reuses them. A model with state keeps
 * allocating: its next state leaves the step in the snapshot. The operators below
 * (backward) still emit fresh arrays.
 */
export const trainStep = (objective: AnyObjective, optimizer: Optimizer): ((input: StepInput) => Snapshot) => {
  const forwardOf = forwardStep(objective)
  const update = updateStep(optimizer, objective.task === 'classification')
  const arena = new StepArena()
  let grads = new Float32Array(0)
  const pass = (input: StepInput): BackwardResult => {
    const { snapshot, batch, fwd } = forwardOf(input)
    const r = objective.backward(snapshot.params, snapshot.modelState, batch, fwd)
    ravelInto(grads, snapshot.layout, r.grads)
    return { snapshot, batch, loss: fwd.loss, outputs: fwd.outputs, grads, modelState: r.state }
  }
  return (input) => {
    if (grads.length !== input.snapshot.flat.length) grads = new Float32Array(input.snapshot.flat.length)
    if (input.snapshot.modelState !== null) return update(pass(input))
    const r = inArena(arena, () => pass(input))
    // A stateless model whose step made a state: it must not live in the arena.
    return update(r.modelState == null ? r : { ...r, modelState: structuredClone(r.modelState) })
  }
}

/** The steps as operators, for pipelines that want to observe between them. */
export const forward = (objective: AnyObjective): OperatorFunction<StepInput, ForwardResult> => map(forwardStep(objective))
export const backward = (objective: AnyObjective): OperatorFunction<ForwardResult, BackwardResult> =>
  map(backwardStep(objective))
export const update = (optimizer: Optimizer): OperatorFunction<BackwardResult, Snapshot> => map(updateStep(optimizer))

/**
 * Training as a scan over minibatches: each batch is trained on from the previous
 * snapshot's parameters. The last batch of an epoch is marked when the source knows
 * its epoch length (`batchesPerEpoch`).
 */
export const fit = (
  objective: AnyObjective,
  optimizer: Optimizer,
  initial: Snapshot,
  batchesPerEpoch?: number,
  step: (input: StepInput) => Snapshot = trainStep(objective, optimizer),
): OperatorFunction<Batch, Snapshot> =>
  scan((snapshot: Snapshot, batch: Batch) => {
    const next = step({ snapshot, batch })
    return batchesPerEpoch !== undefined && next.position === batchesPerEpoch
      ? makeSnapshot({ ...next, endOfEpoch: true })
      : next
  }, initial)
