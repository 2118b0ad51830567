// A predictor: a model bound to one set of parameters (and state) for evaluation-mode
// forwards, the inference entry point (TF.js's `model.predict`, a jitted function in JAX).
//
//   const predict = predictor(model, snapshot.params)
//   const y = predict(x)            // = model.forward(params, x, evalCtx, state).y, same bits
//
// Binding the parameters once lets each call skip work a bare `model.forward` repeats:
//  - the layers' working arrays (activations, pooling indices) come from an arena of the
//    predictor's own (core/arena.ts), the same arrays every call, zeroed as fresh ones are,
//    and the output is copied out, so what a call returns is the caller's and no later
//    call touches it. A bare forward allocates every one afresh and returns `saved`, which
//    a predictor never needs: at batch 1 the allocations and the garbage collections they
//    bring cost as much as the arithmetic (W5: 75 -> 61-65 us per inference, warm).
//  - on the SIMD backend the parameters are copied once into a kernel instance's memory
//    (ops/resident.ts), where the batch-1 dense kernel reads them in place instead of
//    copying W in on every call.
// The parameters (and state) are copied at construction: a predictor answers with the
// values it was given, whatever happens to the caller's arrays later. Same bits as the
// bare forward on either backend (test/models/predictor.test.ts).

import { inArena, StepArena } from '../core/arena.ts'
import { GradstreamError } from '../core/errors.ts'
import type { Tensor } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import { copyTree, layoutOf, leaves, ravelInto, unravel } from '../core/tree.ts'
import { kernelBackend } from '../ops/backend.ts'
import { residentFloats } from '../ops/resident.ts'
import type { AnyLayer, ForwardCtx, LayerState } from './layer.ts'
import { evalCtx } from './layer.ts'

/** y = model(x) in evaluation mode, with the parameters the predictor was made with. */
export type Predictor = (x: Tensor) => Tensor

/**
 * The predictor's own copy of the parameters: on the SIMD backend, when every leaf is
 * float32, resident in a kernel instance's memory; otherwise fresh arrays. Scratch:
 * 2 max-leaf + 16 elements bound a batch-1 dense call's operands (its listed inputs,
 * their values and one output row: 2 I + O <= 2 |W| + 1).
 */
const ownCopy = (params: Params): Params => {
  const ls = leaves(params)
  if (kernelBackend() === 'simd' && ls.length > 0 && ls.every(([, t]) => t.data instanceof Float32Array)) {
    const layout = layoutOf(params)
    const maxLeaf = ls.reduce((m, [, t]) => Math.max(m, t.data.length), 0)
    const w = residentFloats(layout.size, 2 * maxLeaf + 16)
    if (w !== undefined) {
      ravelInto(w, layout, params)
      return unravel(layout, w)
    }
  }
  return copyTree(params)
}

/**
 * model.forward(params, x, ctx, state).y in an arena of its own, y copied out: what a
 * predictor runs, and the objectives' `predict` (evaluation over a test set: a quarter
 * less time for the W3 CNN on 2,000 images in chunks of 500, the chunk's activations no
 * longer allocated afresh). The arena keeps the largest call's arrays between calls. A
 * call made from inside another (a layer that predicts with the same function) gets
 * fresh arrays: the arena is in use by the outer call.
 */
export const evaluationForward = (model: AnyLayer, ctx: ForwardCtx = evalCtx): ((params: Params, x: Tensor, state: LayerState | null) => Tensor) => {
  const arena = new StepArena()
  let busy = false
  const copyOut = (y: Tensor): Tensor => ({ shape: [...y.shape], data: y.data.slice() })
  return (params, x, state) => {
    if (busy) return copyOut(model.forward(params, x, ctx, state).y)
    busy = true
    try {
      return inArena(arena, () => copyOut(model.forward(params, x, ctx, state).y))
    } finally {
      busy = false
    }
  }
}

/** A predictor for `model` with `params` (and `state`, for a stateful model such as batch norm). */
export const predictor = (model: AnyLayer, params: Params, state: LayerState | null = null): Predictor => {
  if (typeof model !== 'object' || model === null || typeof model.forward !== 'function')
    throw new GradstreamError(`predictor: expected a model (a layer with forward), got ${String(model)}`)
  if (typeof params !== 'object' || params === null)
    throw new GradstreamError(`predictor: expected the model's parameters (a tree of tensors), got ${String(params)}`)
  const bound = ownCopy(params)
  const ownState = state === null ? null : copyTree(state)
  const run = evaluationForward(model)
  return (x) => run(bound, x, ownState)
}
