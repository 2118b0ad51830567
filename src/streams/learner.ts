// A learner: predict-then-learn on small batches from a starting snapshot (online.ts
// drives it; DESIGN.md, "Online learning"). One implementation for every model and
// every optimizer: the step is the objective's forward and backward and the optimizer's
// rule, exactly as in train() (steps.ts), and bit-identical to it (tested for SGD,
// momentum, Adam and a conv net).
//
// Purity, judged from outside. The learner owns a private working copy of the flat
// parameters and of the optimizer's slots, and the optimizer writes the next values over
// them (Optimizer.updateInPlace: the same rule as update, element i read before it is
// written). Nothing outside ever holds those arrays: `snapshot()` copies them into a
// fresh immutable Snapshot, once per emitted snapshot, so no emitted snapshot ever
// changes, and a step costs no allocation of parameter-sized arrays beyond the gradients
// the layers return. (The batch-1 speed that used to need a fused dense+SGD kernel comes
// from this, and from the dense kernels skipping zero inputs: ops/dense.ts.)

import { GradstreamError } from '../core/errors.ts'
import type { Batch } from '../core/data.ts'
import type { OptState } from '../core/opt-state.ts'
import type { Snapshot, StepMetrics } from '../core/snapshot.ts'
import { makeSnapshot } from '../core/snapshot.ts'
import { rowValuesFinite, sparseRowsOf } from '../core/row-hint.ts'
import type { Tensor } from '../core/tensor.ts'
import { argmaxRows, size } from '../core/tensor.ts'
import { copyTree, leaves, unravel } from '../core/tree.ts'
import type { AnyObjective } from '../models/objective.ts'
import type { Optimizer } from '../models/optimizers.ts'
import { forwardKey } from './snapshot.ts'
import { warmUpKernels } from '../ops/warm-up.ts'
import { kernelBackend } from '../ops/backend.ts'
import { residentFloats } from '../ops/resident.ts'
import { allFinite, batchAccuracy } from './steps.ts'

export interface LearnOutcome {
  /** Loss of the batch before the update (the prequential loss). */
  readonly loss: number
  /** Correct predictions in the batch (made before the update); NaN without classes. */
  readonly hits: number
  readonly skipped?: 'non-finite loss' | 'non-finite gradient'
  /** A regressor's predictions of the batch (made before the update), k * outputs. */
  readonly predictions?: ArrayLike<number>
  /** A classifier's predicted classes of the batch (made before the update), k. */
  readonly predicted?: Int32Array
}

/**
 * Predict-then-learn on batches, from a starting snapshot. A learner owns private
 * working state; `snapshot()` returns an immutable Snapshot of the current state (the
 * same object until the next `learn`).
 */
export interface Learner {
  /** Output classes of a classifier (0 otherwise). */
  readonly classes: number
  /** Outputs per example of a regressor (0 otherwise). */
  readonly outputs?: number
  /**
   * x: k examples, flat (k * features); labels: their classes (classifiers); targets: a
   * regressor's targets, flat (k * outputs).
   */
  learn(x: Float32Array, labels: Int32Array | undefined, k: number, targets?: Float32Array): LearnOutcome
  /** Evaluation-mode outputs of k examples with the current parameters and state (nothing changes). */
  predict?(x: Float32Array, k: number): Tensor
  snapshot(): Snapshot
}

/** Whether a gradient is finite: of a row-sparse one only its rows are judged (the rest is +0; core/row-hint.ts). */
const gradientFinite = (g: Tensor): boolean => {
  const rows = sparseRowsOf(g)
  return rows !== undefined ? rowValuesFinite(rows, allFinite) : allFinite(g.data)
}

/**
 * The learner's working copy of the flat parameters. On the SIMD backend it is resident in
 * a kernel instance's memory (ops/resident.ts), where the batch-1 kernels update it in
 * place; the bits are those of the TypeScript kernels either way. Scratch: 2n + 16 elements
 * bound every batch-1 call's operands (2 rows + row length <= 2 size + 1 for any tensor).
 */
const workingCopy = (flat: Float32Array): Float32Array => {
  const w = kernelBackend() === 'simd' ? residentFloats(flat.length, 2 * flat.length + 16) : undefined
  if (w === undefined) return Float32Array.from(flat)
  w.set(flat)
  return w
}

const copySlots = (s: OptState['slots']): OptState['slots'] =>
  Object.fromEntries(Object.entries(s).map(([name, tree]) => [name, copyTree(tree)]))

/**
 * The learner of an objective and optimizer from `initial`. `noisyTraining`: the training
 * forward draws noise (RReLU slopes, corruption), so predictions use a separate
 * evaluation-mode forward; otherwise the training forward's outputs are the predictions.
 */
