// The pipeline-overhead baseline: the same objective.forward / objective.backward and the
// same SGD kernel as train(), called in a plain loop on the same batches (gather of the
// same fixed order), with no RxJS, no immer snapshots, no per-step metrics and the
// parameters updated in place. train() minus this loop is what the stream costs.

import type { Dataset, Sequential } from '../../src/node.ts'
import { key, training, trees } from '../../src/node.ts'
import { sgdStep } from '../../src/ops/optim.ts'
import { RUN_SEED } from '../data.ts'
import { initialState, objectiveOf } from '../gradstream.ts'

export interface BarePlan {
  readonly model: () => Sequential
  readonly lr: number
  readonly batch: number
  readonly train: Dataset
  readonly order: Int32Array
}

export interface BareLoop {
  /** Trains on the next batch of the fixed order (wrapping to the next epoch). */
  step(): void
  /** The parameters, flat (updated in place by every step). */
  readonly flat: Float32Array
}

/** A bare loop starting from the same initial parameters as train() with RUN_SEED. */
export const bareLoop = (plan: BarePlan): BareLoop => {
  const model = plan.model()
  const objective = objectiveOf(model)
  const s0 = initialState(model, plan.lr)
  // Our own copy of the initial parameters; `params` is a tree of views into it, so the
  // in-place SGD step below updates the tree too.
  const flat = Float32Array.from(s0.flat)
  const params = trees.unravel(s0.layout, flat)
  const grads = new Float32Array(flat.length)
  const fctx = { training: true, key: key(RUN_SEED) }
  const B = plan.batch
  const N = plan.order.length
  const perEpoch = Math.ceil(N / B)
  let e = 0
  let p = 0
  return {
    flat,
    step: () => {
      const batch = training.gather(plan.train, plan.order.subarray(p * B, Math.min(N, (p + 1) * B)), e, p)
      const fwd = objective.forward(params, null, batch, fctx)
      const { grads: g } = objective.backward(params, null, batch, fwd)
      trees.ravelInto(grads, s0.layout, g)
      sgdStep(flat, flat, grads, flat.length, plan.lr, 0)
      if (++p === perEpoch) [e, p] = [e + 1, 0]
    },
  }
}
