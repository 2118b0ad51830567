// batchNorm(): batch normalisation over the last axis ([B, F] features or NHWC channels),
// ops/batch-norm.ts, with PyTorch's conventions so models and numbers carry over:
//   training    normalise with the batch mean and the BIASED batch variance, and update
//               the running statistics with momentum m (default 0.1):
//                 running_mean = (1 - m) running_mean + m mean
//                 running_var  = (1 - m) running_var  + m var * N / (N - 1)   (UNBIASED)
//   evaluation  normalise with the running statistics.
// eps = 1e-5 inside the square root; gamma (ones) and beta (zeros) are parameters;
// running_mean (zeros) and running_var (ones) are the layer's STATE (layer.ts): they
// live in the snapshot beside the parameters, and no optimizer ever touches them.
// A training forward without a state (e.g. gradCheck) normalises and updates nothing.
//
// Sharded steps (streams/shards.ts): each microbatch shard normalises with its own
// statistics (as PyTorch's DataParallel does), and the next state is the shard-size
// weighted mean of the shards' next states, summed in shard order: independent of the
// thread count (README, "Layer state").

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import type { F, Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, full, showShape } from '../core/tensor.ts'
import { batchNormBackwardInput, batchNormBackwardParams, batchNormForward, batchNormStats } from '../ops/batch-norm.ts'
import { defineLayer } from './define.ts'
import type { Layer, LayerState } from './layer.ts'
import { checkCotangent, checkSameDtype, expectNumber, expectValidShape, unwrap } from './layer.ts'
import { withLazyDx } from './lazy.ts'

export interface BatchNormOptions {
  /** Weight of the batch statistic in the running update (default 0.1, PyTorch's). */
  readonly momentum?: number
  /** Added to the variance inside the square root (default 1e-5). */
  readonly eps?: number
}

export type BatchNormParams = { readonly gamma: Tensor; readonly beta: Tensor }
export type BatchNormState = { readonly mean: Tensor; readonly var: Tensor }

export interface BatchNormSaved {
  readonly shape: readonly number[]
  readonly xhat: F
  readonly invStd: Float64Array
  readonly training: boolean
}

const name = 'batch_norm'

const isBnState = (s: LayerState | null | undefined): s is BatchNormState =>
  s != null && typeof s.mean === 'object' && 'data' in s.mean && typeof s.var === 'object' && 'data' in s.var

const create = (options: BatchNormOptions = {}): Layer<BatchNormParams, BatchNormSaved> => {
  const momentum = options.momentum ?? 0.1
  const eps = options.eps ?? 1e-5
  const hyper = pipe(
    expectNumber(name, 'momentum', momentum, (v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
    E.chain(() => expectNumber(name, 'eps', eps, (v) => v > 0, 'a positive number')),
  )
  const channels = (p: BatchNormParams, x: Tensor): [number, number] => {
    unwrap(hyper)
    const C = p.gamma.shape[0]
    if (x.shape.length < 2 || x.shape[x.shape.length - 1] !== C || x.shape[0] < 1)
      throw new LayerError(name, `expected input of shape [B, ..., ${C}] (channels last), got ${showShape(x.shape)}`)
    checkSameDtype(name, x, p.gamma, 'gamma')
    return [x.data.length / C, C]
  }
  return {
    spec: { type: name, momentum, eps },
    init: (_key, inShape) =>
      pipe(
        hyper,
        E.chain(() => expectValidShape(name, inShape)),
        E.chain((s) =>
          s.length >= 1 ? E.right(s) : E.left(new LayerError(name, 'expected a per-sample input of rank >= 1, got []')),
        ),
        E.map((s) => {
          const C = s[s.length - 1]
          return {
            params: { gamma: full([C], 1), beta: full([C], 0) },
            outShape: s,
            state: { mean: full([C], 0), var: full([C], 1) },
          }
        }),
      ),
    forward: (p, x, ctx, state) => {
      const [N, C] = channels(p, x)
      const dt = dtypeOf(x.data)
      const mean = new Float64Array(C)
      const variance = new Float64Array(C)
      const invStd = new Float64Array(C)
      let next: BatchNormState | undefined
      if (ctx.training) {
        if (N < 2)
          throw new LayerError(name, `expected more than one value per channel in training, got input of shape ${showShape(x.shape)}`)
        batchNormStats(mean, variance, x.data, N, C)
        if (state != null) {
          if (!isBnState(state) || state.mean.data.length !== C || state.var.data.length !== C)
            throw new LayerError(name, `expected state {mean, var} of ${C} values each`)
          const sdt = dtypeOf(state.mean.data)
          const rm = alloc(sdt, C)
          const rv = alloc(sdt, C)
          const unbias = N / (N - 1)
          for (let c = 0; c < C; c++) {
            rm[c] = (1 - momentum) * state.mean.data[c] + momentum * mean[c]
            rv[c] = (1 - momentum) * state.var.data[c] + momentum * variance[c] * unbias
          }
          next = { mean: { shape: [C], data: rm }, var: { shape: [C], data: rv } }
        }
      } else {
        if (!isBnState(state) || state.mean.data.length !== C || state.var.data.length !== C)
          throw new LayerError(name, `expected running statistics {mean, var} of ${C} values as state in evaluation, got ${state == null ? 'none' : 'another state'}`)
        mean.set(state.mean.data)
        variance.set(state.var.data)
      }
      for (let c = 0; c < C; c++) invStd[c] = 1 / Math.sqrt(variance[c] + eps)
      const y = alloc(dt, x.data.length)
      const xhat = alloc(dt, x.data.length)
      batchNormForward(y, xhat, x.data, mean, invStd, p.gamma.data, p.beta.data, N, C)
      return {
        y: { shape: x.shape, data: y },
        saved: { shape: x.shape, xhat, invStd, training: ctx.training },
        ...(next !== undefined ? { state: next } : {}),
      }
    },
    vjp: (p, saved, dy) => {
      checkCotangent(name, dy, saved.shape)
      const C = p.gamma.shape[0]
      const N = saved.xhat.length / C
      const dt = dtypeOf(saved.xhat)
      const sums = { dgamma: new Float64Array(C), dbeta: new Float64Array(C) }
      batchNormBackwardParams(sums.dgamma, sums.dbeta, dy.data, saved.xhat, N, C)
      const dgamma = alloc(dt, C)
      const dbeta = alloc(dt, C)
      dgamma.set(sums.dgamma)
      dbeta.set(sums.dbeta)
      return withLazyDx({ gamma: { shape: p.gamma.shape, data: dgamma }, beta: { shape: p.beta.shape, data: dbeta } }, () => {
        const dx = alloc(dt, saved.xhat.length)
        batchNormBackwardInput(dx, dy.data, saved.xhat, p.gamma.data, saved.invStd, sums.dgamma, sums.dbeta, N, C, saved.training)
        return { shape: saved.shape, data: dx }
      })
    },
  }
}

/** Batch normalisation over the last axis; unnamed in a sequential: bn1, bn2, ... */
export const batchNorm = defineLayer({
  type: name,
  prefix: 'bn',
  stateful: true,
  create,
  fromSpec: (s) => [{ momentum: s.num('momentum', 0.1), eps: s.num('eps', 1e-5) }] as const,
})