export const learner = (objective: AnyObjective, optimizer: Optimizer, initial: Snapshot, noisyTraining: boolean): Learner => {
  warmUpKernels()
  const classifies = objective.task === 'classification'
  const sample = objective.inShape
  const layout = initial.layout
  // The private working state: the parameters (one flat buffer, per-tensor views) and
  // the optimizer's slots.
  const work = workingCopy(initial.flat)
  const params = unravel(layout, work)
  let opt: OptState = { step: initial.opt.step, slots: copySlots(initial.opt.slots) }
  // Whether every working parameter is finite: lets the optimizer skip the rows of a
  // row-hinted gradient where its rule is the identity (ops/optim.ts, sgdRowsInPlace).
  let paramsFinite = allFinite(work)
  let modelState = initial.modelState
  let step = initial.step
  let seen = initial.seen
  let position = initial.position
  let lr = initial.lr
  let metrics: StepMetrics = initial.metrics
  let current: Snapshot | undefined = initial

  const classes = classifies
    ? (() => {
        const out = objective.predict(params, { shape: [1, ...sample], data: new Float32Array(size(sample)) }, modelState)
        return out.shape[out.shape.length - 1]
      })()
    : 0

  // A regressor's outputs per example (its targets' width).
  const regresses = objective.task === 'regression'
  const outputs = regresses ? size(objective.predict(params, { shape: [1, ...sample], data: new Float32Array(size(sample)) }, modelState).shape.slice(1)) : 0

  const batchOf = (x: Float32Array, labels: Int32Array | undefined, k: number, targets?: Float32Array): Batch => {
    const xs: Tensor = { shape: [k, ...sample], data: x }
    if (regresses && targets !== undefined) return { x: xs, y: { shape: [k, outputs], data: targets }, epoch: initial.epoch, position }
    if (!classifies) return { x: xs, y: xs, epoch: initial.epoch, position }
    if (labels === undefined) throw new GradstreamError('online: expected labels for a classifier')
    const t = new Float32Array(k * classes)
    for (let i = 0; i < k; i++) t[i * classes + labels[i]] = 1
    return { x: xs, y: { shape: [k, classes], data: t }, labels, epoch: initial.epoch, position }
  }

  return {
    classes,
    outputs,
    learn: (x, labels, k, targets) => {
      const batch = batchOf(x, labels, k, targets)
      const fwd = objective.forward(params, modelState, batch, { training: true, key: forwardKey(initial.key, step) })
      let hits = NaN
      let pred: Int32Array | undefined
      if (classifies && labels !== undefined) {
        pred = argmaxRows(noisyTraining ? objective.predict(params, batch.x, modelState) : fwd.outputs)
        hits = 0
        for (let i = 0; i < k; i++) if (pred[i] === labels[i]) hits++
      }
      const predictions = regresses && targets !== undefined ? (noisyTraining ? objective.predict(params, batch.x, modelState) : fwd.outputs).data : undefined
      const m: StepMetrics = {
        loss: fwd.loss,
        samples: k,
        ...(classifies && batch.labels ? { accuracy: batchAccuracy(fwd.outputs, batch.labels) } : {}),
      }
      lr = optimizer.lr(opt.step)
      seen += k
      position++
      current = undefined
      let skipped: LearnOutcome['skipped']
      if (!Number.isFinite(fwd.loss)) skipped = 'non-finite loss'
      else {
        // The gradient tree goes to the optimizer as the layers returned it (fresh arrays,
        // with their rows hints: core/row-hint.ts).
        const r = objective.backward(params, modelState, batch, fwd)
        if (!leaves(r.grads).every(([, g]) => gradientFinite(g))) skipped = 'non-finite gradient'
        else {
          const u = optimizer.updateInto({ params, slots: opt.slots }, params, r.grads, opt, paramsFinite)
          opt = u.state
          // Unwritten parameters are unchanged, so all stay finite iff the written ones are.
          paramsFinite = paramsFinite && u.finite
          modelState = r.state
          step++
        }
      }
      metrics = skipped === undefined ? m : { ...m, skipped }
      return { loss: fwd.loss, hits, skipped, ...(predictions !== undefined ? { predictions } : {}), ...(pred !== undefined ? { predicted: pred } : {}) }
    },
    predict: (x, k) => objective.predict(params, { shape: [k, ...sample], data: x }, modelState),
    snapshot: () => {
      if (current !== undefined) return current
      current = makeSnapshot({
        step,
        epoch: initial.epoch,
        position,
        endOfEpoch: false,
        seen,
        flat: work.slice(),
        layout,
        opt: { step: opt.step, slots: copySlots(opt.slots) },
        modelState,
        key: initial.key,
        lr,
        metrics,
      })
      return current
    },
  }
}
